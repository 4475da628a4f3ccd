//! The DynamoDB store's batched delivery writes, against moto.

use hookline_shared::delivery::{Attempt, Delivery, DeliveryStatus, DeliveryWrite};
use hookline_shared::store::{DynamoStore, Store};

use crate::harness::Harness;

fn state(status: DeliveryStatus, attempt_count: u32) -> Delivery {
    Delivery {
        tenant_id: "acme".into(),
        delivery_id: "dlv_0190a0a0a0a07000800000000000beef".into(),
        event_id: "e-1".into(),
        webhook_id: "wh_0190a0a0a0a07000800000000000cafe".into(),
        topic: "order_create".into(),
        status,
        attempt_count,
        generation: 0,
        last_error: None,
        next_attempt_at: None,
        created_at: "2026-11-22T17:00:00Z".into(),
        updated_at: "2026-11-22T17:00:00Z".into(),
        expires_at: 1_800_000_000,
    }
}

fn attempt(n: u32, status_code: u16) -> Attempt {
    Attempt {
        attempt: n,
        at: format!("2026-11-22T17:00:0{n}Z"),
        status_code: Some(status_code),
        error: None,
        latency_ms: 5,
        response_excerpt: String::new(),
    }
}

#[tokio::test]
async fn writes_for_one_delivery_in_one_batch_keep_the_last_state_and_every_attempt() {
    let h = Harness::start().await;
    let store = DynamoStore::new(h.dynamodb(), &h.config.table_name);
    let writes = vec![
        DeliveryWrite { delivery: state(DeliveryStatus::Retrying, 1), attempt: Some(attempt(1, 500)) },
        DeliveryWrite { delivery: state(DeliveryStatus::Delivered, 2), attempt: Some(attempt(2, 200)) },
    ];
    store.write_deliveries(&writes).await.expect("one batch, the same key twice");
    let log = store.get_delivery("acme", &writes[0].delivery.delivery_id).await.expect("read").expect("exists");
    assert_eq!(log.delivery.status, DeliveryStatus::Delivered);
    assert_eq!(log.delivery.attempt_count, 2);
    let codes: Vec<Option<u16>> = log.attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), Some(200)], "every attempt, oldest first");
    assert!(store.get_delivery("acme", "dlv_0190a0a0a0a07000800000000000f00d").await.expect("read").is_none());
}
