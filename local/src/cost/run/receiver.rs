//! The webhook receivers of a cost run: one loopback server that answers each delivery by its
//! fate, given by the order in which deliveries first arrive, so the shares are exact: of each
//! 100 deliveries, the first is dead (never a 2xx) and the next `retry_per_100` fail once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use crate::listen::serve_on_loopback;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    FirstTry,
    OneRetry,
    Dead,
}

/// How deliveries fare, per 100 in order of arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fates {
    pub dead_per_100: u64,
    pub retry_per_100: u64,
}

impl Fates {
    pub fn of(&self, nth: u64) -> Fate {
        let k = nth % 100;
        if k < self.dead_per_100 {
            Fate::Dead
        } else if k < self.dead_per_100 + self.retry_per_100 {
            Fate::OneRetry
        } else {
            Fate::FirstTry
        }
    }
}

#[derive(Debug, Default)]
struct Seen {
    fate: Option<Fate>,
    attempts: u64,
}

/// What the receivers saw.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    /// Distinct deliveries that arrived.
    pub deliveries: u64,
    pub requests: u64,
    pub delivered_first_try: u64,
    pub delivered_after_retry: u64,
    /// Deliveries fated dead (answered 500 every time).
    pub dead: u64,
}

#[derive(Clone, Default)]
pub struct Receivers {
    seen: Arc<Mutex<HashMap<String, Seen>>>,
    tally: Arc<Mutex<Tally>>,
}

impl Receivers {
    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn answer(&self, fates: Fates, delivery_id: &str) -> StatusCode {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        let nth = seen.len() as u64;
        let entry = seen.entry(delivery_id.to_string()).or_default();
        tally.requests += 1;
        if entry.fate.is_none() {
            entry.fate = Some(fates.of(nth));
            tally.deliveries += 1;
            if entry.fate == Some(Fate::Dead) {
                tally.dead += 1;
            }
        }
        entry.attempts += 1;
        match (entry.fate, entry.attempts) {
            (Some(Fate::FirstTry), 1) => {
                tally.delivered_first_try += 1;
                StatusCode::OK
            }
            (Some(Fate::OneRetry), 2) => {
                tally.delivered_after_retry += 1;
                StatusCode::OK
            }
            // A redelivery after the 2xx (at least once): answered 2xx again.
            (Some(Fate::FirstTry), _) | (Some(Fate::OneRetry), 3..) => StatusCode::OK,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Serves the receivers on a loopback port; returns their base URL.
    pub async fn serve(&self, fates: Fates, delivery_id_header: String) -> std::io::Result<String> {
        let this = self.clone();
        let app = Router::new().fallback(post(move |headers: HeaderMap| {
            let this = this.clone();
            let header = delivery_id_header.clone();
            async move {
                let id = headers.get(&header).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                this.answer(fates, &id)
            }
        }));
        let (addr, _) = serve_on_loopback(app).await?;
        Ok(format!("http://{addr}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fates_follow_the_shares_per_hundred() {
        // GIVEN 1 dead and 4 retried per 100
        let fates = Fates { dead_per_100: 1, retry_per_100: 4 };
        let all: Vec<Fate> = (0..200).map(|n| fates.of(n)).collect();
        // THEN 2, 8 and 190 of 200
        assert_eq!(all.iter().filter(|f| **f == Fate::Dead).count(), 2);
        assert_eq!(all.iter().filter(|f| **f == Fate::OneRetry).count(), 8);
        assert_eq!(all.iter().filter(|f| **f == Fate::FirstTry).count(), 190);
    }

    #[test]
    fn a_retried_delivery_fails_once_then_succeeds_and_a_dead_one_never() {
        let r = Receivers::default();
        let fates = Fates { dead_per_100: 1, retry_per_100: 1 };
        assert_eq!(r.answer(fates, "dead"), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.answer(fates, "retry"), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.answer(fates, "retry"), StatusCode::OK);
        assert_eq!(r.answer(fates, "ok"), StatusCode::OK);
        assert_eq!(r.answer(fates, "dead"), StatusCode::INTERNAL_SERVER_ERROR);
        let t = r.tally();
        assert_eq!((t.deliveries, t.requests, t.delivered_first_try, t.delivered_after_retry, t.dead), (3, 5, 1, 1, 1));
    }
}
