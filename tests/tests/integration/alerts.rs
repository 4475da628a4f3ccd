//! Failure alerts end to end: the delivery function on moto SQS, the DLQ redrive, the alert
//! function on the DLQ, SES e-mails read back from moto, a loopback receiver that fails.

use std::collections::HashMap;
use std::time::Duration;

use hookline_shared::domain::settings::Settings;
use hookline_shared::domain::timestamp;
use hookline_shared::ports::store::{AlertStore, DeadLetterKey, WebhookStore};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;
use crate::receiver::{Answer, Receiver};

/// 2 attempts a delivery (queue and function agree), 1 s apart, and alert "minutes" of 3 s,
/// so a whole alert window passes in a test.
async fn fast_stack() -> Harness {
    let h = fast_delivery_stack().await;
    h.start_alerts(&[("HOOKLINE_ALERT_MINUTE_MS", "3000")]).await;
    h
}

/// The delivery side of `fast_stack`, for tests that start the alert function themselves.
async fn fast_delivery_stack() -> Harness {
    let settings = Settings { allow_private_targets: true, ..Settings::default() };
    let overrides = HashMap::from([("MaxReceiveCount".to_string(), "2".to_string())]);
    let h = Harness::start_with(settings, overrides, |sdk, config| {
        hookline_api::router(hookline_api::AwsApp::from_config(sdk, config))
    })
    .await;
    h.start_delivery(&[
        ("HOOKLINE_MAX_ATTEMPTS", "2"),
        ("HOOKLINE_RETRY_SCHEDULE", "1s"),
        ("HOOKLINE_RETRY_JITTER", "0"),
    ]);
    h
}

async fn webhook(h: &Harness, url: &str, alerts: Value) -> Value {
    let mut body = json!({"name": "Orders", "url": url, "topics": ["order_create"]});
    for (k, v) in alerts.as_object().expect("object") {
        body[k] = v.clone();
    }
    let reply = h.post("/v1/tenants/shop/webhooks", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    // Alerts go only to addresses that opted in: each confirms, as its owner would.
    for email in reply.body["alert_emails"].as_array().into_iter().flatten() {
        h.confirm_recipient(email.as_str().expect("address")).await;
    }
    reply.body
}

async fn event(h: &Harness) -> String {
    let reply = h.post("/v1/tenants/shop/events", json!({"topic": "order_create", "data": {"n": 1}})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body["deliveries"][0]["id"].as_str().expect("delivery").to_string()
}

async fn webhook_state(h: &Harness, id: &str) -> Value {
    h.get(&format!("/v1/tenants/shop/webhooks/{id}")).await.body
}

async fn wait_emails(h: &Harness, to: &str, n: usize) -> Vec<(String, String)> {
    h.eventually(&format!("{n} e-mail(s) to {to}"), Duration::from_secs(30), || async {
        let got = h.emails_to(to).await;
        (got.len() >= n).then_some(got)
    })
    .await
}

/// Waits until the webhook is disabled (the alert function counts, then disables).
async fn wait_disabled(h: &Harness, id: &str) -> Value {
    h.eventually("the webhook to be disabled", Duration::from_secs(30), || async {
        let w = webhook_state(h, id).await;
        (w["enabled"] == false).then_some(w)
    })
    .await
}

async fn wait_failures(h: &Harness, id: &str, n: u64) -> Value {
    h.eventually(&format!("{n} counted failure(s)"), Duration::from_secs(30), || async {
        let w = webhook_state(h, id).await;
        (w["consecutive_failures"].as_u64() >= Some(n)).then_some(w)
    })
    .await
}

#[tokio::test]
async fn failing_deliveries_are_alerted_once_per_window_summarised_and_then_disable_the_webhook() {
    // GIVEN a webhook with a stakeholder, a 1-"minute" alert interval, disabled after 3 failures
    let h = fast_stack().await;
    // A recipient of this test's own, so parallel tests' e-mails never mix.
    let ops = format!("ops-{}@example.com", h.config.table_name.to_lowercase());
    let receiver = Receiver::start(vec![Answer::status(500)]).await;
    let wh = webhook(
        &h,
        &receiver.url,
        json!({"alert_emails": [ops], "alert_interval_minutes": 1, "disable_after_failures": 3}),
    )
    .await;
    let id = wh["id"].as_str().expect("id").to_string();

    // WHEN a delivery uses its last attempt
    let first = event(&h).await;
    // THEN exactly one e-mail reaches the stakeholder, with the facts
    let mails = wait_emails(&h, &ops, 1).await;
    assert_eq!(mails.len(), 1);
    let (subject, body) = &mails[0];
    assert_eq!(subject, "[Hookline] Webhook \"Orders\" of tenant shop is failing");
    for fact in [
        receiver.url.as_str(),
        "HTTP 500",
        first.as_str(),
        "order_create",
        "Failed deliveries since the last alert</th><td>1",
    ] {
        assert!(body.contains(fact), "the e-mail tells {fact:?}: {body}");
    }
    let d = h.get(&format!("/v1/tenants/shop/deliveries/{first}")).await.body;
    assert_eq!(d["status"], "failed");
    // (the window starts when the e-mail is recorded as sent, just after SES took it)
    let w = h
        .eventually("the alert to be recorded", Duration::from_secs(10), || async {
            let w = webhook_state(&h, &id).await;
            w["last_alert_at"].is_string().then_some(w)
        })
        .await;
    assert_eq!(w["consecutive_failures"], 1);

    // WHEN another delivery fails inside the window
    let second = event(&h).await;
    wait_failures(&h, &id, 2).await;
    // THEN no second e-mail yet
    assert_eq!(h.emails_to(&ops).await.len(), 1, "nothing more inside the interval");

    // AND after the window, one e-mail summarises what failed meanwhile
    let mails = wait_emails(&h, &ops, 2).await;
    assert_eq!(mails.len(), 2);
    assert!(mails[1].1.contains(&second), "the summary names the delivery");
    assert!(mails[1].1.contains("Failed deliveries since the last alert</th><td>1"));

    // WHEN a third delivery fails: the threshold disables the webhook
    let third = event(&h).await;
    let w = wait_disabled(&h, &id).await;
    assert_eq!(w["consecutive_failures"], 3);
    assert_eq!(w["disabled_reason"], "3 consecutive deliveries failed");
    assert!(w["disabled_at"].is_string());
    let mails = wait_emails(&h, &ops, 3).await;
    assert!(mails[2].1.contains(&third));
    assert!(mails[2].1.contains("Disabled"), "the e-mail says it was disabled");
    // AND later events create no deliveries for it
    let later = h.post("/v1/tenants/shop/events", json!({"topic": "order_create", "data": {}})).await;
    assert_eq!(later.body["deliveries"], json!([]));

    // Nothing lost: every event failed and was counted in exactly one alert.
    for d in [&first, &second, &third] {
        assert_eq!(h.get(&format!("/v1/tenants/shop/deliveries/{d}")).await.body["status"], "failed");
    }
    let told: usize = h
        .emails_to(&ops)
        .await
        .iter()
        .map(|(_, b)| [&first, &second, &third].iter().filter(|d| b.contains(d.as_str())).count())
        .sum();
    assert_eq!(told, 3);
    assert_eq!(h.emails_to(&ops).await.len(), 3);
}

#[tokio::test]
async fn a_success_in_between_resets_the_count() {
    let h = fast_stack().await;
    // fail, fail (first delivery), 200 (second), fail, fail (third)
    let receiver =
        Receiver::start(vec![Answer::status(500), Answer::status(500), Answer::status(200), Answer::status(500)]).await;
    let wh = webhook(&h, &receiver.url, json!({"disable_after_failures": 2})).await;
    let id = wh["id"].as_str().expect("id").to_string();

    event(&h).await;
    wait_failures(&h, &id, 1).await;
    let ok = event(&h).await;
    h.delivery_with_status("shop", &ok, "delivered", Duration::from_secs(20)).await;
    h.eventually("the count reset", Duration::from_secs(10), || async {
        (webhook_state(&h, &id).await["consecutive_failures"] == 0).then_some(())
    })
    .await;
    event(&h).await;
    let w = wait_failures(&h, &id, 1).await;
    assert_eq!(w["consecutive_failures"], 1);
    assert_eq!(w["enabled"], true, "one failure after a success does not reach 2");
}

#[tokio::test]
async fn without_recipients_failures_are_still_counted_and_disable() {
    let h = fast_stack().await;
    let receiver = Receiver::start(vec![Answer::status(503)]).await;
    let wh = webhook(&h, &receiver.url, json!({"disable_after_failures": 1})).await;
    let id = wh["id"].as_str().expect("id").to_string();
    let d = event(&h).await;
    let w = wait_disabled(&h, &id).await;
    assert_eq!(w["consecutive_failures"], 1);
    assert_eq!(h.get(&format!("/v1/tenants/shop/deliveries/{d}")).await.body["status"], "failed");
    assert!(w["last_alert_at"].is_null(), "no e-mail without recipients");
}

#[tokio::test]
async fn garbage_in_the_dead_letter_queue_is_acknowledged() {
    let h = fast_stack().await;
    let dlq = h.stack.queue("DeliveryDeadLetterQueue").expect("dlq").url.clone();
    h.sqs().send_message().queue_url(&dlq).message_body("definitely not a delivery").send().await.expect("send");
    h.eventually("the DLQ to be empty", Duration::from_secs(20), || async {
        let visible = h
            .queue_attribute(
                "DeliveryDeadLetterQueue",
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
            )
            .await;
        let in_flight = h
            .queue_attribute(
                "DeliveryDeadLetterQueue",
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .await;
        (visible == "0" && in_flight == "0").then_some(())
    })
    .await;
}

#[tokio::test]
async fn parallel_alert_functions_send_one_email_per_window() {
    // GIVEN two alert functions on the same DLQ (as parallel Lambda invocations) and a long
    // alert "minute", so the whole test stays inside one window
    let settings = Settings { allow_private_targets: true, ..Settings::default() };
    let overrides = HashMap::from([("MaxReceiveCount".to_string(), "1".to_string())]);
    let h = Harness::start_with(settings, overrides, |sdk, config| {
        hookline_api::router(hookline_api::AwsApp::from_config(sdk, config))
    })
    .await;
    h.start_delivery(&[("HOOKLINE_MAX_ATTEMPTS", "1")]);
    h.start_alerts(&[("HOOKLINE_ALERT_MINUTE_MS", "60000")]).await;
    h.start_alerts(&[("HOOKLINE_ALERT_MINUTE_MS", "60000")]).await;
    let ops = format!("ops-{}@example.com", h.config.table_name.to_lowercase());
    let receiver = Receiver::start(vec![Answer::status(500)]).await;
    let wh = webhook(&h, &receiver.url, json!({"alert_emails": [ops], "disable_after_failures": 0})).await;
    let id = wh["id"].as_str().expect("id").to_string();

    // WHEN several deliveries die at once
    for _ in 0..6 {
        event(&h).await;
    }
    wait_failures(&h, &id, 6).await;
    wait_emails(&h, &ops, 1).await;
    // Give a second, wrongly allowed e-mail every chance to appear.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // THEN exactly one e-mail went out for the window
    assert_eq!(h.emails_to(&ops).await.len(), 1);
}

#[tokio::test]
async fn a_claim_left_by_a_crashed_invocation_lapses_and_the_summary_still_goes_out() {
    // GIVEN a failed delivery in the DLQ, counted and claimed for an e-mail by an alert
    // invocation that then died (its claim two minutes old), and alert claims lasting 1 s
    let h = fast_delivery_stack().await;
    let ops = format!("ops-{}@example.com", h.config.table_name.to_lowercase());
    let receiver = Receiver::start(vec![Answer::status(500)]).await;
    let wh = webhook(&h, &receiver.url, json!({"alert_emails": [ops]})).await;
    let webhook_id = wh["id"].as_str().expect("id").to_string();
    let delivery_id = event(&h).await;
    h.delivery_with_status("shop", &delivery_id, "failed", Duration::from_secs(30)).await;
    let store = h.store();
    let crashed_at = timestamp::format(timestamp::now() - Duration::from_secs(120));
    let dead = DeadLetterKey {
        tenant_id: "shop",
        webhook_id: &webhook_id,
        delivery_id: &delivery_id,
        generation: 0,
        unreadable: None,
    };
    store.count_dead_letter(&dead, &crashed_at).await.expect("count");
    let seen = store.get_webhook("shop", &webhook_id).await.expect("read").expect("exists");
    assert!(store.claim_alert(&seen, &crashed_at).await.expect("claim"));

    // WHEN the alert function sees the dead letter again
    h.start_alerts(&[("HOOKLINE_ALERT_MINUTE_MS", "3000"), ("HOOKLINE_ALERT_CLAIM_LEASE_MS", "1000")]).await;

    // THEN it takes the lapsed claim over and the stakeholder gets the e-mail, once
    let mails = wait_emails(&h, &ops, 1).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].1.contains(&delivery_id), "the e-mail names the delivery");
    // (recorded just after SES took the e-mail)
    let after = h
        .eventually("the summary to be recorded as told", Duration::from_secs(10), || async {
            let w = store.get_webhook("shop", &webhook_id).await.expect("read").expect("exists");
            w.alert_claimed_at.is_none().then_some(w)
        })
        .await;
    assert_eq!((after.consecutive_failures, after.pending_count), (1, 0), "counted once, told");
    assert_eq!(h.emails_to(&ops).await.len(), 1, "one e-mail");
}
