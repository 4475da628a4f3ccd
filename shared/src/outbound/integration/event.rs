//! What a preset reads of one event, and what it makes of it.

use serde_json::{Map, Value};

use crate::outbound::render::{self, EventView, RenderOptions};

/// One preset request, before Hookline's own headers (if any) are added.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetRequest {
    pub url: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// The tool's headers (content type, auth, API version), lowercase names.
    pub headers: Vec<(String, String)>,
    /// Whether the request carries Hookline's signatures and the webhook's auth and custom
    /// headers: only a `template` request, which goes to the tenant's own endpoint.
    pub signed: bool,
    /// The headers whose values are credentials (shown as hints in a test send's report).
    pub secret_headers: Vec<String>,
}

/// What a preset reads of one event.
#[derive(Debug, Clone, Copy)]
pub struct PresetEvent<'a> {
    pub event: &'a EventView<'a>,
    pub options: &'a RenderOptions<'a>,
    pub delivery_id: &'a str,
}

impl PresetEvent<'_> {
    /// The topic as the tool sees it (with the webhook's prefix).
    pub fn event_type(&self) -> String {
        render::event_type(self.event.topic, self.options.event_prefix)
    }

    /// The event's fields, flat (`context` and `data` merged), all of them.
    pub fn flat(&self) -> Map<String, Value> {
        render::flat(self.event.payload)
    }

    /// The event's fields the webhook selects (all without a selection).
    pub fn selected(&self) -> Map<String, Value> {
        let flat = self.flat();
        match self.options.fields {
            Some(paths) => render::select(&flat, paths),
            None => flat,
        }
    }
}

/// The value at a dotted path of `map`.
pub fn lookup<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = map.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// A value as text: strings as they are, anything else as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn json(value: &Value) -> Vec<u8> {
    // Serialising a JSON value cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}
