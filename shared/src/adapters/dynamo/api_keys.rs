//! API keys: one item each, keyed by the key's hash.

use super::DynamoStore;
use super::items::{from_item, sdk_err, to_item};
use super::keys;
use crate::domain::api_key::ApiKeyRecord;
use crate::ports::store::{ApiKeyStore, StoreResult};

impl ApiKeyStore for DynamoStore {
    async fn get_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        self.get("GetItem", keys::api_key_pk(key_hash), keys::API_KEY_SK).await?.map(from_item).transpose()
    }

    async fn put_api_key(&self, record: &ApiKeyRecord) -> StoreResult<()> {
        let item = to_item(record, keys::api_key_pk(&record.key_hash), keys::API_KEY_SK, "api_key")?;
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(sdk_err("PutItem"))?;
        Ok(())
    }
}
