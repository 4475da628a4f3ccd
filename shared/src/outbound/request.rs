//! One webhook request assembled: the body rendered in the webhook's format, signed, with
//! Hookline's headers and the endpoint's own auth. The one way a request is built, for
//! deliveries and test sends alike.

use time::OffsetDateTime;

use crate::domain::endpoint_auth;
use crate::domain::settings::{DEFAULT_HEADER_PREFIX, Settings};
use crate::domain::timestamp;
use crate::domain::webhook::Webhook;
use crate::outbound::render::{self, EventView, RenderOptions};
use crate::outbound::signatures::{self, HeaderNames};

/// Request signing and naming settings of a deployment.
#[derive(Debug, Clone)]
pub struct SigningSettings {
    pub header_names: HeaderNames,
    /// The `x-source` header's value.
    pub source: String,
}

/// The body and headers of one request to `webhook` carrying `events` (one, or a `form`
/// batch), sent at `now`.
pub fn build_request(
    webhook: &Webhook,
    events: &[EventView<'_>],
    delivery_ids: &[&str],
    signing: &SigningSettings,
    now: OffsetDateTime,
) -> (render::RenderedBody, Vec<(String, String)>) {
    let options = RenderOptions::of(webhook);
    let body = render::render(events, &options);
    let mut topics: Vec<String> = events.iter().map(|e| render::event_type(e.topic, options.event_prefix)).collect();
    topics.dedup();
    let mut headers = signatures::request_headers(
        &signing.header_names,
        &signing.source,
        body.content_type,
        &webhook.signing_secrets(&timestamp::format(now)),
        &delivery_ids.join(","),
        &topics.join(","),
        now.unix_timestamp(),
        &body.bytes,
    );
    headers.extend(endpoint_auth::auth_headers(webhook.auth.as_ref(), &webhook.headers));
    (body, headers)
}

impl SigningSettings {
    /// The signing settings a deployment's settings imply (their prefix was checked when read).
    pub fn from_settings(settings: &Settings) -> Self {
        let header_names = HeaderNames::with_prefix(&settings.header_prefix)
            .unwrap_or_else(|_| HeaderNames::with_prefix(DEFAULT_HEADER_PREFIX).unwrap_or_else(|_| unreachable!()));
        Self { header_names, source: settings.source.clone() }
    }
}
