//! Rendering an event into the body a receiver gets. Formats are data (`PayloadFormat`); this
//! issue ships `flat`, the seed pages' form: the event's `context` (business and user fields)
//! merged with its `data`, the event's own fields winning a name clash.

use serde_json::{Map, Value};

use crate::event::EventPayload;

pub const JSON_CONTENT_TYPE: &str = "application/json";

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

pub fn render_payload(payload: &EventPayload) -> RenderedBody {
    // Serialising a map of JSON values cannot fail.
    let bytes = serde_json::to_vec(&flat(payload)).unwrap_or_default();
    RenderedBody { content_type: JSON_CONTENT_TYPE, bytes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_merges_context_and_data_data_wins() {
        let payload = EventPayload {
            context: serde_json::json!({"business_name": "Acme", "name": "ctx"}).as_object().cloned().expect("obj"),
            data: serde_json::json!({"name": "2% Off coupon", "fiat_value": 2}).as_object().cloned().expect("obj"),
        };
        let body = render_payload(&payload);
        assert_eq!(body.content_type, "application/json");
        let v: Value = serde_json::from_slice(&body.bytes).expect("json");
        assert_eq!(v, serde_json::json!({"business_name": "Acme", "name": "2% Off coupon", "fiat_value": 2}));
    }
}
