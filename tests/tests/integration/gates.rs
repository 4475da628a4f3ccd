//! What holds deliveries back without an attempt (issue 15): a webhook's rate limit and an
//! endpoint's circuit, across concurrent delivery invocations, against moto's SQS and DynamoDB
//! and real loopback receivers. A held-back delivery goes on as a new, delayed message.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;
use crate::receiver::{Answer, Receiver};

/// Fast, deterministic retries: the schedule is configuration.
const FAST: &[(&str, &str)] = &[("HOOKLINE_RETRY_SCHEDULE", "1s"), ("HOOKLINE_RETRY_JITTER", "0")];

async fn webhook(h: &Harness, tenant: &str, body: Value) -> String {
    let reply = h.post(&format!("/v1/tenants/{tenant}/webhooks"), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_string()
}

async fn send(h: &Harness, tenant: &str, n: usize) -> Vec<Value> {
    let reply =
        h.post(&format!("/v1/tenants/{tenant}/events"), json!({"topic": "order_create", "data": {"n": n}})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body["deliveries"].as_array().expect("deliveries").clone()
}

/// Every delivery of the webhook (at most 100), as the delivery log lists them.
async fn deliveries(h: &Harness, tenant: &str, webhook: &str) -> Vec<Value> {
    let page = h.get(&format!("/v1/tenants/{tenant}/webhooks/{webhook}/deliveries?limit=100")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.body["data"].as_array().expect("data").clone()
}

async fn delivery(h: &Harness, tenant: &str, id: &str) -> Value {
    h.get(&format!("/v1/tenants/{tenant}/deliveries/{id}")).await.body
}

/// The most arrivals within any one second.
fn most_in_one_second(arrivals: &[Instant]) -> usize {
    arrivals
        .iter()
        .map(|&start| arrivals.iter().filter(|&&t| t >= start && t < start + Duration::from_secs(1)).count())
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_burst_to_a_rate_limited_webhook_arrives_at_most_at_its_rate_each_delivered_at_its_first_attempt() {
    // GIVEN a webhook limited to 5 requests a second, and two delivery invocations at once
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let id = webhook(
        &h,
        "rated",
        json!({"name": "rated", "url": receiver.url, "topics": ["order_create"], "max_per_second": 5}),
    )
    .await;
    assert_eq!(h.get(&format!("/v1/tenants/rated/webhooks/{id}")).await.body["max_per_second"], 5);
    // (a PATCH changes it, and `null` removes it)
    let path = format!("/v1/tenants/rated/webhooks/{id}");
    assert_eq!(h.call("PATCH", &path, Some(json!({"max_per_second": 7}))).await.body["max_per_second"], 7);
    assert_eq!(h.call("PATCH", &path, Some(json!({"max_per_second": null}))).await.body["max_per_second"], Value::Null);
    assert_eq!(h.call("PATCH", &path, Some(json!({"max_per_second": 5}))).await.body["max_per_second"], 5);
    h.start_delivery(FAST);
    h.start_delivery(FAST);

    // WHEN a burst of 100 events is sent
    for n in 0..100 {
        send(&h, "rated", n).await;
    }
    // (SQS delivers at least once, and moto's receives, unlike SQS's, are not atomic: two
    // invocations may get one message; receivers dedupe on the delivery id.)
    let distinct = |got: &[crate::receiver::Received]| {
        got.iter().map(|r| r.header("webhook-id").to_string()).collect::<std::collections::BTreeSet<_>>().len()
    };
    let got = h
        .eventually("100 deliveries", Duration::from_secs(90), || async {
            let got = receiver.received();
            (distinct(&got) >= 100).then_some(got)
        })
        .await;

    // THEN all 100 arrive, never more than 5 requests in any one second
    assert_eq!(distinct(&got), 100, "all delivered");
    let arrivals: Vec<Instant> = got.iter().map(|r| r.at).collect();
    let offsets: Vec<u128> = arrivals.iter().map(|t| t.duration_since(arrivals[0]).as_millis()).collect();
    assert!(most_in_one_second(&arrivals) <= 5, "{} in one second: {offsets:?}", most_in_one_second(&arrivals));
    let span = arrivals[arrivals.len() - 1].duration_since(arrivals[0]);
    assert!(span >= Duration::from_secs(19), "100 at 5 a second take 19 s at least: {span:?}");
    // AND each delivered at its first attempt: being held back counted no attempt
    let logged = h
        .eventually("every delivery recorded as delivered", Duration::from_secs(10), || async {
            let all = deliveries(&h, "rated", &id).await;
            all.iter().all(|d| d["status"] == "delivered").then_some(all)
        })
        .await;
    assert_eq!(logged.len(), 100);
    assert!(logged.iter().all(|d| d["attempt_count"] == 1), "{logged:?}");
}

#[tokio::test]
async fn a_dead_endpoint_is_held_back_by_its_circuit_while_healthy_webhooks_deliver_promptly() {
    // GIVEN a healthy webhook and one whose endpoint never answers in time (300 ms timeout),
    // a circuit opening after 2 timeouts in a row for 4 s
    let h = Harness::start_local().await;
    let healthy = Receiver::start(vec![Answer::status(200)]).await;
    let dead = Receiver::start(vec![Answer::status(200).delay(Duration::from_secs(5))]).await;
    let healthy_id = webhook(&h, "fair", json!({"name": "ok", "url": healthy.url, "topics": ["order_create"]})).await;
    let dead_id = webhook(&h, "fair", json!({"name": "dead", "url": dead.url, "topics": ["order_create"]})).await;
    let mut env = FAST.to_vec();
    env.extend([
        ("HOOKLINE_REQUEST_TIMEOUT_MS", "300"),
        ("HOOKLINE_CIRCUIT_FAILURES", "2"),
        ("HOOKLINE_CIRCUIT_COOLDOWN_MS", "4000"),
    ]);
    h.start_delivery(&env);
    let to = |deliveries: &[Value], webhook: &str| -> String {
        let d = deliveries.iter().find(|d| d["webhook_id"] == webhook).expect("delivery");
        d["id"].as_str().expect("id").to_string()
    };

    // WHEN two events time out at the dead endpoint
    let first: Vec<Vec<Value>> = vec![send(&h, "fair", 1).await, send(&h, "fair", 2).await];
    assert_eq!(dead.wait_for(2, Duration::from_secs(10)).await.len(), 2);
    for d in &first {
        h.delivery_with_status("fair", &to(d, &dead_id), "retrying", Duration::from_secs(10)).await;
    }

    // AND three more events come while its circuit is open
    let mut held = Vec::new();
    for n in 3..6 {
        let sent_at = Instant::now();
        let deliveries = send(&h, "fair", n).await;
        // THEN the healthy webhook's deliveries go promptly, at their first attempt
        let ok =
            h.delivery_with_status("fair", &to(&deliveries, &healthy_id), "delivered", Duration::from_secs(3)).await;
        assert_eq!(ok["attempt_count"], 1, "{ok}");
        assert!(sent_at.elapsed() < Duration::from_secs(3), "{:?}", sent_at.elapsed());
        held.push(to(&deliveries, &dead_id));
    }
    // AND the dead endpoint's are held back, not attempted: no request, no attempt counted
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(dead.received().len(), 2, "no request while the circuit is open");
    for id in &held {
        let d = delivery(&h, "fair", id).await;
        assert_eq!((d["status"].as_str(), d["attempt_count"].as_u64()), (Some("pending"), Some(0)), "{d}");
    }
    assert_eq!(healthy.received().len(), 5);

    // WHEN the endpoint recovers
    dead.answer_from_now(vec![Answer::status(200)]);

    // THEN after the cooldown a probe goes, the circuit closes, and every delivery arrives; the
    // held-back ones at their first attempt
    for id in &held {
        let d = h.delivery_with_status("fair", id, "delivered", Duration::from_secs(20)).await;
        assert_eq!(d["attempt_count"], 1, "{d}");
    }
    for d in &first {
        h.delivery_with_status("fair", &to(d, &dead_id), "delivered", Duration::from_secs(20)).await;
    }
}

#[tokio::test]
async fn a_carried_on_delivery_whose_last_attempt_fails_still_reaches_the_dead_letter_queue() {
    // GIVEN a delivery to a failing endpoint carried on after 5 of its 6 attempts (a message
    // such as a held-back delivery makes: receive count 1, `attempts_made` 5)
    let h = Harness::start_local().await;
    let failing = Receiver::start(vec![Answer::status(500)]).await;
    let id = webhook(&h, "late", json!({"name": "late", "url": failing.url, "topics": ["order_create"]})).await;
    let delivery_id = send(&h, "late", 1).await[0]["id"].as_str().expect("id").to_string();
    let queue = h.stack.queue("DeliveryQueue").expect("queue").url.clone();
    let received = h.sqs().receive_message().queue_url(&queue).wait_time_seconds(2).send().await.expect("receive");
    let message = received.messages.unwrap_or_default().pop().expect("the delivery's message");
    let mut task: Value = serde_json::from_str(message.body().expect("body")).expect("JSON");
    task["attempts_made"] = json!(5);
    h.sqs().send_message().queue_url(&queue).message_body(task.to_string()).send().await.expect("send");
    let receipt = message.receipt_handle().expect("receipt");
    h.sqs().delete_message().queue_url(&queue).receipt_handle(receipt).send().await.expect("delete");

    // WHEN the delivery and alert functions run
    h.start_delivery(FAST);
    h.start_alerts(&[]).await;

    // THEN one request is made, as attempt 6, the last
    let d = h.delivery_with_status("late", &delivery_id, "failed", Duration::from_secs(20)).await;
    assert_eq!(d["attempt_count"], 6, "{d}");
    assert_eq!(failing.received().len(), 1);
    // AND the message reaches the dead-letter queue, where the alert function counts it
    let webhook = h
        .eventually("the dead letter counted", Duration::from_secs(30), || async {
            let w = h.get(&format!("/v1/tenants/late/webhooks/{id}")).await.body;
            (w["consecutive_failures"] == 1).then_some(w)
        })
        .await;
    assert_eq!(webhook["consecutive_failures"], 1);
    assert_eq!(failing.received().len(), 1, "no further request");
}
