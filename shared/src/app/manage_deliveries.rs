//! Reading deliveries, the per-webhook delivery log, and sending failed deliveries again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::delivery::{Delivery, DeliveryLog, DeliveryStatus};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::ids::{self, DELIVERY_PREFIX};
use crate::domain::limits::MAX_RECOVER;

/// Deliveries re-read or marked `pending` at once when requeueing.
const REQUEUE_IN_FLIGHT: usize = 16;
use crate::app::manage_webhooks::get_webhook;
use crate::app::pagination::{decode_cursor, encode_cursor, parse_limit};
use crate::domain::task::DeliveryTask;
use crate::domain::timestamp;
use crate::ports::queue::TaskQueue;
use crate::ports::store::{DeliveryQuery, DeliveryStore, EventStore, Page, WebhookStore};

fn not_found(delivery_id: &str) -> DomainError {
    DomainError::not_found("delivery_not_found", format!("no delivery {delivery_id:?} for this tenant"))
}

pub async fn get_delivery(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    tenant_id: &str,
    delivery_id: &str,
) -> DomainResult<DeliveryLog> {
    ids::validate_tenant_id(tenant_id)?;
    if !ids::is_generated_id(delivery_id, DELIVERY_PREFIX) {
        return Err(not_found(delivery_id));
    }
    store.get_delivery(tenant_id, delivery_id).await?.ok_or_else(|| not_found(delivery_id))
}

/// `GET .../webhooks/{id}/deliveries?status=&limit=&cursor=`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryListParams {
    pub status: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

fn parse_status(raw: &str) -> DomainResult<DeliveryStatus> {
    serde_json::from_value(serde_json::Value::String(raw.to_string()))
        .map_err(|_| DomainError::invalid("invalid_status", "status must be pending, retrying, delivered or failed"))
}

/// A webhook's deliveries, newest first, each with its attempts.
pub async fn list_webhook_deliveries(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    tenant_id: &str,
    webhook_id: &str,
    params: &DeliveryListParams,
) -> DomainResult<Page<DeliveryLog>> {
    let limit = parse_limit(params.limit.as_deref())?;
    let status = params.status.as_deref().map(parse_status).transpose()?;
    let start_after = params.cursor.as_deref().map(|c| decode_cursor(c, DELIVERY_PREFIX)).transpose()?;
    get_webhook(store, tenant_id, webhook_id).await?;
    let query =
        DeliveryQuery { tenant_id, webhook_id, status, limit, start_after: start_after.as_deref(), since_id: None };
    let page = store.list_webhook_deliveries(&query).await?;
    // Attempts live under each delivery: read them side by side (one Query each).
    let logs =
        futures::future::join_all(page.items.iter().map(|d| store.get_delivery(tenant_id, &d.delivery_id))).await;
    let mut items = Vec::with_capacity(page.items.len());
    for (delivery, log) in page.items.into_iter().zip(logs) {
        items.push(log?.unwrap_or(DeliveryLog { delivery, attempts: Vec::new() }));
    }
    Ok(Page { items, next: page.next.as_deref().map(encode_cursor) })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requeued {
    pub requeued: usize,
    pub delivery_ids: Vec<String>,
}

/// Puts failed deliveries back on the queue: same delivery ids (receivers dedupe on them),
/// a fresh set of attempts, the next round (`generation`), so a dead letter of the round
/// before can't count against this one. Queued first, then marked `pending` unless the
/// delivery moved on meanwhile (the delivery function may already have sent it): a crash in
/// between leaves them queued, and the delivery function writes their state anyway.
async fn requeue(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    queue: &impl TaskQueue,
    deliveries: &[Delivery],
) -> DomainResult<Vec<String>> {
    let mut by_event: BTreeMap<&str, Vec<&Delivery>> = BTreeMap::new();
    for d in deliveries {
        by_event.entry(d.event_id.as_str()).or_default().push(d);
    }
    let mut tasks = Vec::new();
    for (event_id, ds) in by_event {
        let tenant_id = &ds[0].tenant_id;
        let Some(event) = store.get_event(tenant_id, event_id).await? else {
            return Err(DomainError::conflict(
                "event_expired",
                format!("event {event_id:?} is past its retention; its deliveries cannot be sent again"),
            ));
        };
        for mut task in DeliveryTask::for_event(&event) {
            if let Some(d) = ds.iter().find(|d| d.delivery_id == task.delivery_id) {
                task.generation = d.generation + 1;
                tasks.push(task);
            }
        }
    }
    queue.enqueue(&tasks).await?;
    let now = timestamp::format(timestamp::now());
    // One conditional write each; a recover marks up to MAX_RECOVER, so several at a time.
    for chunk in deliveries.chunks(REQUEUE_IN_FLIGHT) {
        let marks = futures::future::join_all(chunk.iter().map(|d| store.mark_requeued(d, &now))).await;
        marks.into_iter().collect::<Result<Vec<bool>, _>>()?;
    }
    Ok(tasks.into_iter().map(|t| t.delivery_id).collect())
}

/// Those of `listed` that a consistent read still finds `failed` in the same round: the
/// index recover lists from lags the table, and a delivery retried a moment ago must not be
/// queued a second time in its new round.
async fn still_failed(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    listed: Vec<Delivery>,
) -> DomainResult<Vec<Delivery>> {
    let mut current = Vec::with_capacity(listed.len());
    for chunk in listed.chunks(REQUEUE_IN_FLIGHT) {
        let reads = futures::future::join_all(chunk.iter().map(|d| store.get_delivery(&d.tenant_id, &d.delivery_id)));
        for (seen, now) in chunk.iter().zip(reads.await) {
            if let Some(log) = now?
                && log.delivery.status == DeliveryStatus::Failed
                && log.delivery.generation == seen.generation
            {
                current.push(log.delivery);
            }
        }
    }
    Ok(current)
}

/// `POST .../deliveries/{id}/retry`: a failed delivery, sent again.
pub async fn retry_delivery(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    queue: &impl TaskQueue,
    tenant_id: &str,
    delivery_id: &str,
) -> DomainResult<Requeued> {
    let log = get_delivery(store, tenant_id, delivery_id).await?;
    if log.delivery.status != DeliveryStatus::Failed {
        return Err(DomainError::conflict("delivery_not_failed", "only a failed delivery can be retried"));
    }
    let delivery_ids = requeue(store, queue, &[log.delivery]).await?;
    Ok(Requeued { requeued: delivery_ids.len(), delivery_ids })
}

/// The smallest delivery id created at or after `at` (ids are UUIDv7: they start with the
/// creation time in milliseconds).
fn first_id_since(at: time::OffsetDateTime) -> String {
    let ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    format!("{DELIVERY_PREFIX}{ms:012x}{}", "0".repeat(20))
}

/// `POST .../webhooks/{id}/recover?since=`: every failed delivery of the webhook since then.
pub async fn recover_webhook(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    queue: &impl TaskQueue,
    tenant_id: &str,
    webhook_id: &str,
    since: &str,
) -> DomainResult<Requeued> {
    let since = timestamp::parse(since)
        .ok_or_else(|| DomainError::invalid("invalid_since", "since must be an RFC 3339 date-time"))?;
    get_webhook(store, tenant_id, webhook_id).await?;
    let since_id = first_id_since(since);
    let mut failed = Vec::new();
    let mut start_after: Option<String> = None;
    loop {
        let query = DeliveryQuery {
            tenant_id,
            webhook_id,
            status: Some(DeliveryStatus::Failed),
            limit: 100,
            start_after: start_after.as_deref(),
            since_id: Some(&since_id),
        };
        let page = store.list_webhook_deliveries(&query).await?;
        failed.extend(page.items);
        start_after = page.next;
        if start_after.is_none() || failed.len() >= MAX_RECOVER {
            break;
        }
    }
    failed.truncate(MAX_RECOVER);
    let failed = still_failed(store, failed).await?;
    let delivery_ids = if failed.is_empty() { Vec::new() } else { requeue(store, queue, &failed).await? };
    Ok(Requeued { requeued: delivery_ids.len(), delivery_ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_since_a_time_sort_between_older_and_newer_ids() {
        let before = ids::new_id(DELIVERY_PREFIX);
        std::thread::sleep(std::time::Duration::from_millis(3));
        let at = timestamp::now();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let after = ids::new_id(DELIVERY_PREFIX);
        let bound = first_id_since(at);
        assert!(before < bound && bound < after, "{before} < {bound} < {after}");
        assert!(ids::is_generated_id(&bound, DELIVERY_PREFIX));
    }

    #[test]
    fn statuses_parse() {
        assert_eq!(parse_status("failed").expect("ok"), DeliveryStatus::Failed);
        assert_eq!(parse_status("lost").expect_err("bad").code(), "invalid_status");
    }
}
