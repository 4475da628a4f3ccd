//! Deliveries: one event on its way to one webhook. The delivery id is what receivers dedupe
//! on; it stays the same across every retry of the delivery.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Queued, no attempt made yet.
    Pending,
    /// An attempt failed; another is scheduled.
    Retrying,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed (or the webhook is gone); the failure is alerted.
    Failed,
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub tenant_id: String,
    pub delivery_id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub topic: String,
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    pub created_at: String,
    pub updated_at: String,
    /// Unix seconds after which DynamoDB's TTL may remove the record.
    pub expires_at: i64,
}

/// What `GET .../deliveries/{id}` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub topic: String,
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.delivery_id.clone(),
            tenant_id: d.tenant_id.clone(),
            event_id: d.event_id.clone(),
            webhook_id: d.webhook_id.clone(),
            topic: d.topic.clone(),
            status: d.status,
            attempt_count: d.attempt_count,
            created_at: d.created_at.clone(),
            updated_at: d.updated_at.clone(),
        }
    }
}
