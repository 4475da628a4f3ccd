//! `make chaos`: the whole system keeping its promise while everything fails at once. A moto
//! server with the stack from template.yaml; the real api Router served on loopback, and the
//! real delivery and alert functions pumping their queues, all calling AWS through a proxy that
//! makes a seeded share of the calls fail (`aws_proxy::faults`); receivers with a fault mix
//! (`receivers`); the function instances killed and replaced every few seconds (`workers`); a
//! careful client (`client`). When the queues are empty it reads back every delivery, webhook
//! and alert e-mail and judges them (`check`).

pub mod check;
pub mod client;
pub mod receivers;
pub mod workers;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use base64::Engine;
use hookline_api::{AwsApp, router};
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::config::{
    AlertConfig, ApiConfig, DeliveryConfig, ENV_ALERT_CLAIM_LEASE_MS, ENV_ALERT_MINUTE_MS, ENV_ALERT_SENDER,
    ENV_ALLOW_PRIVATE_TARGETS, ENV_DEAD_LETTER_QUEUE_URL, ENV_DELIVERY_QUEUE_URL, ENV_MAX_ATTEMPTS, ENV_PUBLIC_URL,
    ENV_REQUEST_TIMEOUT_MS, ENV_RETRY_JITTER, ENV_RETRY_SCHEDULE, ENV_SECRETS_KEY, ENV_TABLE, ENV_TOPIC_CATALOG,
};
use hookline_shared::domain::{api_key, timestamp};
use hookline_shared::ports::store::{ApiKeyStore, DeliveryQuery, DeliveryStore, RecipientStore, WebhookStore};
use serde_json::{Value, json};

use self::check::{Outcome, Verdict, WebhookSpec};
use self::client::{Sending, TOPIC_COUPON, TOPIC_ORDER, TOPIC_UNSENT, Target};
use self::receivers::{Answer, Behaviour, Receivers};
use self::workers::{Kind, Wiring, Workers};
use crate::aws_proxy::{self, faults::Fault, faults::Faults};
use crate::listen::serve_on_loopback;
use crate::moto::MotoServer;
use crate::sdk;
use crate::stack::{self, Template};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SENDER: &str = "alerts@example.com";
/// The run's timings: short, so retries, dead letters and alerts all happen within seconds.
/// The receivers' request timeout; their slow answers take three times as long.
const REQUEST_TIMEOUT_MS: u64 = 500;
/// Both queues' visibility timeout: what an instance killed mid-batch leaves its messages
/// invisible for. Longer than a batch takes (as Lambda requires a queue's visibility to be
/// longer than its function's timeout), so a live batch's messages do not come back under it.
const VISIBILITY_SECONDS: &str = "8";
const RETRY_SCHEDULE: &str = "1s";
/// One "minute" of the alert windows and hold times: 60 of them (the default alert interval) are 3 s.
const ALERT_MINUTE_MS: &str = "50";
/// A claim to send an alert whose instance was killed lapses after this.
const ALERT_CLAIM_LEASE_MS: &str = "3000";
/// How long a stalled AWS call hangs before its connection is cut.
const STALL: Duration = Duration::from_millis(500);
/// The SDK's first back-off after a failed AWS call (1 s by default, growing to 20 s): short,
/// so the run's time goes into its events rather than waiting out back-offs. The number of
/// attempts stays the SDK's default (3), as the functions have it in Lambda.
const SDK_INITIAL_BACKOFF: Duration = Duration::from_millis(50);
/// Function instances running at once.
const DELIVERY_INSTANCES: usize = 3;
const ALERT_INSTANCES: usize = 1;
/// Deliveries per index page when the run reads them back.
const READ_BACK_PAGE: usize = 500;

#[derive(Debug, Clone)]
pub struct Options {
    pub events: u64,
    pub seed: u64,
    pub tenants: usize,
    /// AWS calls in 1000 that fail.
    pub faults_per_mille: u32,
    /// A function instance is killed about this often.
    pub kill_every: Duration,
    /// Events in flight at once.
    pub concurrency: usize,
    /// The endpoint in an outage answers 503 for this long from the start.
    pub outage: Duration,
    /// The endpoint that goes away answers 410 after this many requests.
    pub gone_after: u64,
    /// After the last event was accepted, how long the queues may go without getting shorter
    /// before the run gives up waiting for them to empty (a backlog may take long to drain;
    /// a message going round for good never drains).
    pub settle: Duration,
}

impl Options {
    pub fn new(events: u64) -> Self {
        Self {
            events,
            seed: 14,
            tenants: 3,
            faults_per_mille: 100,
            kill_every: Duration::from_secs(3),
            concurrency: 8,
            outage: Duration::from_secs(8),
            gone_after: 30,
            settle: Duration::from_secs(300),
        }
    }
}

pub struct Report {
    pub verdict: Verdict,
    pub faults: BTreeMap<Fault, u64>,
    pub kills: u64,
    pub sending: Sending,
    pub answers: HashMap<Answer, u64>,
    pub elapsed: Duration,
    /// Whether the queues emptied (see `Options::settle`).
    pub settled: bool,
}

impl Report {
    /// Whether the run kept every promise.
    pub fn kept(&self) -> bool {
        self.verdict.lost == 0
            && self.verdict.problems.is_empty()
            && self.sending.bad_5xx.is_empty()
            && self.sending.given_up.is_empty()
            && self.settled
    }

    pub fn text(&self) -> String {
        let s = &self.sending;
        let v = &self.verdict;
        let mut out = String::new();
        let faults: Vec<String> =
            Fault::ALL.iter().map(|f| format!("{} {}", f.label(), self.faults.get(f).copied().unwrap_or(0))).collect();
        out += &format!("AWS faults injected: {} ({})\n", self.faults.values().sum::<u64>(), faults.join(", "));
        out += &format!("function instances killed: {}\n", self.kills);
        let mut answers: Vec<String> = self.answers.iter().map(|(a, n)| format!("{a:?} {n}")).collect();
        answers.sort();
        out += &format!("receiver answers: {}\n", answers.join(", "));
        out += &format!(
            "client: 503 answers {}, network errors {}, 429 answers {}, other 5xx {}, given up {}\n",
            s.answered_503,
            s.network_errors,
            s.answered_429,
            s.bad_5xx.len(),
            s.given_up.len()
        );
        out += &format!(
            "deliveries {}: delivered {}, failed {} ({} of disabled webhooks); {:.0} s{}\n",
            v.deliveries,
            v.delivered,
            v.failed,
            v.disabled,
            self.elapsed.as_secs_f64(),
            if self.settled { "" } else { "; the queues never emptied" }
        );
        for p in v.problems.iter().chain(&s.bad_5xx).chain(&s.given_up).take(60) {
            out += &format!("problem: {p}\n");
        }
        out += &v.line();
        out.push('\n');
        out
    }
}

fn env<'a>(vars: &'a HashMap<&'static str, String>) -> impl Fn(&str) -> Option<String> + 'a {
    |name| vars.get(name).cloned()
}

/// Creates the run's webhooks per tenant through the API (faults off), their receivers and
/// confirmed alert recipients. Per tenant: `all` (orders and coupons), `big` (orders of at
/// least `BIG_ORDER`), `third` (orders: tenant 1's in an outage, tenant 2's goes away), `leads`
/// (a topic never sent).
async fn set_up_webhooks(
    http: &reqwest::Client,
    target: &Target,
    receivers: &Receivers,
    receiver_base: &str,
    store: &DynamoStore,
    o: &Options,
) -> Result<Vec<WebhookSpec>, BoxError> {
    let mut specs = Vec::new();
    for (tenant, tenant_id) in target.tenant_ids.iter().enumerate() {
        let third = match tenant {
            1 => Behaviour::Outage(o.outage),
            2 => Behaviour::GoneAfter(o.gone_after),
            _ => Behaviour::Flaky,
        };
        let webhooks: [(&str, Vec<&'static str>, bool, Behaviour); 4] = [
            ("all", vec![TOPIC_ORDER, TOPIC_COUPON], false, Behaviour::Flaky),
            ("big", vec![TOPIC_ORDER], true, Behaviour::Flaky),
            ("third", vec![TOPIC_ORDER], false, third),
            ("leads", vec![TOPIC_UNSENT], false, Behaviour::Flaky),
        ];
        for (name, topics, big_only, behaviour) in webhooks {
            let path = format!("{tenant_id}-{name}");
            let email = format!("ops-{path}@example.com");
            let mut body = json!({"name": name, "url": format!("{receiver_base}/{path}"), "topics": topics, "alert_emails": [email]});
            if big_only {
                body["filters"] = json!([{"field": "total", "op": "gte", "value": client::BIG_ORDER}]);
            }
            let url = format!("{}/v1/tenants/{tenant_id}/webhooks", target.api);
            let answer = http.post(&url).bearer_auth(&target.key).json(&body).send().await?;
            let status = answer.status();
            let answer: Value = answer.json().await?;
            let (Some(id), Some(secret)) = (answer["id"].as_str(), answer["secret"].as_str()) else {
                return Err(format!("creating webhook {path} answered {status}: {answer}").into());
            };
            receivers.endpoint(&path, behaviour, secret);
            confirm(store, tenant_id, &email).await?;
            specs.push(WebhookSpec { tenant, id: id.to_string(), path, topics, big_only });
        }
    }
    Ok(specs)
}

/// Confirms an alert recipient as its link would (set-up, not under test here).
async fn confirm(store: &DynamoStore, tenant_id: &str, email: &str) -> Result<(), BoxError> {
    for _ in 0..100 {
        if let Some(hash) = store.get_recipient(tenant_id, email).await?.and_then(|r| r.confirm_token_hash) {
            let at = timestamp::format(timestamp::now());
            if store.confirm_recipient(tenant_id, email, &hash, &at).await? {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("the recipient {email} never got its confirmation").into())
}

/// How many messages are on the queues, visible, in flight or delayed (`None`: unknown).
async fn messages_on(sqs: &aws_sdk_sqs::Client, urls: &[&str]) -> Option<u64> {
    let mut total = 0;
    for url in urls {
        let out = sqs.get_queue_attributes().queue_url(*url).attribute_names(QueueAttributeName::All).send().await;
        let attributes = out.ok()?.attributes.unwrap_or_default();
        let count = |name: QueueAttributeName| attributes.get(&name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        total += count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            + count(QueueAttributeName::ApproximateNumberOfMessagesDelayed);
    }
    Some(total)
}

/// What is still on the queues when they never emptied, for the report: each message (up to
/// ten a queue) with how often it was received and when it was sent. Received with a zero
/// visibility timeout, so reading it changes nothing.
async fn left_on(sqs: &aws_sdk_sqs::Client, urls: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for url in urls {
        let received = sqs
            .receive_message()
            .queue_url(*url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await;
        let Ok(received) = received else {
            out.push(format!("left on {url}: could not read: {received:?}"));
            continue;
        };
        for m in received.messages() {
            out.push(format!(
                "left on {url}: {:?} (attributes {:?})",
                m.body().unwrap_or_default(),
                m.attributes().cloned().unwrap_or_default()
            ));
        }
    }
    out
}

/// The operation the alert e-mails are sent with.
const SEND_RAW_EMAIL: &str = "ses:SendRawEmail";
/// The operation delivery tasks are queued with (by ingest, and when held back).
const SEND_MESSAGE_BATCH: &str = "sqs:SendMessageBatch";

/// How often each delivery's task reached the queue, by delivery id: for the report on a
/// delivery that never finished (was it ever queued?).
fn queued(sends: &[aws_proxy::AwsCall]) -> HashMap<String, u64> {
    let mut out: HashMap<String, u64> = HashMap::new();
    for call in sends.iter().filter(|c| c.operation == SEND_MESSAGE_BATCH && c.status == 200) {
        let request: Value = serde_json::from_slice(&call.body).unwrap_or(Value::Null);
        for entry in request["Entries"].as_array().into_iter().flatten() {
            let task: Value =
                serde_json::from_str(entry["MessageBody"].as_str().unwrap_or_default()).unwrap_or_default();
            if let Some(id) = task["delivery_id"].as_str() {
                *out.entry(id.to_string()).or_default() += 1;
            }
        }
    }
    out
}

/// The failures counted by the alert e-mails moto's SES accepted, by webhook id: read from the
/// sends that reached it through the faulty proxy (those whose answer was lost too, as moto
/// sent them). Not from moto's `/moto-api/data.json`, which dumps every object moto holds
/// and takes minutes at the volume of a full run.
fn alerted(sends: &[aws_proxy::AwsCall]) -> HashMap<String, u64> {
    let mut out: HashMap<String, u64> = HashMap::new();
    for call in sends.iter().filter(|c| c.operation == SEND_RAW_EMAIL && c.status == 200) {
        let raw = form_urlencoded::parse(&call.body)
            .find(|(name, _)| name == "RawMessage.Data")
            .and_then(|(_, data)| base64::engine::general_purpose::STANDARD.decode(data.as_bytes()).ok());
        if let Some((webhook, n)) = raw.and_then(|raw| check::alert_count(&String::from_utf8_lossy(&raw))) {
            *out.entry(webhook).or_default() += n;
        }
    }
    out
}

/// Runs the chaos run of `o.events` events on a moto server of its own.
pub async fn run(o: Options) -> Result<Report, BoxError> {
    let started = Instant::now();
    let moto = MotoServer::start(0)?;
    let template = Template::load(&stack::template_path())?;
    let direct = sdk::for_endpoint(&moto.endpoint()).await;
    let created = stack::provision(&direct, &template, "chaos", &HashMap::new()).await?;
    let (queue, dlq) = (created.queue("DeliveryQueue")?.clone(), created.queue("DeliveryDeadLetterQueue")?.clone());
    let esm_sqs = aws_sdk_sqs::Client::new(&direct);
    for q in [&queue, &dlq] {
        esm_sqs
            .set_queue_attributes()
            .queue_url(&q.url)
            .attributes(QueueAttributeName::VisibilityTimeout, VISIBILITY_SECONDS)
            .send()
            .await?;
    }
    let faults = Arc::new(Faults::new(o.seed, o.faults_per_mille, STALL));
    let (faulty_endpoint, recorded) =
        aws_proxy::start_faulty(&moto.endpoint(), faults.clone(), &[SEND_RAW_EMAIL, SEND_MESSAGE_BATCH]).await?;
    let faulty = sdk::for_endpoint(&faulty_endpoint)
        .await
        .into_builder()
        .retry_config(RetryConfig::standard().with_initial_backoff(SDK_INITIAL_BACKOFF))
        .build();

    let vars: HashMap<&'static str, String> = HashMap::from([
        (ENV_TABLE, created.table("HooklineTable")?.to_string()),
        (ENV_DELIVERY_QUEUE_URL, queue.url.clone()),
        (ENV_DEAD_LETTER_QUEUE_URL, dlq.url.clone()),
        (ENV_SECRETS_KEY, created.key("SecretsKey")?.to_string()),
        (ENV_ALLOW_PRIVATE_TARGETS, "true".into()),
        (ENV_TOPIC_CATALOG, template.parameter("TopicCatalog").unwrap_or("seed").into()),
        (ENV_MAX_ATTEMPTS, template.parameter("MaxReceiveCount").unwrap_or("6").into()),
        (ENV_RETRY_SCHEDULE, RETRY_SCHEDULE.into()),
        (ENV_RETRY_JITTER, "0".into()),
        (ENV_REQUEST_TIMEOUT_MS, REQUEST_TIMEOUT_MS.to_string()),
        (ENV_ALERT_SENDER, SENDER.into()),
        (ENV_ALERT_MINUTE_MS, ALERT_MINUTE_MS.into()),
        (ENV_ALERT_CLAIM_LEASE_MS, ALERT_CLAIM_LEASE_MS.into()),
        (ENV_PUBLIC_URL, "https://api.example.com".into()),
    ]);
    let api_config = ApiConfig::from_lookup(env(&vars))?;
    let delivery_config = Arc::new(DeliveryConfig::from_lookup(env(&vars))?);
    let alert_config = Arc::new(AlertConfig::from_lookup(env(&vars))?);

    aws_sdk_ses::Client::new(&direct).verify_email_identity().email_address(SENDER).send().await?;
    let store = DynamoStore::connect(&direct, &api_config.table_name, &api_config.secrets_key);
    let (key, record) = api_key::new_key("chaos", None);
    store.put_api_key(&record).await?;
    let receivers = Receivers::new(
        o.seed + 1,
        Duration::from_millis(3 * REQUEST_TIMEOUT_MS),
        delivery_config.signing.header_names.delivery_id.clone(),
    );
    let receiver_base = receivers.serve().await?;
    let (api_addr, serving) = serve_on_loopback(router(AwsApp::from_config(&faulty, &api_config))).await?;
    let api = format!("http://{api_addr}");
    let target = Target { api, key, tenant_ids: (0..o.tenants).map(|t| format!("chaos-t{t}")).collect() };
    let http = reqwest::Client::new();
    let specs = set_up_webhooks(&http, &target, &receivers, &receiver_base, &store, &o).await?;

    let mut workers = Workers::new(o.seed + 2);
    let wiring = |q: &stack::QueueRef, logical_id| Wiring {
        function_sdk: faulty.clone(),
        esm_sqs: esm_sqs.clone(),
        queue: q.clone(),
        batching: created.batching(logical_id),
    };
    for _ in 0..DELIVERY_INSTANCES {
        workers.add(Kind::Delivery(delivery_config.clone()), wiring(&queue, "DeliveryQueue"));
    }
    for _ in 0..ALERT_INSTANCES {
        workers.add(Kind::Alert(alert_config.clone()), wiring(&dlq, "DeliveryDeadLetterQueue"));
    }
    eprintln!("chaos: set up {} webhooks; sending {} events", specs.len(), o.events);
    faults.enable(true);

    // Send, killing an instance every few seconds; then keep killing until the queues are empty.
    let sending = client::send_all(&target, o.events, o.concurrency);
    tokio::pin!(sending);
    let mut kill_at = Instant::now() + workers.next_kill_in(o.kill_every);
    let sent = loop {
        tokio::select! {
            sent = &mut sending => break sent,
            _ = tokio::time::sleep_until(kill_at.into()) => {
                workers.kill_one();
                kill_at = Instant::now() + workers.next_kill_in(o.kill_every);
            }
        }
    };
    eprintln!(
        "chaos: {} events accepted in {:.0} s; waiting for the queues to empty",
        sent.accepted.len(),
        started.elapsed().as_secs_f64()
    );
    let (mut fewest, mut shorter_at) = (u64::MAX, Instant::now());
    let (mut empty_checks, mut last_note) = (0, Instant::now());
    let settled = loop {
        if shorter_at.elapsed() > o.settle {
            break false;
        }
        if Instant::now() >= kill_at {
            workers.kill_one();
            kill_at = Instant::now() + workers.next_kill_in(o.kill_every);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let on = messages_on(&esm_sqs, &[&queue.url, &dlq.url]).await;
        if let Some(n) = on.filter(|n| *n < fewest) {
            (fewest, shorter_at) = (n, Instant::now());
        }
        // Three times in a row: a message between a receive and its delete may show nowhere.
        empty_checks = if on == Some(0) { empty_checks + 1 } else { 0 };
        if empty_checks >= 3 {
            break true;
        }
        if last_note.elapsed() > Duration::from_secs(15) {
            eprintln!(
                "chaos: {:.0} s, {} messages on the queues; {} instances killed so far",
                started.elapsed().as_secs_f64(),
                on.map_or("?".to_string(), |n| n.to_string()),
                workers.kills
            );
            last_note = Instant::now();
        }
    };
    eprintln!(
        "chaos: {:.0} s, the queues are {}",
        started.elapsed().as_secs_f64(),
        if settled { "empty" } else { "not empty" }
    );
    workers.stop();
    faults.enable(false);
    serving.abort();
    let left_on_queues = if settled { Vec::new() } else { left_on(&esm_sqs, &[&queue.url, &dlq.url]).await };

    // Each webhook's deliveries by its index, a page at a time: far fewer calls than one
    // read per delivery (moto takes tens of ms for each).
    let mut deliveries = HashMap::new();
    for spec in &specs {
        let mut next: Option<String> = None;
        loop {
            let query = DeliveryQuery {
                tenant_id: &target.tenant_ids[spec.tenant],
                webhook_id: &spec.id,
                status: None,
                limit: READ_BACK_PAGE,
                start_after: next.as_deref(),
                since_id: None,
                stale_claims_before: None,
            };
            let page = store.list_webhook_deliveries(&query).await?;
            deliveries.extend(page.items.into_iter().map(|d| (d.delivery_id.clone(), d)));
            match page.next {
                Some(n) => next = Some(n),
                None => break,
            }
        }
    }
    // A delivery never attempted is not in its webhook's log: one a retry finished an
    // interrupted call for has a `pending` record of its own; read those by their ids, so the
    // check can say what state they were left in (one with no record at all is lost).
    for a in &sent.accepted {
        for (delivery_id, webhook_id) in &a.deliveries {
            let tenant = &target.tenant_ids[a.sent.tenant];
            if !deliveries.contains_key(delivery_id)
                && let Some(log) = store.get_delivery(tenant, delivery_id, Some(webhook_id)).await?
            {
                deliveries.insert(delivery_id.clone(), log.delivery);
            }
        }
    }
    eprintln!("chaos: {:.0} s, {} deliveries read back", started.elapsed().as_secs_f64(), deliveries.len());
    let keys: Vec<(String, String)> =
        specs.iter().map(|s| (target.tenant_ids[s.tenant].clone(), s.id.clone())).collect();
    let webhooks = store.get_webhooks(&keys).await?.into_iter().map(|w| (w.id.clone(), w)).collect();
    // The SES and SQS sends moto accepted, read once for both checks.
    let calls = recorded.calls();
    let alerted = alerted(&calls);
    eprintln!("chaos: {:.0} s, alert e-mails read back", started.elapsed().as_secs_f64());
    let seen = receivers.seen();
    let verdict = check::judge(&Outcome {
        specs: &specs,
        accepted: &sent.accepted,
        deliveries: &deliveries,
        webhooks: &webhooks,
        seen: &seen,
        alerted: &alerted,
    });
    let mut verdict = verdict;
    let queued = queued(&calls);
    for problem in &mut verdict.problems {
        if let Some(id) = problem.split(' ').next().filter(|id| id.starts_with("dlv_")) {
            let times = queued.get(id).copied().unwrap_or_default();
            problem.push_str(&format!("; its task reached the queue {times} times"));
        }
    }
    verdict.problems.extend(left_on_queues);
    Ok(Report {
        verdict,
        faults: faults.counts(),
        kills: workers.kills,
        sending: sent,
        answers: receivers.answers().0,
        elapsed: started.elapsed(),
        settled,
    })
}
