//! The integration-test harness: one moto server per test binary (started on a free port,
//! gone when the binary exits), and per test its own table and queues created from
//! template.yaml, its own API key, and the real api Router served over HTTP on loopback.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use axum::Router;
use hookline_alert::AlertFunction;
use hookline_api::{AwsApp, router};
use hookline_delivery::DeliveryFunction;
use hookline_local::aws_proxy::{self, CallLog};
use hookline_local::moto::MotoServer;
use hookline_local::pump;
use hookline_local::stack::{self, Stack, Template};
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::adapters::sdk::SdkConfig;
use hookline_shared::config::{
    AlertConfig, ApiConfig, DeliveryConfig, ENV_ALERT_SENDER, ENV_ALLOW_PRIVATE_TARGETS, ENV_DEAD_LETTER_QUEUE_URL,
    ENV_DELIVERY_QUEUE_URL, ENV_PUBLIC_URL, ENV_SECRETS_KEY, ENV_TABLE, MailConfig,
};
use hookline_shared::domain::delivery::{Delivery, DeliveryStatus};
use hookline_shared::domain::ids::{self, DELIVERY_PREFIX};
use hookline_shared::domain::settings::Settings;
use hookline_shared::ports::store::ApiKeyStore;
use reqwest::StatusCode;
use serde_json::Value;

static MOTO: OnceLock<MotoServer> = OnceLock::new();
pub const ALERT_SENDER: &str = "alerts@hookline.test";
/// What the subject of every opt-in confirmation e-mail says.
pub const CONFIRMATION_SUBJECT: &str = "confirm failure alerts";
static NEXT_STACK: AtomicUsize = AtomicUsize::new(0);
/// The longest batching window the harness's delivery pump uses: the template's (1 s) would
/// add that much to every delivery and retry of every test. A test of batching itself sets a
/// longer one with `start_delivery_with_window`.
pub const TEST_BATCHING_WINDOW: Duration = Duration::from_millis(250);

/// A delivery of tenant `tenant_id` to `webhook_id` in `status` after one attempt (a new id).
pub fn sample_delivery(tenant_id: &str, webhook_id: &str, status: DeliveryStatus) -> Delivery {
    Delivery {
        tenant_id: tenant_id.into(),
        delivery_id: ids::new_id(DELIVERY_PREFIX),
        event_id: "e".into(),
        webhook_id: webhook_id.into(),
        topic: "order_create".into(),
        status,
        attempt_count: 1,
        generation: 0,
        last_error: None,
        next_attempt_at: None,
        created_at: "2026-11-22T17:00:00Z".into(),
        updated_at: "2026-11-22T17:00:00Z".into(),
        expires_at: 1_900_000_000,
        requeue_claimed_at: None,
    }
}

pub fn moto() -> &'static MotoServer {
    MOTO.get_or_init(|| MotoServer::start(0).expect("start moto (run `make venv` first)"))
}

pub struct Harness {
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
    /// Straight to moto: for the tests' own reads and setup.
    pub sdk: SdkConfig,
    pub stack: Stack,
    pub config: ApiConfig,
    /// What each function's clients use (through a recording proxy with `start_recording`).
    delivery_sdk: SdkConfig,
    alert_sdk: SdkConfig,
    /// With `start_recording`: the AWS calls of each function ("api", "delivery", "alert").
    pub calls: HashMap<&'static str, CallLog>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The stable error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<no error code>")
    }
}

impl Harness {
    /// A fresh stack with default (production) settings.
    pub async fn start() -> Self {
        Self::start_with(Settings::default(), HashMap::new(), |sdk, config| router(AwsApp::from_config(sdk, config)))
            .await
    }

    /// A fresh stack whose API accepts loopback webhook URLs (for the receivers of the tests).
    pub async fn start_local() -> Self {
        let settings = Settings { allow_private_targets: true, ..Settings::default() };
        Self::start_with(settings, HashMap::new(), |sdk, config| router(AwsApp::from_config(sdk, config))).await
    }

    /// Runs the delivery function on the stack's delivery queue, as Lambda's event source
    /// mapping would, with the deployment variables `env` (e.g. a fast retry schedule).
    /// Private targets are allowed unless `env` says otherwise. Stops when the test ends.
    /// Batches are gathered for the template's window, cut to `TEST_BATCHING_WINDOW`.
    pub fn start_delivery(&self, env: &[(&str, &str)]) -> tokio::task::JoinHandle<()> {
        let window = self.stack.batching("DeliveryQueue").window.min(TEST_BATCHING_WINDOW);
        self.start_delivery_with_window(env, window)
    }

    /// Like `start_delivery`, gathering each batch for up to `window` (the template's batch size).
    pub fn start_delivery_with_window(&self, env: &[(&str, &str)], window: Duration) -> tokio::task::JoinHandle<()> {
        let mut vars: HashMap<String, String> = HashMap::from([
            (ENV_TABLE.to_string(), self.config.table_name.clone()),
            (ENV_DELIVERY_QUEUE_URL.to_string(), self.config.delivery_queue_url.clone()),
            (ENV_ALLOW_PRIVATE_TARGETS.to_string(), "true".to_string()),
            (ENV_SECRETS_KEY.to_string(), self.config.secrets_key.clone()),
        ]);
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = DeliveryConfig::from_lookup(|name| vars.get(name).cloned()).expect("delivery config");
        let function = Arc::new(DeliveryFunction::from_config(&self.delivery_sdk, &config).expect("delivery function"));
        let queue = self.stack.queue("DeliveryQueue").expect("queue").clone();
        let batching = pump::Batching { window, ..self.stack.batching("DeliveryQueue") };
        tokio::spawn(pump::pump(self.sqs(), queue.url, queue.arn, batching, move |event| {
            let function = function.clone();
            async move { function.handle(event).await }
        }))
    }

    /// Runs the alert function on the stack's dead-letter queue (sender verified in moto's
    /// SES), with the deployment variables `env` (e.g. a shorter alert minute).
    pub async fn start_alerts(&self, env: &[(&str, &str)]) -> tokio::task::JoinHandle<()> {
        let dlq = self.stack.queue("DeliveryDeadLetterQueue").expect("dlq").clone();
        let mut vars: HashMap<String, String> = HashMap::from([
            (ENV_TABLE.to_string(), self.config.table_name.clone()),
            (ENV_DEAD_LETTER_QUEUE_URL.to_string(), dlq.url.clone()),
            (ENV_ALERT_SENDER.to_string(), ALERT_SENDER.to_string()),
            (ENV_SECRETS_KEY.to_string(), self.config.secrets_key.clone()),
            // Unsubscribe links lead to this stack's own API.
            (ENV_PUBLIC_URL.to_string(), self.base.clone()),
        ]);
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = AlertConfig::from_lookup(|name| vars.get(name).cloned()).expect("alert config");
        aws_sdk_ses::Client::new(&self.sdk)
            .verify_email_identity()
            .email_address(&config.sender)
            .send()
            .await
            .expect("verify sender");
        let function = Arc::new(AlertFunction::from_config(&self.alert_sdk, &config));
        let batching = self.stack.batching("DeliveryDeadLetterQueue");
        tokio::spawn(pump::pump(self.sqs(), dlq.url, dlq.arn, batching, move |event| {
            let function = function.clone();
            async move { function.handle(event).await }
        }))
    }

    /// The alert e-mails moto's SES sent to `recipient` (read back from `/moto-api/data.json`;
    /// opt-in confirmations left out): (subject, HTML body) pairs, oldest first. Filtered by
    /// recipient, so tests don't interfere.
    pub async fn emails_to(&self, recipient: &str) -> Vec<(String, String)> {
        let mails = self.mails_to(recipient).await.into_iter();
        mails.filter(|m| !m.subject.contains(CONFIRMATION_SUBJECT)).map(|m| (m.subject, m.html)).collect()
    }

    /// The raw e-mails moto's SES sent to `recipient`, parsed (headers, text and HTML parts).
    pub async fn mails_to(&self, recipient: &str) -> Vec<crate::mail::Mail> {
        // moto builds this dump by walking its live state, and a request served while another
        // thread changes it can fail (an HTML 500): read again, a few times, before giving up.
        let mut data = Value::Null;
        for attempt in 1..=20 {
            let answer = self.http.get(format!("{}/moto-api/data.json", moto().endpoint())).send().await;
            match answer {
                Ok(a) if a.status().is_success() => match a.json::<Value>().await {
                    Ok(v) => {
                        data = v;
                        break;
                    }
                    Err(e) => assert!(attempt < 20, "moto data.json: {e}"),
                },
                other => assert!(attempt < 20, "moto data.json: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            data["ses"]["Message"].as_array().is_none_or(|m| m.iter().all(|m| m["destinations"]["ToAddresses"]
                .as_array()
                .is_none_or(|to| !to.iter().any(|a| a == recipient)))),
            "every e-mail is sent raw (with its unsubscribe headers), none with SendEmail"
        );
        data["ses"]["RawMessage"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["destinations"].as_array().is_some_and(|to| to.iter().any(|a| a == recipient)))
            .map(|m| {
                assert_eq!(m["source"], ALERT_SENDER, "sent from the configured sender");
                crate::mail::parse(m["raw_data"].as_str().unwrap_or_default())
            })
            .collect()
    }

    /// Waits for the confirmation e-mail to `email` and opens its link, pressing the page's
    /// button (a POST), as the address's owner would.
    pub async fn confirm_recipient(&self, email: &str) {
        // This stack's own confirmation: its link leads to this stack's API.
        let prefix = format!("{}/alerts/confirm?token=", self.base);
        let link = self
            .eventually(&format!("the confirmation e-mail to {email}"), Duration::from_secs(10), || async {
                self.mails_to(email).await.into_iter().rev().find_map(|m| m.link(&prefix))
            })
            .await;
        let confirmed = self.http.post(&link).send().await.expect("confirm");
        assert_eq!(confirmed.status(), StatusCode::OK, "{link}");
    }

    /// Polls `check` until it yields a value or `limit` passes (then panics with `what`).
    pub async fn eventually<T, F, Fut>(&self, what: &str, limit: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the delivery reaches `status`; returns it.
    pub async fn delivery_with_status(&self, tenant: &str, id: &str, status: &str, limit: Duration) -> Value {
        let path = format!("/v1/tenants/{tenant}/deliveries/{id}");
        self.eventually(&format!("delivery {id} to be {status}"), limit, || async {
            let d = self.get(&path).await.body;
            (d["status"] == status).then_some(d)
        })
        .await
    }

    /// Creates a webhook to `url` and returns its JSON.
    pub async fn create_webhook_to(&self, tenant: &str, url: &str, topics: &[&str], secret: Option<&str>) -> Value {
        let mut body = serde_json::json!({"name": "receiver", "url": url, "topics": topics});
        if let Some(secret) = secret {
            body["secret"] = Value::from(secret);
        }
        let reply = self.post(&format!("/v1/tenants/{tenant}/webhooks"), body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Like `start_local` with these template parameters, each function's AWS calls
    /// recorded in `calls`.
    pub async fn start_recording(parameter_overrides: HashMap<String, String>) -> Self {
        let settings = Settings { allow_private_targets: true, ..Settings::default() };
        let make_router = |sdk: &SdkConfig, config: &ApiConfig| router(AwsApp::from_config(sdk, config));
        Self::start_inner(settings, parameter_overrides, make_router, true).await
    }

    /// A fresh stack (tests may swap in a failing queue).
    pub async fn start_with(
        settings: Settings,
        parameter_overrides: HashMap<String, String>,
        make_router: impl FnOnce(&SdkConfig, &ApiConfig) -> Router,
    ) -> Self {
        Self::start_inner(settings, parameter_overrides, make_router, false).await
    }

    async fn start_inner(
        settings: Settings,
        parameter_overrides: HashMap<String, String>,
        make_router: impl FnOnce(&SdkConfig, &ApiConfig) -> Router,
        record: bool,
    ) -> Self {
        let sdk = hookline_local::sdk::for_endpoint(&moto().endpoint()).await;
        let mut calls = HashMap::new();
        let mut sdk_for = async |function: &'static str| {
            if !record {
                return sdk.clone();
            }
            let (endpoint, log) = aws_proxy::start(&moto().endpoint()).await.expect("recording proxy");
            calls.insert(function, log);
            hookline_local::sdk::for_endpoint(&endpoint).await
        };
        let (api_sdk, delivery_sdk, alert_sdk) =
            (sdk_for("api").await, sdk_for("delivery").await, sdk_for("alert").await);
        let template = Template::load(&stack::template_path()).expect("template");
        let prefix = format!("t{}-{}", std::process::id(), NEXT_STACK.fetch_add(1, Ordering::SeqCst));
        let stack = stack::provision(&sdk, &template, &prefix, &parameter_overrides).await.expect("provision stack");
        let config = ApiConfig {
            table_name: stack.table("HooklineTable").expect("table").to_string(),
            delivery_queue_url: stack.queue("DeliveryQueue").expect("queue").url.clone(),
            settings,
            secrets_key: stack.key("SecretsKey").expect("secrets key").to_string(),
            mail: Some(MailConfig { sender: ALERT_SENDER.to_string(), configuration_set: None }),
        };
        // SES sends only from a verified identity (the api sends opt-in confirmations).
        aws_sdk_ses::Client::new(&sdk)
            .verify_email_identity()
            .email_address(ALERT_SENDER)
            .send()
            .await
            .expect("verify sender");
        let (key, record) = hookline_shared::domain::api_key::new_key("test", None);
        DynamoStore::connect(&sdk, &config.table_name, &config.secrets_key)
            .put_api_key(&record)
            .await
            .expect("store api key");
        let app = make_router(&api_sdk, &config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { base, key, http: reqwest::Client::new(), sdk, stack, config, delivery_sdk, alert_sdk, calls }
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// The stack's store, as the functions make it (straight to moto, not recorded).
    pub fn store(&self) -> DynamoStore {
        DynamoStore::connect(&self.sdk, &self.config.table_name, &self.config.secrets_key)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    /// Sends a request with the harness's API key; `body` as JSON when given.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let mut req =
            self.http.request(method.parse().expect("method"), format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::reply(req).await
    }

    /// Sends raw bytes with the given headers (no key unless given).
    pub async fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let mut req = self.http.request(method.parse().expect("method"), format!("{}{path}", self.base)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::reply(req).await
    }

    async fn reply(req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, body }
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None).await
    }

    /// Creates a webhook and returns its JSON (asserting the 201).
    pub async fn create_webhook(&self, tenant: &str, name: &str, topics: &[&str]) -> Value {
        let reply = self
            .post(
                &format!("/v1/tenants/{tenant}/webhooks"),
                serde_json::json!({"name": name, "url": format!("https://{name}.example.com/hook"), "topics": topics}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "create {name}: {}", reply.body);
        reply.body
    }

    /// Receives every message now visible on a queue of the stack (and hides them for a
    /// minute, so a second call does not see them again). Bodies parsed as JSON.
    pub async fn drain_queue(&self, logical_id: &str) -> Vec<Value> {
        self.drain_queue_raw(logical_id)
            .await
            .iter()
            .map(|b| serde_json::from_str(b).expect("message body is JSON"))
            .collect()
    }

    /// Like `drain_queue`, with the raw bodies (for messages that are not JSON).
    pub async fn drain_queue_raw(&self, logical_id: &str) -> Vec<String> {
        let url = self.stack.queue(logical_id).expect("queue").url.clone();
        let mut bodies = Vec::new();
        loop {
            let out = self
                .sqs()
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            bodies.extend(messages.into_iter().map(|m| m.body.unwrap_or_default()));
        }
    }

    pub async fn queue_attribute(&self, logical_id: &str, name: QueueAttributeName) -> String {
        let url = self.stack.queue(logical_id).expect("queue").url.clone();
        self.sqs()
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(name.clone())
            .send()
            .await
            .expect("attributes")
            .attributes
            .and_then(|mut a| a.remove(&name))
            .unwrap_or_default()
    }

    /// Every item of one `kind` in the table, as stored (tests only: a Scan).
    pub async fn items_of_kind(&self, kind: &str) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let out = self
            .dynamodb()
            .scan()
            .table_name(&self.config.table_name)
            .filter_expression("#kind = :kind")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":kind", AttributeValue::S(kind.into()))
            .send()
            .await
            .expect("scan");
        out.items.unwrap_or_default()
    }

    /// How many items the table holds (tests only: a Scan).
    pub async fn item_count(&self) -> usize {
        let out = self.dynamodb().scan().table_name(&self.config.table_name).send().await.expect("scan");
        out.items.map(|i| i.len()).unwrap_or(0)
    }
}
