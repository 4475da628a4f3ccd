//! Deliveries and their attempts: a partition per delivery, listed per webhook by the index.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::items::*;
use super::keys;
use super::keys::{GSI1, GSI1_PK, GSI1_SK, SK};
use crate::domain::delivery::{Delivery, DeliveryLog, DeliveryStatus, DeliveryWrite};
use crate::domain::limits::FILTERED_PAGE_EXAMINES;
use crate::domain::task::TaskIds;
use crate::ports::store::{DeliveryQuery, DeliveryStore, Page, StoreResult};

impl DeliveryStore for DynamoStore {
    async fn put_deliveries(&self, deliveries: &[Delivery], only_if_absent: bool) -> StoreResult<()> {
        let items = deliveries.iter().map(delivery_item).collect::<StoreResult<Vec<_>>>()?;
        if !only_if_absent {
            return self.batch_put(items).await;
        }
        for item in items {
            self.put_if_absent(item).await?;
        }
        Ok(())
    }

    async fn write_deliveries(&self, writes: &[DeliveryWrite]) -> StoreResult<()> {
        // One put per delivery state (the last wins: BatchWriteItem refuses a key twice) and
        // one per attempt (each has its own key).
        let mut states: Vec<Item> = Vec::new();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut attempts: Vec<Item> = Vec::new();
        for w in writes {
            let item = delivery_item(&w.delivery)?;
            match seen.get(w.delivery.delivery_id.as_str()) {
                Some(&i) => states[i] = item,
                None => {
                    seen.insert(&w.delivery.delivery_id, states.len());
                    states.push(item);
                }
            }
            if let Some(attempt) = &w.attempt {
                attempts.push(attempt_item(&w.delivery, attempt)?);
            }
        }
        states.extend(attempts);
        self.batch_put(states).await
    }

    async fn claim_requeue(&self, seen: &Delivery, claimed_at: i64, at: &str) -> StoreResult<bool> {
        // From exactly the state seen: failed in its round, or pending under the same lost
        // claim. Of concurrent claims one wins; the others find the new round.
        let seen_state = if seen.status == DeliveryStatus::Failed {
            "#status = :failed"
        } else {
            "#status = :pending AND requeue_claimed_at = :seen_claim"
        };
        // Records written before rounds existed have no generation: they are round 0.
        let same_round = if seen.generation == 0 {
            "(attribute_not_exists(generation) OR generation = :generation)"
        } else {
            "generation = :generation"
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::delivery_pk(&seen.tenant_id, &seen.delivery_id), keys::DELIVERY_SK)))
            .update_expression(
                "SET #status = :pending, attempt_count = :zero, generation = :next, updated_at = :at, \
                 requeue_claimed_at = :claimed REMOVE last_error, next_attempt_at, alert_counted",
            )
            .condition_expression(format!("{seen_state} AND {same_round}"))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":generation", AttributeValue::N(seen.generation.to_string()))
            .expression_attribute_values(":next", AttributeValue::N((seen.generation + 1).to_string()))
            .expression_attribute_values(":claimed", AttributeValue::N(claimed_at.to_string()))
            .expression_attribute_values(":at", s(at));
        update = match (seen.status, seen.requeue_claimed_at) {
            (DeliveryStatus::Failed, _) => update.expression_attribute_values(":failed", s("failed")),
            (_, Some(claim)) => update.expression_attribute_values(":seen_claim", AttributeValue::N(claim.to_string())),
            // Neither failed nor claimed: nothing to claim.
            _ => return Ok(false),
        };
        Ok(unless_condition_failed("UpdateItem", update.send().await)?.is_some())
    }

    async fn release_requeue(&self, seen: &Delivery, claimed_at: i64, reason: &str, at: &str) -> StoreResult<()> {
        // Only this claim, untouched: the delivery function's first write drops the claim.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::delivery_pk(&seen.tenant_id, &seen.delivery_id), keys::DELIVERY_SK)))
            .update_expression(
                "SET #status = :failed, last_error = :reason, updated_at = :at REMOVE requeue_claimed_at",
            )
            .condition_expression("#status = :pending AND generation = :next AND requeue_claimed_at = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":next", AttributeValue::N((seen.generation + 1).to_string()))
            .expression_attribute_values(":claimed", AttributeValue::N(claimed_at.to_string()))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":at", s(at))
            .send()
            .await;
        unless_condition_failed("UpdateItem", result).map(|_| ())
    }

    async fn list_webhook_deliveries(&self, q: &DeliveryQuery<'_>) -> StoreResult<Page<Delivery>> {
        let gsi_pk = keys::webhook_deliveries_pk(q.tenant_id, q.webhook_id);
        let start = q.start_after.map(|id| {
            let mut k = key(keys::delivery_pk(q.tenant_id, id), keys::DELIVERY_SK);
            k.insert(GSI1_PK.into(), s(gsi_pk.clone()));
            k.insert(GSI1_SK.into(), s(id));
            k
        });
        // One more than asked, to know whether a next page exists; a filtered read examines
        // more (DynamoDB's Limit counts items before the filter), but a bounded number.
        let want = q.limit + 1;
        let examine = if q.status.is_some() { want.max(FILTERED_PAGE_EXAMINES) } else { want };
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .expression_attribute_values(":pk", s(gsi_pk.clone()))
            .scan_index_forward(q.since_id.is_some())
            .limit(i32::try_from(examine).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start);
        req = match q.since_id {
            Some(since) => req
                .key_condition_expression("gsi1pk = :pk AND gsi1sk >= :since")
                .expression_attribute_values(":since", s(since)),
            None => req.key_condition_expression("gsi1pk = :pk"),
        };
        if let Some(status) = q.status {
            let av = |v: &dyn erased::Ser| v.to_av();
            req = req
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", av(&status)?);
            req = match q.stale_claims_before {
                Some(before) => req
                    .filter_expression("#status = :status OR (#status = :pending AND requeue_claimed_at <= :stale)")
                    .expression_attribute_values(":pending", s("pending"))
                    .expression_attribute_values(":stale", AttributeValue::N(before.to_string())),
                None => req.filter_expression("#status = :status"),
            };
        }
        let out = req.send().await.map_err(sdk_err("Query"))?;
        let items = out.items.unwrap_or_default().into_iter().map(from_item).collect::<StoreResult<Vec<Delivery>>>()?;
        // Where the read stopped: the last item it examined, matched or not.
        let stopped = out.last_evaluated_key.and_then(|k| match k.get(GSI1_SK) {
            Some(AttributeValue::S(id)) => Some(id.clone()),
            _ => None,
        });
        Ok(Page { items, next: stopped })
    }

    async fn get_delivery(&self, tenant_id: &str, delivery_id: &str) -> StoreResult<Option<DeliveryLog>> {
        let mut delivery = None;
        let mut attempts = Vec::new();
        // Attempt keys are time-ordered, so the partition comes back oldest attempt first.
        for item in self.partition(keys::delivery_pk(tenant_id, delivery_id)).await? {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == keys::DELIVERY_SK => delivery = Some(from_item(item)?),
                Some(AttributeValue::S(sk)) if sk.starts_with(keys::ATTEMPT_SK_PREFIX) => {
                    attempts.push(from_item(item)?)
                }
                _ => {}
            }
        }
        Ok(delivery.map(|delivery| DeliveryLog { delivery, attempts }))
    }

    async fn mark_unreadable(&self, ids: &TaskIds, reason: &str, at: &str) -> StoreResult<bool> {
        // Without the message's other fields the record is updated, not rewritten whole.
        let same_round = if ids.generation == 0 {
            "(attribute_not_exists(generation) OR generation = :generation)"
        } else {
            "generation = :generation"
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::delivery_pk(&ids.tenant_id, &ids.delivery_id), keys::DELIVERY_SK)))
            .update_expression("SET #status = :failed, last_error = :reason, updated_at = :at REMOVE next_attempt_at")
            .condition_expression(format!("attribute_exists(pk) AND #status <> :delivered AND {same_round}"))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":delivered", s("delivered"))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":generation", AttributeValue::N(ids.generation.to_string()))
            .send()
            .await;
        Ok(unless_condition_failed("UpdateItem", result)?.is_some())
    }
}
