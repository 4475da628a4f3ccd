//! API keys: one item each, keyed by the key's hash (the lookup on every request), and in one
//! index partition by id (listing and revoking).

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::items::{from_item, key, s, sdk_err, to_item};
use super::keys::{self, GSI1, GSI1_PK, GSI1_SK};
use crate::domain::api_key::ApiKeyRecord;
use crate::ports::store::{ApiKeyStore, StoreResult};

impl ApiKeyStore for DynamoStore {
    async fn get_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        self.get("GetItem", keys::api_key_pk(key_hash), keys::API_KEY_SK).await?.map(from_item).transpose()
    }

    async fn put_api_key(&self, record: &ApiKeyRecord) -> StoreResult<()> {
        let mut item = to_item(record, keys::api_key_pk(&record.key_hash), keys::API_KEY_SK, "api_key")?;
        item.insert(GSI1_PK.into(), s(keys::API_KEYS_GSI_PK));
        item.insert(GSI1_SK.into(), s(&record.key_id));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(sdk_err("PutItem"))?;
        Ok(())
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(":pk", s(keys::API_KEYS_GSI_PK))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_err("Query"))?;
            for item in out.items.unwrap_or_default() {
                found.push(from_item(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    async fn delete_api_key(&self, key_id: &str) -> StoreResult<bool> {
        // The index gives the key's hash, the item's key; the delete itself is by key, so a
        // revoked key fails its next lookup (read consistently) at once.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :pk AND gsi1sk = :id")
            .expression_attribute_values(":pk", s(keys::API_KEYS_GSI_PK))
            .expression_attribute_values(":id", s(key_id))
            .send()
            .await
            .map_err(sdk_err("Query"))?;
        let Some(record) =
            out.items.unwrap_or_default().into_iter().next().map(from_item::<ApiKeyRecord>).transpose()?
        else {
            return Ok(false);
        };
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::api_key_pk(&record.key_hash), keys::API_KEY_SK)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(sdk_err("DeleteItem"))?;
        Ok(deleted.attributes.is_some_and(|a| a.get("key_id") == Some(&AttributeValue::S(key_id.to_string()))))
    }
}
