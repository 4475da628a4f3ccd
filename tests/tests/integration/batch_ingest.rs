//! Batch ingest (`POST …/events/batch`): a result per event, idempotent per event, one marker
//! for the call, payloads stored deflated, and an interrupted batch finished by its retry.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;
use crate::ingest::start_with_flaky_queue;

const BATCH: &str = "/v1/tenants/shop/events/batch";

fn delivery_ids(results: &[Value]) -> BTreeSet<String> {
    results
        .iter()
        .flat_map(|r| r["deliveries"].as_array().cloned().unwrap_or_default())
        .map(|d| d["id"].as_str().expect("id").to_string())
        .collect()
}

fn queued_ids(messages: &[Value]) -> BTreeSet<String> {
    messages.iter().map(|m| m["delivery_id"].as_str().expect("delivery id").to_string()).collect()
}

#[tokio::test]
async fn a_batch_answers_each_event_in_order_and_queues_each_delivery_once() {
    // GIVEN a tenant with a coupon webhook and an order webhook
    let h = Harness::start().await;
    let coupons = h.create_webhook("shop", "coupons", &["coupon_create"]).await;
    let orders = h.create_webhook("shop", "orders", &["order_create"]).await;

    // WHEN a batch comes with two good events, two bad ones and a repeat of the first id
    let batch = json!({"events": [
        {"id": "c-1", "topic": "coupon_create", "data": {"code": "TWOOFF"}},
        {"topic": "order_create", "data": {"total": 4599}},
        {"id": "bad-topic", "topic": "not a topic", "data": {}},
        {"id": "no-data", "topic": "order_create"},
        {"id": "c-1", "topic": "coupon_create", "data": {"code": "OTHER"}}
    ]});
    let reply = h.post(BATCH, batch.clone()).await;

    // THEN each event has its result, in order: accepted with its deliveries, or refused alone
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let results = reply.body["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), 5);
    let statuses: Vec<u64> = results.iter().map(|r| r["status"].as_u64().expect("status")).collect();
    assert_eq!(statuses, [202, 202, 400, 400, 202]);
    assert_eq!(results[0]["event_id"], "c-1");
    assert_eq!(results[0]["deliveries"][0]["webhook_id"], coupons["id"]);
    assert_eq!(results[1]["deliveries"][0]["webhook_id"], orders["id"]);
    assert!(results[1]["event_id"].as_str().expect("generated id").starts_with("evt_"));
    assert_eq!(
        (results[2]["event_id"].as_str(), results[2]["error"]["code"].as_str()),
        (Some("bad-topic"), Some("invalid_topic"))
    );
    assert_eq!(results[3]["error"]["code"], "invalid_request");
    assert_eq!(results[4], results[0], "the repeated id answers as the first");

    // AND each delivery is queued once, the first c-1's data
    let messages = h.drain_queue("DeliveryQueue").await;
    assert_eq!(messages.len(), 2);
    assert_eq!(queued_ids(&messages), delivery_ids(&results));
    let coupon = messages.iter().find(|m| m["event_id"] == "c-1").expect("c-1 queued");
    assert_eq!(coupon["payload"]["data"], json!({"code": "TWOOFF"}));

    // AND the events are stored with their payload deflated, and one marker for the call
    let events = h.items_of_kind("event").await;
    assert_eq!(events.len(), 2);
    for event in &events {
        assert!(matches!(event.get("payload"), Some(AttributeValue::B(_))), "deflated: {event:?}");
        assert!(event.contains_key("ingest_id"));
    }
    assert_eq!(h.items_of_kind("ingest").await.len(), 1);

    // AND the delivery reads back pending with its event
    let id = results[0]["deliveries"][0]["id"].as_str().expect("id");
    let got = h.get(&format!("/v1/tenants/shop/deliveries/{id}")).await;
    assert_eq!((got.body["status"].as_str(), got.body["event_id"].as_str()), (Some("pending"), Some("c-1")));

    // WHEN the same batch is sent again
    let again = h.post(BATCH, batch).await;
    // THEN the accepted ids answer as before (the generated one is a new event), and only the
    // new event is queued
    let again_results = again.body["results"].as_array().expect("results").clone();
    assert_eq!(again_results[0], results[0]);
    assert_ne!(again_results[1]["event_id"], results[1]["event_id"]);
    let messages = h.drain_queue("DeliveryQueue").await;
    assert_eq!(
        queued_ids(&messages),
        BTreeSet::from([again_results[1]["deliveries"][0]["id"].as_str().expect("id").to_string()])
    );
}

#[tokio::test]
async fn bad_batches_are_refused_whole_and_change_nothing() {
    // GIVEN a tenant with a webhook
    let h = Harness::start().await;
    h.create_webhook("shop", "a", &["order_create"]).await;
    let items_before = h.item_count().await;
    let event = json!({"topic": "order_create", "data": {}});
    let too_many: Vec<Value> = (0..101).map(|_| event.clone()).collect();

    // WHEN batches that are not a batch of 1 to 100 events come
    for (body, status, code) in [
        (json!({"events": []}), StatusCode::BAD_REQUEST, "invalid_batch"),
        (json!({"events": too_many}), StatusCode::BAD_REQUEST, "invalid_batch"),
        (json!({"events": [event.clone()], "extra": 1}), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"events": event.clone()}), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!([event.clone()]), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"events": [[null]]}), StatusCode::BAD_REQUEST, "invalid_request"),
    ] {
        let reply = h.post(BATCH, body.clone()).await;
        // THEN each is a 400 with its code
        assert_eq!((reply.status, reply.code()), (status, code), "{body}: {}", reply.body);
    }
    // AND a batch for a tenant that does not exist is a 404
    let unknown = h.post("/v1/tenants/nobody/events/batch", json!({"events": [event]})).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "tenant_not_found"));
    // AND nothing was stored or queued
    assert_eq!(h.item_count().await, items_before);
    assert!(h.drain_queue("DeliveryQueue").await.is_empty());
}

#[tokio::test]
async fn a_batch_interrupted_by_the_queue_is_finished_by_its_retry() {
    // GIVEN an API whose queue fails once
    let h = start_with_flaky_queue(1).await;
    h.create_webhook("shop", "a", &["order_create"]).await;
    let batch = json!({"events": (0..3).map(|i| json!({"id": format!("o-{i}"), "topic": "order_create", "data": {"i": i}})).collect::<Vec<_>>()});

    // WHEN the send to SQS fails: THEN the whole batch is a 503, nothing queued, no marker
    let failed = h.post(BATCH, batch.clone()).await;
    assert_eq!((failed.status, failed.code()), (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"));
    assert!(h.drain_queue("DeliveryQueue").await.is_empty());
    assert!(h.items_of_kind("ingest").await.is_empty());

    // WHEN the caller retries the batch
    let retried = h.post(BATCH, batch.clone()).await;
    // THEN every event's first deliveries are queued, and marked done
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    let results = retried.body["results"].as_array().expect("results").clone();
    assert!(results.iter().all(|r| r["status"] == 202), "{results:?}");
    let messages = h.drain_queue("DeliveryQueue").await;
    assert_eq!(messages.len(), 3);
    assert_eq!(queued_ids(&messages), delivery_ids(&results));
    // (each event marked on its own: a retry may carry only some of a call's events, and
    // the first call's marker would say all of them are queued)
    assert!(h.items_of_kind("ingest").await.is_empty(), "no marker for the first call");
    let events = h.items_of_kind("event").await;
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.get("state").and_then(|s| s.as_s().ok()).map(String::as_str) == Some("enqueued")));

    // AND a further repeat changes nothing
    let again = h.post(BATCH, batch).await;
    assert_eq!(again.body, retried.body);
    assert!(h.drain_queue("DeliveryQueue").await.is_empty());
}

#[tokio::test]
async fn a_batch_interrupted_by_the_queue_and_retried_a_part_at_a_time_has_every_event_queued() {
    // GIVEN an API whose queue fails once, and a batch of three that it interrupts
    let h = start_with_flaky_queue(1).await;
    h.create_webhook("shop", "a", &["order_create"]).await;
    let event = |i: usize| json!({"id": format!("o-{i}"), "topic": "order_create", "data": {"i": i}});
    let failed = h.post(BATCH, json!({"events": [event(0), event(1), event(2)]})).await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);

    // WHEN the caller retries the first event alone, then the other two together
    let first = h.post("/v1/tenants/shop/events", event(0)).await;
    let rest = h.post(BATCH, json!({"events": [event(1), event(2)]})).await;

    // THEN every event's deliveries are queued, the first retry's not standing for the others
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.body);
    let results = rest.body["results"].as_array().expect("results").clone();
    assert!(results.iter().all(|r| r["status"] == 202), "{results:?}");
    let mut answered = delivery_ids(&results);
    answered.extend(delivery_ids(std::slice::from_ref(&first.body)));
    assert_eq!(answered.len(), 3);
    assert_eq!(queued_ids(&h.drain_queue("DeliveryQueue").await), answered);
}
