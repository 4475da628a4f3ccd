//! The cost run: a moto server with the stack from template.yaml, the real api Router and the
//! real delivery and alert handlers, each behind its own recording proxy (and the event
//! source mappings behind theirs), loopback receivers answering by the mix's shares, and a
//! short retry schedule so the run is quick. Every invocation and AWS call is priced
//! (`ledger`) and split over the paths of the deliveries it served.

pub mod functions;
pub mod receiver;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hookline_alert::AlertFunction;
use hookline_api::{AwsApp, router};
use hookline_delivery::DeliveryFunction;
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::config::{
    AlertConfig, ApiConfig, DeliveryConfig, ENV_ALERT_MINUTE_MS, ENV_ALERT_SENDER, ENV_ALLOW_PRIVATE_TARGETS,
    ENV_DEAD_LETTER_QUEUE_URL, ENV_DELIVERY_QUEUE_URL, ENV_MAX_ATTEMPTS, ENV_PUBLIC_URL, ENV_RETRY_JITTER,
    ENV_RETRY_SCHEDULE, ENV_SECRETS_KEY, ENV_TABLE, ENV_TOPIC_CATALOG,
};
use hookline_shared::domain::{api_key, timestamp};
use hookline_shared::ports::store::{ApiKeyStore, RecipientStore};
use serde_json::{Value, json};
use tower::ServiceExt;

use self::functions::{Driven, LogCapture, QueueDriver};
use self::receiver::{Fates, Receivers, Tally};
use super::dynamo::TableModel;
use super::ledger::{self, CostPath, Invocation, Ledger};
use super::meter::Usage;
use super::prices::PriceTable;
use crate::aws_proxy::{self, CallLog};
use crate::moto::MotoServer;
use crate::sdk;
use crate::stack::{self, Template};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

const TENANT: &str = "cost";
const SENDER: &str = "alerts@example.com";
/// Topics of the shipped catalog: one with one webhook, one with three.
const TOPIC_ONE: &str = "coupon_create";
const TOPIC_THREE: &str = "order_update";
/// The size of each event's request body.
pub const EVENT_BYTES: usize = 1024;
/// Events a request carries unless the run says otherwise: a sender with volume batches.
pub const DEFAULT_BATCH: u64 = 100;
/// The retry schedule of the run: the shortest SQS can hold (visibility is in whole seconds).
const RETRY_SCHEDULE: &str = "1s";
/// The run's webhooks: one on the first topic, three on the other (names and topics).
const WEBHOOKS: [(&str, &str); 4] = [(TOPIC_ONE, "a"), (TOPIC_THREE, "b"), (TOPIC_THREE, "c"), (TOPIC_THREE, "d")];
/// Confirmed alert recipients of each webhook (`ops-{name}@example.com`).
pub const ALERT_RECIPIENTS: u32 = 1;

/// What traffic a run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub events: u64,
    /// Events sent in one request: 1 posts each alone (`POST …/events`), more go as batches
    /// (`POST …/events/batch`).
    pub batch: u64,
    /// Every this-many-th event goes to the topic with three webhooks (0: none).
    pub fan_out_3_every: u64,
    pub fates: Fates,
}

impl Mix {
    /// N events, one in ten to three webhooks; of each 100 deliveries 95 first try, 4 after one
    /// retry, 1 dead after every attempt.
    pub fn realistic(events: u64) -> Self {
        Self { events, batch: DEFAULT_BATCH, fan_out_3_every: 10, fates: Fates { dead_per_100: 1, retry_per_100: 4 } }
    }

    /// The common case: 1 KB, one webhook, delivered on the first try.
    pub fn common_case(events: u64) -> Self {
        Self { events, batch: DEFAULT_BATCH, fan_out_3_every: 0, fates: Fates { dead_per_100: 0, retry_per_100: 0 } }
    }

    /// How many of its events go to three webhooks.
    pub fn events_to_three(&self) -> u64 {
        (0..self.events).filter(|i| self.topic(*i) == TOPIC_THREE).count() as u64
    }

    fn topic(&self, i: u64) -> &'static str {
        if self.fan_out_3_every > 0 && i % self.fan_out_3_every == self.fan_out_3_every / 2 {
            TOPIC_THREE
        } else {
            TOPIC_ONE
        }
    }
}

/// Per operation: calls and their billed units.
pub type CallTable = BTreeMap<String, (u64, Usage)>;

/// What a run measured and what it costs.
#[derive(Debug)]
pub struct MixResult {
    pub mix: Mix,
    pub ledger: Ledger,
    /// Deliveries the API said it made (the sum of its answers' `deliveries`).
    pub deliveries_made: u64,
    pub tally: Tally,
    /// Dead deliveries the alert function finished with.
    pub dead_alerted: u64,
    pub invocations: BTreeMap<&'static str, u64>,
    pub delivery_records: u64,
    pub calls: CallTable,
    pub idle_receives: u64,
    /// Whether Lambda logs its own records per invocation (template.yaml's `SystemLogLevel`).
    pub platform_logs: bool,
    /// Calls with no billing rule (there should be none).
    pub unpriced: Vec<String>,
    pub elapsed: Duration,
}

impl MixResult {
    /// Deliveries per second to each webhook the run stood for, its alert minute lasting `minute_ms`.
    pub fn rate_per_webhook(&self, minute_ms: u64) -> f64 {
        super::alert_emails::run_rate(
            self.deliveries_made,
            WEBHOOKS.len() as u32,
            self.elapsed.as_secs_f64(),
            minute_ms,
        )
    }
}

/// An event of `EVENT_BYTES` bytes as JSON: a realistic order or coupon, its line items and
/// note made of varied (seeded) words and codes, so it compresses as real events do, not as a
/// run of one letter would.
pub fn event_json(i: u64, topic: &str) -> Value {
    const WORDS: [&str; 16] = [
        "roast",
        "ethiopia",
        "blend",
        "grinder",
        "filter",
        "decaf",
        "kenya",
        "espresso",
        "mug",
        "gift",
        "card",
        "beans",
        "brazil",
        "colombia",
        "sample",
        "subscription",
    ];
    let mut seed = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut event = json!({
        "id": format!("evt-{i:08}"), "topic": topic,
        "context": {"business_name": "Acme Coffee Roasters", "business_currency_code": "EUR", "business_id": "biz_0042"},
        "data": {
            "order_id": format!("ord-{i}"), "total": 4599, "currency": "EUR", "status": "paid",
            "customer": {"id": "cus_81723", "email": "jane.doe@example.com", "name": "Jane Doe", "tier": "gold"},
            "items": [{"sku": "BEAN-ETH-250", "qty": 2, "price": 1299}, {"sku": "MUG-BLUE", "qty": 1, "price": 2001}],
            "note": ""
        }
    });
    loop {
        let n = next();
        let name = format!("{} {}", WORDS[(n % 16) as usize], WORDS[((n >> 8) % 16) as usize]);
        let item = json!({"sku": format!("SKU-{:06X}", n % 0xFF_FFFF), "name": name, "qty": 1 + n % 4, "price": 500 + n % 5000});
        if event.to_string().len() + item.to_string().len() + 1 > EVENT_BYTES {
            break;
        }
        event["data"]["items"].as_array_mut().expect("items").push(item);
    }
    let mut note = String::new();
    while event.to_string().len() + note.len() < EVENT_BYTES {
        let n = next();
        note.push(char::from(b'a' + (n % 26) as u8));
    }
    event["data"]["note"] = Value::String(note);
    event
}

/// An event's body of `EVENT_BYTES` bytes (`event_json`).
pub fn event_body(i: u64, topic: &str) -> Vec<u8> {
    event_json(i, topic).to_string().into_bytes()
}

struct Proxied {
    sdk: aws_config::SdkConfig,
    log: CallLog,
}

async fn proxied(moto: &MotoServer, keys: &[String]) -> Result<Proxied, BoxError> {
    let (endpoint, log) = aws_proxy::start_with(&moto.endpoint(), Some(keys.to_vec())).await?;
    Ok(Proxied { sdk: sdk::for_endpoint(&endpoint).await, log })
}

fn memory(template: &Template, function: &str) -> Result<u32, BoxError> {
    template.function_memory_mb(function).ok_or_else(|| format!("template.yaml: no MemorySize for {function}").into())
}

async fn call_api(
    router: &Router,
    method: &str,
    uri: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(u16, Value, u64), BoxError> {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "api.example.com")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.clone()))?;
    // What API Gateway meters: the request line, headers and body.
    let size = (method.len() + uri.len() + 12 + body.len()) as u64
        + request.headers().iter().map(|(n, v)| (n.as_str().len() + v.len() + 4) as u64).sum::<u64>();
    let response = router.clone().oneshot(request).await?;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), size))
}

/// Runs `mix` on its own stack (tables and queues named `prefix`) in `moto`.
pub async fn run_mix(
    moto: &MotoServer,
    template: &Template,
    mix: Mix,
    prefix: &str,
    alert_minute_ms: u64,
    timeout: Duration,
) -> Result<(MixResult, Vec<Invocation>), BoxError> {
    let direct = sdk::for_endpoint(&moto.endpoint()).await;
    let created = stack::provision(&direct, template, prefix, &HashMap::new()).await?;
    let table_model = TableModel::from_template(template.properties("HooklineTable").ok_or("no HooklineTable")?)?;
    let (api, delivery, alert) = (
        proxied(moto, &table_model.keys).await?,
        proxied(moto, &table_model.keys).await?,
        proxied(moto, &table_model.keys).await?,
    );
    let (delivery_esm, alert_esm) = (proxied(moto, &table_model.keys).await?, proxied(moto, &table_model.keys).await?);
    let queue = created.queue("DeliveryQueue")?.clone();
    let dlq = created.queue("DeliveryDeadLetterQueue")?.clone();
    let level = template.parameter("LogLevel").unwrap_or("info").to_string();

    let mut vars: HashMap<String, String> = HashMap::from([
        (ENV_TABLE.into(), created.table("HooklineTable")?.to_string()),
        (ENV_DELIVERY_QUEUE_URL.into(), queue.url.clone()),
        (ENV_DEAD_LETTER_QUEUE_URL.into(), dlq.url.clone()),
        (ENV_SECRETS_KEY.into(), created.key("SecretsKey")?.to_string()),
        (ENV_ALLOW_PRIVATE_TARGETS.into(), "true".into()),
        (ENV_TOPIC_CATALOG.into(), template.parameter("TopicCatalog").unwrap_or("seed").into()),
        (ENV_MAX_ATTEMPTS.into(), template.parameter("MaxReceiveCount").unwrap_or("6").into()),
        (ENV_RETRY_SCHEDULE.into(), RETRY_SCHEDULE.into()),
        (ENV_RETRY_JITTER.into(), "0".into()),
        (ENV_ALERT_SENDER.into(), SENDER.into()),
        (ENV_ALERT_MINUTE_MS.into(), alert_minute_ms.to_string()),
        (ENV_PUBLIC_URL.into(), "https://api.example.com".into()),
    ]);
    let lookup = |name: &str| vars.get(name).cloned();
    let api_config = ApiConfig::from_lookup(lookup)?;
    let delivery_config = DeliveryConfig::from_lookup(lookup)?;
    let alert_config = AlertConfig::from_lookup(lookup)?;
    vars.clear();

    // Set-up, not measured: the sender, an operator key, four webhooks, confirmed recipients.
    aws_sdk_ses::Client::new(&direct).verify_email_identity().email_address(SENDER).send().await?;
    let store = DynamoStore::connect(&direct, &api_config.table_name, &api_config.secrets_key);
    let (key, record) = api_key::new_key("cost", None);
    store.put_api_key(&record).await?;
    let receivers = Receivers::default();
    let receiver_url = receivers.serve(mix.fates, delivery_config.signing.header_names.delivery_id.clone()).await?;
    let router = router(AwsApp::from_config(&api.sdk, &api_config));
    for (topic, name) in WEBHOOKS {
        let email = format!("ops-{name}@example.com");
        let body =
            json!({"name": name, "url": format!("{receiver_url}/{name}"), "topics": [topic], "alert_emails": [email]});
        let (status, answer, _) =
            call_api(&router, "POST", &format!("/v1/tenants/{TENANT}/webhooks"), &key, body.to_string().into_bytes())
                .await?;
        if status != 201 {
            return Err(format!("creating a webhook answered {status}: {answer}").into());
        }
        confirm(&store, &email).await?;
    }

    eprintln!("cost run {prefix}: set up; sending {} events", mix.events);
    let api_memory = memory(template, "ApiFunction")?;
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(Mutex::new(Driven::default()));
    let alerted = Arc::new(Mutex::new(Driven::default()));
    let delivery_fn = DeliveryFunction::from_config(&delivery.sdk, &delivery_config)?;
    let alert_fn = AlertFunction::from_config(&alert.sdk, &alert_config);
    let delivery_driver = QueueDriver {
        sqs: aws_sdk_sqs::Client::new(&delivery_esm.sdk),
        queue_url: queue.url.clone(),
        queue_arn: queue.arn.clone(),
        batching: created.batching("DeliveryQueue"),
        esm_log: delivery_esm.log.clone(),
        function_log: delivery.log.clone(),
        memory_mb: memory(template, "DeliveryFunction")?,
        logs: LogCapture::new(&level),
        path_of: |attempt| if attempt <= 1 { CostPath::Delivery } else { CostPath::Retry },
    };
    let alert_driver = QueueDriver {
        sqs: aws_sdk_sqs::Client::new(&alert_esm.sdk),
        queue_url: dlq.url.clone(),
        queue_arn: dlq.arn.clone(),
        batching: created.batching("DeliveryDeadLetterQueue"),
        esm_log: alert_esm.log.clone(),
        function_log: alert.log.clone(),
        memory_mb: memory(template, "AlertFunction")?,
        logs: LogCapture::new(&level),
        path_of: |_| CostPath::DeadAlert,
    };
    // From here on every call is measured.
    let started = Instant::now();
    let api_mark = api.log.len();
    let delivering = delivery_driver.drive(|e| delivery_fn.handle(e), stop.clone(), delivered.clone());
    let alerting = alert_driver.drive(|e| alert_fn.handle(e), stop.clone(), alerted.clone());
    let api_logs = LogCapture::new(&level);
    let send_and_wait = async || {
        let mut invocations = Vec::new();
        let mut made = 0;
        let mut mark = api_mark;
        let batch = mix.batch.max(1);
        for first in (0..mix.events).step_by(batch as usize) {
            let ids = first..(first + batch).min(mix.events);
            let (uri, body) = if batch == 1 {
                (format!("/v1/tenants/{TENANT}/events"), event_body(first, mix.topic(first)))
            } else {
                let events: Vec<Value> = ids.clone().map(|i| event_json(i, mix.topic(i))).collect();
                (format!("/v1/tenants/{TENANT}/events/batch"), json!({"events": events}).to_string().into_bytes())
            };
            let (answer, duration, logged) = api_logs.measure(call_api(&router, "POST", &uri, &key, body)).await;
            let (status, answer, size) = answer?;
            if !(200..300).contains(&status) {
                return Err::<_, BoxError>(format!("an event answered {status}: {answer}").into());
            }
            let results = if batch == 1 {
                vec![answer.clone()]
            } else {
                answer["results"].as_array().cloned().unwrap_or_default()
            };
            if results.len() as u64 != ids.end - ids.start || results.iter().any(|r| r["error"].is_object()) {
                return Err::<_, BoxError>(format!("a batch was not accepted whole: {answer}").into());
            }
            made += results.iter().map(|r| r["deliveries"].as_array().map_or(0, Vec::len) as u64).sum::<u64>();
            let calls = api.log.since(mark);
            mark += calls.len();
            invocations.push(Invocation {
                memory_mb: api_memory,
                duration_ns: ledger::net_duration(duration, &calls).as_nanos(),
                logged_bytes: logged,
                calls,
                api_request_bytes: Some(size),
                shares: vec![(CostPath::Ingest, 1.0)],
            });
        }
        // Every delivery either reached its receiver with a 2xx, or died and was alerted.
        let deadline = Instant::now() + timeout;
        let mut last_progress = Instant::now();
        eprintln!("cost run: {} events sent", mix.events);
        loop {
            let t = receivers.tally();
            let finished = alerted.lock().unwrap_or_else(|e| e.into_inner()).records_done;
            if t.deliveries == made
                && t.delivered_first_try + t.delivered_after_retry + t.dead == made
                && finished >= t.dead
            {
                break;
            }
            if last_progress.elapsed() > Duration::from_secs(5) {
                eprintln!("cost run: {made} deliveries made; receivers saw {t:?}; {finished} dead alerted");
                last_progress = Instant::now();
            }
            if Instant::now() > deadline {
                return Err(
                    format!("timed out: {made} deliveries made, receivers saw {t:?}, {finished} dead alerted").into()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok((invocations, made))
    };
    let sending = async {
        let sent = send_and_wait().await;
        // Whatever happened, the queue drivers stop with the sending.
        stop.store(true, Ordering::SeqCst);
        sent
    };
    let (sent, (), ()) = tokio::join!(Box::pin(sending), Box::pin(delivering), Box::pin(alerting));
    let (mut invocations, deliveries_made) = sent?;
    let elapsed = started.elapsed();
    let delivered = std::mem::take(&mut *delivered.lock().unwrap_or_else(|e| e.into_inner()));
    let alerted = std::mem::take(&mut *alerted.lock().unwrap_or_else(|e| e.into_inner()));
    let counts = BTreeMap::from([
        ("api", invocations.len() as u64),
        ("delivery", delivered.invocations.len() as u64),
        ("alert", alerted.invocations.len() as u64),
    ]);
    let delivery_records = delivered.records_done + delivered.records_failed;
    invocations.extend(delivered.invocations);
    invocations.extend(alerted.invocations);
    let result = MixResult {
        mix,
        ledger: Ledger { deliveries: deliveries_made, ..Ledger::default() },
        deliveries_made,
        tally: receivers.tally(),
        dead_alerted: alerted.records_done,
        invocations: counts,
        delivery_records,
        calls: CallTable::new(),
        idle_receives: delivered.idle_receives + alerted.idle_receives,
        platform_logs: template.platform_logs_info(),
        unpriced: Vec::new(),
        elapsed,
    };
    Ok((result, invocations))
}

/// Confirms an alert recipient as its link would (set-up: the run measures deliveries).
async fn confirm(store: &DynamoStore, email: &str) -> Result<(), BoxError> {
    for _ in 0..100 {
        let recipient = store.get_recipient(TENANT, email).await?;
        if let Some(hash) = recipient.and_then(|r| r.confirm_token_hash) {
            let at = timestamp::format(timestamp::now());
            if store.confirm_recipient(TENANT, email, &hash, &at).await? {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("the recipient {email} never got its confirmation").into())
}

/// Prices every invocation of a run into its ledger and call table.
pub fn price(
    result: &mut MixResult,
    invocations: &[Invocation],
    table: &TableModel,
    prices: &PriceTable,
) -> Result<(), BoxError> {
    let platform = if result.platform_logs { prices.assumption("lambda_platform_log_bytes")? } else { 0.0 };
    for inv in invocations {
        match ledger::invocation_usage(inv, table, platform) {
            Ok(usage) => result.ledger.add(usage, &inv.shares),
            Err(e) => result.unpriced.push(e),
        }
        for call in &inv.calls {
            if let Ok(usage) = super::bill::price_call(call, table) {
                let entry = result.calls.entry(call.operation.clone()).or_default();
                entry.0 += 1;
                entry.1 += usage;
            }
        }
    }
    Ok(())
}
