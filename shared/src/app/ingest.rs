//! Event ingest: fan an event out to the tenant's subscribed webhooks and queue one delivery
//! per webhook.
//!
//! Crash safety, step by step (each line that talks to AWS):
//! 1. the event is written with its chosen deliveries, state `accepted` (conditional on its id
//!    being new). A crash before this stores nothing; the caller got no 202 and retries.
//! 2. the delivery records are written. 3. the delivery messages are sent. 4. the event is
//!    marked `enqueued`, and only then does the caller get its 202.
//!    A crash (or error) after 1 leaves an `accepted` event; the caller got no 202 and retries
//!    with the same event id, which finishes 2-4 for the deliveries chosen the first time.
//!    Messages may then be sent twice: delivery is at-least-once and receivers dedupe on the
//!    delivery id, which is the same in both.
//!
//! An event posted again after it was `enqueued` is answered with the first result and
//! changes nothing.

use time::Duration;

use crate::app::manage_webhooks::tenant_not_found;
use crate::app::quota;
use crate::domain::delivery::Delivery;
use crate::domain::error::DomainResult;
use crate::domain::event::{DeliveryRef, EventPayload, EventRecord, EventRequest, EventState, IngestResult};
use crate::domain::ids::{self, DELIVERY_PREFIX};
use crate::domain::quota::QuotaKind;
use crate::domain::settings::Settings;
use crate::domain::task::DeliveryTask;
use crate::domain::webhook::Webhook;
use crate::domain::{filter, timestamp};
use crate::outbound::render;
use crate::ports::queue::TaskQueue;
use crate::ports::store::{CreateEvent, DeliveryStore, EventStore, QuotaStore, WebhookStore};

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

/// Accepts an event for `tenant_id`: see the module docs for the order of writes. With an
/// events quota, an event over it is refused (429) before anything is read or written for it
/// (a repeated event id counts too: the quota counts requests).
pub async fn ingest_event(
    store: &(impl WebhookStore + EventStore + DeliveryStore + QuotaStore),
    queue: &impl TaskQueue,
    settings: &Settings,
    tenant_id: &str,
    request: EventRequest,
) -> DomainResult<IngestResult> {
    ids::validate_tenant_id(tenant_id)?;
    let now = timestamp::now();
    let event = request.validate(&timestamp::format(now))?;
    quota::take(store, settings.quotas.events.as_ref(), QuotaKind::Events, tenant_id, now).await?;

    let webhooks = store.tenant_webhooks(tenant_id).await?.ok_or_else(|| tenant_not_found(tenant_id))?;
    let deliveries = select_targets(&webhooks, &event.topic, &event.payload)
        .into_iter()
        .map(|w| DeliveryRef { id: ids::new_id(DELIVERY_PREFIX), webhook_id: w.id.clone() })
        .collect();
    let record = EventRecord {
        tenant_id: tenant_id.to_string(),
        event_id: event.event_id,
        topic: event.topic,
        occurred_at: event.occurred_at,
        received_at: timestamp::format(now),
        payload: event.payload,
        deliveries,
        state: EventState::Accepted,
        expires_at: (now + Duration::days(i64::from(settings.retention_days))).unix_timestamp(),
    };
    match store.create_event(&record).await? {
        CreateEvent::Created => finish(store, queue, record, false).await,
        // A repeated id (a retry, or a concurrent twin): answer with the first event's
        // deliveries, finishing its enqueue if it was interrupted; this fan-out is dropped.
        CreateEvent::Exists(existing) => finish(store, queue, *existing, true).await,
    }
}

/// Steps 2-4 for an event already stored. `seen_before` marks an event this call did not
/// create: its deliveries may exist and have progressed, so they are only added if absent.
async fn finish(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    queue: &impl TaskQueue,
    event: EventRecord,
    seen_before: bool,
) -> DomainResult<IngestResult> {
    if event.state == EventState::Enqueued || event.deliveries.is_empty() {
        if event.state != EventState::Enqueued {
            store.mark_event_enqueued(&event.tenant_id, &event.event_id).await?;
        }
        return Ok(IngestResult::from(&event));
    }
    if seen_before {
        tracing::info!(tenant_id = %event.tenant_id, event_id = %event.event_id, "finishing an interrupted ingest");
    }
    let tasks = DeliveryTask::for_event(&event);
    let deliveries: Vec<Delivery> = tasks.iter().map(DeliveryTask::pending_delivery).collect();
    store.put_deliveries(&deliveries, seen_before).await?;
    queue.enqueue(&tasks).await?;
    store.mark_event_enqueued(&event.tenant_id, &event.event_id).await?;
    Ok(IngestResult::from(&event))
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
