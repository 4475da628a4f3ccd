//! The integration-test harness: one moto server per test binary (started on a free port,
//! gone when the binary exits), and per test its own table and queues created from
//! template.yaml, its own API key, and the real api Router served over HTTP on loopback.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_sqs::types::QueueAttributeName;
use axum::Router;
use hookline_api::{AwsApp, router};
use hookline_local::moto::MotoServer;
use hookline_local::stack::{self, Stack, Template};
use hookline_shared::aws::SdkConfig;
use hookline_shared::config::{ApiConfig, Settings};
use hookline_shared::store::{DynamoStore, Store};
use reqwest::StatusCode;
use serde_json::Value;

static MOTO: OnceLock<MotoServer> = OnceLock::new();
static NEXT_STACK: AtomicUsize = AtomicUsize::new(0);

pub fn moto() -> &'static MotoServer {
    MOTO.get_or_init(|| MotoServer::start(0).expect("start moto (run `make venv` first)"))
}

pub struct Harness {
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
    pub sdk: SdkConfig,
    pub stack: Stack,
    pub config: ApiConfig,
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

    /// A fresh stack; `make_router` builds the app (tests may swap in a failing queue).
    pub async fn start_with(
        settings: Settings,
        parameter_overrides: HashMap<String, String>,
        make_router: impl FnOnce(&SdkConfig, &ApiConfig) -> Router,
    ) -> Self {
        let sdk = hookline_local::sdk::for_endpoint(&moto().endpoint()).await;
        let template = Template::load(&stack::template_path()).expect("template");
        let prefix = format!("t{}-{}", std::process::id(), NEXT_STACK.fetch_add(1, Ordering::SeqCst));
        let stack = stack::provision(&sdk, &template, &prefix, &parameter_overrides).await.expect("provision stack");
        let config = ApiConfig {
            table_name: stack.table("HooklineTable").expect("table").to_string(),
            delivery_queue_url: stack.queue("DeliveryQueue").expect("queue").url.clone(),
            settings,
        };
        let (key, record) = hookline_shared::api_key::new_key("test");
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name)
            .put_api_key(&record)
            .await
            .expect("store api key");
        let app = make_router(&sdk, &config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { base, key, http: reqwest::Client::new(), sdk, stack, config }
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
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
            for m in messages {
                bodies.push(serde_json::from_str(m.body().unwrap_or_default()).expect("message body is JSON"));
            }
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

    /// How many items the table holds (tests only: a Scan).
    pub async fn item_count(&self) -> usize {
        let out = self.dynamodb().scan().table_name(&self.config.table_name).send().await.expect("scan");
        out.items.map(|i| i.len()).unwrap_or(0)
    }
}
