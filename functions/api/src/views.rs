//! What the API answers for a webhook and a delivery: the stored models as the HTTP API shows
//! them (secrets as hints only).

use std::collections::BTreeMap;

use hookline_shared::domain::delivery::{Attempt, DeliveryLog, DeliveryStatus};
use hookline_shared::domain::endpoint_auth::EndpointAuthView;
use hookline_shared::domain::filter::Filter;
use hookline_shared::domain::secret;
use hookline_shared::domain::webhook::{PayloadFormat, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the API returns for a webhook: everything but the secret, of which only a hint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
    /// `{"type": "<preset id>", ...settings}`, each secret setting as `<name>_hint` only.
    #[schema(value_type = Option<Object>)]
    pub integration: Option<serde_json::Map<String, serde_json::Value>>,
    pub alert_emails: Vec<String>,
    pub alert_interval_minutes: u32,
    pub disable_after_failures: u32,
    /// Requests at most in any one second; unlimited when null.
    #[schema(minimum = 1, maximum = 10000)]
    pub max_per_second: Option<u32>,
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
            integration: w.integration.as_ref().map(|i| i.view()),
            alert_emails: w.alert_emails.clone(),
            alert_interval_minutes: w.alert_interval_minutes,
            disable_after_failures: w.disable_after_failures,
            max_per_second: w.max_per_second,
            consecutive_failures: w.consecutive_failures,
            last_alert_at: w.last_alert_at.clone(),
            created_at: w.created_at.clone(),
            updated_at: w.updated_at.clone(),
        }
    }
}

/// What `GET .../deliveries/{id}` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub tenant_id: String,
    pub event_id: String,
    pub webhook_id: String,
    pub topic: String,
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<String>,
    pub attempts: Vec<Attempt>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&DeliveryLog> for DeliveryView {
    fn from(log: &DeliveryLog) -> Self {
        let d = &log.delivery;
        Self {
            id: d.delivery_id.clone(),
            tenant_id: d.tenant_id.clone(),
            event_id: d.event_id.clone(),
            webhook_id: d.webhook_id.clone(),
            topic: d.topic.clone(),
            status: d.status,
            attempt_count: d.attempt_count,
            last_error: d.last_error.clone(),
            next_attempt_at: d.next_attempt_at.clone(),
            attempts: log.attempts.clone(),
            created_at: d.created_at.clone(),
            updated_at: d.updated_at.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use hookline_shared::domain::settings::Settings;
    use hookline_shared::domain::webhook::CreateWebhook;

    use super::*;

    #[test]
    fn the_webhook_view_hides_the_secret() {
        let request: CreateWebhook =
            serde_json::from_value(serde_json::json!({"name": "n", "url": "https://example.com/",
            "topics": ["a"], "secret": "0123456789abcdefXYZW"}))
            .expect("request");
        let webhook = request.into_webhook("acme", &Settings::default(), "2026-01-01T00:00:00Z").expect("ok");
        let view = serde_json::to_string(&WebhookView::from(&webhook)).expect("json");
        assert!(!view.contains("0123456789abcdef"));
        assert!(view.contains("…XYZW"));
    }
}
