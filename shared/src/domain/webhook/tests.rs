//! The webhook rules that show through the commands: addresses SES cannot send to, and the
//! auth and custom headers judged together across a create or a change.

use super::commands::{CreateWebhook, UpdateWebhook};
use super::model::Webhook;
use crate::domain::error::DomainError;
use crate::domain::settings::Settings;

fn create(json: serde_json::Value) -> Result<Webhook, DomainError> {
    let req: CreateWebhook = serde_json::from_value(json).map_err(|e| DomainError::invalid("invalid_request", e))?;
    req.into_webhook("acme", &Settings::default(), "2026-01-01T00:00:00Z")
}

#[test]
fn ascii_addresses_and_punycode_domains_are_kept() {
    let wh = create(serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"],
        "alert_emails": ["ops+alerts@xn--exmple-cua.com", format!("{}@sub-1.example.com", "a".repeat(64))]}))
    .expect("valid");
    assert_eq!(wh.alert_emails.len(), 2);
    let err = create(serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"],
        "alert_emails": ["jörg@example.com"]}))
    .expect_err("non-ASCII");
    assert!(err.to_string().contains("Amazon SES"), "{err}");
}

#[test]
fn auth_and_custom_headers_are_judged_together() {
    let s = Settings::default();
    // GIVEN a create whose custom header is its auth's header
    let clash = create(serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"],
        "auth": {"type": "basic", "username": "u", "password": "p"}, "headers": {"Authorization": "x"}}));
    assert_eq!(clash.expect_err("clash").code(), "invalid_headers");
    let clash = create(serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"],
        "auth": {"type": "api_key", "header": "X-Key", "value": "v"}, "headers": {"x-key": "x"}}));
    assert_eq!(clash.expect_err("clash").code(), "invalid_headers");
    // GIVEN a stored webhook with a custom header
    let wh = create(serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"],
        "headers": {"X-Key": "x"}}))
    .expect("valid");
    // WHEN a change sets an auth of that header alone
    let req: UpdateWebhook =
        serde_json::from_value(serde_json::json!({"auth": {"type": "api_key", "header": "x-KEY", "value": "v"}}))
            .expect("json");
    let changes = req.into_changes(&s).expect("valid on its own");
    // THEN it is judged with the stored headers, and refused
    assert!(changes.needs_current());
    assert_eq!(changes.apply_checked(&wh, &s).expect_err("clash").code(), "invalid_headers");
    // AND with both in one change, the change itself is refused
    let req: UpdateWebhook = serde_json::from_value(serde_json::json!({
        "auth": {"type": "api_key", "header": "x-a", "value": "v"}, "headers": {"X-A": "x"}}))
    .expect("json");
    assert_eq!(req.into_changes(&s).expect_err("clash").code(), "invalid_headers");
    // AND removing the header while setting the auth is fine
    let req: UpdateWebhook = serde_json::from_value(serde_json::json!({
        "auth": {"type": "api_key", "header": "X-Key", "value": "v"}, "headers": null}))
    .expect("json");
    let changes = req.into_changes(&s).expect("valid");
    // (read with the stored webhook still: a tool's integration takes no auth)
    assert!(changes.needs_current());
    assert!(changes.apply_checked(&wh, &s).is_ok());
}
