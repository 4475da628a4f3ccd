//! The tenant marker: it registers a tenant and holds `webhook_count`, the counter that makes
//! the webhooks-per-tenant cap atomic. A webhook is created in one transaction with the
//! marker's update `count < max` (so concurrent creates can't pass the cap) and deleted in
//! one with its decrement.
//!
//! Tenants registered before the counter existed have a marker without it: their first create
//! fails its condition, counts the webhooks with a Query, writes the count unless one appeared
//! meanwhile, and tries again. A delete of theirs before that finds no counter and deletes
//! alone. (A delete racing that one-time count can leave it one high: the cap then holds one
//! early, never late.)

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Update};
use rand::Rng;

use super::DynamoStore;
use super::items::*;
use super::keys;
use crate::ports::store::{StoreError, StoreResult, WebhookStore};

/// The marker's counter of webhooks.
const WEBHOOK_COUNT: &str = "webhook_count";
/// Tries at a create or delete whose transaction met another on the same marker (DynamoDB
/// cancels one of two concurrent transactions on an item) or a count that changed.
pub(super) const COUNTED_WRITE_ROUNDS: u32 = 8;

/// Why a transaction was cancelled, item by item (`None` when it failed otherwise).
pub(super) fn cancellation_reasons(e: &SdkError<TransactWriteItemsError>) -> Option<Vec<Option<String>>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            Some(c.cancellation_reasons().iter().map(|r| r.code().map(str::to_string)).collect())
        }
        _ => None,
    }
}

pub(super) fn condition_failed(reasons: &[Option<String>], item: usize) -> bool {
    reasons.get(item).and_then(Option::as_deref) == Some("ConditionalCheckFailed")
}

pub(super) fn conflicted(reasons: &[Option<String>]) -> bool {
    reasons.iter().any(|r| r.as_deref() == Some("TransactionConflict"))
}

/// A short random pause before trying a conflicted transaction again.
pub(super) async fn back_off(round: u32) {
    let ms = (10u64 << round.min(5)) + rand::rng().random_range(0..10u64);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// What a tenant's marker says of its webhook count.
pub(super) enum WebhookCount {
    NoTenant,
    /// A marker from before the counter.
    Uncounted,
    Counted(usize),
}

impl DynamoStore {
    /// The update that registers a tenant with no webhook yet (count 0), unless it exists.
    pub(super) fn new_tenant_marker(&self, tenant_id: &str, at: &str) -> StoreResult<Update> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(tenant_id), keys::TENANT_SK)))
            .update_expression("SET #kind = :kind, tenant_id = :tenant, created_at = :now, #count = :zero")
            .condition_expression("attribute_not_exists(pk)")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_names("#count", WEBHOOK_COUNT)
            .expression_attribute_values(":kind", s("tenant"))
            .expression_attribute_values(":tenant", s(tenant_id))
            .expression_attribute_values(":now", s(at))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .build()
            .map_err(build_err("UpdateItem"))
    }

    /// The update that counts one more webhook, registering the tenant if new: only while the
    /// count is under `max` (a marker without a count fails too: see the module docs).
    pub(super) fn count_webhook_in(&self, tenant_id: &str, at: &str, max: usize) -> StoreResult<Update> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(tenant_id), keys::TENANT_SK)))
            .update_expression(
                "SET #kind = :kind, tenant_id = :tenant, created_at = if_not_exists(created_at, :now), \
                 #count = if_not_exists(#count, :zero) + :one",
            )
            .condition_expression("attribute_not_exists(pk) OR #count < :max")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_names("#count", WEBHOOK_COUNT)
            .expression_attribute_values(":kind", s("tenant"))
            .expression_attribute_values(":tenant", s(tenant_id))
            .expression_attribute_values(":now", s(at))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":max", AttributeValue::N(max.to_string()))
            .build()
            .map_err(build_err("TransactWriteItems"))
    }

    /// The update that counts one webhook less; fails where there is no count to lower.
    pub(super) fn uncount_webhook(&self, tenant_id: &str) -> StoreResult<Update> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(tenant_id), keys::TENANT_SK)))
            .update_expression("SET #count = #count - :one")
            .condition_expression("#count > :zero")
            .expression_attribute_names("#count", WEBHOOK_COUNT)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(build_err("TransactWriteItems"))
    }

    pub(super) async fn webhook_count(&self, tenant_id: &str) -> StoreResult<WebhookCount> {
        let Some(marker) = self.get("GetItem", keys::tenant_pk(tenant_id), keys::TENANT_SK).await? else {
            return Ok(WebhookCount::NoTenant);
        };
        Ok(match marker.get(WEBHOOK_COUNT) {
            Some(AttributeValue::N(n)) => WebhookCount::Counted(
                n.parse().map_err(|_| StoreError::Corrupt(format!("{WEBHOOK_COUNT} {n:?} is not a count")))?,
            ),
            _ => WebhookCount::Uncounted,
        })
    }

    /// Gives a marker from before the counter its count, once (unless one appeared meanwhile).
    pub(super) async fn backfill_webhook_count(&self, tenant_id: &str) -> StoreResult<()> {
        let count = self.count_webhooks(tenant_id).await?;
        tracing::info!(tenant_id, count, "counting the webhooks of a tenant from before the webhook count");
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(tenant_id), keys::TENANT_SK)))
            .update_expression("SET #count = :count")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#count)")
            .expression_attribute_names("#count", WEBHOOK_COUNT)
            .expression_attribute_values(":count", AttributeValue::N(count.to_string()))
            .send()
            .await;
        unless_condition_failed("UpdateItem", result).map(|_| ())
    }
}
