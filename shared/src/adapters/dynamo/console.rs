//! Console links and sessions: an item each, keyed by the token's hash, expiring by TTL (and
//! checked for expiry on read, since TTL deletes late).

use aws_sdk_dynamodb::types::ReturnValue;

use super::DynamoStore;
use super::items::{from_item, key, sdk_err, to_item, unless_condition_failed};
use super::keys;
use crate::domain::access::{ConsoleLink, ConsoleSession};
use crate::ports::store::{ConsoleStore, StoreResult};

impl ConsoleStore for DynamoStore {
    async fn put_console_link(&self, link: &ConsoleLink) -> StoreResult<()> {
        let item = to_item(link, keys::console_link_pk(&link.token_hash), keys::CONSOLE_LINK_SK, "console_link")?;
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(sdk_err("PutItem"))?;
        Ok(())
    }

    async fn take_console_link(&self, token_hash: &str) -> StoreResult<Option<ConsoleLink>> {
        // One conditional delete that returns what it deleted: two openings of one link can't
        // both get it.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::console_link_pk(token_hash), keys::CONSOLE_LINK_SK)))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        unless_condition_failed("DeleteItem", result)?.and_then(|out| out.attributes).map(from_item).transpose()
    }

    async fn put_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        let item = to_item(
            session,
            keys::console_session_pk(&session.token_hash),
            keys::CONSOLE_SESSION_SK,
            "console_session",
        )?;
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(sdk_err("PutItem"))?;
        Ok(())
    }

    async fn get_console_session(&self, token_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        self.get("GetItem", keys::console_session_pk(token_hash), keys::CONSOLE_SESSION_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn delete_console_session(&self, token_hash: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::console_session_pk(token_hash), keys::CONSOLE_SESSION_SK)))
            .send()
            .await
            .map_err(sdk_err("DeleteItem"))?;
        Ok(())
    }
}
