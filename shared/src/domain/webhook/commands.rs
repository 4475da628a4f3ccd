//! The requests that create and change a webhook, validated once into values the store can
//! write as they are.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::counts;
use super::model::{
    DEFAULT_ALERT_INTERVAL_MINUTES, DEFAULT_DISABLE_AFTER_FAILURES, DEFAULT_SECRET_GRACE_MINUTES, PayloadFormat,
    Webhook, default_form_key,
};
use super::validate::*;
use crate::domain::endpoint_auth::{self, EndpointAuth};
use crate::domain::error::DomainError;
use crate::domain::filter::{self, Filter};
use crate::domain::integration::Integration;
use crate::domain::limits::MAX_SECRET_GRACE_MINUTES;
use crate::domain::secret::{self, Secret};
use crate::domain::settings::Settings;
use crate::domain::{ids, name, timestamp};

/// `POST /v1/tenants/{tenant_id}/webhooks`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    /// Required, unless an `integration` says where requests go (then refused).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(format = "uri", max_length = 2048))]
    pub url: Option<String>,
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50))]
    pub topics: Vec<String>,
    /// `{"type": "<preset id>", ...its settings}`: a preset of `GET /v1/integrations`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub integration: Option<serde_json::Value>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 16, max_length = 256))]
    pub secret: Option<Secret>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 20))]
    pub filters: Option<Vec<Filter>>,
    #[serde(default)]
    pub format: Option<PayloadFormat>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9_.:-]+$"))]
    pub form_key: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 50, pattern = "^[A-Za-z0-9_.:-]+$"))]
    pub event_prefix: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
    pub fields: Option<Vec<String>>,
    #[serde(default)]
    pub auth: Option<EndpointAuth>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub headers: Option<BTreeMap<String, Secret>>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub alert_emails: Option<Vec<String>>,
    #[serde(default, deserialize_with = "counts::optional")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 720))]
    pub alert_interval_minutes: Option<u32>,
    #[serde(default, deserialize_with = "counts::optional")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000))]
    pub disable_after_failures: Option<u32>,
    /// At most this many requests to the webhook in any one second; unlimited when absent.
    #[serde(default, deserialize_with = "counts::optional")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub max_per_second: Option<u32>,
}

/// `PATCH .../webhooks/{id}`: absent fields stay as they are; `description: null` clears it.
/// `null` for a field that cannot be empty is refused rather than read as "unchanged".
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 100))]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uri", max_length = 2048))]
    pub url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, min_items = 1, max_items = 50))]
    pub topics: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = bool))]
    pub enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 16, max_length = 256))]
    pub secret: Option<Option<Secret>>,
    /// With `secret`: how long the old secret keeps signing too (default 24 h; 0 = not at all).
    #[serde(default, deserialize_with = "counts::present")]
    #[cfg_attr(feature = "openapi", schema(value_type = u32, minimum = 0, maximum = 10080))]
    pub secret_grace_minutes: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(max_items = 20))]
    pub filters: Option<Option<Vec<Filter>>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = PayloadFormat))]
    pub format: Option<Option<PayloadFormat>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9_.:-]+$"))]
    pub form_key: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 50, pattern = "^[A-Za-z0-9_.:-]+$"))]
    pub event_prefix: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
    pub fields: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub auth: Option<Option<EndpointAuth>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub headers: Option<Option<BTreeMap<String, Secret>>>,
    /// Replaces the integration whole (secret settings included); `null` removes it, with a
    /// `url` in the same change.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub integration: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub alert_emails: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "counts::present")]
    #[cfg_attr(feature = "openapi", schema(value_type = u32, minimum = 1, maximum = 720))]
    pub alert_interval_minutes: Option<Option<u32>>,
    #[serde(default, deserialize_with = "counts::present")]
    #[cfg_attr(feature = "openapi", schema(value_type = u32, minimum = 0, maximum = 1000))]
    pub disable_after_failures: Option<Option<u32>>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "counts::present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>, minimum = 1, maximum = 10000))]
    pub max_per_second: Option<Option<u32>>,
}

/// Distinguishes a field sent as `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A field of a change that cannot be cleared: `null` is refused, absent is "unchanged".
fn not_null<T>(field: &'static str, v: Option<Option<T>>) -> Result<Option<T>, DomainError> {
    match v {
        Some(None) => Err(DomainError::invalid("invalid_request", format!("{field} cannot be null"))),
        Some(Some(v)) => Ok(Some(v)),
        None => Ok(None),
    }
}

/// A validated change to a stored webhook; every `Some` is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookChanges {
    pub name: Option<String>,
    pub url: Option<String>,
    pub topics: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub description: Option<Option<String>>,
    pub secret: Option<Secret>,
    /// With a new secret: until when the old one keeps signing (`None`: it stops at once).
    pub previous_secret_until: Option<String>,
    pub filters: Option<Vec<Filter>>,
    pub format: Option<PayloadFormat>,
    pub form_key: Option<String>,
    /// `Some(None)` removes the prefix (likewise `fields`: all fields again).
    pub event_prefix: Option<Option<String>>,
    pub fields: Option<Option<Vec<String>>>,
    /// `Some(None)` removes the auth; `headers` `Some(empty)` removes every custom header.
    pub auth: Option<Option<EndpointAuth>>,
    pub headers: Option<BTreeMap<String, Secret>>,
    /// `Some(None)` removes the integration (and `url` is then set too).
    pub integration: Option<Option<Integration>>,
    pub alert_emails: Option<Vec<String>>,
    pub alert_interval_minutes: Option<u32>,
    pub disable_after_failures: Option<u32>,
    /// `Some(None)` removes the limit.
    pub max_per_second: Option<Option<u32>>,
}

impl WebhookChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Enabling a webhook (again) starts its failure count afresh and clears why and when it
    /// was disabled.
    pub fn resets_failures(&self) -> bool {
        self.enabled == Some(true)
    }

    /// True when the change must be judged with the stored webhook: auth and custom headers
    /// are judged together and with the integration (a tool's preset takes neither), and a
    /// `url` may not change under an integration.
    pub fn needs_current(&self) -> bool {
        self.integration.is_some() || self.url.is_some() || self.auth.is_some() || self.headers.is_some()
    }

    /// The webhook after the change, with the rules that span fields (a custom header may not
    /// be the auth's header) judged on the whole.
    /// What breaks a rule only with the webhook as stored (a header named as the stored auth's,
    /// a `url` under a stored integration) conflicts with it: a 409 with the rule's code, since
    /// the same change is fine on another webhook (and no schema of the change can say it).
    pub fn apply_checked(&self, webhook: &Webhook, settings: &Settings) -> Result<Webhook, DomainError> {
        let updated = self.applied_to(webhook);
        let conflict = |e: DomainError| match e {
            DomainError::Invalid { code, message } => DomainError::Conflict { code, message },
            other => other,
        };
        if self.auth.is_some() != self.headers.is_some() {
            endpoint_auth::validate_headers(&updated.headers, updated.auth.as_ref(), &[&own_prefix(settings)])
                .map_err(conflict)?;
        }
        if self.integration.is_none() && self.url.is_some() && updated.integration.is_some() {
            return Err(conflict(url_with_integration()));
        }
        check_integration_options(updated.integration.as_ref(), updated.auth.as_ref(), &updated.headers)
            .map_err(conflict)?;
        Ok(updated)
    }

    /// The webhook as it would be after the change (to test it before saving).
    pub fn applied_to(&self, webhook: &Webhook) -> Webhook {
        let mut w = webhook.clone();
        let c = self.clone();
        if let Some(v) = c.name {
            w.name = v;
        }
        if let Some(v) = c.url {
            w.url = v;
        }
        if let Some(v) = c.topics {
            w.topics = v;
        }
        if let Some(v) = c.enabled {
            w.enabled = v;
        }
        if let Some(v) = c.description {
            w.description = v;
        }
        if let Some(v) = c.secret {
            w.secret = v;
        }
        if let Some(v) = c.filters {
            w.filters = v;
        }
        if let Some(v) = c.format {
            w.format = v;
        }
        if let Some(v) = c.form_key {
            w.form_key = v;
        }
        if let Some(v) = c.event_prefix {
            w.event_prefix = v;
        }
        if let Some(v) = c.fields {
            w.fields = v;
        }
        if let Some(v) = c.auth {
            w.auth = v;
        }
        if let Some(v) = c.headers {
            w.headers = v;
        }
        if let Some(v) = c.integration {
            w.integration = v;
        }
        if let Some(v) = c.alert_emails {
            w.alert_emails = v;
        }
        if let Some(v) = c.alert_interval_minutes {
            w.alert_interval_minutes = v;
        }
        if let Some(v) = c.disable_after_failures {
            w.disable_after_failures = v;
        }
        if let Some(v) = c.max_per_second {
            w.max_per_second = v;
        }
        w
    }
}

impl CreateWebhook {
    /// Validates the request into the webhook to store. The secret is generated when not given.
    pub fn into_webhook(self, tenant_id: &str, settings: &Settings, now: &str) -> Result<Webhook, DomainError> {
        let secret = match self.secret {
            Some(s) => {
                secret::validate(s.expose())?;
                s
            }
            None => Secret::new(secret::generate()),
        };
        let auth = self.auth.map(|a| check_auth(a, settings)).transpose()?;
        let headers = self.headers.map(|h| check_headers(h, auth.as_ref(), settings)).transpose()?.unwrap_or_default();
        let integration =
            self.integration.map(|i| Integration::parse(i, settings.allow_private_targets)).transpose()?;
        check_integration_options(integration.as_ref(), auth.as_ref(), &headers)?;
        let url = match (&integration, self.url) {
            (Some(_), Some(_)) => return Err(url_with_integration()),
            (Some(i), None) => i.display_url(),
            (None, Some(url)) => validate_url(&url, settings)?,
            (None, None) => {
                return Err(DomainError::invalid(
                    "invalid_request",
                    "missing field `url` (required unless an integration is given)",
                ));
            }
        };
        Ok(Webhook {
            id: ids::new_id(ids::WEBHOOK_PREFIX),
            tenant_id: tenant_id.to_string(),
            name: name::validate(&self.name)?,
            url,
            topics: validate_topics(&self.topics, settings)?,
            enabled: self.enabled.unwrap_or(true),
            description: self.description.as_deref().map(validate_description).transpose()?,
            secret,
            previous_secret: None,
            previous_secret_expires_at: None,
            disabled_reason: None,
            disabled_at: None,
            filters: self.filters.map(|f| filter::validate_filters(&f).map(|()| f)).transpose()?.unwrap_or_default(),
            format: self.format.unwrap_or_default(),
            form_key: self.form_key.as_deref().map(validate_form_key).transpose()?.unwrap_or_else(default_form_key),
            event_prefix: self.event_prefix.as_deref().map(validate_event_prefix).transpose()?,
            fields: self.fields.as_deref().map(validate_fields).transpose()?,
            auth,
            headers,
            integration,
            alert_emails: self.alert_emails.as_deref().map(validate_alert_emails).transpose()?.unwrap_or_default(),
            alert_interval_minutes: self
                .alert_interval_minutes
                .map(validate_alert_interval)
                .transpose()?
                .unwrap_or(DEFAULT_ALERT_INTERVAL_MINUTES),
            disable_after_failures: self
                .disable_after_failures
                .map(validate_disable_after)
                .transpose()?
                .unwrap_or(DEFAULT_DISABLE_AFTER_FAILURES),
            max_per_second: self.max_per_second.map(validate_max_per_second).transpose()?,
            consecutive_failures: 0,
            last_alert_at: None,
            pending_count: 0,
            alert_claimed_at: None,
            pending_first_at: None,
            pending_last_at: None,
            pending_last_error: None,
            pending_delivery_ids: Vec::new(),
            created_at: now.to_string(),
            updated_at: now.to_string(),
        })
    }
}

impl UpdateWebhook {
    pub fn into_changes(self, settings: &Settings) -> Result<WebhookChanges, DomainError> {
        let grace = match (not_null("secret_grace_minutes", self.secret_grace_minutes)?, &self.secret) {
            (Some(_), None) => {
                return Err(DomainError::invalid("invalid_request", "secret_grace_minutes goes with a new secret"));
            }
            (Some(m), _) if m > MAX_SECRET_GRACE_MINUTES => {
                return Err(DomainError::invalid(
                    "invalid_secret_grace",
                    format!("secret_grace_minutes must be 0 to {MAX_SECRET_GRACE_MINUTES}"),
                ));
            }
            (m, _) => m.unwrap_or(DEFAULT_SECRET_GRACE_MINUTES),
        };
        let auth = self.auth.map(|a| a.map(|a| check_auth(a, settings)).transpose()).transpose()?;
        // With both in the change they are judged together here; with one, `apply_checked`
        // judges it with the other as stored.
        let new_auth = auth.as_ref().and_then(Option::as_ref);
        let headers = self.headers.map(|h| check_headers(h.unwrap_or_default(), new_auth, settings)).transpose()?;
        let integration = self
            .integration
            .map(|i| i.map(|i| Integration::parse(i, settings.allow_private_targets)).transpose())
            .transpose()?;
        let url = match (&integration, not_null("url", self.url)?) {
            (Some(Some(_)), Some(_)) => return Err(url_with_integration()),
            (Some(Some(i)), None) => Some(i.display_url()),
            (Some(None), None) => {
                return Err(DomainError::invalid(
                    "invalid_request",
                    "removing the integration needs a url in the same change: where the requests go now",
                ));
            }
            (_, Some(url)) => Some(validate_url(&url, settings)?),
            (None, None) => None,
        };
        // What the change itself combines is judged here (a 400); with what is stored, in
        // `apply_checked` (a 409).
        if let Some(Some(integration)) = &integration {
            let empty = BTreeMap::new();
            check_integration_options(Some(integration), new_auth, headers.as_ref().unwrap_or(&empty))?;
        }
        let previous_secret_until = (grace > 0 && matches!(self.secret, Some(Some(_))))
            .then(|| timestamp::format(timestamp::now() + time::Duration::minutes(i64::from(grace))));
        Ok(WebhookChanges {
            name: not_null("name", self.name)?.map(|n| name::validate(&n)).transpose()?,
            url,
            integration,
            topics: not_null("topics", self.topics)?.map(|t| validate_topics(&t, settings)).transpose()?,
            enabled: not_null("enabled", self.enabled)?,
            description: self.description.map(|d| d.as_deref().map(validate_description).transpose()).transpose()?,
            secret: not_null("secret", self.secret)?.map(|s| secret::validate(s.expose()).map(|()| s)).transpose()?,
            previous_secret_until,
            format: not_null("format", self.format)?,
            form_key: not_null("form_key", self.form_key)?.map(|k| validate_form_key(&k)).transpose()?,
            event_prefix: self.event_prefix.map(|p| p.as_deref().map(validate_event_prefix).transpose()).transpose()?,
            fields: self.fields.map(|f| f.as_deref().map(validate_fields).transpose()).transpose()?,
            auth,
            headers,
            // `null` clears the filters (every event of the topics) and the recipients.
            filters: self
                .filters
                .map(|f| {
                    let f = f.unwrap_or_default();
                    filter::validate_filters(&f).map(|()| f)
                })
                .transpose()?,
            alert_emails: self.alert_emails.map(|e| validate_alert_emails(&e.unwrap_or_default())).transpose()?,
            alert_interval_minutes: not_null("alert_interval_minutes", self.alert_interval_minutes)?
                .map(validate_alert_interval)
                .transpose()?,
            disable_after_failures: not_null("disable_after_failures", self.disable_after_failures)?
                .map(validate_disable_after)
                .transpose()?,
            max_per_second: self.max_per_second.map(|m| m.map(validate_max_per_second).transpose()).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests;
