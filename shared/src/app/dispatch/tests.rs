//! The delivery function's batch logic against the in-memory store and a scripted sender.

use std::time::Duration;

use super::*;
use crate::app::test_doubles::{MemoryQueue, MemoryStore, ScriptedSender, answer};
use crate::domain::settings::Settings;
use crate::domain::task::TASK_VERSION;

const SCHEDULE: &str = "30s,150s";

fn webhook(enabled: bool, consecutive_failures: u32) -> Webhook {
    serde_json::from_value(serde_json::json!({
        "id": "wh_1", "tenant_id": "acme", "name": "orders", "url": "https://example.com/hook",
        "topics": ["order_create"], "enabled": enabled, "secret": "whsec_0123456789abcdef",
        "consecutive_failures": consecutive_failures, "created_at": "", "updated_at": ""
    }))
    .expect("a stored webhook")
}

fn message(receive_count: u32) -> ReceivedMessage {
    let task = DeliveryTask::example();
    ReceivedMessage { message_id: "m-1".into(), body: task.to_message_body(), receive_count }
}

/// GIVEN a webhook and a receiver answering `answers`, WHEN one message of this attempt
/// is dispatched: its disposition, what was written, and the store and sender after.
async fn dispatch(
    webhook: Webhook,
    answers: Vec<crate::ports::sender::SendOutcome>,
    attempt: u32,
) -> (Disposition, Vec<DeliveryWrite>, Arc<ScriptedSender>, MemoryStore) {
    let sender = Arc::new(ScriptedSender::answering(answers));
    let dispatcher = Dispatcher {
        store: MemoryStore::with(vec![webhook]),
        sender: sender.clone(),
        signing: SigningSettings::from_settings(&Settings::default()),
        retry: RetryPolicy::new(SCHEDULE, 3, 0.0).expect("schedule"),
        queue: MemoryQueue::default(),
        circuit: CircuitSettings::default(),
    };
    let mut out = dispatcher.dispatch_batch(vec![message(attempt)]).await.dispositions;
    assert_eq!(out.len(), 1);
    let (id, disposition) = out.remove(0);
    assert_eq!(id, "m-1");
    let writes = dispatcher.store.writes();
    (disposition, writes, sender, dispatcher.store)
}

#[tokio::test]
async fn a_2xx_is_delivered_and_ends_a_run_of_failures() {
    let (disposition, writes, sender, store) = dispatch(webhook(true, 4), vec![answer(204, None)], 1).await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(writes[0].delivery.status, DeliveryStatus::Delivered);
    assert_eq!(writes[0].attempt.as_ref().and_then(|a| a.status_code), Some(204));
    assert_eq!(store.recorded.lock().expect("lock").resets, ["wh_1"]);
    let sent = sender.sent();
    assert_eq!(sent[0].url, "https://example.com/hook");
    assert!(sent[0].headers.iter().any(|(name, value)| name == "webhook-id" && value == "dlv_1"));
}

#[tokio::test]
async fn a_failure_retries_after_the_schedules_delay() {
    let (disposition, writes, _, store) = dispatch(webhook(true, 0), vec![answer(500, None)], 1).await;
    assert_eq!(disposition, Disposition::RetryIn(Duration::from_secs(30)));
    assert_eq!(writes[0].delivery.status, DeliveryStatus::Retrying);
    assert_eq!(writes[0].delivery.last_error.as_deref(), Some("HTTP 500"));
    assert!(writes[0].delivery.next_attempt_at.is_some());
    assert!(store.recorded.lock().expect("lock").resets.is_empty(), "no failures to reset");
    let (second, _, _, _) = dispatch(webhook(true, 0), vec![answer(503, None)], 2).await;
    assert_eq!(second, Disposition::RetryIn(Duration::from_secs(150)));
}

#[tokio::test]
async fn retry_after_lengthens_the_wait() {
    let (disposition, _, _, _) = dispatch(webhook(true, 0), vec![answer(429, Some(Duration::from_secs(600)))], 1).await;
    assert_eq!(disposition, Disposition::RetryIn(Duration::from_secs(600)));
}

#[tokio::test]
async fn the_last_attempt_failing_is_exhausted() {
    let (disposition, writes, _, _) = dispatch(webhook(true, 0), vec![answer(500, None)], 3).await;
    assert_eq!(disposition, Disposition::Exhausted);
    assert_eq!(writes[0].delivery.status, DeliveryStatus::Failed);
    assert_eq!(writes[0].delivery.attempt_count, 3);
}

#[tokio::test]
async fn a_410_disables_the_webhook() {
    let (disposition, writes, _, store) = dispatch(webhook(true, 0), vec![answer(410, None)], 1).await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(writes[0].delivery.status, DeliveryStatus::Failed);
    let disabled = &store.recorded.lock().expect("lock").disabled;
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0].0, "wh_1");
}

#[tokio::test]
async fn a_disabled_webhook_stops_its_delivery_unsent() {
    let (disposition, writes, sender, _) = dispatch(webhook(false, 0), vec![answer(200, None)], 1).await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(writes[0].delivery.last_error.as_deref(), Some("webhook disabled"));
    assert!(sender.sent().is_empty());
}

#[tokio::test]
async fn a_message_that_is_no_task_is_malformed() {
    let sender = Arc::new(ScriptedSender::default());
    let dispatcher = Dispatcher {
        store: MemoryStore::with(vec![webhook(true, 0)]),
        sender: sender.clone(),
        signing: SigningSettings::from_settings(&Settings::default()),
        retry: RetryPolicy::new(SCHEDULE, 3, 0.0).expect("schedule"),
        queue: MemoryQueue::default(),
        circuit: CircuitSettings::default(),
    };
    let mut newer = message(1);
    newer.body = newer.body.replacen(&format!("\"v\":{TASK_VERSION}"), "\"v\":99", 1);
    let garbage = ReceivedMessage { message_id: "m-2".into(), body: "not json".into(), receive_count: 1 };
    let out = dispatcher.dispatch_batch(vec![newer, garbage]).await;
    assert_eq!(out.tally.malformed, 2);
    let out = out.dispositions;
    assert_eq!(out, [("m-1".to_string(), Disposition::Malformed), ("m-2".to_string(), Disposition::Malformed)]);
    assert!(sender.sent().is_empty());
}

fn webhook_with_id(id: &str) -> Webhook {
    Webhook { id: id.into(), url: format!("https://{id}.example.com/hook"), ..webhook(true, 0) }
}

/// Message `message_id` of delivery `delivery_id` to webhook `webhook_id`, first attempt.
fn message_to(message_id: &str, webhook_id: &str, delivery_id: &str, receive_count: u32) -> ReceivedMessage {
    let task =
        DeliveryTask { webhook_id: webhook_id.into(), delivery_id: delivery_id.into(), ..DeliveryTask::example() };
    ReceivedMessage { message_id: message_id.into(), body: task.to_message_body(), receive_count }
}

fn dispatcher_over(store: MemoryStore, sender: Arc<ScriptedSender>) -> Dispatcher<MemoryStore, MemoryQueue> {
    Dispatcher {
        store,
        sender,
        signing: SigningSettings::from_settings(&Settings::default()),
        retry: RetryPolicy::new(SCHEDULE, 3, 0.0).expect("schedule"),
        queue: MemoryQueue::default(),
        circuit: CircuitSettings::default(),
    }
}

#[tokio::test]
async fn one_unreadable_webhook_holds_back_only_its_own_messages() {
    // GIVEN three webhooks, the item of wh_b unreadable, and a receiver answering 200
    let store = MemoryStore::with(vec![webhook_with_id("wh_a"), webhook_with_id("wh_b"), webhook_with_id("wh_c")]);
    store.unreadable_webhooks.lock().expect("lock").push("wh_b".into());
    let sender = Arc::new(ScriptedSender::answering([answer(200, None)]));
    let dispatcher = dispatcher_over(store, sender.clone());
    // WHEN a batch has a message for each, wh_b's on its first and on its last attempt
    let out = dispatcher
        .dispatch_batch(vec![
            message_to("m-a", "wh_a", "dlv_a", 1),
            message_to("m-b", "wh_b", "dlv_b", 1),
            message_to("m-b-last", "wh_b", "dlv_b2", 3),
            message_to("m-c", "wh_c", "dlv_c", 1),
        ])
        .await;
    // THEN the others are delivered, and wh_b's retry on the schedule or fail at the last
    let by_id: HashMap<String, Disposition> = out.dispositions.into_iter().collect();
    assert_eq!(by_id["m-a"], Disposition::Done);
    assert_eq!(by_id["m-c"], Disposition::Done);
    assert_eq!(by_id["m-b"], Disposition::RetryIn(Duration::from_secs(30)));
    assert_eq!(by_id["m-b-last"], Disposition::Exhausted);
    let mut urls: Vec<String> = sender.sent().into_iter().map(|r| r.url).collect();
    urls.sort();
    assert_eq!(urls, ["https://wh_a.example.com/hook", "https://wh_c.example.com/hook"]);
    // AND wh_b's deliveries say why, with no attempt counted for the request never made
    let writes = dispatcher.store.writes();
    let state = |id: &str| writes.iter().find(|w| w.delivery.delivery_id == id).expect("written").delivery.clone();
    let (retrying, failed) = (state("dlv_b"), state("dlv_b2"));
    assert_eq!((retrying.status, retrying.attempt_count), (DeliveryStatus::Retrying, 0));
    assert_eq!(retrying.last_error.as_deref(), Some("Hookline could not read the webhook"));
    assert!(retrying.next_attempt_at.is_some());
    assert_eq!((failed.status, failed.attempt_count), (DeliveryStatus::Failed, 2));
    assert_eq!(state("dlv_a").status, DeliveryStatus::Delivered);
    // AND the metrics line counts each outcome once, and two requests made with their latency
    let tally = &out.tally;
    assert_eq!((tally.delivered, tally.retrying, tally.failed, tally.stopped), (2, 1, 1, 0));
    assert_eq!((tally.attempts, tally.latencies_ms.len()), (2, 2));
}

#[tokio::test]
async fn a_form_webhooks_batch_goes_in_requests_of_at_most_max_form_batch_events() {
    // GIVEN a form webhook and a receiver answering 200
    let form = Webhook { format: PayloadFormat::Form, ..webhook_with_id("wh_f") };
    let sender = Arc::new(ScriptedSender::answering([answer(200, None)]));
    let dispatcher = dispatcher_over(MemoryStore::with(vec![form]), sender.clone());
    // WHEN one batch carries 25 of its deliveries
    let n = 2 * MAX_FORM_BATCH + 5;
    let messages = (0..n).map(|i| message_to(&format!("m-{i}"), "wh_f", &format!("dlv_{i}"), 1)).collect();
    let out = dispatcher.dispatch_batch(messages).await;
    // THEN they go in three requests of 10, 10 and 5 events, each delivery id in one of them
    assert!(out.dispositions.iter().all(|(_, d)| *d == Disposition::Done), "{:?}", out.dispositions);
    let listed: Vec<Vec<String>> = sender
        .sent()
        .iter()
        .map(|r| {
            let (_, ids) = r.headers.iter().find(|(k, _)| k.ends_with("-delivery-id")).expect("delivery ids header");
            ids.split(',').map(str::to_string).collect()
        })
        .collect();
    let mut sizes: Vec<usize> = listed.iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [5, MAX_FORM_BATCH, MAX_FORM_BATCH]);
    let mut ids: Vec<String> = listed.concat();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
}

#[tokio::test]
async fn a_store_error_on_the_batched_read_does_not_hold_the_batch_back() {
    // GIVEN two webhooks and a store whose next read of several webhooks fails
    let store = MemoryStore::with(vec![webhook_with_id("wh_a"), webhook_with_id("wh_c")]);
    *store.failing_batch_reads.lock().expect("lock") = 1;
    let sender = Arc::new(ScriptedSender::answering([answer(200, None)]));
    let dispatcher = dispatcher_over(store, sender.clone());
    // WHEN a batch has a message for each
    let out = dispatcher
        .dispatch_batch(vec![message_to("m-a", "wh_a", "dlv_a", 1), message_to("m-c", "wh_c", "dlv_c", 1)])
        .await
        .dispositions;
    // THEN each webhook is read alone and both are delivered
    assert_eq!(out, [("m-a".to_string(), Disposition::Done), ("m-c".to_string(), Disposition::Done)]);
    assert_eq!(sender.sent().len(), 2);
}

#[tokio::test]
async fn an_unreadable_message_marks_its_delivery_failed_and_goes_on_to_the_dead_letter_queue() {
    use crate::domain::ids::{DELIVERY_PREFIX, WEBHOOK_PREFIX};
    use crate::domain::json_depth::tests::nested;
    use crate::domain::limits::MAX_PAYLOAD_DEPTH;
    let sender = Arc::new(ScriptedSender::answering([answer(200, None)]));
    let dispatcher = dispatcher_over(MemoryStore::with(vec![webhook(true, 0)]), sender.clone());
    // GIVEN messages no code reads as a task: too deep, of another version, only ids (these
    // three with ids Hookline makes), and not JSON; and one good message
    let real = |n: u8| {
        let delivery_id = format!("{DELIVERY_PREFIX}{}", format!("{n:x}").repeat(32));
        let webhook_id = format!("{WEBHOOK_PREFIX}{}", "a".repeat(32));
        DeliveryTask { delivery_id, webhook_id, ..DeliveryTask::example() }
    };
    let mut deep = real(1);
    Arc::make_mut(&mut deep.payload).data = nested(MAX_PAYLOAD_DEPTH + 1).as_object().cloned().expect("obj");
    let newer = real(2).to_message_body().replacen(&format!("\"v\":{TASK_VERSION}"), "\"v\":7", 1);
    let t = real(3);
    let ids_only =
        serde_json::json!({"tenant_id": t.tenant_id, "delivery_id": t.delivery_id, "webhook_id": t.webhook_id});
    let msg = |id: &str, body: String| ReceivedMessage { message_id: id.into(), body, receive_count: 1 };
    let batch = vec![
        msg("deep", deep.to_message_body()),
        msg("newer", newer),
        msg("ids-only", ids_only.to_string()),
        msg("garbage", "{\"v\":1,".into()),
        message(1),
    ];
    // WHEN the batch is dispatched
    let out: HashMap<String, Disposition> = dispatcher.dispatch_batch(batch).await.dispositions.into_iter().collect();
    // THEN each unreadable message fails (the redrive takes it to the DLQ), the good one is sent
    for id in ["deep", "newer", "ids-only", "garbage"] {
        assert_eq!(out[id], Disposition::Malformed, "{id}");
    }
    assert_eq!(out["m-1"], Disposition::Done);
    assert_eq!(sender.sent().len(), 1);
    // AND the three deliveries with ids are marked failed, each with its reason
    let marked = dispatcher.store.recorded.lock().expect("lock").unreadable.clone();
    let reason = |d: &DeliveryTask| marked.iter().find(|(id, _)| *id == d.delivery_id).map(|(_, r)| r.clone());
    assert!(
        reason(&deep).is_some_and(|r| r.contains(&format!("(event context and data at most {MAX_PAYLOAD_DEPTH})")))
    );
    assert!(reason(&real(2)).is_some_and(|r| r.contains("unknown message version 7")));
    assert!(reason(&t).is_some_and(|r| r.contains("missing field")));
    assert_eq!(marked.len(), 3);
}

/// Message `id` of a delivery created now (so within any circuit's bound), after `made` attempts.
fn fresh(id: &str, made: u32) -> ReceivedMessage {
    let task = DeliveryTask {
        delivery_id: format!("dlv_{id}"),
        created_at: timestamp::format(timestamp::now()),
        attempts_made: made,
        ..DeliveryTask::example()
    };
    ReceivedMessage { message_id: id.into(), body: task.to_message_body(), receive_count: 1 }
}

fn timeout() -> crate::ports::sender::SendOutcome {
    crate::ports::sender::SendOutcome { status: None, error: Some(SendFailure::Timeout), ..SendOutcome::not_sent() }
}

#[tokio::test]
async fn a_batch_over_the_webhooks_rate_sends_what_fits_and_carries_the_rest_on_without_an_attempt() {
    // GIVEN a webhook limited to 2 a second and a batch of 4, one of them after 2 attempts
    let limited = Webhook { max_per_second: Some(2), ..webhook(true, 0) };
    let sender = Arc::new(ScriptedSender::answering([answer(200, None)]));
    let dispatcher = dispatcher_over(MemoryStore::with(vec![limited]), sender.clone());
    let batch = vec![fresh("a", 2), fresh("b", 0), fresh("c", 0), fresh("d", 1)];
    // WHEN it is dispatched
    let out = dispatcher.dispatch_batch(batch).await;
    // THEN 2 are sent (the first numbered attempt 3: its attempts made and this receive)
    assert_eq!(sender.sent().len(), 2);
    let attempts: Vec<u32> =
        dispatcher.store.writes().iter().filter_map(|w| w.attempt.as_ref().map(|a| a.attempt)).collect();
    assert_eq!(attempts, [3, 1]);
    // AND the other 2 are carried on as new messages a second later, their attempts made kept
    // (this receive made none), and nothing written for them
    let dispositions: HashMap<String, Disposition> = out.dispositions.into_iter().collect();
    assert_eq!((dispositions["c"], dispositions["d"]), (Disposition::Deferred, Disposition::Deferred));
    let deferred = dispatcher.queue.deferred.lock().expect("lock").clone();
    let carried: Vec<(&str, u32, Duration)> =
        deferred.iter().map(|(t, d)| (t.delivery_id.as_str(), t.attempts_made, *d)).collect();
    assert_eq!(carried, [("dlv_c", 0, Duration::from_secs(1)), ("dlv_d", 1, Duration::from_secs(1))]);
    assert_eq!((out.tally.deferred, out.tally.attempts), (2, 2));
}

#[tokio::test]
async fn held_back_messages_that_cannot_be_carried_on_come_back_by_their_visibility() {
    // GIVEN a webhook limited to 1 a second and a queue that refuses new messages
    let limited = Webhook { max_per_second: Some(1), ..webhook(true, 0) };
    let sender = Arc::new(ScriptedSender::answering([answer(200, None)]));
    let mut dispatcher = dispatcher_over(MemoryStore::with(vec![limited]), sender.clone());
    dispatcher.queue.failing = true;
    // WHEN two messages come THEN one is sent and the other retried, not lost
    let out = dispatcher.dispatch_batch(vec![fresh("a", 0), fresh("b", 0)]).await.dispositions;
    assert_eq!(out[1], ("b".to_string(), Disposition::RetryIn(Duration::from_secs(1))));
    assert_eq!(sender.sent().len(), 1);
}

#[tokio::test]
async fn timeouts_open_the_endpoints_circuit_which_holds_back_then_probes_and_closes() {
    // GIVEN a circuit opening after 2 timeouts in a row, for a minute
    let sender = Arc::new(ScriptedSender::answering([timeout(), timeout(), answer(200, None)]));
    let mut dispatcher = dispatcher_over(MemoryStore::with(vec![webhook(true, 0)]), sender.clone());
    dispatcher.circuit = CircuitSettings { failures_to_open: 2, cooldown: Duration::from_secs(60) };
    let endpoint = ("acme".to_string(), "https://example.com".to_string());
    // WHEN two deliveries time out
    dispatcher.dispatch_batch(vec![fresh("a", 0)]).await;
    dispatcher.dispatch_batch(vec![fresh("b", 0)]).await;
    let circuit = dispatcher.store.gates.lock().expect("lock").circuits[&endpoint];
    // THEN the circuit is open for the cooldown
    assert_eq!(circuit.failures, 2);
    assert!(circuit.open_until_ms.is_some());
    // AND the next delivery is held back without a request, for about the cooldown
    let out = dispatcher.dispatch_batch(vec![fresh("c", 0)]).await.dispositions;
    assert_eq!(out, [("c".to_string(), Disposition::Deferred)]);
    assert_eq!(sender.sent().len(), 2);
    let (_, wait) = dispatcher.queue.deferred.lock().expect("lock")[0].clone();
    assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60), "{wait:?}");
    // WHEN the cooldown is over THEN one of two deliveries goes as the probe, the other waits
    dispatcher.store.gates.lock().expect("lock").circuits.get_mut(&endpoint).expect("circuit").open_until_ms = Some(0);
    let out: HashMap<String, Disposition> =
        dispatcher.dispatch_batch(vec![fresh("d", 0), fresh("e", 0)]).await.dispositions.into_iter().collect();
    assert_eq!((out["d"], out["e"]), (Disposition::Done, Disposition::Deferred));
    // AND its answer closes the circuit
    assert_eq!(sender.sent().len(), 3);
    assert!(dispatcher.store.gates.lock().expect("lock").circuits.is_empty());
}

#[tokio::test]
async fn a_delivery_whose_state_cannot_be_written_comes_back_to_be_recorded() {
    // GIVEN a receiver answering 200 and a store whose next write of delivery states fails
    let store = MemoryStore::with(vec![webhook(true, 0)]);
    *store.failing_delivery_writes.lock().expect("lock") = 1;
    let dispatcher = dispatcher_over(store, Arc::new(ScriptedSender::answering(vec![answer(200, None)])));
    // WHEN its message is dispatched
    let out = dispatcher.dispatch_batch(vec![message(1)]).await.dispositions;
    // THEN it is not finished (it would stay `pending` for good): it comes back soon, to be
    // sent again and recorded
    assert_eq!(out, [("m-1".to_string(), Disposition::RetryIn(UNRECORDED_RETRY))]);
    assert!(dispatcher.store.writes().is_empty());
}
