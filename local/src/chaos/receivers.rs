//! The webhook endpoints of a chaos run: one loopback server, a path per webhook, answering by
//! the webhook's behaviour and a seeded roll per request, and recording every request: the
//! delivery id it carried, whether its signature verified with the webhook's secret, and
//! whether it was answered 2xx.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::aws_proxy::faults::cut;
use crate::listen::serve_on_loopback;

/// How one webhook's endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Per request, of 100: 30 a 5xx, 5 slower than the request timeout, 5 a 429 with
    /// Retry-After, 3 cut mid-answer; the rest 200.
    Flaky,
    /// 503 to everything until this long after the run's start, then 200.
    Outage(Duration),
    /// 200 to its first this-many requests, then 410 Gone: the endpoint was removed.
    GoneAfter(u64),
}

/// What a request was answered with, as the roll of a `Flaky` endpoint picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    Ok,
    ServerError,
    Slow,
    TooMany,
    Cut,
    Gone,
}

impl Answer {
    /// The flaky mix, by a roll in 0..100.
    pub fn flaky(roll: u32) -> Self {
        match roll {
            0..30 => Answer::ServerError,
            30..35 => Answer::Slow,
            35..40 => Answer::TooMany,
            40..43 => Answer::Cut,
            _ => Answer::Ok,
        }
    }
}

/// Everything one delivery id's requests showed.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// The webhook paths it reached (one, unless something is badly wrong).
    pub webhooks: Vec<String>,
    pub requests: u64,
    /// Requests answered 2xx (the receiver got it; more than one is a duplicate).
    pub accepted: u64,
    pub bad_signatures: u64,
}

#[derive(Default)]
struct Book {
    seen: HashMap<String, Seen>,
    /// Per webhook path: requests so far.
    per_webhook: HashMap<String, u64>,
    answers: HashMap<Answer, u64>,
    /// Requests without a delivery id header.
    anonymous: u64,
}

#[derive(Clone)]
pub struct Receivers {
    book: Arc<Mutex<Book>>,
    rng: Arc<Mutex<StdRng>>,
    endpoints: Arc<Mutex<HashMap<String, (Behaviour, String)>>>,
    started: Instant,
    /// How long a slow answer takes: longer than the delivery function's request timeout.
    slow: Duration,
    delivery_id_header: String,
}

impl Receivers {
    pub fn new(seed: u64, slow: Duration, delivery_id_header: String) -> Self {
        Self {
            book: Arc::default(),
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
            endpoints: Arc::default(),
            started: Instant::now(),
            slow,
            delivery_id_header,
        }
    }

    /// Sets (or changes) how the webhook at `/{path}` answers and the secret it verifies with.
    pub fn endpoint(&self, path: &str, behaviour: Behaviour, secret: &str) {
        self.endpoints.lock().unwrap_or_else(|e| e.into_inner()).insert(path.into(), (behaviour, secret.into()));
    }

    pub fn seen(&self) -> HashMap<String, Seen> {
        self.book.lock().unwrap_or_else(|e| e.into_inner()).seen.clone()
    }

    /// Requests per kind of answer, and requests that carried no delivery id.
    pub fn answers(&self) -> (HashMap<Answer, u64>, u64) {
        let book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        (book.answers.clone(), book.anonymous)
    }

    fn decide(&self, path: &str, behaviour: Behaviour) -> Answer {
        let nth = {
            let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
            let n = book.per_webhook.entry(path.to_string()).or_default();
            *n += 1;
            *n
        };
        match behaviour {
            Behaviour::Flaky => Answer::flaky(self.rng.lock().unwrap_or_else(|e| e.into_inner()).random_range(0..100)),
            Behaviour::Outage(until) if self.started.elapsed() < until => Answer::ServerError,
            Behaviour::Outage(_) => Answer::Ok,
            Behaviour::GoneAfter(n) if nth > n => Answer::Gone,
            Behaviour::GoneAfter(_) => Answer::Ok,
        }
    }

    fn record(&self, path: &str, headers: &HeaderMap, body: &[u8], secret: &str, answer: Answer) {
        let verified = standardwebhooks::Webhook::new(secret).and_then(|w| w.verify(body, headers)).is_ok();
        let id = headers.get(&self.delivery_id_header).and_then(|v| v.to_str().ok()).map(str::to_string);
        let mut book = self.book.lock().unwrap_or_else(|e| e.into_inner());
        *book.answers.entry(answer).or_default() += 1;
        let Some(id) = id else {
            book.anonymous += 1;
            return;
        };
        let seen = book.seen.entry(id).or_default();
        if !seen.webhooks.iter().any(|w| w == path) {
            seen.webhooks.push(path.to_string());
        }
        seen.requests += 1;
        seen.accepted += u64::from(matches!(answer, Answer::Ok | Answer::Slow));
        seen.bad_signatures += u64::from(!verified);
    }

    async fn answer(State(this): State<Self>, Path(path): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
        let Some((behaviour, secret)) = this.endpoints.lock().unwrap_or_else(|e| e.into_inner()).get(&path).cloned()
        else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let answer = this.decide(&path, behaviour);
        this.record(&path, &headers, &body, &secret, answer);
        match answer {
            Answer::Ok => StatusCode::OK.into_response(),
            Answer::ServerError => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            Answer::Slow => {
                tokio::time::sleep(this.slow).await;
                StatusCode::OK.into_response()
            }
            Answer::TooMany => (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")]).into_response(),
            Answer::Cut => cut(),
            Answer::Gone => StatusCode::GONE.into_response(),
        }
    }

    /// Serves the endpoints on a loopback port; returns the base URL (`{base}/{path}`).
    pub async fn serve(&self) -> std::io::Result<String> {
        let app = Router::new().route("/{path}", post(Self::answer)).with_state(self.clone());
        let (addr, _) = serve_on_loopback(app).await?;
        Ok(format!("http://{addr}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flaky_mix_has_the_issues_shares() {
        // GIVEN every roll of 0..100
        let answers: Vec<Answer> = (0..100).map(Answer::flaky).collect();
        let count = |a: Answer| answers.iter().filter(|x| **x == a).count();
        // THEN 30 % 5xx, 5 % slow, 5 % 429, 3 % cut, the rest 200
        assert_eq!(
            (count(Answer::ServerError), count(Answer::Slow), count(Answer::TooMany), count(Answer::Cut)),
            (30, 5, 5, 3)
        );
        assert_eq!(count(Answer::Ok), 57);
    }

    #[test]
    fn an_outage_recovers_and_a_gone_endpoint_stays_gone() {
        // GIVEN an endpoint in an outage that already ended and one gone after 2 requests
        let r = Receivers::new(1, Duration::ZERO, "x-id".into());
        // THEN the first answers 200, the second 200, 200, then 410 for good
        assert_eq!(r.decide("a", Behaviour::Outage(Duration::ZERO)), Answer::Ok);
        assert_eq!(r.decide("a", Behaviour::Outage(Duration::from_secs(3600))), Answer::ServerError);
        let gone: Vec<Answer> = (0..4).map(|_| r.decide("g", Behaviour::GoneAfter(2))).collect();
        assert_eq!(gone, [Answer::Ok, Answer::Ok, Answer::Gone, Answer::Gone]);
    }
}
