//! Rendering an event into the body a receiver gets. The format is a webhook option:
//!
//! - `flat` (default; pages 000/001): the event's `context` (business and user fields) merged
//!   with its `data`, the event's own fields winning a name clash.
//! - `envelope` (page 003): `{"event_time", "event_type", "current_context", "data"}`.
//! - `form` (page 004): `application/x-www-form-urlencoded`, `data=<JSON>` with the JSON
//!   `{"<form_key>": [event, ...]}`; the delivery function batches a webhook's deliveries of one
//!   SQS batch into one such request.
//!
//! A webhook's `fields` (page 004: the parameters to pass) keep only those paths of the
//! event's fields; its `event_prefix` (page 000) is put before the topic in `event_type` and in
//! the topic header.

use serde_json::{Map, Value};

use crate::domain::event::EventPayload;
use crate::domain::webhook::{PayloadFormat, Webhook};

pub const JSON_CONTENT_TYPE: &str = "application/json";
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// How a webhook wants its events rendered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderOptions<'a> {
    pub format: PayloadFormat,
    pub event_prefix: Option<&'a str>,
    pub fields: Option<&'a [String]>,
    pub form_key: &'a str,
}

impl<'a> RenderOptions<'a> {
    /// The options `webhook` sets.
    pub fn of(webhook: &'a Webhook) -> Self {
        Self {
            format: webhook.format,
            event_prefix: webhook.event_prefix.as_deref(),
            fields: webhook.fields.as_deref(),
            form_key: &webhook.form_key,
        }
    }
}

/// An event to render.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventView<'a> {
    pub topic: &'a str,
    pub occurred_at: &'a str,
    pub payload: &'a EventPayload,
}

/// A rendered request body and its content type.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedBody {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// `context` merged with `data` into one flat object.
pub fn flat(payload: &EventPayload) -> Map<String, Value> {
    let mut merged = payload.context.clone();
    merged.extend(payload.data.clone());
    merged
}

/// The topic as the receiver sees it (with the webhook's prefix).
pub fn event_type(topic: &str, prefix: Option<&str>) -> String {
    format!("{}{topic}", prefix.unwrap_or_default())
}

/// Keeps only the given dotted paths of `map` (nested objects kept as far as the path goes).
pub fn select(map: &Map<String, Value>, paths: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    for path in paths {
        let parts: Vec<&str> = path.split('.').collect();
        copy_path(map, &parts, &mut out);
    }
    out
}

fn copy_path(from: &Map<String, Value>, parts: &[&str], to: &mut Map<String, Value>) {
    let Some((first, rest)) = parts.split_first() else { return };
    let Some(value) = from.get(*first) else { return };
    match (rest.is_empty(), value) {
        (true, v) => {
            to.insert((*first).to_string(), v.clone());
        }
        (false, Value::Object(inner)) => {
            let entry = to.entry((*first).to_string()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(target) = entry {
                copy_path(inner, rest, target);
            }
        }
        (false, _) => {}
    }
}

fn selected(map: &Map<String, Value>, fields: Option<&[String]>) -> Map<String, Value> {
    match fields {
        Some(paths) => select(map, paths),
        None => map.clone(),
    }
}

/// One event as a JSON value in the webhook's format (`form` events are flat objects).
pub fn event_value(event: &EventView<'_>, options: &RenderOptions<'_>) -> Value {
    match options.format {
        // Flattened once (a copy of the payload), not copied again when every field is kept.
        PayloadFormat::Flat | PayloadFormat::Form => {
            let flat = flat(event.payload);
            Value::Object(match options.fields {
                Some(paths) => select(&flat, paths),
                None => flat,
            })
        }
        PayloadFormat::Envelope => serde_json::json!({
            "event_time": event.occurred_at,
            "event_type": event_type(event.topic, options.event_prefix),
            "current_context": selected(&event.payload.context, options.fields),
            "data": selected(&event.payload.data, options.fields),
        }),
    }
}

/// The body of one request carrying `events` (one, except for `form` batches).
pub fn render(events: &[EventView<'_>], options: &RenderOptions<'_>) -> RenderedBody {
    match options.format {
        PayloadFormat::Form => {
            let batch: Vec<Value> = events.iter().map(|e| event_value(e, options)).collect();
            let json = serde_json::json!({ options.form_key: batch }).to_string();
            let bytes = url::form_urlencoded::Serializer::new(String::new()).append_pair("data", &json).finish();
            RenderedBody { content_type: FORM_CONTENT_TYPE, bytes: bytes.into_bytes() }
        }
        // The common case, every field of a flat event: written straight from the payload,
        // without the copy `flat` makes (a second tree of the event per delivery).
        PayloadFormat::Flat if options.fields.is_none() => {
            let bytes = match events.first() {
                Some(event) => serde_json::to_vec(&FlatView(event.payload)),
                None => serde_json::to_vec(&Value::Null),
            };
            // Serialising JSON values cannot fail.
            RenderedBody { content_type: JSON_CONTENT_TYPE, bytes: bytes.unwrap_or_default() }
        }
        _ => {
            let value = events.first().map(|e| event_value(e, options)).unwrap_or(Value::Null);
            RenderedBody { content_type: JSON_CONTENT_TYPE, bytes: serde_json::to_vec(&value).unwrap_or_default() }
        }
    }
}

/// Serialises as `flat(payload)` does, byte for byte, without building it: the keys of both
/// maps in order, `data`'s value where a key is in both.
struct FlatView<'a>(&'a EventPayload);

impl serde::Serialize for FlatView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let EventPayload { context, data } = self.0;
        // Context keys that data also has are data's: each key is written once whatever
        // order the maps iterate in; in key order (serde_json's `Map`) the merge below then
        // writes exactly the order of `flat`'s merged map.
        let mut context = context.iter().filter(|(k, _)| !data.contains_key(*k)).peekable();
        let mut data = data.iter().peekable();
        let mut map = serializer.serialize_map(None)?;
        loop {
            let next = match (context.peek(), data.peek()) {
                (Some((c, _)), Some((d, _))) if c < d => context.next(),
                (Some(_), Some(_)) | (None, Some(_)) => data.next(),
                (Some(_), None) => context.next(),
                (None, None) => break,
            };
            if let Some((key, value)) = next {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::webhook::DEFAULT_FORM_KEY;

    fn payload() -> EventPayload {
        EventPayload {
            context: json!({"business_name": "Acme", "name": "ctx"}).as_object().cloned().expect("obj"),
            data: json!({"name": "2% Off coupon", "fiat_value": 2, "meta": {"lead_name": "Ayush", "x": 1}})
                .as_object()
                .cloned()
                .expect("obj"),
        }
    }

    fn options(format: PayloadFormat) -> RenderOptions<'static> {
        RenderOptions { format, event_prefix: None, fields: None, form_key: DEFAULT_FORM_KEY }
    }

    fn event(p: &EventPayload) -> EventView<'_> {
        EventView { topic: "coupon_create", occurred_at: "2026-11-22T10:00:00Z", payload: p }
    }

    #[test]
    fn flat_merges_context_and_data_data_wins() {
        let p = payload();
        let body = render(&[event(&p)], &options(PayloadFormat::Flat));
        assert_eq!(body.content_type, "application/json");
        let v: Value = serde_json::from_slice(&body.bytes).expect("json");
        assert_eq!(
            v,
            json!({"business_name": "Acme", "name": "2% Off coupon", "fiat_value": 2, "meta": {"lead_name": "Ayush", "x": 1}})
        );
    }

    #[test]
    fn a_flat_body_is_written_as_the_merged_map_would_be() {
        // GIVEN payloads whose context and data share keys, at either end and between
        let shapes = [
            (json!({"a": 1, "m": {"x": 1}, "z": 3}), json!({"b": 2, "m": [1, 2], "y": "d"})),
            (json!({}), json!({"only": "data"})),
            (json!({"only": "context", "k": null}), json!({})),
            (json!({"k": 1, "l": 2}), json!({"k": "data", "l": "data", "a": 0, "zz": {"deep": [true]}})),
        ];
        for (context, data) in shapes {
            let p = EventPayload {
                context: context.as_object().cloned().expect("obj"),
                data: data.as_object().cloned().expect("obj"),
            };
            // WHEN it is rendered flat
            let body = render(&[event(&p)], &options(PayloadFormat::Flat));
            // THEN the bytes are those of the merged map
            let merged = serde_json::to_vec(&Value::Object(flat(&p))).expect("json");
            assert_eq!(String::from_utf8(body.bytes).expect("utf-8"), String::from_utf8(merged).expect("utf-8"));
        }
    }

    #[test]
    fn envelope_has_the_page_003_shape_and_the_prefix() {
        let p = payload();
        let opts = RenderOptions { event_prefix: Some("nector_"), ..options(PayloadFormat::Envelope) };
        let v: Value = serde_json::from_slice(&render(&[event(&p)], &opts).bytes).expect("json");
        assert_eq!(v["event_time"], "2026-11-22T10:00:00Z");
        assert_eq!(v["event_type"], "nector_coupon_create");
        assert_eq!(v["current_context"], json!({"business_name": "Acme", "name": "ctx"}));
        assert_eq!(v["data"]["fiat_value"], 2);
    }

    #[test]
    fn fields_keep_only_the_chosen_paths() {
        let p = payload();
        let fields = vec!["business_name".to_string(), "meta.lead_name".to_string(), "missing".to_string()];
        let opts = RenderOptions { fields: Some(&fields), ..options(PayloadFormat::Flat) };
        let v: Value = serde_json::from_slice(&render(&[event(&p)], &opts).bytes).expect("json");
        assert_eq!(v, json!({"business_name": "Acme", "meta": {"lead_name": "Ayush"}}));
    }

    #[test]
    fn form_is_url_encoded_json_of_the_batch() {
        let p = payload();
        let opts = RenderOptions { form_key: "pod2_email", ..options(PayloadFormat::Form) };
        let body = render(&[event(&p), event(&p)], &opts);
        assert_eq!(body.content_type, "application/x-www-form-urlencoded");
        let text = String::from_utf8(body.bytes).expect("ascii");
        assert!(text.starts_with("data=%7B%22pod2_email%22%3A%5B"), "{text}");
        let (_, json) = url::form_urlencoded::parse(text.as_bytes()).next().expect("data pair");
        let v: Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["pod2_email"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["pod2_email"][0]["fiat_value"], 2);
    }

    #[test]
    fn every_format_carries_an_event_at_the_depth_limit() {
        use crate::domain::json_depth;
        use crate::domain::limits::MAX_PAYLOAD_DEPTH;
        // GIVEN an event whose context and data nest as deep as ingest allows
        let deep = crate::domain::json_depth::tests::nested(MAX_PAYLOAD_DEPTH).as_object().cloned().expect("obj");
        let p = EventPayload { context: deep.clone(), data: deep };
        for format in [PayloadFormat::Flat, PayloadFormat::Envelope, PayloadFormat::Form] {
            // WHEN it is rendered
            let body = render(&[event(&p), event(&p)], &options(format));
            let json = match format {
                PayloadFormat::Form => {
                    let (_, json) = url::form_urlencoded::parse(&body.bytes).next().expect("data pair");
                    json.into_owned()
                }
                _ => String::from_utf8(body.bytes).expect("utf-8"),
            };
            // THEN the body adds at most 2 levels and a JSON parser (serde_json's) reads it back
            let depth = json_depth::text_depth(json.as_bytes());
            assert!(depth <= MAX_PAYLOAD_DEPTH + 2, "{format:?}: {depth}");
            assert!(serde_json::from_str::<Value>(&json).is_ok(), "{format:?}");
        }
    }
}
