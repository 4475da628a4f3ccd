//! Webhook management round-trips.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn health_needs_no_key() {
    let h = Harness::start().await;
    let reply = h.raw("GET", "/v1/health", &[], vec![]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["status"], "ok");
}

#[tokio::test]
async fn create_get_list_update_delete_round_trip() {
    let h = Harness::start().await;

    // WHEN a webhook is created without a secret
    let created = h
        .post(
            "/v1/tenants/acme/webhooks",
            json!({"name": "Coupons", "url": "https://hooks.example.com/c", "topics": ["coupon_create", "coupon_update"],
                   "description": "coupon events"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let wh = created.body;
    let id = wh["id"].as_str().expect("id").to_string();
    let secret = wh["secret"].as_str().expect("secret shown at creation").to_string();
    // THEN a Standard Webhooks secret was generated and is shown whole this once
    assert!(secret.starts_with("whsec_") && secret.len() > 30, "{secret}");
    assert_eq!(wh["enabled"], true);
    assert_eq!(wh["tenant_id"], "acme");
    assert_eq!(wh["topics"], json!(["coupon_create", "coupon_update"]));

    // AND reading it back masks the secret
    let got = h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.body.get("secret").is_none());
    assert_eq!(got.body["secret_hint"], format!("…{}", &secret[secret.len() - 4..]));
    assert!(!got.body.to_string().contains(&secret));
    assert_eq!(got.body["name"], "Coupons");
    assert_eq!(got.body["description"], "coupon events");

    // WHEN it is patched (url, topics, name, enabled, secret; description cleared)
    let patched = h
        .call(
            "PATCH",
            &format!("/v1/tenants/acme/webhooks/{id}"),
            Some(json!({"url": "https://new.example.com/x", "topics": ["order_create"], "name": "Orders",
                        "enabled": false, "secret": "my-own-secret-value-123", "description": null})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    // THEN every change is stored and read back
    let got = h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body;
    assert_eq!(got["url"], "https://new.example.com/x");
    assert_eq!(got["topics"], json!(["order_create"]));
    assert_eq!(got["name"], "Orders");
    assert_eq!(got["enabled"], false);
    assert_eq!(got["secret_hint"], "…-123");
    assert!(got["description"].is_null());
    assert_ne!(got["updated_at"], wh["updated_at"]);
    assert_eq!(got["created_at"], wh["created_at"]);

    // WHEN it is deleted THEN it is gone, and a second delete is a 404
    let deleted = h.call("DELETE", &format!("/v1/tenants/acme/webhooks/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.code(), "webhook_not_found");
    let again = h.call("DELETE", &format!("/v1/tenants/acme/webhooks/{id}"), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    // AND the tenant still exists, with no webhooks
    let list = h.get("/v1/tenants/acme/webhooks").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["data"], json!([]));
}

#[tokio::test]
async fn list_is_paginated_with_a_cursor() {
    let h = Harness::start().await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        ids.push(h.create_webhook("pager", name, &["t"]).await["id"].as_str().expect("id").to_string());
    }
    // Another tenant's webhooks never show up.
    h.create_webhook("other", "x", &["t"]).await;

    let mut seen = Vec::new();
    let mut path = "/v1/tenants/pager/webhooks?limit=2".to_string();
    let mut pages = 0;
    loop {
        let page = h.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let data = page.body["data"].as_array().expect("data");
        assert!(data.len() <= 2);
        assert!(data.iter().all(|w| w.get("secret").is_none()));
        seen.extend(data.iter().map(|w| w["id"].as_str().expect("id").to_string()));
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/tenants/pager/webhooks?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    ids.sort();
    assert_eq!(seen, ids, "every webhook once, in id order");
}

#[tokio::test]
async fn given_secrets_are_kept() {
    let h = Harness::start().await;
    let reply = h
        .post(
            "/v1/tenants/acme/webhooks",
            json!({"name": "n", "url": "http://example.com/", "topics": ["t"], "secret": "nector-style-secret-42", "enabled": false}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["secret"], "nector-style-secret-42");
    assert_eq!(reply.body["enabled"], false);
}

#[tokio::test]
async fn alert_settings_round_trip() {
    let h = Harness::start().await;
    let created = h
        .post(
            "/v1/tenants/acme/webhooks",
            json!({"name": "n", "url": "https://example.com/", "topics": ["t"],
                   "alert_emails": ["ops@example.com", "cto@example.com"], "alert_interval_minutes": 15}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    let got = h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body;
    assert_eq!(got["alert_emails"], json!(["ops@example.com", "cto@example.com"]));
    assert_eq!(got["alert_interval_minutes"], 15);
    assert_eq!(got["disable_after_failures"], 10, "the default");
    assert_eq!(got["consecutive_failures"], 0);
    assert!(got["last_alert_at"].is_null());
    assert!(got["disabled_reason"].is_null());

    let patched = h
        .call(
            "PATCH",
            &format!("/v1/tenants/acme/webhooks/{id}"),
            Some(json!({"alert_emails": null, "alert_interval_minutes": 120, "disable_after_failures": 0})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let got = h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body;
    assert_eq!(got["alert_emails"], json!([]), "null clears the recipients");
    assert_eq!(got["alert_interval_minutes"], 120);
    assert_eq!(got["disable_after_failures"], 0);
}

#[tokio::test]
async fn any_json_a_filter_or_event_holds_is_stored_and_sent_as_given() {
    // GIVEN filter values DynamoDB's own types can't hold: an empty key, a number past its
    // range, nesting deeper than 32 levels
    let h = Harness::start().await;
    let deep = (0..40).fold(json!(1), |inner, _| json!([inner]));
    let filters = json!([
        {"field": "a", "op": "eq", "value": {"": 1}},
        {"field": "b", "op": "lt", "value": 1e200},
        {"field": "c", "op": "ne", "value": deep},
    ]);
    let body = json!({"name": "odd", "url": "https://example.com/hook", "topics": ["t"], "filters": filters});

    // WHEN the webhook is created and the tenant listed
    let created = h.post("/v1/tenants/odd/webhooks", body).await;

    // THEN they are kept exactly, and the tenant stays readable
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id");
    assert_eq!(h.get(&format!("/v1/tenants/odd/webhooks/{id}")).await.body["filters"], filters);
    assert_eq!(h.get("/v1/tenants/odd/webhooks").await.status, StatusCode::OK);

    // AND an event carrying characters SQS refuses raw (U+FFFF) is queued and reads back the same
    let data = json!({"a": {"": 1}, "b": 1, "c": 0, "text": "x\u{FFFF}y"});
    let sent = h.post("/v1/tenants/odd/events", json!({"topic": "t", "data": data})).await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.body);
    let queued = h.drain_queue("DeliveryQueue").await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0]["payload"]["data"], data);
}
