//! The webhook as stored: where a tenant wants which events delivered, and how.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::endpoint_auth::EndpointAuth;
use crate::domain::event::json_string;
use crate::domain::filter::Filter;
use crate::domain::integration::Integration;
use crate::domain::secret::Secret;

/// The JSON key of a `form` batch unless the webhook names another.
pub const DEFAULT_FORM_KEY: &str = "events";

/// The body's shape (see `outbound::render`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadFormat {
    #[default]
    Flat,
    Envelope,
    Form,
}

/// A webhook as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub url: String,
    pub topics: Vec<String>,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The signing secret: stored as is because signing needs it; its `Debug` is redacted and
    /// the API returns it only at creation.
    pub secret: Secret,
    /// During a rotation, the secret before the last change, still signing (a second
    /// Standard Webhooks signature) until `previous_secret_expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<String>,
    /// Why Hookline disabled the webhook (e.g. the endpoint answered 410 Gone). Cleared when
    /// it is enabled again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    /// Conditions on the event's fields, all of which must hold (page 000's restrictions).
    /// Stored as a JSON string, like event payloads: their values are any JSON, which
    /// DynamoDB's own types can't all hold (numbers past its range, deep nesting, empty keys).
    /// Items written before this stored them as a DynamoDB list, which still reads.
    #[serde(default, serialize_with = "json_string::serialize", deserialize_with = "filters_as_stored")]
    pub filters: Vec<Filter>,
    /// The body's shape (see `render`).
    #[serde(default)]
    pub format: PayloadFormat,
    /// The JSON key of a `form` batch.
    #[serde(default = "default_form_key")]
    pub form_key: String,
    /// Put before the topic in `event_type` and the topic header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_prefix: Option<String>,
    /// Only these fields (dotted paths) are sent; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// How the endpoint authenticates Hookline (API-key header or Basic auth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<EndpointAuth>,
    /// Static headers sent on every request; values are kept like secrets.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// The external tool the events go to (issue 13): its preset then fixes the target, auth
    /// and body, and `url` only shows where requests go (`Integration::display_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<Integration>,
    /// Stakeholders e-mailed when deliveries keep failing (page 004's failure alerts).
    #[serde(default)]
    pub alert_emails: Vec<String>,
    /// At most one alert e-mail per this many minutes; failures in between are summarised.
    #[serde(default = "default_alert_interval")]
    pub alert_interval_minutes: u32,
    /// Consecutive exhausted deliveries after which the webhook is disabled; 0 = never.
    #[serde(default = "default_disable_after")]
    pub disable_after_failures: u32,
    /// At most this many requests in any one second (see `domain::rate`); unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_second: Option<u32>,
    /// Failure state, written by the delivery and alert functions (never by the API).
    #[serde(default)]
    pub consecutive_failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_alert_at: Option<String>,
    /// Failures not yet told in an alert e-mail.
    #[serde(default)]
    pub pending_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_first_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_last_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_last_error: Option<String>,
    #[serde(default)]
    pub pending_delivery_ids: Vec<String>,
    /// When an alert invocation claimed the pending summary for sending; the summary is
    /// cleared only after the e-mail went out, and a claim older than the lease is taken over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_claimed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Reads stored filters: JSON text, or the DynamoDB list earlier versions wrote.
fn filters_as_stored<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Filter>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Text(String),
        List(Vec<Filter>),
    }
    match Stored::deserialize(d)? {
        Stored::Text(text) => serde_json::from_str(&text).map_err(serde::de::Error::custom),
        Stored::List(filters) => Ok(filters),
    }
}

pub const DEFAULT_ALERT_INTERVAL_MINUTES: u32 = 60;
/// Ten exhausted deliveries in a row is ~65 hours of a dead endpoint with the default schedule.
pub const DEFAULT_DISABLE_AFTER_FAILURES: u32 = 10;

pub(super) fn default_form_key() -> String {
    DEFAULT_FORM_KEY.to_string()
}

fn default_alert_interval() -> u32 {
    DEFAULT_ALERT_INTERVAL_MINUTES
}

fn default_disable_after() -> u32 {
    DEFAULT_DISABLE_AFTER_FAILURES
}

pub const DEFAULT_SECRET_GRACE_MINUTES: u32 = 24 * 60;

impl Webhook {
    /// The secrets that sign a request at `now`: the current one, and the previous one while
    /// its grace period lasts.
    pub fn signing_secrets(&self, now: &str) -> Vec<&str> {
        let mut secrets = vec![self.secret.expose()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, &self.previous_secret_expires_at)
            && until.as_str() > now
        {
            secrets.push(previous.expose());
        }
        secrets
    }

    /// Whether an event of `topic` is to be delivered to this webhook.
    pub fn wants(&self, topic: &str) -> bool {
        self.enabled && self.topics.iter().any(|t| t == topic)
    }
}
