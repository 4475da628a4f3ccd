//! Reading deliveries, the per-webhook delivery log, and sending failed deliveries again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::app::manage_webhooks::get_webhook;
use crate::app::pagination::{gather, parse_limit, start_after};
use crate::domain::delivery::{Delivery, DeliveryLog, DeliveryStatus, REQUEUE_CLAIM_STALE_SECONDS};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::ids::{self, DELIVERY_PREFIX};
use crate::domain::limits::{MAX_PAGE_SIZE, MAX_RECOVER};

/// Deliveries re-read or claimed at once when requeueing.
const REQUEUE_IN_FLIGHT: usize = 16;
use crate::domain::task::DeliveryTask;
use crate::domain::timestamp;
use crate::ports::queue::TaskQueue;
use crate::ports::store::{DeliveryQuery, DeliveryStore, EventStore, Page, StoreResult, WebhookStore};

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
    find_delivery(store, tenant_id, delivery_id).await?.ok_or_else(|| not_found(delivery_id))
}

/// A delivery by id wherever it is: a delivery its ingest call chose is found through the call
/// (which names its webhook, whose log holds its record once attempted; `pending` until
/// then), any other through its own partition.
pub async fn find_delivery(
    store: &(impl EventStore + DeliveryStore),
    tenant_id: &str,
    delivery_id: &str,
) -> StoreResult<Option<DeliveryLog>> {
    let queued = unattempted_delivery(store, tenant_id, delivery_id).await?;
    let webhook_id = queued.as_ref().map(|d| d.webhook_id.as_str());
    if let Some(log) = store.get_delivery(tenant_id, delivery_id, webhook_id).await? {
        return Ok(Some(log));
    }
    Ok(queued.map(|delivery| DeliveryLog { delivery, attempts: Vec::new() }))
}

/// A delivery chosen by ingest that no state write has recorded yet (ingest writes no record:
/// decision 44), `pending`: its id names its ingest call and its event's place in it, the
/// call's list of events the event, and the event its deliveries. `None` for any other id.
pub async fn unattempted_delivery(
    store: &impl EventStore,
    tenant_id: &str,
    delivery_id: &str,
) -> StoreResult<Option<Delivery>> {
    let Some((ingest_id, index)) = ids::ingest_of_delivery(delivery_id) else {
        return Ok(None);
    };
    let Some(event_id) = store.call_events(tenant_id, &ingest_id).await?.and_then(|ids| ids.into_iter().nth(index))
    else {
        return Ok(None);
    };
    let Some(event) = store.get_event(tenant_id, &event_id).await? else {
        return Ok(None);
    };
    Ok(DeliveryTask::for_event(&event)
        .iter()
        .find(|t| t.delivery_id == delivery_id)
        .map(DeliveryTask::pending_delivery))
}

/// `GET .../webhooks/{id}/deliveries?status=&limit=&cursor=`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryListParams {
    /// Only deliveries in this state.
    #[cfg_attr(feature = "openapi", param(value_type = Option<DeliveryStatus>))]
    pub status: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[cfg_attr(feature = "openapi", param(value_type = Option<u32>, minimum = 1, maximum = 100))]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous answer.
    #[cfg_attr(feature = "openapi", param(pattern = "^dlv_[0-9a-f]{32}$"))]
    pub cursor: Option<String>,
}

fn parse_status(raw: &str) -> DomainResult<DeliveryStatus> {
    serde_json::from_value(serde_json::Value::String(raw.to_string()))
        .map_err(|_| DomainError::invalid("invalid_status", "status must be pending, retrying, delivered or failed"))
}

/// A webhook's deliveries, newest first, each with its attempts. A page may hold fewer than
/// `limit` (even none) and still have a `next` cursor: the reading is bounded per request.
pub async fn list_webhook_deliveries(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    tenant_id: &str,
    webhook_id: &str,
    params: &DeliveryListParams,
) -> DomainResult<Page<DeliveryLog>> {
    let limit = parse_limit(params.limit.as_deref())?;
    let status = params.status.as_deref().map(parse_status).transpose()?;
    let after = start_after(params.cursor.as_deref(), DELIVERY_PREFIX)?;
    get_webhook(store, tenant_id, webhook_id).await?;
    let page = gather(
        limit,
        after,
        |start| async move {
            let query = DeliveryQuery {
                tenant_id,
                webhook_id,
                status,
                limit,
                start_after: start.as_deref(),
                since_id: None,
                stale_claims_before: None,
            };
            store.list_webhook_deliveries(&query).await
        },
        |d: &Delivery| d.delivery_id.clone(),
    )
    .await?;
    // Attempts after the first live under each delivery: read them side by side.
    let logs = futures::future::join_all(
        page.items.iter().map(|d| store.get_delivery(tenant_id, &d.delivery_id, Some(&d.webhook_id))),
    )
    .await;
    let mut items = Vec::with_capacity(page.items.len());
    for (delivery, log) in page.items.into_iter().zip(logs) {
        items.push(log?.unwrap_or(DeliveryLog { delivery, attempts: Vec::new() }));
    }
    Ok(Page { items, next: page.next })
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requeued {
    pub requeued: usize,
    pub delivery_ids: Vec<String>,
    /// Recover only: where to continue (as `cursor`) when this call stopped before the end
    /// (it read its bounded number of pages, or requeued `MAX_RECOVER`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Sends deliveries (each as seen `requeueable`) again: same delivery ids (receivers dedupe
/// on them), a fresh set of attempts, the next round (`generation`), so a dead letter of the
/// round before can't count against this one.
///
/// Claim first, then queue: each delivery is claimed by one conditional write (to `pending`
/// in the next round, unless it changed since it was seen), and only the claims this call won
/// are queued, so concurrent retries of one delivery queue it once. Crash safety: an enqueue
/// that fails releases the claims (`failed` again, retryable at once); a crash between the
/// claim and the enqueue leaves the delivery `pending` under a claim with no message, which
/// `Delivery::requeueable` lets retry and recover claim again once it is stale. Nothing is
/// lost; at worst (a claim judged stale whose message was only slow) a receiver gets the
/// delivery twice, with the same id.
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
                tasks.push((*d, task));
            }
        }
    }
    let now = timestamp::now();
    let (claimed_at, at) = (now.unix_timestamp(), timestamp::format(now));
    // One conditional write each; a recover claims up to MAX_RECOVER, so several at a time.
    let mut won = Vec::with_capacity(tasks.len());
    for chunk in tasks.chunks(REQUEUE_IN_FLIGHT) {
        let claims =
            futures::future::join_all(chunk.iter().map(|(d, _)| store.claim_requeue(d, claimed_at, &at))).await;
        for ((seen, task), claim) in chunk.iter().zip(claims) {
            if claim? {
                won.push((*seen, task.clone()));
            }
        }
    }
    if won.is_empty() {
        return Ok(Vec::new());
    }
    let queued: Vec<DeliveryTask> = won.iter().map(|(_, t)| t.clone()).collect();
    if let Err(e) = queue.enqueue(&queued).await {
        let reason = "sending it again failed: the queue refused it; retry it";
        for chunk in won.chunks(REQUEUE_IN_FLIGHT) {
            let releases =
                futures::future::join_all(chunk.iter().map(|(d, _)| store.release_requeue(d, claimed_at, reason, &at)));
            for (release, (d, _)) in releases.await.into_iter().zip(chunk) {
                if let Err(release_error) = release {
                    // Left claimed: retryable again once the claim is stale.
                    tracing::error!(delivery_id = %d.delivery_id, error = %release_error, "cannot release a requeue claim");
                }
            }
        }
        return Err(e.into());
    }
    Ok(queued.into_iter().map(|t| t.delivery_id).collect())
}

/// Those of `listed` that a consistent read still finds requeueable in the same round: the
/// index recover lists from lags the table, and a delivery retried a moment ago must not be
/// claimed from a stale view (its claim would fail anyway; this saves the event reads).
async fn still_requeueable(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    listed: Vec<Delivery>,
    now: i64,
) -> DomainResult<Vec<Delivery>> {
    let mut current = Vec::with_capacity(listed.len());
    for chunk in listed.chunks(REQUEUE_IN_FLIGHT) {
        let reads = futures::future::join_all(
            chunk.iter().map(|d| store.get_delivery(&d.tenant_id, &d.delivery_id, Some(&d.webhook_id))),
        );
        for (seen, now_read) in chunk.iter().zip(reads.await) {
            if let Some(log) = now_read?
                && log.delivery.requeueable(now)
                && log.delivery.generation == seen.generation
            {
                current.push(log.delivery);
            }
        }
    }
    Ok(current)
}

fn not_failed() -> DomainError {
    DomainError::conflict("delivery_not_failed", "only a failed delivery can be retried (and only once at a time)")
}

/// `POST .../deliveries/{id}/retry`: a failed delivery, sent again, once however many ask.
pub async fn retry_delivery(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    queue: &impl TaskQueue,
    tenant_id: &str,
    delivery_id: &str,
) -> DomainResult<Requeued> {
    let log = get_delivery(store, tenant_id, delivery_id).await?;
    if !log.delivery.requeueable(timestamp::now().unix_timestamp()) {
        return Err(not_failed());
    }
    let delivery_ids = requeue(store, queue, &[log.delivery]).await?;
    if delivery_ids.is_empty() {
        // Another call claimed it first.
        return Err(not_failed());
    }
    Ok(Requeued { requeued: delivery_ids.len(), delivery_ids, next_cursor: None })
}

/// The smallest delivery id created at or after `at` (ids are UUIDv7: they start with the
/// creation time in milliseconds).
fn first_id_since(at: time::OffsetDateTime) -> String {
    let ms = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    format!("{DELIVERY_PREFIX}{ms:012x}{}", "0".repeat(20))
}

/// `POST .../webhooks/{id}/recover?since=&cursor=`.
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoverParams {
    /// Requeue failed deliveries created at or after this RFC 3339 date-time.
    #[cfg_attr(feature = "openapi", param(format = DateTime))]
    pub since: String,
    /// The `next_cursor` of the previous answer.
    #[cfg_attr(feature = "openapi", param(pattern = "^dlv_[0-9a-f]{32}$"))]
    pub cursor: Option<String>,
}

/// `POST .../webhooks/{id}/recover?since=`: every failed delivery of the webhook since then,
/// oldest first, up to `MAX_RECOVER` and `MAX_INDEX_PAGES_PER_REQUEST` index pages a call
/// (`next_cursor` continues).
pub async fn recover_webhook(
    store: &(impl WebhookStore + EventStore + DeliveryStore),
    queue: &impl TaskQueue,
    tenant_id: &str,
    webhook_id: &str,
    params: &RecoverParams,
) -> DomainResult<Requeued> {
    let since = timestamp::parse(&params.since)
        .ok_or_else(|| DomainError::invalid("invalid_since", "since must be an RFC 3339 date-time"))?;
    let after = start_after(params.cursor.as_deref(), DELIVERY_PREFIX)?;
    get_webhook(store, tenant_id, webhook_id).await?;
    let since_id = first_id_since(since);
    let since_id = since_id.as_str();
    let now = timestamp::now().unix_timestamp();
    let stale_before = now - REQUEUE_CLAIM_STALE_SECONDS;
    let page = gather(
        MAX_RECOVER,
        after,
        |start| async move {
            let query = DeliveryQuery {
                tenant_id,
                webhook_id,
                status: Some(DeliveryStatus::Failed),
                limit: MAX_PAGE_SIZE,
                start_after: start.as_deref(),
                since_id: Some(since_id),
                stale_claims_before: Some(stale_before),
            };
            store.list_webhook_deliveries(&query).await
        },
        |d: &Delivery| d.delivery_id.clone(),
    )
    .await?;
    let failed = still_requeueable(store, page.items, now).await?;
    let delivery_ids = if failed.is_empty() { Vec::new() } else { requeue(store, queue, &failed).await? };
    Ok(Requeued { requeued: delivery_ids.len(), delivery_ids, next_cursor: page.next })
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

    fn delivery(webhook_id: &str, status: DeliveryStatus) -> Delivery {
        Delivery {
            tenant_id: "t".into(),
            delivery_id: ids::new_id(DELIVERY_PREFIX),
            event_id: "e".into(),
            webhook_id: webhook_id.into(),
            topic: "order_create".into(),
            status,
            attempt_count: 1,
            generation: 0,
            last_error: None,
            next_attempt_at: None,
            created_at: String::new(),
            updated_at: String::new(),
            expires_at: 0,
            requeue_claimed_at: None,
        }
    }

    #[tokio::test]
    async fn a_status_filter_that_matches_little_reads_a_bounded_number_of_pages_and_returns_a_cursor() {
        use crate::app::test_doubles::MemoryStore;
        use crate::domain::limits::MAX_INDEX_PAGES_PER_REQUEST;
        use std::sync::atomic::Ordering;
        // GIVEN a webhook with one failed delivery under 3000 delivered ones (newer)
        let webhook: crate::domain::webhook::Webhook = serde_json::from_value(serde_json::json!({
            "id": ids::new_id(ids::WEBHOOK_PREFIX), "tenant_id": "t", "name": "w", "url": "https://example.com/",
            "topics": ["order_create"], "enabled": true, "secret": "whsec_0123456789abcdef",
            "created_at": "", "updated_at": ""
        }))
        .expect("a webhook");
        let failed = delivery(&webhook.id, DeliveryStatus::Failed);
        let mut stored = vec![failed.clone()];
        stored.extend((0..3000).map(|_| delivery(&webhook.id, DeliveryStatus::Delivered)));
        let store = MemoryStore::with(vec![webhook.clone()]);
        *store.deliveries.lock().expect("lock") = stored;

        // WHEN the log is listed with status=failed
        let params = DeliveryListParams { status: Some("failed".into()), ..Default::default() };
        let page = list_webhook_deliveries(&store, "t", &webhook.id, &params).await.expect("page");

        // THEN it stops after the bound, with nothing found yet and a cursor to go on
        assert_eq!(store.index_reads.load(Ordering::SeqCst), MAX_INDEX_PAGES_PER_REQUEST);
        assert!(page.items.is_empty());
        // AND following the cursors finds the failed one, each request bounded too
        let mut cursor = page.next;
        let mut found = Vec::new();
        for _ in 0..10 {
            let Some(c) = cursor else { break };
            store.index_reads.store(0, Ordering::SeqCst);
            let params = DeliveryListParams { status: Some("failed".into()), cursor: Some(c), ..Default::default() };
            let page = list_webhook_deliveries(&store, "t", &webhook.id, &params).await.expect("page");
            assert!(store.index_reads.load(Ordering::SeqCst) <= MAX_INDEX_PAGES_PER_REQUEST);
            found.extend(page.items.into_iter().map(|l| l.delivery.delivery_id));
            cursor = page.next;
        }
        assert_eq!(found, [failed.delivery_id]);
        assert_eq!(cursor, None, "read to the end");
    }

    #[test]
    fn a_delivery_is_requeueable_when_failed_or_under_a_stale_claim() {
        let now = 1_800_000_000;
        let d = delivery("wh", DeliveryStatus::Failed);
        assert!(d.requeueable(now));
        for status in [DeliveryStatus::Pending, DeliveryStatus::Retrying, DeliveryStatus::Delivered] {
            assert!(!Delivery { status, ..d.clone() }.requeueable(now), "{status:?}");
        }
        let claimed = |at| Delivery { status: DeliveryStatus::Pending, requeue_claimed_at: Some(at), ..d.clone() };
        assert!(!claimed(now - 60).requeueable(now), "a fresh claim is in flight");
        assert!(claimed(now - REQUEUE_CLAIM_STALE_SECONDS).requeueable(now), "a stale claim was lost");
    }

    #[test]
    fn statuses_parse() {
        assert_eq!(parse_status("failed").expect("ok"), DeliveryStatus::Failed);
        assert_eq!(parse_status("lost").expect_err("bad").code(), "invalid_status");
    }
}
