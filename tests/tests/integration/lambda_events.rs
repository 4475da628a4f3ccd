//! The sample API Gateway events in events/api, converted by `lambda_http` as in Lambda and
//! answered by the api Router against moto: the Lambda adapter path works end to end.

use std::path::PathBuf;

use axum::http::StatusCode;
use hookline_api::{AwsApp, router};
use hookline_shared::api_key;
use hookline_shared::store::{DynamoStore, Store};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::harness::Harness;

const SAMPLE_KEY: &str = "hk_sample_events_key";

async fn answer(app: axum::Router, event_file: &str) -> (StatusCode, Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/api").join(event_file);
    let text = std::fs::read_to_string(&path).expect("sample event");
    let request = lambda_http::request::from_str(&text).expect("an API Gateway v2 event");
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON answer") })
}

#[tokio::test]
async fn sample_api_gateway_events_are_answered() {
    let h = Harness::start().await;
    DynamoStore::new(h.dynamodb(), &h.config.table_name)
        .put_api_key(&api_key::record_for(SAMPLE_KEY, "sample events"))
        .await
        .expect("key");
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
