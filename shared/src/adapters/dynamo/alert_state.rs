//! A webhook's failure and alert state: dead letters counted once, the alert summary claimed,
//! finished or released, and the webhook disabled for failures.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem, Update};

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::items::*;
use super::keys;
use crate::domain::delivery::Delivery;
use crate::domain::webhook::Webhook;
use crate::domain::webhook::alert_state::MAX_PENDING_DELIVERY_IDS;
use crate::ports::store::{AlertStore, DeadLetterCount, DeadLetterKey, StoreError, StoreResult, WebhookStore};

/// Tries at taking a sent summary off the pending one while failures keep being counted.
const FINISH_ALERT_ROUNDS: u32 = 5;

/// How counting a dead letter marks its delivery.
const MARK_FAILED: &str = "#status = :failed, alert_counted = :true, updated_at = :at";

impl AlertStore for DynamoStore {
    async fn disable_for_failures(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        threshold: u32,
        reason: &str,
        at: &str,
    ) -> StoreResult<bool> {
        let result = self
            .update_webhook_item(tenant_id, webhook_id)
            .update_expression("SET enabled = :false, disabled_reason = :reason, disabled_at = :at, updated_at = :at")
            .condition_expression("enabled = :true AND consecutive_failures >= :threshold")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":threshold", AttributeValue::N(threshold.to_string()))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":at", s(at))
            .send()
            .await;
        Ok(unless_condition_failed("UpdateItem", result)?.is_some())
    }

    async fn count_dead_letter(&self, dead: &DeadLetterKey<'_>, at: &str) -> StoreResult<DeadLetterCount> {
        let delivery_key = log_key(dead.tenant_id, dead.webhook_id, dead.delivery_id);
        let webhook_key = key(keys::tenant_pk(dead.tenant_id), &keys::webhook_sk(dead.webhook_id));
        let Some(item) =
            self.get("GetItem", keys::webhook_deliveries_pk(dead.tenant_id, dead.webhook_id), dead.delivery_id).await?
        else {
            return Ok(DeadLetterCount::NoRecord);
        };
        let counted_before = item.contains_key("alert_counted");
        let delivery: Delivery = from_item(item)?;
        if counted_before || delivery.generation != dead.generation {
            return Ok(DeadLetterCount::NotCounted);
        }
        let error = match dead.unreadable {
            Some(reason) => reason.to_string(),
            None => delivery.last_error.clone().unwrap_or_else(|| "every attempt failed".to_string()),
        };
        // Records written before rounds existed have no generation: they are round 0.
        let same_round = if dead.generation == 0 {
            "(attribute_not_exists(generation) OR generation = :generation)"
        } else {
            "generation = :generation"
        };
        let mut mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(delivery_key))
            .update_expression(format!("SET {MARK_FAILED}"))
            .condition_expression(format!(
                "attribute_exists(pk) AND attribute_not_exists(alert_counted) AND {same_round}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":generation", AttributeValue::N(dead.generation.to_string()));
        if dead.unreadable.is_some() {
            // An unreadable dead letter's reason becomes the delivery's last error.
            mark = mark
                .update_expression(format!("SET {MARK_FAILED}, last_error = :error"))
                .expression_attribute_values(":error", s(&error));
        }
        let mark = mark.build().map_err(build_err("TransactWriteItems"))?;
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(webhook_key))
            .update_expression(
                "ADD consecutive_failures :one, pending_count :one \
                 SET pending_first_at = if_not_exists(pending_first_at, :at), pending_last_at = :at, \
                 pending_last_error = :error",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":error", s(&error))
            .build()
            .map_err(build_err("TransactWriteItems"))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(mark.clone()).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        if let Err(e) = result {
            // Which condition failed decides: the delivery counted meanwhile (a parallel
            // invocation) counts nothing; the webhook gone still marks the delivery failed.
            // Anything else (e.g. a conflicting transaction) is an error, tried again later.
            let reasons: Vec<Option<String>> = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    c.cancellation_reasons().iter().map(|r| r.code().map(str::to_string)).collect()
                }
                _ => return Err(sdk_err("TransactWriteItems")(e)),
            };
            let failed = |i: usize| reasons.get(i).and_then(Option::as_deref) == Some("ConditionalCheckFailed");
            return match (failed(0), failed(1)) {
                (true, _) => Ok(DeadLetterCount::NotCounted),
                (false, true) => {
                    let alone = self.update_alone(&mark).await;
                    Ok(match unless_condition_failed("UpdateItem", alone)? {
                        Some(_) => DeadLetterCount::WebhookGone,
                        None => DeadLetterCount::NotCounted,
                    })
                }
                _ => Err(StoreError::Dynamo {
                    operation: "TransactWriteItems",
                    message: format!("cancelled: {reasons:?}"),
                }),
            };
        }
        // The summary names a few deliveries, not all: the item must not grow with an outage.
        // Best effort after the count: a crash here loses only an id from the e-mail.
        let appended = self.update_webhook_item(dead.tenant_id, dead.webhook_id)
            .update_expression("SET pending_delivery_ids = list_append(if_not_exists(pending_delivery_ids, :none), :id)")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(pending_delivery_ids) OR size(pending_delivery_ids) < :max)",
            )
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":id", AttributeValue::L(vec![s(dead.delivery_id)]))
            .expression_attribute_values(":max", AttributeValue::N(MAX_PENDING_DELIVERY_IDS.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let webhook = match unless_condition_failed("UpdateItem", appended)?.and_then(|out| out.attributes) {
            Some(item) => Some(self.webhook_from_item(item).await?),
            None => self.get_webhook(dead.tenant_id, dead.webhook_id).await?,
        };
        Ok(match webhook {
            Some(webhook) => DeadLetterCount::Counted { delivery: Box::new(delivery), webhook: Box::new(webhook) },
            None => DeadLetterCount::WebhookGone,
        })
    }

    async fn claim_alert(&self, seen: &Webhook, at: &str) -> StoreResult<bool> {
        let mut conditions = vec!["pending_count = :count"];
        let mut req = self
            .update_webhook_item(&seen.tenant_id, &seen.id)
            .update_expression("SET alert_claimed_at = :at")
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":count", AttributeValue::N(seen.pending_count.to_string()));
        match &seen.last_alert_at {
            Some(previous) => {
                conditions.push("last_alert_at = :previous");
                req = req.expression_attribute_values(":previous", s(previous));
            }
            None => conditions.push("attribute_not_exists(last_alert_at)"),
        }
        match &seen.alert_claimed_at {
            Some(stale) => {
                conditions.push("alert_claimed_at = :stale");
                req = req.expression_attribute_values(":stale", s(stale));
            }
            None => conditions.push("attribute_not_exists(alert_claimed_at)"),
        }
        let result = req.condition_expression(conditions.join(" AND ")).send().await;
        Ok(unless_condition_failed("UpdateItem", result)?.is_some())
    }

    async fn finish_alert(&self, claimed: &Webhook, at: &str) -> StoreResult<()> {
        // Read, compute what stays pending, write if nothing changed meanwhile; again if it did
        // (a failure counted in between). A handful of rounds at most: counts come one by one.
        for _ in 0..FINISH_ALERT_ROUNDS {
            let Some(current) = self.get_webhook(&claimed.tenant_id, &claimed.id).await? else {
                return Ok(());
            };
            if current.alert_claimed_at.as_deref() != Some(at) {
                // Taken over as stale: that invocation tells the summary again.
                return Ok(());
            }
            let left = current.pending_after_telling(claimed);
            let av = |v: &dyn erased::Ser| v.to_av();
            let mut sets = vec!["last_alert_at = :at".to_string(), "pending_count = :count".to_string()];
            let mut removes = vec!["alert_claimed_at"];
            let mut req = self
                .update_webhook_item(&claimed.tenant_id, &claimed.id)
                // Unchanged since read: the count, and the ids (appended after a count).
                .condition_expression(
                    "alert_claimed_at = :at AND pending_count = :seen AND \
                     (attribute_not_exists(pending_delivery_ids) OR size(pending_delivery_ids) = :seen_ids)",
                )
                .expression_attribute_values(":at", s(at))
                .expression_attribute_values(":count", av(&left.count)?)
                .expression_attribute_values(":seen", av(&current.pending_count)?)
                .expression_attribute_values(":seen_ids", av(&current.pending_delivery_ids.len())?);
            let fields: [(&str, Option<AttributeValue>); 4] = [
                ("pending_first_at", left.first_at.as_deref().map(s)),
                ("pending_last_at", left.last_at.as_deref().map(s)),
                ("pending_last_error", left.last_error.as_deref().map(s)),
                ("pending_delivery_ids", (!left.delivery_ids.is_empty()).then(|| av(&left.delivery_ids)).transpose()?),
            ];
            for (name, value) in fields {
                match value {
                    Some(v) => {
                        sets.push(format!("{name} = :{name}"));
                        req = req.expression_attribute_values(format!(":{name}"), v);
                    }
                    None => removes.push(name),
                }
            }
            let expression = format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "));
            if unless_condition_failed("UpdateItem", req.update_expression(expression).send().await)?.is_some() {
                return Ok(());
            }
        }
        Err(StoreError::Dynamo { operation: "UpdateItem", message: "the alert summary kept changing".into() })
    }

    async fn release_alert(&self, claimed: &Webhook, at: &str) -> StoreResult<()> {
        let result = self
            .update_webhook_item(&claimed.tenant_id, &claimed.id)
            .update_expression("REMOVE alert_claimed_at")
            .condition_expression("alert_claimed_at = :at")
            .expression_attribute_values(":at", s(at))
            .send()
            .await;
        // Taken over (stale) or the webhook is gone: not ours to release.
        unless_condition_failed("UpdateItem", result).map(|_| ())
    }
}
