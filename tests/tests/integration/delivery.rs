//! The delivery function end to end: moto SQS (visibility, redrive) and DynamoDB, a loopback
//! receiver, the real handler driven like Lambda's event source mapping.

use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use hmac::{KeyInit, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::Harness;
use crate::receiver::{Answer, Receiver};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Fast, deterministic retries for tests: the schedule is configuration.
const FAST: &[(&str, &str)] = &[("HOOKLINE_RETRY_SCHEDULE", "1s"), ("HOOKLINE_RETRY_JITTER", "0")];

async fn send_event(h: &Harness, tenant: &str, topic: &str, data: Value) -> Vec<Value> {
    let reply = h.post(&format!("/v1/tenants/{tenant}/events"), json!({"topic": topic, "data": data})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body["deliveries"].as_array().expect("deliveries").clone()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().expect("id")
}

#[tokio::test]
async fn a_delivery_is_signed_with_both_signatures_and_every_header() {
    // GIVEN a webhook with a known secret and a receiver that answers 200
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    h.create_webhook_to("shop", &receiver.url, &["coupon_create"], Some(SECRET)).await;
    h.start_delivery(FAST);

    // WHEN an event is sent
    let reply = h
        .post(
            "/v1/tenants/shop/events",
            json!({"topic": "coupon_create", "context": {"business_name": "Shop", "user_email": "a@example.com"},
                   "data": {"value": "TWOOFF", "fiat_value": 2}}),
        )
        .await;
    let delivery_id = reply.body["deliveries"][0]["id"].as_str().expect("delivery").to_string();
    let got = receiver.wait_for(1, Duration::from_secs(20)).await;

    // THEN one request arrived with the flat body and every header
    assert_eq!(got.len(), 1);
    let r = &got[0];
    let body: Value = serde_json::from_slice(&r.body).expect("JSON body");
    assert_eq!(
        body,
        json!({"business_name": "Shop", "user_email": "a@example.com", "value": "TWOOFF", "fiat_value": 2})
    );
    assert_eq!(r.header("accept"), "application/json");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("x-source"), "hookline");
    assert_eq!(r.header("x-hookline-topic"), "coupon_create");
    assert_eq!(r.header("x-hookline-delivery-id"), delivery_id);
    assert_eq!(r.header("webhook-id"), delivery_id);
    assert_eq!(r.header("x-hookline-webhook-hmac-algo"), "sha256");
    assert_eq!(r.header("x-hookline-webhook-secret-algo"), "sha256");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ts: i64 = r.header("x-hookline-timestamp").parse().expect("unix seconds");
    assert!((now - ts).abs() < 60, "timestamp {ts} is now");
    assert_eq!(r.header("webhook-timestamp"), r.header("x-hookline-timestamp"));

    // AND the hex HMAC of the body and the SHA-256 of the secret are right (computed here)
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(&r.body);
    assert_eq!(r.header("x-hookline-webhook-hmac"), hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.header("x-hookline-webhook-secret"), hex::encode(Sha256::digest(SECRET.as_bytes())));

    // AND the Standard Webhooks signature verifies with the reference library
    let verifier = standardwebhooks::Webhook::new(SECRET).expect("secret");
    verifier.verify(&r.body, &r.headers).expect("Standard Webhooks signature verifies");
    let mut tampered = r.body.to_vec();
    tampered.push(b' ');
    assert!(verifier.verify(&tampered, &r.headers).is_err(), "a changed body fails");

    // AND the delivery is recorded as delivered, with its attempt
    let d = h.delivery_with_status("shop", &delivery_id, "delivered", Duration::from_secs(10)).await;
    assert_eq!(d["attempt_count"], 1);
    assert_eq!(d["attempts"][0]["status_code"], 200);
    assert_eq!(d["attempts"][0]["response_excerpt"], "answer 200");
}

#[tokio::test]
async fn two_failures_then_success_make_three_attempts_with_growing_gaps() {
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(500), Answer::status(502), Answer::status(200)]).await;
    h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    h.start_delivery(&[("HOOKLINE_RETRY_SCHEDULE", "1s,3s"), ("HOOKLINE_RETRY_JITTER", "0")]);

    let deliveries = send_event(&h, "shop", "order_create", json!({"order": 1})).await;
    let d = h.delivery_with_status("shop", id(&deliveries[0]), "delivered", Duration::from_secs(30)).await;

    let got = receiver.received();
    assert_eq!(got.len(), 3, "exactly three attempts");
    let ids: Vec<&str> = got.iter().map(|r| r.header("x-hookline-delivery-id")).collect();
    assert!(ids.iter().all(|i| *i == id(&deliveries[0])), "the same delivery id on every retry");
    let gap1 = got[1].at - got[0].at;
    let gap2 = got[2].at - got[1].at;
    assert!(gap1 >= Duration::from_millis(900), "first retry waits the first delay: {gap1:?}");
    assert!(gap2 >= Duration::from_millis(2900), "second retry waits the second delay: {gap2:?}");
    assert!(gap2 > gap1, "gaps grow: {gap1:?} then {gap2:?}");
    let codes: Vec<&Value> = d["attempts"].as_array().expect("attempts").iter().map(|a| &a["status_code"]).collect();
    assert_eq!(codes, [&json!(500), &json!(502), &json!(200)]);
    assert_eq!(d["attempt_count"], 3);
}

#[tokio::test]
async fn a_receiver_that_always_fails_gets_six_attempts_then_the_message_is_dead_lettered() {
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(503)]).await;
    h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    h.start_delivery(FAST);

    let deliveries = send_event(&h, "shop", "order_create", json!({"order": 2})).await;
    let d = h.delivery_with_status("shop", id(&deliveries[0]), "failed", Duration::from_secs(60)).await;
    assert_eq!(d["attempt_count"], 6);
    assert_eq!(d["last_error"], "HTTP 503");

    // The message is in the DLQ (SQS's redrive, on the receive after the last attempt).
    let dead = h
        .eventually("the message in the DLQ", Duration::from_secs(20), || async {
            let m = h.drain_queue("DeliveryDeadLetterQueue").await;
            (!m.is_empty()).then_some(m)
        })
        .await;
    assert_eq!(dead.len(), 1, "one message, moved once");
    assert!(h.drain_queue("DeliveryDeadLetterQueue").await.is_empty());
    assert_eq!(dead[0]["delivery_id"], deliveries[0]["id"]);
    assert_eq!(receiver.received().len(), 6, "1 try + 5 retries, no more");
}

#[tokio::test]
async fn gone_disables_the_webhook() {
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(410)]).await;
    let wh = h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    h.start_delivery(FAST);

    let deliveries = send_event(&h, "shop", "order_create", json!({})).await;
    let d = h.delivery_with_status("shop", id(&deliveries[0]), "failed", Duration::from_secs(20)).await;
    assert_eq!(d["attempt_count"], 1, "410 is not retried");

    let webhook = h.get(&format!("/v1/tenants/shop/webhooks/{}", id(&wh))).await.body;
    assert_eq!(webhook["enabled"], false);
    assert!(webhook["disabled_reason"].as_str().expect("reason").contains("410"));
    // Later events no longer go to it.
    assert!(send_event(&h, "shop", "order_create", json!({})).await.is_empty());
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(429).header("retry-after", "3"), Answer::status(200)]).await;
    h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    h.start_delivery(FAST);

    let deliveries = send_event(&h, "shop", "order_create", json!({})).await;
    h.delivery_with_status("shop", id(&deliveries[0]), "delivered", Duration::from_secs(20)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(2900), "waited Retry-After (3 s), not the 1 s schedule: {gap:?}");
}

#[tokio::test]
async fn a_slow_receiver_is_cut_at_the_ten_second_timeout() {
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200).delay(Duration::from_secs(15))]).await;
    h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    // The default timeout (10 s); one attempt, so the test ends with it.
    h.start_delivery(&[("HOOKLINE_MAX_ATTEMPTS", "1")]);

    let deliveries = send_event(&h, "shop", "order_create", json!({})).await;
    let d = h.delivery_with_status("shop", id(&deliveries[0]), "failed", Duration::from_secs(30)).await;
    let attempt = &d["attempts"][0];
    assert_eq!(attempt["error"], "timeout");
    assert!(attempt["status_code"].is_null());
    let latency = attempt["latency_ms"].as_u64().expect("latency");
    assert!((9_500..12_000).contains(&latency), "cut at ~10 s, not 15 s: {latency} ms");
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    // GIVEN a webhook to a loopback receiver (the API allows it here) but a delivery
    // function with the production setting
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    h.start_delivery(&[("HOOKLINE_ALLOW_PRIVATE_TARGETS", "false"), ("HOOKLINE_MAX_ATTEMPTS", "1")]);

    let deliveries = send_event(&h, "shop", "order_create", json!({})).await;
    let d = h.delivery_with_status("shop", id(&deliveries[0]), "failed", Duration::from_secs(20)).await;
    assert_eq!(d["attempts"][0]["error"], "forbidden address");
    assert!(receiver.received().is_empty(), "no connection was made");
}

#[tokio::test]
async fn a_malformed_message_fails_alone() {
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;

    // GIVEN garbage and a real delivery in the queue, before the function runs
    let deliveries = send_event(&h, "shop", "order_create", json!({"n": 1})).await;
    let queue_url = h.stack.queue("DeliveryQueue").expect("queue").url.clone();
    h.sqs()
        .send_message_batch()
        .queue_url(&queue_url)
        .entries(SendMessageBatchRequestEntry::builder().id("a").message_body("not json").build().expect("entry"))
        .entries(SendMessageBatchRequestEntry::builder().id("b").message_body(r#"{"v":1}"#).build().expect("entry"))
        .send()
        .await
        .expect("send garbage");
    h.start_delivery(FAST);

    // THEN the real one is delivered and the garbage ends in the DLQ
    h.delivery_with_status("shop", id(&deliveries[0]), "delivered", Duration::from_secs(20)).await;
    // (Drained messages stay hidden, so collect them across polls.)
    let dead = std::sync::Mutex::new(Vec::new());
    h.eventually("garbage in the DLQ", Duration::from_secs(30), || async {
        let mut all = dead.lock().expect("lock").clone();
        all.extend(h.drain_queue_raw("DeliveryDeadLetterQueue").await);
        *dead.lock().expect("lock") = all.clone();
        (all.len() >= 2).then_some(())
    })
    .await;
    let mut bodies = dead.into_inner().expect("lock");
    bodies.sort();
    assert_eq!(bodies, ["not json", r#"{"v":1}"#]);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn deliveries_of_a_disabled_or_deleted_webhook_stop_unsent() {
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let a = h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    let b = h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    // GIVEN pending deliveries (the function is not running yet)
    let deliveries = send_event(&h, "shop", "order_create", json!({})).await;
    assert_eq!(deliveries.len(), 2);
    // WHEN one webhook is disabled and the other deleted
    let patched =
        h.call("PATCH", &format!("/v1/tenants/shop/webhooks/{}", id(&a)), Some(json!({"enabled": false}))).await;
    assert_eq!(patched.status, StatusCode::OK);
    let deleted = h.call("DELETE", &format!("/v1/tenants/shop/webhooks/{}", id(&b)), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    h.start_delivery(FAST);

    // THEN both deliveries stop, marked with why, and nothing is sent
    for d in &deliveries {
        let got = h.delivery_with_status("shop", id(d), "failed", Duration::from_secs(20)).await;
        let expected = if d["webhook_id"] == a["id"] { "webhook disabled" } else { "webhook deleted" };
        assert_eq!(got["last_error"], expected);
        assert_eq!(got["attempt_count"], 0);
    }
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_queue_allowing_more_receives_than_attempts_sends_no_more() {
    // GIVEN a function configured for 2 attempts on a queue that redrives after 6 receives
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(500)]).await;
    h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    h.start_delivery(&[
        ("HOOKLINE_MAX_ATTEMPTS", "2"),
        ("HOOKLINE_RETRY_SCHEDULE", "1s"),
        ("HOOKLINE_RETRY_JITTER", "0"),
    ]);

    let deliveries = send_event(&h, "shop", "order_create", json!({})).await;
    // THEN the message still reaches the DLQ, after exactly 2 sends
    h.eventually("the message in the DLQ", Duration::from_secs(30), || async {
        (!h.drain_queue("DeliveryDeadLetterQueue").await.is_empty()).then_some(())
    })
    .await;
    assert_eq!(receiver.received().len(), 2);
    let d = h.get(&format!("/v1/tenants/shop/deliveries/{}", id(&deliveries[0]))).await.body;
    assert_eq!(d["status"], "failed");
    assert_eq!(d["attempt_count"], 2);
    assert_eq!(d["last_error"], "HTTP 500", "the last attempt's error stays");
}
