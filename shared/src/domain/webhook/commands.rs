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
    #[cfg_attr(feature = "openapi", schema(format = "uri", max_length = 2048))]
    pub url: String,
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50))]
    pub topics: Vec<String>,
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
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub alert_emails: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "counts::present")]
    #[cfg_attr(feature = "openapi", schema(value_type = u32, minimum = 1, maximum = 720))]
    pub alert_interval_minutes: Option<Option<u32>>,
    #[serde(default, deserialize_with = "counts::present")]
    #[cfg_attr(feature = "openapi", schema(value_type = u32, minimum = 0, maximum = 1000))]
    pub disable_after_failures: Option<Option<u32>>,
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
    pub alert_emails: Option<Vec<String>>,
    pub alert_interval_minutes: Option<u32>,
    pub disable_after_failures: Option<u32>,
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
    /// are judged together, and this change sets only one of them.
    pub fn needs_current(&self) -> bool {
        self.auth.is_some() != self.headers.is_some()
    }

    /// The webhook after the change, with the rules that span fields (a custom header may not
    /// be the auth's header) judged on the whole.
    pub fn apply_checked(&self, webhook: &Webhook, settings: &Settings) -> Result<Webhook, DomainError> {
        let updated = self.applied_to(webhook);
        if self.needs_current() {
            endpoint_auth::validate_headers(&updated.headers, updated.auth.as_ref(), &[&own_prefix(settings)])?;
        }
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
        if let Some(v) = c.alert_emails {
            w.alert_emails = v;
        }
        if let Some(v) = c.alert_interval_minutes {
            w.alert_interval_minutes = v;
        }
        if let Some(v) = c.disable_after_failures {
            w.disable_after_failures = v;
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
        Ok(Webhook {
            id: ids::new_id(ids::WEBHOOK_PREFIX),
            tenant_id: tenant_id.to_string(),
            name: name::validate(&self.name)?,
            url: validate_url(&self.url, settings)?,
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
        let previous_secret_until = (grace > 0 && matches!(self.secret, Some(Some(_))))
            .then(|| timestamp::format(timestamp::now() + time::Duration::minutes(i64::from(grace))));
        Ok(WebhookChanges {
            name: not_null("name", self.name)?.map(|n| name::validate(&n)).transpose()?,
            url: not_null("url", self.url)?.map(|u| validate_url(&u, settings)).transpose()?,
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: serde_json::Value) -> Result<Webhook, DomainError> {
        let req: CreateWebhook =
            serde_json::from_value(json).map_err(|e| DomainError::invalid("invalid_request", e))?;
        req.into_webhook("acme", &Settings::default(), "2026-01-01T00:00:00Z")
    }

    #[test]
    fn create_fills_defaults_and_dedupes_topics() {
        let wh = create(serde_json::json!({
            "name": " Orders ", "url": "https://example.com/hook", "topics": ["order_create", "order_create", "order_update"]
        }))
        .expect("valid");
        assert_eq!(wh.name, "Orders");
        assert_eq!(wh.topics, vec!["order_create", "order_update"]);
        assert!(wh.enabled);
        assert!(wh.secret.expose().starts_with(secret::SECRET_PREFIX));
        assert!(!format!("{wh:?}").contains(wh.secret.expose()));
        assert!(wh.wants("order_create"));
        assert!(!wh.wants("coupon_create"));
    }

    #[test]
    fn create_rejects_bad_fields_with_codes() {
        let base = serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"]});
        for (patch, code) in [
            (serde_json::json!({"topics": []}), "invalid_topics"),
            (serde_json::json!({"topics": ["bad topic"]}), "invalid_topic"),
            (serde_json::json!({"url": "ftp://example.com"}), "invalid_url"),
            (serde_json::json!({"name": "   "}), "invalid_name"),
            (serde_json::json!({"secret": "short"}), "invalid_secret"),
            (serde_json::json!({"description": "d".repeat(501)}), "invalid_description"),
        ] {
            let mut body = base.clone();
            for (k, v) in patch.as_object().expect("object") {
                body[k] = v.clone();
            }
            assert_eq!(create(body).expect_err("invalid").code(), code);
        }
    }

    #[test]
    fn alert_settings_default_and_validate() {
        let wh = create(serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"],
            "alert_emails": ["ops@example.com", "OPS@example.com", "cto@shop.example"]}))
        .expect("valid");
        assert_eq!(wh.alert_emails, ["ops@example.com", "cto@shop.example"]);
        assert_eq!(wh.alert_interval_minutes, DEFAULT_ALERT_INTERVAL_MINUTES);
        assert_eq!(wh.disable_after_failures, DEFAULT_DISABLE_AFTER_FAILURES);
        let base = serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"]});
        for (field, value, code) in [
            ("alert_emails", serde_json::json!(["not-an-address"]), "invalid_alert_emails"),
            ("alert_emails", serde_json::json!(["a@b"]), "invalid_alert_emails"),
            ("alert_emails", serde_json::json!(["a b@example.com"]), "invalid_alert_emails"),
            // Kept as the document's pattern says: no white space around it either.
            ("alert_emails", serde_json::json!([" ops@example.com"]), "invalid_alert_emails"),
            // What SES cannot send to (issue 17): non-ASCII before the @, a non-ASCII domain
            // not in punycode, a domain that is no host name, a local part over 64 characters.
            ("alert_emails", serde_json::json!(["jörg@example.com"]), "invalid_alert_emails"),
            ("alert_emails", serde_json::json!(["ops@exämple.com"]), "invalid_alert_emails"),
            ("alert_emails", serde_json::json!(["ops@exa_mple.com"]), "invalid_alert_emails"),
            ("alert_emails", serde_json::json!([format!("{}@example.com", "a".repeat(65))]), "invalid_alert_emails"),
            (
                "alert_emails",
                serde_json::json!((0..11).map(|i| format!("u{i}@example.com")).collect::<Vec<_>>()),
                "invalid_alert_emails",
            ),
            ("alert_interval_minutes", serde_json::json!(0), "invalid_alert_interval"),
            ("alert_interval_minutes", serde_json::json!(721), "invalid_alert_interval"),
            ("disable_after_failures", serde_json::json!(1001), "invalid_disable_after_failures"),
        ] {
            let mut body = base.clone();
            body[field] = value;
            assert_eq!(create(body).expect_err(field).code(), code, "{field}");
        }
        let never = create(serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"], "disable_after_failures": 0}))
            .expect("0 = never");
        assert_eq!(never.disable_after_failures, 0);
    }

    #[test]
    fn disabled_webhooks_want_nothing() {
        let mut wh =
            create(serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"]})).expect("ok");
        wh.enabled = false;
        assert!(!wh.wants("a"));
    }

    #[test]
    fn update_distinguishes_null_from_absent() {
        let s = Settings::default();
        let req: UpdateWebhook = serde_json::from_str(r#"{"description": null, "enabled": false}"#).expect("json");
        let c = req.into_changes(&s).expect("valid");
        assert_eq!(c.description, Some(None));
        assert_eq!(c.enabled, Some(false));
        assert_eq!(c.name, None);
        let req: UpdateWebhook = serde_json::from_str(r#"{"name": null}"#).expect("json");
        assert_eq!(req.into_changes(&s).expect_err("null name").code(), "invalid_request");
        let req: UpdateWebhook = serde_json::from_str("{}").expect("json");
        let empty = req.into_changes(&s).expect("empty");
        assert!(empty.is_empty(), "{empty:?}");
        assert!(serde_json::from_str::<UpdateWebhook>(r#"{"colour": "red"}"#).is_err());
    }
}
