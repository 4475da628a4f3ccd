//! `Sender` over HTTP: the client that delivers webhooks, safe against SSRF.
//!
//! One `reqwest::Client` per process (connections are reused across warm invocations), with:
//! a total timeout per attempt (the seed pages' 10 s), no redirects (a 3xx is an answer, not
//! an instruction), no proxies, a response body read only up to a small cap, and a DNS
//! resolver that drops every forbidden address (`net_policy::is_forbidden_ip`) at connect
//! time, so a hostname that resolves (or later rebinds) to a private address is refused.
//! IP-literal hosts never reach a resolver, so they are checked before the request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::domain::net_policy::is_forbidden_ip;
use crate::ports::sender::{SendFailure, SendOutcome, Sender};

#[derive(Debug, Clone)]
pub struct SenderConfig {
    pub timeout: Duration,
    pub allow_private_targets: bool,
    /// How much of a response body is kept (for the delivery log).
    pub max_response_bytes: usize,
    pub user_agent: String,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            allow_private_targets: false,
            max_response_bytes: 2048,
            user_agent: format!("Hookline/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct SenderBuildError(String);

/// Marks a resolution that found only forbidden addresses.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to forbidden addresses")]
struct ForbiddenAddress(String);

/// Resolves with the system resolver and keeps only allowed addresses.
struct PolicyResolver {
    allow_private: bool,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.into_iter().filter(|a| allow_private || !is_forbidden_ip(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(ForbiddenAddress(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

pub struct HttpSender {
    client: reqwest::Client,
    config: SenderConfig,
}

fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or_default())
}

fn classify_error(e: &reqwest::Error) -> SendFailure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<ForbiddenAddress>() {
            return SendFailure::ForbiddenAddress;
        }
        source = err.source();
    }
    if e.is_timeout() {
        SendFailure::Timeout
    } else if e.is_connect() {
        SendFailure::Connect
    } else if e.is_builder() {
        SendFailure::InvalidUrl
    } else {
        SendFailure::Other
    }
}

impl HttpSender {
    pub fn new(config: SenderConfig) -> Result<Self, SenderBuildError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(config.user_agent.clone())
            .dns_resolver(Arc::new(PolicyResolver { allow_private: config.allow_private_targets }))
            .build()
            .map_err(|e| SenderBuildError(e.to_string()))?;
        Ok(Self { client, config })
    }

    /// Checks what can be checked before connecting: scheme, and IP-literal hosts.
    fn precheck(&self, url: &str) -> Result<Url, SendFailure> {
        let url = Url::parse(url).map_err(|_| SendFailure::InvalidUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SendFailure::InvalidUrl);
        }
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(Host::Domain(_)) => None,
            None => return Err(SendFailure::InvalidUrl),
        };
        if literal.is_some_and(|ip| !self.config.allow_private_targets && is_forbidden_ip(ip)) {
            return Err(SendFailure::ForbiddenAddress);
        }
        Ok(url)
    }

    async fn post(&self, url: &str, headers: &[(String, String)], body: Vec<u8>) -> SendOutcome {
        let started = Instant::now();
        let failed = |error, started: Instant| SendOutcome {
            status: None,
            error: Some(error),
            latency: started.elapsed(),
            body_excerpt: String::new(),
            retry_after: None,
        };
        let url = match self.precheck(url) {
            Ok(url) => url,
            Err(e) => return failed(e, started),
        };
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failed(classify_error(&e), started),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // Read only the start of the body; a huge or endless answer must not cost memory.
        let mut excerpt = Vec::new();
        while excerpt.len() < self.config.max_response_bytes {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        excerpt.truncate(self.config.max_response_bytes);
        SendOutcome {
            status: Some(status),
            error: None,
            latency: started.elapsed(),
            body_excerpt: String::from_utf8_lossy(&excerpt).into_owned(),
            retry_after,
        }
    }
}

impl Sender for HttpSender {
    fn send<'a>(&'a self, url: &'a str, headers: &'a [(String, String)], body: Vec<u8>) -> BoxFuture<'a, SendOutcome> {
        Box::pin(self.post(url, headers, body))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A raw loopback server answering every connection with `response` after `delay`;
    /// returns its address and a log of the requests it read.
    async fn server(response: Vec<u8>, delay: Duration) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let response = response.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    seen.lock().expect("lock").push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    tokio::time::sleep(delay).await;
                    let _ = socket.write_all(&response).await;
                });
            }
        });
        (addr, log)
    }

    fn http(status: &str, extra: &str, body: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{body}", body.len())
            .into_bytes()
    }

    fn sender(allow_private: bool, timeout: Duration) -> HttpSender {
        HttpSender::new(SenderConfig { allow_private_targets: allow_private, timeout, ..SenderConfig::default() })
            .expect("client")
    }

    #[tokio::test]
    async fn posts_body_and_headers_and_reports_the_answer() {
        let (addr, log) = server(http("200 OK", "", "thanks"), Duration::ZERO).await;
        let out = sender(true, Duration::from_secs(5))
            .send(&format!("http://{addr}/hook"), &[("x-test".into(), "yes".into())], b"{\"a\":1}".to_vec())
            .await;
        assert_eq!(out.status, Some(200));
        assert_eq!(out.error, None);
        assert_eq!(out.body_excerpt, "thanks");
        let request = log.lock().expect("lock")[0].clone();
        assert!(request.starts_with("POST /hook HTTP/1.1"), "{request}");
        assert!(request.contains("x-test: yes"));
        assert!(request.ends_with("{\"a\":1}"));
    }

    #[tokio::test]
    async fn large_answers_are_cut() {
        let (addr, _) = server(http("500 Internal Server Error", "", &"x".repeat(1_000_000)), Duration::ZERO).await;
        let out = sender(true, Duration::from_secs(5)).send(&format!("http://{addr}/"), &[], Vec::new()).await;
        assert_eq!(out.status, Some(500));
        assert_eq!(out.body_excerpt.len(), 2048);
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let (target, target_log) = server(http("200 OK", "", "target"), Duration::ZERO).await;
        let (addr, _) = server(http("302 Found", &format!("location: http://{target}/\r\n"), ""), Duration::ZERO).await;
        let out = sender(true, Duration::from_secs(5)).send(&format!("http://{addr}/"), &[], Vec::new()).await;
        assert_eq!(out.status, Some(302));
        assert!(target_log.lock().expect("lock").is_empty());
    }

    #[tokio::test]
    async fn slow_receivers_time_out() {
        let (addr, _) = server(http("200 OK", "", ""), Duration::from_secs(5)).await;
        let out = sender(true, Duration::from_millis(300)).send(&format!("http://{addr}/"), &[], Vec::new()).await;
        assert_eq!(out.error, Some(SendFailure::Timeout));
        assert!(out.latency < Duration::from_secs(2), "{:?}", out.latency);
    }

    #[tokio::test]
    async fn private_targets_are_refused_by_default() {
        let (addr, log) = server(http("200 OK", "", ""), Duration::ZERO).await;
        let strict = sender(false, Duration::from_secs(5));
        for url in [
            format!("http://{addr}/"),
            format!("http://localhost:{}/", addr.port()),
            format!("http://[::1]:{}/", addr.port()),
            "http://169.254.169.254/latest/meta-data".to_string(),
            "http://[::ffff:127.0.0.1]/".to_string(),
            // The special-purpose ranges, judged by the same table as at save time.
            format!("http://[2002:7f00:1::1]:{}/", addr.port()),
            "http://[2001::1]/".to_string(),
            "http://[100::1]/".to_string(),
            "http://[3fff::1]/".to_string(),
            "http://[5f00::1]/".to_string(),
            "http://192.88.99.1/".to_string(),
        ] {
            let out = strict.send(&url, &[], Vec::new()).await;
            assert_eq!(out.error, Some(SendFailure::ForbiddenAddress), "{url}");
            assert_eq!(out.status, None);
        }
        assert!(log.lock().expect("lock").is_empty(), "no connection reached the server");
        assert_eq!(strict.send("ftp://example.com/", &[], Vec::new()).await.error, Some(SendFailure::InvalidUrl));
    }

    #[tokio::test]
    async fn refused_connections_are_connect_failures() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let out = sender(true, Duration::from_secs(5)).send(&format!("http://{addr}/"), &[], Vec::new()).await;
        assert_eq!(out.error, Some(SendFailure::Connect));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        let in_a_minute = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(60));
        let d = parse_retry_after(&in_a_minute).expect("date");
        assert!((55..=60).contains(&d.as_secs()), "{d:?}");
        assert_eq!(parse_retry_after("soon"), None);
    }
}
