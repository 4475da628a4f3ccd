//! Event ingest: fan-out, one queued message per delivery, idempotency, crash recovery.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use hookline_api::{App, router};
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::adapters::sqs::SqsQueue;
use hookline_shared::domain::settings::Settings;
use hookline_shared::domain::task::DeliveryTask;
use hookline_shared::ports::queue::{QueueError, TaskQueue};
use hookline_shared::ports::store::DeliveryStore;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;

fn ids(values: &[Value], field: &str) -> BTreeSet<String> {
    values.iter().map(|v| v[field].as_str().expect(field).to_string()).collect()
}

#[tokio::test]
async fn an_event_fans_out_to_exactly_the_enabled_subscribers() {
    // GIVEN a tenant with subscribed, unsubscribed and disabled webhooks, and another tenant
    let h = Harness::start().await;
    let a = h.create_webhook("shop", "a", &["coupon_create"]).await;
    let b = h.create_webhook("shop", "b", &["order_create", "coupon_create"]).await;
    let c = h.create_webhook("shop", "c", &["coupon_create"]).await;
    let disabled = h
        .call(
            "PATCH",
            &format!("/v1/tenants/shop/webhooks/{}", c["id"].as_str().expect("id")),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK);
    h.create_webhook("shop", "d", &["order_create"]).await;
    h.create_webhook("elsewhere", "e", &["coupon_create"]).await;

    // WHEN a coupon_create event arrives for the tenant
    let reply = h
        .post(
            "/v1/tenants/shop/events",
            json!({"topic": "coupon_create", "occurred_at": "2026-05-18T06:40:33Z",
                   "context": {"business_name": "Shop"}, "data": {"value": "TWOOFF", "fiat_value": 2}}),
        )
        .await;

    // THEN it is accepted with one delivery per enabled subscriber
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let deliveries = reply.body["deliveries"].as_array().expect("deliveries").clone();
    let expected: BTreeSet<String> = [&a, &b].iter().map(|w| w["id"].as_str().expect("id").to_string()).collect();
    assert_eq!(ids(&deliveries, "webhook_id"), expected);
    let event_id = reply.body["event_id"].as_str().expect("event id").to_string();

    // AND exactly one message per delivery is on the delivery queue, carrying the event
    let messages = h.drain_queue("DeliveryQueue").await;
    assert_eq!(messages.len(), 2);
    assert_eq!(ids(&messages, "delivery_id"), ids(&deliveries, "id"));
    assert_eq!(ids(&messages, "webhook_id"), expected);
    for m in &messages {
        assert_eq!(m["event_id"], event_id);
        assert_eq!(m["topic"], "coupon_create");
        assert_eq!(m["tenant_id"], "shop");
        assert_eq!(m["occurred_at"], "2026-05-18T06:40:33Z");
        assert_eq!(m["payload"]["data"], json!({"value": "TWOOFF", "fiat_value": 2}));
        assert_eq!(m["payload"]["context"], json!({"business_name": "Shop"}));
    }

    // AND each delivery reads back as pending, through its call's marker and its event: ingest
    // wrote no delivery record (decision 44)
    for d in &deliveries {
        let id = d["id"].as_str().expect("id");
        let record = h.store().get_delivery("shop", id, d["webhook_id"].as_str()).await.expect("read");
        assert!(record.is_none(), "a record of {id}");
        let got = h.get(&format!("/v1/tenants/shop/deliveries/{}", d["id"].as_str().expect("id"))).await;
        assert_eq!(got.status, StatusCode::OK, "{}", got.body);
        assert_eq!(got.body["status"], "pending");
        assert_eq!(got.body["webhook_id"], d["webhook_id"]);
        assert_eq!(got.body["event_id"], event_id);
        assert_eq!(got.body["attempt_count"], 0);
    }
    // A delivery of another tenant is not visible under this one.
    let other = h.get(&format!("/v1/tenants/elsewhere/deliveries/{}", deliveries[0]["id"].as_str().expect("id"))).await;
    assert_eq!(other.code(), "delivery_not_found");
}

#[tokio::test]
async fn an_event_nobody_subscribes_to_creates_no_delivery() {
    let h = Harness::start().await;
    h.create_webhook("shop", "a", &["coupon_create"]).await;
    let reply = h.post("/v1/tenants/shop/events", json!({"topic": "lead_create", "data": {}})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.body["deliveries"], json!([]));
    assert!(h.drain_queue("DeliveryQueue").await.is_empty());
}

#[tokio::test]
async fn the_same_event_id_twice_creates_one_set_of_deliveries() {
    let h = Harness::start().await;
    h.create_webhook("shop", "a", &["order_create"]).await;
    h.create_webhook("shop", "b", &["order_create"]).await;
    let first =
        h.post("/v1/tenants/shop/events", json!({"id": "order-1001", "topic": "order_create", "data": {"n": 1}})).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(first.body["event_id"], "order-1001");

    // WHEN the same id is posted again (even with other data, even after a new subscriber)
    h.create_webhook("shop", "c", &["order_create"]).await;
    let second =
        h.post("/v1/tenants/shop/events", json!({"id": "order-1001", "topic": "order_create", "data": {"n": 2}})).await;

    // THEN the answer is the first one and no second set of messages is queued
    assert_eq!(second.status, StatusCode::ACCEPTED);
    assert_eq!(second.body, first.body);
    let messages = h.drain_queue("DeliveryQueue").await;
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| m["payload"]["data"]["n"] == 1));

    // Events without an id are distinct events.
    let x = h.post("/v1/tenants/shop/events", json!({"topic": "order_create", "data": {}})).await;
    let y = h.post("/v1/tenants/shop/events", json!({"topic": "order_create", "data": {}})).await;
    assert_ne!(x.body["event_id"], y.body["event_id"]);
    assert_eq!(h.drain_queue("DeliveryQueue").await.len(), 6);
}

/// A queue that fails its first `failures` sends, as SQS would in an outage.
struct FlakyQueue {
    inner: SqsQueue,
    failures: AtomicUsize,
}

impl TaskQueue for FlakyQueue {
    async fn enqueue(&self, tasks: &[DeliveryTask]) -> Result<(), QueueError> {
        if self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(QueueError::Sqs { operation: "SendMessageBatch", message: "injected outage".into() });
        }
        self.inner.enqueue(tasks).await
    }
}

/// A stack whose API's queue fails its first `failures` sends.
pub(crate) async fn start_with_flaky_queue(failures: usize) -> Harness {
    Harness::start_with(Settings::default(), HashMap::new(), |sdk, config| {
        let queue = FlakyQueue {
            inner: SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &config.delivery_queue_url),
            failures: AtomicUsize::new(failures),
        };
        let store = DynamoStore::connect(sdk, &config.table_name, &config.secrets_key);
        router(App::new(store, queue, config.settings.clone()))
    })
    .await
}

#[tokio::test]
async fn an_ingest_interrupted_after_storing_the_event_is_finished_by_the_retry() {
    // GIVEN an API whose queue fails once
    let h = start_with_flaky_queue(1).await;
    h.create_webhook("shop", "a", &["order_create"]).await;
    let event = json!({"id": "order-7", "topic": "order_create", "data": {"total": 10}});

    // WHEN the send to SQS fails
    let failed = h.post("/v1/tenants/shop/events", event.clone()).await;
    // THEN the caller is told to retry, nothing is queued
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(failed.code(), "service_unavailable");
    assert!(!failed.body.to_string().contains(&h.config.table_name), "no internals in the answer");
    assert!(h.drain_queue("DeliveryQueue").await.is_empty());

    // WHEN the caller retries with the same id (after a new webhook subscribed meanwhile)
    h.create_webhook("shop", "late", &["order_create"]).await;
    let retried = h.post("/v1/tenants/shop/events", event.clone()).await;

    // THEN the first fan-out is finished: its delivery is queued and pending
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    let deliveries = retried.body["deliveries"].as_array().expect("deliveries").clone();
    assert_eq!(deliveries.len(), 1, "the deliveries chosen the first time: {deliveries:?}");
    let messages = h.drain_queue("DeliveryQueue").await;
    assert_eq!(ids(&messages, "delivery_id"), ids(&deliveries, "id"));
    let got = h.get(&format!("/v1/tenants/shop/deliveries/{}", deliveries[0]["id"].as_str().expect("id"))).await;
    assert_eq!(got.body["status"], "pending");

    // AND a further repeat changes nothing
    let again = h.post("/v1/tenants/shop/events", event).await;
    assert_eq!(again.body, retried.body);
    assert!(h.drain_queue("DeliveryQueue").await.is_empty());
}
