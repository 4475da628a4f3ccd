//! The delivery queue's message: everything the delivery function needs to send one delivery,
//! so sending costs no read of the event. Versioned, because messages outlive deployments
//! (retries run for hours).

use serde::{Deserialize, Serialize};

use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::event::{EventPayload, EventRecord};

/// The message format's version: a message of any other is not read (it is malformed).
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

    /// The task a queue message carries; an error says why it is none (not JSON, not a task,
    /// or a version this code does not know).
    pub fn from_message_body(body: &str) -> Result<Self, String> {
        let task: Self = serde_json::from_str(body).map_err(|e| e.to_string())?;
        if task.v != TASK_VERSION {
            return Err(format!("unknown message version {} (this code reads {TASK_VERSION})", task.v));
        }
        Ok(task)
    }

    /// The delivery this task carries, in the given state: the one way a delivery record is
    /// made (pending at ingest, then after each attempt).
    pub fn delivery(
        &self,
        status: DeliveryStatus,
        attempt_count: u32,
        last_error: Option<String>,
        next_attempt_at: Option<String>,
        updated_at: String,
    ) -> Delivery {
        Delivery {
            tenant_id: self.tenant_id.clone(),
            delivery_id: self.delivery_id.clone(),
            event_id: self.event_id.clone(),
            webhook_id: self.webhook_id.clone(),
            topic: self.topic.clone(),
            status,
            attempt_count,
            generation: self.generation,
            last_error,
            next_attempt_at,
            created_at: self.created_at.clone(),
            updated_at,
            expires_at: self.expires_at,
            requeue_claimed_at: None,
        }
    }

    /// The delivery as ingest records it: pending, no attempt yet.
    pub fn pending_delivery(&self) -> Delivery {
        self.delivery(DeliveryStatus::Pending, 0, None, None, self.created_at.clone())
    }

    pub fn to_message_body(&self) -> String {
        // Serialising plain data (strings and JSON maps) to a String cannot fail.
        let json = serde_json::to_string(self).unwrap_or_default();
        // SQS refuses U+FFFE and U+FFFF in a message, and JSON writes them raw (it escapes
        // only control characters): as `\u` escapes they read back the same.
        if json.contains(['\u{FFFE}', '\u{FFFF}']) {
            json.replace('\u{FFFE}', "\\ufffe").replace('\u{FFFF}', "\\uffff")
        } else {
            json
        }
    }
}

#[cfg(test)]
impl DeliveryTask {
    /// A task for unit tests: delivery `dlv_1` of event `e-1` to webhook `wh_1` of `acme`.
    pub fn example() -> Self {
        DeliveryTask {
            v: TASK_VERSION,
            tenant_id: "acme".into(),
            delivery_id: "dlv_1".into(),
            webhook_id: "wh_1".into(),
            event_id: "e-1".into(),
            topic: "order_create".into(),
            occurred_at: "2026-11-23T10:00:00Z".into(),
            created_at: "2026-11-23T10:00:00Z".into(),
            expires_at: 0,
            generation: 0,
            payload: EventPayload { context: serde_json::Map::new(), data: serde_json::Map::new() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_body_has_only_characters_sqs_accepts_and_reads_back_the_same() {
        let mut data = serde_json::Map::new();
        data.insert("odd".into(), serde_json::Value::from("a\u{FFFF}b\u{FFFE}c\u{1}"));
        let task =
            DeliveryTask { payload: EventPayload { context: serde_json::Map::new(), data }, ..DeliveryTask::example() };
        let body = task.to_message_body();
        let sqs_accepts = |c: char| matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
        assert!(body.chars().all(sqs_accepts), "{body:?}");
        assert_eq!(DeliveryTask::from_message_body(&body).expect("parses"), task);
    }

    #[test]
    fn a_message_of_an_unknown_version_is_not_a_task() {
        let task = DeliveryTask { v: TASK_VERSION + 1, ..DeliveryTask::example() };
        let err = DeliveryTask::from_message_body(&task.to_message_body()).expect_err("version 2");
        assert!(err.contains("unknown message version 2"), "{err}");
        assert!(DeliveryTask::from_message_body("{}").is_err());
        let current = DeliveryTask { v: TASK_VERSION, ..task };
        assert_eq!(DeliveryTask::from_message_body(&current.to_message_body()), Ok(current));
    }
}
