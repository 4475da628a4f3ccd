//! The request an integration preset sends for one event (`domain::integration`): its URL,
//! body and the tool's own headers, built without I/O. `outbound::request` adds Hookline's
//! signature headers to a `template` request (its endpoint is the tenant's own), never to a
//! tool's: the tool authenticates Hookline by the tenant's credential and cannot check them.
//!
//! Integrations are never batched: one event, one request.

pub mod chat;
pub mod describe;
pub mod event;
pub mod klaviyo;
pub mod segment;

pub use event::{PresetEvent, PresetRequest, lookup, text};

use serde_json::Value;

use crate::domain::integration::Integration;
use crate::domain::integration::template::{self, TemplateInput};
use crate::outbound::render::{self, JSON_CONTENT_TYPE};

/// The request `integration` sends for `event`; an error (for the delivery log) when the event
/// cannot make one (a template whose output is not JSON, a Klaviyo event without a profile).
pub fn build(
    integration: &Integration,
    event: &PresetEvent<'_>,
    endpoint_override: Option<&str>,
) -> Result<PresetRequest, String> {
    let url = integration.target_url(endpoint_override);
    let plain = |body: Value| PresetRequest {
        url: url.clone(),
        content_type: JSON_CONTENT_TYPE,
        body: event::json(&body),
        headers: Vec::new(),
        signed: false,
        secret_headers: Vec::new(),
    };
    Ok(match integration {
        Integration::Klaviyo { api_key, email_field, phone_field, external_id_field } => {
            let fields =
                klaviyo::ProfileFields { email: email_field, phone: phone_field, external_id: external_id_field };
            klaviyo::request(url.clone(), api_key.expose(), &fields, event)?
        }
        Integration::Slack { .. } => plain(chat::slack_body(event)),
        Integration::Discord { .. } => plain(chat::discord_body(event)),
        Integration::Segment { write_key, user_id_field } => {
            segment::request(url.clone(), write_key.expose(), user_id_field, event)
        }
        Integration::Template { template: source, .. } => {
            let (context, data) = match event.options.fields {
                Some(paths) => (
                    render::select(&event.event.payload.context, paths),
                    render::select(&event.event.payload.data, paths),
                ),
                None => (event.event.payload.context.clone(), event.event.payload.data.clone()),
            };
            let event_type = event.event_type();
            let input = TemplateInput {
                topic: event.event.topic,
                event_type: &event_type,
                occurred_at: event.event.occurred_at,
                context: &context,
                data: &data,
                delivery_id: event.delivery_id,
            };
            let body = template::render(source, &input)?;
            PresetRequest { body, signed: true, ..plain(Value::Null) }
        }
    })
}

#[cfg(test)]
pub(crate) mod tests;
