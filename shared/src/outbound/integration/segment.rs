//! Segment's HTTP Tracking API (`POST https://api.segment.io/v1/track`): a track call named
//! after the topic (with the webhook's prefix), HTTP Basic auth with the write key as the
//! user and no password. `messageId` is the delivery id (the same across retries, which
//! Segment dedupes on); without a user id field in the event, `anonymousId` is the delivery id,
//! since Segment needs one of the two.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::event::{PresetEvent, PresetRequest, lookup, text};
use crate::outbound::render::JSON_CONTENT_TYPE;

pub fn request(url: String, write_key: &str, user_id_field: &str, event: &PresetEvent<'_>) -> PresetRequest {
    let flat = event.flat();
    let mut body = json!({
        "event": event.event_type(),
        "properties": event.selected(),
        "timestamp": event.event.occurred_at,
        "messageId": event.delivery_id,
    });
    match lookup(&flat, user_id_field).map(text).filter(|v| !v.is_empty() && v != "null") {
        Some(user_id) => body["userId"] = Value::String(user_id),
        None => body["anonymousId"] = Value::String(event.delivery_id.to_string()),
    }
    PresetRequest {
        url,
        content_type: JSON_CONTENT_TYPE,
        body: super::event::json(&body),
        headers: vec![("authorization".into(), format!("Basic {}", STANDARD.encode(format!("{write_key}:"))))],
        signed: false,
        secret_headers: vec!["authorization".into()],
    }
}
