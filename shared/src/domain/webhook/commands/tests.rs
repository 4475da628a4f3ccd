//! The commands' unit tests.
use super::*;

fn create(json: serde_json::Value) -> Result<Webhook, DomainError> {
    let req: CreateWebhook = serde_json::from_value(json).map_err(|e| DomainError::invalid("invalid_request", e))?;
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
        ("max_per_second", serde_json::json!(0), "invalid_max_per_second"),
        ("max_per_second", serde_json::json!(10_001), "invalid_max_per_second"),
    ] {
        let mut body = base.clone();
        body[field] = value;
        assert_eq!(create(body).expect_err(field).code(), code, "{field}");
    }
    let never = create(
        serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"], "disable_after_failures": 0}),
    )
    .expect("0 = never");
    assert_eq!(never.disable_after_failures, 0);
}

#[test]
fn disabled_webhooks_want_nothing() {
    let mut wh = create(serde_json::json!({"name": "n", "url": "https://example.com/", "topics": ["a"]})).expect("ok");
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
