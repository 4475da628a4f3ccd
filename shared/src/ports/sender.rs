//! Sending one webhook request: what the dispatch and test-send use-cases need
//! (`adapters::http_sender` does it over HTTP, SSRF-safe). Every failure is an outcome.

use futures::future::BoxFuture;
use std::time::Duration;

/// Why an attempt got no HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    Timeout,
    Connect,
    ForbiddenAddress,
    InvalidUrl,
    Other,
}

impl SendFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connection failed",
            Self::ForbiddenAddress => "forbidden address",
            Self::InvalidUrl => "invalid url",
            Self::Other => "request failed",
        }
    }
}

impl std::fmt::Display for SendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one attempt produced. Never an error: every failure is an outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOutcome {
    pub status: Option<u16>,
    pub error: Option<SendFailure>,
    pub latency: Duration,
    pub body_excerpt: String,
    pub retry_after: Option<Duration>,
}

impl SendOutcome {
    /// No request was made (the event made none): no answer, no time spent.
    pub fn not_sent() -> Self {
        Self { status: None, error: None, latency: Duration::ZERO, body_excerpt: String::new(), retry_after: None }
    }
}

/// Object-safe (a boxed future), so the use-cases hold a `&dyn Sender`: one boxed future per
/// request is nothing next to the request itself.
pub trait Sender: Send + Sync {
    /// POSTs `body` with `headers` to `url`.
    fn send<'a>(&'a self, url: &'a str, headers: &'a [(String, String)], body: Vec<u8>) -> BoxFuture<'a, SendOutcome>;
}
