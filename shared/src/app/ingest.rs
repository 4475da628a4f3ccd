//! Event ingest: fan each event out to the tenant's subscribed webhooks and queue one delivery
//! per webhook. One call takes one event (`POST …/events`) or a batch (`POST …/events/batch`):
//! a batch shares the quota take, the fan-out read, the delivery-record writes, packed queue
//! sends and the marker, so its cost per event is mostly the event's own write.
//!
//! Crash safety, step by step (each line that talks to AWS):
//! 1. each event is written with its chosen deliveries, state `accepted` and the call's
//!    `ingest_id` (conditional on its id being new). A crash before this stores nothing; the
//!    caller got no 202 and retries.
//! 2. the delivery records are written. 3. the delivery messages are sent. 4. the call's marker
//!    `ingest_id` is written (one write for every event of the call: nothing rewrites an event
//!    only to flip its state), and only then does the caller get its 202.
//!    A crash (or error) after 1 leaves `accepted` events without a marker; the caller got no
//!    202 and retries with the same event ids, which finishes 2-4 for the deliveries chosen the
//!    first time. Messages may then be sent twice: delivery is at-least-once and receivers
//!    dedupe on the delivery id, which is the same in both.
//!
//! An event posted again after its call's marker exists is answered with the first result and
//! changes nothing.

use std::collections::HashMap;

use time::Duration;

use crate::app::manage_webhooks::tenant_not_found;
use crate::app::quota;
use crate::domain::delivery::Delivery;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::event::{DeliveryRef, EventPayload, EventRecord, EventRequest, EventState, IngestResult, NewEvent};
use crate::domain::ids::{self, DELIVERY_PREFIX, INGEST_PREFIX};
use crate::domain::limits::MAX_BATCH_EVENTS;
use crate::domain::quota::QuotaKind;
use crate::domain::settings::Settings;
use crate::domain::task::DeliveryTask;
use crate::domain::webhook::Webhook;
use crate::domain::{filter, timestamp};
use crate::outbound::render;
use crate::ports::queue::TaskQueue;
use crate::ports::store::{CreateEvent, DeliveryStore, EventStore, QuotaStore, WebhookStore};

/// What ingest needs of the store.
pub trait IngestStore: WebhookStore + EventStore + DeliveryStore + QuotaStore {}
impl<T: WebhookStore + EventStore + DeliveryStore + QuotaStore> IngestStore for T {}

/// One event's outcome: accepted, or refused with the id it was sent with (if any).
pub type EventOutcome = Result<IngestResult, (Option<String>, DomainError)>;

/// The webhooks an event goes to: enabled, subscribed to its topic, and whose filters all
/// hold for its flat payload.
pub fn select_targets<'a>(webhooks: &'a [Webhook], topic: &str, payload: &EventPayload) -> Vec<&'a Webhook> {
    let flat = render::flat(payload);
    webhooks.iter().filter(|w| w.wants(topic) && filter::matches(&w.filters, &flat)).collect()
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

    let ingest_id = ids::new_id(INGEST_PREFIX);
    let expires_at = (now + Duration::days(i64::from(settings.retention_days))).unix_timestamp();
    let received_at = timestamp::format(now);
    // Each distinct id once: a repeat inside the batch answers like a repeat.
    let mut records: Vec<EventRecord> = Vec::with_capacity(events.len());
    for event in events {
        if !records.iter().any(|r| r.event_id == event.event_id) {
            records.push(record_of(tenant_id, event, &webhooks, &received_at, expires_at, &ingest_id));
        }
    }

    let created = futures::future::join_all(records.iter().map(|r| store.create_event(r))).await;
    let mut results = HashMap::with_capacity(records.len());
    let mut fresh: Vec<&EventRecord> = Vec::new();
    let mut existing: Vec<EventRecord> = Vec::new();
    for (record, created) in records.iter().zip(created) {
        match created? {
            CreateEvent::Created => {
                fresh.push(record);
                results.insert(record.event_id.clone(), IngestResult::from(record));
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
    enqueue(store, queue, &fresh, &ingest_id, expires_at, false).await?;
    Ok(results)
}

fn record_of(
    tenant_id: &str,
    event: &NewEvent,
    webhooks: &[Webhook],
    received_at: &str,
    expires_at: i64,
    ingest_id: &str,
) -> EventRecord {
    let deliveries = select_targets(webhooks, &event.topic, &event.payload)
        .into_iter()
        .map(|w| DeliveryRef { id: ids::new_id(DELIVERY_PREFIX), webhook_id: w.id.clone() })
        .collect();
    EventRecord {
        tenant_id: tenant_id.to_string(),
        event_id: event.event_id.clone(),
        topic: event.topic.clone(),
        occurred_at: event.occurred_at.clone(),
        received_at: received_at.to_string(),
        payload: event.payload.clone(),
        deliveries,
        state: EventState::Accepted,
        expires_at,
        ingest_id: Some(ingest_id.to_string()),
    }
}

/// Steps 2-4 for `events` (all written by one call, `ingest_id`). `seen_before` marks events
/// this call did not create: their deliveries may exist and have progressed, so they are only
/// added if absent.
async fn enqueue(
    store: &impl IngestStore,
    queue: &impl TaskQueue,
    events: &[&EventRecord],
    ingest_id: &str,
    expires_at: i64,
    seen_before: bool,
) -> DomainResult<()> {
    let tasks: Vec<DeliveryTask> = events.iter().flat_map(|e| DeliveryTask::for_event(e)).collect();
    if tasks.is_empty() {
        // Nothing to queue: an event without deliveries is done as written.
        return Ok(());
    }
    let deliveries: Vec<Delivery> = tasks.iter().map(DeliveryTask::pending_delivery).collect();
    store.put_deliveries(&deliveries, seen_before).await?;
    queue.enqueue(&tasks).await?;
    store.mark_ingest_enqueued(&events[0].tenant_id, ingest_id, expires_at).await?;
    Ok(())
}

/// Events already stored by earlier calls: those whose call finished (its marker exists, or,
/// for an event written before markers, its state says so) are left as they are; the others
/// get steps 2-4 again, a call's events together (its marker is written once, after all).
async fn finish(store: &impl IngestStore, queue: &impl TaskQueue, events: Vec<EventRecord>) -> DomainResult<()> {
    let mut by_call: HashMap<String, Vec<EventRecord>> = HashMap::new();
    for event in events {
        if event.state == EventState::Enqueued || event.deliveries.is_empty() {
            continue;
        }
        tracing::info!(tenant_id = %event.tenant_id, event_id = %event.event_id, "a repeated event id: finishing its ingest if it was interrupted");
        match event.ingest_id.clone() {
            Some(ingest_id) => by_call.entry(ingest_id).or_default().push(event),
            // Written before markers: finished by flipping its own state, as then.
            None => {
                let tasks = DeliveryTask::for_event(&event);
                let deliveries: Vec<Delivery> = tasks.iter().map(DeliveryTask::pending_delivery).collect();
                store.put_deliveries(&deliveries, true).await?;
                queue.enqueue(&tasks).await?;
                store.mark_event_enqueued(&event.tenant_id, &event.event_id).await?;
            }
        }
    }
    for (ingest_id, events) in by_call {
        if store.ingest_enqueued(&events[0].tenant_id, &ingest_id).await? {
            continue;
        }
        let expires_at = events.iter().map(|e| e.expires_at).max().unwrap_or_default();
        let events: Vec<&EventRecord> = events.iter().collect();
        enqueue(store, queue, &events, &ingest_id, expires_at, true).await?;
    }
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
}
