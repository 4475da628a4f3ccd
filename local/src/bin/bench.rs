//! `make bench`: the delivery function's figures, measured on the real release binary.
//!
//! The bench plays every part around the binary: a moto server with the stack from
//! template.yaml, a loopback receiver, N queued deliveries made by the real ingest, a counting
//! proxy in front of moto (so the binary's AWS calls are counted, not estimated), and a Lambda
//! Runtime API that hands the binary SQS batches the way the event source mapping does and
//! deletes what it reports done. It then prints deliveries/s, CPU µs per delivery (from
//! /proc, the binary's own process), AWS calls per delivery, peak RSS, binary size and the
//! time from process start to its first `/next` (ready).
//!
//! Then it measures the whole path (`whole_path`): the release api binary ingesting N events
//! and the delivery binary delivering them, and prints CPU µs per delivered event.
//!
//!   hookline-bench [--deliveries N] [--binary target/release/hookline-delivery]
//!                  [--api-binary target/release/hookline-api]

#[path = "bench/whole_path.rs"]
mod whole_path;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hookline_local::cost::run::DEFAULT_BATCH;
use hookline_local::listen::serve_on_loopback;
use hookline_local::moto::MotoServer;
use hookline_local::{aws_proxy, pump, sdk, stack};
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::adapters::sqs::SqsQueue;
use hookline_shared::app::{ingest, manage_webhooks};
use hookline_shared::domain::event::EventRequest;
use hookline_shared::domain::settings::Settings;
use hookline_shared::domain::webhook::CreateWebhook;
use tokio::sync::Notify;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hookline-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

async fn serve(app: Router) -> Result<String, BoxError> {
    Ok(serve_on_loopback(app).await?.0.to_string())
}

/// Where cargo puts release binaries: `CARGO_TARGET_DIR` when set, else the workspace's target/.
/// A stack from template.yaml under `prefix`, and a loopback receiver counting what it gets.
struct Fixture {
    template: stack::Template,
    table: String,
    secrets_key: String,
    queue: stack::QueueRef,
    /// How the delivery queue's event source mapping gathers a batch.
    batching: pump::Batching,
    /// The receiver's `host:port`.
    receiver: String,
    received: Arc<AtomicU64>,
}

impl Fixture {
    async fn start(sdk: &hookline_shared::adapters::sdk::SdkConfig, prefix: &str) -> Result<Self, BoxError> {
        let template = stack::Template::load(&stack::template_path())?;
        let created = stack::provision(sdk, &template, prefix, &HashMap::new()).await?;
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        let receiver = serve(Router::new().fallback(post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        })))
        .await?;
        Ok(Self {
            template,
            table: created.table("HooklineTable")?.to_string(),
            secrets_key: created.key("SecretsKey")?.to_string(),
            queue: created.queue("DeliveryQueue")?.clone(),
            batching: created.batching("DeliveryQueue"),
            receiver,
            received,
        })
    }
}

fn release_binary(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("release")
        .join(name)
}

/// The Lambda Runtime API, fed from the delivery queue.
struct Runtime {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    /// How the event source mapping gathers a batch (template.yaml's).
    batching: pump::Batching,
    target: u64,
    ready_at: Mutex<Option<Instant>>,
    pending: Mutex<HashMap<String, HashMap<String, String>>>,
    delivered: AtomicU64,
    failed_reports: AtomicU64,
    done: Notify,
}

impl Runtime {
    fn new(sdk: &aws_config::SdkConfig, queue: &stack::QueueRef, batching: pump::Batching, target: u64) -> Self {
        Self {
            sqs: aws_sdk_sqs::Client::new(sdk),
            queue_url: queue.url.clone(),
            queue_arn: queue.arn.clone(),
            batching,
            target,
            ready_at: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            delivered: AtomicU64::new(0),
            failed_reports: AtomicU64::new(0),
            done: Notify::new(),
        }
    }
}

async fn next_invocation(State(rt): State<Arc<Runtime>>) -> Response {
    rt.ready_at.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(Instant::now);
    loop {
        if rt.delivered.load(Ordering::SeqCst) >= rt.target {
            // Everything is delivered: hold the runtime here until the bench ends.
            std::future::pending::<()>().await;
        }
        let Ok(messages) = pump::gather(&rt.sqs, &rt.queue_url, rt.batching).await else { continue };
        if messages.is_empty() {
            continue;
        }
        let mut event = SqsEvent::default();
        let mut receipts = HashMap::new();
        for m in messages {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            record.event_source_arn = Some(rt.queue_arn.clone());
            record.attributes = m
                .attributes()
                .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), v.clone())).collect())
                .unwrap_or_default();
            receipts.insert(m.message_id.unwrap_or_default(), m.receipt_handle.unwrap_or_default());
            event.records.push(record);
        }
        let request_id = uuid_like();
        rt.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(request_id.clone(), receipts);
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 30_000)
            .unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert("lambda-runtime-aws-request-id", request_id.parse().unwrap_or_else(|_| unreachable!()));
        headers.insert("lambda-runtime-deadline-ms", deadline.to_string().parse().unwrap_or_else(|_| unreachable!()));
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".parse().unwrap_or_else(|_| unreachable!()),
        );
        let body = serde_json::to_vec(&event).unwrap_or_default();
        return (headers, Body::from(body)).into_response();
    }
}

fn uuid_like() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("bench-{}", NEXT.fetch_add(1, Ordering::SeqCst))
}

async fn invocation_response(
    State(rt): State<Arc<Runtime>>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let receipts = rt.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&request_id).unwrap_or_default();
    let response: SqsBatchResponse = serde_json::from_slice(&body).unwrap_or_default();
    let failed: HashSet<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    rt.failed_reports.fetch_add(failed.len() as u64, Ordering::SeqCst);
    let done: Vec<DeleteMessageBatchRequestEntry> = receipts
        .iter()
        .filter(|(id, _)| !failed.contains(*id))
        .enumerate()
        .filter_map(|(i, (_, r))| {
            DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(r).build().ok()
        })
        .collect();
    let n = done.len() as u64;
    if !done.is_empty() {
        let _ = rt.sqs.delete_message_batch().queue_url(&rt.queue_url).set_entries(Some(done)).send().await;
    }
    if rt.delivered.fetch_add(n, Ordering::SeqCst) + n >= rt.target {
        rt.done.notify_one();
    }
    StatusCode::ACCEPTED
}

async fn invocation_error(Path(request_id): Path<String>, body: Bytes) -> StatusCode {
    eprintln!("invocation {request_id} failed: {}", String::from_utf8_lossy(&body));
    StatusCode::ACCEPTED
}

/// (user, system CPU time, peak RSS in KiB) of a process, from /proc.
fn process_usage(pid: u32) -> Result<(Duration, Duration, u64), BoxError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("").split_whitespace().collect();
    // utime and stime, in clock ticks of 1/100 s (USER_HZ).
    let ticks = |i: usize| -> Result<Duration, BoxError> {
        Ok(Duration::from_millis(fields.get(i).ok_or("stat")?.parse::<u64>()? * 10))
    };
    let (user, system) = (ticks(11)?, ticks(12)?);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok((user, system, hwm))
}

async fn run() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = arg(&args, "--deliveries").map(|v| v.parse()).transpose()?.unwrap_or(2000);
    let binary = arg(&args, "--binary").map(PathBuf::from).unwrap_or_else(|| release_binary("hookline-delivery"));
    let api_binary = arg(&args, "--api-binary").map(PathBuf::from).unwrap_or_else(|| release_binary("hookline-api"));
    let binary_size = std::fs::metadata(&binary)
        .map_err(|e| format!("{}: {e} (build it: cargo build --release -p hookline-delivery)", binary.display()))?
        .len();

    // The stack, the receiver and N queued deliveries, made by the real ingest.
    let moto = MotoServer::start(0)?;
    let sdk = sdk::for_endpoint(&moto.endpoint()).await;
    let Fixture { table, secrets_key, queue, batching, receiver, received, .. } = Fixture::start(&sdk, "bench").await?;

    let store = DynamoStore::connect(&sdk, &table, &secrets_key);
    let task_queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), &queue.url);
    let settings = Settings { allow_private_targets: true, ..Settings::default() };
    let request: CreateWebhook = serde_json::from_value(serde_json::json!({
        "name": "bench", "url": format!("http://{receiver}/hook"), "topics": ["order_create"]
    }))?;
    manage_webhooks::create_webhook(&store, &settings, "bench", request, None).await?;
    eprint!("queueing {n} deliveries ... ");
    for i in 0..n {
        let event: EventRequest = serde_json::from_value(serde_json::json!({
            "id": format!("order-{i}"), "topic": "order_create",
            "context": {"business_name": "Bench", "business_currency_code": "INR"},
            "data": {"order_id": i, "total": 499, "items": [{"sku": "A-1", "qty": 2}]}
        }))?;
        ingest::ingest_event(&store, &task_queue, &settings, "bench", event).await?;
    }
    eprintln!("done");

    // The counting proxy and the runtime API.
    let (proxy_endpoint, calls_log) = aws_proxy::start(&moto.endpoint()).await?;
    let runtime = Arc::new(Runtime::new(&sdk, &queue, batching, n));
    let runtime_addr = serve(
        Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(invocation_response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(|body: Bytes| invocation_error(Path("init".into()), body)))
            .with_state(runtime.clone()),
    )
    .await?;

    let started = Instant::now();
    // BENCH_WRAPPER (e.g. "valgrind --tool=callgrind") runs the binary under a profiler.
    let wrapper: Vec<String> =
        std::env::var("BENCH_WRAPPER").unwrap_or_default().split_whitespace().map(String::from).collect();
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut c = tokio::process::Command::new(program);
            c.args(rest).arg(&binary);
            c
        }
        None => tokio::process::Command::new(&binary),
    };
    let mut child = command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env_remove("AWS_PROFILE")
        .env("AWS_LAMBDA_RUNTIME_API", &runtime_addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "hookline-delivery-bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", sdk::LOCAL_REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", &proxy_endpoint)
        .env("HOOKLINE_TABLE", &table)
        .env("HOOKLINE_SECRETS_KEY", &secrets_key)
        .env("HOOKLINE_DELIVERY_QUEUE_URL", &queue.url)
        .env("HOOKLINE_ALLOW_PRIVATE_TARGETS", "true")
        .env("RUST_LOG", std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "info".into()))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("the delivery binary exited at once")?;

    // Ready: the binary's first call for work.
    while runtime.ready_at.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
        if let Some(status) = child.try_wait()? {
            return Err(format!("the delivery binary exited: {status}").into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let ready_at = runtime.ready_at.lock().unwrap_or_else(|e| e.into_inner()).unwrap_or(started);
    let (user_at_ready, sys_at_ready, _) = process_usage(pid)?;
    let calls_at_ready = calls_log.len() as u64;

    tokio::time::timeout(Duration::from_secs(600), runtime.done.notified())
        .await
        .map_err(|_| format!("timed out with {} of {n} delivered", runtime.delivered.load(Ordering::SeqCst)))?;
    let elapsed = ready_at.elapsed();
    let (user_at_end, sys_at_end, peak_rss_kib) = process_usage(pid)?;
    if wrapper.is_empty() {
        let _ = child.kill().await;
    } else {
        // A profiler writes its report when the process ends by a signal it can catch.
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    }

    let delivered = runtime.delivered.load(Ordering::SeqCst);
    let counts = calls_log.counts();
    let calls = calls_log.len() as u64 - calls_at_ready;
    let user = user_at_end.saturating_sub(user_at_ready);
    let system = sys_at_end.saturating_sub(sys_at_ready);
    let per_delivery = |d: Duration| d.as_secs_f64() * 1e6 / delivered as f64;
    println!(
        "hookline-delivery bench: {delivered} deliveries of {n} ({} reached the receiver)",
        received.load(Ordering::SeqCst)
    );
    println!("  deliveries/s                  {:.0}", delivered as f64 / elapsed.as_secs_f64());
    println!(
        "  CPU per delivery              {:.0} µs (user {:.0} + system {:.0}; the process, after ready)",
        per_delivery(user + system),
        per_delivery(user),
        per_delivery(system)
    );
    println!("  AWS calls per delivery        {:.3} ({calls} calls)", calls as f64 / delivered as f64);
    for (operation, count) in counts {
        println!("      {operation:<40} {count}");
    }
    println!("  peak RSS                      {:.1} MB", peak_rss_kib as f64 / 1024.0);
    println!("  binary size                   {:.1} MB ({})", binary_size as f64 / 1_048_576.0, binary.display());
    println!("  start to ready                {:.1} ms", (ready_at - started).as_secs_f64() * 1e3);
    println!("  batch items reported failed   {}", runtime.failed_reports.load(Ordering::SeqCst));
    if !api_binary.exists() {
        return Err(format!("{}: not built (cargo build --release -p hookline-api)", api_binary.display()).into());
    }
    let batch: u64 = arg(&args, "--batch").map(|v| v.parse()).transpose()?.unwrap_or(DEFAULT_BATCH);
    whole_path::run(&moto, n, batch, &api_binary, &binary).await?;
    drop(moto);
    Ok(())
}
