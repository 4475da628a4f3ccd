//! Deliveries and their attempts: a partition per delivery, listed per webhook by the index.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::items::*;
use super::keys;
use super::keys::{GSI1, GSI1_PK, GSI1_SK, SK};
use crate::domain::delivery::{Delivery, DeliveryLog, DeliveryWrite};
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

    async fn mark_requeued(&self, failed: &Delivery, at: &str) -> StoreResult<bool> {
        let same_round = if failed.generation == 0 {
            "(attribute_not_exists(generation) OR generation = :generation)"
        } else {
            "generation = :generation"
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::delivery_pk(&failed.tenant_id, &failed.delivery_id), keys::DELIVERY_SK)))
            .update_expression(
                "SET #status = :pending, attempt_count = :zero, generation = :next, updated_at = :at \
                 REMOVE last_error, next_attempt_at, alert_counted",
            )
            .condition_expression(format!("#status = :failed AND {same_round}"))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":generation", AttributeValue::N(failed.generation.to_string()))
            .expression_attribute_values(":next", AttributeValue::N((failed.generation + 1).to_string()))
            .expression_attribute_values(":at", s(at))
            .send()
            .await;
        Ok(unless_condition_failed("UpdateItem", result)?.is_some())
    }

    async fn list_webhook_deliveries(&self, q: &DeliveryQuery<'_>) -> StoreResult<Page<Delivery>> {
        let gsi_pk = keys::webhook_deliveries_pk(q.tenant_id, q.webhook_id);
        let mut items: Vec<Delivery> = Vec::new();
        let mut start = q.start_after.map(|id| {
            let mut k = key(keys::delivery_pk(q.tenant_id, id), keys::DELIVERY_SK);
            k.insert(GSI1_PK.into(), s(gsi_pk.clone()));
            k.insert(GSI1_SK.into(), s(id));
            k
        });
        let want = q.limit + 1;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .expression_attribute_values(":pk", s(gsi_pk.clone()))
                .scan_index_forward(q.since_id.is_some())
                .limit(i32::try_from(want.max(25)).unwrap_or(i32::MAX))
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
                    .filter_expression("#status = :status")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", av(&status)?);
            }
            let out = req.send().await.map_err(sdk_err("Query"))?;
            for item in out.items.unwrap_or_default() {
                items.push(from_item(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() || items.len() >= want {
                break;
            }
        }
        Ok(Page::from_overfetch(items, q.limit, |d| d.delivery_id.clone()))
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
