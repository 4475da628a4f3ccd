//! Rate quota counters: an item per tenant, kind and window, counted by one conditional
//! `ADD`, so concurrent requests on any number of instances never pass the limit. Each
//! expires by TTL after its window.

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::items::*;
use super::keys;
use crate::ports::store::{QuotaStore, StoreResult};

impl QuotaStore for DynamoStore {
    async fn take_quota(
        &self,
        tenant_id: &str,
        kind: &str,
        window: u64,
        limit: u32,
        amount: u32,
        expires_at: i64,
    ) -> StoreResult<bool> {
        // More than the whole quota never fits (and an absent counter would let it in).
        let Some(room) = limit.checked_sub(amount) else { return Ok(false) };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::quota_pk(tenant_id, kind, window), keys::QUOTA_SK)))
            .update_expression("ADD n :amount SET #kind = :kind, expires_at = :expires")
            .condition_expression("attribute_not_exists(n) OR n <= :room")
            .expression_attribute_names("#kind", KIND)
            .expression_attribute_values(":amount", AttributeValue::N(amount.to_string()))
            .expression_attribute_values(":kind", s("quota"))
            .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
            .expression_attribute_values(":room", AttributeValue::N(room.to_string()))
            .send()
            .await;
        Ok(unless_condition_failed("UpdateItem", result)?.is_some())
    }
}
