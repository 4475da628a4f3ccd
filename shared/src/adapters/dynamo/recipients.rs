//! Alert recipients (a partition per tenant, an item per address), their link tokens (an item
//! per token hash, expiring by TTL) and the daily e-mail counters (an item per tenant and UTC
//! day, expiring by TTL). Every read is a GetItem or a Query on a key.

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::items::{from_item, key, s, sdk_err, to_item, unless_condition_failed};
use super::keys;
use crate::domain::recipient::{AlertRecipient, RecipientState, RecipientToken};
use crate::ports::store::{RecipientStore, StateChange, StoreResult};

fn state(s: RecipientState) -> AttributeValue {
    // The enum's serde names (`pending`, ...), as stored by `to_item`.
    AttributeValue::S(serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
}

impl RecipientStore for DynamoStore {
    async fn create_recipient(&self, r: &AlertRecipient) -> StoreResult<bool> {
        let item = to_item(r, keys::recipients_pk(&r.tenant_id), &keys::recipient_sk(&r.email), "alert_recipient")?;
        self.put_if_absent(item).await
    }

    async fn get_recipient(&self, tenant_id: &str, email: &str) -> StoreResult<Option<AlertRecipient>> {
        self.get("GetItem", keys::recipients_pk(tenant_id), &keys::recipient_sk(email))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn list_recipients(&self, tenant_id: &str) -> StoreResult<Vec<AlertRecipient>> {
        self.partition(keys::recipients_pk(tenant_id)).await?.into_iter().map(from_item).collect()
    }

    async fn set_confirm_token(
        &self,
        tenant_id: &str,
        email: &str,
        token_hash: &str,
        sent_at: &str,
    ) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::recipients_pk(tenant_id), &keys::recipient_sk(email))))
            .update_expression("SET confirm_token_hash = :hash, confirmation_sent_at = :at")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":hash", s(token_hash))
            .expression_attribute_values(":at", s(sent_at))
            .expression_attribute_values(":pending", state(RecipientState::Pending))
            .send()
            .await;
        Ok(unless_condition_failed("UpdateItem", result)?.is_some())
    }

    async fn confirm_recipient(&self, tenant_id: &str, email: &str, token_hash: &str, at: &str) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::recipients_pk(tenant_id), &keys::recipient_sk(email))))
            .update_expression(
                "SET #state = :confirmed, confirmed_at = :at, changed_at = :at \
                 REMOVE confirm_token_hash, retry_after, #reason",
            )
            .condition_expression("#state = :pending AND confirm_token_hash = :hash")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#reason", "reason")
            .expression_attribute_values(":confirmed", state(RecipientState::Confirmed))
            .expression_attribute_values(":pending", state(RecipientState::Pending))
            .expression_attribute_values(":hash", s(token_hash))
            .expression_attribute_values(":at", s(at))
            .send()
            .await;
        Ok(unless_condition_failed("UpdateItem", result)?.is_some())
    }

    async fn set_recipient_state(&self, tenant_id: &str, email: &str, change: &StateChange<'_>) -> StoreResult<bool> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::recipients_pk(tenant_id), &keys::recipient_sk(email))))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#reason", "reason")
            .expression_attribute_values(":state", state(change.state))
            .expression_attribute_values(":reason", s(change.reason))
            .expression_attribute_values(":at", s(change.at));
        update = match change.retry_after {
            Some(until) => update
                .update_expression("SET #state = :state, #reason = :reason, changed_at = :at, retry_after = :until")
                .expression_attribute_values(":until", s(until)),
            None => {
                update.update_expression("SET #state = :state, #reason = :reason, changed_at = :at REMOVE retry_after")
            }
        };
        Ok(unless_condition_failed("UpdateItem", update.send().await)?.is_some())
    }

    async fn put_recipient_token(&self, token: &RecipientToken) -> StoreResult<()> {
        let item =
            to_item(token, keys::recipient_token_pk(&token.token_hash), keys::RECIPIENT_TOKEN_SK, "recipient_token")?;
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(sdk_err("PutItem"))?;
        Ok(())
    }

    async fn get_recipient_token(&self, token_hash: &str) -> StoreResult<Option<RecipientToken>> {
        self.get("GetItem", keys::recipient_token_pk(token_hash), keys::RECIPIENT_TOKEN_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn delete_recipient_token(&self, token_hash: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::recipient_token_pk(token_hash), keys::RECIPIENT_TOKEN_SK)))
            .send()
            .await
            .map_err(sdk_err("DeleteItem"))?;
        Ok(())
    }
}
