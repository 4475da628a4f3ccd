//! One webhook request assembled: the body rendered in the webhook's format (or by its
//! integration), signed, with Hookline's headers and the endpoint's own auth. The one way a
//! request is built, for deliveries and test sends alike.

use time::OffsetDateTime;

use crate::domain::endpoint_auth;
use crate::domain::settings::{DEFAULT_HEADER_PREFIX, Settings};
use crate::domain::timestamp;
use crate::domain::webhook::Webhook;
use crate::outbound::integration::{self, PresetEvent};
use crate::outbound::render::{self, EventView, RenderOptions};
use crate::outbound::signatures::{self, HeaderNames};

/// Request signing and naming settings of a deployment, and where requests to a tool's fixed
/// endpoint go instead (local runner and tests only, see `Settings`).
#[derive(Debug, Clone)]
pub struct SigningSettings {
    pub header_names: HeaderNames,
    /// The `x-source` header's value.
    pub source: String,
    pub integration_endpoint_override: Option<String>,
}

/// One request, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundRequest {
    pub url: String,
    pub body: render::RenderedBody,
    pub headers: Vec<(String, String)>,
    /// The names (lowercase) of the headers whose values are credentials.
    pub secret_headers: Vec<String>,
}

/// The request to `webhook` carrying `events` (one, or a `form` batch), sent at `now`. An
/// error says, for the delivery log, why the event makes no request (an integration's).
pub fn build_request(
    webhook: &Webhook,
    events: &[EventView<'_>],
    delivery_ids: &[&str],
    signing: &SigningSettings,
    now: OffsetDateTime,
) -> Result<OutboundRequest, String> {
    let options = RenderOptions::of(webhook);
    let (url, body, signed, mut headers, mut secret_headers) = match (&webhook.integration, events.first()) {
        (Some(i), Some(event)) => {
            let preset = PresetEvent {
                event,
                options: &options,
                delivery_id: delivery_ids.first().copied().unwrap_or_default(),
            };
            let r = integration::build(i, &preset, signing.integration_endpoint_override.as_deref())?;
            let body = render::RenderedBody { content_type: r.content_type, bytes: r.body };
            (r.url, body, r.signed, r.headers, r.secret_headers)
        }
        _ => (webhook.url.clone(), render::render(events, &options), true, Vec::new(), Vec::new()),
    };
    if signed {
        let mut topics: Vec<String> =
            events.iter().map(|e| render::event_type(e.topic, options.event_prefix)).collect();
        topics.dedup();
        headers = signatures::request_headers(
            &signing.header_names,
            &signing.source,
            body.content_type,
            &webhook.signing_secrets(&timestamp::format(now)),
            &delivery_ids.join(","),
            &topics.join(","),
            now.unix_timestamp(),
            &body.bytes,
        );
        let auth = endpoint_auth::auth_headers(webhook.auth.as_ref(), &webhook.headers);
        secret_headers.extend(auth.iter().map(|(name, _)| name.clone()));
        headers.extend(auth);
    } else {
        headers.insert(0, (signatures::HEADER_CONTENT_TYPE.into(), body.content_type.into()));
    }
    Ok(OutboundRequest { url, body, headers, secret_headers })
}

impl SigningSettings {
    /// The signing settings a deployment's settings imply (their prefix was checked when read).
    pub fn from_settings(settings: &Settings) -> Self {
        let header_names = HeaderNames::with_prefix(&settings.header_prefix)
            .unwrap_or_else(|_| HeaderNames::with_prefix(DEFAULT_HEADER_PREFIX).unwrap_or_else(|_| unreachable!()));
        Self {
            header_names,
            source: settings.source.clone(),
            integration_endpoint_override: settings.integration_endpoint_override.clone(),
        }
    }
}
