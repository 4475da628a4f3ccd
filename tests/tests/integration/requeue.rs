//! One retry, once: retry and recover claim a delivery (one conditional write from `failed`)
//! before they queue it, so concurrent calls send it once; a claim whose enqueue failed is
//! released, and one whose enqueue was lost (a crash) can be claimed again once stale.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use hookline_api::{App, router};
use hookline_shared::adapters::dynamo::DynamoStore;
use hookline_shared::adapters::sqs::SqsQueue;
use hookline_shared::domain::delivery::REQUEUE_CLAIM_STALE_SECONDS;
use hookline_shared::domain::settings::Settings;
use hookline_shared::domain::task::DeliveryTask;
use hookline_shared::ports::queue::{QueueError, TaskQueue};
use hookline_shared::ports::store::DeliveryStore;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;
use crate::receiver::{Answer, Receiver};

/// SQS, failing the next `fail_next` sends.
struct SwitchableQueue {
    inner: SqsQueue,
    fail_next: Arc<AtomicUsize>,
}

impl TaskQueue for SwitchableQueue {
    async fn enqueue(&self, tasks: &[DeliveryTask]) -> Result<(), QueueError> {
        if self.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(QueueError::Sqs { operation: "SendMessageBatch", message: "injected outage".into() });
        }
        self.inner.enqueue(tasks).await
    }
}

/// A stack whose queue can be made to fail, a receiver answering 500 `failures` times then 200,
/// its webhook, and the delivery function with one attempt a delivery.
async fn stack(failures: usize) -> (Harness, Receiver, String, Arc<AtomicUsize>) {
    let fail_next = Arc::new(AtomicUsize::new(0));
    let switch = fail_next.clone();
    let settings = Settings { allow_private_targets: true, ..Settings::default() };
    let h = Harness::start_with(settings, HashMap::new(), move |sdk, config| {
        let queue = SwitchableQueue {
            inner: SqsQueue::new(aws_sdk_sqs::Client::new(sdk), &config.delivery_queue_url),
            fail_next: switch,
        };
        let store = DynamoStore::connect(sdk, &config.table_name, &config.secrets_key);
        router(App::new(store, queue, config.settings.clone()))
    })
    .await;
    let mut answers = vec![Answer::status(500); failures];
    answers.push(Answer::status(200));
    let receiver = Receiver::start(answers).await;
    let webhook = h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    h.start_delivery(&[("HOOKLINE_MAX_ATTEMPTS", "1")]);
    (h, receiver, webhook["id"].as_str().expect("id").to_string(), fail_next)
}

/// Sends an event and waits for its delivery to fail; its id.
async fn failed_delivery(h: &Harness, n: usize) -> String {
    let reply = h.post("/v1/tenants/shop/events", json!({"topic": "order_create", "data": {"n": n}})).await;
    let id = reply.body["deliveries"][0]["id"].as_str().expect("delivery").to_string();
    h.delivery_with_status("shop", &id, "failed", Duration::from_secs(20)).await;
    id
}

/// Waits until the delivery queue holds nothing, visible or in flight.
async fn queue_settled(h: &Harness) {
    h.eventually("the delivery queue to empty", Duration::from_secs(20), || async {
        let visible = h.queue_attribute("DeliveryQueue", QueueAttributeName::ApproximateNumberOfMessages).await;
        let in_flight =
            h.queue_attribute("DeliveryQueue", QueueAttributeName::ApproximateNumberOfMessagesNotVisible).await;
        (visible == "0" && in_flight == "0").then_some(())
    })
    .await;
}

async fn concurrently(h: &Harness, n: usize, path: &str) -> Vec<(StatusCode, Value)> {
    let calls = (0..n).map(|_| h.post(path, json!({})));
    futures::future::join_all(calls).await.into_iter().map(|r| (r.status, r.body)).collect()
}

fn copies_of(receiver: &Receiver, delivery_id: &str) -> usize {
    receiver.received().iter().filter(|r| r.header("x-hookline-delivery-id") == delivery_id).count()
}

#[tokio::test]
async fn ten_concurrent_retries_of_a_failed_delivery_send_it_once() {
    // GIVEN a delivery that failed (the receiver answers 500 once, then 200)
    let (h, receiver, _, _) = stack(1).await;
    let id = failed_delivery(&h, 0).await;

    // WHEN ten retries of it arrive at once
    let answers = concurrently(&h, 10, &format!("/v1/tenants/shop/deliveries/{id}/retry")).await;

    // THEN one is accepted and nine get 409 delivery_not_failed
    let accepted = answers.iter().filter(|(s, _)| *s == StatusCode::ACCEPTED).count();
    assert_eq!(accepted, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::ACCEPTED) {
        assert_eq!((*status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("delivery_not_failed")));
    }
    // AND the receiver gets it once more: two copies in all, nothing left on the queue
    h.delivery_with_status("shop", &id, "delivered", Duration::from_secs(20)).await;
    queue_settled(&h).await;
    assert_eq!(copies_of(&receiver, &id), 2);
}

#[tokio::test]
async fn concurrent_recovers_send_each_failed_delivery_once() {
    // GIVEN three failed deliveries
    let (h, receiver, webhook_id, _) = stack(3).await;
    let since = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).expect("time");
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(failed_delivery(&h, n).await);
    }

    // WHEN five recovers (and a retry of the first) arrive at once
    let path = format!("/v1/tenants/shop/webhooks/{webhook_id}/recover?since={since}");
    let retry_path = format!("/v1/tenants/shop/deliveries/{}/retry", ids[0]);
    let retry = h.post(&retry_path, json!({}));
    let (answers, retried) = tokio::join!(concurrently(&h, 5, &path), retry);

    // THEN between them each delivery is requeued by exactly one call
    let mut requeued: Vec<String> = answers
        .iter()
        .inspect(|(s, b)| assert_eq!(*s, StatusCode::ACCEPTED, "{b}"))
        .flat_map(|(_, b)| {
            b["delivery_ids"].as_array().expect("ids").iter().map(|i| i.as_str().expect("id").to_string())
        })
        .collect();
    if retried.status == StatusCode::ACCEPTED {
        requeued.push(ids[0].clone());
    }
    requeued.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(requeued, expected, "each once");
    // AND the receiver gets each one copy more
    for id in &ids {
        h.delivery_with_status("shop", id, "delivered", Duration::from_secs(20)).await;
    }
    queue_settled(&h).await;
    for id in &ids {
        assert_eq!(copies_of(&receiver, id), 2, "{id}");
    }
}

#[tokio::test]
async fn a_retry_whose_enqueue_fails_leaves_the_delivery_failed_and_retryable() {
    // GIVEN a failed delivery, and a queue that fails the next send
    let (h, receiver, _, fail_next) = stack(1).await;
    let id = failed_delivery(&h, 0).await;
    fail_next.store(1, Ordering::SeqCst);

    // WHEN it is retried THEN the caller is told to try again and the claim is released
    let refused = h.post(&format!("/v1/tenants/shop/deliveries/{id}/retry"), json!({})).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"));
    let d = h.get(&format!("/v1/tenants/shop/deliveries/{id}")).await.body;
    assert_eq!(d["status"], "failed", "{d}");

    // AND the next retry sends it
    let retried = h.post(&format!("/v1/tenants/shop/deliveries/{id}/retry"), json!({})).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    h.delivery_with_status("shop", &id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(copies_of(&receiver, &id), 2);
}

#[tokio::test]
async fn a_claim_lost_before_its_enqueue_is_retried_once_stale_and_not_before() {
    // GIVEN two failed deliveries, each claimed by a retry that then crashed before queueing
    // it: one claim fresh, one older than the stale age
    let (h, receiver, webhook_id, _) = stack(2).await;
    let since = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).expect("time");
    let (fresh, stale) = (failed_delivery(&h, 0).await, failed_delivery(&h, 1).await);
    let store = h.store();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for (id, claimed_at) in [(&fresh, now - 5), (&stale, now - REQUEUE_CLAIM_STALE_SECONDS - 1)] {
        let seen = store.get_delivery("shop", id, Some(&webhook_id)).await.expect("read").expect("exists").delivery;
        assert!(store.claim_requeue(&seen, claimed_at, "2026-01-01T00:00:00Z").await.expect("claim"));
    }

    // WHEN both are retried THEN the fresh claim stands (409: it may be in flight)...
    let fresh_retry = h.post(&format!("/v1/tenants/shop/deliveries/{fresh}/retry"), json!({})).await;
    assert_eq!(fresh_retry.code(), "delivery_not_failed");
    // ...and the stale one is claimed again and sent
    let stale_retry = h.post(&format!("/v1/tenants/shop/deliveries/{stale}/retry"), json!({})).await;
    assert_eq!(stale_retry.status, StatusCode::ACCEPTED, "{}", stale_retry.body);
    h.delivery_with_status("shop", &stale, "delivered", Duration::from_secs(20)).await;

    // WHEN the fresh claim is stale too, recover finds it
    let seen = store.get_delivery("shop", &fresh, Some(&webhook_id)).await.expect("read").expect("exists").delivery;
    assert_eq!(seen.status, hookline_shared::domain::delivery::DeliveryStatus::Pending);
    h.dynamodb()
        .update_item()
        .table_name(&h.config.table_name)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("WEBHOOK#shop#{webhook_id}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(fresh.clone()))
        .update_expression("SET requeue_claimed_at = :old")
        .expression_attribute_values(
            ":old",
            aws_sdk_dynamodb::types::AttributeValue::N((now - REQUEUE_CLAIM_STALE_SECONDS - 1).to_string()),
        )
        .send()
        .await
        .expect("age the claim");
    let recovered = h.post(&format!("/v1/tenants/shop/webhooks/{webhook_id}/recover?since={since}"), json!({})).await;
    assert_eq!(recovered.body["delivery_ids"], json!([fresh]), "{}", recovered.body);
    h.delivery_with_status("shop", &fresh, "delivered", Duration::from_secs(20)).await;
    // AND each went out once more, nothing lost
    queue_settled(&h).await;
    let sent: BTreeSet<usize> = [copies_of(&receiver, &fresh), copies_of(&receiver, &stale)].into();
    assert_eq!(sent, BTreeSet::from([2]));
}
