//! The careful client of a chaos run: events for several tenants, sent over HTTP to the API
//! a few requests at a time, alone or in batches, each request retried whole with the same
//! event ids on a 503 and on a network error (as the API reference tells clients to), after a
//! 429 when its Retry-After says. Every answer
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

/// The client reports its progress each time this many more events are accepted.
const PROGRESS_EVERY: u64 = 500;

/// Where the client sends: the API's base URL and a key per tenant.
pub struct Target {
    pub api: String,
    pub key: String,
    pub tenant_ids: Vec<String>,
}

/// Events go in blocks of this many per tenant: every other block as one batch per tenant
/// (`POST …/events/batch`), the others one `POST …/events` each, so both ways in are sent
/// under the faults.
const BATCH_EVENTS: u64 = 10;

/// What one request carries: one event, or a batch of one tenant's events.
#[derive(Debug, Clone, PartialEq)]
enum Request {
    One(u64),
    Batch(Vec<u64>),
}

/// The requests that send events `0..events`, in order.
fn requests(events: u64, tenants: usize) -> Vec<Request> {
    let tenants = tenants as u64;
    let block = BATCH_EVENTS * tenants;
    let mut out = Vec::new();
    for start in (0..events).step_by(block as usize) {
        let end = (start + block).min(events);
        if (start / block).is_multiple_of(2) {
            out.extend((start..end).map(Request::One));
        } else {
            out.extend((0..tenants).map(|t| Request::Batch((start..end).filter(|i| i % tenants == t).collect())));
        }
    }
    out.retain(|r| r != &Request::Batch(Vec::new()));
    out
}

/// The `(delivery id, webhook id)` pairs of an accepted event's answer.
fn deliveries_of(accepted: &Value) -> Vec<(String, String)> {
    accepted["deliveries"]
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
        .unwrap_or_default()
}

/// Sends one request until it is answered, retrying it whole with the same event ids.
async fn send_request(http: &reqwest::Client, target: &Target, events: Vec<Sent>, batch: bool, out: &Mutex<Sending>) {
    let Some(tenant) = events.first().map(|e| target.tenant_ids[e.tenant].clone()) else { return };
    let body_of = |e: &Sent| json!({"id": e.event_id, "topic": e.topic, "data": {"total": e.total, "note": "chaos"}});
    let (url, body) = if batch {
        let items: Vec<Value> = events.iter().map(body_of).collect();
        (format!("{}/v1/tenants/{tenant}/events/batch", target.api), json!({"events": items}))
    } else {
        (format!("{}/v1/tenants/{tenant}/events", target.api), body_of(&events[0]))
    };
    let ids = || events.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>().join(",");
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
                let results =
                    if batch { parsed["results"].as_array().cloned().unwrap_or_default() } else { vec![parsed] };
                note(&|s| {
                    for (k, sent) in events.iter().enumerate() {
                        match results.get(k) {
                            Some(r) if !batch || r["status"] == 202 => {
                                s.accepted.push(Accepted { sent: sent.clone(), deliveries: deliveries_of(r) })
                            }
                            r => s.given_up.push(format!("{} answered {status} with {r:?}", sent.event_id)),
                        }
                    }
                });
                return;
            }
            503 => note(&|s| s.answered_503 += 1),
            429 => {
                note(&|s| s.answered_429 += 1);
                tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1))).await;
                continue;
            }
            // Not a promise the API makes; still retried, as a client would, to see whether
            // the events survive it.
            500..=599 => note(&|s| s.bad_5xx.push(format!("{} answered {status}: {text}", ids()))),
            _ => {
                note(&|s| s.given_up.push(format!("{} answered {status}: {text}", ids())));
                return;
            }
        }
        tokio::time::sleep(pause).await;
    }
    note(&|s| s.given_up.push(format!("{}: no answer but 5xx or network errors after {MAX_TRIES} tries", ids())));
}

/// Sends `events` events, `concurrency` requests at a time.
pub async fn send_all(target: &Target, events: u64, concurrency: usize) -> Sending {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
    let out = Arc::new(Mutex::new(Sending::default()));
    let started = std::time::Instant::now();
    let tenants = target.tenant_ids.len();
    let reported = std::sync::atomic::AtomicU64::new(0);
    futures::stream::iter(requests(events, tenants))
        .for_each_concurrent(concurrency, |request| {
            let (http, out, reported) = (&http, out.clone(), &reported);
            async move {
                let (indices, batch) = match request {
                    Request::One(i) => (vec![i], false),
                    Request::Batch(all) => (all, true),
                };
                let sent = indices.into_iter().map(|i| event(i, tenants)).collect();
                send_request(http, target, sent, batch, &out).await;
                // How the run's pace holds up as the emulator's tables grow.
                let accepted = out.lock().map(|s| s.accepted.len() as u64).unwrap_or_default();
                let step = accepted / PROGRESS_EVERY;
                if step > reported.fetch_max(step, std::sync::atomic::Ordering::Relaxed) {
                    eprintln!("chaos: {accepted} events accepted after {:.0} s", started.elapsed().as_secs_f64());
                }
            }
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

    #[test]
    fn every_event_goes_once_alternating_blocks_of_single_posts_and_one_tenant_batches() {
        // GIVEN 75 events over 3 tenants: blocks of 30
        let all = requests(75, 3);
        // THEN every event is in exactly one request
        let mut sent: Vec<u64> = all
            .iter()
            .flat_map(|r| match r {
                Request::One(i) => vec![*i],
                Request::Batch(b) => b.clone(),
            })
            .collect();
        sent.sort_unstable();
        assert_eq!(sent, (0..75).collect::<Vec<_>>());
        // AND the first block goes alone, the second as one batch of 10 per tenant, each of one tenant
        assert!(all[..30].iter().all(|r| matches!(r, Request::One(_))));
        let batches: Vec<&Vec<u64>> =
            all.iter().filter_map(|r| if let Request::Batch(b) = r { Some(b) } else { None }).collect();
        assert_eq!(batches.len(), 3);
        assert!(batches.iter().all(|b| b.len() == 10 && b.iter().all(|i| i % 3 == b[0] % 3)));
        // AND the third block (15 events) goes alone
        assert_eq!(all.len(), 30 + 3 + 15);
    }
}
