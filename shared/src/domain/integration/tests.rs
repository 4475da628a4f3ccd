//! Integration settings: read, checked per preset, shown without their secrets.

use serde_json::json;

use super::*;

fn parse(v: Value) -> Result<Integration, DomainError> {
    Integration::parse(v, false)
}

#[test]
fn each_preset_reads_with_its_defaults() {
    let k = parse(json!({"type": "klaviyo", "api_key": "pk_live_0123456789"})).expect("klaviyo");
    assert_eq!(
        k,
        Integration::Klaviyo {
            api_key: Secret::new("pk_live_0123456789".into()),
            email_field: "user_email".into(),
            phone_field: "user_mobile".into(),
            external_id_field: "user_customer_id".into(),
        }
    );
    assert_eq!(k.display_url(), KLAVIYO_EVENTS_URL);
    let s = parse(json!({"type": "slack", "url": "https://hooks.slack.com/services/T1/B2/abcdefgh"})).expect("slack");
    assert_eq!(s.display_url(), "https://hooks.slack.com/");
    assert!(parse(json!({"type": "discord", "url": "https://discord.com/api/webhooks/1/tok"})).is_ok());
    let seg = parse(json!({"type": "segment", "write_key": "wk_123", "user_id_field": "lead_id"})).expect("segment");
    assert_eq!(seg.display_url(), SEGMENT_TRACK_URL);
    let t = parse(json!({"type": "template", "url": "https://example.com/in", "template": "{\"a\": {{ topic }}}"}))
        .expect("template");
    assert_eq!(t.display_url(), "https://example.com/in");
}

#[test]
fn bad_settings_are_refused_per_preset_with_stable_codes() {
    for (value, code) in [
        (json!({"api_key": "k"}), "invalid_integration"),
        (json!({"type": "zapier", "url": "https://example.com"}), "invalid_integration"),
        (json!({"type": 7}), "invalid_integration"),
        (json!({"type": "klaviyo"}), "invalid_integration"),
        (json!({"type": "klaviyo", "api_key": "k", "colour": "red"}), "invalid_integration"),
        (json!({"type": "klaviyo", "api_key": "line\nbreak"}), "invalid_integration"),
        (json!({"type": "klaviyo", "api_key": ""}), "invalid_integration"),
        (json!({"type": "klaviyo", "api_key": "k", "email_field": "a..b"}), "invalid_integration"),
        (json!({"type": "klaviyo", "api_key": 5}), "invalid_integration"),
        (json!({"type": "slack"}), "invalid_integration"),
        (json!({"type": "slack", "url": "not a url"}), "invalid_url"),
        (json!({"type": "slack", "url": "http://169.254.169.254/latest"}), "forbidden_url"),
        (json!({"type": "discord", "url": "https://localhost/x"}), "forbidden_url"),
        (json!({"type": "segment", "write_key": "wk", "user_id_field": ""}), "invalid_integration"),
        (json!({"type": "template", "url": "https://example.com"}), "invalid_integration"),
        (json!({"type": "template", "url": "ftp://example.com", "template": "{}"}), "invalid_url"),
        (json!({"type": "template", "url": "https://example.com", "template": "{{ oops"}), "invalid_template"),
    ] {
        // WHEN an integration with a bad or missing setting is read
        let e = parse(value.clone()).expect_err(&value.to_string());
        // THEN it is refused with the code clients branch on
        assert_eq!(e.code(), code, "{value}: {e}");
    }
    // AND a private target is allowed where the deployment allows them (local runs)
    assert!(Integration::parse(json!({"type": "slack", "url": "http://127.0.0.1:9/x"}), true).is_ok());
}

#[test]
fn the_view_shows_secret_settings_as_hints_only() {
    let k = parse(json!({"type": "klaviyo", "api_key": "pk_live_0123456789abcd", "email_field": "email"}))
        .expect("klaviyo");
    let view = Value::Object(k.view());
    assert_eq!(
        view,
        json!({"type": "klaviyo", "api_key_hint": "…abcd", "email_field": "email",
               "phone_field": "user_mobile", "external_id_field": "user_customer_id"})
    );
    let s = parse(json!({"type": "slack", "url": "https://hooks.slack.com/services/T1/B2/secretpart"})).expect("slack");
    let view = Value::Object(s.view()).to_string();
    assert!(!view.contains("secretpart") && !view.contains("T1/B2"), "{view}");
    let t = parse(json!({"type": "template", "url": "https://example.com/in", "template": "[]"})).expect("t");
    assert_eq!(Value::Object(t.view()), json!({"type": "template", "url": "https://example.com/in", "template": "[]"}));
}

#[test]
fn a_fixed_endpoint_goes_to_the_override_with_its_path() {
    let k = parse(json!({"type": "klaviyo", "api_key": "k"})).expect("klaviyo");
    assert_eq!(k.target_url(None), "https://a.klaviyo.com/api/events");
    assert_eq!(k.target_url(Some("http://127.0.0.1:9000/")), "http://127.0.0.1:9000/api/events");
    let seg = parse(json!({"type": "segment", "write_key": "k"})).expect("segment");
    assert_eq!(seg.target_url(Some("http://127.0.0.1:9000")), "http://127.0.0.1:9000/v1/track");
    // A URL the tenant gives is never overridden.
    let s = parse(json!({"type": "slack", "url": "https://hooks.slack.com/services/x"})).expect("slack");
    assert_eq!(s.target_url(Some("http://127.0.0.1:9000")), "https://hooks.slack.com/services/x");
}

#[test]
fn every_secret_setting_of_the_catalog_is_a_setting_of_its_preset() {
    for preset in catalog::PRESETS {
        for secret in catalog::secret_settings(preset.id) {
            assert!(preset.settings.iter().any(|s| s.name == secret && s.required), "{}: {secret}", preset.id);
        }
    }
    assert_eq!(catalog::secret_settings("klaviyo"), ["api_key"]);
    assert_eq!(catalog::secret_settings("slack"), ["url"]);
    assert_eq!(catalog::secret_settings("segment"), ["write_key"]);
    assert!(catalog::secret_settings("template").is_empty());
}
