//! A real HTTP receiver on loopback that records every request and answers from a script.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Duration,
    pub body: String,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), delay: Duration::ZERO, body: format!("answer {status}") }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Clone, Debug)]
pub struct Received {
    pub at: Instant,
    pub method: Method,
    /// The path and query the request asked for.
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

#[derive(Default)]
struct Script {
    answers: Vec<Answer>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    script: Arc<Mutex<Script>>,
}

async fn handle(
    State(script): State<Arc<Mutex<Script>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = {
        let mut s = script.lock().expect("lock");
        s.received.push(Received { at: Instant::now(), method, uri, headers, body });
        // The script's answers in turn; the last one repeats.
        let n = s.received.len();
        s.answers.get(n - 1).or(s.answers.last()).cloned().unwrap_or(Answer::status(200))
    };
    tokio::time::sleep(answer.delay).await;
    let mut response = (StatusCode::from_u16(answer.status).expect("status"), answer.body).into_response();
    for (name, value) in answer.headers {
        response.headers_mut().insert(name, value.parse().expect("header value"));
    }
    response
}

impl Receiver {
    /// Starts a receiver answering `answers` in turn (the last repeats).
    pub async fn start(answers: Vec<Answer>) -> Self {
        let script = Arc::new(Mutex::new(Script { answers, received: Vec::new() }));
        let app = Router::new().fallback(handle).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { url, script }
    }

    /// The receiver's base URL (scheme, host and port), for a stand-in of a fixed endpoint.
    pub fn base(&self) -> String {
        self.url.trim_end_matches("/hook").to_string()
    }

    /// From now on answers `answers` in turn (the last repeats), counted from the next request.
    pub fn answer_from_now(&self, answers: Vec<Answer>) {
        let mut script = self.script.lock().expect("lock");
        let before = script.received.len();
        script.answers = std::iter::repeat_n(Answer::status(200), before).chain(answers).collect();
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().expect("lock").received.clone()
    }

    /// Waits (polling, bounded) until `n` requests arrived; returns them.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
