//! The sample Lambda events in events/, converted as Lambda does (`lambda_http` for the API,
//! `aws_lambda_events` for SQS) and handled against moto: the adapters work end to end.

use std::path::PathBuf;

use aws_lambda_events::sqs::SqsEvent;
use axum::http::StatusCode;
use hookline_alert::AlertFunction;
use hookline_api::{AwsApp, router};
use hookline_delivery::DeliveryFunction;
use hookline_shared::app::ingest;
use hookline_shared::config::{AlertConfig, DeliveryConfig};
use hookline_shared::domain::api_key;
use hookline_shared::domain::delivery::{DeliveryStatus, DeliveryWrite};
use hookline_shared::domain::event::{DeliveryRef, EventPayload, EventRecord, EventState};
use hookline_shared::domain::secret;
use hookline_shared::domain::webhook::Webhook;
use hookline_shared::ports::store::{ApiKeyStore, DeliveryStore, EventStore, WebhookStore};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::harness::Harness;
use crate::receiver::{Answer, Receiver};

const SAMPLE_KEY: &str = "hk_sample_events_key";

fn sample(dir: &str, file: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events").join(dir).join(file);
    std::fs::read_to_string(&path).expect("sample event")
}

async fn answer(app: axum::Router, event_file: &str) -> (StatusCode, Value) {
    let text = sample("api", event_file);
    let request = lambda_http::request::from_str(&text).expect("an API Gateway v2 event");
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON answer") })
}

#[tokio::test]
async fn sample_api_gateway_events_are_answered() {
    let h = Harness::start().await;
    h.store().put_api_key(&api_key::record_for(SAMPLE_KEY, "sample events", None)).await.expect("key");
    let app = router(AwsApp::from_config(&h.sdk, &h.config));

    let (status, body) = answer(app.clone(), "health.json").await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));

    let (status, created) = answer(app.clone(), "create-webhook.json").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["tenant_id"], "acme");

    let (status, body) = answer(app.clone(), "create-webhook-invalid.json").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_url")));

    let (status, list) = answer(app.clone(), "list-webhooks.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));

    let (status, accepted) = answer(app.clone(), "ingest-event.json").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["event_id"], "coupon-1001");
    assert_eq!(accepted["deliveries"][0]["webhook_id"], created["id"]);
    let messages = h.drain_queue("DeliveryQueue").await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["payload"]["data"]["fiat_value"], 2);
}

#[tokio::test]
async fn the_sample_sqs_batch_is_delivered_and_its_malformed_message_fails_alone() {
    // GIVEN the webhook the sample batch names, pointing at a loopback receiver
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let text = sample("delivery", "sqs-batch.json");
    let event: SqsEvent = serde_json::from_str(&text).expect("an SQS event");
    let task: Value = serde_json::from_str(event.records[0].body.as_deref().expect("body")).expect("task");
    let webhook: Webhook = serde_json::from_value(serde_json::json!({
        "id": task["webhook_id"], "tenant_id": task["tenant_id"], "name": "sample", "url": receiver.url,
        "topics": ["coupon_create"], "enabled": true, "secret": secret::generate(),
        "created_at": "2026-11-22T17:00:00Z", "updated_at": "2026-11-22T17:00:00Z"
    }))
    .expect("webhook");
    h.store().create_webhook(&webhook, 100).await.expect("webhook");
    let config = DeliveryConfig::from_lookup(|name| match name {
        "HOOKLINE_TABLE" => Some(h.config.table_name.clone()),
        "HOOKLINE_SECRETS_KEY" => Some(h.config.secrets_key.clone()),
        "HOOKLINE_DELIVERY_QUEUE_URL" => Some(h.config.delivery_queue_url.clone()),
        "HOOKLINE_ALLOW_PRIVATE_TARGETS" => Some("true".into()),
        _ => None,
    })
    .expect("config");
    let function = DeliveryFunction::from_config(&h.sdk, &config).expect("function");

    // WHEN the batch is handled
    let response = function.handle(event).await;

    // THEN only the malformed message failed, and the task reached the receiver
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["22222222-2222-4222-8222-222222222222"]);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-hookline-delivery-id"), task["delivery_id"].as_str().expect("delivery"));
    let body: Value = serde_json::from_slice(&got[0].body).expect("json");
    assert_eq!(body["fiat_value"], 2);
    assert_eq!(body["business_currency_code"], "INR");

    // AND the same two messages as dead letters: counted on the webhook, garbage acknowledged
    let alert_config = AlertConfig::from_lookup(|name| match name {
        "HOOKLINE_TABLE" => Some(h.config.table_name.clone()),
        "HOOKLINE_SECRETS_KEY" => Some(h.config.secrets_key.clone()),
        "HOOKLINE_DEAD_LETTER_QUEUE_URL" => Some(h.stack.queue("DeliveryDeadLetterQueue").expect("dlq").url.clone()),
        "HOOKLINE_ALERT_SENDER" => Some("alerts@hookline.test".into()),
        "HOOKLINE_PUBLIC_URL" => Some(h.base.clone()),
        _ => None,
    })
    .expect("alert config");
    let alerts = AlertFunction::from_config(&h.sdk, &alert_config);
    let dead: SqsEvent = serde_json::from_str(&sample("alert", "sqs-batch.json")).expect("an SQS event");
    let response = alerts.handle(dead).await;
    assert!(response.batch_item_failures.is_empty(), "nothing left to retry");
    let w = h.store().get_webhook(&webhook.tenant_id, &webhook.id).await.expect("read").expect("webhook");
    assert_eq!(w.consecutive_failures, 1, "the dead delivery was counted");
}

#[tokio::test]
async fn a_sample_event_for_every_route_is_answered() {
    // GIVEN the key, webhook, event and failed delivery the samples name
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let store = h.store();
    store.put_api_key(&api_key::record_for(SAMPLE_KEY, "sample events", None)).await.expect("key");
    let webhook: Webhook = serde_json::from_value(serde_json::json!({
        "id": "wh_01a2047bc1c277a889e2b8372deb0472", "tenant_id": "acme", "name": "sample", "url": receiver.url,
        "topics": ["coupon_create"], "enabled": true, "secret": secret::generate(),
        "created_at": "2026-11-22T17:00:00Z", "updated_at": "2026-11-22T17:00:00Z"
    }))
    .expect("webhook");
    store.create_webhook(&webhook, 100).await.expect("store webhook");
    let delivery_id = "dlv_01a2047bc68672748bae89b27414a0ac";
    let event = EventRecord {
        tenant_id: "acme".into(),
        event_id: "coupon-1001".into(),
        topic: "coupon_create".into(),
        occurred_at: "2026-11-22T17:00:00Z".into(),
        received_at: "2026-11-22T17:00:00Z".into(),
        payload: EventPayload { context: Default::default(), data: Default::default() }.into(),
        deliveries: vec![DeliveryRef { id: delivery_id.into(), webhook_id: webhook.id.clone() }],
        state: EventState::Enqueued,
        expires_at: 4_000_000_000,
        ingest_id: None,
    };
    store.create_event(&event).await.expect("event");
    // (its pending record where ingest wrote it before decision 44, so its id finds it)
    let mut failed = ingest::deliveries_of(&event).remove(0);
    store.put_deliveries(std::slice::from_ref(&failed), false).await.expect("pending");
    failed.status = DeliveryStatus::Failed;
    store.write_deliveries(&[DeliveryWrite { delivery: failed, attempt: None }]).await.expect("delivery");
    let app = router(AwsApp::from_config(&h.sdk, &h.config));

    // THEN each route's sample gets its answer
    for (file, status) in [
        ("topics.json", StatusCode::OK),
        ("get-webhook.json", StatusCode::OK),
        ("update-webhook.json", StatusCode::OK),
        ("test-webhook.json", StatusCode::OK),
        ("list-webhook-deliveries.json", StatusCode::OK),
        ("get-delivery.json", StatusCode::OK),
        ("retry-delivery.json", StatusCode::ACCEPTED),
        ("recover-webhook.json", StatusCode::ACCEPTED),
        ("delete-webhook.json", StatusCode::NO_CONTENT),
    ] {
        let (got, body) = answer(app.clone(), file).await;
        assert_eq!(got, status, "{file}: {body}");
    }
    assert_eq!(receiver.received().len(), 1, "the test send reached the receiver");
    assert_eq!(h.drain_queue("DeliveryQueue").await.len(), 1, "the retry queued the delivery");
}
