//! Events: one item each, written once (the idempotency key is its id); an ingest call's list
//! of its events (so a delivery id leads to its event), and its marker, which says its events'
//! deliveries are queued.

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::items::*;
use super::keys;
use crate::domain::event::EventRecord;
use crate::ports::store::{CreateEvent, EventStore, StoreError, StoreResult};

/// The call's event ids, in its order.
const EVENT_IDS: &str = "event_ids";

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

    async fn put_call_events(
        &self,
        tenant_id: &str,
        ingest_id: &str,
        event_ids: &[String],
        expires_at: i64,
    ) -> StoreResult<()> {
        let mut item = key(keys::ingest_pk(tenant_id, ingest_id), keys::CALL_EVENTS_SK);
        item.insert(KIND.into(), s("call_events"));
        item.insert(EVENT_IDS.into(), AttributeValue::L(event_ids.iter().map(s).collect()));
        item.insert("expires_at".into(), AttributeValue::N(expires_at.to_string()));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(sdk_err("PutItem"))?;
        Ok(())
    }

    async fn call_events(&self, tenant_id: &str, ingest_id: &str) -> StoreResult<Option<Vec<String>>> {
        let Some(mut item) = self.get("GetItem", keys::ingest_pk(tenant_id, ingest_id), keys::CALL_EVENTS_SK).await?
        else {
            return Ok(None);
        };
        let Some(AttributeValue::L(ids)) = item.remove(EVENT_IDS) else {
            return Err(StoreError::Corrupt(format!("ingest call {ingest_id}: no event ids")));
        };
        let ids = ids
            .into_iter()
            .map(|id| match id {
                AttributeValue::S(id) => Ok(id),
                other => Err(StoreError::Corrupt(format!("ingest call {ingest_id}: an event id {other:?}"))),
            })
            .collect::<StoreResult<Vec<String>>>()?;
        Ok(Some(ids))
    }

    async fn mark_ingest_enqueued(&self, tenant_id: &str, ingest_id: &str, expires_at: i64) -> StoreResult<()> {
        let mut item = key(keys::ingest_pk(tenant_id, ingest_id), keys::INGEST_SK);
        item.insert(KIND.into(), s("ingest"));
        item.insert("expires_at".into(), AttributeValue::N(expires_at.to_string()));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(sdk_err("PutItem"))?;
        Ok(())
    }

    async fn ingest_enqueued(&self, tenant_id: &str, ingest_id: &str) -> StoreResult<bool> {
        Ok(self.get("GetItem", keys::ingest_pk(tenant_id, ingest_id), keys::INGEST_SK).await?.is_some())
    }
}
