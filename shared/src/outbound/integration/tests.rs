//! Each preset's request for one small event, known answers in full.

use serde_json::{Value, json};

use super::*;
use crate::domain::event::EventPayload;
use crate::domain::secret::Secret;
use crate::domain::webhook::{DEFAULT_FORM_KEY, PayloadFormat};
use crate::outbound::render::{EventView, RenderOptions};

fn payload() -> EventPayload {
    EventPayload {
        context: json!({"business_name": "Acme <b>", "user_email": "ayush@example.com", "user_mobile": "+919999999999",
                        "user_customer_id": "shopify-7029"})
        .as_object()
        .cloned()
        .expect("obj"),
        data: json!({"value": "TWOOFF", "fiat_value": 2, "meta": {"lead_name": "Ayush"}, "status": "@everyone issued"})
            .as_object()
            .cloned()
            .expect("obj"),
    }
}

fn options<'a>(prefix: Option<&'a str>, fields: Option<&'a [String]>) -> RenderOptions<'a> {
    RenderOptions { format: PayloadFormat::Flat, event_prefix: prefix, fields, form_key: DEFAULT_FORM_KEY }
}

fn request(integration: Integration, options: &RenderOptions<'_>) -> Result<PresetRequest, String> {
    let p = payload();
    let event = EventView { topic: "coupon_create", occurred_at: "2023-05-18T06:40:33Z", payload: &p };
    build(&integration, &PresetEvent { event: &event, options, delivery_id: "dlv_1" }, None)
}

fn body(r: &PresetRequest) -> Value {
    serde_json::from_slice(&r.body).expect("json body")
}

fn klaviyo() -> Integration {
    Integration::Klaviyo {
        api_key: Secret::new("pk_test".into()),
        email_field: "user_email".into(),
        phone_field: "user_mobile".into(),
        external_id_field: "user_customer_id".into(),
    }
}

#[test]
fn klaviyo_known_answer() {
    // GIVEN a Klaviyo integration on a webhook with the prefix `nector_`
    let r = request(klaviyo(), &options(Some("nector_"), None)).expect("request");
    // THEN it is Create Event: the endpoint, the key, the pinned revision, a JSON:API body
    assert_eq!(r.url, "https://a.klaviyo.com/api/events");
    assert_eq!(r.content_type, "application/vnd.api+json");
    assert_eq!(
        r.headers,
        [
            ("authorization".to_string(), "Klaviyo-API-Key pk_test".to_string()),
            ("revision".to_string(), "2026-10-15".to_string()),
            ("accept".to_string(), "application/vnd.api+json".to_string()),
        ]
    );
    assert!(!r.signed);
    assert_eq!(r.secret_headers, ["authorization"]);
    assert_eq!(
        body(&r),
        json!({"data": {"type": "event", "attributes": {
            "properties": {"business_name": "Acme <b>", "value": "TWOOFF", "fiat_value": 2,
                           "meta": {"lead_name": "Ayush"}, "status": "@everyone issued"},
            "metric": {"data": {"type": "metric", "attributes": {"name": "nector_coupon_create"}}},
            "profile": {"data": {"type": "profile", "attributes": {
                "email": "ayush@example.com", "phone_number": "+919999999999", "external_id": "shopify-7029"}}},
            "time": "2023-05-18T06:40:33Z",
            "unique_id": "dlv_1"}}})
    );
}

#[test]
fn klaviyo_without_a_profile_field_makes_no_request() {
    let i = Integration::Klaviyo {
        api_key: Secret::new("k".into()),
        email_field: "email".into(),
        phone_field: "phone".into(),
        external_id_field: "meta.missing".into(),
    };
    let e = request(i, &options(None, None)).expect_err("no profile");
    assert!(e.contains("Klaviyo needs one of them"), "{e}");
}

#[test]
fn slack_known_answer_escapes_event_text() {
    let r = request(
        Integration::Slack { url: Secret::new("https://hooks.slack.com/services/x".into()) },
        &options(None, None),
    )
    .expect("request");
    assert_eq!(r.url, "https://hooks.slack.com/services/x");
    assert!(r.headers.is_empty());
    assert_eq!(
        body(&r),
        json!({"text": "*coupon_create* at 2023-05-18T06:40:33Z\n• *fiat_value*: 2\n• *status*: @everyone issued\n• *value*: TWOOFF"})
    );
    // With a field selection, those fields are the message's, escaped for Slack.
    let fields = vec!["business_name".to_string(), "meta.lead_name".to_string()];
    let r = request(Integration::Slack { url: Secret::new("https://h/x".into()) }, &options(None, Some(&fields)))
        .expect("request");
    assert_eq!(
        body(&r),
        json!({"text": "*coupon_create* at 2023-05-18T06:40:33Z\n• *business_name*: Acme &lt;b&gt;\n• *meta.lead_name*: Ayush"})
    );
}

#[test]
fn discord_known_answer_pings_no_one() {
    let r = request(
        Integration::Discord { url: Secret::new("https://discord.com/api/webhooks/1/t".into()) },
        &options(Some("n_"), None),
    )
    .expect("request");
    assert_eq!(
        body(&r),
        json!({"content": "**n\\_coupon\\_create** at 2023-05-18T06:40:33Z\n• **fiat\\_value**: 2\n• **status**: \\@everyone issued\n• **value**: TWOOFF",
               "allowed_mentions": {"parse": []}})
    );
}

#[test]
fn segment_known_answer() {
    let r = request(
        Integration::Segment { write_key: Secret::new("wk_1".into()), user_id_field: "user_customer_id".into() },
        &options(Some("nector_"), None),
    )
    .expect("request");
    assert_eq!(r.url, "https://api.segment.io/v1/track");
    // Basic auth: base64("wk_1:")
    assert_eq!(r.headers, [("authorization".to_string(), "Basic d2tfMTo=".to_string())]);
    let b = body(&r);
    assert_eq!(b["event"], "nector_coupon_create");
    assert_eq!(b["userId"], "shopify-7029");
    assert_eq!(b["timestamp"], "2023-05-18T06:40:33Z");
    assert_eq!(b["messageId"], "dlv_1");
    assert_eq!(b["properties"]["value"], "TWOOFF");
    assert!(b.get("anonymousId").is_none());
    // Without a user id in the event, the delivery id stands in as the anonymous id.
    let r = request(
        Integration::Segment { write_key: Secret::new("wk_1".into()), user_id_field: "nobody".into() },
        &options(None, None),
    )
    .expect("request");
    assert_eq!(body(&r)["anonymousId"], "dlv_1");
}

#[test]
fn template_renders_a_signed_custom_body() {
    let i = Integration::Template {
        url: "https://example.com/in".into(),
        template: r#"{"event": {{ event_type }}, "code": {{ data.value }}, "shop": {{ context.business_name }}}"#
            .into(),
    };
    let r = request(i, &options(Some("x_"), None)).expect("request");
    assert!(r.signed, "a template request goes to the tenant's own endpoint, signed");
    assert_eq!(r.url, "https://example.com/in");
    assert_eq!(body(&r), json!({"event": "x_coupon_create", "code": "TWOOFF", "shop": "Acme <b>"}));
    let bad = Integration::Template { url: "https://example.com/in".into(), template: "code={{ data.value }}".into() };
    assert!(request(bad, &options(None, None)).expect_err("not json").contains("not valid JSON"));
}

#[test]
fn the_catalog_describes_every_preset_with_an_example_it_builds() {
    let all = describe::integrations();
    let ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["klaviyo", "slack", "discord", "segment", "template"]);
    for d in &all {
        assert!(!d.example.url.is_empty(), "{}", d.id);
        assert!(d.example.body.is_object(), "{}: {}", d.id, d.example.body);
        assert!(d.settings.iter().any(|s| s.required), "{}", d.id);
    }
    let k = &all[0];
    assert_eq!(k.example.body["data"]["attributes"]["profile"]["data"]["attributes"]["email"], "ayush@example.com");
    assert_eq!(k.example.headers["revision"], klaviyo::REVISION);
    assert!(k.settings.iter().any(|s| s.name == "api_key" && s.secret && s.required));
    assert_eq!(all[4].example.body["coupon"]["code"], "TWOOFFVERYGOOD");
}

#[test]
fn the_readme_template_example_renders_what_it_says() {
    // GIVEN the template of the README's example (kept in step with it by hand)
    let i = Integration::Template {
        url: "https://crm.example.com/in".into(),
        template: r#"{"event": {{ event_type }}, "code": {{ data.value }}, "off": {{ data.fiat_value }}, "note": {{ 'Coupon for ' ~ context.user_name }}, "ref": {{ delivery_id }}}"#.into(),
    };
    let mut p = payload();
    p.context.insert("user_name".into(), json!("Ayush Shukla"));
    let event = EventView { topic: "coupon_create", occurred_at: "2023-05-18T06:40:33Z", payload: &p };
    let opts = options(Some("nector_"), None);
    let r = build(&i, &PresetEvent { event: &event, options: &opts, delivery_id: "dlv_1" }, None).expect("renders");
    // THEN the body is the one the README shows
    assert_eq!(
        body(&r),
        json!({"event": "nector_coupon_create", "code": "TWOOFF", "off": 2, "note": "Coupon for Ayush Shukla", "ref": "dlv_1"})
    );
}
