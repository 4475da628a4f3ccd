//! Issue 17, item 1: no accepted event is lost to its shape. An event as deep as ingest allows
//! is delivered in every format; one deeper is refused and changes nothing; and a queue
//! message that no function can read (put on either queue by hand) is never dropped silently:
//! its delivery is marked `failed` with the reason and counted and alerted like any dead
//! letter, or, without ids, logged and counted in a metric (unit-tested) and let go. Also
//! item 7: one unreadable webhook item holds back only its own deliveries.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use hookline_shared::domain::event::EventPayload;
use hookline_shared::domain::ids::{self, DELIVERY_PREFIX, EVENT_PREFIX};
use hookline_shared::domain::json_depth::text_depth;
use hookline_shared::domain::limits::MAX_PAYLOAD_DEPTH;
use hookline_shared::domain::settings::Settings;
use hookline_shared::domain::task::{DeliveryTask, TASK_VERSION};
use hookline_shared::domain::timestamp;
use hookline_shared::ports::store::DeliveryStore;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;
use crate::receiver::{Answer, Receiver};

/// An object nesting `depth` levels (itself the first), the innermost an array.
fn nested(depth: usize) -> Value {
    let mut v = json!([1]);
    for _ in 1..depth {
        v = json!({ "a": v });
    }
    v
}

/// The JSON a receiver got: the body, or a `form` body's `data` field.
fn received_json(body: &[u8]) -> String {
    match url::form_urlencoded::parse(body).find(|(k, _)| k == "data") {
        Some((_, json)) if body.starts_with(b"data=") => json.into_owned(),
        _ => String::from_utf8(body.to_vec()).expect("utf-8"),
    }
}

#[tokio::test]
async fn an_event_at_the_depth_limit_is_delivered_in_every_format_and_one_past_it_is_refused() {
    // GIVEN a flat, an envelope and a form webhook on one receiver
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let mut webhook_ids = Vec::new();
    for options in [json!({}), json!({"format": "envelope"}), json!({"format": "form", "form_key": "events"})] {
        let mut body = json!({"name": "deep", "url": receiver.url, "topics": ["order_create"]});
        for (k, v) in options.as_object().expect("object") {
            body[k] = v.clone();
        }
        let reply = h.post("/v1/tenants/shop/webhooks", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        webhook_ids.push(reply.body["id"].as_str().expect("id").to_string());
    }
    h.start_delivery(&[]);

    // WHEN an event whose context and data nest as deep as allowed is sent (and one less)
    for depth in [MAX_PAYLOAD_DEPTH - 1, MAX_PAYLOAD_DEPTH] {
        let event = json!({"topic": "order_create", "context": nested(depth), "data": nested(depth)});
        let reply = h.post("/v1/tenants/shop/events", event).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "depth {depth}: {}", reply.body);
        // THEN each of its three deliveries is delivered, with the whole event
        let deliveries = reply.body["deliveries"].as_array().expect("deliveries").clone();
        assert_eq!(deliveries.len(), 3);
        for d in &deliveries {
            let id = d["id"].as_str().expect("id");
            h.delivery_with_status("shop", id, "delivered", Duration::from_secs(30)).await;
        }
    }
    let got = receiver.wait_for(6, Duration::from_secs(20)).await;
    let deepest = got.iter().map(|r| text_depth(received_json(&r.body).as_bytes())).max();
    // (a form body wraps the event in its key's list: two levels)
    assert_eq!(deepest, Some(MAX_PAYLOAD_DEPTH + 2));
    for r in &got {
        serde_json::from_str::<Value>(&received_json(&r.body)).expect("the receiver can parse it");
    }
    // AND a test send at the limit goes out too
    let test_path = format!("/v1/tenants/shop/webhooks/{}/test", webhook_ids[2]);
    let sent = h.post(&test_path, json!({"payload": {"data": nested(MAX_PAYLOAD_DEPTH)}})).await;
    assert_eq!((sent.status, &sent.body["ok"]), (StatusCode::OK, &json!(true)), "{}", sent.body);

    // WHEN events nest one level deeper in data or context, or far past what any parser
    // reads (the 126 levels, and 200), or a test send does
    let items = h.item_count().await;
    let received = receiver.received().len();
    let refused = [
        ("/v1/tenants/shop/events", json!({"topic": "order_create", "data": nested(MAX_PAYLOAD_DEPTH + 1)})),
        (
            "/v1/tenants/shop/events",
            json!({"topic": "order_create", "context": nested(MAX_PAYLOAD_DEPTH + 1), "data": {}}),
        ),
        ("/v1/tenants/shop/events", json!({"topic": "order_create", "data": nested(126)})),
        ("/v1/tenants/shop/events", json!({"topic": "order_create", "data": nested(200)})),
        (test_path.as_str(), json!({"payload": {"data": nested(MAX_PAYLOAD_DEPTH + 1)}})),
    ];
    for (path, body) in refused {
        let reply = h.post(path, body).await;
        // THEN each is a 400 invalid_payload naming the limit
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_payload"), "{}", reply.body);
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("at most {MAX_PAYLOAD_DEPTH}")), "{message}");
    }
    // AND nothing was stored (no event, no delivery: so nothing queued) or sent
    assert_eq!(h.item_count().await, items);
    assert_eq!(receiver.received().len(), received);
}

/// A stack whose deliveries get 2 attempts 1 s apart, alert "minutes" of 1 s, and a webhook
/// of tenant `shop` to `url` with a stakeholder of this test's own (returned).
async fn alerting_stack(url: &str, run_delivery: bool) -> (Harness, String, String) {
    let settings = Settings { allow_private_targets: true, ..Settings::default() };
    let overrides = HashMap::from([("MaxReceiveCount".to_string(), "2".to_string())]);
    let h = Harness::start_with(settings, overrides, |sdk, config| {
        hookline_api::router(hookline_api::AwsApp::from_config(sdk, config))
    })
    .await;
    if run_delivery {
        h.start_delivery(&[
            ("HOOKLINE_MAX_ATTEMPTS", "2"),
            ("HOOKLINE_RETRY_SCHEDULE", "1s"),
            ("HOOKLINE_RETRY_JITTER", "0"),
        ]);
    }
    h.start_alerts(&[("HOOKLINE_ALERT_MINUTE_MS", "1000")]).await;
    let ops = format!("ops-{}@example.com", h.config.table_name.to_lowercase());
    let body = json!({"name": "Orders", "url": url, "topics": ["order_create"], "alert_emails": [ops],
                      "alert_interval_minutes": 1});
    let reply = h.post("/v1/tenants/shop/webhooks", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let webhook_id = reply.body["id"].as_str().expect("id").to_string();
    // Alerts go only to addresses that opted in.
    h.confirm_recipient(&ops).await;
    (h, webhook_id, ops)
}

/// A pending delivery of a new event to `webhook_id`, its record stored as a retry that
/// finishes an interrupted ingest stores it (no message queued): the test queues its own.
async fn pending_delivery(h: &Harness, webhook_id: &str) -> DeliveryTask {
    let task = queued_task(webhook_id);
    let store = h.store();
    store.put_deliveries(&[task.pending_delivery()], false).await.expect("store the delivery");
    task
}

/// The queue message of a delivery of a new event to `webhook_id`, nothing stored.
fn queued_task(webhook_id: &str) -> DeliveryTask {
    let now = timestamp::format(timestamp::now());
    DeliveryTask {
        v: TASK_VERSION,
        tenant_id: "shop".into(),
        delivery_id: ids::new_id(DELIVERY_PREFIX),
        webhook_id: webhook_id.into(),
        event_id: ids::new_id(EVENT_PREFIX),
        topic: "order_create".into(),
        occurred_at: now.clone(),
        created_at: now,
        expires_at: time::OffsetDateTime::now_utc().unix_timestamp() + 3600,
        generation: 0,
        attempts_made: 0,
        payload: EventPayload { context: serde_json::Map::new(), data: serde_json::Map::new() }.into(),
    }
}

/// Hand-made unreadable messages for three pending deliveries to `webhook_id` (too deep, of
/// another version, only ids) and one without ids (not JSON); the three deliveries' ids and
/// the reason each must record.
async fn unreadable_messages(h: &Harness, webhook_id: &str) -> (Vec<String>, Vec<(String, &'static str)>) {
    // The event: data 126 levels deep makes a message deeper than the parser reads.
    let mut deep = pending_delivery(h, webhook_id).await;
    std::sync::Arc::make_mut(&mut deep.payload).data = nested(126).as_object().cloned().expect("object");
    let newer = pending_delivery(h, webhook_id).await;
    let newer_body = newer.to_message_body().replacen(&format!("\"v\":{TASK_VERSION}"), "\"v\":2", 1);
    let bare = pending_delivery(h, webhook_id).await;
    let ids_only = json!({"tenant_id": "shop", "delivery_id": bare.delivery_id, "webhook_id": webhook_id});
    let bodies =
        vec![deep.to_message_body(), newer_body, ids_only.to_string(), "{\"v\": 1, \"tenant_id\": \"sh".into()];
    let expected = vec![
        (deep.delivery_id, "the queued message nests 128 levels deep"),
        (newer.delivery_id, "unknown message version 2"),
        (bare.delivery_id, "missing field"),
    ];
    (bodies, expected)
}

async fn send_messages(h: &Harness, logical_id: &str, bodies: Vec<String>) {
    let url = h.stack.queue(logical_id).expect("queue").url.clone();
    let entries = bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| SendMessageBatchRequestEntry::builder().id(format!("m{i}")).message_body(body).build())
        .collect::<Result<Vec<_>, _>>()
        .expect("entries");
    let out = h.sqs().send_message_batch().queue_url(url).set_entries(Some(entries)).send().await.expect("send");
    assert!(out.failed.is_empty(), "{:?}", out.failed);
}

/// Waits until a queue of the stack holds no message, visible or not.
async fn wait_empty(h: &Harness, logical_id: &str) {
    h.eventually(&format!("{logical_id} to be empty"), Duration::from_secs(30), || async {
        let visible = h.queue_attribute(logical_id, QueueAttributeName::ApproximateNumberOfMessages).await;
        let hidden = h.queue_attribute(logical_id, QueueAttributeName::ApproximateNumberOfMessagesNotVisible).await;
        (visible == "0" && hidden == "0").then_some(())
    })
    .await
}

/// THEN each delivery with ids is failed with its reason, counted once against its webhook,
/// and e-mailed; and the message without ids has left the dead-letter queue.
async fn assert_failed_counted_and_alerted(h: &Harness, webhook_id: &str, ops: &str, expected: &[(String, &str)]) {
    for (delivery_id, reason) in expected {
        let d = h.delivery_with_status("shop", delivery_id, "failed", Duration::from_secs(30)).await;
        let error = d["last_error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{delivery_id}: {error:?} says {reason:?}");
    }
    let webhook_path = format!("/v1/tenants/shop/webhooks/{webhook_id}");
    let w = h
        .eventually("3 counted failures", Duration::from_secs(30), || async {
            let w = h.get(&webhook_path).await.body;
            (w["consecutive_failures"] == 3).then_some(w)
        })
        .await;
    assert_eq!(w["consecutive_failures"], 3, "{w}");
    let mails = h
        .eventually("the alert to tell all three", Duration::from_secs(30), || async {
            let mails = h.emails_to(ops).await;
            let told = |id: &str| mails.iter().any(|(_, body)| body.contains(id));
            expected.iter().all(|(id, _)| told(id)).then_some(mails)
        })
        .await;
    assert!(mails.iter().all(|(subject, _)| subject.contains("is failing")));
    wait_empty(h, "DeliveryDeadLetterQueue").await;
}

#[tokio::test]
async fn unreadable_messages_on_the_delivery_queue_are_failed_counted_and_alerted_not_lost() {
    // GIVEN the delivery and alert functions, and a webhook with a stakeholder
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let (h, webhook_id, ops) = alerting_stack(&receiver.url, true).await;
    // WHEN unreadable messages are put on the delivery queue
    let (bodies, expected) = unreadable_messages(&h, &webhook_id).await;
    send_messages(&h, "DeliveryQueue", bodies).await;
    // THEN none is sent, and each leaves the delivery queue (after its receives, to the DLQ)
    wait_empty(&h, "DeliveryQueue").await;
    assert_failed_counted_and_alerted(&h, &webhook_id, &ops, &expected).await;
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn unreadable_messages_on_the_dead_letter_queue_are_failed_counted_and_alerted_not_lost() {
    // GIVEN the alert function only, and a webhook with a stakeholder
    let (h, webhook_id, ops) = alerting_stack("https://orders.example.com/hook", false).await;
    // WHEN unreadable messages are put on the dead-letter queue
    let (bodies, expected) = unreadable_messages(&h, &webhook_id).await;
    send_messages(&h, "DeliveryDeadLetterQueue", bodies).await;
    // THEN the deliveries are failed with the reasons, counted and alerted, and the queue empties
    assert_failed_counted_and_alerted(&h, &webhook_id, &ops, &expected).await;
}

#[tokio::test]
async fn a_dead_letter_whose_delivery_was_never_recorded_is_recorded_failed_counted_and_alerted() {
    // GIVEN the alert function only, a webhook with a stakeholder, and an event ingested for it,
    // its delivery queued with no record (ingest writes none; here every state write of its
    // attempts failed, so its message reaches the dead-letter queue as it was queued)
    let (h, webhook_id, ops) = alerting_stack("https://orders.example.com/hook", false).await;
    let reply = h.post("/v1/tenants/shop/events", json!({"topic": "order_create", "data": {}})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let delivery_id = reply.body["deliveries"][0]["id"].as_str().expect("a delivery").to_string();
    assert!(h.store().get_delivery("shop", &delivery_id, Some(&webhook_id)).await.expect("read").is_none());
    let queued = h.drain_queue_raw("DeliveryQueue").await;
    assert_eq!(queued.len(), 1);
    // WHEN its message reaches the dead-letter queue
    send_messages(&h, "DeliveryDeadLetterQueue", queued).await;
    // THEN the delivery is recorded failed, counted once against its webhook, and e-mailed
    let d = h.delivery_with_status("shop", &delivery_id, "failed", Duration::from_secs(30)).await;
    assert_eq!(d["webhook_id"], webhook_id.as_str(), "{d}");
    let webhook_path = format!("/v1/tenants/shop/webhooks/{webhook_id}");
    h.eventually("1 counted failure", Duration::from_secs(30), || async {
        (h.get(&webhook_path).await.body["consecutive_failures"] == 1).then_some(())
    })
    .await;
    h.eventually("the alert to tell it", Duration::from_secs(30), || async {
        h.emails_to(&ops).await.iter().any(|(_, body)| body.contains(&delivery_id)).then_some(())
    })
    .await;
    wait_empty(&h, "DeliveryDeadLetterQueue").await;
    // AND it is in its webhook's log
    let log = h.get(&format!("{webhook_path}/deliveries")).await.body;
    assert_eq!(log["data"][0]["id"], delivery_id.as_str(), "{log}");
}

#[tokio::test]
async fn a_webhook_item_that_cannot_be_read_holds_back_only_its_own_deliveries() {
    // GIVEN two webhooks, the item of one made unreadable by hand (its url a number)
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let (h, broken, _) = alerting_stack("https://orders.example.com/hook", false).await;
    let good = h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
    let good = good["id"].as_str().expect("id").to_string();
    h.dynamodb()
        .update_item()
        .table_name(&h.config.table_name)
        .key("pk", AttributeValue::S("TENANT#shop".into()))
        .key("sk", AttributeValue::S(format!("WEBHOOK#{broken}")))
        .update_expression("SET #url = :n")
        .expression_attribute_names("#url", "url")
        .expression_attribute_values(":n", AttributeValue::N("7".into()))
        .send()
        .await
        .expect("corrupt the item");
    // AND a delivery to each, queued before the delivery function runs (so in one batch)
    let (to_good, to_broken) = (pending_delivery(&h, &good).await, pending_delivery(&h, &broken).await);
    send_messages(&h, "DeliveryQueue", vec![to_good.to_message_body(), to_broken.to_message_body()]).await;

    // WHEN the delivery function takes the batch
    h.start_delivery(&[
        ("HOOKLINE_MAX_ATTEMPTS", "2"),
        ("HOOKLINE_RETRY_SCHEDULE", "1s"),
        ("HOOKLINE_RETRY_JITTER", "0"),
    ]);

    // THEN the good webhook's delivery is delivered
    h.delivery_with_status("shop", &to_good.delivery_id, "delivered", Duration::from_secs(30)).await;
    assert_eq!(receiver.received().len(), 1);
    // AND the other's retries on the schedule, saying why, then fails after its last attempt
    let d = h.delivery_with_status("shop", &to_broken.delivery_id, "failed", Duration::from_secs(30)).await;
    assert_eq!(d["last_error"], "Hookline could not read the webhook");
    assert_eq!(d["attempt_count"], 1, "no request was made on the last attempt");
}

#[tokio::test]
async fn the_store_marks_an_unreadable_messages_delivery_only_in_its_round_and_never_a_delivered_one() {
    use hookline_shared::domain::delivery::{DeliveryStatus, DeliveryWrite};
    use hookline_shared::domain::task::TaskIds;
    use hookline_shared::ports::store::{AlertStore, DeadLetterCount, DeadLetterKey};
    // GIVEN a webhook with a pending, a delivered, and a round-1 delivery
    let (h, webhook_id, _) = alerting_stack("https://orders.example.com/hook", false).await;
    let store = h.store();
    let (pending, delivered, later) = (
        pending_delivery(&h, &webhook_id).await,
        pending_delivery(&h, &webhook_id).await,
        pending_delivery(&h, &webhook_id).await,
    );
    let now = timestamp::format(timestamp::now());
    let write = |task: &DeliveryTask, status, generation| DeliveryWrite {
        delivery: DeliveryTask { generation, ..task.clone() }.delivery(status, 1, None, None, now.clone()),
        attempt: None,
    };
    // (the pending one in its webhook's log too, as the alert function writes one it counts)
    let in_log = DeliveryWrite { delivery: pending.pending_delivery(), attempt: None };
    let writes = [in_log, write(&delivered, DeliveryStatus::Delivered, 0), write(&later, DeliveryStatus::Retrying, 1)];
    store.write_deliveries(&writes).await.expect("write");
    let ids = |task: &DeliveryTask| TaskIds {
        tenant_id: "shop".into(),
        delivery_id: task.delivery_id.clone(),
        webhook_id: webhook_id.clone(),
        generation: 0,
    };
    let status = async |task: &DeliveryTask| {
        let log =
            store.get_delivery("shop", &task.delivery_id, Some(&webhook_id)).await.expect("read").expect("exists");
        (log.delivery.status, log.delivery.last_error)
    };

    // WHEN each is marked for an unreadable message of round 0 (and one that does not exist)
    let marked = [
        store.mark_unreadable(&ids(&pending), "bad message", &now).await.expect("mark"),
        store.mark_unreadable(&ids(&delivered), "bad message", &now).await.expect("mark"),
        store.mark_unreadable(&ids(&later), "bad message", &now).await.expect("mark"),
    ];
    let gone = TaskIds { delivery_id: ids::new_id(DELIVERY_PREFIX), ..ids(&pending) };
    // THEN only the pending one of round 0 is failed with the reason
    assert_eq!(marked, [true, false, false]);
    assert!(!store.mark_unreadable(&gone, "bad message", &now).await.expect("mark"), "no record is made up");
    assert_eq!(status(&pending).await, (DeliveryStatus::Failed, Some("bad message".into())));
    assert_eq!(status(&delivered).await, (DeliveryStatus::Delivered, None));
    assert_eq!(status(&later).await.0, DeliveryStatus::Retrying);
    let gone_log = store.get_delivery("shop", &gone.delivery_id, Some(&webhook_id)).await.expect("read");
    assert!(gone_log.is_none());

    // WHEN the dead letter of the unreadable message is counted with its reason
    let reason = "unknown message version 2 (this code reads 1)";
    let dead = DeadLetterKey {
        tenant_id: "shop",
        webhook_id: &webhook_id,
        delivery_id: &pending.delivery_id,
        generation: 0,
        unreadable: Some(reason),
    };
    let counted = store.count_dead_letter(&dead, &now).await.expect("count");
    // THEN the reason is the delivery's last error and the webhook's pending one
    let DeadLetterCount::Counted { webhook, .. } = counted else { panic!("counted: {counted:?}") };
    assert_eq!(webhook.pending_last_error.as_deref(), Some(reason));
    assert_eq!(status(&pending).await, (DeliveryStatus::Failed, Some(reason.into())));
}
