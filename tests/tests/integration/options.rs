//! Webhook options of the seed pages, proved through the API and the local stack.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;

async fn webhook_with(h: &Harness, name: &str, options: Value) -> String {
    let mut body = json!({"name": name, "url": format!("https://{name}.example.com/"), "topics": ["coupon_create"]});
    for (k, v) in options.as_object().expect("object") {
        body[k] = v.clone();
    }
    let reply = h.post("/v1/tenants/shop/webhooks", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn page_000_coupon_filters_decide_which_webhooks_get_an_event() {
    // GIVEN one webhook per restriction of page 000 (and one without)
    let h = Harness::start().await;
    let all = webhook_with(&h, "all", json!({})).await;
    let min = webhook_with(&h, "min", json!({"filters": [{"field": "fiat_value", "op": "gte", "value": 50}]})).await;
    let max = webhook_with(&h, "max", json!({"filters": [{"field": "fiat_value", "op": "lte", "value": 500}]})).await;
    let types = webhook_with(
        &h,
        "types",
        json!({"filters": [{"field": "type", "op": "in", "value": ["manual_redeem", "referral"]}]}),
    )
    .await;
    let class =
        webhook_with(&h, "class", json!({"filters": [{"field": "fiat_class", "op": "eq", "value": "percent"}]})).await;
    let target =
        webhook_with(&h, "target", json!({"filters": [{"field": "fiat_target", "op": "eq", "value": "cart"}]})).await;

    let targets = |fiat_value: Value, kind: &str, class_: &str, target_: &str| {
        let h = &h;
        let body = json!({"topic": "coupon_create", "context": {"business_name": "Shop"},
                          "data": {"fiat_value": fiat_value, "type": kind, "fiat_class": class_, "fiat_target": target_}});
        async move {
            let reply = h.post("/v1/tenants/shop/events", body).await;
            assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
            reply.body["deliveries"]
                .as_array()
                .expect("deliveries")
                .iter()
                .map(|d| d["webhook_id"].as_str().expect("webhook").to_string())
                .collect::<BTreeSet<String>>()
        }
    };
    let set = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();

    // A 2% percent coupon on the cart, manual_redeem: not ≥ 50, ≤ 500, in the list, percent, cart.
    assert_eq!(
        targets(json!(2), "manual_redeem", "percent", "cart").await,
        set(&[&all, &max, &types, &class, &target])
    );
    // A fixed 600 shipping coupon of another type: only ≥ 50 (and the unfiltered one).
    assert_eq!(targets(json!(600), "birthday", "fixed", "shipping").await, set(&[&all, &min]));
    // Exactly 50, referral, fixed, cart.
    assert_eq!(targets(json!(50), "referral", "fixed", "cart").await, set(&[&all, &min, &max, &types, &target]));
    // And only matching deliveries were queued: 5 + 2 + 5.
    assert_eq!(h.drain_queue("DeliveryQueue").await.len(), 12);

    // Filters read back, and can be cleared.
    let got = h.get(&format!("/v1/tenants/shop/webhooks/{min}")).await.body;
    assert_eq!(got["filters"], json!([{"field": "fiat_value", "op": "gte", "value": 50}]));
    let patched = h.call("PATCH", &format!("/v1/tenants/shop/webhooks/{min}"), Some(json!({"filters": null}))).await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["filters"], json!([]));
}

mod on_the_wire {
    use std::time::{Duration, Instant};

    use reqwest::StatusCode;
    use serde_json::{Value, json};

    use crate::harness::Harness;
    use crate::receiver::{Answer, Receiver};

    async fn webhook(h: &Harness, url: &str, options: Value) {
        let mut body = json!({"name": "wire", "url": url, "topics": ["coupon_create"], "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"});
        for (k, v) in options.as_object().expect("object") {
            body[k] = v.clone();
        }
        let reply = h.post("/v1/tenants/shop/webhooks", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }

    async fn send(h: &Harness, n: u32) -> Vec<String> {
        let reply = h
            .post(
                "/v1/tenants/shop/events",
                json!({"topic": "coupon_create", "occurred_at": "2026-11-22T10:00:00Z",
                       "context": {"business_name": "Shop", "user_email": "a@example.com"},
                       "data": {"value": format!("CODE{n}"), "fiat_value": n, "meta": {"lead_name": "Ayush"}}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        reply.body["deliveries"]
            .as_array()
            .expect("deliveries")
            .iter()
            .map(|d| d["id"].as_str().expect("id").to_string())
            .collect()
    }

    #[tokio::test]
    async fn endpoint_auth_and_custom_headers_are_sent_and_never_shown() {
        let h = Harness::start_local().await;
        let basic_receiver = Receiver::start(vec![Answer::status(200)]).await;
        let key_receiver = Receiver::start(vec![Answer::status(200)]).await;
        webhook(
            &h,
            &basic_receiver.url,
            json!({"auth": {"type": "basic", "username": "netcore", "password": "s3cret-pass"},
                   "headers": {"X-Account": "acct-991122"}}),
        )
        .await;
        webhook(
            &h,
            &key_receiver.url,
            json!({"auth": {"type": "api_key", "header": "X-Api-Key", "value": "key-abcdef-7788"}}),
        )
        .await;
        h.start_delivery(&[]);
        send(&h, 1).await;
        let basic = basic_receiver.wait_for(1, Duration::from_secs(20)).await;
        assert_eq!(basic[0].header("authorization"), "Basic bmV0Y29yZTpzM2NyZXQtcGFzcw==");
        assert_eq!(basic[0].header("x-account"), "acct-991122");
        let keyed = key_receiver.wait_for(1, Duration::from_secs(20)).await;
        assert_eq!(keyed[0].header("x-api-key"), "key-abcdef-7788");
        assert_eq!(keyed[0].header("authorization"), "");

        // The API shows hints only.
        let list = h.get("/v1/tenants/shop/webhooks").await.body.to_string();
        for secret in ["s3cret-pass", "acct-991122", "key-abcdef-7788"] {
            assert!(!list.contains(secret), "{secret} is not returned");
        }
        // A value shorter than 12 characters shows none of them (issue 17): `s3cret-pass` and
        // `acct-991122` have 11; `key-abcdef-7788` has 15.
        assert!(list.contains("\"password_hint\":\"…\""), "{list}");
        assert!(list.contains("\"X-Account\":\"…\""), "{list}");
        assert!(list.contains("\"value_hint\":\"…7788\""));
    }

    #[tokio::test]
    async fn during_a_secret_rotation_both_signatures_verify() {
        const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        const NEW: &str = "whsec_dGhlLW5ldy1zZWNyZXQtMTIzNDU2Nzg5MA==";
        const NEXT: &str = "a-chosen-secret-without-grace";
        let h = Harness::start_local().await;
        let receiver = Receiver::start(vec![Answer::status(200)]).await;
        webhook(&h, &receiver.url, json!({})).await;
        let id = h.get("/v1/tenants/shop/webhooks").await.body["data"][0]["id"].as_str().expect("id").to_string();
        h.start_delivery(&[]);

        // WHEN the secret is rotated (default grace: 24 h)
        let rotated = h.call("PATCH", &format!("/v1/tenants/shop/webhooks/{id}"), Some(json!({"secret": NEW}))).await;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
        assert!(rotated.body["previous_secret_expires_at"].is_string());
        send(&h, 1).await;
        let got = receiver.wait_for(1, Duration::from_secs(20)).await;
        let r = &got[0];
        // THEN the request carries two signatures, one per secret, and both verify
        assert_eq!(r.header("webhook-signature").split(' ').count(), 2);
        for secret in [OLD, NEW] {
            standardwebhooks::Webhook::new(secret).expect("secret").verify(&r.body, &r.headers).expect("verifies");
        }
        assert_eq!(
            r.header("x-hookline-webhook-hmac"),
            hookline_shared::outbound::signatures::body_hmac_hex(NEW, &r.body)
        );

        // WHEN it is rotated again without grace, only the newest signs
        let again = h
            .call(
                "PATCH",
                &format!("/v1/tenants/shop/webhooks/{id}"),
                Some(json!({"secret": NEXT, "secret_grace_minutes": 0})),
            )
            .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.body);
        assert!(again.body["previous_secret_expires_at"].is_null());
        send(&h, 2).await;
        let got = receiver.wait_for(2, Duration::from_secs(20)).await;
        let r = &got[1];
        assert_eq!(r.header("webhook-signature").split(' ').count(), 1);
        let next = standardwebhooks::Webhook::from_bytes(NEXT.as_bytes().to_vec()).expect("raw secret");
        next.verify(&r.body, &r.headers).expect("the new secret verifies");
        assert!(standardwebhooks::Webhook::new(NEW).expect("secret").verify(&r.body, &r.headers).is_err());
    }

    #[tokio::test]
    async fn envelope_with_an_event_prefix() {
        let h = Harness::start_local().await;
        let receiver = Receiver::start(vec![Answer::status(200)]).await;
        webhook(&h, &receiver.url, json!({"format": "envelope", "event_prefix": "nector_"})).await;
        h.start_delivery(&[]);
        send(&h, 2).await;
        let got = receiver.wait_for(1, Duration::from_secs(20)).await;
        let r = &got[0];
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(r.header("x-hookline-topic"), "nector_coupon_create");
        let body: Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(
            body,
            json!({"event_time": "2026-11-22T10:00:00Z", "event_type": "nector_coupon_create",
                   "current_context": {"business_name": "Shop", "user_email": "a@example.com"},
                   "data": {"value": "CODE2", "fiat_value": 2, "meta": {"lead_name": "Ayush"}}})
        );
    }

    #[tokio::test]
    async fn only_the_selected_fields_are_sent() {
        let h = Harness::start_local().await;
        let receiver = Receiver::start(vec![Answer::status(200)]).await;
        webhook(&h, &receiver.url, json!({"fields": ["business_name", "value", "meta.lead_name"]})).await;
        h.start_delivery(&[]);
        send(&h, 3).await;
        let got = receiver.wait_for(1, Duration::from_secs(20)).await;
        let body: Value = serde_json::from_slice(&got[0].body).expect("json");
        assert_eq!(body, json!({"business_name": "Shop", "value": "CODE3", "meta": {"lead_name": "Ayush"}}));
    }

    #[tokio::test]
    async fn a_form_webhook_gets_a_batch_of_events_in_one_request() {
        // GIVEN four pending deliveries to a form webhook (the function is not running yet)
        let h = Harness::start_local().await;
        let receiver = Receiver::start(vec![Answer::status(200)]).await;
        webhook(&h, &receiver.url, json!({"format": "form", "form_key": "pod2_email"})).await;
        let mut ids = Vec::new();
        for n in 0..4 {
            ids.extend(send(&h, n).await);
        }
        // WHEN the function takes them in one SQS batch
        h.start_delivery(&[]);
        for id in &ids {
            h.delivery_with_status("shop", id, "delivered", Duration::from_secs(20)).await;
        }
        // THEN one request carried all four, url-encoded under `data`
        let got = receiver.received();
        assert_eq!(got.len(), 1, "one request for the batch");
        let r = &got[0];
        assert_eq!(r.header("content-type"), "application/x-www-form-urlencoded");
        let (key, json_text) = url::form_urlencoded::parse(&r.body).next().expect("a data field");
        assert_eq!(key, "data");
        let body: Value = serde_json::from_str(&json_text).expect("JSON inside");
        let events = body["pod2_email"].as_array().expect("the batch key");
        assert_eq!(events.len(), 4);
        let mut codes: Vec<&str> = events.iter().map(|e| e["value"].as_str().expect("value")).collect();
        codes.sort();
        assert_eq!(codes, ["CODE0", "CODE1", "CODE2", "CODE3"]);
        assert_eq!(events[0]["business_name"], "Shop");
        let mut header_ids: Vec<&str> = r.header("x-hookline-delivery-id").split(',').collect();
        header_ids.sort();
        let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(header_ids, expected);
        // The signature covers the exact form body.
        standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("secret")
            .verify(&r.body, &r.headers)
            .expect("verifies");
    }

    #[tokio::test]
    async fn events_posted_in_a_row_reach_a_form_webhook_in_one_request_as_the_batching_window_gathers_them() {
        // GIVEN a form webhook and the delivery function already running, gathering each batch
        // for far longer than posting three events takes (as Lambda's batching window does)
        let window = Duration::from_secs(3);
        let h = Harness::start_local().await;
        let receiver = Receiver::start(vec![Answer::status(200)]).await;
        webhook(&h, &receiver.url, json!({"format": "form", "form_key": "pod2_email"})).await;
        h.start_delivery_with_window(&[], window);

        // WHEN three events are posted one after another
        let posting = Instant::now();
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.extend(send(&h, n).await);
        }
        let posted_in = posting.elapsed();
        assert!(posted_in < window, "posting must fit in the window for this test to mean anything: {posted_in:?}");

        // THEN one request carried all three deliveries
        for id in &ids {
            h.delivery_with_status("shop", id, "delivered", Duration::from_secs(20)).await;
        }
        let got = receiver.received();
        assert_eq!(got.len(), 1, "one request for the three events");
        let (_, json_text) = url::form_urlencoded::parse(&got[0].body).next().expect("a data field");
        let body: Value = serde_json::from_str(&json_text).expect("JSON inside");
        let mut codes: Vec<&str> = body["pod2_email"]
            .as_array()
            .expect("the batch key")
            .iter()
            .map(|e| e["value"].as_str().expect("value"))
            .collect();
        codes.sort();
        assert_eq!(codes, ["CODE0", "CODE1", "CODE2"]);
        let mut header_ids: Vec<&str> = got[0].header("x-hookline-delivery-id").split(',').collect();
        header_ids.sort();
        ids.sort();
        assert_eq!(header_ids, ids);
    }
}

mod catalog {
    use std::collections::HashMap;
    use std::sync::Arc;

    use hookline_shared::domain::catalog::TopicCatalog;
    use hookline_shared::domain::settings::Settings;
    use reqwest::StatusCode;
    use serde_json::json;

    use crate::harness::Harness;

    #[tokio::test]
    async fn with_the_seed_catalog_only_its_topics_can_be_subscribed() {
        let settings = Settings { catalog: Some(Arc::new(TopicCatalog::seed())), ..Settings::default() };
        let h = Harness::start_with(settings, HashMap::new(), |sdk, config| {
            hookline_api::router(hookline_api::AwsApp::from_config(sdk, config))
        })
        .await;
        let topics = h.get("/v1/topics").await;
        assert_eq!(topics.status, StatusCode::OK);
        assert_eq!(topics.body["catalog"], true);
        let list = topics.body["data"].as_array().expect("topics");
        // Page 001's 17 topics and page 004's 18 channel activities.
        assert_eq!(list.len(), 35);
        let opened = list.iter().find(|t| t["name"] == "email_opened").expect("page 004's e-mail opened");
        assert_eq!(opened["sample"]["data"]["channel"], "email");
        let wallet = list.iter().find(|t| t["name"] == "wallettrasaction_update").expect("page 001's spelling");
        assert!(wallet["description"].is_string());
        assert_eq!(wallet["sample"]["data"]["operation"], "cr");

        let known = h
            .post(
                "/v1/tenants/shop/webhooks",
                json!({"name": "n", "url": "https://example.com/", "topics": ["coupon_create"]}),
            )
            .await;
        assert_eq!(known.status, StatusCode::CREATED);
        let unknown = h
            .post(
                "/v1/tenants/shop/webhooks",
                json!({"name": "n", "url": "https://example.com/", "topics": ["coupon_created"]}),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert_eq!(unknown.code(), "unknown_topic");
        let id = known.body["id"].as_str().expect("id");
        let patch =
            h.call("PATCH", &format!("/v1/tenants/shop/webhooks/{id}"), Some(json!({"topics": ["nope_create"]}))).await;
        assert_eq!(patch.code(), "unknown_topic");
    }

    #[tokio::test]
    async fn without_a_catalog_any_well_formed_topic_goes() {
        let h = Harness::start().await;
        let topics = h.get("/v1/topics").await;
        assert_eq!(topics.body, json!({"catalog": false, "data": []}));
        let any = h
            .post(
                "/v1/tenants/shop/webhooks",
                json!({"name": "n", "url": "https://example.com/", "topics": ["email.opened"]}),
            )
            .await;
        assert_eq!(any.status, StatusCode::CREATED);
    }
}

mod test_sends {
    use std::time::Duration;

    use reqwest::StatusCode;
    use serde_json::{Value, json};

    use crate::harness::Harness;
    use crate::receiver::{Answer, Receiver};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    async fn webhook(h: &Harness, url: &str) -> String {
        let reply = h
            .post(
                "/v1/tenants/shop/webhooks",
                json!({"name": "t", "url": url, "topics": ["order_create"], "secret": SECRET}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().expect("id").to_string()
    }

    #[tokio::test]
    async fn a_test_send_reports_a_failing_receiver_honestly_and_does_not_retry() {
        let h = Harness::start_local().await;
        h.start_delivery(&[("HOOKLINE_RETRY_SCHEDULE", "1s"), ("HOOKLINE_RETRY_JITTER", "0")]);
        let receiver = Receiver::start(vec![Answer::status(500)]).await;
        let id = webhook(&h, &receiver.url).await;

        let reply = h
            .post(
                &format!("/v1/tenants/shop/webhooks/{id}/test"),
                json!({"topic": "order_create", "payload": {"context": {"business_name": "Shop"}, "data": {"order_id": "T-1"}}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["ok"], false);
        assert_eq!(reply.body["status_code"], 500);
        assert_eq!(reply.body["response_excerpt"], "answer 500");
        assert!(reply.body["latency_ms"].is_u64());

        let got = receiver.received();
        assert_eq!(got.len(), 1);
        let body: Value = serde_json::from_slice(&got[0].body).expect("json");
        assert_eq!(body, json!({"business_name": "Shop", "order_id": "T-1"}));
        standardwebhooks::Webhook::new(SECRET).expect("secret").verify(&got[0].body, &got[0].headers).expect("signed");
        // No retry follows a test send.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(receiver.received().len(), 1);
    }

    #[tokio::test]
    async fn a_test_send_without_a_payload_sends_a_test_event_and_a_200_is_ok() {
        let h = Harness::start_local().await;
        let receiver = Receiver::start(vec![Answer::status(200)]).await;
        let id = webhook(&h, &receiver.url).await;
        let reply = h
            .raw(
                "POST",
                &format!("/v1/tenants/shop/webhooks/{id}/test"),
                &[("authorization", &format!("Bearer {}", h.key))],
                vec![],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["ok"], true);
        assert_eq!(reply.body["topic"], "order_create");
        let body: Value = serde_json::from_slice(&receiver.received()[0].body).expect("json");
        assert_eq!(body["test"], true);
    }

    #[tokio::test]
    async fn require_ok_refuses_to_save_a_webhook_whose_test_fails() {
        let h = Harness::start_local().await;
        let bad = Receiver::start(vec![Answer::status(503)]).await;
        let good = Receiver::start(vec![Answer::status(200)]).await;
        let before = h.item_count().await;
        let refused = h
            .post(
                "/v1/tenants/shop/webhooks?require_ok=true",
                json!({"name": "t", "url": bad.url, "topics": ["order_create"]}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
        assert_eq!(refused.code(), "test_failed");
        assert!(refused.body["error"]["message"].as_str().expect("message").contains("HTTP 503"));
        assert_eq!(h.item_count().await, before, "nothing saved");

        let saved = h
            .post(
                "/v1/tenants/shop/webhooks?require_ok=true",
                json!({"name": "t", "url": good.url, "topics": ["order_create"]}),
            )
            .await;
        assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.body);
        let id = saved.body["id"].as_str().expect("id");

        // An update to a failing URL is refused too, and changes nothing.
        let patch = h
            .call("PATCH", &format!("/v1/tenants/shop/webhooks/{id}?require_ok=true"), Some(json!({"url": bad.url})))
            .await;
        assert_eq!(patch.code(), "test_failed");
        assert_eq!(h.get(&format!("/v1/tenants/shop/webhooks/{id}")).await.body["url"], good.url.as_str());
        assert_eq!(good.received().len(), 1);
        assert_eq!(bad.received().len(), 2);
    }
}

mod delivery_log {
    use std::time::Duration;

    use reqwest::StatusCode;
    use serde_json::json;

    use crate::harness::Harness;
    use crate::receiver::{Answer, Receiver};

    #[tokio::test]
    async fn the_log_lists_deliveries_and_retry_and_recover_send_them_again_with_the_same_ids() {
        // GIVEN three deliveries that failed (one attempt each), then a receiver that recovers
        let h = Harness::start_local().await;
        let receiver =
            Receiver::start(vec![Answer::status(500), Answer::status(500), Answer::status(500), Answer::status(200)])
                .await;
        let wh = h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await;
        let wid = wh["id"].as_str().expect("id").to_string();
        h.start_delivery(&[("HOOKLINE_MAX_ATTEMPTS", "1")]);
        let since =
            time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).expect("time");
        let mut ids = Vec::new();
        for n in 0..3 {
            let reply = h.post("/v1/tenants/shop/events", json!({"topic": "order_create", "data": {"n": n}})).await;
            let id = reply.body["deliveries"][0]["id"].as_str().expect("delivery").to_string();
            h.delivery_with_status("shop", &id, "failed", Duration::from_secs(20)).await;
            ids.push(id);
        }

        // THEN the log lists them newest first, with attempts, filtered and paginated
        let log = h.get(&format!("/v1/tenants/shop/webhooks/{wid}/deliveries")).await;
        assert_eq!(log.status, StatusCode::OK, "{}", log.body);
        let listed: Vec<&str> =
            log.body["data"].as_array().expect("data").iter().map(|d| d["id"].as_str().expect("id")).collect();
        let mut newest_first = ids.clone();
        newest_first.reverse();
        assert_eq!(listed, newest_first);
        assert_eq!(log.body["data"][0]["attempts"][0]["status_code"], 500);
        let failed = h.get(&format!("/v1/tenants/shop/webhooks/{wid}/deliveries?status=failed")).await;
        assert_eq!(failed.body["data"].as_array().map(Vec::len), Some(3));
        let delivered = h.get(&format!("/v1/tenants/shop/webhooks/{wid}/deliveries?status=delivered")).await;
        assert_eq!(delivered.body["data"], json!([]));
        let page = h.get(&format!("/v1/tenants/shop/webhooks/{wid}/deliveries?limit=2")).await;
        assert_eq!(page.body["data"].as_array().map(Vec::len), Some(2));
        let cursor = page.body["next_cursor"].as_str().expect("a next page");
        let rest = h.get(&format!("/v1/tenants/shop/webhooks/{wid}/deliveries?limit=2&cursor={cursor}")).await;
        assert_eq!(rest.body["data"][0]["id"], ids[0].as_str());

        // WHEN one is retried: it is delivered, with the same delivery id, after its old attempt
        let retried = h.post(&format!("/v1/tenants/shop/deliveries/{}/retry", ids[0]), json!({})).await;
        assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
        let d = h.delivery_with_status("shop", &ids[0], "delivered", Duration::from_secs(20)).await;
        let codes: Vec<&serde_json::Value> =
            d["attempts"].as_array().expect("attempts").iter().map(|a| &a["status_code"]).collect();
        assert_eq!(codes, [&json!(500), &json!(200)]);
        assert_eq!(receiver.received()[3].header("x-hookline-delivery-id"), ids[0]);
        let again = h.post(&format!("/v1/tenants/shop/deliveries/{}/retry", ids[0]), json!({})).await;
        assert_eq!(again.code(), "delivery_not_failed");

        // WHEN the webhook is recovered since before the events: the other two go again
        let recovered = h.post(&format!("/v1/tenants/shop/webhooks/{wid}/recover?since={since}"), json!({})).await;
        assert_eq!(recovered.status, StatusCode::ACCEPTED, "{}", recovered.body);
        assert_eq!(recovered.body["requeued"], 2);
        for id in &ids[1..] {
            h.delivery_with_status("shop", id, "delivered", Duration::from_secs(20)).await;
        }
        let resent: Vec<String> =
            receiver.received()[4..].iter().map(|r| r.header("x-hookline-delivery-id").to_string()).collect();
        let mut resent_sorted = resent.clone();
        resent_sorted.sort();
        assert_eq!(resent_sorted, ids[1..].to_vec());

        // Bad parameters are 400s.
        assert_eq!(
            h.get(&format!("/v1/tenants/shop/webhooks/{wid}/deliveries?status=lost")).await.code(),
            "invalid_status"
        );
        assert_eq!(
            h.post(&format!("/v1/tenants/shop/webhooks/{wid}/recover?since=yesterday"), json!({})).await.code(),
            "invalid_since"
        );
        assert_eq!(
            h.post(&format!("/v1/tenants/shop/webhooks/{wid}/recover"), json!({})).await.code(),
            "invalid_query"
        );
    }
}
