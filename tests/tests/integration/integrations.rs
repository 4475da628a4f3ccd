//! Integrations (issue 13) through the real delivery path: each preset's request on the wire
//! against a loopback receiver standing in for the tool (fixed endpoints reach it through
//! `HOOKLINE_INTEGRATION_ENDPOINT_OVERRIDE`, which only a stack allowing private targets reads),
//! request templates, and the 400s that change nothing.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use hookline_api::{AwsApp, router};
use hookline_shared::config::ENV_INTEGRATION_ENDPOINT_OVERRIDE;
use hookline_shared::domain::catalog::TopicCatalog;
use hookline_shared::domain::settings::Settings;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::harness::Harness;
use crate::receiver::{Answer, Received, Receiver};

const WAIT: Duration = Duration::from_secs(10);
const KLAVIYO_KEY: &str = "pk_live_klaviyo_0123456789";

/// A stack whose API and delivery function send the tools' fixed endpoints to `tool`.
async fn stack_with_tool(tool: &Receiver) -> (Harness, tokio::task::JoinHandle<()>) {
    stack_with_tool_and(tool, &[]).await
}

/// Like `stack_with_tool`, with more deployment variables for the delivery function.
async fn stack_with_tool_and(tool: &Receiver, env: &[(&str, &str)]) -> (Harness, tokio::task::JoinHandle<()>) {
    let settings = Settings {
        allow_private_targets: true,
        integration_endpoint_override: Some(tool.base()),
        // Test sends post the topic's sample (page 000's coupon for `coupon_create`).
        catalog: Some(std::sync::Arc::new(TopicCatalog::seed())),
        ..Settings::default()
    };
    let h = Harness::start_with(settings, HashMap::new(), |sdk, config| router(AwsApp::from_config(sdk, config))).await;
    let base = tool.base();
    let mut vars = vec![(ENV_INTEGRATION_ENDPOINT_OVERRIDE, base.as_str())];
    vars.extend_from_slice(env);
    let delivery = h.start_delivery(&vars);
    (h, delivery)
}

/// Page 000's "Coupon Is Created" event: the shipped catalog's sample (built from page 001's
/// field lists), as the sending product posts it.
fn coupon_event() -> Value {
    let sample = TopicCatalog::seed().get("coupon_create").expect("coupon_create").sample.clone();
    json!({"id": "coupon-1001", "topic": "coupon_create", "occurred_at": "2023-05-18T06:40:33.472Z",
           "context": sample.context, "data": sample.data})
}

async fn create(h: &Harness, body: Value) -> Value {
    let reply = h.post("/v1/tenants/shop/webhooks", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

/// Posts the event; returns the one delivery's id.
async fn send(h: &Harness, event: Value) -> String {
    let reply = h.post("/v1/tenants/shop/events", event).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let deliveries = reply.body["deliveries"].as_array().expect("deliveries").clone();
    assert_eq!(deliveries.len(), 1, "{}", reply.body);
    deliveries[0]["id"].as_str().expect("id").to_string()
}

async fn one_request(tool: &Receiver) -> Received {
    let got = tool.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1, "the tool got one request");
    got[0].clone()
}

fn json_body(r: &Received) -> Value {
    serde_json::from_slice(&r.body).expect("a JSON body")
}

fn no_hookline_headers(r: &Received) {
    for (name, _) in r.headers.iter() {
        let n = name.as_str();
        assert!(!n.starts_with("x-hookline-") && !n.starts_with("webhook-"), "a tool gets no signature header: {n}");
    }
}

#[tokio::test]
async fn a_klaviyo_integration_delivers_a_page_000_coupon_event_as_an_events_api_request() {
    // GIVEN a Klaviyo integration created through the API, with page 002's prefix and a filter
    let tool = Receiver::start(vec![Answer::status(202)]).await;
    let (h, _delivery) = stack_with_tool(&tool).await;
    let webhook = create(
        &h,
        json!({"name": "Klaviyo", "topics": ["coupon_create"], "event_prefix": "nector_",
               "filters": [{"field": "fiat_value", "op": "gte", "value": 1}],
               "integration": {"type": "klaviyo", "api_key": KLAVIYO_KEY}}),
    )
    .await;
    // THEN the API shows where it sends and a hint of the key, never the key
    assert_eq!(webhook["url"], "https://a.klaviyo.com/api/events");
    assert_eq!(webhook["integration"]["api_key_hint"], "…6789");
    assert!(!webhook.to_string().contains(KLAVIYO_KEY), "{webhook}");

    // WHEN page 000's coupon event is sent
    let delivery_id = send(&h, coupon_event()).await;
    let got = one_request(&tool).await;

    // THEN Klaviyo gets Create Event, every field as its Events API wants it
    assert_eq!(got.method, "POST");
    assert_eq!(got.uri.path(), "/api/events");
    assert_eq!(got.uri.query(), None);
    assert_eq!(got.header("authorization"), format!("Klaviyo-API-Key {KLAVIYO_KEY}"));
    assert_eq!(got.header("revision"), "2026-10-15");
    assert_eq!(got.header("content-type"), "application/vnd.api+json");
    assert_eq!(got.header("accept"), "application/vnd.api+json");
    no_hookline_headers(&got);
    let event = coupon_event();
    let mut properties: Map<String, Value> = event["context"].as_object().expect("context").clone();
    properties.extend(event["data"].as_object().expect("data").clone());
    for profile_field in ["user_email", "user_mobile", "user_customer_id"] {
        properties.remove(profile_field);
    }
    assert_eq!(
        json_body(&got),
        json!({"data": {"type": "event", "attributes": {
            "properties": properties,
            "metric": {"data": {"type": "metric", "attributes": {"name": "nector_coupon_create"}}},
            "profile": {"data": {"type": "profile", "attributes": {
                "email": "ayush@example.com", "phone_number": "+910000000000", "external_id": "shopify-7029064106277"}}},
            "time": "2023-05-18T06:40:33.472Z",
            "unique_id": delivery_id}}})
    );
    assert_eq!(json_body(&got)["data"]["attributes"]["properties"]["value"], "TWOOFFVERYGOOD");
    // AND the delivery log says delivered, Klaviyo's 202 recorded
    let d = h.delivery_with_status("shop", &delivery_id, "delivered", WAIT).await;
    assert_eq!(d["attempts"][0]["status_code"], 202);
    // AND the webhook's filter still decides: a coupon worth 0 goes nowhere
    let mut free = coupon_event();
    free["id"] = json!("coupon-1002");
    free["data"]["fiat_value"] = json!(0);
    let reply = h.post("/v1/tenants/shop/events", free).await;
    assert_eq!(reply.body["deliveries"], json!([]), "{}", reply.body);

    // AND the key is sealed in the table, not stored in plain text
    let item = h
        .dynamodb()
        .get_item()
        .table_name(&h.config.table_name)
        .key("pk", AttributeValue::S("TENANT#shop".into()))
        .key("sk", AttributeValue::S(format!("WEBHOOK#{}", webhook["id"].as_str().expect("id"))))
        .send()
        .await
        .expect("get item")
        .item
        .expect("item");
    let integration = item["integration"].as_m().expect("a map");
    assert!(matches!(integration["api_key"], AttributeValue::B(_)), "sealed: {:?}", integration["api_key"]);
    assert_eq!(integration["type"], AttributeValue::S("klaviyo".into()));
}

#[tokio::test]
async fn a_tool_that_fails_is_retried_with_the_same_unique_id() {
    // GIVEN Klaviyo answering 503 once, then 202, and a fast retry schedule
    let tool = Receiver::start(vec![Answer::status(503), Answer::status(202)]).await;
    let (h, _delivery) =
        stack_with_tool_and(&tool, &[("HOOKLINE_RETRY_SCHEDULE", "1s"), ("HOOKLINE_RETRY_JITTER", "0")]).await;
    create(
        &h,
        json!({"name": "K", "topics": ["coupon_create"], "integration": {"type": "klaviyo", "api_key": KLAVIYO_KEY}}),
    )
    .await;
    // WHEN the coupon event is sent
    let delivery_id = send(&h, coupon_event()).await;
    // THEN it is delivered on the second attempt, the same event both times (Klaviyo dedupes
    // on `unique_id`, the delivery id)
    let d = h.delivery_with_status("shop", &delivery_id, "delivered", Duration::from_secs(20)).await;
    assert_eq!(d["attempt_count"], 2);
    let got = tool.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body, "a retry sends the same request");
    assert_eq!(json_body(&got[1])["data"]["attributes"]["unique_id"], delivery_id);
}

#[tokio::test]
async fn a_slack_integration_posts_a_readable_message() {
    // GIVEN a Slack integration whose incoming-webhook URL is the receiver
    let slack = Receiver::start(vec![Answer::status(200)]).await;
    let (h, _delivery) = stack_with_tool(&slack).await;
    let webhook = create(
        &h,
        json!({"name": "Slack", "topics": ["coupon_create"], "fields": ["user_name", "value", "fiat_value", "meta.lead_name"],
               "integration": {"type": "slack", "url": slack.url}}),
    )
    .await;
    // (the URL carries Slack's token: shown as its origin and a hint only)
    assert!(!webhook.to_string().contains("/hook"), "{webhook}");
    // WHEN the coupon event is sent
    let delivery_id = send(&h, coupon_event()).await;
    let got = one_request(&slack).await;
    // THEN Slack gets one message naming the topic and the chosen fields
    assert_eq!((got.method.as_str(), got.uri.path()), ("POST", "/hook"));
    assert_eq!(got.header("content-type"), "application/json");
    no_hookline_headers(&got);
    assert_eq!(
        json_body(&got),
        json!({"text": "*coupon_create* at 2023-05-18T06:40:33.472Z\n• *user_name*: Ayush Shukla\n• *value*: TWOOFFVERYGOOD\n• *fiat_value*: 2\n• *meta.lead_name*: Ayush Shukla"})
    );
    h.delivery_with_status("shop", &delivery_id, "delivered", WAIT).await;

    // WHEN a prefix is added on edit (page 002) THEN the next message names the prefixed event
    let path = format!("/v1/tenants/shop/webhooks/{}", webhook["id"].as_str().expect("id"));
    let patched = h.call("PATCH", &path, Some(json!({"event_prefix": "nector_"}))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let mut again = coupon_event();
    again["id"] = json!("coupon-1003");
    send(&h, again).await;
    let got = slack.wait_for(2, WAIT).await;
    let text = json_body(&got[1])["text"].as_str().expect("text").to_string();
    assert!(text.starts_with("*nector_coupon_create* at "), "{text}");
}

#[tokio::test]
async fn discord_and_segment_requests_on_the_wire() {
    let tool = Receiver::start(vec![Answer::status(200)]).await;
    let (h, _delivery) = stack_with_tool(&tool).await;
    // GIVEN a Discord webhook (its URL the receiver) and a Segment source (its fixed endpoint
    // sent to the receiver), each for its own topic
    create(
        &h,
        json!({"name": "Discord", "topics": ["order_create"], "integration": {"type": "discord", "url": tool.url}}),
    )
    .await;
    create(
        &h,
        json!({"name": "Segment", "topics": ["lead_create"], "event_prefix": "nector_",
               "integration": {"type": "segment", "write_key": "seg_write_key_1"}}),
    )
    .await;
    // WHEN an order and a lead event are sent
    let order = send(
        &h,
        json!({"topic": "order_create", "occurred_at": "2023-05-26T07:49:06Z",
        "data": {"reference_order_name": "#1028", "status": "@here pending"}}),
    )
    .await;
    let lead = send(
        &h,
        json!({"topic": "lead_create", "occurred_at": "2023-05-26T07:44:03Z",
        "context": {"user_customer_id": "shopify-1"}, "data": {"name": "Ayush"}}),
    )
    .await;
    let got = tool.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2);
    let discord = got.iter().find(|r| r.uri.path() == "/hook").expect("discord request");
    let segment = got.iter().find(|r| r.uri.path() == "/v1/track").expect("segment request");
    // THEN Discord gets a message that pings no one
    assert_eq!(
        json_body(discord),
        json!({"content": "**order\\_create** at 2023-05-26T07:49:06Z\n• **reference\\_order\\_name**: \\#1028\n• **status**: \\@here pending",
               "allowed_mentions": {"parse": []}})
    );
    // AND Segment a track call with the write key as the Basic user
    assert_eq!(segment.header("authorization"), "Basic c2VnX3dyaXRlX2tleV8xOg==");
    no_hookline_headers(segment);
    assert_eq!(
        json_body(segment),
        json!({"event": "nector_lead_create", "userId": "shopify-1", "timestamp": "2023-05-26T07:44:03Z",
               "messageId": lead, "properties": {"user_customer_id": "shopify-1", "name": "Ayush"}})
    );
    for id in [order, lead] {
        h.delivery_with_status("shop", &id, "delivered", WAIT).await;
    }
}

const TEMPLATE: &str = r#"{"kind": {{ event_type }}, "coupon": {"code": {{ data.value }}, "off": {{ data.fiat_value }}},
  "customer": {{ context.user_email }}, "at": {{ occurred_at }}, "ref": {{ delivery_id }}}"#;

#[tokio::test]
async fn a_template_webhook_sends_its_custom_body_signed() {
    // GIVEN a template integration to the tenant's own endpoint, with a custom header
    let endpoint = Receiver::start(vec![Answer::status(200)]).await;
    let (h, _delivery) = stack_with_tool(&endpoint).await;
    let webhook = create(
        &h,
        json!({"name": "Custom", "topics": ["coupon_create"], "event_prefix": "nector_",
               "secret": "a-template-secret-123", "headers": {"X-Account": "acct-42"},
               "integration": {"type": "template", "url": endpoint.url, "template": TEMPLATE}}),
    )
    .await;
    assert_eq!(webhook["integration"]["template"], TEMPLATE);
    // WHEN the coupon event is sent
    let delivery_id = send(&h, coupon_event()).await;
    let got = one_request(&endpoint).await;
    // THEN the body is the template's, and it is signed like any webhook's
    assert_eq!(
        json_body(&got),
        json!({"kind": "nector_coupon_create", "coupon": {"code": "TWOOFFVERYGOOD", "off": 2},
               "customer": "ayush@example.com", "at": "2023-05-18T06:40:33.472Z", "ref": delivery_id})
    );
    assert_eq!(got.header("content-type"), "application/json");
    assert_eq!(got.header("x-account"), "acct-42");
    assert_eq!(got.header("x-hookline-topic"), "nector_coupon_create");
    assert_eq!(got.header("x-hookline-delivery-id"), delivery_id);
    let hmac = hookline_shared::outbound::signatures::body_hmac_hex("a-template-secret-123", &got.body);
    assert_eq!(got.header("x-hookline-webhook-hmac"), hmac);
}

#[tokio::test]
async fn template_output_that_is_not_json_fails_the_attempt_with_a_clear_error() {
    // GIVEN a template that renders text (valid syntax, so it was saved)
    let endpoint = Receiver::start(vec![Answer::status(200)]).await;
    let (h, _delivery) = stack_with_tool(&endpoint).await;
    create(
        &h,
        json!({"name": "Broken", "topics": ["coupon_create"],
               "integration": {"type": "template", "url": endpoint.url, "template": "code={{ data.value }}"}}),
    )
    .await;
    // WHEN an event is sent
    let delivery_id = send(&h, coupon_event()).await;
    // THEN the attempt fails without a request, its reason in the delivery log, and it retries
    let d = h.delivery_with_status("shop", &delivery_id, "retrying", WAIT).await;
    let error = d["attempts"][0]["error"].as_str().expect("error");
    assert!(error.contains("template output is not valid JSON"), "{error}");
    assert!(error.contains("code=\\\"TWOOFFVERYGOOD\\\""), "{error}");
    assert_eq!(d["attempts"][0]["status_code"], Value::Null);
    assert_eq!(d["last_error"], error);
    assert!(endpoint.received().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_test_send_shows_the_exact_request_the_tool_gets() {
    let tool = Receiver::start(vec![Answer::status(202)]).await;
    let (h, _delivery) = stack_with_tool(&tool).await;
    let webhook = create(
        &h,
        json!({"name": "Klaviyo", "topics": ["coupon_create"], "integration": {"type": "klaviyo", "api_key": KLAVIYO_KEY}}),
    )
    .await;
    // WHEN a test is sent (the topic's sample by default)
    let reply =
        h.post(&format!("/v1/tenants/shop/webhooks/{}/test", webhook["id"].as_str().expect("id")), json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let got = one_request(&tool).await;
    // THEN the report shows the request as the tool got it, the key as a hint
    let shown = &reply.body["request"];
    assert_eq!(reply.body["ok"], true);
    assert_eq!(shown["method"], "POST");
    assert_eq!(shown["url"], format!("{}/api/events", tool.base()));
    assert_eq!(shown["headers"]["authorization"], "…6789");
    assert_eq!(shown["headers"]["revision"], "2026-10-15");
    assert_eq!(shown["body"].as_str().expect("body").as_bytes(), &got.body[..]);
    assert!(!reply.body.to_string().contains(KLAVIYO_KEY));
}

#[tokio::test]
async fn bad_integrations_are_refused_and_change_nothing() {
    let h = Harness::start().await;
    for (body, code, says) in [
        (json!({"integration": {"type": "zapier"}}), "invalid_integration", "zapier"),
        (json!({"integration": {"type": "klaviyo"}}), "invalid_integration", "api_key"),
        (json!({"integration": {"type": "klaviyo", "api_key": "k", "list": "x"}}), "invalid_integration", "list"),
        (json!({"integration": {"type": "slack", "url": "http://10.0.0.1/x"}}), "forbidden_url", "10.0.0.0/8"),
        (
            json!({"integration": {"type": "template", "url": "https://example.com/", "template": "{\"a\": {{ data.x }"}}),
            "invalid_template",
            "line 1, column",
        ),
        (
            json!({"url": "https://example.com/", "integration": {"type": "klaviyo", "api_key": "k"}}),
            "invalid_request",
            "url",
        ),
        (
            json!({"auth": {"type": "basic", "username": "u", "password": "p"},
                   "integration": {"type": "segment", "write_key": "k"}}),
            "invalid_integration",
            "auth",
        ),
        (json!({}), "invalid_request", "missing field `url`"),
    ] {
        // WHEN a webhook with a bad integration is created
        let mut request = json!({"name": "n", "topics": ["coupon_create"]});
        for (k, v) in body.as_object().expect("object") {
            request[k] = v.clone();
        }
        let reply = h.post("/v1/tenants/shop/webhooks", request.clone()).await;
        // THEN it is a 400 with its code and reason (422 for a URL in a network Hookline does
        // not send to: well-formed, refused on its merits)
        let status = if code == "forbidden_url" { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::BAD_REQUEST };
        assert_eq!(reply.status, status, "{request}");
        assert_eq!(reply.code(), code, "{request}: {}", reply.body);
        assert!(reply.body["error"]["message"].as_str().expect("message").contains(says), "{}", reply.body);
    }
    // AND nothing was stored
    assert_eq!(h.get("/v1/tenants/shop/webhooks").await.code(), "tenant_not_found");

    // GIVEN a stored Klaviyo webhook, a change that breaks its rules is refused too
    let wh = create(
        &h,
        json!({"name": "k", "topics": ["coupon_create"], "integration": {"type": "klaviyo", "api_key": "k"}}),
    )
    .await;
    let path = format!("/v1/tenants/shop/webhooks/{}", wh["id"].as_str().expect("id"));
    // (409 where the change is refused only because of what is stored: a url or custom headers
    // under a stored tool integration)
    for (change, status, code) in [
        (json!({"url": "https://example.com/"}), StatusCode::CONFLICT, "invalid_request"),
        (json!({"headers": {"X-A": "b"}}), StatusCode::CONFLICT, "invalid_integration"),
        (json!({"integration": null}), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            json!({"integration": {"type": "segment", "write_key": "k"}, "headers": {"X-A": "b"}}),
            StatusCode::BAD_REQUEST,
            "invalid_integration",
        ),
        (
            json!({"integration": {"type": "template", "url": "https://example.com/", "template": "{% if %}"}}),
            StatusCode::BAD_REQUEST,
            "invalid_template",
        ),
    ] {
        let reply = h.call("PATCH", &path, Some(change.clone())).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{change}: {}", reply.body);
    }
    // AND a change to a raw webhook with a url in the same change goes through
    let raw = h.call("PATCH", &path, Some(json!({"integration": null, "url": "https://example.com/raw"}))).await;
    assert_eq!(raw.status, StatusCode::OK, "{}", raw.body);
    assert_eq!(raw.body["url"], "https://example.com/raw");
    assert_eq!(raw.body["integration"], Value::Null);
}

#[tokio::test]
async fn the_integration_catalog_lists_each_preset_with_its_settings_and_an_example() {
    let h = Harness::start().await;
    let reply = h.get("/v1/integrations").await;
    assert_eq!(reply.status, StatusCode::OK);
    let data = reply.body["data"].as_array().expect("data");
    let ids: Vec<&str> = data.iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(ids, ["klaviyo", "slack", "discord", "segment", "template"]);
    let klaviyo = &data[0];
    let api_key =
        klaviyo["settings"].as_array().expect("settings").iter().find(|s| s["name"] == "api_key").expect("api_key");
    assert_eq!(api_key["label"], "API key", "what the console's form shows");
    assert_eq!((api_key["required"].clone(), api_key["secret"].clone()), (json!(true), json!(true)));
    assert_eq!(klaviyo["example"]["url"], "https://a.klaviyo.com/api/events");
    assert_eq!(
        klaviyo["example"]["body"]["data"]["attributes"]["metric"]["data"]["attributes"]["name"],
        "coupon_create"
    );
}
