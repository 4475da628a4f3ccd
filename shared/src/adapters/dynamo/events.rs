//! Events: one item each, written once (the idempotency key is its id) and marked enqueued.

use super::DynamoStore;
use super::items::*;
use super::keys;
use crate::domain::event::EventRecord;
use crate::ports::store::{CreateEvent, EventStore, StoreError, StoreResult};

impl EventStore for DynamoStore {
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
}
