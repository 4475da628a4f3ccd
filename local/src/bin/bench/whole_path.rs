//! The whole path on release builds: the api binary (fed API Gateway HTTP API events by a
//! Lambda Runtime API) ingests N events of 1 KB, and the delivery binary (fed by the event
//! source mapping's emulation, `Runtime`) delivers them; both call AWS through the recording
//! proxy, which keeps their connections open as AWS's endpoints do. CPU per delivered event is
//! both processes' user + system time (from /proc), from the moment both are ready. Events go
//! `--batch` to a request (default 100, as `make cost` sends them; 1 posts each alone).

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hookline_local::cost::run::{event_body, event_json};
use hookline_local::moto::MotoServer;
use hookline_local::{aws_proxy, sdk};
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::app::manage_webhooks;
use hookline_shared::domain::api_key;
use hookline_shared::domain::settings::Settings;
use hookline_shared::domain::webhook::CreateWebhook;
use hookline_shared::ports::store::ApiKeyStore;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::{BoxError, Fixture, Runtime, invocation_error, invocation_response, next_invocation, process_usage, serve};

const TENANT: &str = "bench";
const TOPIC: &str = "coupon_create";

/// The Lambda Runtime API of the api function: one API Gateway event per queued request.
struct ApiRuntime {
    events: Mutex<VecDeque<Vec<u8>>>,
    ready_at: Mutex<Option<Instant>>,
    go: Notify,
    started: std::sync::atomic::AtomicBool,
    accepted: AtomicU64,
    refused: AtomicU64,
}

async fn api_next(State(rt): State<Arc<ApiRuntime>>) -> Response {
    rt.ready_at.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(Instant::now);
    if !rt.started.load(Ordering::SeqCst) {
        rt.go.notified().await;
    }
    let next = rt.events.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
    let Some(event) = next else {
        // Everything is sent: hold the function here until the bench ends.
        std::future::pending::<()>().await;
        return StatusCode::NO_CONTENT.into_response();
    };
    let mut headers = HeaderMap::new();
    let id = super::uuid_like();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() + 29_000)
        .unwrap_or_default();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:api".into()),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    (headers, Body::from(event)).into_response()
}

async fn api_response(State(rt): State<Arc<ApiRuntime>>, UrlPath(_id): UrlPath<String>, body: Bytes) -> StatusCode {
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let inner: Value = answer["body"].as_str().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
    // A single event's 202, or a batch's 200 with a result per event.
    let results = inner["results"].as_array().cloned().unwrap_or_else(|| vec![json!({"status": answer["statusCode"]})]);
    for result in results {
        if result["status"] == 202 && (answer["statusCode"] == 202 || answer["statusCode"] == 200) {
            rt.accepted.fetch_add(1, Ordering::SeqCst);
        } else {
            rt.refused.fetch_add(1, Ordering::SeqCst);
            eprintln!("an event was refused: {answer}");
        }
    }
    StatusCode::ACCEPTED
}

/// The API Gateway HTTP API (payload 2.0) events posting events `0..n` as tenant `TENANT`'s,
/// `batch` to a request (1: each alone to `…/events`; more: to `…/events/batch`).
fn api_events(sample: &Value, key: &str, n: u64, batch: u64) -> Vec<Vec<u8>> {
    let batch = batch.max(1);
    (0..n)
        .step_by(batch as usize)
        .map(|first| {
            if batch == 1 {
                return api_event(sample, key, "events", &event_body(first, TOPIC), first);
            }
            let events: Vec<Value> = (first..(first + batch).min(n)).map(|i| event_json(i, TOPIC)).collect();
            api_event(sample, key, "events/batch", json!({"events": events}).to_string().as_bytes(), first)
        })
        .collect()
}

/// An API Gateway HTTP API (payload 2.0) event posting `body` to tenant `TENANT`'s `route`.
fn api_event(sample: &Value, key: &str, route: &str, body: &[u8], i: u64) -> Vec<u8> {
    let mut event = sample.clone();
    let path = format!("/v1/tenants/{TENANT}/{route}");
    event["rawPath"] = Value::String(path.clone());
    event["requestContext"]["http"]["path"] = Value::String(path.clone());
    event["requestContext"]["requestId"] = Value::String(format!("req-{i}"));
    event["pathParameters"]["proxy"] = Value::String(path.trim_start_matches('/').to_string());
    event["headers"]["authorization"] = Value::String(format!("Bearer {key}"));
    event["body"] = Value::String(String::from_utf8_lossy(body).into_owned());
    event.to_string().into_bytes()
}

fn spawn(binary: &Path, runtime: &str, name: &str, vars: &[(&str, String)]) -> Result<tokio::process::Child, BoxError> {
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", sdk::LOCAL_REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("RUST_LOG", "info");
    for (k, v) in vars {
        command.env(k, v);
    }
    Ok(command.stdout(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true).spawn()?)
}

pub async fn run(
    moto: &MotoServer,
    n: u64,
    batch: u64,
    api_binary: &Path,
    delivery_binary: &Path,
) -> Result<(), BoxError> {
    let direct = sdk::for_endpoint(&moto.endpoint()).await;
    let Fixture { template, table, secrets_key, queue, batching, receiver, received } =
        Fixture::start(&direct, "bench-whole").await?;
    let store = DynamoStore::connect(&direct, &table, &secrets_key);
    let (key, record) = api_key::new_key("bench", None);
    store.put_api_key(&record).await?;
    let settings = Settings { allow_private_targets: true, ..Settings::default() };
    let request: CreateWebhook = serde_json::from_value(serde_json::json!({
        "name": "bench", "url": format!("http://{receiver}/hook"), "topics": [TOPIC]
    }))?;
    manage_webhooks::create_webhook(&store, &settings, TENANT, request, None).await?;

    let sample: Value = serde_json::from_str(&std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/api/ingest-event.json"),
    )?)?;
    let events = api_events(&sample, &key, n, batch).into();
    let api_runtime = Arc::new(ApiRuntime {
        events: Mutex::new(events),
        ready_at: Mutex::new(None),
        go: Notify::new(),
        started: std::sync::atomic::AtomicBool::new(false),
        accepted: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    });
    let api_addr = serve(
        Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(api_next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(api_response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(|body: Bytes| invocation_error(UrlPath("init".into()), body)))
            .with_state(api_runtime.clone()),
    )
    .await?;
    let delivery_runtime = Arc::new(Runtime::new(&direct, &queue, batching, n));
    let delivery_addr = serve(
        Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(invocation_response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .with_state(delivery_runtime.clone()),
    )
    .await?;

    let (proxy, calls) = aws_proxy::start(&moto.endpoint()).await?;
    let common = [
        ("AWS_ENDPOINT_URL", proxy.clone()),
        ("HOOKLINE_TABLE", table.clone()),
        ("HOOKLINE_SECRETS_KEY", secrets_key.clone()),
        ("HOOKLINE_DELIVERY_QUEUE_URL", queue.url.clone()),
        ("HOOKLINE_ALLOW_PRIVATE_TARGETS", "true".to_string()),
    ];
    let mut api_vars = common.to_vec();
    api_vars.push(("HOOKLINE_TOPIC_CATALOG", template.parameter("TopicCatalog").unwrap_or("seed").to_string()));
    let mut api = spawn(api_binary, &api_addr, "hookline-api-bench", &api_vars)?;
    let mut delivery = spawn(delivery_binary, &delivery_addr, "hookline-delivery-bench", &common)?;
    let (api_pid, delivery_pid) = (api.id().ok_or("api exited")?, delivery.id().ok_or("delivery exited")?);

    // Both ready (their first request for work), then the events go.
    let ready = |r: &Mutex<Option<Instant>>| r.lock().unwrap_or_else(|e| e.into_inner()).is_some();
    while !ready(&api_runtime.ready_at) || !ready(&delivery_runtime.ready_at) {
        for (name, child) in [("api", &mut api), ("delivery", &mut delivery)] {
            if let Some(status) = child.try_wait()? {
                return Err(format!("the {name} binary exited: {status}").into());
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let (api_user0, api_sys0, _) = process_usage(api_pid)?;
    let (del_user0, del_sys0, _) = process_usage(delivery_pid)?;
    let calls0 = calls.len();
    let started = Instant::now();
    api_runtime.started.store(true, Ordering::SeqCst);
    api_runtime.go.notify_waiters();
    tokio::time::timeout(Duration::from_secs(900), delivery_runtime.done.notified()).await.map_err(|_| {
        format!(
            "timed out: {} events accepted, {} delivered",
            api_runtime.accepted.load(Ordering::SeqCst),
            delivery_runtime.delivered.load(Ordering::SeqCst)
        )
    })?;
    let elapsed = started.elapsed();
    let (api_user, api_sys, api_rss) = process_usage(api_pid)?;
    let (del_user, del_sys, del_rss) = process_usage(delivery_pid)?;
    let _ = api.kill().await;
    let _ = delivery.kill().await;

    let delivered = delivery_runtime.delivered.load(Ordering::SeqCst);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / delivered.max(1) as f64;
    let api_cpu = (api_user + api_sys).saturating_sub(api_user0 + api_sys0);
    let del_cpu = (del_user + del_sys).saturating_sub(del_user0 + del_sys0);
    let user = api_user.saturating_sub(api_user0) + del_user.saturating_sub(del_user0);
    let system = api_sys.saturating_sub(api_sys0) + del_sys.saturating_sub(del_sys0);
    println!(
        "\ningest + delivery (release api and delivery binaries): {n} events of 1 KB, {batch} a request, {} accepted, {delivered} delivered ({} reached the receiver)",
        api_runtime.accepted.load(Ordering::SeqCst),
        received.load(Ordering::SeqCst)
    );
    println!("  events/s                      {:.0}", delivered as f64 / elapsed.as_secs_f64());
    println!(
        "  CPU per delivered event       {:.0} µs (api {:.0} + delivery {:.0}; user {:.0} + system {:.0})",
        per(api_cpu + del_cpu),
        per(api_cpu),
        per(del_cpu),
        per(user),
        per(system)
    );
    let window = calls.since(calls0);
    println!(
        "  AWS calls per event           {:.2} ({} calls)",
        window.len() as f64 / delivered.max(1) as f64,
        window.len()
    );
    let mut counts = std::collections::BTreeMap::new();
    for call in &window {
        *counts.entry(call.operation.clone()).or_insert(0u64) += 1;
    }
    for (operation, count) in counts {
        println!("      {operation:<40} {count}");
    }
    println!(
        "  peak RSS                      api {:.1} MB, delivery {:.1} MB",
        api_rss as f64 / 1024.0,
        del_rss as f64 / 1024.0
    );
    Ok(())
}
