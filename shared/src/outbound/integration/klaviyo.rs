//! Klaviyo's Events API (Create Event, `POST https://a.klaviyo.com/api/events`): a JSON:API
//! body whose metric is the topic (with the webhook's prefix), whose profile is named by the
//! event's e-mail, phone and external-id fields, and whose properties are the other fields.
//! The event's time is when it happened; its `unique_id` is the delivery id, which stays the
//! same across retries, so Klaviyo records a retried event once.

use serde_json::{Map, Value, json};

use super::event::{PresetEvent, PresetRequest, lookup, text};

/// The API revision the body is written for (Klaviyo's `revision` header): pinned, so a
/// change of Klaviyo's default never changes what Hookline sends.
pub const REVISION: &str = "2026-10-15";
pub const CONTENT_TYPE: &str = "application/vnd.api+json";
pub const AUTH_SCHEME: &str = "Klaviyo-API-Key";

/// The event fields that name the profile.
pub struct ProfileFields<'a> {
    pub email: &'a str,
    pub phone: &'a str,
    pub external_id: &'a str,
}

pub fn request(
    url: String,
    api_key: &str,
    fields: &ProfileFields<'_>,
    event: &PresetEvent<'_>,
) -> Result<PresetRequest, String> {
    let flat = event.flat();
    let mut profile = Map::new();
    for (attribute, path) in
        [("email", fields.email), ("phone_number", fields.phone), ("external_id", fields.external_id)]
    {
        if let Some(value) = lookup(&flat, path).map(text).filter(|v| !v.is_empty() && v != "null") {
            profile.insert(attribute.to_string(), Value::String(value));
        }
    }
    if profile.is_empty() {
        return Err(format!(
            "the event has none of the fields {:?}, {:?}, {:?}: Klaviyo needs one of them to know whose event it is",
            fields.email, fields.phone, fields.external_id
        ));
    }
    // The profile's own fields are not repeated among the properties.
    let mut properties = event.selected();
    for path in [fields.email, fields.phone, fields.external_id] {
        if !path.contains('.') {
            properties.remove(path);
        }
    }
    let body = json!({"data": {"type": "event", "attributes": {
        "properties": properties,
        "metric": {"data": {"type": "metric", "attributes": {"name": event.event_type()}}},
        "profile": {"data": {"type": "profile", "attributes": profile}},
        "time": event.event.occurred_at,
        "unique_id": event.delivery_id,
    }}});
    Ok(PresetRequest {
        url,
        content_type: CONTENT_TYPE,
        body: super::event::json(&body),
        headers: vec![
            ("authorization".into(), format!("{AUTH_SCHEME} {api_key}")),
            ("revision".into(), REVISION.into()),
            ("accept".into(), CONTENT_TYPE.into()),
        ],
        signed: false,
        secret_headers: vec!["authorization".into()],
    })
}
