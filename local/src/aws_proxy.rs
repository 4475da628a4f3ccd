//! A recording proxy in front of the local AWS endpoint. Every call a client sends through it
//! is noted as `service:Operation` (the shape of an IAM action) with its request body, then
//! forwarded, and its answer noted too. The bench counts a binary's AWS calls with it; the
//! tests check each function's calls against the IAM policy template.yaml gives that function;
//! `make cost` prices them (with `snapshots`, a DynamoDB write also notes the items it names
//! as they were before and after it, read straight from the endpoint, so it can be billed by
//! size). Client connections are kept alive (HTTP/1.1), as AWS's endpoints keep them.
//! `make chaos` makes a share of the calls fail on the way (`faults`).

pub mod faults;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use self::faults::{Fault, Faults};
use crate::cost::bill::{self, Written};

/// One AWS call as the proxy saw it.
#[derive(Debug, Clone)]
pub struct AwsCall {
    /// `service:Operation`, e.g. `dynamodb:BatchWriteItem`, `sqs:SendMessageBatch`, `ses:SendEmail`.
    pub operation: String,
    pub body: Bytes,
    /// The answer's status and body.
    pub status: u16,
    pub response: Bytes,
    /// With snapshots, for a DynamoDB write: each item it names (in request order), as it was
    /// before the write and after it (`None`: absent). Empty otherwise.
    pub before: Vec<Option<Value>>,
    pub after: Vec<Option<Value>>,
    /// What the recording itself added to the call's time (the reads of `before` and `after`,
    /// and waiting for the write lock): taken off a measured invocation's duration.
    pub overhead: std::time::Duration,
}

/// The calls made through one proxy, in order.
#[derive(Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<AwsCall>>>);

impl CallLog {
    pub fn calls(&self) -> Vec<AwsCall> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The calls from the `from`-th on.
    pub fn since(&self, from: usize) -> Vec<AwsCall> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(from..).map(<[AwsCall]>::to_vec).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many calls of each operation.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for call in self.0.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            *counts.entry(call.operation.clone()).or_default() += 1;
        }
        counts
    }

    fn push(&self, call: AwsCall) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(call);
    }
}

impl AwsCall {
    fn plain(operation: String, body: Bytes, status: StatusCode, response: Bytes) -> Self {
        let (before, after, overhead) = (Vec::new(), Vec::new(), std::time::Duration::ZERO);
        Self { operation, body, status: status.as_u16(), response, before, after, overhead }
    }
}

#[derive(Clone)]
struct Proxy {
    target: String,
    client: reqwest::Client,
    log: CallLog,
    /// The table's key attributes, when writes are to be recorded with their items.
    snapshot_keys: Option<Vec<String>>,
    faults: Option<Arc<Faults>>,
    /// The operations the log keeps (all when `None`): a long run keeps only what it reads.
    recorded: Option<&'static [&'static str]>,
}

impl Proxy {
    fn record(&self, call: AwsCall) {
        if self.recorded.is_none_or(|kept| kept.contains(&call.operation.as_str())) {
            self.log.push(call);
        }
    }
}

/// Writes recorded with snapshots are made one at a time across every proxy, so no other
/// write lands between a write and the reads of its items.
static WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The operation of a signed AWS request: the service from the SigV4 credential scope
/// (`Credential=key/date/region/service/aws4_request`), the operation from `x-amz-target`
/// (JSON protocols: DynamoDB, SQS) or the `Action` form field (query protocol: SES).
pub fn operation_of(headers: &HeaderMap, body: &[u8]) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let service = header("authorization")
        .split("Credential=")
        .nth(1)
        .and_then(|scope| scope.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string();
    let from_target = header("x-amz-target").rsplit_once('.').map(|(_, op)| op.to_string());
    let from_form =
        || String::from_utf8_lossy(body).split('&').find_map(|pair| pair.strip_prefix("Action=")).map(str::to_string);
    let operation = from_target.or_else(from_form).unwrap_or_else(|| "unknown".to_string());
    format!("{service}:{operation}")
}

/// Whether the proxy copies a header. Hop-by-hop headers describe one connection, not the
/// message: forwarding moto's `connection: close` would make a client reconnect for every AWS
/// call, a cost it never pays against AWS (connections there are kept alive). Host and
/// content-length are set anew for the forwarded body.
fn forwarded(name: &str) -> bool {
    !matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
            | "host"
            | "content-length"
    )
}

/// Reads one item straight from the endpoint (not recorded), strongly consistent.
async fn read_item(proxy: &Proxy, written: &Written) -> Option<Value> {
    let body = json!({"TableName": written.table, "Key": written.key, "ConsistentRead": true});
    let answer = proxy
        .client
        .post(format!("{}/", proxy.target))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.GetItem")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
        .body(body.to_string())
        .send()
        .await
        .ok()?;
    let answer: Value = answer.json().await.ok()?;
    answer.get("Item").cloned()
}

async fn read_items(proxy: &Proxy, items: &[Written]) -> Vec<Option<Value>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(read_item(proxy, item).await);
    }
    out
}

async fn send(
    proxy: &Proxy,
    parts: &axum::http::request::Parts,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, Bytes), ()> {
    let url = format!("{}{}", proxy.target, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut out = proxy.client.request(parts.method.clone(), url).body(body);
    for (name, value) in &parts.headers {
        if forwarded(name.as_str()) {
            out = out.header(name, value);
        }
    }
    let answer = out.send().await.map_err(|_| ())?;
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap_or_default();
    Ok((status, headers, body))
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let operation = operation_of(&parts.headers, &body);
    if let Some(faults) = &proxy.faults {
        match faults.pick(&operation) {
            Some(Fault::AnswerLost) => {
                // It reached the endpoint: recorded like any call that did, its caller never hears.
                if let Ok((status, _, answer)) = send(&proxy, &parts, body.clone()).await {
                    proxy.record(AwsCall::plain(operation, body, status, answer));
                }
                return faults::cut();
            }
            Some(fault) => return faults::answer(fault, &operation, faults.stall).await,
            None => {}
        }
    }
    let written = match (&proxy.snapshot_keys, operation.split_once(':')) {
        (Some(keys), Some(("dynamodb", op))) if bill::DYNAMO_WRITES.contains(&op) => {
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            Some(bill::written_items(op, &request, keys))
        }
        _ => None,
    };
    let (sent, before, after, overhead) = match &written {
        Some(items) => {
            let started = std::time::Instant::now();
            let _one_at_a_time = WRITES.lock().await;
            let before = read_items(&proxy, items).await;
            let sending = std::time::Instant::now();
            let sent = send(&proxy, &parts, body.clone()).await;
            let sent_in = sending.elapsed();
            let after = read_items(&proxy, items).await;
            (sent, before, after, started.elapsed().saturating_sub(sent_in))
        }
        None => (send(&proxy, &parts, body.clone()).await, Vec::new(), Vec::new(), std::time::Duration::ZERO),
    };
    let Ok((status, headers, answer)) = sent else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    proxy.record(AwsCall { before, after, overhead, ..AwsCall::plain(operation, body, status, answer.clone()) });
    let mut response = (status, answer).into_response();
    for (name, value) in &headers {
        if forwarded(name.as_str()) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

/// Starts a proxy to `target` (e.g. moto's endpoint) on a free loopback port; returns its
/// endpoint and the log of the calls made through it. It runs until the runtime ends.
pub async fn start(target: &str) -> std::io::Result<(String, CallLog)> {
    start_with(target, None).await
}

/// Like `start`; with `snapshot_keys` (the table's key attributes) each DynamoDB write is
/// recorded with the items it names before and after it.
pub async fn start_with(target: &str, snapshot_keys: Option<Vec<String>>) -> std::io::Result<(String, CallLog)> {
    serve(Proxy {
        target: target.to_string(),
        client: reqwest::Client::new(),
        log: CallLog::default(),
        snapshot_keys,
        faults: None,
        recorded: None,
    })
    .await
}

/// Like `start`; calls fail as `faults` picks (see `faults`), and the log keeps only the
/// `recorded` operations that reached the endpoint (a lost answer's call too).
pub async fn start_faulty(
    target: &str,
    faults: Arc<Faults>,
    recorded: &'static [&'static str],
) -> std::io::Result<(String, CallLog)> {
    serve(Proxy {
        target: target.to_string(),
        client: reqwest::Client::new(),
        log: CallLog::default(),
        snapshot_keys: None,
        faults: Some(faults),
        recorded: Some(recorded),
    })
    .await
}

async fn serve(proxy: Proxy) -> std::io::Result<(String, CallLog)> {
    let log = proxy.log.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let app = Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((endpoint, log))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.parse().expect("name"), v.parse().expect("value"))).collect()
    }

    #[test]
    fn json_protocol_operations_come_from_the_target_header() {
        let h = headers(&[
            ("authorization", "AWS4-HMAC-SHA256 Credential=testing/20261123/us-east-1/dynamodb/aws4_request, ..."),
            ("x-amz-target", "DynamoDB_20120810.BatchWriteItem"),
        ]);
        assert_eq!(operation_of(&h, b"{}"), "dynamodb:BatchWriteItem");
    }

    #[test]
    fn query_protocol_operations_come_from_the_action_field() {
        let h =
            headers(&[("authorization", "AWS4-HMAC-SHA256 Credential=testing/20261123/us-east-1/ses/aws4_request")]);
        assert_eq!(operation_of(&h, b"Action=SendEmail&Version=2010-12-01"), "ses:SendEmail");
        assert_eq!(operation_of(&HeaderMap::new(), b""), "unknown:unknown");
    }

    #[tokio::test]
    async fn client_connections_stay_open_though_the_endpoint_closes_each_one() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // GIVEN an endpoint that, like moto, closes the connection after every answer
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let target = format!("http://{}", listener.local_addr().expect("addr"));
        let endpoint = Router::new().fallback(|| async { ([("connection", "close")], "{}") });
        tokio::spawn(async move { axum::serve(listener, endpoint).await });
        let (proxy, log) = start(&target).await.expect("proxy");
        // WHEN a client sends two requests on one connection to the proxy
        let mut stream = tokio::net::TcpStream::connect(proxy.trim_start_matches("http://")).await.expect("connect");
        let mut answers = Vec::new();
        for _ in 0..2 {
            let request = "POST / HTTP/1.1\r\nhost: proxy\r\ncontent-length: 2\r\n\r\n{}";
            stream.write_all(request.as_bytes()).await.expect("write");
            let mut answer = Vec::new();
            while !answer.ends_with(b"\r\n\r\n{}") {
                let mut buf = [0u8; 1024];
                let n = stream.read(&mut buf).await.expect("read");
                assert!(n > 0, "the proxy closed the connection after {} answers", answers.len());
                answer.extend_from_slice(&buf[..n]);
            }
            answers.push(String::from_utf8_lossy(&answer).to_lowercase());
        }
        // THEN both are answered on it, neither says it closes, and both are recorded
        assert!(
            answers.iter().all(|a| a.starts_with("http/1.1 200") && !a.contains("connection: close")),
            "{answers:?}"
        );
        assert_eq!(log.len(), 2);
    }

    #[tokio::test]
    async fn a_faulty_proxy_fails_calls_and_a_lost_answer_still_reaches_the_endpoint() {
        use std::sync::atomic::{AtomicU64, Ordering};
        // GIVEN an endpoint counting what reaches it, behind a proxy failing every call
        let reached = Arc::new(AtomicU64::new(0));
        let counter = reached.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let target = format!("http://{}", listener.local_addr().expect("addr"));
        let endpoint = Router::new().fallback(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { "{}" }
        });
        tokio::spawn(async move { axum::serve(listener, endpoint).await });
        let faults = Arc::new(Faults::new(3, 1000, std::time::Duration::from_millis(1)));
        faults.enable(true);
        let (proxy, log) = start_faulty(&target, faults.clone(), &["dynamodb:PutItem"]).await.expect("proxy");
        // WHEN 100 DynamoDB calls go through it
        let client = reqwest::Client::new();
        let mut ok = 0;
        for _ in 0..100 {
            let answer = client
                .post(&proxy)
                .header("authorization", "AWS4-HMAC-SHA256 Credential=t/20261203/us-east-1/dynamodb/aws4_request")
                .header("x-amz-target", "DynamoDB_20120810.PutItem")
                .body("{}")
                .send()
                .await;
            if let Ok(a) = answer {
                ok += u64::from(a.status().is_success() && a.bytes().await.is_ok());
            }
        }
        // THEN none succeeds, every kind of fault was injected, and exactly the lost answers
        // reached the endpoint (the write happened; its caller never heard)
        let counts = faults.counts();
        assert_eq!(ok, 0);
        assert_eq!(counts.values().sum::<u64>(), 100);
        assert!(Fault::ALL.iter().all(|f| counts.contains_key(f)), "{counts:?}");
        assert_eq!(reached.load(Ordering::SeqCst), counts[&Fault::AnswerLost]);
        // AND the log kept exactly those calls
        assert_eq!(log.len() as u64, counts[&Fault::AnswerLost]);
    }
}
