//! The webhook: where a tenant wants which events delivered, and the requests that create and
//! change one. Requests are validated here, once, into values the store can write as they are.

use serde::{Deserialize, Deserializer, Serialize};

use crate::config::Settings;
use crate::error::DomainError;
use std::collections::BTreeMap;

use crate::endpoint_auth::{self, EndpointAuth, EndpointAuthView};
use crate::filter::{self, Filter};
use crate::limits::{
    MAX_ALERT_EMAILS, MAX_ALERT_INTERVAL_MINUTES, MAX_DESCRIPTION_LEN, MAX_DISABLE_AFTER_FAILURES,
    MAX_EVENT_PREFIX_LEN, MAX_FIELDS, MAX_NAME_LEN, MAX_PATH_LEN, MAX_SECRET_GRACE_MINUTES, MAX_TOPIC_LEN,
    MAX_TOPICS_PER_WEBHOOK,
};
use crate::render::{DEFAULT_FORM_KEY, PayloadFormat};
use crate::secret::Secret;
use crate::{net_policy, secret, topic};

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
    #[serde(default, serialize_with = "crate::event::json_string::serialize", deserialize_with = "filters_as_stored")]
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
    /// Stakeholders e-mailed when deliveries keep failing (page 004's failure alerts).
    #[serde(default)]
    pub alert_emails: Vec<String>,
    /// At most one alert e-mail per this many minutes; failures in between are summarised.
    #[serde(default = "default_alert_interval")]
    pub alert_interval_minutes: u32,
    /// Consecutive exhausted deliveries after which the webhook is disabled; 0 = never.
    #[serde(default = "default_disable_after")]
    pub disable_after_failures: u32,
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

/// A webhook's failures not yet told in an alert e-mail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PendingSummary {
    pub count: u32,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub last_error: Option<String>,
    pub delivery_ids: Vec<String>,
}

impl Webhook {
    /// What stays pending once the e-mail telling `told`'s summary went out: the failures
    /// counted after it was read (none, usually).
    pub fn pending_after_telling(&self, told: &Webhook) -> PendingSummary {
        let count = self.pending_count.saturating_sub(told.pending_count);
        if count == 0 {
            return PendingSummary::default();
        }
        PendingSummary {
            count,
            // Their own first time isn't kept; they all came after the last failure told.
            first_at: told.pending_last_at.clone().or_else(|| self.pending_first_at.clone()),
            last_at: self.pending_last_at.clone(),
            last_error: self.pending_last_error.clone(),
            delivery_ids: self
                .pending_delivery_ids
                .iter()
                .filter(|id| !told.pending_delivery_ids.contains(id))
                .cloned()
                .collect(),
        }
    }
}

pub const DEFAULT_ALERT_INTERVAL_MINUTES: u32 = 60;
/// Ten exhausted deliveries in a row is ~65 hours of a dead endpoint with the default schedule.
pub const DEFAULT_DISABLE_AFTER_FAILURES: u32 = 10;

fn default_form_key() -> String {
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

    pub fn render_options(&self) -> crate::render::RenderOptions<'_> {
        crate::render::RenderOptions {
            format: self.format,
            event_prefix: self.event_prefix.as_deref(),
            fields: self.fields.as_deref(),
            form_key: &self.form_key,
        }
    }

    /// Whether an event of `topic` is to be delivered to this webhook.
    pub fn wants(&self, topic: &str) -> bool {
        self.enabled && self.topics.iter().any(|t| t == topic)
    }
}

/// What the API returns for a webhook: everything but the secret, of which only a hint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub url: String,
    pub topics: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    pub description: Option<String>,
    pub secret_hint: String,
    /// Set while the previous secret still signs (after a rotation).
    pub previous_secret_expires_at: Option<String>,
    pub filters: Vec<Filter>,
    pub format: PayloadFormat,
    pub form_key: String,
    pub event_prefix: Option<String>,
    pub fields: Option<Vec<String>>,
    pub auth: Option<EndpointAuthView>,
    /// Custom header names, each with a hint of its value.
    pub headers: BTreeMap<String, String>,
    pub alert_emails: Vec<String>,
    pub alert_interval_minutes: u32,
    pub disable_after_failures: u32,
    pub consecutive_failures: u32,
    pub last_alert_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Webhook> for WebhookView {
    fn from(w: &Webhook) -> Self {
        Self {
            id: w.id.clone(),
            tenant_id: w.tenant_id.clone(),
            name: w.name.clone(),
            url: w.url.clone(),
            topics: w.topics.clone(),
            enabled: w.enabled,
            disabled_reason: w.disabled_reason.clone(),
            disabled_at: w.disabled_at.clone(),
            description: w.description.clone(),
            secret_hint: secret::hint(w.secret.expose()),
            previous_secret_expires_at: w.previous_secret.as_ref().and(w.previous_secret_expires_at.clone()),
            filters: w.filters.clone(),
            format: w.format,
            form_key: w.form_key.clone(),
            event_prefix: w.event_prefix.clone(),
            fields: w.fields.clone(),
            auth: w.auth.as_ref().map(EndpointAuthView::from),
            headers: w.headers.iter().map(|(k, v)| (k.clone(), secret::hint(v.expose()))).collect(),
            alert_emails: w.alert_emails.clone(),
            alert_interval_minutes: w.alert_interval_minutes,
            disable_after_failures: w.disable_after_failures,
            consecutive_failures: w.consecutive_failures,
            last_alert_at: w.last_alert_at.clone(),
            created_at: w.created_at.clone(),
            updated_at: w.updated_at.clone(),
        }
    }
}

/// `POST /v1/tenants/{tenant_id}/webhooks`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    pub name: String,
    pub url: String,
    pub topics: Vec<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub filters: Option<Vec<Filter>>,
    #[serde(default)]
    pub format: Option<PayloadFormat>,
    #[serde(default)]
    pub form_key: Option<String>,
    #[serde(default)]
    pub event_prefix: Option<String>,
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    #[serde(default)]
    pub auth: Option<EndpointAuth>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, Secret>>,
    #[serde(default)]
    pub alert_emails: Option<Vec<String>>,
    #[serde(default)]
    pub alert_interval_minutes: Option<u32>,
    #[serde(default)]
    pub disable_after_failures: Option<u32>,
}

/// `PATCH .../webhooks/{id}`: absent fields stay as they are; `description: null` clears it.
/// `null` for a field that cannot be empty is refused rather than read as "unchanged".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub topics: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub enabled: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub secret: Option<Option<Secret>>,
    /// With `secret`: how long the old secret keeps signing too (default 24 h; 0 = not at all).
    #[serde(default, deserialize_with = "present")]
    pub secret_grace_minutes: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    pub filters: Option<Option<Vec<Filter>>>,
    #[serde(default, deserialize_with = "present")]
    pub format: Option<Option<PayloadFormat>>,
    #[serde(default, deserialize_with = "present")]
    pub form_key: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub event_prefix: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub fields: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub auth: Option<Option<EndpointAuth>>,
    #[serde(default, deserialize_with = "present")]
    pub headers: Option<Option<BTreeMap<String, Secret>>>,
    #[serde(default, deserialize_with = "present")]
    pub alert_emails: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub alert_interval_minutes: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
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

fn validate_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "invalid_name",
            format!("name must be 1 to {MAX_NAME_LEN} characters without control characters"),
        ));
    }
    Ok(name.to_string())
}

fn validate_description(description: &str) -> Result<String, DomainError> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(DomainError::invalid(
            "invalid_description",
            format!("description must be at most {MAX_DESCRIPTION_LEN} characters"),
        ));
    }
    Ok(description.to_string())
}

/// Checks each topic (against the deployment's catalog, if it has one) and drops repeats,
/// keeping the caller's order.
fn validate_topics(topics: &[String], settings: &Settings) -> Result<Vec<String>, DomainError> {
    if topics.is_empty() {
        return Err(DomainError::invalid("invalid_topics", "topics must name at least one topic"));
    }
    if topics.len() > MAX_TOPICS_PER_WEBHOOK {
        return Err(DomainError::invalid(
            "invalid_topics",
            format!("a webhook may subscribe to at most {MAX_TOPICS_PER_WEBHOOK} topics"),
        ));
    }
    let mut unique: Vec<String> = Vec::with_capacity(topics.len());
    for t in topics {
        topic::validate_topic(t)?;
        if let Some(catalog) = &settings.catalog
            && catalog.get(t).is_none()
        {
            return Err(DomainError::invalid(
                "unknown_topic",
                format!("topic {t:?} is not in this deployment's catalog (GET /v1/topics)"),
            ));
        }
        if !unique.contains(t) {
            unique.push(t.clone());
        }
    }
    Ok(unique)
}

/// A deliberately plain address check (one `@`, a dotted domain, no spaces, ≤ 254 characters):
/// SES is the real judge; this catches typos before they silence an alert.
fn validate_email(email: &str) -> Result<String, DomainError> {
    let email = email.trim();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        });
    if ok {
        Ok(email.to_string())
    } else {
        Err(DomainError::invalid("invalid_alert_emails", format!("{email:?} is not an e-mail address")))
    }
}

fn validate_alert_emails(emails: &[String]) -> Result<Vec<String>, DomainError> {
    if emails.len() > MAX_ALERT_EMAILS {
        return Err(DomainError::invalid(
            "invalid_alert_emails",
            format!("at most {MAX_ALERT_EMAILS} alert recipients"),
        ));
    }
    let mut unique: Vec<String> = Vec::with_capacity(emails.len());
    for e in emails {
        let e = validate_email(e)?;
        if !unique.iter().any(|u| u.eq_ignore_ascii_case(&e)) {
            unique.push(e);
        }
    }
    Ok(unique)
}

fn validate_alert_interval(minutes: u32) -> Result<u32, DomainError> {
    if (1..=MAX_ALERT_INTERVAL_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(DomainError::invalid(
            "invalid_alert_interval",
            format!("alert_interval_minutes must be 1 to {MAX_ALERT_INTERVAL_MINUTES}"),
        ))
    }
}

fn validate_disable_after(failures: u32) -> Result<u32, DomainError> {
    if failures <= MAX_DISABLE_AFTER_FAILURES {
        Ok(failures)
    } else {
        Err(DomainError::invalid(
            "invalid_disable_after_failures",
            format!("disable_after_failures must be 0 (never) to {MAX_DISABLE_AFTER_FAILURES}"),
        ))
    }
}

fn validate_form_key(key: &str) -> Result<String, DomainError> {
    topic::validate_topic(key).map(|()| key.to_string()).map_err(|_| {
        DomainError::invalid(
            "invalid_form_key",
            format!("form_key must be 1 to {MAX_TOPIC_LEN} of A-Z a-z 0-9 _ - . :"),
        )
    })
}

fn validate_event_prefix(prefix: &str) -> Result<String, DomainError> {
    let ok = (1..=MAX_EVENT_PREFIX_LEN).contains(&prefix.len())
        && prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if ok {
        Ok(prefix.to_string())
    } else {
        Err(DomainError::invalid(
            "invalid_event_prefix",
            format!("event_prefix must be 1 to {MAX_EVENT_PREFIX_LEN} of A-Z a-z 0-9 _ - . :"),
        ))
    }
}

fn validate_fields(fields: &[String]) -> Result<Vec<String>, DomainError> {
    let ok = !fields.is_empty()
        && fields.len() <= MAX_FIELDS
        && fields.iter().all(|f| f.len() <= MAX_PATH_LEN && f.split('.').all(|s| !s.is_empty()));
    if ok {
        Ok(fields.to_vec())
    } else {
        Err(DomainError::invalid(
            "invalid_fields",
            format!("fields must be 1 to {MAX_FIELDS} dotted paths of non-empty names"),
        ))
    }
}

fn own_prefix(settings: &Settings) -> String {
    format!("{}-", settings.header_prefix)
}

fn check_auth(auth: EndpointAuth, settings: &Settings) -> Result<EndpointAuth, DomainError> {
    endpoint_auth::validate_auth(&auth, &[&own_prefix(settings)]).map(|()| auth)
}

fn check_headers(
    headers: BTreeMap<String, Secret>,
    settings: &Settings,
) -> Result<BTreeMap<String, Secret>, DomainError> {
    endpoint_auth::validate_headers(&headers, &[&own_prefix(settings)]).map(|()| headers)
}

fn validate_url(url: &str, settings: &Settings) -> Result<String, DomainError> {
    net_policy::validate_webhook_url(url, settings.allow_private_targets).map(|u| u.to_string())
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
        Ok(Webhook {
            id: crate::ids::new_id(crate::ids::WEBHOOK_PREFIX),
            tenant_id: tenant_id.to_string(),
            name: validate_name(&self.name)?,
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
            auth: self.auth.map(|a| check_auth(a, settings)).transpose()?,
            headers: self.headers.map(|h| check_headers(h, settings)).transpose()?.unwrap_or_default(),
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
        let previous_secret_until = (grace > 0 && matches!(self.secret, Some(Some(_))))
            .then(|| crate::time_fmt::format(crate::time_fmt::now() + time::Duration::minutes(i64::from(grace))));
        Ok(WebhookChanges {
            name: not_null("name", self.name)?.map(|n| validate_name(&n)).transpose()?,
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
            auth: self.auth.map(|a| a.map(|a| check_auth(a, settings)).transpose()).transpose()?,
            headers: self.headers.map(|h| check_headers(h.unwrap_or_default(), settings)).transpose()?,
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
            "alert_emails": ["ops@example.com", " OPS@example.com", "cto@shop.example"]}))
        .expect("valid");
        assert_eq!(wh.alert_emails, ["ops@example.com", "cto@shop.example"]);
        assert_eq!(wh.alert_interval_minutes, DEFAULT_ALERT_INTERVAL_MINUTES);
        assert_eq!(wh.disable_after_failures, DEFAULT_DISABLE_AFTER_FAILURES);
        let base = serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"]});
        for (field, value, code) in [
            ("alert_emails", serde_json::json!(["not-an-address"]), "invalid_alert_emails"),
            ("alert_emails", serde_json::json!(["a@b"]), "invalid_alert_emails"),
            ("alert_emails", serde_json::json!(["a b@example.com"]), "invalid_alert_emails"),
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

    #[test]
    fn view_hides_the_secret() {
        let wh = create(serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"], "secret": "0123456789abcdefXYZW"}))
            .expect("ok");
        let view = serde_json::to_string(&WebhookView::from(&wh)).expect("json");
        assert!(!view.contains("0123456789abcdef"));
        assert!(view.contains("…XYZW"));
    }
}
