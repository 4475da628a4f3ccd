//! Events: what the sending product tells Hookline happened, and the record kept of it.

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
    /// Stored as a JSON string: DynamoDB's number type would not keep every JSON number as sent.
    #[serde(with = "json_string")]
    pub payload: EventPayload,
    pub deliveries: Vec<DeliveryRef>,
    pub state: EventState,
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
    pub payload: EventPayload,
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
        Ok(NewEvent { event_id, topic: self.topic, occurred_at, payload })
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
            payload: EventPayload { context: deep.clone(), data: deep },
            deliveries: vec![],
            state: EventState::Accepted,
            expires_at: 1,
        };
        // WHEN it is stored (the payload as JSON text, one level around context and data) and
        // read back; THEN it is the same
        let stored = serde_json::to_value(&rec).expect("ser");
        assert_eq!(json_depth::text_depth(stored["payload"].as_str().expect("text").as_bytes()), MAX_PAYLOAD_DEPTH + 1);
        assert_eq!(serde_json::from_value::<EventRecord>(stored).expect("de"), rec);
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
            },
            deliveries: vec![],
            state: EventState::Accepted,
            expires_at: 1,
        };
        let stored = serde_json::to_value(&rec).expect("ser");
        assert!(stored["payload"].is_string());
        assert_eq!(serde_json::from_value::<EventRecord>(stored).expect("de"), rec);
    }
}
