//! Integrations (issue 13, page 002): a webhook may send its events to an external tool
//! instead of a raw endpoint. A preset fixes the tool's URL, auth and body shape and asks
//! only for the tool's credentials and options; `template` writes a custom JSON body.
//!
//! The presets and their settings are data in `catalog`; the requests are built in
//! `outbound::integration`. Secret settings (API keys, write keys, the URLs Slack and Discord
//! give, which carry a token) are kept like the other secrets: sealed at rest, shown as hints.

pub mod catalog;
pub mod template;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use self::catalog::{DEFAULT_EMAIL_FIELD, DEFAULT_EXTERNAL_ID_FIELD, DEFAULT_PHONE_FIELD};
use crate::domain::error::DomainError;
use crate::domain::field_path;
use crate::domain::limits::{MAX_HEADER_VALUE_LEN, MAX_PATH_LEN};
use crate::domain::net_policy;
use crate::domain::secret::{self, Secret};

/// Klaviyo's Events API (Create Event).
pub const KLAVIYO_EVENTS_URL: &str = "https://a.klaviyo.com/api/events";
/// Segment's HTTP Tracking API (track).
pub const SEGMENT_TRACK_URL: &str = "https://api.segment.io/v1/track";

/// A webhook's integration as stored: the preset (`type`) and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Integration {
    Klaviyo {
        api_key: Secret,
        #[serde(default = "default_email_field")]
        email_field: String,
        #[serde(default = "default_phone_field")]
        phone_field: String,
        #[serde(default = "default_external_id_field")]
        external_id_field: String,
    },
    Slack {
        url: Secret,
    },
    Discord {
        url: Secret,
    },
    Segment {
        write_key: Secret,
        #[serde(default = "default_external_id_field")]
        user_id_field: String,
    },
    Template {
        url: String,
        template: String,
    },
}

fn default_email_field() -> String {
    DEFAULT_EMAIL_FIELD.into()
}
fn default_phone_field() -> String {
    DEFAULT_PHONE_FIELD.into()
}
fn default_external_id_field() -> String {
    DEFAULT_EXTERNAL_ID_FIELD.into()
}

fn invalid(message: impl std::fmt::Display) -> DomainError {
    DomainError::invalid("invalid_integration", message)
}

/// A credential travels in a header: printable ASCII, bounded.
fn check_credential(preset: &str, name: &str, value: &Secret) -> Result<(), DomainError> {
    let v = value.expose();
    if v.is_empty() || v.len() > MAX_HEADER_VALUE_LEN || !v.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(invalid(format!("{preset} {name} must be 1 to {MAX_HEADER_VALUE_LEN} printable ASCII characters")));
    }
    Ok(())
}

/// A field setting is a dotted path into the event's fields.
fn check_field(preset: &str, name: &str, path: &str) -> Result<(), DomainError> {
    if !field_path::is_field_path(path) {
        return Err(invalid(format!("{preset} {name} must be a dotted field path of 1 to {MAX_PATH_LEN} characters")));
    }
    Ok(())
}

impl Integration {
    /// The preset's id (`type`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Klaviyo { .. } => "klaviyo",
            Self::Slack { .. } => "slack",
            Self::Discord { .. } => "discord",
            Self::Segment { .. } => "segment",
            Self::Template { .. } => "template",
        }
    }

    /// Reads and checks an integration as the API receives it (`invalid_integration`, or the
    /// URL's own codes, or `invalid_template` with the position).
    pub fn parse(value: Value, allow_private_targets: bool) -> Result<Self, DomainError> {
        let kind = value.get("type").and_then(Value::as_str).map(str::to_string);
        match kind.as_deref() {
            None => return Err(invalid("integration needs a \"type\": one of GET /v1/integrations")),
            Some(k) if catalog::preset(k).is_none() => {
                return Err(invalid(format!("{k:?} is not an integration of this deployment (GET /v1/integrations)")));
            }
            Some(_) => {}
        }
        let integration: Self = serde_json::from_value(value).map_err(|e| invalid(format!("integration: {e}")))?;
        integration.check(allow_private_targets)?;
        Ok(integration)
    }

    fn check(&self, allow_private_targets: bool) -> Result<(), DomainError> {
        let kind = self.kind();
        match self {
            Self::Klaviyo { api_key, email_field, phone_field, external_id_field } => {
                check_credential(kind, "api_key", api_key)?;
                check_field(kind, "email_field", email_field)?;
                check_field(kind, "phone_field", phone_field)?;
                check_field(kind, "external_id_field", external_id_field)
            }
            Self::Slack { url } | Self::Discord { url } => {
                net_policy::validate_webhook_url(url.expose(), allow_private_targets).map(|_| ())
            }
            Self::Segment { write_key, user_id_field } => {
                check_credential(kind, "write_key", write_key)?;
                check_field(kind, "user_id_field", user_id_field)
            }
            Self::Template { url, template } => {
                net_policy::validate_webhook_url(url, allow_private_targets)?;
                template::check(template)
            }
        }
    }

    /// Where the requests go, as the API shows it: the tool's fixed endpoint, the template's
    /// URL, or only the origin of a URL that is itself a secret (Slack's, Discord's).
    pub fn display_url(&self) -> String {
        match self {
            Self::Klaviyo { .. } => KLAVIYO_EVENTS_URL.into(),
            Self::Segment { .. } => SEGMENT_TRACK_URL.into(),
            Self::Slack { url } | Self::Discord { url } => url::Url::parse(url.expose())
                .map(|u| format!("{}/", u.origin().ascii_serialization()))
                .unwrap_or_default(),
            Self::Template { url, .. } => url.clone(),
        }
    }

    /// Where the requests go. A fixed endpoint goes to `endpoint_override` (a base URL, the
    /// path kept) when the local runner or a test set one (see `Settings`).
    pub fn target_url(&self, endpoint_override: Option<&str>) -> String {
        let fixed = |endpoint: &str| match (endpoint_override, url::Url::parse(endpoint)) {
            (Some(base), Ok(u)) => format!("{}{}", base.trim_end_matches('/'), u.path()),
            _ => endpoint.to_string(),
        };
        match self {
            Self::Klaviyo { .. } => fixed(KLAVIYO_EVENTS_URL),
            Self::Segment { .. } => fixed(SEGMENT_TRACK_URL),
            Self::Slack { url } | Self::Discord { url } => url.expose().to_string(),
            Self::Template { url, .. } => url.clone(),
        }
    }

    /// What the API shows: the settings, each secret one as `<name>_hint` only.
    pub fn view(&self) -> Map<String, Value> {
        let Ok(Value::Object(mut map)) = serde_json::to_value(self) else { return Map::new() };
        for name in catalog::secret_settings(self.kind()) {
            if let Some(Value::String(v)) = map.remove(name) {
                map.insert(format!("{name}_hint"), Value::String(secret::hint(&v)));
            }
        }
        map
    }
}

#[cfg(test)]
mod tests;
