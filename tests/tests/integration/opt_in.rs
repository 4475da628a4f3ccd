//! Alert recipients opt in (issue 17), end to end on moto: confirmation e-mails read back from
//! moto's SES, links opened over HTTP with no key, a webhook failing into the DLQ, SES's
//! bounce and complaint notifications delivered to the alert function as SNS events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sns::{SnsEvent, SnsRecord};
use aws_sdk_sqs::types::QueueAttributeName;
use hookline_alert::AlertFunction;
use hookline_shared::config::AlertConfig;
use hookline_shared::domain::quota::QuotaKind;
use hookline_shared::domain::recipient::OptInSettings;
use hookline_shared::domain::recipient::feedback::{TENANT_TAG, tenant_tag};
use hookline_shared::domain::settings::Settings;
use hookline_shared::ports::store::QuotaStore;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{ALERT_SENDER, CONFIRMATION_SUBJECT, Harness};
use crate::receiver::{Answer, Receiver};

/// A stack whose deliveries fail into the DLQ after 2 attempts 1 s apart, with the alert
/// function running ("minutes" of 3 s).
async fn failing_stack(settings: Settings) -> Harness {
    let overrides = HashMap::from([("MaxReceiveCount".to_string(), "2".to_string())]);
    let h = Harness::start_with(Settings { allow_private_targets: true, ..settings }, overrides, |sdk, config| {
        hookline_api::router(hookline_api::AwsApp::from_config(sdk, config))
    })
    .await;
    h.start_delivery(&[
        ("HOOKLINE_MAX_ATTEMPTS", "2"),
        ("HOOKLINE_RETRY_SCHEDULE", "1s"),
        ("HOOKLINE_RETRY_JITTER", "0"),
    ]);
    h.start_alerts(&[("HOOKLINE_ALERT_MINUTE_MS", "3000")]).await;
    h
}

/// An address of this test's own (moto's SES is shared by every test of the binary).
fn address(h: &Harness, name: &str) -> String {
    format!("{name}-{}@example.com", h.config.table_name.to_lowercase())
}

async fn recipient(h: &Harness, tenant: &str, email: &str) -> Value {
    let list = h.get(&format!("/v1/tenants/{tenant}/alert-recipients")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    list.body["data"].as_array().into_iter().flatten().find(|r| r["email"] == email).cloned().unwrap_or(Value::Null)
}

async fn confirmation_links(h: &Harness, email: &str) -> Vec<String> {
    let prefix = format!("{}/alerts/confirm?token=", h.base);
    h.mails_to(email).await.iter().filter_map(|m| m.link(&prefix)).collect()
}

/// One event that fails for good; waits until the alert function has counted it and is
/// done with it (the DLQ empty again), so whatever it would send has been sent.
async fn fail_one(h: &Harness, webhook_id: &str, failures: u64) {
    let sent = h.post("/v1/tenants/shop/events", json!({"topic": "order_create", "data": {"n": failures}})).await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    h.eventually(&format!("failure {failures} counted and its dead letter done"), Duration::from_secs(30), || async {
        let w = h.get(&format!("/v1/tenants/shop/webhooks/{webhook_id}")).await.body;
        let counted = w["consecutive_failures"].as_u64() >= Some(failures);
        let visible =
            h.queue_attribute("DeliveryDeadLetterQueue", QueueAttributeName::ApproximateNumberOfMessages).await;
        let held = h
            .queue_attribute("DeliveryDeadLetterQueue", QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .await;
        (counted && visible == "0" && held == "0").then_some(())
    })
    .await;
}

#[tokio::test]
async fn only_an_address_that_opted_in_gets_alerts_and_one_click_unsubscribe_stops_them() {
    // GIVEN a failing webhook whose name and URL carry a tenant's message, naming a new address
    let h = failing_stack(Settings::default()).await;
    let ops = address(&h, "ops");
    let receiver = Receiver::start(vec![Answer::status(500)]).await;
    let url = format!("{}?msg=Call+555+to+claim", receiver.url);
    let body = json!({"name": "PAY NOW at evil.example", "url": url, "topics": ["order_create"],
                      "alert_emails": [ops], "disable_after_failures": 0});
    let created = h.post("/v1/tenants/shop/webhooks", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();

    // THEN the address gets one confirmation e-mail: the product's name, fixed text, a link
    let mails = h
        .eventually("the confirmation e-mail", Duration::from_secs(10), || async {
            let m = h.mails_to(&ops).await;
            (!m.is_empty()).then_some(m)
        })
        .await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, format!("Hookline: {CONFIRMATION_SUBJECT} to this address"));
    for tenant_text in ["PAY NOW", "evil.example", "555", "shop", receiver.url.as_str()] {
        assert!(!mails[0].text.contains(tenant_text) && !mails[0].html.contains(tenant_text), "{tenant_text}");
    }
    assert!(mails[0].text.contains("within 7 days"), "{}", mails[0].text);
    // AND the API shows it pending
    let r = recipient(&h, "shop", &ops).await;
    assert_eq!(r["state"], "pending", "{r}");
    assert!(r["confirmation_sent_at"].is_string() && r.get("confirm_token_hash").is_none(), "{r}");

    // WHEN a delivery fails into the DLQ THEN no alert goes to the pending address
    fail_one(&h, &id, 1).await;
    assert_eq!(h.emails_to(&ops).await.len(), 0, "no alert before the address opted in");

    // WHEN its owner opens the confirm link THEN a page with a button, and nothing changed yet
    let link = confirmation_links(&h, &ops).await.pop().expect("a confirm link");
    let page = h.http.get(&link).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.expect("html");
    assert!(html.contains("<form method=\"post\"") && html.contains("Confirm"), "{html}");
    assert_eq!(recipient(&h, "shop", &ops).await["state"], "pending", "a GET confirms nothing");
    // AND pressing it confirms, once
    assert_eq!(h.http.post(&link).send().await.expect("confirm").status(), StatusCode::OK);
    assert_eq!(recipient(&h, "shop", &ops).await["state"], "confirmed");
    assert_eq!(h.http.post(&link).send().await.expect("again").status(), StatusCode::NOT_FOUND, "single use");

    // WHEN the next delivery fails THEN the alert goes out, telling both failures
    fail_one(&h, &id, 2).await;
    let alerts =
        h.mails_to(&ops).await.into_iter().filter(|m| !m.subject.contains(CONFIRMATION_SUBJECT)).collect::<Vec<_>>();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert!(alert.text.contains("Failed deliveries since the last alert: 2"), "{}", alert.text);
    // AND the tenant's URL is shown without its query
    assert!(!alert.text.contains("msg=") && alert.text.contains(&format!("URL: {}\n", receiver.url)), "{}", alert.text);
    // AND it carries RFC 8058 one-click unsubscribe, and the same link in its body
    let list_unsubscribe = alert.header("List-Unsubscribe").expect("List-Unsubscribe");
    let unsubscribe = list_unsubscribe.trim_start_matches('<').trim_end_matches('>').to_string();
    assert!(unsubscribe.starts_with(&format!("{}/alerts/unsubscribe?token=hru_", h.base)), "{unsubscribe}");
    assert_eq!(alert.header("List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    assert!(alert.text.contains(&unsubscribe) && alert.html.contains(&unsubscribe));

    // WHEN the mail client sends the one-click POST (no key, only the token)
    let one_click = h
        .http
        .post(&unsubscribe)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("one-click");
    assert_eq!(one_click.status(), StatusCode::OK);
    // THEN the address is unsubscribed, and the next failure e-mails nobody
    assert_eq!(recipient(&h, "shop", &ops).await["state"], "unsubscribed");
    fail_one(&h, &id, 3).await;
    assert_eq!(h.emails_to(&ops).await.len(), 1, "no alert after unsubscribing");
    // AND naming it again on a webhook sends it nothing (it stays unsubscribed)
    let again = h.call("PATCH", &format!("/v1/tenants/shop/webhooks/{id}"), Some(json!({"alert_emails": [ops]}))).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(h.mails_to(&ops).await.len(), 2, "one confirmation, one alert, nothing more");
    let resend = h.post(&format!("/v1/tenants/shop/alert-recipients/{ops}/resend"), json!(null)).await;
    assert_eq!((resend.status, resend.code()), (StatusCode::CONFLICT, "recipient_not_pending"));
}

#[tokio::test]
async fn links_need_their_own_valid_token_and_bad_ones_change_nothing() {
    // GIVEN a pending address with its confirmation link
    let h = Harness::start_local().await;
    let ops = address(&h, "links");
    let body = json!({"name": "n", "url": "http://127.0.0.1:9/", "topics": ["t"], "alert_emails": [ops]});
    assert_eq!(h.post("/v1/tenants/shop/webhooks", body).await.status, StatusCode::CREATED);
    let link = h
        .eventually("the confirmation", Duration::from_secs(10), || async { confirmation_links(&h, &ops).await.pop() })
        .await;
    let token = link.split("token=").nth(1).expect("token").to_string();

    // WHEN links come with no token, a made-up one, or a confirm token on the unsubscribe page
    let base = &h.base;
    for (method, url, status) in [
        ("GET", format!("{base}/alerts/confirm"), StatusCode::BAD_REQUEST),
        ("POST", format!("{base}/alerts/unsubscribe"), StatusCode::BAD_REQUEST),
        ("POST", format!("{base}/alerts/confirm?token=hrc_made-up"), StatusCode::NOT_FOUND),
        ("GET", format!("{base}/alerts/unsubscribe?token={token}"), StatusCode::NOT_FOUND),
        ("POST", format!("{base}/alerts/unsubscribe?token={token}"), StatusCode::NOT_FOUND),
        ("POST", format!("{base}/alerts/confirm?token={}", "x".repeat(5000)), StatusCode::NOT_FOUND),
    ] {
        let answer = h.http.request(method.parse().expect("method"), &url).send().await.expect("answer");
        // THEN each is refused with a page saying so
        assert_eq!(answer.status(), status, "{method} {url}");
        assert!(answer.text().await.expect("page").contains("<h1>"), "{method} {url}");
    }
    // AND the address is still pending
    assert_eq!(recipient(&h, "shop", &ops).await["state"], "pending");

    // WHEN the tenant asks for a new confirmation THEN the old link stops working, the new works
    let resent = h.post(&format!("/v1/tenants/shop/alert-recipients/{ops}/resend"), json!(null)).await;
    assert_eq!(resent.status, StatusCode::ACCEPTED, "{}", resent.body);
    assert_eq!(resent.body["state"], "pending");
    let links = h
        .eventually("the second confirmation", Duration::from_secs(10), || async {
            let l = confirmation_links(&h, &ops).await;
            (l.len() >= 2).then_some(l)
        })
        .await;
    assert_eq!(h.http.get(&links[0]).send().await.expect("old page").status(), StatusCode::NOT_FOUND, "replaced");
    assert_eq!(h.http.post(&links[0]).send().await.expect("old").status(), StatusCode::NOT_FOUND, "replaced");
    assert_eq!(h.http.post(&links[1]).send().await.expect("new").status(), StatusCode::OK);
    assert_eq!(recipient(&h, "shop", &ops).await["state"], "confirmed");
    // AND resend is refused for a confirmed or unknown address, and another tenant sees neither
    let again = h.post(&format!("/v1/tenants/shop/alert-recipients/{ops}/resend"), json!(null)).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "recipient_not_pending"));
    let unknown = h.post("/v1/tenants/shop/alert-recipients/nobody@example.com/resend", json!(null)).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "recipient_not_found"));
    assert_eq!(recipient(&h, "other", &ops).await, Value::Null);
}

#[tokio::test]
async fn daily_caps_hold_under_concurrent_requests() {
    // GIVEN a deployment that allows 3 confirmation e-mails a tenant a day
    let settings = Settings {
        allow_private_targets: true,
        opt_in: OptInSettings { confirmations_per_day: 3, ..OptInSettings::default() },
        ..Settings::default()
    };
    let h = Arc::new(
        Harness::start_with(settings, HashMap::new(), |sdk, config| {
            hookline_api::router(hookline_api::AwsApp::from_config(sdk, config))
        })
        .await,
    );
    // WHEN 12 webhooks, each naming a new address, are created at once
    let addresses: Vec<String> = (0..12).map(|i| address(&h, &format!("cap{i}"))).collect();
    let creates = addresses.iter().cloned().map(|email| {
        let h = h.clone();
        tokio::spawn(async move {
            let body = json!({"name": "n", "url": "http://127.0.0.1:9/", "topics": ["t"], "alert_emails": [email]});
            h.post("/v1/tenants/capped/webhooks", body).await.status
        })
    });
    for status in futures::future::join_all(creates).await {
        assert_eq!(status.expect("task"), StatusCode::CREATED, "the webhooks are saved all the same");
    }
    // THEN exactly 3 confirmation e-mails went out; every address is pending
    let mut mailed = Vec::new();
    for email in &addresses {
        if !h.mails_to(email).await.is_empty() {
            mailed.push(email.clone());
        }
        assert_eq!(recipient(&h, "capped", email).await["state"], "pending");
    }
    assert_eq!(mailed.len(), 3, "{mailed:?}");
    // AND a resend past the cap is refused, with nothing sent
    let waiting = addresses.iter().find(|a| !mailed.contains(a)).expect("one not mailed");
    let resend = h.post(&format!("/v1/tenants/capped/alert-recipients/{waiting}/resend"), json!(null)).await;
    assert_eq!((resend.status, resend.code()), (StatusCode::CONFLICT, "confirmation_limit_reached"));
    assert!(h.mails_to(waiting).await.is_empty());

    // AND the alert e-mail counter lets exactly its cap through 20 concurrent takers
    const ALERTS: &str = QuotaKind::AlertEmails.as_str();
    const DAY_20425: u64 = 20_425; // a UTC day's window: days since 1970
    let store = Arc::new(h.store());
    let takers = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.take_quota("capped", ALERTS, DAY_20425, 5, 1, 0).await })
    });
    let taken = futures::future::join_all(takers)
        .await
        .into_iter()
        .filter(|t| *t.as_ref().expect("task").as_ref().expect("write"))
        .count();
    assert_eq!(taken, 5);
    assert!(!store.take_quota("capped", ALERTS, DAY_20425, 5, 1, 0).await.expect("write"));
    assert!(store.take_quota("capped", ALERTS, DAY_20425 + 1, 5, 1, 0).await.expect("write"), "a new day");
}

/// An SNS event carrying one SES notification, as the configuration set's topic delivers it.
fn ses_notification(notification: Value) -> Value {
    let mut record = SnsRecord::default();
    record.event_source = "aws:sns".into();
    record.event_version = "1.0".into();
    record.sns.sns_message_type = "Notification".into();
    record.sns.message_id = "95df01b4-ee98-5cb9-9903-4c221d41eb5e".into();
    record.sns.topic_arn = "arn:aws:sns:us-east-1:123456789012:AlertFeedbackTopic".into();
    record.sns.message = notification.to_string();
    let mut event = SnsEvent::default();
    event.records.push(record);
    serde_json::to_value(event).expect("json")
}

#[tokio::test]
async fn ses_bounces_and_complaints_mark_the_address_and_permanent_send_errors_pause_it() {
    // GIVEN a tenant with two confirmed addresses, and the alert function
    let h = Harness::start_local().await;
    let (bounces, complains) = (address(&h, "bounces"), address(&h, "complains"));
    let body =
        json!({"name": "n", "url": "http://127.0.0.1:9/", "topics": ["t"], "alert_emails": [bounces, complains]});
    assert_eq!(h.post("/v1/tenants/shop/webhooks", body).await.status, StatusCode::CREATED);
    h.confirm_recipient(&bounces).await;
    h.confirm_recipient(&complains).await;
    let dlq = h.stack.queue("DeliveryDeadLetterQueue").expect("dlq").url.clone();
    let config = AlertConfig::from_lookup(|name| match name {
        "HOOKLINE_TABLE" => Some(h.config.table_name.clone()),
        "HOOKLINE_DEAD_LETTER_QUEUE_URL" => Some(dlq.clone()),
        "HOOKLINE_ALERT_SENDER" => Some(ALERT_SENDER.into()),
        "HOOKLINE_PUBLIC_URL" => Some(h.base.clone()),
        "HOOKLINE_SECRETS_KEY" => Some(h.config.secrets_key.clone()),
        _ => None,
    })
    .expect("alert config");
    let alerts = AlertFunction::from_config(&h.sdk, &config);
    let tags = json!({TENANT_TAG: [tenant_tag("shop")]});

    // WHEN SES reports a soft bounce THEN nothing changes
    let soft = json!({"eventType": "Bounce", "mail": {"tags": tags},
        "bounce": {"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": bounces}]}});
    alerts.handle_event(ses_notification(soft)).await.expect("handled");
    assert_eq!(recipient(&h, "shop", &bounces).await["state"], "confirmed");
    // WHEN it reports a hard bounce and a complaint (through the same function as the DLQ)
    let hard = json!({"eventType": "Bounce", "mail": {"tags": tags},
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": bounces.to_uppercase()}]}});
    let complaint = json!({"notificationType": "Complaint", "mail": {"tags": tags},
        "complaint": {"complainedRecipients": [{"emailAddress": complains}]}});
    alerts.handle_event(ses_notification(hard)).await.expect("handled");
    alerts.handle_event(ses_notification(complaint)).await.expect("handled");
    // THEN the bounced address is `bounced` for good, the complaining one `unsubscribed`
    let b = recipient(&h, "shop", &bounces).await;
    assert_eq!(
        (b["state"].as_str(), b["reason"].as_str(), &b["retry_after"]),
        (Some("bounced"), Some("bounce"), &Value::Null)
    );
    let c = recipient(&h, "shop", &complains).await;
    assert_eq!((c["state"].as_str(), c["reason"].as_str()), (Some("unsubscribed"), Some("complaint")));
    // AND a notification that is not SES's is let go, changing nothing
    alerts.handle_event(ses_notification(json!("garbage"))).await.expect("let go");

    // WHEN an address SES refuses for good (moto: no domain it can parse) is named
    let refused = format!("x)@{}", address(&h, "refused").split('@').nth(1).expect("domain"));
    let body = json!({"name": "n", "url": "http://127.0.0.1:9/", "topics": ["t"], "alert_emails": [refused]});
    assert_eq!(h.post("/v1/tenants/shop/webhooks", body).await.status, StatusCode::CREATED);
    // THEN it is paused for 14 days, not tried again
    let r = recipient(&h, "shop", &refused).await;
    assert_eq!((r["state"].as_str(), r["reason"].as_str()), (Some("bounced"), Some("send_error")), "{r}");
    let until =
        hookline_shared::domain::timestamp::parse(r["retry_after"].as_str().expect("retry_after")).expect("time");
    let days = (until - hookline_shared::domain::timestamp::now()).whole_days();
    assert!((13..=14).contains(&days), "{days} days");
    let resend =
        h.post(&format!("/v1/tenants/shop/alert-recipients/{}/resend", refused.replace(')', "%29")), json!(null)).await;
    assert_eq!(resend.code(), "recipient_not_pending");
}

#[tokio::test]
async fn recipient_routes_refuse_bad_input_with_json_errors_and_reach_only_their_tenant() {
    // GIVEN a tenant with a pending address, and a key of another tenant
    let h = Harness::start_local().await;
    let ops = address(&h, "routes");
    let body = json!({"name": "n", "url": "http://127.0.0.1:9/", "topics": ["t"], "alert_emails": [ops]});
    assert_eq!(h.post("/v1/tenants/shop/webhooks", body).await.status, StatusCode::CREATED);
    let other = h.post("/v1/api-keys", json!({"name": "other", "tenant_id": "other"})).await;
    let other_key = other.body["key"].as_str().expect("key").to_string();
    let sent_before = h.mails_to(&ops).await.len();

    // WHEN the routes get a bad tenant id, an unknown parameter, or another tenant's key
    let resend = format!("/v1/tenants/shop/alert-recipients/{ops}/resend");
    for (method, path, key, status, code) in [
        (
            "GET",
            "/v1/tenants/bad%23id/alert-recipients".to_string(),
            &h.key,
            StatusCode::BAD_REQUEST,
            "invalid_tenant_id",
        ),
        (
            "GET",
            "/v1/tenants/shop/alert-recipients?limit=5".to_string(),
            &h.key,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        ("POST", format!("{resend}?now=1"), &h.key, StatusCode::BAD_REQUEST, "invalid_query"),
        ("GET", "/v1/tenants/shop/alert-recipients".to_string(), &other_key, StatusCode::NOT_FOUND, "tenant_not_found"),
        ("POST", resend.clone(), &other_key, StatusCode::NOT_FOUND, "tenant_not_found"),
    ] {
        let answer = h.http.request(method.parse().expect("method"), format!("{}{path}", h.base)).bearer_auth(key);
        let answer = answer.send().await.expect("answer");
        // THEN each is a JSON error with its code
        assert_eq!(answer.status(), status, "{method} {path}");
        let error: Value = answer.json().await.expect("json");
        assert_eq!(error["error"]["code"], code, "{method} {path}");
    }
    // AND nothing was sent or changed
    assert_eq!(h.mails_to(&ops).await.len(), sent_before);
    assert_eq!(recipient(&h, "shop", &ops).await["state"], "pending");
}
