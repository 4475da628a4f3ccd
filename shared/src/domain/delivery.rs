//! Deliveries: one event on its way to one webhook. The delivery id is what receivers dedupe
//! on; it stays the same across every retry of the delivery.

use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Unix seconds when a retry or recover claimed the delivery to send it again (it is then
    /// `pending` in its new round until the delivery function writes its first attempt, which
    /// drops this). A claim this old whose delivery is still `pending` was never queued (the
    /// claimer crashed before its enqueue): it may be claimed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue_claimed_at: Option<i64>,
}

/// How long a retry's claim stands before a delivery still `pending` under it counts as lost
/// and may be retried again: far longer than a claim and its enqueue take, and than the
/// queue takes to hand the message to the delivery function when it is not backed up.
pub const REQUEUE_CLAIM_STALE_SECONDS: i64 = 15 * 60;

impl Delivery {
    /// Whether retry and recover may send it again at `now` (unix seconds): it failed, or a
    /// claim to send it again was left without its message (see `requeue_claimed_at`).
    pub fn requeueable(&self, now: i64) -> bool {
        match (self.status, self.requeue_claimed_at) {
            (DeliveryStatus::Failed, _) => true,
            (DeliveryStatus::Pending, Some(claimed)) => claimed <= now - REQUEUE_CLAIM_STALE_SECONDS,
            _ => false,
        }
    }

    /// How far the delivery has come: its round, then within a round `delivered` past `failed`
    /// past the non-final states, and these by attempts made. A state write only moves this
    /// forward (decision 41), so of two records of one delivery the further one is the newer
    /// (decision 45: a record from before the log moved into its webhook's partition, and the
    /// one there).
    fn progress(&self) -> (u32, u8, u32) {
        let stage = match self.status {
            DeliveryStatus::Pending | DeliveryStatus::Retrying => 0,
            DeliveryStatus::Failed => 1,
            DeliveryStatus::Delivered => 2,
        };
        (self.generation, stage, self.attempt_count)
    }

    /// The newer of two records of one delivery (see `progress`); `self` on a tie.
    pub fn newer(self, other: Delivery) -> Delivery {
        if other.progress() > self.progress() { other } else { self }
    }
}

/// One try at sending a delivery.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(generation: u32, status: DeliveryStatus, attempt_count: u32) -> Delivery {
        serde_json::from_value(serde_json::json!({
            "tenant_id": "t", "delivery_id": "dlv_1", "event_id": "e", "webhook_id": "wh", "topic": "order_create",
            "status": status, "attempt_count": attempt_count, "generation": generation,
            "created_at": "", "updated_at": "", "expires_at": 0
        }))
        .expect("a delivery")
    }

    #[test]
    fn of_two_records_the_newer_is_the_one_further_on() {
        use DeliveryStatus::*;
        // Each pair: (older, newer).
        let pairs = [
            (at(0, Pending, 0), at(0, Retrying, 1)),
            (at(0, Retrying, 1), at(0, Retrying, 2)),
            (at(0, Retrying, 3), at(0, Failed, 2)),
            (at(0, Failed, 3), at(0, Delivered, 1)),
            (at(0, Delivered, 1), at(1, Pending, 0)),
            (at(1, Failed, 3), at(2, Retrying, 1)),
        ];
        for (older, newer) in pairs {
            assert_eq!(older.clone().newer(newer.clone()), newer, "{older:?} vs {newer:?}");
            assert_eq!(newer.clone().newer(older.clone()), newer, "{newer:?} vs {older:?}");
        }
    }
}
