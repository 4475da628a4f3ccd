//! The DynamoDB store against moto: batched delivery writes, counting dead letters once per
//! round, and the alert claim.

use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::domain::delivery::{Attempt, Delivery, DeliveryStatus, DeliveryWrite};
use hookline_shared::ports::store::{AlertStore, DeadLetterCount, DeadLetterKey, DeliveryStore, WebhookStore};

use crate::harness::Harness;

/// The webhook of `state`'s delivery.
const WEBHOOK: &str = "wh_0190a0a0a0a07000800000000000cafe";

fn state(status: DeliveryStatus, attempt_count: u32) -> Delivery {
    Delivery {
        tenant_id: "acme".into(),
        delivery_id: "dlv_0190a0a0a0a07000800000000000beef".into(),
        event_id: "e-1".into(),
        webhook_id: WEBHOOK.into(),
        topic: "order_create".into(),
        status,
        attempt_count,
        generation: 0,
        last_error: None,
        next_attempt_at: None,
        created_at: "2026-11-22T17:00:00Z".into(),
        updated_at: "2026-11-22T17:00:00Z".into(),
        expires_at: 1_800_000_000,
        requeue_claimed_at: None,
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
    let store = h.store();
    let writes = vec![
        DeliveryWrite { delivery: state(DeliveryStatus::Retrying, 1), attempt: Some(attempt(1, 500)) },
        DeliveryWrite { delivery: state(DeliveryStatus::Delivered, 2), attempt: Some(attempt(2, 200)) },
    ];
    store.write_deliveries(&writes).await.expect("one batch, the same key twice");
    let log = store
        .get_delivery("acme", &writes[0].delivery.delivery_id, Some(WEBHOOK))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(log.delivery.status, DeliveryStatus::Delivered);
    assert_eq!(log.delivery.attempt_count, 2);
    let codes: Vec<Option<u16>> = log.attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), Some(200)], "every attempt, oldest first");
    assert!(
        store
            .get_delivery("acme", "dlv_0190a0a0a0a07000800000000000f00d", Some(WEBHOOK))
            .await
            .expect("read")
            .is_none()
    );
}

#[tokio::test]
async fn a_state_write_never_moves_a_delivery_back() {
    // GIVEN a delivery delivered at its second attempt
    let h = Harness::start().await;
    let store = h.store();
    let write = |status, count, attempt| DeliveryWrite { delivery: state(status, count), attempt };
    store.write_deliveries(&[write(DeliveryStatus::Retrying, 1, Some(attempt(1, 500)))]).await.expect("attempt 1");
    store.write_deliveries(&[write(DeliveryStatus::Delivered, 2, Some(attempt(2, 200)))]).await.expect("attempt 2");
    let id = state(DeliveryStatus::Pending, 0).delivery_id;

    // WHEN late writes land: attempt 1's again (another copy of the message), a failed
    // attempt 2 of a second copy, a failed attempt 3 of it
    for late in [
        write(DeliveryStatus::Retrying, 1, Some(attempt(1, 503))),
        write(DeliveryStatus::Retrying, 2, Some(attempt(2, 502))),
        write(DeliveryStatus::Failed, 3, Some(attempt(3, 501))),
    ] {
        store.write_deliveries(&[late]).await.expect("a late write is no error");
    }

    // THEN the delivery is still delivered at attempt 2, and every attempt made is in its log
    let log = store.get_delivery("acme", &id, Some(WEBHOOK)).await.expect("read").expect("exists");
    assert_eq!((log.delivery.status, log.delivery.attempt_count), (DeliveryStatus::Delivered, 2));
    let mut codes: Vec<u16> = log.attempts.iter().filter_map(|a| a.status_code).collect();
    codes.sort_unstable();
    assert_eq!(codes, [200, 500, 501, 502, 503]);

    // WHEN a delivery that failed for good is then delivered by another copy THEN it says so
    let other =
        |status, count| Delivery { delivery_id: "dlv_0190a0a0a0a07000800000000000f00d".into(), ..state(status, count) };
    store
        .write_deliveries(&[DeliveryWrite { delivery: other(DeliveryStatus::Failed, 6), attempt: None }])
        .await
        .expect("failed");
    store
        .write_deliveries(&[DeliveryWrite { delivery: other(DeliveryStatus::Delivered, 3), attempt: None }])
        .await
        .expect("delivered");
    let log = store
        .get_delivery("acme", "dlv_0190a0a0a0a07000800000000000f00d", Some(WEBHOOK))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(log.delivery.status, DeliveryStatus::Delivered);

    // AND a write of an older round never replaces a newer round's state
    let round_1 = Delivery { generation: 1, ..other(DeliveryStatus::Retrying, 1) };
    store.write_deliveries(&[DeliveryWrite { delivery: round_1, attempt: None }]).await.expect("round 1");
    store
        .write_deliveries(&[DeliveryWrite { delivery: other(DeliveryStatus::Retrying, 5), attempt: None }])
        .await
        .expect("round 0");
    let log = store
        .get_delivery("acme", "dlv_0190a0a0a0a07000800000000000f00d", Some(WEBHOOK))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!((log.delivery.generation, log.delivery.attempt_count), (1, 1));
}

/// A fresh stack, its store, and the id of webhook "orders" of tenant "acme".
async fn with_webhook() -> (Harness, DynamoStore, String) {
    let h = Harness::start().await;
    let store = h.store();
    let webhook_id =
        h.create_webhook("acme", "orders", &["order_create"]).await["id"].as_str().expect("id").to_string();
    (h, store, webhook_id)
}

fn dead<'a>(webhook_id: &'a str, delivery: &'a Delivery, generation: u32) -> DeadLetterKey<'a> {
    DeadLetterKey { tenant_id: "acme", webhook_id, delivery_id: &delivery.delivery_id, generation, unreadable: None }
}

#[tokio::test]
async fn a_dead_letter_counts_once_per_round_and_never_against_a_requeued_round() {
    // GIVEN a webhook and one of its deliveries that failed for good in round 0
    let (_h, store, webhook_id) = with_webhook().await;
    let failed = Delivery {
        webhook_id: webhook_id.clone(),
        last_error: Some("HTTP 500".into()),
        ..state(DeliveryStatus::Failed, 6)
    };
    store.write_deliveries(&[DeliveryWrite { delivery: failed.clone(), attempt: None }]).await.expect("write");

    // WHEN its dead letter is counted, twice (SQS may deliver it again)
    let first = store.count_dead_letter(&dead(&webhook_id, &failed, 0), "2026-11-23T10:00:00Z").await.expect("count");
    let again = store.count_dead_letter(&dead(&webhook_id, &failed, 0), "2026-11-23T10:00:01Z").await.expect("count");

    // THEN the delivery and the webhook's failure count and summary moved together, once
    let DeadLetterCount::Counted { webhook, .. } = first else { panic!("counted: {first:?}") };
    assert_eq!((webhook.consecutive_failures, webhook.pending_count), (1, 1));
    assert_eq!(webhook.pending_last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(webhook.pending_delivery_ids, std::slice::from_ref(&failed.delivery_id));
    assert_eq!(again, DeadLetterCount::NotCounted);

    // WHEN the delivery is sent again (round 1) and round 0's dead letter comes back
    assert!(store.claim_requeue(&failed, 1_800_000_000, "2026-11-23T10:01:00Z").await.expect("claim"));
    assert!(
        !store.claim_requeue(&failed, 1_800_000_001, "2026-11-23T10:01:01Z").await.expect("claim"),
        "only a failed round is claimed"
    );
    let stale = store.count_dead_letter(&dead(&webhook_id, &failed, 0), "2026-11-23T10:02:00Z").await.expect("count");

    // THEN it counts nothing and the requeued delivery stays pending in round 1
    assert_eq!(stale, DeadLetterCount::NotCounted);
    let log =
        store.get_delivery("acme", &failed.delivery_id, Some(&failed.webhook_id)).await.expect("read").expect("exists");
    assert_eq!(
        (log.delivery.status, log.delivery.generation, log.delivery.attempt_count),
        (DeliveryStatus::Pending, 1, 0)
    );
    let webhook = store.get_webhook("acme", &webhook_id).await.expect("read").expect("exists");
    assert_eq!(webhook.consecutive_failures, 1, "not counted twice");

    // AND round 1's own dead letter counts
    let round_1 = Delivery { status: DeliveryStatus::Failed, generation: 1, ..log.delivery };
    store.write_deliveries(&[DeliveryWrite { delivery: round_1.clone(), attempt: None }]).await.expect("write");
    let counted =
        store.count_dead_letter(&dead(&webhook_id, &round_1, 1), "2026-11-23T10:03:00Z").await.expect("count");
    assert!(
        matches!(counted, DeadLetterCount::Counted { ref webhook, .. } if webhook.consecutive_failures == 2),
        "{counted:?}"
    );
}

#[tokio::test]
async fn a_dead_letter_whose_webhook_is_gone_still_marks_the_delivery_failed() {
    let h = Harness::start().await;
    let store = h.store();
    let pending = state(DeliveryStatus::Pending, 0);
    store.write_deliveries(&[DeliveryWrite { delivery: pending.clone(), attempt: None }]).await.expect("write");

    let result =
        store.count_dead_letter(&dead(&pending.webhook_id, &pending, 0), "2026-11-23T10:00:00Z").await.expect("count");

    assert_eq!(result, DeadLetterCount::WebhookGone);
    let log = store.get_delivery("acme", &pending.delivery_id, Some(WEBHOOK)).await.expect("read").expect("exists");
    assert_eq!(log.delivery.status, DeliveryStatus::Failed);
}

#[tokio::test]
async fn an_alert_claim_holds_the_summary_until_the_email_is_finished() {
    // GIVEN a webhook with one counted failure
    let (_h, store, webhook_id) = with_webhook().await;
    let failed = Delivery { webhook_id: webhook_id.clone(), ..state(DeliveryStatus::Failed, 6) };
    store.write_deliveries(&[DeliveryWrite { delivery: failed.clone(), attempt: None }]).await.expect("write");
    store.count_dead_letter(&dead(&webhook_id, &failed, 0), "2026-11-23T10:00:00Z").await.expect("count");
    let seen = store.get_webhook("acme", &webhook_id).await.expect("read").expect("exists");

    // WHEN one invocation claims it, a second tries with the same view, and a failure is
    // counted before the first finishes
    assert!(store.claim_alert(&seen, "2026-11-23T10:00:05Z").await.expect("claim"));
    assert!(!store.claim_alert(&seen, "2026-11-23T10:00:06Z").await.expect("claim"), "one claim at a time");
    let claimed = store.get_webhook("acme", &webhook_id).await.expect("read").expect("exists");
    assert_eq!(claimed.pending_count, 1, "a claim does not clear the summary");
    let later = Delivery { delivery_id: "dlv_0190a0a0a0a07000800000000000d00d".into(), ..failed.clone() };
    store.write_deliveries(&[DeliveryWrite { delivery: later.clone(), attempt: None }]).await.expect("write");
    store.count_dead_letter(&dead(&webhook_id, &later, 0), "2026-11-23T10:00:07Z").await.expect("count");
    store.finish_alert(&seen, "2026-11-23T10:00:05Z").await.expect("finish");

    // THEN what the e-mail told is gone, the failure counted meanwhile stays for the next one
    let after = store.get_webhook("acme", &webhook_id).await.expect("read").expect("exists");
    assert_eq!(after.last_alert_at.as_deref(), Some("2026-11-23T10:00:05Z"));
    assert_eq!(after.alert_claimed_at, None);
    assert_eq!(after.pending_count, 1);
    assert_eq!(after.pending_delivery_ids, std::slice::from_ref(&later.delivery_id));
    assert_eq!(after.pending_last_at.as_deref(), Some("2026-11-23T10:00:07Z"));

    // AND a claim released after a failed e-mail leaves the summary to be claimed again
    assert!(store.claim_alert(&after, "2026-11-23T11:00:00Z").await.expect("claim"));
    store.release_alert(&after, "2026-11-23T11:00:00Z").await.expect("release");
    let released = store.get_webhook("acme", &webhook_id).await.expect("read").expect("exists");
    assert_eq!((released.alert_claimed_at, released.pending_count), (None, 1));
}

#[tokio::test]
async fn webhooks_stored_with_filters_as_a_list_still_read() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use std::collections::HashMap;
    // GIVEN a webhook item as earlier versions wrote it: filters as a DynamoDB list of maps
    let h = Harness::start().await;
    let id = h.create_webhook("acme", "old", &["order_create"]).await["id"].as_str().expect("id").to_string();
    let filter = HashMap::from([
        ("field".to_string(), AttributeValue::S("total".into())),
        ("op".to_string(), AttributeValue::S("gt".into())),
        ("value".to_string(), AttributeValue::N("50".into())),
    ]);
    h.dynamodb()
        .update_item()
        .table_name(&h.config.table_name)
        .key("pk", AttributeValue::S("TENANT#acme".into()))
        .key("sk", AttributeValue::S(format!("WEBHOOK#{id}")))
        .update_expression("SET filters = :old")
        .expression_attribute_values(":old", AttributeValue::L(vec![AttributeValue::M(filter)]))
        .send()
        .await
        .expect("write the old form");

    // WHEN it is read, THEN its filters are there
    let store = h.store();
    let webhook = store.get_webhook("acme", &id).await.expect("reads").expect("exists");
    assert_eq!(
        serde_json::to_value(&webhook.filters).expect("json"),
        serde_json::json!([{"field": "total", "op": "gt", "value": 50}])
    );
    // AND an empty list (what was written for no filters) reads as none
    h.dynamodb()
        .update_item()
        .table_name(&h.config.table_name)
        .key("pk", AttributeValue::S("TENANT#acme".into()))
        .key("sk", AttributeValue::S(format!("WEBHOOK#{id}")))
        .update_expression("SET filters = :empty")
        .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
        .send()
        .await
        .expect("write the old empty form");
    assert!(store.get_webhook("acme", &id).await.expect("reads").expect("exists").filters.is_empty());
}

#[tokio::test]
async fn a_webhook_is_disabled_for_failures_only_while_enabled_and_over_the_threshold() {
    let (h, store, webhook_id) = with_webhook().await;
    for n in 0..2u8 {
        let d = Delivery {
            webhook_id: webhook_id.clone(),
            delivery_id: format!("dlv_0190a0a0a0a07000800000000000be0{n}"),
            ..state(DeliveryStatus::Failed, 6)
        };
        store.write_deliveries(&[DeliveryWrite { delivery: d.clone(), attempt: None }]).await.expect("write");
        store.count_dead_letter(&dead(&webhook_id, &d, 0), "2026-11-23T10:00:00Z").await.expect("count");
    }
    let at = "2026-11-23T10:00:01Z";
    assert!(
        !store.disable_for_failures("acme", &webhook_id, 3, "3 failed", at).await.expect("write"),
        "under the threshold"
    );
    assert!(store.disable_for_failures("acme", &webhook_id, 2, "2 failed", at).await.expect("write"));
    assert!(
        !store.disable_for_failures("acme", &webhook_id, 2, "2 failed", at).await.expect("write"),
        "already disabled"
    );
    let w = store.get_webhook("acme", &webhook_id).await.expect("read").expect("exists");
    assert_eq!((w.enabled, w.disabled_reason.as_deref()), (false, Some("2 failed")));
    // An owner enabling it again resets the count, so a late disable finds nothing to do.
    let enabled = h
        .call("PATCH", &format!("/v1/tenants/acme/webhooks/{webhook_id}"), Some(serde_json::json!({"enabled": true})))
        .await;
    assert_eq!(enabled.status, reqwest::StatusCode::OK);
    assert!(!store.disable_for_failures("acme", &webhook_id, 2, "2 failed", at).await.expect("write"));
    assert!(store.get_webhook("acme", &webhook_id).await.expect("read").expect("exists").enabled);
}
