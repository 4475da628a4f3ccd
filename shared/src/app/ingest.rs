//! Event ingest: fan each event out to the tenant's subscribed webhooks and queue one delivery
//! per webhook. One call takes one event (`POST …/events`) or a batch (`POST …/events/batch`):
//! a batch shares the quota take, the fan-out read, the list of its events, packed queue sends
//! and the marker, so its cost per event is the event's own write (decision 44: no delivery
//! record is written here; a delivery's first state write makes it, and until then it is read
//! through its call's list and its event: `manage_deliveries::unattempted_delivery`).
//!
//! Crash safety, step by step (each line that talks to AWS):
//! 1. each event is written with its chosen deliveries, state `accepted` and the call's
//!    `ingest_id` (conditional on its id being new), and beside them the call's list of its
//!    events (what leads a delivery id to its event). A crash before this stores nothing (or a
//!    list nothing refers to); the caller got no 202 and retries.
//! 2. the delivery messages are sent. 3. the call's marker `ingest_id` is written (one write
//!    for every event of the call: nothing rewrites an event only to flip its state), and only
//!    then does the caller get its 202.
//!    A crash (or error) after 1 leaves `accepted` events without a marker; the caller got no
//!    202 and retries with the same event ids, which writes the delivery records chosen the
//!    first time (if absent: the first call's list may not have been written), sends them
//!    again and marks each event it finished `enqueued` (the retry may carry only some of
//!    the first call's events: only all of them may write its marker). Messages may then be
//!    sent twice: delivery is at-least-once and receivers dedupe on the delivery id, which is
//!    the same in both.
//!
//! An event posted again after its call's marker exists (or once it is `enqueued`) is answered
//! with the first result and changes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use time::Duration;

use crate::app::manage_webhooks::tenant_not_found;
use crate::app::quota;
use crate::domain::delivery::Delivery;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::event::{DeliveryRef, EventPayload, EventRecord, EventRequest, EventState, IngestResult, NewEvent};
use crate::domain::ids;
use crate::domain::limits::{MAX_BATCH_EVENTS, MAX_WEBHOOKS_PER_TENANT};
use crate::domain::quota::QuotaKind;
use crate::domain::settings::Settings;
use crate::domain::task::DeliveryTask;
use crate::domain::webhook::Webhook;
use crate::domain::{filter, timestamp};
use crate::outbound::render;
use crate::ports::queue::TaskQueue;
use crate::ports::store::{CreateEvent, DeliveryStore, EventStore, QuotaStore, StoreError, WebhookStore};

/// What ingest needs of the store.
pub trait IngestStore: WebhookStore + EventStore + DeliveryStore + QuotaStore {}
impl<T: WebhookStore + EventStore + DeliveryStore + QuotaStore> IngestStore for T {}

// A call's delivery ids number its events and their deliveries in a byte each.
const _: () = assert!(MAX_BATCH_EVENTS <= 256 && MAX_WEBHOOKS_PER_TENANT <= 256);

/// One event's outcome: accepted, or refused with the id it was sent with (if any).
pub type EventOutcome = Result<IngestResult, (Option<String>, DomainError)>;

/// The webhooks an event goes to: enabled, subscribed to its topic, and whose filters all
/// hold for its flat payload.
pub fn select_targets<'a>(webhooks: &'a [Webhook], topic: &str, payload: &EventPayload) -> Vec<&'a Webhook> {
    let wanting: Vec<&Webhook> = webhooks.iter().filter(|w| w.wants(topic)).collect();
    // The flat payload is a copy of the event's: made only when some filter reads it.
    if wanting.iter().all(|w| w.filters.is_empty()) {
        return wanting;
    }
    let flat = render::flat(payload);
    wanting.into_iter().filter(|w| filter::matches(&w.filters, &flat)).collect()
}

/// The delivery records of an event, all `pending`.
pub fn deliveries_of(event: &EventRecord) -> Vec<Delivery> {
    DeliveryTask::for_event(event).iter().map(DeliveryTask::pending_delivery).collect()
}

/// Accepts one event for `tenant_id` (`POST …/events`): its refusal is the call's error.
pub async fn ingest_event(
    store: &impl IngestStore,
    queue: &impl TaskQueue,
    settings: &Settings,
    tenant_id: &str,
    request: EventRequest,
) -> DomainResult<IngestResult> {
    let outcome = ingest_events(store, queue, settings, tenant_id, vec![Ok(request)]).await?.pop();
    match outcome {
        Some(Ok(result)) => Ok(result),
        Some(Err((_, e))) => Err(e),
        None => Err(DomainError::Unavailable { detail: "an ingest of one event answered nothing".into() }),
    }
}

/// Accepts a batch of events for `tenant_id`, answering per event in the request's order (an
/// invalid event is refused alone). The call as a whole fails (and nothing more is written)
/// for an unknown tenant, a batch over the events quota (it counts each event: the whole
/// batch is refused, 429, before anything is read or written for it), or a store or queue
/// failure (the caller retries the batch: every event id already accepted answers as before).
/// The same id twice in one batch is one event: the second answers like a repeat.
pub async fn ingest_events(
    store: &impl IngestStore,
    queue: &impl TaskQueue,
    settings: &Settings,
    tenant_id: &str,
    requests: Vec<Result<EventRequest, (Option<String>, DomainError)>>,
) -> DomainResult<Vec<EventOutcome>> {
    ids::validate_tenant_id(tenant_id)?;
    if requests.is_empty() || requests.len() > MAX_BATCH_EVENTS {
        return Err(DomainError::invalid(
            "invalid_batch",
            format!("a batch carries 1 to {MAX_BATCH_EVENTS} events; this one has {}", requests.len()),
        ));
    }
    let now = timestamp::now();
    let received_at = timestamp::format(now);
    let validated: Vec<Result<NewEvent, (Option<String>, DomainError)>> = requests
        .into_iter()
        .map(|r| {
            let r = r?;
            let id = r.id.clone();
            r.validate(&received_at).map_err(|e| (id, e))
        })
        .collect();
    let valid: Vec<&NewEvent> = validated.iter().flatten().collect();
    let accepted =
        if valid.is_empty() { HashMap::new() } else { accept(store, queue, settings, tenant_id, &valid).await? };
    Ok(validated.into_iter().map(|v| v.map(|event| accepted[&event.event_id].clone())).collect())
}

/// Stores and queues the valid events of a call (steps 1-4): their results by event id.
async fn accept(
    store: &impl IngestStore,
    queue: &impl TaskQueue,
    settings: &Settings,
    tenant_id: &str,
    events: &[&NewEvent],
) -> DomainResult<HashMap<String, IngestResult>> {
    let now = timestamp::now();
    quota::take_many(store, settings.quotas.events.as_ref(), QuotaKind::Events, tenant_id, now, events.len()).await?;
    let webhooks = store.tenant_webhooks(tenant_id).await?.ok_or_else(|| tenant_not_found(tenant_id))?;

    let ingest_id = ids::new_ingest_id();
    let expires_at = (now + Duration::days(i64::from(settings.retention_days))).unix_timestamp();
    let received_at = timestamp::format(now);
    // Each distinct id once: a repeat inside the batch answers like a repeat.
    let mut records: Vec<EventRecord> = Vec::with_capacity(events.len());
    for event in events {
        if !records.iter().any(|r| r.event_id == event.event_id) {
            let at = Call { ingest_id: &ingest_id, index: records.len() };
            records.push(record_of(tenant_id, event, &webhooks, &received_at, expires_at, at));
        }
    }

    // The call's events in its order (a repeat's place too: its deliveries are its first
    // call's, so no id of this call leads to it), beside the events themselves: a delivery id
    // finds its event through it from the start (decision 44).
    let event_ids: Vec<String> = records.iter().map(|r| r.event_id.clone()).collect();
    let listed = async {
        if records.iter().any(|r| !r.deliveries.is_empty()) {
            store.put_call_events(tenant_id, &ingest_id, &event_ids, expires_at).await?;
        }
        Ok::<(), StoreError>(())
    };
    let (listed, created) =
        futures::future::join(listed, futures::future::join_all(records.iter().map(|r| store.create_event(r)))).await;
    listed?;
    let mut results = HashMap::with_capacity(records.len());
    let mut fresh: Vec<&EventRecord> = Vec::new();
    let mut existing: Vec<EventRecord> = Vec::new();
    for (record, created) in records.iter().zip(created) {
        match created? {
            CreateEvent::Created => {
                fresh.push(record);
                results.insert(record.event_id.clone(), IngestResult::from(record));
            }
            // This call's own write, whose answer was lost and whose retried put found it
            // (found by `make chaos`): it is this call's event, queued and marked with the
            // others. Finished as another call's, its call's marker would be written before
            // the rest of this call's events were queued.
            CreateEvent::Exists(first) if first.ingest_id.as_deref() == Some(ingest_id.as_str()) => {
                fresh.push(record);
                results.insert(record.event_id.clone(), IngestResult::from(first.as_ref()));
            }
            // A repeated id (a retry, or a concurrent twin): answer with the first event's
            // deliveries, finishing its enqueue if it was interrupted; this fan-out is dropped.
            CreateEvent::Exists(first) => {
                results.insert(record.event_id.clone(), IngestResult::from(first.as_ref()));
                existing.push(*first);
            }
        }
    }
    finish(store, queue, existing).await?;
    enqueue(store, queue, &fresh, &ingest_id, expires_at).await?;
    Ok(results)
}

/// An event's place in its ingest call.
#[derive(Clone, Copy)]
struct Call<'a> {
    ingest_id: &'a str,
    index: usize,
}

fn record_of(
    tenant_id: &str,
    event: &NewEvent,
    webhooks: &[Webhook],
    received_at: &str,
    expires_at: i64,
    at: Call<'_>,
) -> EventRecord {
    let deliveries = select_targets(webhooks, &event.topic, &event.payload)
        .into_iter()
        .enumerate()
        .map(|(i, w)| DeliveryRef { id: ids::call_delivery_id(at.ingest_id, at.index, i), webhook_id: w.id.clone() })
        .collect();
    EventRecord {
        tenant_id: tenant_id.to_string(),
        event_id: event.event_id.clone(),
        topic: event.topic.clone(),
        occurred_at: event.occurred_at.clone(),
        received_at: received_at.to_string(),
        payload: Arc::clone(&event.payload),
        deliveries,
        state: EventState::Accepted,
        expires_at,
        ingest_id: Some(at.ingest_id.to_string()),
    }
}

/// Steps 2-3 for `events`, all written by this call (`ingest_id`).
async fn enqueue(
    store: &impl IngestStore,
    queue: &impl TaskQueue,
    events: &[&EventRecord],
    ingest_id: &str,
    expires_at: i64,
) -> DomainResult<()> {
    let tasks: Vec<DeliveryTask> = events.iter().flat_map(|e| DeliveryTask::for_event(e)).collect();
    if tasks.is_empty() {
        // Nothing to queue: an event without deliveries is done as written.
        return Ok(());
    }
    queue.enqueue(&tasks).await?;
    store.mark_ingest_enqueued(&events[0].tenant_id, ingest_id, expires_at).await?;
    Ok(())
}

/// Events already stored by earlier calls: those whose call finished (its marker exists, or
/// the event's own state says so) are left as they are; the others get their delivery
/// records (only if absent: they may have progressed; their call's list of events, which
/// leads a delivery id to its event, may be missing) and step 2 again, and are then marked
/// enqueued each on its own. Not with their call's marker: this request may carry only some
/// of that call's events, and the marker says all of them are queued (a marker written here
/// would strand the call's other unqueued events when their own retry came).
async fn finish(store: &impl IngestStore, queue: &impl TaskQueue, events: Vec<EventRecord>) -> DomainResult<()> {
    let mut calls_finished: HashMap<String, bool> = HashMap::new();
    let mut unfinished: Vec<EventRecord> = Vec::new();
    for event in events {
        if event.state == EventState::Enqueued || event.deliveries.is_empty() {
            continue;
        }
        if let Some(ingest_id) = &event.ingest_id {
            let finished = match calls_finished.get(ingest_id) {
                Some(&finished) => finished,
                None => {
                    let finished = store.ingest_enqueued(&event.tenant_id, ingest_id).await?;
                    calls_finished.insert(ingest_id.clone(), finished);
                    finished
                }
            };
            if finished {
                continue;
            }
        }
        tracing::info!(tenant_id = %event.tenant_id, event_id = %event.event_id, "a repeated event id: finishing its interrupted ingest");
        unfinished.push(event);
    }
    if unfinished.is_empty() {
        return Ok(());
    }
    let tasks: Vec<DeliveryTask> = unfinished.iter().flat_map(DeliveryTask::for_event).collect();
    let deliveries: Vec<Delivery> = tasks.iter().map(DeliveryTask::pending_delivery).collect();
    store.put_deliveries(&deliveries, true).await?;
    queue.enqueue(&tasks).await?;
    futures::future::try_join_all(unfinished.iter().map(|e| store.mark_event_enqueued(&e.tenant_id, &e.event_id)))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(id: &str, topics: &[&str], enabled: bool) -> Webhook {
        serde_json::from_value(serde_json::json!({
            "id": id, "tenant_id": "t", "name": id, "url": "https://example.com/", "topics": topics,
            "enabled": enabled, "secret": "whsec_0123456789abcdef", "created_at": "", "updated_at": ""
        }))
        .expect("a stored webhook")
    }

    #[test]
    fn targets_are_the_enabled_subscribers() {
        let hooks = [
            webhook("a", &["coupon_create"], true),
            webhook("b", &["coupon_create", "order_create"], true),
            webhook("c", &["coupon_create"], false),
            webhook("d", &["order_create"], true),
        ];
        let payload = EventPayload { context: serde_json::Map::new(), data: serde_json::Map::new() };
        let ids: Vec<&str> = select_targets(&hooks, "coupon_create", &payload).iter().map(|w| w.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(select_targets(&hooks, "lead_create", &payload).is_empty());
    }

    #[test]
    fn an_event_and_its_tasks_share_the_requests_payload() {
        // GIVEN a validated event for two subscribed webhooks
        let hooks = [webhook("a", &["coupon_create"], true), webhook("b", &["coupon_create"], true)];
        let request: EventRequest =
            serde_json::from_value(serde_json::json!({"id": "e1", "topic": "coupon_create", "data": {"code": "X"}}))
                .expect("a request");
        let event = request.validate("2026-12-04T00:00:00Z").expect("valid");
        // WHEN its record and its tasks are made
        let record = record_of("t", &event, &hooks, "2026-12-04T00:00:00Z", 1, Call { ingest_id: "i", index: 0 });
        let tasks = DeliveryTask::for_event(&record);
        // THEN none of them copies the payload: one value, shared
        assert_eq!(tasks.len(), 2);
        assert!(Arc::ptr_eq(&record.payload, &event.payload));
        assert!(tasks.iter().all(|t| Arc::ptr_eq(&t.payload, &event.payload)));
        assert_eq!(Arc::strong_count(&event.payload), 4);
    }

    fn order_events(ids: &[&str]) -> Vec<Result<EventRequest, (Option<String>, DomainError)>> {
        ids.iter()
            .map(|id| {
                serde_json::from_value(serde_json::json!({"id": id, "topic": "order_create", "data": {}}))
                    .map_err(|e| (None, DomainError::invalid("invalid_request", e.to_string())))
            })
            .collect()
    }

    #[tokio::test]
    async fn a_batch_writes_no_delivery_record_and_each_delivery_reads_back_pending_through_its_call() {
        use crate::app::manage_deliveries::get_delivery;
        use crate::app::test_doubles::{MemoryStore, MemoryTaskQueue};
        use crate::domain::delivery::DeliveryStatus;
        // GIVEN two webhooks of tenant shop for order_create
        let hooks =
            ["wh1", "wh2"].map(|id| Webhook { tenant_id: "shop".into(), ..webhook(id, &["order_create"], true) });
        let store = MemoryStore::with(hooks.to_vec());
        let queue = MemoryTaskQueue::default();
        // WHEN a batch of three events (one repeated) is ingested
        let answer = ingest_events(&store, &queue, &Settings::default(), "shop", order_events(&["a", "b", "a", "c"]))
            .await
            .expect("accepted");
        // THEN six deliveries were queued and no delivery record written
        let queued = queue.queued.lock().expect("lock").clone();
        assert_eq!(queued.len(), 6);
        assert!(store.recorded.lock().expect("lock").writes.is_empty(), "ingest wrote delivery records");
        // AND each delivery answered reads back pending, with its event and webhook
        for result in answer.iter().map(|r| r.as_ref().expect("an event accepted")) {
            for d in &result.deliveries {
                let log = get_delivery(&store, "shop", &d.id).await.expect("found through the marker");
                assert_eq!(log.delivery.status, DeliveryStatus::Pending);
                assert_eq!(
                    (log.delivery.event_id.as_str(), log.delivery.webhook_id.as_str()),
                    (result.event_id.as_str(), d.webhook_id.as_str())
                );
                assert!(log.attempts.is_empty());
            }
        }
        // AND an id of the same call that names no delivery of it is not found
        let first = &answer[0].as_ref().expect("accepted").deliveries[0].id;
        let (call, _) = ids::ingest_of_delivery(first).expect("a call's id");
        for stranger in [ids::call_delivery_id(&call, 0, 2), ids::call_delivery_id(&call, 3, 0)] {
            assert!(
                matches!(get_delivery(&store, "shop", &stranger).await, Err(DomainError::NotFound { .. })),
                "{stranger}"
            );
        }
    }

    #[tokio::test]
    async fn an_event_whose_put_answer_was_lost_is_queued_with_its_call_not_ahead_of_it() {
        use crate::app::test_doubles::{MemoryStore, MemoryTaskQueue};
        // GIVEN a batch of three events, the second's put answering as after a lost answer
        // (the SDK's retry finds it written), and a queue whose second send fails
        let mut hook = webhook("wh", &["order_create"], true);
        hook.tenant_id = "shop".into();
        let store = MemoryStore::with(vec![hook]);
        store.lost_create_answers.lock().expect("lock").push("b".into());
        let queue = MemoryTaskQueue::default();
        queue.failing.lock().expect("lock").extend([false, true]);
        let batch = || order_events(&["a", "b", "c"]);
        let settings = Settings::default();

        // WHEN it is sent, and sent again after a 503, as a client would
        let mut answer = ingest_events(&store, &queue, &settings, "shop", batch()).await;
        if matches!(answer, Err(DomainError::Unavailable { .. })) {
            answer = ingest_events(&store, &queue, &settings, "shop", batch()).await;
        }

        // THEN every delivery it answered with was queued
        let answered: Vec<String> = answer
            .expect("accepted")
            .into_iter()
            .flat_map(|r| r.expect("an event accepted").deliveries.into_iter().map(|d| d.id))
            .collect();
        let queued: Vec<String> = queue.queued.lock().expect("lock").iter().map(|t| t.delivery_id.clone()).collect();
        assert_eq!(answered.len(), 3);
        assert!(answered.iter().all(|id| queued.contains(id)), "answered {answered:?}, queued {queued:?}");
    }
}
