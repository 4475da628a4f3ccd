//! Item helpers shared by the aggregates' stores: conversions between values and items, the
//! SDK's errors as `StoreError`s, and the reads and writes every aggregate uses.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, Update, WriteRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::DynamoStore;
use super::keys::{self, PK, SK};
use crate::domain::delivery::{Attempt, Delivery};
use crate::ports::store::{StoreError, StoreResult};

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const KIND: &str = "kind";
/// BatchWriteItem takes at most 25 requests; unprocessed ones are retried this many times.
const BATCH_WRITE_MAX: usize = 25;
pub(super) const BATCH_RETRIES: u32 = 5;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn sdk_err<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::Dynamo { operation, message: DisplayErrorContext(e).to_string() }
}

/// A write whose condition may fail by design: `Ok(None)` when it did not hold.
pub(super) trait ConditionFailed {
    fn condition_failed(&self) -> bool;
}

impl ConditionFailed for aws_sdk_dynamodb::operation::put_item::PutItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionFailed for aws_sdk_dynamodb::operation::delete_item::DeleteItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionFailed for aws_sdk_dynamodb::operation::update_item::UpdateItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

pub(super) fn unless_condition_failed<T, E>(
    operation: &'static str,
    result: Result<T, SdkError<E>>,
) -> StoreResult<Option<T>>
where
    E: ConditionFailed + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.as_service_error().is_some_and(ConditionFailed::condition_failed) => Ok(None),
        Err(e) => Err(sdk_err(operation)(e)),
    }
}

pub(super) fn build_err(operation: &'static str) -> impl FnOnce(aws_sdk_dynamodb::error::BuildError) -> StoreError {
    move |e| StoreError::Dynamo { operation, message: e.to_string() }
}

/// The item for `value` with its keys and kind added.
pub(super) fn to_item<T: Serialize>(value: &T, pk: String, sk: &str, kind: &str) -> StoreResult<Item> {
    let mut item: Item = serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    item.insert(PK.into(), s(pk));
    item.insert(SK.into(), s(sk));
    item.insert(KIND.into(), s(kind));
    Ok(item)
}

pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

/// A delivery's `pending` record in its own partition, where its id finds it: written only by
/// a retry finishing an interrupted ingest call, whose deliveries no marker leads to (decision
/// 44). Its state is then written in its webhook's log (`delivery_item`).
pub(super) fn own_pending_item(d: &Delivery) -> StoreResult<Item> {
    to_item(d, keys::delivery_pk(&d.tenant_id, &d.delivery_id), keys::DELIVERY_SK, "delivery")
}

/// A delivery's record in its webhook's log: the partition lists the webhook's deliveries by
/// id, so no index write (decision 45).
pub(super) fn delivery_item(d: &Delivery) -> StoreResult<Item> {
    to_item(d, keys::webhook_deliveries_pk(&d.tenant_id, &d.webhook_id), &d.delivery_id, "delivery")
}

/// The key of a delivery's record in its webhook's log.
pub(super) fn log_key(tenant_id: &str, webhook_id: &str, delivery_id: &str) -> Item {
    key(keys::webhook_deliveries_pk(tenant_id, webhook_id), delivery_id)
}

/// The first attempt of a delivery's first round rides in its record (`FIRST_ATTEMPT`): the
/// common delivery, sent once and answered, is then one write, state and attempt together.
pub(super) const FIRST_ATTEMPT: &str = "first_attempt";

pub(super) fn attempt_value(attempt: &Attempt) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(attempt).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn attempt_from_value(value: AttributeValue) -> StoreResult<Attempt> {
    serde_dynamo::from_attribute_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// An attempt is its own item under its delivery's key, sorted by a time-ordered id, so
/// recording one is a put (no read-modify-write) and reading a delivery is one Query.
pub(super) fn attempt_item(d: &Delivery, attempt: &Attempt) -> StoreResult<Item> {
    let sk = format!("{}{}", keys::ATTEMPT_SK_PREFIX, uuid::Uuid::now_v7().simple());
    let mut item = to_item(attempt, keys::delivery_pk(&d.tenant_id, &d.delivery_id), &sk, "attempt")?;
    item.insert("expires_at".into(), AttributeValue::N(d.expires_at.to_string()));
    Ok(item)
}

impl DynamoStore {
    pub(super) async fn get(&self, operation: &'static str, pk: String, sk: &str) -> StoreResult<Option<Item>> {
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
    pub(super) async fn put_if_absent(&self, item: Item) -> StoreResult<bool> {
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

    /// Sends one transaction item's update on its own, as an `UpdateItem`: the same write
    /// when a transaction is not needed (or its other item failed).
    pub(super) async fn update_alone(
        &self,
        update: &Update,
    ) -> Result<UpdateItemOutput, SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError>> {
        self.client
            .update_item()
            .table_name(update.table_name())
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .set_condition_expression(update.condition_expression().map(str::to_string))
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .send()
            .await
    }

    /// An `UpdateItem` of one webhook's item.
    pub(super) fn update_webhook_item(&self, tenant_id: &str, webhook_id: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::tenant_pk(tenant_id), &keys::webhook_sk(webhook_id))))
    }

    /// Every item of one partition (a tenant with its webhooks, a delivery with its attempts:
    /// both small by their limits), in sort-key order, read consistently.
    pub(super) async fn partition(&self, pk: String) -> StoreResult<Vec<Item>> {
        self.partition_from(pk, None).await
    }

    /// Like `partition`, only the items whose sort key starts with `sk_prefix` (all with `None`).
    pub(super) async fn partition_from(&self, pk: String, sk_prefix: Option<&str>) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let req = self.client.query().table_name(&self.table).expression_attribute_values(":pk", s(pk.clone()));
            let req = match sk_prefix {
                Some(prefix) => req
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix)),
                None => req.key_condition_expression("pk = :pk"),
            };
            let out =
                req.set_exclusive_start_key(start).consistent_read(true).send().await.map_err(sdk_err("Query"))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    pub(super) async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
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
}

/// Converts any serialisable value to an AttributeValue without a generic parameter, so the
/// update builder above can take fields of different types through one closure.
pub(super) mod erased {
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
