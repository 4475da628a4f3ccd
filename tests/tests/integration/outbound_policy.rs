//! What a webhook may point Hookline at (issue 17): targets in the special-purpose address
//! ranges, reserved or repeated outbound header names, alert addresses SES cannot send to, and
//! hints of short values. Each refusal is a 400 with a stable code that changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Harness, Reply};

/// A URL in a network Hookline does not send to is well-formed but refused on its merits: 422.
fn status_of(code: &str) -> StatusCode {
    if code == "forbidden_url" { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_REQUEST }
}

fn assert_refused(reply: &Reply, code: &str, what: &str) {
    assert_eq!(reply.status, status_of(code), "{what}: {}", reply.body);
    assert_eq!(reply.code(), code, "{what}: {}", reply.body);
    assert!(!reply.body["error"]["message"].as_str().unwrap_or_default().is_empty(), "{what}: a message");
}

fn assert_conflict(reply: &Reply, code: &str, what: &str) {
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, code), "{what}: {}", reply.body);
}

fn webhook_with(extra: Value) -> Value {
    let mut body = json!({"name": "n", "url": "https://example.com/hook", "topics": ["coupon_create"]});
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

/// A production stack (private targets off) with one webhook, its JSON and the item count.
async fn seeded(extra: Value) -> (Harness, String, Value, usize) {
    let h = Harness::start().await;
    let created = h.post("/v1/tenants/acme/webhooks", webhook_with(extra)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_string();
    let before = h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body;
    let items = h.item_count().await;
    (h, id, before, items)
}

/// Every body is refused at create and as a change, and nothing is stored or changed.
async fn refused_everywhere(cases: &[(Value, &str)], seed: Value) {
    let (h, id, before, items) = seeded(seed).await;
    let path = format!("/v1/tenants/acme/webhooks/{id}");
    for (change, code) in cases {
        let reply = h.post("/v1/tenants/acme/webhooks", webhook_with(change.clone())).await;
        assert_refused(&reply, code, &format!("create with {change}"));
        let reply = h.call("PATCH", &path, Some(change.clone())).await;
        assert_refused(&reply, code, &format!("update with {change}"));
    }
    assert_eq!(h.item_count().await, items, "nothing stored");
    assert_eq!(h.get(&path).await.body, before, "nothing changed");
}

#[tokio::test]
async fn special_purpose_targets_are_refused_at_create_and_update() {
    // GIVEN a deployment with private targets off, and the URLs issue 17 found accepted
    let urls = [
        "http://[2002:7f00:1::1]/",                       // 6to4 of 127.0.0.1
        "http://[2002:a9fe:a9fe::]/latest/meta-data",     // 6to4 of the metadata service
        "http://[2001::1]/",                              // Teredo
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", // Teredo, client 127.0.0.1
        "http://[::ffff:8.8.8.8]/",                       // IPv4-mapped
        "http://[64:ff9b::7f00:1]/",                      // NAT64 of 127.0.0.1
        "http://[100::1]/",                               // discard-only
        "http://[3fff::1]/",                              // documentation
        "http://[5f00::1]/",                              // SRv6 SIDs
        "http://192.88.99.1/",                            // deprecated 6to4 relay anycast
        "http://198.18.0.1/",                             // benchmarking
        "http://[fec0::1]/",                              // site-local
    ];
    let cases: Vec<(Value, &str)> = urls.iter().map(|u| (json!({"url": u}), "forbidden_url")).collect();
    // WHEN each is sent as a new webhook and as a change of one
    // THEN each is a 422 forbidden_url, and nothing is stored or changed
    refused_everywhere(&cases, json!({})).await;
}

#[tokio::test]
async fn a_refused_target_names_its_range() {
    let h = Harness::start().await;
    let reply = h.post("/v1/tenants/acme/webhooks", webhook_with(json!({"url": "http://[2002:7f00:1::1]/"}))).await;
    assert_refused(&reply, "forbidden_url", "6to4 loopback");
    let message = reply.body["error"]["message"].as_str().expect("message");
    assert!(message.contains("2002::/16") && message.contains("127.0.0.0/8"), "{message}");
    // AND a 6to4 address of a public IPv4 address is a public address
    let reply = h.post("/v1/tenants/acme/webhooks", webhook_with(json!({"url": "http://[2002:808:808::1]/"}))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

#[tokio::test]
async fn reserved_and_repeated_header_names_are_refused() {
    // GIVEN a webhook with an API-key auth header `X-Api-Key`
    let seed = json!({"auth": {"type": "api_key", "header": "X-Api-Key", "value": "key-0123456789"}});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"headers": {"TE": "trailers"}}), "invalid_headers"),
        (json!({"headers": {"Upgrade": "websocket"}}), "invalid_headers"),
        (json!({"headers": {"expect": "100-continue"}}), "invalid_headers"),
        (json!({"headers": {"Content-Encoding": "gzip"}}), "invalid_headers"),
        (json!({"headers": {"Forwarded": "for=10.0.0.1"}}), "invalid_headers"),
        (json!({"headers": {"Proxy-Authorization": "Basic eA=="}}), "invalid_headers"),
        (json!({"headers": {"X-Forwarded-For": "10.0.0.1"}}), "invalid_headers"),
        (json!({"headers": {"X-Tenant": "a", "x-tenant": "b"}}), "invalid_headers"),
        (json!({"auth": {"type": "api_key", "header": "Upgrade", "value": "v"}}), "invalid_auth"),
        (json!({"auth": {"type": "api_key", "header": "x-forwarded-host", "value": "v"}}), "invalid_auth"),
        // A custom header of the auth's own name, in one request.
        (
            json!({"auth": {"type": "basic", "username": "u", "password": "p"}, "headers": {"authorization": "x"}}),
            "invalid_headers",
        ),
        (
            json!({"auth": {"type": "api_key", "header": "X-Key", "value": "v"}, "headers": {"x-key": "x"}}),
            "invalid_headers",
        ),
    ];
    // WHEN each is sent as a new webhook and as a change of the one stored
    // THEN each is a 400 with its code, and nothing is stored or changed
    refused_everywhere(&cases, seed.clone()).await;

    // AND a change of the custom headers alone may not take the stored auth's header name: it
    // conflicts with the webhook as stored (409, the rule's code)
    let (h, id, before, _) = seeded(seed).await;
    let path = format!("/v1/tenants/acme/webhooks/{id}");
    let reply = h.call("PATCH", &path, Some(json!({"headers": {"x-api-key": "other"}}))).await;
    assert_conflict(&reply, "invalid_headers", "a header of the stored auth's name");
    // AND a change of the auth alone may not take a stored custom header's name
    let reply = h.call("PATCH", &path, Some(json!({"headers": {"X-Token": "t-0123456789"}, "auth": null}))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let with_header = h.get(&path).await.body;
    let reply =
        h.call("PATCH", &path, Some(json!({"auth": {"type": "api_key", "header": "x-token", "value": "v"}}))).await;
    assert_conflict(&reply, "invalid_headers", "an auth of a stored header's name");
    assert_eq!(h.get(&path).await.body, with_header, "nothing changed");
    assert_ne!(with_header, before);
}

#[tokio::test]
async fn alert_addresses_ses_cannot_send_to_are_refused() {
    // GIVEN addresses SES cannot send to (no SMTPUTF8)
    let cases: Vec<(Value, &str)> = vec![
        (json!({"alert_emails": ["jörg@example.com"]}), "invalid_alert_emails"),
        (json!({"alert_emails": ["ops@example.com", "опс@example.com"]}), "invalid_alert_emails"),
        (json!({"alert_emails": ["ops@exämple.com"]}), "invalid_alert_emails"),
    ];
    // THEN each is a 400 at create and update, and nothing is stored or changed
    refused_everywhere(&cases, json!({"alert_emails": ["ops@example.com"]})).await;
}

#[tokio::test]
async fn short_values_are_hinted_without_their_characters() {
    // GIVEN a webhook whose password and custom header value are short, and an API key that is not
    let h = Harness::start().await;
    let created = h
        .post(
            "/v1/tenants/acme/webhooks",
            webhook_with(json!({"auth": {"type": "basic", "username": "netcore", "password": "pw1"},
                                "headers": {"X-Account": "ac-42", "X-Long": "a-long-value-9876"}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id");
    // WHEN the webhook is read back
    let got = h.get(&format!("/v1/tenants/acme/webhooks/{id}")).await.body;
    // THEN the short values show none of their characters, the long one its last four
    assert_eq!(got["auth"]["password_hint"], "…", "{got}");
    assert_eq!(got["headers"]["X-Account"], "…", "{got}");
    assert_eq!(got["headers"]["X-Long"], "…9876", "{got}");
    for short in ["pw1", "ac-42"] {
        assert!(!got.to_string().contains(short), "{short} is not shown");
    }
    let answered = format!("{} {}", created.body["auth"], created.body["headers"]);
    assert!(!answered.contains("pw1") && !answered.contains("ac-42"), "nor in the create answer: {answered}");
}
