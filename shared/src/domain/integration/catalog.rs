//! The integration presets a deployment offers (`GET /v1/integrations`), as data: each
//! preset's id, name and settings, which of them are required and which secret. The one
//! place a setting's secrecy is written: the API's hints and the store's sealing read it here.

// Page 001's common fields: every event with a customer carries them.
pub const DEFAULT_EMAIL_FIELD: &str = "user_email";
pub const DEFAULT_PHONE_FIELD: &str = "user_mobile";
pub const DEFAULT_EXTERNAL_ID_FIELD: &str = "user_customer_id";

/// One setting of a preset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SettingSpec {
    pub name: &'static str,
    /// What a person reads in the console's form.
    pub label: &'static str,
    pub description: &'static str,
    pub required: bool,
    /// Kept like a secret: sealed at rest, shown only as a hint.
    pub secret: bool,
    pub default: Option<&'static str>,
}

/// One preset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PresetSpec {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub settings: &'static [SettingSpec],
}

const fn required(name: &'static str, label: &'static str, description: &'static str, secret: bool) -> SettingSpec {
    SettingSpec { name, label, description, required: true, secret, default: None }
}

const fn field(
    name: &'static str,
    label: &'static str,
    description: &'static str,
    default: &'static str,
) -> SettingSpec {
    SettingSpec { name, label, description, required: false, secret: false, default: Some(default) }
}

pub const PRESETS: &[PresetSpec] = &[
    PresetSpec {
        id: "klaviyo",
        name: "Klaviyo",
        description: "Klaviyo's Events API: each event becomes a Klaviyo event of the metric named after the topic \
                      (with the webhook's prefix), on the profile the event's e-mail, phone or external id names; \
                      the other fields are its properties.",
        settings: &[
            required("api_key", "API key", "A Klaviyo private API key with the events:write scope", true),
            field("email_field", "E-mail field", "The event field holding the profile's e-mail", DEFAULT_EMAIL_FIELD),
            field(
                "phone_field",
                "Phone field",
                "The event field holding the profile's phone number (E.164)",
                DEFAULT_PHONE_FIELD,
            ),
            field(
                "external_id_field",
                "External id field",
                "The event field holding your id of the profile",
                DEFAULT_EXTERNAL_ID_FIELD,
            ),
        ],
    },
    PresetSpec {
        id: "slack",
        name: "Slack",
        description: "A Slack incoming webhook: a readable message with the topic and the event's key fields \
                      (the webhook's fields, when it selects some).",
        settings: &[required(
            "url",
            "Webhook URL",
            "The incoming webhook URL Slack gives (https://hooks.slack.com/services/...)",
            true,
        )],
    },
    PresetSpec {
        id: "discord",
        name: "Discord",
        description: "A Discord channel webhook: a message with the topic and the event's key fields; mentions \
                      in event data are not resolved.",
        settings: &[required(
            "url",
            "Webhook URL",
            "The webhook URL Discord gives (https://discord.com/api/webhooks/...)",
            true,
        )],
    },
    PresetSpec {
        id: "segment",
        name: "Segment",
        description: "Segment's HTTP Tracking API: a track call named after the topic (with the webhook's prefix), \
                      the event's fields as properties.",
        settings: &[
            required("write_key", "Write key", "The write key of a Segment HTTP API source", true),
            field(
                "user_id_field",
                "User id field",
                "The event field holding the userId (without it, anonymousId is the delivery id)",
                DEFAULT_EXTERNAL_ID_FIELD,
            ),
        ],
    },
    PresetSpec {
        id: "template",
        name: "Custom JSON (template)",
        description: "Any JSON body, written as a template over the event: topic, event_type, occurred_at, \
                      context, data, delivery_id; every {{ expression }} is written as JSON. Signed like any webhook.",
        settings: &[
            required("url", "URL", "Where to send it", false),
            required("template", "Body template", "The body template (minijinja syntax, JSON output)", false),
        ],
    },
];

pub fn preset(id: &str) -> Option<&'static PresetSpec> {
    PRESETS.iter().find(|p| p.id == id)
}

/// The names of a preset's secret settings.
pub fn secret_settings(id: &str) -> Vec<&'static str> {
    preset(id).map(|p| p.settings.iter().filter(|s| s.secret).map(|s| s.name).collect()).unwrap_or_default()
}
