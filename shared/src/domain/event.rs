//! Events: what the sending product tells Hookline happened, and the record kept of it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::error::DomainError;
use crate::domain::limits::{MAX_PAYLOAD_BYTES, MAX_PAYLOAD_DEPTH};
use crate::domain::{ids, json_depth, timestamp, topic};

/// `POST /v1/tenants/{tenant_id}/events`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    /// The caller's id for the event; the idempotency key. Generated when absent.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    )]
    pub id: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    )]
    pub topic: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub occurred_at: Option<String>,
    /// Business and user fields common to all events (pages 000/001), merged into flat payloads.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub context: Option<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
}

/// `POST /v1/tenants/{tenant_id}/events/batch`: up to `MAX_BATCH_EVENTS` events in one request
/// (one API request, one fan-out read, one marker write and packed queue sends for all).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatchRequest {
    /// Each an event as `POST …/events` takes it, checked on its own: one that is not is
    /// refused alone, in its result (an item that is not even an object refuses the batch).
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100, value_type = Vec<Object>))]
    pub events: Vec<Map<String, Value>>,
}

impl EventRequest {
    /// One event of a batch, read on its own: what it is not says its own `invalid_request`,
    /// with the id it was sent with if it has one.
    pub fn from_batch_item(item: Map<String, Value>) -> Result<Self, (Option<String>, DomainError)> {
        let id = item.get("id").and_then(Value::as_str).map(str::to_string);
        serde_json::from_value(Value::Object(item)).map_err(|e| (id, DomainError::invalid("invalid_request", e)))
    }
}

/// Why one event of a batch was refused: what a single POST of it would answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchEventError {
    pub code: String,
    pub message: String,
}

/// One event's outcome in a batch answer, in the request's order: `status` 202 with the
/// event's deliveries (the first result for a repeated id), or the 400 a single POST of it
/// would get, with its error.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchEventResult {
    pub status: u16,
    /// The event's id (generated when it had none); absent for a refused event without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<DeliveryRef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<BatchEventError>,
}

/// The answer of a batch: a result per event.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    pub results: Vec<BatchEventResult>,
}

impl BatchEventResult {
    pub fn accepted(result: IngestResult) -> Self {
        Self { status: 202, event_id: Some(result.event_id), deliveries: Some(result.deliveries), error: None }
    }
}

/// The body of an event as it is delivered: kept as JSON objects, exactly as received.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPayload {
    pub context: Map<String, Value>,
    pub data: Map<String, Value>,
}

/// One delivery of an event to one webhook, as the ingest answer lists it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRef {
    pub id: String,
    pub webhook_id: String,
}

/// Where an event is on its way onto the queue. An event stays `accepted` until all its
/// delivery messages are on the queue; a repeat of an `accepted` event finishes the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    Accepted,
    Enqueued,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub tenant_id: String,
    pub event_id: String,
    pub topic: String,
    pub occurred_at: String,
    pub received_at: String,
    /// Stored as deflated JSON text (`deflated_json`): text, because DynamoDB's number type
    /// would not keep every JSON number as sent; deflated, so a 1 KB event fits one write unit.
    /// Shared (`Arc`) with the request it came from and the tasks made of it: ingest copies
    /// no payload.
    #[serde(with = "deflated_json")]
    pub payload: Arc<EventPayload>,
    pub deliveries: Vec<DeliveryRef>,
    pub state: EventState,
    /// The ingest call that wrote the event. Its deliveries are on the queue once that call's
    /// marker exists (one write for a whole batch), so an `accepted` event is not rewritten
    /// only to flip its state. Events written before have none and are flipped to `enqueued`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_id: Option<String>,
    /// Unix seconds after which DynamoDB's TTL may remove the record.
    pub expires_at: i64,
}

/// `202` answer of an ingest; the same for a repeated event id.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestResult {
    pub event_id: String,
    pub deliveries: Vec<DeliveryRef>,
}

impl From<&EventRecord> for IngestResult {
    fn from(e: &EventRecord) -> Self {
        Self { event_id: e.event_id.clone(), deliveries: e.deliveries.clone() }
    }
}

/// A validated event request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: String,
    pub topic: String,
    pub occurred_at: String,
    pub payload: Arc<EventPayload>,
}

impl EventPayload {
    /// The payload from a request's `context` (absent or `null`: none) and `data`; when one
    /// of them is not a JSON object, the error names it.
    pub fn from_parts(context: Option<Value>, data: Value) -> Result<Self, &'static str> {
        let context = match context {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(c)) => c,
            Some(_) => return Err("context"),
        };
        let Value::Object(data) = data else { return Err("data") };
        Ok(Self { context, data })
    }

    /// Refuses `context` or `data` nesting deeper than `MAX_PAYLOAD_DEPTH`: what the queue
    /// message and the bodies sent could not carry (see the limit). A 400 `invalid_payload`.
    pub fn check_depth(&self) -> Result<(), DomainError> {
        for (field, map) in [("context", &self.context), ("data", &self.data)] {
            // The map itself is level 1.
            let depth = 1 + map.values().map(json_depth::value_depth).max().unwrap_or(0);
            if depth > MAX_PAYLOAD_DEPTH {
                return Err(DomainError::invalid(
                    "invalid_payload",
                    format!("{field} nests {depth} levels deep; at most {MAX_PAYLOAD_DEPTH} (objects and arrays)"),
                ));
            }
        }
        Ok(())
    }
}

impl EventRequest {
    pub fn validate(self, now: &str) -> Result<NewEvent, DomainError> {
        let event_id = match self.id {
            Some(id) => {
                ids::validate_event_id(&id)?;
                id
            }
            None => ids::new_id(ids::EVENT_PREFIX),
        };
        topic::validate_topic(&self.topic)?;
        let occurred_at = match self.occurred_at {
            Some(t) => timestamp::parse(&t).map(timestamp::format).ok_or_else(|| {
                DomainError::invalid("invalid_occurred_at", "occurred_at must be an RFC 3339 date-time")
            })?,
            None => now.to_string(),
        };
        let payload = EventPayload::from_parts(self.context, self.data)
            .map_err(|field| DomainError::invalid("invalid_request", format!("{field} must be a JSON object")))?;
        payload.check_depth()?;
        // Serialising plain JSON values cannot fail. U+FFFE/U+FFFF take 6 bytes in a queue
        // message (escaped for SQS, see `task`), 3 here.
        let json = serde_json::to_string(&payload).unwrap_or_default();
        let size = json.len() + 3 * json.matches(['\u{FFFE}', '\u{FFFF}']).count();
        if size > MAX_PAYLOAD_BYTES {
            return Err(DomainError::invalid(
                "event_too_large",
                format!("context and data take {size} bytes as stored; at most {MAX_PAYLOAD_BYTES}"),
            ));
        }
        Ok(NewEvent { event_id, topic: self.topic, occurred_at, payload: Arc::new(payload) })
    }
}

/// serde adapter: a value stored as its JSON text, raw-DEFLATE compressed, as bytes (a DynamoDB
/// Binary). Reads the plain JSON text of records written before, too.
pub mod deflated_json {
    use std::fmt;

    use serde::de::{DeserializeOwned, Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serialize, Serializer};

    use crate::domain::limits::MAX_PAYLOAD_BYTES;

    /// Level 6: zlib's default, most of level 9's gain for a fraction of its time.
    const LEVEL: u8 = 6;
    /// A stored payload never inflates past the payload limit (with room for its escaping):
    /// a corrupt or hostile item cannot make a reader allocate without bound.
    const MAX_INFLATED: usize = 2 * MAX_PAYLOAD_BYTES;

    pub fn serialize<T: Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_vec(v).map_err(serde::ser::Error::custom)?;
        s.serialize_bytes(&crate::domain::deflate::deflate(&text, LEVEL))
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let stored = d.deserialize_any(Stored)?;
        let text = match stored {
            StoredText::Plain(text) => text.into_bytes(),
            StoredText::Deflated(bytes) => miniz_oxide::inflate::decompress_to_vec_with_limit(&bytes, MAX_INFLATED)
                .map_err(|e| D::Error::custom(format!("stored payload does not inflate: {e}")))?,
        };
        serde_json::from_slice(&text).map_err(D::Error::custom)
    }

    enum StoredText {
        Plain(String),
        Deflated(Vec<u8>),
    }

    struct Stored;

    impl<'de> Visitor<'de> for Stored {
        type Value = StoredText;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("deflated JSON bytes or JSON text")
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<StoredText, E> {
            Ok(StoredText::Plain(v.to_string()))
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<StoredText, E> {
            Ok(StoredText::Deflated(v.to_vec()))
        }

        fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<StoredText, E> {
            Ok(StoredText::Deflated(v))
        }

        /// Bytes as a generic format (serde_json) writes them: an array of numbers.
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StoredText, A::Error> {
            let mut bytes = Vec::new();
            while let Some(b) = seq.next_element::<u8>()? {
                bytes.push(b);
            }
            Ok(StoredText::Deflated(bytes))
        }
    }
}

/// serde adapter: a value stored as its JSON text.
pub mod json_string {
    use serde::de::{DeserializeOwned, Error};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(v).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01T00:00:00Z";

    fn req(v: Value) -> Result<NewEvent, DomainError> {
        serde_json::from_value::<EventRequest>(v).expect("shape").validate(NOW)
    }

    #[test]
    fn defaults_and_normalisation() {
        let e = req(serde_json::json!({"topic": "coupon_create", "data": {"fiat_value": 2}})).expect("valid");
        assert!(ids::is_generated_id(&e.event_id, ids::EVENT_PREFIX));
        assert_eq!(e.occurred_at, NOW);
        assert!(e.payload.context.is_empty());
        let e =
            req(serde_json::json!({"id": "o-1", "topic": "t", "occurred_at": "2026-03-01T10:00:00+02:00", "data": {}}))
                .expect("valid");
        assert_eq!(e.event_id, "o-1");
        assert_eq!(e.occurred_at, "2026-03-01T08:00:00Z");
    }

    #[test]
    fn invalid_events() {
        for (v, code) in [
            (serde_json::json!({"topic": "t", "data": [1]}), "invalid_request"),
            (serde_json::json!({"topic": "t", "data": {}, "context": "x"}), "invalid_request"),
            (serde_json::json!({"topic": "bad topic", "data": {}}), "invalid_topic"),
            (serde_json::json!({"topic": "t", "data": {}, "occurred_at": "yesterday"}), "invalid_occurred_at"),
            (serde_json::json!({"id": "has space", "topic": "t", "data": {}}), "invalid_event_id"),
        ] {
            assert_eq!(req(v).expect_err("invalid").code(), code);
        }
    }

    #[test]
    fn context_and_data_nest_at_most_the_limit() {
        use crate::domain::json_depth::tests::nested;
        for field in ["data", "context"] {
            for (depth, accepted) in
                [(MAX_PAYLOAD_DEPTH - 1, true), (MAX_PAYLOAD_DEPTH, true), (MAX_PAYLOAD_DEPTH + 1, false)]
            {
                // GIVEN an event whose `field` nests `depth` levels (itself level 1)
                let mut v = serde_json::json!({"topic": "t", "data": {}});
                v[field] = nested(depth);
                // WHEN it is validated; THEN up to the limit it is accepted, past it refused, naming it
                match req(v) {
                    Ok(_) => assert!(accepted, "{field} at {depth} accepted"),
                    Err(e) => {
                        assert!(!accepted, "{field} at {depth}: {e}");
                        assert_eq!(e.code(), "invalid_payload");
                        let message = e.to_string();
                        assert!(message.contains(&format!("at most {MAX_PAYLOAD_DEPTH}")), "{message}");
                        assert!(message.starts_with(field), "{message}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_event_at_the_depth_limit_is_stored_and_read_back() {
        use crate::domain::json_depth::tests::nested;
        // GIVEN an event record whose context and data nest as deep as allowed
        let deep = nested(MAX_PAYLOAD_DEPTH).as_object().cloned().expect("obj");
        let rec = EventRecord {
            tenant_id: "t".into(),
            event_id: "e".into(),
            topic: "x".into(),
            occurred_at: NOW.into(),
            received_at: NOW.into(),
            payload: EventPayload { context: deep.clone(), data: deep }.into(),
            deliveries: vec![],
            state: EventState::Accepted,
            expires_at: 1,
            ingest_id: None,
        };
        // WHEN it is stored (the payload as deflated bytes: no nesting for DynamoDB to refuse)
        // and read back; THEN it is the same
        let stored = serde_json::to_value(&rec).expect("ser");
        assert!(stored["payload"].is_array(), "bytes");
        assert_eq!(serde_json::from_value::<EventRecord>(stored).expect("de"), rec);
    }

    fn record_with(data: Value) -> EventRecord {
        EventRecord {
            tenant_id: "t".into(),
            event_id: "e".into(),
            topic: "x".into(),
            occurred_at: NOW.into(),
            received_at: NOW.into(),
            payload: EventPayload { context: Map::new(), data: data.as_object().cloned().expect("obj") }.into(),
            deliveries: vec![],
            state: EventState::Accepted,
            expires_at: 1,
            ingest_id: Some("ing_1".into()),
        }
    }

    #[test]
    fn a_payload_is_stored_deflated_and_a_plain_text_one_still_reads() {
        // GIVEN a record with a repetitive 2 KB payload
        let rec = record_with(serde_json::json!({"items": vec!["BEAN-ETH-250"; 150]}));
        // WHEN it is stored; THEN its payload is far smaller than its JSON text, and reads back
        let stored = serde_json::to_value(&rec).expect("ser");
        let bytes = stored["payload"].as_array().expect("bytes").len();
        let text = serde_json::to_string(&rec.payload).expect("text").len();
        assert!(bytes * 10 < text, "{bytes} deflated bytes of {text}");
        assert_eq!(serde_json::from_value::<EventRecord>(stored.clone()).expect("de"), rec);
        // GIVEN a record written before payloads were deflated (JSON text); THEN it reads too
        let mut legacy = stored.clone();
        legacy["payload"] = Value::String(serde_json::to_string(&rec.payload).expect("text"));
        assert_eq!(serde_json::from_value::<EventRecord>(legacy).expect("legacy"), rec);
        // GIVEN bytes that are not DEFLATE data; THEN reading fails with a clear error
        let mut corrupt = stored;
        corrupt["payload"] = serde_json::json!([1, 2, 3, 4]);
        let e = serde_json::from_value::<EventRecord>(corrupt).expect_err("corrupt");
        assert!(e.to_string().contains("does not inflate"), "{e}");
    }

    #[test]
    fn a_stored_payload_that_inflates_past_the_limit_is_refused() {
        // GIVEN deflated bytes that inflate to more than twice the payload limit
        let huge = format!("\"{}\"", "a".repeat(2 * MAX_PAYLOAD_BYTES + 1));
        let bytes = miniz_oxide::deflate::compress_to_vec(huge.as_bytes(), 6);
        let mut stored = serde_json::to_value(record_with(serde_json::json!({}))).expect("ser");
        stored["payload"] = serde_json::json!(bytes);
        // WHEN it is read; THEN it is refused, not inflated whole
        let e = serde_json::from_value::<EventRecord>(stored).expect_err("bomb");
        assert!(e.to_string().contains("does not inflate"), "{e}");
    }

    #[test]
    fn payload_round_trips_as_json_text() {
        let rec = EventRecord {
            tenant_id: "t".into(),
            event_id: "e".into(),
            topic: "x".into(),
            occurred_at: NOW.into(),
            received_at: NOW.into(),
            payload: EventPayload {
                context: Map::new(),
                data: serde_json::json!({"big": 12345678901234567890u64, "f": 0.1}).as_object().cloned().expect("obj"),
            }
            .into(),
            deliveries: vec![],
            state: EventState::Accepted,
            expires_at: 1,
            ingest_id: None,
        };
        // Numbers past f64's precision come back exactly (the payload is JSON text inside).
        let stored = serde_json::to_value(&rec).expect("ser");
        assert_eq!(serde_json::from_value::<EventRecord>(stored).expect("de"), rec);
    }
}
