//! Pages of a webhook's delivery log (decision 46): the deliveries of one ingest call that one
//! invocation delivered at their first attempt are one item, not one record each, so the
//! common delivery shares a write unit with its batch instead of paying one of its own.
//!
//! A page sits in the webhook's log partition inside its call's key range: its sort key is the
//! call's delivery-id prefix (every delivery id of a call shares its first 28 hex digits:
//! `ids::call_delivery_id`) followed by `~` and a time-ordered id, so it sorts after the call's
//! own records and before the next call's. A call's records and pages for one webhook (its
//! "group") are read together: by one Query for a read by id, and whole by a listing, which
//! never stops inside a group (a page's deliveries are spread over its call's ids).
//! Only final outcomes go in a page (delivered at attempt 1 of round 0): a page is never
//! rewritten, and a record of the same delivery (another copy of its message) merges with it
//! by `Delivery::newer`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::items::*;
use super::keys::{self, SK};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus, DeliveryWrite};
use crate::domain::event::deflated_json;
use crate::domain::ids::DELIVERY_PREFIX;
use crate::ports::store::{DeliveryQuery, Page, StoreError, StoreResult};

/// Hex digits of a delivery id that name its ingest call.
const CALL_HEX: usize = 28;
/// Between a call's prefix and a page's own id in its sort key: after every hex digit.
const PAGE_MARK: char = '~';
const PAGE_KIND: &str = "delivery_page";

/// The part of a delivery id its ingest call's other delivery ids share.
pub(super) fn call_prefix(delivery_id: &str) -> &str {
    let end = (DELIVERY_PREFIX.len() + CALL_HEX).min(delivery_id.len());
    &delivery_id[..end]
}

/// A cursor for a read of the log that stopped at sort key `sk`: a delivery id as is; for a
/// page, the top of its call's ids (a cursor is always a delivery id: `pagination::start_after`).
/// Oldest first, everything of the call below it was read (its pages, all `delivered`, are
/// read again; only recover reads that way, for failed ones); newest first, the next read
/// takes the call's group whole.
pub(super) fn cursor_at(sk: &str) -> String {
    if sk.contains(PAGE_MARK) { format!("{}{}", call_prefix(sk), "f".repeat(32 - CALL_HEX)) } else { sk.to_string() }
}

/// A page as stored: the log's key, then the deliveries (as deflated JSON: a page of ten
/// first-try deliveries fits a write unit or two).
#[derive(Serialize, Deserialize)]
struct StoredPage {
    tenant_id: String,
    webhook_id: String,
    /// Lets a status filter see a page as what all its deliveries are.
    status: DeliveryStatus,
    expires_at: i64,
    #[serde(with = "deflated_json")]
    entries: Vec<Entry>,
}

/// One delivery of a page: what is not the same for the whole page.
#[derive(Serialize, Deserialize)]
struct Entry {
    delivery_id: String,
    event_id: String,
    topic: String,
    created_at: String,
    updated_at: String,
    attempt: Attempt,
}

/// Whether `w` can go in a page: delivered at the first attempt of its first round.
pub(super) fn pageable(w: &DeliveryWrite) -> bool {
    let d = &w.delivery;
    d.generation == 0
        && d.status == DeliveryStatus::Delivered
        && d.requeue_claimed_at.is_none()
        && w.attempt.as_ref().is_some_and(|a| a.attempt == 1)
}

/// The page items for `writes` (all `pageable`): one per webhook and ingest call.
pub(super) fn page_items(writes: &[&DeliveryWrite]) -> StoreResult<Vec<Item>> {
    let mut groups: HashMap<(&str, &str, &str), Vec<&DeliveryWrite>> = HashMap::new();
    for w in writes {
        let d = &w.delivery;
        groups.entry((&d.tenant_id, &d.webhook_id, call_prefix(&d.delivery_id))).or_default().push(w);
    }
    let mut items = Vec::with_capacity(groups.len());
    for ((tenant_id, webhook_id, call), group) in groups {
        let entries = group
            .iter()
            .filter_map(|w| {
                let d = &w.delivery;
                w.attempt.clone().map(|attempt| Entry {
                    delivery_id: d.delivery_id.clone(),
                    event_id: d.event_id.clone(),
                    topic: d.topic.clone(),
                    created_at: d.created_at.clone(),
                    updated_at: d.updated_at.clone(),
                    attempt,
                })
            })
            .collect();
        let page = StoredPage {
            tenant_id: tenant_id.to_string(),
            webhook_id: webhook_id.to_string(),
            status: DeliveryStatus::Delivered,
            expires_at: group.iter().map(|w| w.delivery.expires_at).max().unwrap_or_default(),
            entries,
        };
        let sk = format!("{call}{PAGE_MARK}{}", uuid::Uuid::now_v7().simple());
        items.push(to_item(&page, keys::webhook_deliveries_pk(tenant_id, webhook_id), &sk, PAGE_KIND)?);
    }
    Ok(items)
}

/// The deliveries of log items (records and pages), each with the first attempt it holds.
pub(super) fn expand(items: Vec<Item>) -> StoreResult<Vec<(Delivery, Option<Attempt>)>> {
    let mut out = Vec::with_capacity(items.len());
    for mut item in items {
        let is_page = matches!(item.get(KIND), Some(AttributeValue::S(kind)) if kind == PAGE_KIND);
        if !is_page {
            let first = item.remove(FIRST_ATTEMPT).map(attempt_from_value).transpose()?;
            out.push((from_item(item)?, first));
            continue;
        }
        let page: StoredPage = from_item(item)?;
        for e in page.entries {
            let delivery = Delivery {
                tenant_id: page.tenant_id.clone(),
                delivery_id: e.delivery_id,
                event_id: e.event_id,
                webhook_id: page.webhook_id.clone(),
                topic: e.topic,
                status: page.status,
                attempt_count: e.attempt.attempt,
                generation: 0,
                last_error: None,
                next_attempt_at: None,
                created_at: e.created_at,
                updated_at: e.updated_at,
                expires_at: page.expires_at,
                requeue_claimed_at: None,
            };
            out.push((delivery, Some(e.attempt)));
        }
    }
    Ok(out)
}

/// Of several records of one delivery, the newer (`Delivery::newer`), and every first attempt
/// they hold (each once).
pub(super) fn newest(found: impl IntoIterator<Item = (Delivery, Option<Attempt>)>) -> Option<(Delivery, Vec<Attempt>)> {
    let mut firsts: Vec<Attempt> = Vec::new();
    let mut newest: Option<Delivery> = None;
    for (delivery, first) in found {
        firsts.extend(first.filter(|f| !firsts.contains(f)));
        newest = Some(match newest {
            Some(n) => n.newer(delivery),
            None => delivery,
        });
    }
    newest.map(|d| (d, firsts))
}

/// `deliveries` sorted newest first, one per id (the newer of its records).
fn one_per_id(deliveries: Vec<Delivery>) -> Vec<Delivery> {
    let all = Page { items: deliveries, next: None };
    let none = Page { items: Vec::new(), next: None };
    Page::merge(all, none, false, |d: &Delivery| d.delivery_id.as_str(), Delivery::newer).items
}

/// How many items one read of a webhook's log examines for `q`: one more than asked, to know
/// whether a next page exists; a filtered read examines more (DynamoDB's Limit counts items
/// before the filter), but a bounded number.
pub(super) fn examined(q: &DeliveryQuery<'_>) -> i32 {
    let want = q.limit + 1;
    let examine = if q.status.is_some() { want.max(crate::domain::limits::FILTERED_PAGE_EXAMINES) } else { want };
    i32::try_from(examine).unwrap_or(i32::MAX)
}

/// Whether a listing asked for `d` (the filter a Query applies, for deliveries out of pages).
fn wanted(q: &DeliveryQuery<'_>, d: &Delivery) -> bool {
    match q.status {
        None => true,
        Some(status) => {
            d.status == status
                || q.stale_claims_before.is_some_and(|before| {
                    d.status == DeliveryStatus::Pending && d.requeue_claimed_at.is_some_and(|at| at <= before)
                })
        }
    }
}

impl DynamoStore {
    /// Every log item of `webhook_id`'s deliveries of the ingest call `call` (records and
    /// pages), read whole.
    pub(super) async fn call_group(&self, tenant_id: &str, webhook_id: &str, call: &str) -> StoreResult<Vec<Item>> {
        self.partition_from(keys::webhook_deliveries_pk(tenant_id, webhook_id), Some(call)).await
    }

    /// A newest-first page of a webhook's log (records and pages) after `q.start_after`, as
    /// `list_webhook_deliveries` describes it, whole call groups only: a group the read
    /// stopped inside is left for the next page, which reads it whole (its `next` is the top
    /// of that group's ids).
    pub(super) async fn read_log_newest_first(&self, q: &DeliveryQuery<'_>) -> StoreResult<Page<Delivery>> {
        let log_pk = keys::webhook_deliveries_pk(q.tenant_id, q.webhook_id);
        let mut found: Vec<Delivery> = Vec::new();
        // A start inside a call's ids: the rest of that call's group first, then below it.
        let below = match q.start_after {
            Some(start) => {
                let call = call_prefix(start);
                let group = expand(self.call_group(q.tenant_id, q.webhook_id, call).await?)?;
                found.extend(group.into_iter().map(|(d, _)| d).filter(|d| d.delivery_id.as_str() < start));
                Some(call.to_string())
            }
            None => None,
        };
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(log_pk))
            .scan_index_forward(false)
            .limit(examined(q));
        req = match &below {
            Some(call) => {
                req.key_condition_expression("pk = :pk AND sk < :below").expression_attribute_values(":below", s(call))
            }
            None => req.key_condition_expression("pk = :pk"),
        };
        let out = req.send().await.map_err(sdk_err("Query"))?;
        let mut read = expand(out.items.unwrap_or_default())?;
        let next = match out.last_evaluated_key.as_ref().and_then(|k| k.get(SK)) {
            Some(AttributeValue::S(stopped)) => {
                // The group the read stopped in waits for the next page, whole.
                let call = call_prefix(stopped).to_string();
                read.retain(|(d, _)| call_prefix(&d.delivery_id) != call);
                Some(cursor_at(&format!("{call}{PAGE_MARK}")))
            }
            Some(other) => return Err(StoreError::Corrupt(format!("a log read stopped at {other:?}"))),
            None => None,
        };
        found.extend(read.into_iter().map(|(d, _)| d));
        let items = one_per_id(found).into_iter().filter(|d| wanted(q, d)).collect();
        Ok(Page { items, next })
    }
}
