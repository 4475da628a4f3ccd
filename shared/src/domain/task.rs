//! The delivery queue's message: everything the delivery function needs to send one delivery,
//! so sending costs no read of the event. Versioned, because messages outlive deployments
//! (retries run for hours).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::event::{EventPayload, EventRecord};
use crate::domain::ids::{self, DELIVERY_PREFIX, WEBHOOK_PREFIX};
use crate::domain::json_depth::{self, PARSER_MAX_DEPTH};
use crate::domain::limits::MAX_PAYLOAD_DEPTH;

/// The message format's version: a message of any other is not read (it is malformed).
pub const TASK_VERSION: u32 = 1;

/// Levels a message adds around an event's `context` and `data`: the message object and its
/// `payload` (a test holds this to the serialised message).
pub const TASK_PAYLOAD_NESTING: usize = 2;
/// The deepest message this code reads: one carrying an event at ingest's depth limit.
pub const MAX_TASK_DEPTH: usize = MAX_PAYLOAD_DEPTH + TASK_PAYLOAD_NESTING;
// Every event ingest accepts must make a message the parser can read.
const _: () = assert!(MAX_TASK_DEPTH <= PARSER_MAX_DEPTH);

/// A queue message that is no task this code reads: why, and the ids in it if those at least
/// can be read (so its delivery can be marked `failed` and counted, not silently lost).
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadableMessage {
    pub reason: String,
    pub ids: Option<TaskIds>,
}

impl std::fmt::Display for UnreadableMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The ids of a message, read leniently: every other field (the payload at any depth, an
/// unknown version's new fields) is skipped unread.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TaskIds {
    pub tenant_id: String,
    pub delivery_id: String,
    pub webhook_id: String,
    #[serde(default)]
    pub generation: u32,
}

impl TaskIds {
    /// The ids of a message body, if it has them and they are ids Hookline makes (so nothing
    /// is written under a key a broken message made up).
    pub fn from_message_body(body: &str) -> Option<Self> {
        let ids: Self = serde_json::from_str(body).ok()?;
        let valid = ids::validate_tenant_id(&ids.tenant_id).is_ok()
            && ids::is_generated_id(&ids.delivery_id, DELIVERY_PREFIX)
            && ids::is_generated_id(&ids.webhook_id, WEBHOOK_PREFIX);
        valid.then_some(ids)
    }
}

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
    /// Attempts made before this message was sent: a delivery held back (rate limit, open
    /// circuit) goes on as a new message, whose receive count starts again at 1. Absent in
    /// messages sent before this field existed, and in every first message.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts_made: u32,
    pub payload: Arc<EventPayload>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
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
                attempts_made: 0,
                payload: Arc::clone(&event.payload),
            })
            .collect()
    }

    /// The task a queue message carries; an error says why it is none (too deep, not JSON,
    /// not a task, or a version this code does not know) and holds the ids it could read.
    pub fn from_message_body(body: &str) -> Result<Self, UnreadableMessage> {
        let unreadable = |reason: String| UnreadableMessage { reason, ids: TaskIds::from_message_body(body) };
        // Measured first: the parser's own error for a too-deep message names no limit.
        let depth = json_depth::text_depth(body.as_bytes());
        if depth > MAX_TASK_DEPTH {
            return Err(unreadable(format!(
                "the queued message nests {depth} levels deep; at most {MAX_TASK_DEPTH} \
                 (event context and data at most {MAX_PAYLOAD_DEPTH})"
            )));
        }
        let task: Self = serde_json::from_str(body)
            .map_err(|e| unreadable(format!("the queued message is no delivery task: {e}")))?;
        if task.v != TASK_VERSION {
            return Err(unreadable(format!("unknown message version {} (this code reads {TASK_VERSION})", task.v)));
        }
        Ok(task)
    }

    /// The number of the attempt a receive of this message makes: the attempts made before it
    /// was sent, and SQS's receive count of this message (which counts this one).
    pub fn attempt(&self, receive_count: u32) -> u32 {
        self.attempts_made.saturating_add(receive_count)
    }

    /// This task held back at `attempt` without a request: the message that carries it on.
    /// This receive made no attempt, so it does not count.
    pub fn deferred(&self, attempt: u32) -> Self {
        Self { attempts_made: attempt.saturating_sub(1), ..self.clone() }
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
            attempts_made: 0,
            payload: EventPayload { context: serde_json::Map::new(), data: serde_json::Map::new() }.into(),
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
        let task = DeliveryTask {
            payload: EventPayload { context: serde_json::Map::new(), data }.into(),
            ..DeliveryTask::example()
        };
        let body = task.to_message_body();
        let sqs_accepts = |c: char| matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
        assert!(body.chars().all(sqs_accepts), "{body:?}");
        assert_eq!(DeliveryTask::from_message_body(&body).expect("parses"), task);
    }

    #[test]
    fn a_deferred_task_carries_its_attempts_and_an_old_message_reads_as_none_made() {
        // GIVEN a message as sent before `attempts_made` existed
        let old = DeliveryTask::example().to_message_body();
        assert!(!old.contains("attempts_made"), "a first message carries no count: {old}");
        let task = DeliveryTask::from_message_body(&old).expect("reads");
        // THEN its attempt number is SQS's receive count
        assert_eq!(task.attempt(3), 3);
        // WHEN it is held back on its 3rd receive THEN the new message carries 2 attempts made
        let deferred = task.deferred(task.attempt(3));
        assert_eq!(deferred.attempts_made, 2);
        let read = DeliveryTask::from_message_body(&deferred.to_message_body()).expect("reads");
        // AND its first receive is attempt 3 again: the deferral cost no attempt
        assert_eq!(read.attempt(1), 3);
        assert_eq!(read.deferred(read.attempt(1)).attempt(1), 3, "deferred again, still 3");
    }

    #[test]
    fn a_message_of_an_unknown_version_is_not_a_task() {
        let task = DeliveryTask { v: TASK_VERSION + 1, ..DeliveryTask::example() };
        let err = DeliveryTask::from_message_body(&task.to_message_body()).expect_err("version 2");
        assert!(err.reason.contains("unknown message version 2"), "{err}");
        assert!(DeliveryTask::from_message_body("{}").is_err());
        let current = DeliveryTask { v: TASK_VERSION, ..task };
        assert_eq!(DeliveryTask::from_message_body(&current.to_message_body()), Ok(current));
    }

    /// A task of delivery `dlv_…` whose payload's context and data nest `depth` levels.
    fn deep_task(depth: usize) -> DeliveryTask {
        let deep = crate::domain::json_depth::tests::nested(depth).as_object().cloned().expect("obj");
        DeliveryTask {
            delivery_id: format!("{DELIVERY_PREFIX}0192b3c4d5e6f7a8b9c0d1e2f3a4b5c6"),
            webhook_id: format!("{WEBHOOK_PREFIX}0192b3c4d5e6f7a8b9c0d1e2f3a4b5c7"),
            generation: 3,
            payload: EventPayload { context: deep.clone(), data: deep }.into(),
            ..DeliveryTask::example()
        }
    }

    #[test]
    fn a_message_carrying_an_event_at_the_depth_limit_is_read() {
        // GIVEN a task whose event nests as deep as ingest allows, one less, and one more
        for (depth, readable) in
            [(MAX_PAYLOAD_DEPTH - 1, true), (MAX_PAYLOAD_DEPTH, true), (MAX_PAYLOAD_DEPTH + 1, false)]
        {
            let task = deep_task(depth);
            let body = task.to_message_body();
            // THEN the message adds exactly TASK_PAYLOAD_NESTING levels
            assert_eq!(json_depth::text_depth(body.as_bytes()), depth + TASK_PAYLOAD_NESTING);
            // AND up to the limit it reads back whole; past it the reason names the limit
            match DeliveryTask::from_message_body(&body) {
                Ok(read) => assert!(readable && read == task, "depth {depth}"),
                Err(e) => {
                    assert!(!readable, "depth {depth}: {e}");
                    assert!(e.reason.contains(&format!("at most {MAX_TASK_DEPTH}")), "{e}");
                    assert_eq!(e.ids.map(|i| i.generation), Some(3), "the ids are read all the same");
                }
            }
        }
    }

    #[test]
    fn an_unreadable_message_still_gives_its_ids_when_it_has_them() {
        let task = deep_task(2);
        let expected = TaskIds {
            tenant_id: task.tenant_id.clone(),
            delivery_id: task.delivery_id.clone(),
            webhook_id: task.webhook_id.clone(),
            generation: 3,
        };
        // GIVEN messages no code reads as a task, some with their ids
        let far_too_deep = deep_task(300).to_message_body();
        let newer = task.to_message_body().replacen(&format!("\"v\":{TASK_VERSION}"), "\"v\":2", 1);
        let ids_only = serde_json::json!({
            "tenant_id": task.tenant_id, "delivery_id": task.delivery_id, "webhook_id": task.webhook_id, "generation": 3
        })
        .to_string();
        for body in [&far_too_deep, &newer, &ids_only] {
            // THEN each is unreadable, with its ids
            let e = DeliveryTask::from_message_body(body).expect_err("unreadable");
            assert_eq!(e.ids.as_ref(), Some(&expected), "{e}");
        }
        // AND garbage, or ids Hookline never makes, give none
        let made_up = serde_json::json!({"tenant_id": "a#b", "delivery_id": "x", "webhook_id": "y"}).to_string();
        for body in ["not json", "{}", made_up.as_str(), "{\"tenant_id\": 1}"] {
            assert_eq!(DeliveryTask::from_message_body(body).expect_err("unreadable").ids, None, "{body}");
        }
    }
}
