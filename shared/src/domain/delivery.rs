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
    /// How many times the delivery was sent again by retry/recover: a dead letter of an
    /// earlier round must not count against the round in flight.
    #[serde(default)]
    pub generation: u32,
    /// Why the last attempt failed, or why the delivery stopped without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Unix seconds after which DynamoDB's TTL may remove the record.
    pub expires_at: i64,
}

/// One try at sending a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1-based; SQS's receive count of the message.
    pub attempt: u32,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// What went wrong when there is no status code (timeout, refused connection, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub latency_ms: u64,
    /// The start of the receiver's answer (at most 2 KB).
    #[serde(default)]
    pub response_excerpt: String,
}

/// What the delivery function writes after an attempt (or instead of one): the delivery's
/// whole new state and the attempt, as puts, so a batch's writes go in one `BatchWriteItem`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryWrite {
    pub delivery: Delivery,
    pub attempt: Option<Attempt>,
}

/// A delivery with its attempts, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryLog {
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
}
