//! Deliveries and their attempts: each record in its webhook's log partition, keyed by delivery
//! id (so listing needs no index: decision 45), the attempts after the first in a partition of
//! the delivery's own. Records written there before (listed by the index `gsi1`) still read.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::items::*;
use super::keys;
use super::keys::{GSI1, GSI1_PK, GSI1_SK, PK, SK};
use super::log_pages;
use crate::domain::delivery::{Delivery, DeliveryLog, DeliveryStatus, DeliveryWrite};
use crate::domain::task::TaskIds;
use crate::ports::store::{DeliveryQuery, DeliveryStore, Page, StoreResult};

impl DeliveryStore for DynamoStore {
    async fn put_deliveries(&self, deliveries: &[Delivery], only_if_absent: bool) -> StoreResult<()> {
        let items = deliveries.iter().map(own_pending_item).collect::<StoreResult<Vec<_>>>()?;
        if !only_if_absent {
            return self.batch_put(items).await;
        }
        for item in items {
            self.put_if_absent(item).await?;
        }
        Ok(())
    }

    async fn write_deliveries(&self, writes: &[DeliveryWrite]) -> StoreResult<()> {
        // One state write per delivery (the last of the batch), each conditional so a record
        // never goes back: two copies of a message (SQS delivers at least once; a repeated
        // send) or a late write cannot replace a newer round, a later attempt, or a final
        // state, with an older one. The first write of round 0 puts the record with its
        // attempt inside (one write for the common delivery); any later write updates it, so
        // that first attempt stays, and puts its attempt as an item of its own.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, w) in writes.iter().enumerate() {
            last.insert(w.delivery.delivery_id.as_str(), i);
        }
        let mut attempts: Vec<Item> = Vec::new();
        let mut states: Vec<&DeliveryWrite> = Vec::new();
        let mut paged: Vec<&DeliveryWrite> = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            if last.get(w.delivery.delivery_id.as_str()) == Some(&i) {
                // Delivered at once: a final state, in its call's page with its attempt.
                if log_pages::pageable(w) {
                    paged.push(w);
                    continue;
                }
                states.push(w);
                if first_write(w) {
                    continue;
                }
            }
            if let Some(attempt) = &w.attempt {
                attempts.push(attempt_item(&w.delivery, attempt)?);
            }
        }
        // The attempts first: a reader who sees a state sees the attempt that led to it, and a
        // crash after a state write cannot leave its attempt out of the log (the message comes
        // back, but a final state refuses the repeat's write).
        self.batch_put(std::mem::take(&mut attempts)).await?;
        self.batch_put(log_pages::page_items(&paged)?).await?;
        // A batch's deliveries in parallel; a bulk write (a test's) a bounded number at a time.
        for chunk in states.chunks(STATE_WRITES_AT_ONCE) {
            let done = futures::future::join_all(chunk.iter().map(|w| self.write_state(w))).await;
            for (w, written) in chunk.iter().zip(done) {
                // A first write refused because the record moved on keeps its attempt apart.
                if !written?
                    && first_write(w)
                    && let Some(attempt) = &w.attempt
                {
                    attempts.push(attempt_item(&w.delivery, attempt)?);
                }
            }
        }
        self.batch_put(attempts).await
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
            .set_key(Some(log_key(&seen.tenant_id, &seen.webhook_id, &seen.delivery_id)))
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
        if unless_condition_failed("UpdateItem", update.send().await)?.is_some() {
            return Ok(true);
        }
        // Seen in a record from before the log (its webhook's log has none yet): the claim
        // starts the log's record, its next round. Of concurrent claims one put wins.
        let claimed = Delivery {
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            generation: seen.generation + 1,
            last_error: None,
            next_attempt_at: None,
            updated_at: at.to_string(),
            requeue_claimed_at: Some(claimed_at),
            ..seen.clone()
        };
        self.put_if_absent(delivery_item(&claimed)?).await
    }

    async fn release_requeue(&self, seen: &Delivery, claimed_at: i64, reason: &str, at: &str) -> StoreResult<()> {
        // Only this claim, untouched: the delivery function's first write drops the claim.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(log_key(&seen.tenant_id, &seen.webhook_id, &seen.delivery_id)))
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
        // The log, and the index for records from before it (decision 45), read side by side.
        let log = async {
            match q.since_id {
                None => self.read_log_newest_first(q).await,
                Some(_) => self.read_log(q, false).await,
            }
        };
        let (log, indexed) = futures::future::try_join(log, self.read_log(q, true)).await?;
        Ok(Page::merge(log, indexed, q.since_id.is_some(), |d: &Delivery| d.delivery_id.as_str(), Delivery::newer))
    }

    async fn get_delivery(
        &self,
        tenant_id: &str,
        delivery_id: &str,
        webhook_id: Option<&str>,
    ) -> StoreResult<Option<DeliveryLog>> {
        let call = log_pages::call_prefix(delivery_id);
        let own = self.partition(keys::delivery_pk(tenant_id, delivery_id));
        let (own, mut logged) = match webhook_id {
            Some(webhook_id) => futures::future::try_join(own, self.call_group(tenant_id, webhook_id, call)).await?,
            None => (own.await?, Vec::new()),
        };
        let mut record = Vec::new();
        let mut attempts = Vec::new();
        // Attempt keys are time-ordered, so the partition comes back oldest attempt first.
        for item in own {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == keys::DELIVERY_SK => record = log_pages::expand(vec![item])?,
                Some(AttributeValue::S(sk)) if sk.starts_with(keys::ATTEMPT_SK_PREFIX) => {
                    attempts.push(from_item(item)?)
                }
                _ => {}
            }
        }
        if webhook_id.is_none()
            && let Some((own, _)) = record.first()
        {
            logged = self.call_group(tenant_id, &own.webhook_id, call).await?;
        }
        // The delivery's records: its own (before decision 45, or written by id) and those in
        // its webhook's log, a record or a page entry; either may hold the first attempt.
        let logged = log_pages::expand(logged)?.into_iter().filter(|(d, _)| d.delivery_id == delivery_id);
        let Some((delivery, firsts)) = log_pages::newest(record.into_iter().chain(logged)) else {
            return Ok(None);
        };
        attempts.splice(0..0, firsts);
        Ok(Some(DeliveryLog { delivery, attempts }))
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
            .set_key(Some(log_key(&ids.tenant_id, &ids.webhook_id, &ids.delivery_id)))
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

/// State writes sent at once by one `write_deliveries`.
const STATE_WRITES_AT_ONCE: usize = 10;

/// Whether `w` is the first write of its delivery's first round (attempt 1, or a stop before
/// any attempt): nothing is in the record yet that a put would lose.
fn first_write(w: &DeliveryWrite) -> bool {
    w.delivery.generation == 0 && w.attempt.as_ref().map_or(w.delivery.attempt_count == 0, |a| a.attempt == 1)
}

/// The condition under which a state write may land: the record is absent (or from before
/// rounds), of an older round, or of this round and not past this write: never a final state
/// replaced (but `delivered` replaces `failed`: the receiver has it), never a later attempt's
/// state replaced by an earlier one's.
fn moves_forward(d: &Delivery) -> (String, HashMap<String, AttributeValue>) {
    let mut values = HashMap::from([
        (":cond_generation".to_string(), AttributeValue::N(d.generation.to_string())),
        (":cond_delivered".to_string(), s("delivered")),
    ]);
    let this_round = if d.status == DeliveryStatus::Delivered {
        "#cond_status <> :cond_delivered".to_string()
    } else {
        values.insert(":cond_failed".into(), s("failed"));
        values.insert(":cond_attempts".into(), AttributeValue::N(d.attempt_count.to_string()));
        "#cond_status <> :cond_delivered AND #cond_status <> :cond_failed AND attempt_count <= :cond_attempts"
            .to_string()
    };
    let condition = format!(
        "attribute_not_exists(pk) OR attribute_not_exists(generation) OR generation < :cond_generation \
         OR (generation = :cond_generation AND {this_round})"
    );
    (condition, values)
}

impl DynamoStore {
    /// One Query of a webhook's log (`indexed`: of the index, for records from before the log)
    /// as `list_webhook_deliveries` describes it.
    async fn read_log(&self, q: &DeliveryQuery<'_>, indexed: bool) -> StoreResult<Page<Delivery>> {
        let log_pk = keys::webhook_deliveries_pk(q.tenant_id, q.webhook_id);
        let (pk_name, sk_name) = if indexed { (GSI1_PK, GSI1_SK) } else { (PK, SK) };
        let start = q.start_after.map(|id| {
            if indexed {
                let mut k = key(keys::delivery_pk(q.tenant_id, id), keys::DELIVERY_SK);
                k.insert(GSI1_PK.into(), s(log_pk.clone()));
                k.insert(GSI1_SK.into(), s(id));
                k
            } else {
                key(log_pk.clone(), id)
            }
        });
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(indexed.then(|| GSI1.to_string()))
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(log_pk.clone()))
            .scan_index_forward(q.since_id.is_some())
            .limit(log_pages::examined(q))
            .set_exclusive_start_key(start);
        req = match q.since_id {
            Some(since) => req
                .key_condition_expression("#pk = :pk AND #sk >= :since")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":since", s(since)),
            // A log partition holds only delivery records.
            None => req.key_condition_expression("#pk = :pk"),
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
        let items = log_pages::expand(out.items.unwrap_or_default())?.into_iter().map(|(d, _)| d).collect();
        // Where the read stopped: the last item it examined, matched or not.
        let stopped = out.last_evaluated_key.and_then(|k| match k.get(sk_name) {
            Some(AttributeValue::S(sk)) => Some(log_pages::cursor_at(sk)),
            _ => None,
        });
        Ok(Page { items, next: stopped })
    }

    /// Writes `w`'s delivery state if it moves the record forward (`moves_forward`): a put
    /// with its first attempt for round 0's first write, an update otherwise. `false` when
    /// the record had moved on (nothing written).
    async fn write_state(&self, w: &DeliveryWrite) -> StoreResult<bool> {
        let (condition, values) = moves_forward(&w.delivery);
        let names = HashMap::from([("#cond_status".to_string(), "status".to_string())]);
        if !first_write(w) {
            return self.update_delivery(&w.delivery, condition, names, values).await;
        }
        let mut item = delivery_item(&w.delivery)?;
        if let Some(attempt) = &w.attempt {
            item.insert(FIRST_ATTEMPT.into(), attempt_value(attempt)?);
        }
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        Ok(unless_condition_failed("PutItem", result)?.is_some())
    }

    /// Writes `d`'s whole state over its record, keeping what is not state (its first attempt,
    /// an alert's count) and dropping a requeue claim (the first write of a round drops it),
    /// under `condition`.
    async fn update_delivery(
        &self,
        d: &Delivery,
        condition: String,
        mut names: HashMap<String, String>,
        mut values: HashMap<String, AttributeValue>,
    ) -> StoreResult<bool> {
        let mut item = delivery_item(d)?;
        item.remove(PK);
        item.remove(SK);
        item.remove("requeue_claimed_at");
        let key = log_key(&d.tenant_id, &d.webhook_id, &d.delivery_id);
        let mut sets = Vec::new();
        for (i, (name, value)) in item.into_iter().enumerate() {
            sets.push(format!("#a{i} = :v{i}"));
            names.insert(format!("#a{i}"), name);
            values.insert(format!(":v{i}"), value);
        }
        let removes: Vec<&str> = [
            ("last_error", d.last_error.is_none()),
            ("next_attempt_at", d.next_attempt_at.is_none()),
            ("requeue_claimed_at", true),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(format!("SET {} REMOVE {}", sets.join(", "), removes.join(", ")))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        Ok(unless_condition_failed("UpdateItem", result)?.is_some())
    }
}
