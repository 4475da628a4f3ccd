//! Bad input: each case gets a clear 4xx with a stable JSON error, and changes nothing.

use hookline_shared::domain::limits::{MAX_BODY_BYTES, MAX_WEBHOOKS_PER_TENANT};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Harness, Reply};

fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.code(), code, "{}", reply.body);
    let message = reply.body["error"]["message"].as_str().expect("message");
    assert!(!message.is_empty());
}

fn valid_webhook() -> Value {
    json!({"name": "n", "url": "https://example.com/hook", "topics": ["coupon_create"]})
}

/// A tenant with one webhook, and the number of items stored for it.
async fn seeded() -> (Harness, String, usize) {
    let h = Harness::start().await;
    let id = h.create_webhook("acme", "seed", &["coupon_create"]).await["id"].as_str().expect("id").to_string();
    let items = h.item_count().await;
    (h, id, items)
}

#[tokio::test]
async fn missing_or_wrong_api_keys_are_refused() {
    let (h, _, items) = seeded().await;
    let body = serde_json::to_vec(&valid_webhook()).expect("json");
    for headers in [
        vec![],
        vec![("authorization", "Bearer hk_not-a-real-key")],
        vec![("authorization", format!("Basic {}", h.key).leak() as &str)],
        vec![("authorization", "Bearer")],
    ] {
        let mut all = headers.clone();
        all.push(("content-type", "application/json"));
        let reply = h.raw("POST", "/v1/tenants/acme/webhooks", &all, body.clone()).await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let reply = h.raw("GET", "/v1/tenants/acme/webhooks", &[], vec![]).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(h.item_count().await, items, "nothing stored");
}

/// A URL in a network Hookline does not send to is well-formed but refused on its merits: 422.
fn status_of(code: &str) -> StatusCode {
    if code == "forbidden_url" { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_REQUEST }
}

#[tokio::test]
async fn malformed_webhook_requests_are_refused_and_store_nothing() {
    let (h, _, items) = seeded().await;
    let auth = format!("Bearer {}", h.key);
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (b"{\"name\": ".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
        (b"not json".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
        (b"".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
        (b"[]".to_vec(), StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let reply = h.raw("POST", "/v1/tenants/acme/webhooks", &headers, body).await;
        assert_error(&reply, status, code);
    }

    let mut field_cases: Vec<(Value, &str)> = vec![
        (json!({"url": "https://example.com/", "topics": ["t"]}), "invalid_request"), // no name
        (json!({"name": "n", "topics": ["t"]}), "invalid_request"),                   // no url
        (json!({"name": "n", "url": "https://example.com/"}), "invalid_request"),     // no topics
        (json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "colour": "red"}), "invalid_request"),
        (json!({"name": "n", "url": "https://example.com/", "topics": "t"}), "invalid_request"),
        (json!({"name": "n", "url": "ftp://example.com/", "topics": ["t"]}), "invalid_url"),
        (json!({"name": "n", "url": "file:///etc/passwd", "topics": ["t"]}), "invalid_url"),
        (json!({"name": "n", "url": "http://", "topics": ["t"]}), "invalid_url"),
        (json!({"name": "n", "url": "example.com/hook", "topics": ["t"]}), "invalid_url"),
        (json!({"name": "n", "url": "https://user:pw@example.com/", "topics": ["t"]}), "invalid_url"),
        (json!({"name": "n", "url": "http://169.254.169.254/latest/meta-data", "topics": ["t"]}), "forbidden_url"),
        (json!({"name": "n", "url": "http://127.0.0.1:8080/", "topics": ["t"]}), "forbidden_url"),
        (json!({"name": "n", "url": "http://10.0.0.8/", "topics": ["t"]}), "forbidden_url"),
        (json!({"name": "n", "url": "http://[::1]/", "topics": ["t"]}), "forbidden_url"),
        (json!({"name": "n", "url": "http://localhost/", "topics": ["t"]}), "forbidden_url"),
        (json!({"name": "n", "url": "https://example.com/", "topics": []}), "invalid_topics"),
        (json!({"name": "n", "url": "https://example.com/", "topics": ["has space"]}), "invalid_topic"),
        (json!({"name": "", "url": "https://example.com/", "topics": ["t"]}), "invalid_name"),
        (json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "secret": "short"}), "invalid_secret"),
        (
            json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "alert_emails": ["nope"]}),
            "invalid_alert_emails",
        ),
        (
            json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "alert_emails": "ops@example.com"}),
            "invalid_request",
        ),
        (
            json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "alert_interval_minutes": 0}),
            "invalid_alert_interval",
        ),
        (
            json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "alert_interval_minutes": -5}),
            "invalid_request",
        ),
        (
            json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "disable_after_failures": 5000}),
            "invalid_disable_after_failures",
        ),
        (
            json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "max_per_second": 0}),
            "invalid_max_per_second",
        ),
        (
            json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "max_per_second": 1.5}),
            "invalid_request",
        ),
        (
            json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "consecutive_failures": 0}),
            "invalid_request",
        ),
    ];
    field_cases.push((
        json!({"name": "n", "url": format!("https://example.com/{}", "a".repeat(2100)), "topics": ["t"]}),
        "invalid_url",
    ));
    for (body, code) in field_cases {
        let reply = h.post("/v1/tenants/acme/webhooks", body.clone()).await;
        assert_error(&reply, status_of(code), code);
        if code == "invalid_request" {
            let message = reply.body["error"]["message"].as_str().expect("message");
            assert!(
                ["missing field", "unknown field", "invalid type", "invalid value"].iter().any(|m| message.contains(m)),
                "the message says what is wrong: {message}"
            );
        }
    }

    // Oversized body: 413, whatever its content.
    let big =
        json!({"name": "n", "url": "https://example.com/", "topics": ["t"], "description": "x".repeat(MAX_BODY_BYTES)});
    assert_error(&h.post("/v1/tenants/acme/webhooks", big).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Not JSON by content type: 415.
    let form = [("authorization", auth.as_str()), ("content-type", "application/x-www-form-urlencoded")];
    let reply = h.raw("POST", "/v1/tenants/acme/webhooks", &form, b"name=n".to_vec()).await;
    assert_error(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    // A tenant id that cannot be a key.
    let reply = h.post("/v1/tenants/bad%20tenant/webhooks", valid_webhook()).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_tenant_id");

    assert_eq!(h.item_count().await, items, "nothing stored by any of these");
    let list = h.get("/v1/tenants/acme/webhooks").await;
    assert_eq!(list.body["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn unknown_webhooks_and_tenants_are_404() {
    let (h, id, items) = seeded().await;
    let missing = "wh_0190a0a0a0a07000800000000000dead";
    for (method, body) in [("GET", None), ("PATCH", Some(json!({"name": "x"}))), ("DELETE", None)] {
        for wid in [missing, "not-an-id", "wh_../../x"] {
            let reply = h.call(method, &format!("/v1/tenants/acme/webhooks/{wid}"), body.clone()).await;
            assert_error(&reply, StatusCode::NOT_FOUND, "webhook_not_found");
        }
        // The same webhook under another tenant is not found either.
        let reply = h.call(method, &format!("/v1/tenants/other/webhooks/{id}"), body.clone()).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "webhook_not_found");
    }
    assert_error(&h.get("/v1/tenants/nobody/webhooks").await, StatusCode::NOT_FOUND, "tenant_not_found");
    let reply = h.post("/v1/tenants/nobody/events", json!({"topic": "coupon_create", "data": {}})).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "tenant_not_found");
    assert_error(
        &h.get("/v1/tenants/acme/deliveries/dlv_0190a0a0a0a07000800000000000dead").await,
        StatusCode::NOT_FOUND,
        "delivery_not_found",
    );
    assert_error(&h.get("/v1/tenants/acme/deliveries/nope").await, StatusCode::NOT_FOUND, "delivery_not_found");
    assert_eq!(h.item_count().await, items, "nothing stored");
    assert!(h.drain_queue("DeliveryQueue").await.is_empty(), "nothing queued");
}

#[tokio::test]
async fn bad_patches_change_nothing() {
    let (h, id, _) = seeded().await;
    let before = h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body;
    for (body, code) in [
        (json!({"url": "gopher://example.com"}), "invalid_url"),
        (json!({"url": "http://192.168.1.1/"}), "forbidden_url"),
        (json!({"topics": []}), "invalid_topics"),
        (json!({"name": null}), "invalid_request"),
        (json!({"enabled": "yes"}), "invalid_request"),
        (json!({"secret": "tiny"}), "invalid_secret"),
        (json!({"tenant_id": "other"}), "invalid_request"),
        (json!({"name": "ok", "topics": ["bad topic"]}), "invalid_topic"),
        (json!({"alert_emails": ["a@b@c.com"]}), "invalid_alert_emails"),
        (json!({"alert_interval_minutes": 721}), "invalid_alert_interval"),
        (json!({"alert_interval_minutes": null}), "invalid_request"),
        (json!({"disable_after_failures": 1001}), "invalid_disable_after_failures"),
        (json!({"max_per_second": 10_001}), "invalid_max_per_second"),
        (json!({"max_per_second": "5"}), "invalid_request"),
        (json!({"last_alert_at": "2026-01-01T00:00:00Z"}), "invalid_request"),
        (json!({"filters": [{"field": "x", "op": "in", "value": []}]}), "invalid_filter"),
        (json!({"format": null}), "invalid_request"),
        (json!({"secret_grace_minutes": 10}), "invalid_request"),
        (json!({"secret": "a-long-enough-secret", "secret_grace_minutes": 20000}), "invalid_secret_grace"),
        (json!({"secret": "a-long-enough-secret", "secret_grace_minutes": null}), "invalid_request"),
        (json!({"format": "soap"}), "invalid_request"),
        (json!({"event_prefix": ""}), "invalid_event_prefix"),
    ] {
        let reply = h.call("PATCH", &format!("/v1/tenants/acme/webhooks/{id}"), Some(body)).await;
        assert_error(&reply, status_of(code), code);
    }
    assert_eq!(h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body, before);
}

#[tokio::test]
async fn malformed_events_are_refused_and_queue_nothing() {
    let (h, _, items) = seeded().await;
    for (body, code) in [
        (json!({"data": {}}), "invalid_request"),
        (json!({"topic": "coupon_create"}), "invalid_request"),
        (json!({"topic": "coupon_create", "data": [1, 2]}), "invalid_request"),
        (json!({"topic": "coupon_create", "data": {}, "context": 5}), "invalid_request"),
        (json!({"topic": "coupon_create", "data": {}, "extra": true}), "invalid_request"),
        (json!({"topic": "", "data": {}}), "invalid_topic"),
        (json!({"topic": "coupon_create", "data": {}, "occurred_at": "last tuesday"}), "invalid_occurred_at"),
        (json!({"id": "", "topic": "coupon_create", "data": {}}), "invalid_event_id"),
        (json!({"id": "a/b", "topic": "coupon_create", "data": {}}), "invalid_event_id"),
        // In UTC past the year 9999: no panic, a 400.
        (
            json!({"topic": "coupon_create", "data": {}, "occurred_at": "9999-12-31T23:59:59-23:59"}),
            "invalid_occurred_at",
        ),
    ] {
        assert_error(&h.post("/v1/tenants/acme/events", body).await, StatusCode::BAD_REQUEST, code);
    }
    let big = json!({"topic": "coupon_create", "data": {"blob": "x".repeat(MAX_BODY_BYTES)}});
    assert_error(&h.post("/v1/tenants/acme/events", big).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Under the body limit as sent, over it as stored: `1e15` is kept as `1000000000000000.0`.
    let numbers = vec!["1e15"; 25_000].join(",");
    let grows = format!(r#"{{"topic": "coupon_create", "data": {{"a": [{numbers}]}}}}"#);
    assert!(grows.len() < MAX_BODY_BYTES);
    let auth = format!("Bearer {}", h.key);
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let reply = h.raw("POST", "/v1/tenants/acme/events", &headers, grows.into_bytes()).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "event_too_large");
    assert_eq!(h.item_count().await, items, "no event or delivery stored");
    assert!(h.drain_queue("DeliveryQueue").await.is_empty(), "nothing queued");
}

#[tokio::test]
async fn bad_listing_parameters_routes_and_methods() {
    let (h, _, _) = seeded().await;
    assert_error(&h.get("/v1/tenants/acme/webhooks?limit=0").await, StatusCode::BAD_REQUEST, "invalid_limit");
    assert_error(&h.get("/v1/tenants/acme/webhooks?limit=many").await, StatusCode::BAD_REQUEST, "invalid_limit");
    assert_error(&h.get("/v1/tenants/acme/webhooks?cursor=%%%").await, StatusCode::BAD_REQUEST, "invalid_cursor");
    assert_error(&h.get("/v1/tenants/acme/webhooks?limit=1&limit=2").await, StatusCode::BAD_REQUEST, "invalid_query");
    assert_error(&h.get("/v1/tenants/acme/webhooks?cursor=Zm9v").await, StatusCode::BAD_REQUEST, "invalid_cursor");
    assert_error(&h.get("/v1/tenants/acme/webhooks?sort=asc").await, StatusCode::BAD_REQUEST, "invalid_query");
    assert_error(&h.get("/v1/nothing-here").await, StatusCode::NOT_FOUND, "route_not_found");
    assert_error(
        &h.call("PUT", "/v1/tenants/acme/webhooks", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn a_tenant_cannot_exceed_its_webhook_limit() {
    let h = Harness::start().await;
    for i in 0..MAX_WEBHOOKS_PER_TENANT {
        h.create_webhook("big", &format!("w{i}"), &["t"]).await;
    }
    let items = h.item_count().await;
    let reply = h.post("/v1/tenants/big/webhooks", valid_webhook()).await;
    assert_error(&reply, StatusCode::CONFLICT, "webhook_limit_reached");
    assert_eq!(h.item_count().await, items);
}

#[tokio::test]
async fn bad_test_sends_log_queries_and_recovers_are_refused() {
    let (h, id, items) = seeded().await;
    let t = "/v1/tenants/acme";
    for (path, body, status, code) in [
        (
            format!("{t}/webhooks/{id}/test"),
            json!({"payload": {"data": 5}}),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (format!("{t}/webhooks/{id}/test"), json!({"topic": ""}), StatusCode::BAD_REQUEST, "invalid_topic"),
        (format!("{t}/webhooks/{id}/test"), json!({"extra": 1}), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            format!("{t}/webhooks/wh_0190a0a0a0a07000800000000000cafe/test"),
            json!({}),
            StatusCode::NOT_FOUND,
            "webhook_not_found",
        ),
        (
            format!("{t}/deliveries/dlv_0190a0a0a0a07000800000000000beef/retry"),
            json!({}),
            StatusCode::NOT_FOUND,
            "delivery_not_found",
        ),
        (
            format!("{t}/webhooks/{id}/recover?since=9999-12-31T23:59:59-23:59"),
            json!({}),
            StatusCode::BAD_REQUEST,
            "invalid_since",
        ),
        (format!("{t}/webhooks/{id}/recover"), json!({}), StatusCode::BAD_REQUEST, "invalid_query"),
    ] {
        assert_error(&h.post(&path, body).await, status, code);
    }
    for (query, code) in
        [("limit=0", "invalid_limit"), ("cursor=Zm9v", "invalid_cursor"), ("status=lost", "invalid_status")]
    {
        let reply = h.get(&format!("{t}/webhooks/{id}/deliveries?{query}")).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, code);
    }
    assert_eq!(h.item_count().await, items, "nothing stored");
    assert!(h.drain_queue("DeliveryQueue").await.is_empty(), "nothing queued");
}

#[tokio::test]
async fn a_webhook_refused_for_its_limit_gets_no_test_request() {
    let h = Harness::start_local().await;
    let receiver = crate::receiver::Receiver::start(vec![crate::receiver::Answer::status(200)]).await;
    for i in 0..MAX_WEBHOOKS_PER_TENANT {
        h.create_webhook("full", &format!("w{i}"), &["t"]).await;
    }
    let body = json!({"name": "one too many", "url": receiver.url, "topics": ["t"]});
    let reply = h.post("/v1/tenants/full/webhooks?require_ok=true", body).await;
    assert_error(&reply, StatusCode::CONFLICT, "webhook_limit_reached");
    assert!(receiver.received().is_empty(), "no test request for a webhook that can't be saved");
}

#[tokio::test]
async fn every_json_route_refuses_broken_json_other_media_types_and_oversized_bodies() {
    let (h, id, items) = seeded().await;
    let before = h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body;
    let auth = format!("Bearer {}", h.key);
    let oversized = format!(r#"{{"topic": "coupon_create", "data": {{"x": "{}"}}}}"#, "y".repeat(MAX_BODY_BYTES));
    for (method, path) in [
        ("POST", "/v1/tenants/acme/webhooks".to_string()),
        ("POST", "/v1/tenants/acme/events".to_string()),
        ("PATCH", format!("/v1/tenants/acme/webhooks/{id}")),
        ("POST", format!("/v1/tenants/acme/webhooks/{id}/test")),
    ] {
        let json = [("authorization", auth.as_str()), ("content-type", "application/json")];
        let text = [("authorization", auth.as_str()), ("content-type", "text/plain")];
        for (headers, body, status, code) in [
            (&json, b"{,}".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
            (&json, b"\xff\xfe{}".to_vec(), StatusCode::BAD_REQUEST, "invalid_json"),
            (&text, b"{}".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            (&json, oversized.clone().into_bytes(), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        ] {
            let reply = h.raw(method, &path, headers, body).await;
            assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
            assert_eq!(reply.code(), code, "{method} {path}: {}", reply.body);
        }
    }
    assert_eq!(h.item_count().await, items, "nothing stored");
    assert!(h.drain_queue("DeliveryQueue").await.is_empty(), "nothing queued");
    assert_eq!(h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body, before, "nothing changed");
}

#[tokio::test]
async fn every_json_route_refuses_a_body_that_is_not_an_object() {
    let (h, id, items) = seeded().await;
    let before = h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body;
    let auth = format!("Bearer {}", h.key);
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    for (method, path) in [
        ("POST", "/v1/tenants/acme/webhooks".to_string()),
        ("POST", "/v1/tenants/acme/events".to_string()),
        ("PATCH", format!("/v1/tenants/acme/webhooks/{id}")),
        ("POST", format!("/v1/tenants/acme/webhooks/{id}/test")),
    ] {
        // Valid JSON all, and serde would read a struct from the arrays (by position).
        for body in [r#"[]"#, r#"["n", "https://example.com/h", ["coupon_create"]]"#, r#""x""#, "1", "null"] {
            let reply = h.raw(method, &path, &headers, body.as_bytes().to_vec()).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {path} {body}: {}", reply.body);
            assert_eq!(reply.code(), "invalid_request", "{method} {path} {body}: {}", reply.body);
            assert_eq!(reply.body["error"]["message"], "the body must be a JSON object");
        }
    }
    assert_eq!(h.item_count().await, items, "nothing stored");
    assert!(h.drain_queue("DeliveryQueue").await.is_empty(), "nothing queued");
    assert_eq!(h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body, before, "nothing changed");
}

#[tokio::test]
async fn routes_without_parameters_refuse_any_rather_than_ignore_them() {
    let (h, id, items) = seeded().await;
    let t = "/v1/tenants/acme";
    let delivery = "dlv_0190a0a0a0a07000800000000000beef";
    for (method, path) in [
        ("GET", format!("{t}/webhooks/{id}?verbose=1")),
        ("DELETE", format!("{t}/webhooks/{id}?force=true")),
        ("POST", format!("{t}/webhooks/{id}/test?require_ok=true")),
        ("POST", format!("{t}/events?dry_run=1")),
        ("GET", format!("{t}/deliveries/{delivery}?attempts=0")),
        ("POST", format!("{t}/deliveries/{delivery}/retry?now=1")),
        ("GET", "/v1/topics?lang=en".to_string()),
    ] {
        let body = (method == "POST").then(|| json!({"topic": "coupon_create", "data": {}}));
        let reply = h.call(method, &path, body).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "invalid_query");
    }
    assert_eq!(h.item_count().await, items, "nothing stored or deleted");
    assert!(h.drain_queue("DeliveryQueue").await.is_empty(), "nothing queued");
}
