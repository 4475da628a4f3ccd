//! A recording proxy in front of the local AWS endpoint. Every call a client sends through it
//! is noted as `service:Operation` (the shape of an IAM action) with its request body, then
//! forwarded. The bench counts a binary's AWS calls with it; the tests check each function's
//! calls against the IAM policy template.yaml gives that function.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// One AWS call as the proxy saw it.
#[derive(Debug, Clone)]
pub struct AwsCall {
    /// `service:Operation`, e.g. `dynamodb:BatchWriteItem`, `sqs:SendMessageBatch`, `ses:SendEmail`.
    pub operation: String,
    pub body: Bytes,
}

/// The calls made through one proxy, in order.
#[derive(Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<AwsCall>>>);

impl CallLog {
    pub fn calls(&self) -> Vec<AwsCall> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
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

#[derive(Clone)]
struct Proxy {
    target: String,
    client: reqwest::Client,
    log: CallLog,
}

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

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    proxy.log.push(AwsCall { operation: operation_of(&parts.headers, &body), body: body.clone() });
    let url = format!("{}{}", proxy.target, parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut out = proxy.client.request(parts.method, url).body(body);
    for (name, value) in &parts.headers {
        if forwarded(name.as_str()) {
            out = out.header(name, value);
        }
    }
    match out.send().await {
        Ok(answer) => {
            let status = answer.status();
            let headers = answer.headers().clone();
            let body = answer.bytes().await.unwrap_or_default();
            let mut response = (status, body).into_response();
            for (name, value) in &headers {
                if forwarded(name.as_str()) {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// Starts a proxy to `target` (e.g. moto's endpoint) on a free loopback port; returns its
/// endpoint and the log of the calls made through it. It runs until the runtime ends.
pub async fn start(target: &str) -> std::io::Result<(String, CallLog)> {
    let log = CallLog::default();
    let proxy = Proxy { target: target.to_string(), client: reqwest::Client::new(), log: log.clone() };
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
}
