//! Webhooks: a tenant's partition holds its marker and its webhooks, so fan-out is one Query.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{Delete, KeysAndAttributes, Put, ReturnValue, Select, TransactWriteItem};

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::items::*;
use super::keys::{self, SK};
use super::tenants::{
    COUNTED_WRITE_ROUNDS, WebhookCount, back_off, cancellation_reasons, condition_failed, conflicted,
};
use crate::domain::webhook::{Webhook, WebhookChanges};
use crate::ports::store::{Page, StoreError, StoreResult, WebhookStore};

impl WebhookStore for DynamoStore {
    async fn tenant_exists(&self, tenant_id: &str) -> StoreResult<bool> {
        Ok(self.get("GetItem", keys::tenant_pk(tenant_id), keys::TENANT_SK).await?.is_some())
    }

    async fn register_tenant(&self, tenant_id: &str, at: &str) -> StoreResult<()> {
        // A tenant that exists is left as it is.
        let result = self.update_alone(&self.new_tenant_marker(tenant_id, at)?).await;
        unless_condition_failed("UpdateItem", result).map(|_| ())
    }

    async fn count_webhooks(&self, tenant_id: &str) -> StoreResult<usize> {
        let mut count = 0usize;
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(keys::tenant_pk(tenant_id)))
                .expression_attribute_values(":prefix", s(keys::WEBHOOK_SK_PREFIX))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_err("Query"))?;
            count += usize::try_from(out.count).unwrap_or(0);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    async fn create_webhook(&self, webhook: &Webhook, max_webhooks: usize) -> StoreResult<bool> {
        let tenant_pk = keys::tenant_pk(&webhook.tenant_id);
        let mut item = to_item(webhook, tenant_pk, &keys::webhook_sk(&webhook.id), "webhook")?;
        self.seal_secrets(&webhook.tenant_id, &webhook.id, item.iter_mut().map(|(k, v)| (k.as_str(), v))).await?;
        let put_webhook = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_err("TransactWriteItems"))?;
        // The count and the webhook in one transaction: see `tenants` for the marker's count.
        for round in 0..COUNTED_WRITE_ROUNDS {
            let count = self.count_webhook_in(&webhook.tenant_id, &webhook.created_at, max_webhooks)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(count).build())
                .transact_items(TransactWriteItem::builder().put(put_webhook.clone()).build())
                .send()
                .await;
            let Err(e) = result else { return Ok(true) };
            match cancellation_reasons(&e) {
                Some(reasons) if condition_failed(&reasons, 0) => match self.webhook_count(&webhook.tenant_id).await? {
                    WebhookCount::Counted(n) if n >= max_webhooks => return Ok(false),
                    WebhookCount::Uncounted => self.backfill_webhook_count(&webhook.tenant_id).await?,
                    // Lowered meanwhile by a delete: try again.
                    _ => {}
                },
                Some(reasons) if conflicted(&reasons) => back_off(round).await,
                _ => return Err(sdk_err("TransactWriteItems")(e)),
            }
        }
        Err(StoreError::Dynamo {
            operation: "TransactWriteItems",
            message: format!("the tenant's webhook count kept changing ({COUNTED_WRITE_ROUNDS} tries)"),
        })
    }

    async fn get_webhook(&self, tenant_id: &str, webhook_id: &str) -> StoreResult<Option<Webhook>> {
        match self.get("GetItem", keys::tenant_pk(tenant_id), &keys::webhook_sk(webhook_id)).await? {
            Some(item) => Ok(Some(self.webhook_from_item(item).await?)),
            None => Ok(None),
        }
    }

    async fn list_webhooks(
        &self,
        tenant_id: &str,
        limit: usize,
        start_after: Option<&str>,
    ) -> StoreResult<Page<Webhook>> {
        let pk = keys::tenant_pk(tenant_id);
        let mut items: Vec<Webhook> = Vec::new();
        let mut start = start_after.map(|id| key(pk.clone(), &keys::webhook_sk(id)));
        // One more than asked, to know whether a next page exists.
        let want = limit + 1;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(keys::WEBHOOK_SK_PREFIX))
                .limit(i32::try_from(want - items.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_err("Query"))?;
            for item in out.items.unwrap_or_default() {
                items.push(self.webhook_from_item(item).await?);
            }
            start = out.last_evaluated_key;
            if start.is_none() || items.len() >= want {
                break;
            }
        }
        Ok(Page::from_overfetch(items, limit, |w| w.id.clone()))
    }

    async fn update_webhook(
        &self,
        tenant_id: &str,
        webhook_id: &str,
        changes: &WebhookChanges,
        updated_at: &str,
    ) -> StoreResult<Option<Webhook>> {
        let (expr, names, mut values) = Self::update_expression(changes, updated_at)?;
        // `:secret`, `:auth`, `:headers` are sealed like the attributes they set.
        let secrets = values.iter_mut().filter_map(|(k, v)| k.strip_prefix(':').map(|name| (name, v)));
        self.seal_secrets(tenant_id, webhook_id, secrets).await?;
        let result = self
            .update_webhook_item(tenant_id, webhook_id)
            .update_expression(expr)
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let Some(item) = unless_condition_failed("UpdateItem", result)?.and_then(|out| out.attributes) else {
            return Ok(None);
        };
        // An item written before sealing is sealed whole on this, its next update.
        self.seal_plain_leftovers(tenant_id, webhook_id, &item).await?;
        Ok(Some(self.webhook_from_item(item).await?))
    }

    async fn delete_webhook(&self, tenant_id: &str, webhook_id: &str) -> StoreResult<bool> {
        let webhook_key = key(keys::tenant_pk(tenant_id), &keys::webhook_sk(webhook_id));
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(webhook_key.clone()))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_err("TransactWriteItems"))?;
        // The webhook and its count in one transaction.
        for round in 0..COUNTED_WRITE_ROUNDS {
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().delete(delete.clone()).build())
                .transact_items(TransactWriteItem::builder().update(self.uncount_webhook(tenant_id)?).build())
                .send()
                .await;
            let Err(e) = result else { return Ok(true) };
            match cancellation_reasons(&e) {
                Some(reasons) if condition_failed(&reasons, 0) => return Ok(false),
                // No count to lower (a tenant from before the count): the webhook alone.
                Some(reasons) if condition_failed(&reasons, 1) => {
                    let alone = self
                        .client
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(webhook_key))
                        .condition_expression("attribute_exists(pk)")
                        .send()
                        .await;
                    return Ok(unless_condition_failed("DeleteItem", alone)?.is_some());
                }
                Some(reasons) if conflicted(&reasons) => back_off(round).await,
                _ => return Err(sdk_err("TransactWriteItems")(e)),
            }
        }
        Err(StoreError::Dynamo {
            operation: "TransactWriteItems",
            message: format!("the tenant's webhook count kept changing ({COUNTED_WRITE_ROUNDS} tries)"),
        })
    }

    async fn tenant_webhooks(&self, tenant_id: &str) -> StoreResult<Option<Vec<Webhook>>> {
        let mut tenant_known = false;
        let mut webhooks = Vec::new();
        for item in self.partition(keys::tenant_pk(tenant_id)).await? {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == keys::TENANT_SK => tenant_known = true,
                Some(AttributeValue::S(sk)) if sk.starts_with(keys::WEBHOOK_SK_PREFIX) => {
                    webhooks.push(Self::webhook_for_fan_out(item)?)
                }
                _ => {}
            }
        }
        Ok(tenant_known.then_some(webhooks))
    }

    async fn get_webhooks(&self, keys_wanted: &[(String, String)]) -> StoreResult<Vec<Webhook>> {
        let mut found = Vec::new();
        // BatchGetItem takes at most 100 keys.
        for chunk in keys_wanted.chunks(100) {
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|(t, w)| key(keys::tenant_pk(t), &keys::webhook_sk(w))).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(build_err("BatchGetItem"))?,
            );
            let mut attempt = 0;
            while let Some(req) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, req)
                    .send()
                    .await
                    .map_err(sdk_err("BatchGetItem"))?;
                for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                    found.push(self.webhook_from_item(item).await?);
                }
                request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys().is_empty());
                if request.is_some() {
                    attempt += 1;
                    if attempt > BATCH_RETRIES {
                        return Err(StoreError::Dynamo {
                            operation: "BatchGetItem",
                            message: "keys still unprocessed".into(),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        Ok(found)
    }

    async fn disable_webhook(&self, tenant_id: &str, webhook_id: &str, reason: &str, at: &str) -> StoreResult<()> {
        let result = self
            .update_webhook_item(tenant_id, webhook_id)
            .update_expression("SET enabled = :false, disabled_reason = :reason, disabled_at = :at, updated_at = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":at", s(at))
            .send()
            .await;
        // Deleted meanwhile: nothing left to disable.
        unless_condition_failed("UpdateItem", result).map(|_| ())
    }

    async fn reset_failures(&self, tenant_id: &str, webhook_id: &str) -> StoreResult<()> {
        let result = self
            .update_webhook_item(tenant_id, webhook_id)
            .update_expression("SET consecutive_failures = :zero")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        unless_condition_failed("UpdateItem", result).map(|_| ())
    }
}

impl DynamoStore {
    /// Applies `changes` with one UpdateItem; only set fields are written.
    fn update_expression(
        changes: &WebhookChanges,
        updated_at: &str,
    ) -> StoreResult<(String, HashMap<String, String>, Item)> {
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut names = HashMap::new();
        let mut values = Item::new();
        let mut set = |field: &str, value: AttributeValue| {
            names.insert(format!("#{field}"), field.to_string());
            values.insert(format!(":{field}"), value);
            sets.push(format!("#{field} = :{field}"));
        };
        fn field<T: serde::Serialize>(v: &Option<T>) -> Option<&dyn erased::Ser> {
            v.as_ref().map(|v| v as &dyn erased::Ser)
        }
        /// `Some(None)` (cleared) becomes a REMOVE.
        fn clearable<T: serde::Serialize>(v: &Option<Option<T>>) -> Option<Option<&dyn erased::Ser>> {
            v.as_ref().map(|v| v.as_ref().map(|v| v as &dyn erased::Ser))
        }
        let c = changes;
        // Stored as the webhook stores them (see `Webhook::filters`).
        let filters = c
            .filters
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let plain = [
            ("name", field(&c.name)),
            ("url", field(&c.url)),
            ("topics", field(&c.topics)),
            ("enabled", field(&c.enabled)),
            ("secret", field(&c.secret)),
            ("filters", field(&filters)),
            ("format", field(&c.format)),
            ("form_key", field(&c.form_key)),
            ("headers", field(&c.headers)),
            ("alert_emails", field(&c.alert_emails)),
            ("alert_interval_minutes", field(&c.alert_interval_minutes)),
            ("disable_after_failures", field(&c.disable_after_failures)),
        ];
        let optional = [
            ("description", clearable(&c.description)),
            ("event_prefix", clearable(&c.event_prefix)),
            ("fields", clearable(&c.fields)),
            ("auth", clearable(&c.auth)),
            ("integration", clearable(&c.integration)),
            ("max_per_second", clearable(&c.max_per_second)),
        ];
        let mut cleared: Vec<&str> = Vec::new();
        for (name, value) in plain {
            if let Some(v) = value {
                set(name, v.to_av()?);
            }
        }
        for (name, value) in optional {
            match value {
                Some(Some(v)) => set(name, v.to_av()?),
                Some(None) => cleared.push(name),
                None => {}
            }
        }
        // A rotation: the old secret keeps signing until the grace period ends (the right-hand
        // `#secret` is read before this update writes the new one), or stops at once.
        let rotation = c.secret.is_some();
        if let (true, Some(until)) = (rotation, &c.previous_secret_until) {
            set("previous_secret_expires_at", s(until));
        } else if rotation {
            cleared.extend(["previous_secret", "previous_secret_expires_at"]);
        }
        set("updated_at", s(updated_at));
        if c.resets_failures() {
            set("consecutive_failures", AttributeValue::N("0".into()));
            cleared.extend(["disabled_reason", "disabled_at"]);
        }
        for name in cleared {
            names.insert(format!("#{name}"), name.to_string());
            removes.push(format!("#{name}"));
        }
        if rotation && c.previous_secret_until.is_some() {
            names.insert("#previous_secret".into(), "previous_secret".into());
            sets.push("#previous_secret = #secret".into());
        }
        let mut expr = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expr.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        Ok((expr, names, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_expression_sets_only_changed_fields_and_removes_cleared_ones() {
        let changes = WebhookChanges { name: Some("n".into()), description: Some(None), ..Default::default() };
        let (expr, names, values) = DynamoStore::update_expression(&changes, "now").expect("expr");
        assert_eq!(expr, "SET #name = :name, #updated_at = :updated_at REMOVE #description");
        assert_eq!(names.len(), 3);
        assert_eq!(values.len(), 2);
    }
}
