//! The delivery queue's message: everything the delivery function needs to send one delivery,
//! so sending costs no read of the event. Versioned, because messages outlive deployments
//! (retries run for hours).

use serde::{Deserialize, Serialize};

use crate::event::{EventPayload, EventRecord};

pub const TASK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryTask {
    pub v: u32,
    pub tenant_id: String,
    pub delivery_id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub topic: String,
    pub occurred_at: String,
    /// When the delivery was created, and when its records expire (TTL): the delivery function
    /// rewrites the delivery's record whole, without reading it first.
    pub created_at: String,
    pub expires_at: i64,
    /// The delivery's round (see `Delivery::generation`); 0 for the first.
    #[serde(default)]
    pub generation: u32,
    pub payload: EventPayload,
}

impl DeliveryTask {
    /// One task per delivery of the event.
    pub fn for_event(event: &EventRecord) -> Vec<DeliveryTask> {
        event
            .deliveries
            .iter()
            .map(|d| DeliveryTask {
                v: TASK_VERSION,
                tenant_id: event.tenant_id.clone(),
                delivery_id: d.id.clone(),
                webhook_id: d.webhook_id.clone(),
                event_id: event.event_id.clone(),
                topic: event.topic.clone(),
                occurred_at: event.occurred_at.clone(),
                created_at: event.received_at.clone(),
                expires_at: event.expires_at,
                generation: 0,
                payload: event.payload.clone(),
            })
            .collect()
    }

    pub fn to_message_body(&self) -> String {
        // Serialising plain data (strings and JSON maps) to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
