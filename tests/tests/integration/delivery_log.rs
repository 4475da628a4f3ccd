//! The delivery log in its webhook's partition (decision 45): a record costs no index write,
//! and records from before (in the delivery's own partition, listed by the index) still read,
//! list, page and retry beside the new ones.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::domain::delivery::{Attempt, Delivery, DeliveryStatus, DeliveryWrite};
use hookline_shared::domain::ids::{self, DELIVERY_PREFIX};
use hookline_shared::ports::store::{DeliveryQuery, DeliveryStore};

use crate::harness::{Harness, sample_delivery};

const TENANT: &str = "acme";

fn delivery(webhook_id: &str, status: DeliveryStatus) -> Delivery {
    sample_delivery(TENANT, webhook_id, status)
}

fn first_attempt(status_code: u16) -> Attempt {
    Attempt {
        attempt: 1,
        at: "2026-11-22T17:00:01Z".into(),
        status_code: Some(status_code),
        error: None,
        latency_ms: 4,
        response_excerpt: String::new(),
    }
}

fn key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".into(), AttributeValue::S(pk)), ("sk".into(), AttributeValue::S(sk.into()))])
}

fn log_key(d: &Delivery) -> HashMap<String, AttributeValue> {
    key(format!("WEBHOOK#{TENANT}#{}", d.webhook_id), &d.delivery_id)
}

fn own_key(d: &Delivery) -> HashMap<String, AttributeValue> {
    key(format!("DELIVERY#{TENANT}#{}", d.delivery_id), "DELIVERY")
}

async fn raw(h: &Harness, key: HashMap<String, AttributeValue>) -> Option<HashMap<String, AttributeValue>> {
    let out = h.dynamodb().get_item().table_name(&h.config.table_name).set_key(Some(key)).send().await.expect("get");
    out.item
}

/// Writes `d` (first attempt inside) as the store does, then moves the item to where records
/// were kept before decision 45: the delivery's own partition, listed by the index.
async fn write_as_before(h: &Harness, store: &DynamoStore, d: &Delivery) {
    let write = DeliveryWrite { delivery: d.clone(), attempt: Some(first_attempt(500)) };
    store.write_deliveries(&[write]).await.expect("write");
    let mut item = raw(h, log_key(d)).await.expect("written");
    item.extend(own_key(d));
    item.insert("gsi1pk".into(), AttributeValue::S(format!("WEBHOOK#{TENANT}#{}", d.webhook_id)));
    item.insert("gsi1sk".into(), AttributeValue::S(d.delivery_id.clone()));
    let db = h.dynamodb();
    db.put_item().table_name(&h.config.table_name).set_item(Some(item)).send().await.expect("put as before");
    db.delete_item().table_name(&h.config.table_name).set_key(Some(log_key(d))).send().await.expect("move");
}

async fn list(
    store: &DynamoStore,
    webhook_id: &str,
    limit: usize,
    start_after: Option<&str>,
) -> (Vec<Delivery>, Option<String>) {
    let query = DeliveryQuery {
        tenant_id: TENANT,
        webhook_id,
        status: None,
        limit,
        start_after,
        since_id: None,
        stale_claims_before: None,
    };
    let page = store.list_webhook_deliveries(&query).await.expect("list");
    (page.items, page.next)
}

#[tokio::test]
async fn a_delivery_record_is_written_in_its_webhooks_log_with_no_index_entry() {
    // GIVEN a delivery whose first attempt failed
    let h = Harness::start().await;
    let store = h.store();
    let d = delivery("wh_0190a0a0a0a07000800000000000cafe", DeliveryStatus::Retrying);
    store
        .write_deliveries(&[DeliveryWrite { delivery: d.clone(), attempt: Some(first_attempt(500)) }])
        .await
        .expect("write");
    // THEN its record is in its webhook's partition, without index keys, and nowhere else
    let item = raw(&h, log_key(&d)).await.expect("in the webhook's log");
    assert!(!item.contains_key("gsi1pk") && !item.contains_key("gsi1sk"), "{item:?}");
    assert!(raw(&h, own_key(&d)).await.is_none());
    // AND it is listed, and read by id with its attempt
    let (listed, next) = list(&store, &d.webhook_id, 10, None).await;
    assert_eq!((listed, next), (vec![d.clone()], None));
    let log = store.get_delivery(TENANT, &d.delivery_id, Some(&d.webhook_id)).await.expect("read").expect("exists");
    assert_eq!((log.delivery, log.attempts), (d, vec![first_attempt(500)]));
}

/// `n` deliveries of one ingest call to `webhook_id` (ids as ingest numbers them).
fn of_one_call(webhook_id: &str, n: usize, status: DeliveryStatus) -> Vec<Delivery> {
    let call = ids::new_ingest_id();
    (0..n)
        .map(|i| Delivery { delivery_id: ids::call_delivery_id(&call, i, 0), ..delivery(webhook_id, status) })
        .collect()
}

#[tokio::test]
async fn deliveries_delivered_at_once_share_one_item_per_call_and_still_read_and_list_one_by_one() {
    // GIVEN two calls' deliveries to one webhook, delivered at their first attempt in one batch
    let h = Harness::start().await;
    let store = h.store();
    let webhook_id = "wh_0190a0a0a0a07000800000000000cafe";
    let (first, second) =
        (of_one_call(webhook_id, 6, DeliveryStatus::Delivered), of_one_call(webhook_id, 4, DeliveryStatus::Delivered));
    let writes: Vec<DeliveryWrite> = first
        .iter()
        .chain(&second)
        .map(|d| DeliveryWrite { delivery: d.clone(), attempt: Some(first_attempt(200)) })
        .collect();
    store.write_deliveries(&writes).await.expect("write");
    // AND a record of another copy of one of them, whose first attempt failed
    let copy = Delivery { status: DeliveryStatus::Retrying, ..first[2].clone() };
    store.write_deliveries(&[DeliveryWrite { delivery: copy, attempt: Some(first_attempt(503)) }]).await.expect("copy");

    // THEN the webhook's log holds one item per call for them (and the copy's record)
    let out = h
        .dynamodb()
        .query()
        .table_name(&h.config.table_name)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("WEBHOOK#{TENANT}#{webhook_id}")))
        .send()
        .await
        .expect("query");
    assert_eq!(out.items.unwrap_or_default().len(), 3);
    // AND each reads by id, delivered with its attempt (the copy's failed attempt beside it)
    for d in first.iter().chain(&second) {
        let log = store.get_delivery(TENANT, &d.delivery_id, Some(webhook_id)).await.expect("read").expect("exists");
        assert_eq!((log.delivery.status, log.delivery.attempt_count), (DeliveryStatus::Delivered, 1), "{d:?}");
        let want = if d.delivery_id == first[2].delivery_id { 2 } else { 1 };
        assert_eq!(log.attempts.len(), want, "{:?}", log.attempts);
    }
    // AND paging the log three at a time lists each once, newest first, delivered
    let mut seen: Vec<Delivery> = Vec::new();
    let mut start: Option<String> = None;
    for _ in 0..20 {
        let (items, next) = list(&store, webhook_id, 3, start.as_deref()).await;
        seen.extend(items);
        match next {
            Some(n) => start = Some(n),
            None => break,
        }
    }
    let mut want: Vec<String> = first.iter().chain(&second).map(|d| d.delivery_id.clone()).collect();
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen.iter().map(|d| d.delivery_id.clone()).collect::<Vec<_>>(), want);
    assert!(seen.iter().all(|d| d.status == DeliveryStatus::Delivered), "{seen:?}");
    // AND a status filter sees them as delivered, none as retrying
    let query = |status| DeliveryQuery {
        tenant_id: TENANT,
        webhook_id,
        status: Some(status),
        limit: 20,
        start_after: None,
        since_id: None,
        stale_claims_before: None,
    };
    let delivered = store.list_webhook_deliveries(&query(DeliveryStatus::Delivered)).await.expect("list");
    assert_eq!(delivered.items.len(), 10);
    let retrying = store.list_webhook_deliveries(&query(DeliveryStatus::Retrying)).await.expect("list");
    assert!(retrying.items.is_empty(), "{:?}", retrying.items);
}

#[tokio::test]
async fn records_from_before_the_log_read_list_page_and_retry_beside_new_ones() {
    // GIVEN six failed deliveries of one webhook, alternately kept as before and in the log
    let h = Harness::start().await;
    let store = h.store();
    let webhook_id = "wh_0190a0a0a0a07000800000000000cafe";
    // (sorted: ids made in one millisecond need not sort in the order made)
    let mut all: Vec<Delivery> = (0..6).map(|_| delivery(webhook_id, DeliveryStatus::Failed)).collect();
    all.sort_by(|a, b| a.delivery_id.cmp(&b.delivery_id));
    for (i, d) in all.iter().enumerate() {
        if i % 2 == 0 {
            write_as_before(&h, &store, d).await;
        } else {
            let write = DeliveryWrite { delivery: d.clone(), attempt: Some(first_attempt(500)) };
            store.write_deliveries(&[write]).await.expect("write");
        }
    }
    let old = all[0].clone();
    assert!(raw(&h, log_key(&old)).await.is_none() && raw(&h, own_key(&old)).await.is_some());

    // WHEN the log is paged two at a time THEN every delivery comes once, newest first
    let mut seen: Vec<String> = Vec::new();
    let mut start: Option<String> = None;
    for _ in 0..10 {
        let (items, next) = list(&store, webhook_id, 2, start.as_deref()).await;
        seen.extend(items.into_iter().map(|d| d.delivery_id));
        match next {
            Some(n) => start = Some(n),
            None => break,
        }
    }
    let newest_first: Vec<String> = all.iter().rev().map(|d| d.delivery_id.clone()).collect();
    assert_eq!(seen, newest_first);

    // AND one kept as before reads by id (its webhook found in its record), attempt and all
    let log = store.get_delivery(TENANT, &old.delivery_id, None).await.expect("read").expect("exists");
    assert_eq!((log.delivery.status, log.attempts), (DeliveryStatus::Failed, vec![first_attempt(500)]));

    // WHEN it is claimed for a retry THEN the claim starts its record in the log, once
    let at = "2026-11-23T10:00:00Z";
    assert!(store.claim_requeue(&log.delivery, 1_800_000_000, at).await.expect("claim"));
    assert!(!store.claim_requeue(&log.delivery, 1_800_000_001, at).await.expect("claim"), "claimed twice");
    // AND reads and listings show the newer round once, with the old attempt kept
    let log = store.get_delivery(TENANT, &old.delivery_id, None).await.expect("read").expect("exists");
    assert_eq!((log.delivery.status, log.delivery.generation), (DeliveryStatus::Pending, 1));
    assert_eq!(log.attempts, vec![first_attempt(500)]);
    let (listed, _) = list(&store, webhook_id, 10, None).await;
    let of_old: Vec<&Delivery> = listed.iter().filter(|d| d.delivery_id == old.delivery_id).collect();
    assert_eq!(of_old.len(), 1, "{listed:?}");
    assert_eq!((of_old[0].status, of_old[0].generation), (DeliveryStatus::Pending, 1));
    assert_eq!(listed.len(), 6);
}

#[tokio::test]
async fn an_oldest_first_read_for_failed_deliveries_that_stops_at_a_page_continues_from_a_delivery_id() {
    // GIVEN a webhook's log of 120 pages (deliveries delivered at once, a call each) and then a
    // failed delivery
    let h = Harness::start().await;
    let store = h.store();
    let webhook_id = "wh_0190a0a0a0a07000800000000000cafe";
    let since = ids::new_id(DELIVERY_PREFIX);
    for _ in 0..12 {
        let writes: Vec<DeliveryWrite> = (0..10)
            .flat_map(|_| of_one_call(webhook_id, 1, DeliveryStatus::Delivered))
            .map(|d| DeliveryWrite { delivery: d, attempt: Some(first_attempt(200)) })
            .collect();
        store.write_deliveries(&writes).await.expect("pages");
    }
    let failed = of_one_call(webhook_id, 1, DeliveryStatus::Failed).remove(0);
    store
        .write_deliveries(&[DeliveryWrite { delivery: failed.clone(), attempt: Some(first_attempt(500)) }])
        .await
        .expect("failed");

    // WHEN recover's read (oldest first, failed only, bounded) is followed from cursor to cursor
    let mut found = Vec::new();
    let mut start: Option<String> = None;
    for _ in 0..10 {
        let query = DeliveryQuery {
            tenant_id: TENANT,
            webhook_id,
            status: Some(DeliveryStatus::Failed),
            limit: 100,
            start_after: start.as_deref(),
            since_id: Some(&since),
            stale_claims_before: None,
        };
        let page = store.list_webhook_deliveries(&query).await.expect("list");
        found.extend(page.items.into_iter().map(|d| d.delivery_id));
        // THEN every cursor is a delivery id (the API takes no other), and the failed one is found
        match page.next {
            Some(next) => {
                assert!(ids::is_generated_id(&next, DELIVERY_PREFIX), "cursor {next:?}");
                start = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(found, vec![failed.delivery_id]);
}
