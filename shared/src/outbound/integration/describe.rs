//! `GET /v1/integrations`: each preset of the catalog with its settings and an example
//! request, built by the preset itself from page 000's coupon event, so the example is
//! always what Hookline sends.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::build;
use super::event::PresetEvent;
use crate::domain::catalog::TopicCatalog;
use crate::domain::event::EventPayload;
use crate::domain::integration::Integration;
use crate::domain::integration::catalog::{self, PRESETS, PresetSpec};
use crate::domain::secret::Secret;
use crate::domain::webhook::{DEFAULT_FORM_KEY, PayloadFormat};
use crate::outbound::render::{EventView, RenderOptions};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingDescription {
    pub name: String,
    /// What the console's form calls it.
    pub label: String,
    pub description: String,
    pub required: bool,
    /// Kept like a secret: write-only, shown back as `<name>_hint`.
    pub secret: bool,
    pub default: Option<String>,
}

/// The request a preset sends, as an example (credentials are placeholders).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExampleRequest {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub body: Value,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegrationDescription {
    pub id: String,
    pub name: String,
    pub description: String,
    pub settings: Vec<SettingDescription>,
    pub example: ExampleRequest,
}

/// A template that shows the variables a template reads.
pub const EXAMPLE_TEMPLATE: &str = r#"{"event": {{ event_type }}, "at": {{ occurred_at }}, "id": {{ delivery_id }}, "coupon": {"code": {{ data.value }}, "discount": {{ data.fiat_value }}}, "customer": {{ context.user_email }}}"#;

/// The preset with placeholder settings, for the example.
fn example_integration(id: &str) -> Option<Integration> {
    let secret = |s: &str| Secret::new(s.to_string());
    let defaults = |v: &str| v.to_string();
    Some(match id {
        "klaviyo" => Integration::Klaviyo {
            api_key: secret("pk_YOUR_PRIVATE_KEY"),
            email_field: defaults(catalog::DEFAULT_EMAIL_FIELD),
            phone_field: defaults(catalog::DEFAULT_PHONE_FIELD),
            external_id_field: defaults(catalog::DEFAULT_EXTERNAL_ID_FIELD),
        },
        "slack" => Integration::Slack { url: secret("https://hooks.slack.com/services/T000/B000/XXXX") },
        "discord" => Integration::Discord { url: secret("https://discord.com/api/webhooks/000/XXXX") },
        "segment" => Integration::Segment {
            write_key: secret("YOUR_WRITE_KEY"),
            user_id_field: defaults(catalog::DEFAULT_EXTERNAL_ID_FIELD),
        },
        "template" => {
            Integration::Template { url: "https://example.com/hooks".into(), template: EXAMPLE_TEMPLATE.into() }
        }
        _ => return None,
    })
}

fn describe(spec: &PresetSpec, payload: &EventPayload) -> IntegrationDescription {
    let options =
        RenderOptions { format: PayloadFormat::Flat, event_prefix: None, fields: None, form_key: DEFAULT_FORM_KEY };
    let event = EventView { topic: "coupon_create", occurred_at: "2023-05-18T06:40:33Z", payload };
    let preset_event = PresetEvent { event: &event, options: &options, delivery_id: "dlv_01EXAMPLE" };
    let example = example_integration(spec.id).and_then(|i| build(&i, &preset_event, None).ok());
    let example = match example {
        Some(r) => {
            let mut headers: BTreeMap<String, String> = r.headers.into_iter().collect();
            headers.insert("content-type".into(), r.content_type.into());
            ExampleRequest {
                method: "POST".into(),
                url: r.url,
                headers,
                body: serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            }
        }
        None => {
            ExampleRequest { method: "POST".into(), url: String::new(), headers: BTreeMap::new(), body: Value::Null }
        }
    };
    IntegrationDescription {
        id: spec.id.into(),
        name: spec.name.into(),
        description: spec.description.into(),
        settings: spec
            .settings
            .iter()
            .map(|s| SettingDescription {
                name: s.name.into(),
                label: s.label.into(),
                description: s.description.into(),
                required: s.required,
                secret: s.secret,
                default: s.default.map(str::to_string),
            })
            .collect(),
        example,
    }
}

/// Every preset, described.
pub fn integrations() -> Vec<IntegrationDescription> {
    let sample = TopicCatalog::seed().get("coupon_create").map(|t| t.sample.clone());
    let sample = sample.unwrap_or_else(|| EventPayload { context: Default::default(), data: Default::default() });
    PRESETS.iter().map(|spec| describe(spec, &sample)).collect()
}
