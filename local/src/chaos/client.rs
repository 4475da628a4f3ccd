//! The careful client of a chaos run: events for several tenants, sent over HTTP to the API
//! a few at a time, each retried with the same event id on a 503 and on a network error (as
//! the API reference tells clients to), after a 429 when its Retry-After says. Every answer
//! that is a 5xx other than 503 is noted: the API must never answer one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

/// The topics of the run (the shipped catalog's).
pub const TOPIC_ORDER: &str = "order_update";
pub const TOPIC_COUPON: &str = "coupon_create";
/// Subscribed to, never sent: nothing may reach its webhooks.
pub const TOPIC_UNSENT: &str = "lead_create";
/// The filtered webhooks take orders of at least this total.
pub const BIG_ORDER: u64 = 50;
/// Tries per event before the client gives up on it (then it is not accepted, and said so).
const MAX_TRIES: u32 = 40;

/// One event as the client built it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub tenant: usize,
    pub event_id: String,
    pub topic: &'static str,
    pub total: u64,
}

/// The `i`-th event of a run over `tenants` tenants: one in four a coupon (to one webhook),
/// the rest orders (two webhooks, three when the total passes the filter).
pub fn event(i: u64, tenants: usize) -> Sent {
    Sent {
        tenant: (i % tenants as u64) as usize,
        event_id: format!("chaos-{i:07}"),
        topic: if i.is_multiple_of(4) { TOPIC_COUPON } else { TOPIC_ORDER },
        total: (i * 37) % 100,
    }
}

/// An accepted event and the deliveries the API said it made (`(delivery id, webhook id)`).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub sent: Sent,
    pub deliveries: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Sending {
    pub accepted: Vec<Accepted>,
    /// Events never accepted, with why.
    pub given_up: Vec<String>,
    /// Answers that were a 5xx but 503 (each a broken promise), with their bodies.
    pub bad_5xx: Vec<String>,
    pub answered_503: u64,
    pub network_errors: u64,
    pub answered_429: u64,
}

/// Where the client sends: the API's base URL and a key per tenant.
pub struct Target {
    pub api: String,
    pub key: String,
    pub tenant_ids: Vec<String>,
}

async fn send_one(http: &reqwest::Client, target: &Target, sent: Sent, out: &Mutex<Sending>) {
    let url = format!("{}/v1/tenants/{}/events", target.api, target.tenant_ids[sent.tenant]);
    let body = json!({"id": sent.event_id, "topic": sent.topic, "data": {"total": sent.total, "note": "chaos"}});
    let note = |f: &dyn Fn(&mut Sending)| f(&mut out.lock().unwrap_or_else(|e| e.into_inner()));
    for attempt in 1..=MAX_TRIES {
        let pause = Duration::from_millis(20 * u64::from(attempt.min(10)));
        let answer = http.post(&url).bearer_auth(&target.key).json(&body).send().await;
        let answer = match answer {
            Ok(a) => a,
            Err(_) => {
                note(&|s| s.network_errors += 1);
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        let status = answer.status().as_u16();
        let retry_after = answer.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let text = answer.text().await.unwrap_or_default();
        match status {
            200..=299 => {
                let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let deliveries = parsed["deliveries"]
                    .as_array()
                    .map(|d| {
                        d.iter()
                            .map(|d| {
                                (
                                    d["id"].as_str().unwrap_or_default().to_string(),
                                    d["webhook_id"].as_str().unwrap_or_default().to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                note(&|s| s.accepted.push(Accepted { sent: sent.clone(), deliveries: Clone::clone(&deliveries) }));
                return;
            }
            503 => note(&|s| s.answered_503 += 1),
            429 => {
                note(&|s| s.answered_429 += 1);
                tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1))).await;
                continue;
            }
            // Not a promise the API makes; still retried, as a client would, to see whether
            // the event survives it.
            500..=599 => note(&|s| s.bad_5xx.push(format!("{} answered {status}: {text}", sent.event_id))),
            _ => {
                note(&|s| s.given_up.push(format!("{} answered {status}: {text}", sent.event_id)));
                return;
            }
        }
        tokio::time::sleep(pause).await;
    }
    note(&|s| {
        s.given_up.push(format!("{}: no answer but 5xx or network errors after {MAX_TRIES} tries", sent.event_id))
    });
}

/// Sends `events` events, `concurrency` at a time.
pub async fn send_all(target: &Target, events: u64, concurrency: usize) -> Sending {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
    let out = Arc::new(Mutex::new(Sending::default()));
    futures::stream::iter(0..events)
        .for_each_concurrent(concurrency, |i| {
            let (http, out) = (&http, out.clone());
            async move { send_one(http, target, event(i, target.tenant_ids.len()), &out).await }
        })
        .await;
    std::mem::take(&mut *out.lock().unwrap_or_else(|e| e.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_spread_over_tenants_topics_and_both_sides_of_the_filter() {
        // GIVEN 400 events over 3 tenants
        let events: Vec<Sent> = (0..400).map(|i| event(i, 3)).collect();
        // THEN every tenant gets some, a quarter are coupons, and orders fall on both sides of the filter
        assert!((0..3).all(|t| events.iter().filter(|e| e.tenant == t).count() > 100));
        assert_eq!(events.iter().filter(|e| e.topic == TOPIC_COUPON).count(), 100);
        let orders = events.iter().filter(|e| e.topic == TOPIC_ORDER);
        let big = orders.clone().filter(|e| e.total >= BIG_ORDER).count();
        assert!(big > 100 && orders.count() - big > 100, "{big}");
        assert_eq!(events.iter().map(|e| &e.event_id).collect::<std::collections::HashSet<_>>().len(), 400);
    }
}
