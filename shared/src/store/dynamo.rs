//! `Store` on one DynamoDB table (single-table design). Keys, in docs/data-model.md:
//!
//! | item     | pk                           | sk               | gsi1pk / gsi1sk                  |
//! |----------|------------------------------|------------------|----------------------------------|
//! | tenant   | `TENANT#{tenant}`            | `#TENANT`        |                                  |
//! | webhook  | `TENANT#{tenant}`            | `WEBHOOK#{id}`   |                                  |
//! | event    | `EVENT#{tenant}#{event}`     | `EVENT`          |                                  |
//! | delivery | `DELIVERY#{tenant}#{id}`     | `DELIVERY`       | `WEBHOOK#{tenant}#{webhook}` / id |
//! | attempt  | `DELIVERY#{tenant}#{id}`     | `ATTEMPT#{uuidv7}` |                                |
//! | api key  | `APIKEY#{sha256}`            | `APIKEY`         |                                  |
//!
//! A tenant's partition holds only its marker and its webhooks, so fan-out is one Query.
//! Events and deliveries get a partition each: they are written at event rate and read by key.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, PutRequest, ReturnValue, Select, TransactWriteItem, Update, WriteRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{CreateEvent, DeadLetterCount, DeadLetterKey, DeliveryQuery, Page, Store, StoreError, StoreResult};
use crate::api_key::ApiKeyRecord;
use crate::delivery::{Attempt, Delivery, DeliveryLog, DeliveryWrite};
use crate::event::EventRecord;
use crate::webhook::{Webhook, WebhookChanges};

type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
const KIND: &str = "kind";

/// BatchWriteItem takes at most 25 requests; unprocessed ones are retried this many times.
const BATCH_WRITE_MAX: usize = 25;
const BATCH_RETRIES: u32 = 5;
/// Delivery ids kept for an alert summary.
const MAX_PENDING_IDS: usize = 5;
/// Tries at taking a sent summary off the pending one while failures keep being counted.
const FINISH_ALERT_ROUNDS: u32 = 5;

mod keys {
    pub const TENANT_SK: &str = "#TENANT";
    pub const WEBHOOK_SK_PREFIX: &str = "WEBHOOK#";
    pub const EVENT_SK: &str = "EVENT";
    pub const DELIVERY_SK: &str = "DELIVERY";
    pub const API_KEY_SK: &str = "APIKEY";
    pub const ATTEMPT_SK_PREFIX: &str = "ATTEMPT#";

    pub fn tenant_pk(tenant: &str) -> String {
        format!("TENANT#{tenant}")
    }
    pub fn webhook_sk(id: &str) -> String {
        format!("{WEBHOOK_SK_PREFIX}{id}")
    }
    pub fn event_pk(tenant: &str, event: &str) -> String {
        format!("EVENT#{tenant}#{event}")
    }
    pub fn delivery_pk(tenant: &str, delivery: &str) -> String {
        format!("DELIVERY#{tenant}#{delivery}")
    }
    pub fn webhook_deliveries_pk(tenant: &str, webhook: &str) -> String {
        format!("WEBHOOK#{tenant}#{webhook}")
    }
    pub fn api_key_pk(hash: &str) -> String {
        format!("APIKEY#{hash}")
    }
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn sdk_err<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::Dynamo { operation, message: DisplayErrorContext(e).to_string() }
}

/// A write whose condition may fail by design: `Ok(None)` when it did not hold.
trait ConditionFailed {
    fn condition_failed(&self) -> bool;
}

impl ConditionFailed for aws_sdk_dynamodb::operation::put_item::PutItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionFailed for aws_sdk_dynamodb::operation::update_item::UpdateItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

fn unless_condition_failed<T, E>(operation: &'static str, result: Result<T, SdkError<E>>) -> StoreResult<Option<T>>
where
    E: ConditionFailed + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.as_service_error().is_some_and(ConditionFailed::condition_failed) => Ok(None),
        Err(e) => Err(sdk_err(operation)(e)),
    }
}

fn build_err(operation: &'static str) -> impl FnOnce(aws_sdk_dynamodb::error::BuildError) -> StoreError {
    move |e| StoreError::Dynamo { operation, message: e.to_string() }
}

/// The item for `value` with its keys and kind added.
fn to_item<T: Serialize>(value: &T, pk: String, sk: &str, kind: &str) -> StoreResult<Item> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    item.insert(PK.into(), s(pk));
    item.insert(SK.into(), s(sk));
    item.insert(KIND.into(), s(kind));
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

fn delivery_item(d: &Delivery) -> StoreResult<Item> {
    let mut item = to_item(d, keys::delivery_pk(&d.tenant_id, &d.delivery_id), keys::DELIVERY_SK, "delivery")?;
    item.insert(GSI1_PK.into(), s(keys::webhook_deliveries_pk(&d.tenant_id, &d.webhook_id)));
    item.insert(GSI1_SK.into(), s(&d.delivery_id));
    Ok(item)
}

/// An attempt is its own item under its delivery's key, sorted by a time-ordered id, so
/// recording one is a put (no read-modify-write) and reading a delivery is one Query.
fn attempt_item(d: &Delivery, attempt: &Attempt) -> StoreResult<Item> {
    let sk = format!("{}{}", keys::ATTEMPT_SK_PREFIX, uuid::Uuid::now_v7().simple());
    let mut item = to_item(attempt, keys::delivery_pk(&d.tenant_id, &d.delivery_id), &sk, "attempt")?;
    item.insert("expires_at".into(), AttributeValue::N(d.expires_at.to_string()));
    Ok(item)
}

impl DynamoStore {
    async fn get(&self, operation: &'static str, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err(operation))?;
        Ok(out.item)
    }

    /// Writes `item` unless one with its key exists; `false` when it existed.
    async fn put_if_absent(&self, item: Item) -> StoreResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        Ok(unless_condition_failed("PutItem", result)?.is_some())
    }

    /// An `UpdateItem` of one webhook's item.
    fn update_webhook_item(&self, tenant_id: &str, webhook_id: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(tenant_id), &keys::webhook_sk(webhook_id))))
    }

    /// Every item of one partition (a tenant with its webhooks, a delivery with its attempts:
    /// both small by their limits), in sort-key order, read consistently.
    async fn partition(&self, pk: String) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk.clone()))
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(sdk_err("Query"))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
        for chunk in items.chunks(BATCH_WRITE_MAX) {
            let mut requests = chunk
                .iter()
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map_err(build_err("BatchWriteItem"))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let mut attempt = 0;
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_err("BatchWriteItem"))?;
                requests = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                attempt += 1;
                if attempt > BATCH_RETRIES {
                    return Err(StoreError::Dynamo {
                        operation: "BatchWriteItem",
                        message: format!("{} items still unprocessed after {BATCH_RETRIES} retries", requests.len()),
                    });
                }
                // Unprocessed items mean throttling: back off before sending them again.
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(())
    }

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
        // Enabling a webhook again starts its failure count afresh and clears why and when it
        // was disabled.
        if c.enabled == Some(true) {
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

/// Converts any serialisable value to an AttributeValue without a generic parameter, so the
/// update builder above can take fields of different types through one closure.
mod erased {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::{StoreError, StoreResult};

    pub trait Ser {
        fn to_av(&self) -> StoreResult<AttributeValue>;
    }

    impl<T: serde::Serialize> Ser for T {
        fn to_av(&self) -> StoreResult<AttributeValue> {
            serde_dynamo::to_attribute_value(self).map_err(|e| StoreError::Corrupt(e.to_string()))
        }
    }
}

impl Store for DynamoStore {
    async fn get_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        self.get("GetItem", keys::api_key_pk(key_hash), keys::API_KEY_SK).await?.map(from_item).transpose()
    }

    async fn put_api_key(&self, record: &ApiKeyRecord) -> StoreResult<()> {
        let item = to_item(record, keys::api_key_pk(&record.key_hash), keys::API_KEY_SK, "api_key")?;
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(sdk_err("PutItem"))?;
        Ok(())
    }

    async fn tenant_exists(&self, tenant_id: &str) -> StoreResult<bool> {
        Ok(self.get("GetItem", keys::tenant_pk(tenant_id), keys::TENANT_SK).await?.is_some())
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

    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()> {
        let tenant_pk = keys::tenant_pk(&webhook.tenant_id);
        let register_tenant = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk.clone(), keys::TENANT_SK)))
            .update_expression("SET #kind = :kind, tenant_id = :tenant, created_at = if_not_exists(created_at, :now)")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":kind", s("tenant"))
            .expression_attribute_values(":tenant", s(&webhook.tenant_id))
            .expression_attribute_values(":now", s(&webhook.created_at))
            .build()
            .map_err(build_err("TransactWriteItems"))?;
        let put_webhook = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(webhook, tenant_pk, &keys::webhook_sk(&webhook.id), "webhook")?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_err("TransactWriteItems"))?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(register_tenant).build())
            .transact_items(TransactWriteItem::builder().put(put_webhook).build())
            .send()
            .await
            .map_err(sdk_err("TransactWriteItems"))?;
        Ok(())
    }

    async fn get_webhook(&self, tenant_id: &str, webhook_id: &str) -> StoreResult<Option<Webhook>> {
        self.get("GetItem", keys::tenant_pk(tenant_id), &keys::webhook_sk(webhook_id)).await?.map(from_item).transpose()
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
                items.push(from_item(item)?);
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
        let (expr, names, values) = Self::update_expression(changes, updated_at)?;
        let result = self
            .update_webhook_item(tenant_id, webhook_id)
            .update_expression(expr)
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        unless_condition_failed("UpdateItem", result)?.and_then(|out| out.attributes).map(from_item).transpose()
    }

    async fn delete_webhook(&self, tenant_id: &str, webhook_id: &str) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(tenant_id), &keys::webhook_sk(webhook_id))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_err("DeleteItem"))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn tenant_webhooks(&self, tenant_id: &str) -> StoreResult<Option<Vec<Webhook>>> {
        let mut tenant_known = false;
        let mut webhooks = Vec::new();
        for item in self.partition(keys::tenant_pk(tenant_id)).await? {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk == keys::TENANT_SK => tenant_known = true,
                Some(AttributeValue::S(sk)) if sk.starts_with(keys::WEBHOOK_SK_PREFIX) => {
                    webhooks.push(from_item(item)?)
                }
                _ => {}
            }
        }
        Ok(tenant_known.then_some(webhooks))
    }

    async fn get_event(&self, tenant_id: &str, event_id: &str) -> StoreResult<Option<EventRecord>> {
        self.get("GetItem", keys::event_pk(tenant_id, event_id), keys::EVENT_SK).await?.map(from_item).transpose()
    }

    async fn create_event(&self, event: &EventRecord) -> StoreResult<CreateEvent> {
        let item = to_item(event, keys::event_pk(&event.tenant_id, &event.event_id), keys::EVENT_SK, "event")?;
        if self.put_if_absent(item).await? {
            return Ok(CreateEvent::Created);
        }
        let existing = self
            .get_event(&event.tenant_id, &event.event_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("event {} exists but cannot be read", event.event_id)))?;
        Ok(CreateEvent::Exists(Box::new(existing)))
    }

    async fn mark_event_enqueued(&self, tenant_id: &str, event_id: &str) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::event_pk(tenant_id, event_id), keys::EVENT_SK)))
            .update_expression("SET #state = :enqueued")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":enqueued", s("enqueued"))
            .send()
            .await
            .map_err(sdk_err("UpdateItem"))?;
        Ok(())
    }

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
                    found.push(from_item(item)?);
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

    async fn count_dead_letter(&self, dead: &DeadLetterKey<'_>, at: &str) -> StoreResult<DeadLetterCount> {
        let delivery_key = key(keys::delivery_pk(dead.tenant_id, dead.delivery_id), keys::DELIVERY_SK);
        let webhook_key = key(keys::tenant_pk(dead.tenant_id), &keys::webhook_sk(dead.webhook_id));
        let Some(item) =
            self.get("GetItem", keys::delivery_pk(dead.tenant_id, dead.delivery_id), keys::DELIVERY_SK).await?
        else {
            return Ok(DeadLetterCount::NotCounted);
        };
        let counted_before = item.contains_key("alert_counted");
        let delivery: Delivery = from_item(item)?;
        if counted_before || delivery.generation != dead.generation {
            return Ok(DeadLetterCount::NotCounted);
        }
        let error = delivery.last_error.clone().unwrap_or_else(|| "every attempt failed".to_string());
        // Records written before rounds existed have no generation: they are round 0.
        let same_round = if dead.generation == 0 {
            "(attribute_not_exists(generation) OR generation = :generation)"
        } else {
            "generation = :generation"
        };
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(delivery_key))
            .update_expression("SET #status = :failed, alert_counted = :true, updated_at = :at")
            .condition_expression(format!(
                "attribute_exists(pk) AND attribute_not_exists(alert_counted) AND {same_round}"
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", s("failed"))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":at", s(at))
            .expression_attribute_values(":generation", AttributeValue::N(dead.generation.to_string()))
            .build()
            .map_err(build_err("TransactWriteItems"))?;
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
                    let alone = self
                        .client
                        .update_item()
                        .table_name(mark.table_name())
                        .set_key(Some(mark.key().clone()))
                        .update_expression(mark.update_expression())
                        .set_condition_expression(mark.condition_expression().map(str::to_string))
                        .set_expression_attribute_names(mark.expression_attribute_names().cloned())
                        .set_expression_attribute_values(mark.expression_attribute_values().cloned())
                        .send()
                        .await;
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
            .expression_attribute_values(":max", AttributeValue::N(MAX_PENDING_IDS.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let webhook = match unless_condition_failed("UpdateItem", appended)?.and_then(|out| out.attributes) {
            Some(item) => Some(from_item(item)?),
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
