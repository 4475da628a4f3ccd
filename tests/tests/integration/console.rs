//! The tenant console as a person uses it, in real headless Chromium against the real stack:
//! open a console link, create a webhook with a restriction and Basic auth, send a test, see
//! an event delivered with its attempt, see its alert address's opt-in state and resend the
//! confirmation, disable it, retry a failed delivery, delete; and pick an integration (Klaviyo),
//! fill its settings and send a test that shows the exact request. The
//! form's payload preview must be the exact body the test send delivers. The main screens are
//! saved to docs/console/ for the README.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hookline_api::{AwsApp, router};
use hookline_shared::domain::catalog::TopicCatalog;
use hookline_shared::domain::settings::Settings;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Harness;
use crate::receiver::{Answer, Receiver};
use crate::webdriver::Browser;

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/console").join(name)
}

#[tokio::test]
async fn a_tenant_manages_a_webhook_end_to_end_in_the_console() {
    // GIVEN the stack with the seed catalog, a delivery function making one attempt a delivery,
    // a receiver that answers 200 and one that answers 500
    let settings = Settings {
        allow_private_targets: true,
        catalog: Some(Arc::new(TopicCatalog::seed())),
        egress_ips: vec!["203.0.113.7".parse().expect("ip"), "198.51.100.9".parse().expect("ip")],
        ..Settings::default()
    };
    let h = Harness::start_with(settings, HashMap::new(), |sdk, config| router(AwsApp::from_config(sdk, config))).await;
    h.start_delivery(&[("HOOKLINE_MAX_ATTEMPTS", "1"), ("HOOKLINE_RETRY_JITTER", "0")]);
    let ok = Receiver::start(vec![Answer::status(200)]).await;
    let failing = Receiver::start(vec![Answer::status(500)]).await;
    let link = h.post("/v1/tenants/shop/console-sessions", json!(null)).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    let browser = Browser::start().await;

    // WHEN the tenant opens the link THEN the console shows its empty list, the token gone
    browser.open(link.body["url"].as_str().expect("url")).await;
    browser.wait_text("[data-testid=tenant-id]", "shop").await;
    browser.find("[data-testid=new-webhook]").await;
    assert!(!browser.url().await.contains("token"), "{}", browser.url().await);
    // AND the addresses its receivers must allow through their firewalls
    browser.wait_text("[data-testid=egress-ips]", "203.0.113.7, 198.51.100.9").await;

    // WHEN they create a webhook with a restriction (amount ≥ 10) and Basic auth
    browser.click("[data-testid=new-webhook]").await;
    browser.fill("[data-testid=wh-name]", "Orders").await;
    browser.fill("[data-testid=wh-url]", &ok.url).await;
    browser.click("[data-testid=topic-option][value=order_create]").await;
    browser.click("[data-testid=add-filter]").await;
    browser.fill("[data-testid=filter-field]", "amount").await;
    browser.select("[data-testid=filter-op]", "gte").await;
    browser.fill("[data-testid=filter-value]", "10").await;
    browser.select("[data-testid=wh-auth-type]", "basic").await;
    browser.fill("[data-testid=wh-auth-username]", "shop").await;
    browser.fill("[data-testid=wh-auth-password]", "s3cret-pass").await;
    let ops = format!("ops-{}@example.com", h.config.table_name.to_lowercase());
    browser.fill("[data-testid=wh-alert-emails]", &ops).await;
    let preview = browser.property("[data-testid=payload-preview]", "textContent").await;
    let preview = preview.as_str().unwrap_or_default().to_string();
    browser.screenshot(&screenshot_path("edit.png")).await;
    browser.click("[data-testid=save]").await;
    // THEN its secret is shown once
    let secret = browser.property("[data-testid=secret-once]", "value").await;
    let secret = secret.as_str().unwrap_or_default().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    browser.click("[data-testid=secret-done]").await;
    let listed = h.get("/v1/tenants/shop/webhooks").await;
    let webhook = listed.body["data"][0].clone();
    let id = webhook["id"].as_str().expect("webhook created").to_string();
    assert_eq!(webhook["filters"], json!([{"field": "amount", "op": "gte", "value": 10}]));
    assert_eq!(webhook["auth"]["type"], "basic");
    assert!(secret.ends_with(webhook["secret_hint"].as_str().expect("hint").trim_start_matches('…')));
    let row = format!("[data-webhook-id='{id}']");
    browser.wait_text(&format!("{row} [data-testid=webhook-name]"), "Orders").await;
    // AND its alert address shows `pending` (it got a confirmation e-mail), with a resend
    let recipient = format!("{row} [data-testid=recipient-row][data-email='{ops}']");
    browser.wait_text(&format!("{recipient} [data-testid=recipient-state]"), "pending").await;
    browser.click(&format!("{recipient} [data-testid=resend-confirmation]")).await;
    browser.wait_text("[data-testid=notice]", "A new confirmation e-mail went to").await;
    assert_eq!(h.mails_to(&ops).await.len(), 2, "the confirmation, and the one sent again");
    // WHEN its owner confirms THEN the console shows it `confirmed`, with no resend
    h.confirm_recipient(&ops).await;
    browser.open(&format!("{}/console/", h.base)).await;
    browser.wait_text(&format!("{recipient} [data-testid=recipient-state]"), "confirmed").await;
    browser.wait_gone(&format!("{recipient} [data-testid=resend-confirmation]")).await;

    // WHEN they send a test THEN the receiver answered 200, with Basic auth
    browser.click(&format!("{row} [data-testid=send-test]")).await;
    browser.click("[data-testid=send-test-submit]").await;
    browser.wait_text("[data-testid=test-result]", "200").await;
    assert_eq!(browser.property("[data-testid=test-result]", "dataset").await["statusCode"], "200");
    browser.screenshot(&screenshot_path("test-send.png")).await;
    let basic = base64::engine::general_purpose::STANDARD.encode("shop:s3cret-pass");
    assert_eq!(ok.received()[0].header("authorization"), format!("Basic {basic}"));
    // AND the preview in the form was the exact body the receiver got (app.js mirrors render.rs)
    assert_eq!(preview, String::from_utf8_lossy(&ok.received()[0].body), "the payload preview");
    browser.click("[data-testid=test-dialog] [data-close]").await;
    browser.wait_gone("[data-testid=test-dialog]").await;

    // WHEN an event that passes the restriction comes in through the API
    let sent = h.post("/v1/tenants/shop/events", json!({"topic": "order_create", "data": {"amount": 25}})).await;
    let delivery = sent.body["deliveries"][0]["id"].as_str().expect("a delivery").to_string();
    h.delivery_with_status("shop", &delivery, "delivered", Duration::from_secs(30)).await;
    // THEN its log shows it delivered, with its attempt
    browser.click(&format!("{row} [data-testid=open-deliveries]")).await;
    let delivered = format!("[data-delivery-id='{delivery}']");
    browser.wait_text(&format!("{delivered} [data-testid=delivery-status]"), "delivered").await;
    browser.click(&format!("{delivered} [data-testid=expand-delivery]")).await;
    browser.wait_text(&format!("{delivered} [data-testid=attempt-row]"), "200").await;
    browser.screenshot(&screenshot_path("deliveries.png")).await;
    browser.click("[data-testid=back-to-list]").await;

    // WHEN they switch it off THEN it is disabled
    browser.click(&format!("{row} [data-testid=toggle-enabled]")).await;
    h.eventually("the toggle to disable the webhook", Duration::from_secs(10), || async {
        (h.get(&format!("/v1/tenants/shop/webhooks/{id}")).await.body["enabled"] == false).then_some(())
    })
    .await;

    // GIVEN a webhook whose endpoint fails, and a delivery to it that failed
    let broken = h.create_webhook_to("shop", &failing.url, &["order_update"], None).await;
    let broken_id = broken["id"].as_str().expect("id").to_string();
    let sent = h.post("/v1/tenants/shop/events", json!({"topic": "order_update", "data": {"n": 1}})).await;
    let failed = sent.body["deliveries"][0]["id"].as_str().expect("a delivery").to_string();
    h.delivery_with_status("shop", &failed, "failed", Duration::from_secs(30)).await;
    // WHEN they retry it from its log THEN it is sent again
    browser.open(&format!("{}/console/#/webhooks/{broken_id}/deliveries", h.base)).await;
    let failed_row = format!("[data-delivery-id='{failed}']");
    browser.wait_text(&format!("{failed_row} [data-testid=delivery-status]"), "failed").await;
    browser.click(&format!("{failed_row} [data-testid=retry]")).await;
    browser.wait_text("[data-testid=notice]", "sent again").await;
    h.eventually("the retried delivery to reach the receiver", Duration::from_secs(30), || async {
        (failing.received().len() >= 2).then_some(())
    })
    .await;
    browser.click("[data-testid=back-to-list]").await;
    browser.find(&format!("[data-webhook-id='{broken_id}']")).await;
    browser.screenshot(&screenshot_path("webhooks.png")).await;

    // WHEN they delete the first webhook, confirming THEN it is gone
    browser.click(&format!("{row} [data-testid=delete]")).await;
    browser.click("[data-testid=confirm-delete]").await;
    browser.wait_gone(&row).await;
    assert_eq!(h.get(&format!("/v1/tenants/shop/webhooks/{id}")).await.status, StatusCode::NOT_FOUND);
    browser.quit().await;
}

#[tokio::test]
async fn a_tenant_sends_events_to_klaviyo_from_the_console() {
    // GIVEN the stack with a stand-in for Klaviyo's fixed endpoint
    let klaviyo = Receiver::start(vec![Answer::status(202)]).await;
    let settings = Settings {
        allow_private_targets: true,
        catalog: Some(Arc::new(TopicCatalog::seed())),
        integration_endpoint_override: Some(klaviyo.base()),
        ..Settings::default()
    };
    let h = Harness::start_with(settings, HashMap::new(), |sdk, config| router(AwsApp::from_config(sdk, config))).await;
    let link = h.post("/v1/tenants/shop/console-sessions", json!(null)).await;
    let browser = Browser::start().await;
    browser.open(link.body["url"].as_str().expect("url")).await;
    browser.wait_text("[data-testid=tenant-id]", "shop").await;

    // WHEN they pick Klaviyo as where a new webhook sends, and fill its settings
    browser.click("[data-testid=new-webhook]").await;
    browser.fill("[data-testid=wh-name]", "Klaviyo").await;
    browser.select("[data-testid=wh-destination]", "klaviyo").await;
    browser.wait_text("[data-testid=integration-description]", "Events API").await;
    browser.fill("[data-testid=integration-api_key]", "pk_console_key_0123456789").await;
    browser.click("[data-testid=topic-option][value=coupon_create]").await;
    browser.fill("[data-testid=wh-event-prefix]", "nector_").await;
    // THEN the preview shows the preset's request
    browser.wait_text("[data-testid=payload-preview]", "https://a.klaviyo.com/api/events").await;
    // (back to the settings, for the README's picture)
    browser.click("[data-testid=wh-name]").await;
    browser.screenshot(&screenshot_path("integration.png")).await;
    browser.click("[data-testid=save]").await;
    browser.click("[data-testid=secret-done]").await;
    let listed = h.get("/v1/tenants/shop/webhooks").await;
    let webhook = listed.body["data"][0].clone();
    assert_eq!(webhook["integration"]["type"], "klaviyo", "{webhook}");
    assert_eq!(webhook["integration"]["api_key_hint"], "…6789");
    assert_eq!(webhook["event_prefix"], "nector_");
    let id = webhook["id"].as_str().expect("id").to_string();
    let row = format!("[data-webhook-id='{id}']");

    // WHEN they send a test THEN Klaviyo got the Events API request, shown with the key as a hint
    browser.click(&format!("{row} [data-testid=send-test]")).await;
    browser.click("[data-testid=send-test-submit]").await;
    browser.wait_text("[data-testid=test-result]", "202").await;
    let shown = browser.wait_text("[data-testid=test-request]", "revision: 2026-10-15").await;
    assert!(shown.contains("authorization: …6789"), "{shown}");
    assert!(!shown.contains("pk_console_key"), "{shown}");
    let got = klaviyo.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].uri.path(), "/api/events");
    assert_eq!(got[0].header("authorization"), "Klaviyo-API-Key pk_console_key_0123456789");
    assert!(shown.contains(&String::from_utf8_lossy(&got[0].body).to_string()), "the exact body: {shown}");
    browser.click("[data-testid=test-dialog] [data-close]").await;
    browser.wait_gone("[data-testid=test-dialog]").await;

    // WHEN they edit it and change only the e-mail field THEN the key must be typed again
    browser.click(&format!("{row} [data-testid=edit]")).await;
    browser.fill("[data-testid=integration-email_field]", "email").await;
    browser.click("[data-testid=save]").await;
    browser.wait_text("[data-testid=form-error]", "api_key").await;
    browser.fill("[data-testid=integration-api_key]", "pk_console_key_new_9876").await;
    browser.click("[data-testid=save]").await;
    browser.wait_gone("[data-testid=webhook-dialog]").await;
    let after = h.get(&format!("/v1/tenants/shop/webhooks/{id}")).await.body;
    assert_eq!(after["integration"]["email_field"], "email");
    assert_eq!(after["integration"]["api_key_hint"], "…9876");
    browser.quit().await;
}
