//! Secrets sealed at rest (moto's KMS and DynamoDB): the table holds no signing secret,
//! endpoint-auth value or header value in plain text; a sealed value moved to another webhook
//! is refused; items written before sealing still deliver and are sealed on their next write;
//! and the delivery function calls KMS once per instance, not per message.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use hookline_delivery::DeliveryFunction;
use hookline_shared::config::DeliveryConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;
use crate::receiver::{Answer, Receiver};

const FAST: &[(&str, &str)] = &[("HOOKLINE_RETRY_SCHEDULE", "1s"), ("HOOKLINE_RETRY_JITTER", "0")];
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEW_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

type Item = HashMap<String, AttributeValue>;

/// The webhook's item as stored, read with the SDK (not through Hookline).
async fn raw_item(h: &Harness, tenant: &str, webhook_id: &str) -> Item {
    h.dynamodb()
        .get_item()
        .table_name(&h.config.table_name)
        .key("pk", AttributeValue::S(format!("TENANT#{tenant}")))
        .key("sk", AttributeValue::S(format!("WEBHOOK#{webhook_id}")))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
        .expect("item exists")
}

/// Sets raw attributes of a webhook's item, bypassing Hookline (an old version's write, or
/// someone with write access to the table).
async fn set_raw(h: &Harness, tenant: &str, webhook_id: &str, attributes: Item) {
    let mut update = h
        .dynamodb()
        .update_item()
        .table_name(&h.config.table_name)
        .key("pk", AttributeValue::S(format!("TENANT#{tenant}")))
        .key("sk", AttributeValue::S(format!("WEBHOOK#{webhook_id}")));
    let mut sets = Vec::new();
    for (name, value) in attributes {
        sets.push(format!("#{name} = :{name}"));
        update = update
            .expression_attribute_names(format!("#{name}"), &name)
            .expression_attribute_values(format!(":{name}"), value);
    }
    update.update_expression(format!("SET {}", sets.join(", "))).send().await.expect("raw update");
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn is_sealed(v: Option<&AttributeValue>) -> bool {
    matches!(v, Some(AttributeValue::B(_)))
}

async fn create(h: &Harness, tenant: &str, body: Value) -> String {
    let reply = h.post(&format!("/v1/tenants/{tenant}/webhooks"), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_string()
}

async fn send_event(h: &Harness, tenant: &str, n: u32) -> Value {
    let reply =
        h.post(&format!("/v1/tenants/{tenant}/events"), json!({"topic": "order_create", "data": {"n": n}})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn the_raw_item_holds_none_of_the_secret_values() {
    // GIVEN webhooks with a signing secret, Basic auth, custom headers and a bearer token,
    // one of them rotated with a grace period (so it also holds the previous secret)
    let h = Harness::start().await;
    let basic = create(
        &h,
        "vault",
        json!({"name": "basic", "url": "https://basic.example.com/hook", "topics": ["order_create"], "secret": SECRET,
               "auth": {"type": "basic", "username": "hookline", "password": "basic-pa55word-value"},
               "headers": {"x-tenant-token": "header-value-one", "x-other": "header-value-two"}}),
    )
    .await;
    let rotated = h
        .call(
            "PATCH",
            &format!("/v1/tenants/vault/webhooks/{basic}"),
            Some(json!({"secret": NEW_SECRET, "secret_grace_minutes": 60})),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let bearer = create(
        &h,
        "vault",
        json!({"name": "bearer", "url": "https://bearer.example.com/hook", "topics": ["order_create"],
               "auth": {"type": "api_key", "header": "Authorization", "value": "Bearer bearer-token-value"}}),
    )
    .await;

    // WHEN the table is read directly, every item of it
    let scan = h.dynamodb().scan().table_name(&h.config.table_name).send().await.expect("scan");
    let everything = format!("{:?}", scan.items.unwrap_or_default());

    // THEN no secret value is in it, in any item
    for value in [
        SECRET,
        NEW_SECRET,
        "basic-pa55word-value",
        "header-value-one",
        "header-value-two",
        "bearer-token-value",
        // Nor any recognisable part of them.
        "MfKQ9r8GKYqrTwjUPD8",
        "pa55word",
    ] {
        assert!(!everything.contains(value), "{value} is readable in the table");
    }
    // AND each secret attribute is a sealed (Binary) value; names and usernames stay readable
    let item = raw_item(&h, "vault", &basic).await;
    assert!(is_sealed(item.get("secret")), "secret sealed");
    assert!(is_sealed(item.get("previous_secret")), "previous secret sealed");
    let auth = item["auth"].as_m().expect("auth map");
    assert!(is_sealed(auth.get("password")));
    assert_eq!(auth.get("username"), Some(&s("hookline")));
    let headers = item["headers"].as_m().expect("headers map");
    assert!(is_sealed(headers.get("x-tenant-token")) && is_sealed(headers.get("x-other")));
    let item = raw_item(&h, "vault", &bearer).await;
    assert!(is_sealed(item["auth"].as_m().expect("auth").get("value")));
    assert!(is_sealed(item.get("secret")), "a generated secret is sealed too");
    // AND the API still shows the hints, read through the seal
    let shown = h.get(&format!("/v1/tenants/vault/webhooks/{basic}")).await.body;
    let hint = |v: &Value| v.as_str().unwrap_or_default().to_string();
    assert!(hint(&shown["auth"]["password_hint"]).ends_with("alue"), "{shown}");
    assert!(hint(&shown["secret_hint"]).ends_with(&NEW_SECRET[NEW_SECRET.len() - 4..]), "{shown}");
}

#[tokio::test]
async fn a_sealed_value_moved_to_another_webhook_is_refused() {
    // GIVEN two tenants' webhooks, an event already queued for the second, and its receiver
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let source =
        create(&h, "alpha", json!({"name": "a", "url": receiver.url, "topics": ["order_create"], "secret": SECRET}))
            .await;
    let target = create(&h, "beta", json!({"name": "b", "url": receiver.url, "topics": ["order_create"]})).await;
    send_event(&h, "beta", 1).await;
    let queued = h.drain_queue_raw("DeliveryQueue").await;
    assert_eq!(queued.len(), 1);

    // WHEN someone with write access to the table copies alpha's sealed secret into beta's item
    let stolen = raw_item(&h, "alpha", &source).await["secret"].clone();
    assert!(is_sealed(Some(&stolen)));
    set_raw(&h, "beta", &target, HashMap::from([("secret".to_string(), stolen)])).await;

    // THEN the API refuses to use it: a clear 409, no panic, no secret in the answer
    let path = format!("/v1/tenants/beta/webhooks/{target}");
    let got = h.get(&path).await;
    assert_eq!((got.status, got.code()), (StatusCode::CONFLICT, "secret_unreadable"), "{}", got.body);
    assert!(got.body["error"]["message"].as_str().expect("message").contains(&target));
    assert!(!got.body.to_string().contains(SECRET));
    let listed = h.get("/v1/tenants/beta/webhooks").await;
    assert_eq!(listed.code(), "secret_unreadable");
    // AND the tenant's events are still accepted and fanned out: fan-out never opens secrets
    // (the delivery function, which does, holds the delivery back below)
    let accepted = h.post("/v1/tenants/beta/events", json!({"topic": "order_create", "data": {"n": 2}})).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_eq!(accepted.body["deliveries"].as_array().map(Vec::len), Some(1), "{}", accepted.body);
    // AND the delivery function does not sign with it: the message is retried, nothing sent
    let vars = HashMap::from([
        ("HOOKLINE_TABLE", h.config.table_name.clone()),
        ("HOOKLINE_DELIVERY_QUEUE_URL", h.config.delivery_queue_url.clone()),
        ("HOOKLINE_ALLOW_PRIVATE_TARGETS", "true".to_string()),
        ("HOOKLINE_SECRETS_KEY", h.config.secrets_key.clone()),
    ]);
    let config = DeliveryConfig::from_lookup(|name| vars.get(name).cloned()).expect("config");
    let function = DeliveryFunction::from_config(&h.sdk, &config).expect("function");
    let event: SqsEvent = serde_json::from_value(json!({"Records": [{
        "messageId": "moved-1", "body": queued[0], "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {}
    }]}))
    .expect("SQS event");
    let response = function.handle(event).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["moved-1"], "left to retry");
    assert!(receiver.received().is_empty(), "nothing was signed with another webhook's secret");
    // AND alpha's own webhook is untouched
    assert_eq!(h.get(&format!("/v1/tenants/alpha/webhooks/{source}")).await.status, StatusCode::OK);

    // WHEN beta's secret is set again, the unreadable one not kept as the previous secret
    let repaired = h.call("PATCH", &path, Some(json!({"secret": NEW_SECRET, "secret_grace_minutes": 0}))).await;

    // THEN the webhook reads again
    assert_eq!(repaired.status, StatusCode::OK, "{}", repaired.body);
    assert_eq!(h.get(&path).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_altered_wrapped_key_is_refused_as_unreadable_not_as_an_outage() {
    // GIVEN a webhook whose sealed secret has one byte of its wrapped data key altered
    let h = Harness::start().await;
    let body = json!({"name": "a", "url": "https://a.example.com/h", "topics": ["order_create"]});
    let id = create(&h, "tamper", body).await;
    let Some(AttributeValue::B(blob)) = raw_item(&h, "tamper", &id).await.get("secret").cloned() else {
        panic!("sealed secret")
    };
    let mut bytes = blob.into_inner();
    let wrapped_end = 3 + usize::from(u16::from_be_bytes([bytes[1], bytes[2]]));
    bytes[wrapped_end - 1] ^= 0x01;
    let altered = AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(bytes));
    set_raw(&h, "tamper", &id, HashMap::from([("secret".to_string(), altered)])).await;

    // WHEN it is read
    let got = h.get(&format!("/v1/tenants/tamper/webhooks/{id}")).await;

    // THEN KMS's refusal is the webhook's 409, not a 503 to retry
    assert_eq!((got.status, got.code()), (StatusCode::CONFLICT, "secret_unreadable"), "{}", got.body);
}

#[tokio::test]
async fn a_plain_text_item_written_before_sealing_still_delivers_and_is_sealed_on_its_next_write() {
    // GIVEN a webhook whose item holds its secret, Basic auth and a header in plain text, as
    // items written before sealing do
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let id = create(
        &h,
        "legacy",
        json!({"name": "old", "url": receiver.url, "topics": ["order_create"], "secret": SECRET,
               "auth": {"type": "basic", "username": "u", "password": "legacy-password"},
               "headers": {"x-token": "legacy-header"}}),
    )
    .await;
    let auth = AttributeValue::M(HashMap::from([
        ("type".to_string(), s("basic")),
        ("username".to_string(), s("u")),
        ("password".to_string(), s("legacy-password")),
    ]));
    let headers = AttributeValue::M(HashMap::from([("x-token".to_string(), s("legacy-header"))]));
    set_raw(
        &h,
        "legacy",
        &id,
        HashMap::from([
            ("secret".to_string(), s(SECRET)),
            ("auth".to_string(), auth),
            ("headers".to_string(), headers),
        ]),
    )
    .await;
    h.start_delivery(FAST);

    // WHEN an event is delivered
    send_event(&h, "legacy", 1).await;
    let got = receiver.wait_for(1, Duration::from_secs(20)).await;

    // THEN it is signed with the plain secret and carries the plain credentials
    let r = &got[0];
    standardwebhooks::Webhook::new(SECRET).expect("secret").verify(&r.body, &r.headers).expect("signature verifies");
    assert_eq!(r.header("x-token"), "legacy-header");
    let basic = base64::engine::general_purpose::STANDARD.encode("u:legacy-password");
    assert_eq!(r.header("authorization"), format!("Basic {basic}"));
    // AND reading did not rewrite it
    assert_eq!(raw_item(&h, "legacy", &id).await.get("secret"), Some(&s(SECRET)));

    // WHEN it is next written, whatever the change
    let path = format!("/v1/tenants/legacy/webhooks/{id}");
    let renamed = h.call("PATCH", &path, Some(json!({"name": "renamed"}))).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);

    // THEN every secret in it is sealed, and it still delivers with the same credentials
    let item = raw_item(&h, "legacy", &id).await;
    assert!(is_sealed(item.get("secret")), "secret sealed: {:?}", item.get("secret"));
    assert!(is_sealed(item["auth"].as_m().expect("auth").get("password")));
    assert!(is_sealed(item["headers"].as_m().expect("headers").get("x-token")));
    assert!(!format!("{item:?}").contains("legacy-"), "nothing plain left");
    send_event(&h, "legacy", 2).await;
    let got = receiver.wait_for(2, Duration::from_secs(20)).await;
    let r = &got[1];
    standardwebhooks::Webhook::new(SECRET).expect("secret").verify(&r.body, &r.headers).expect("signature verifies");
    assert_eq!((r.header("x-token"), r.header("authorization")), ("legacy-header", format!("Basic {basic}").as_str()));
}

#[tokio::test]
async fn a_rotation_of_a_plain_text_secret_seals_the_previous_one_too() {
    // GIVEN a webhook whose secret is stored in plain text
    let h = Harness::start_local().await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let id =
        create(&h, "legacy", json!({"name": "old", "url": receiver.url, "topics": ["order_create"], "secret": SECRET}))
            .await;
    set_raw(&h, "legacy", &id, HashMap::from([("secret".to_string(), s(SECRET))])).await;

    // WHEN the secret is rotated with a grace period (the store copies the old one over)
    let path = format!("/v1/tenants/legacy/webhooks/{id}");
    let rotated = h.call("PATCH", &path, Some(json!({"secret": NEW_SECRET, "secret_grace_minutes": 60}))).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);

    // THEN both the new and the previous secret are sealed
    let item = raw_item(&h, "legacy", &id).await;
    assert!(is_sealed(item.get("secret")) && is_sealed(item.get("previous_secret")), "{item:?}");
    // AND a delivery is signed with both, each verifying
    h.start_delivery(FAST);
    send_event(&h, "legacy", 1).await;
    let r = &receiver.wait_for(1, Duration::from_secs(20)).await[0];
    for secret in [SECRET, NEW_SECRET] {
        standardwebhooks::Webhook::new(secret).expect("secret").verify(&r.body, &r.headers).expect(secret);
    }
}

#[tokio::test]
async fn the_operators_one_off_seals_every_plain_text_webhook_now() {
    // GIVEN two webhooks in plain text (written before sealing) and one sealed
    let h = Harness::start().await;
    let body = |name: &str| json!({"name": name, "url": "https://x.example.com/h", "topics": ["order_create"]});
    let (old1, old2, new) =
        (create(&h, "ops", body("a")).await, create(&h, "ops", body("b")).await, create(&h, "ops", body("c")).await);
    for id in [&old1, &old2] {
        set_raw(&h, "ops", id, HashMap::from([("secret".to_string(), s(SECRET))])).await;
    }
    let sealed_before = raw_item(&h, "ops", &new).await["secret"].clone();

    // WHEN the operator's one-off runs (`hookline-admin seal-secrets`)
    let sealed = h.store().seal_plain_webhooks().await.expect("seal");

    // THEN both plain ones are sealed, the sealed one untouched, and a second run finds none
    assert_eq!(sealed, 2);
    for id in [&old1, &old2] {
        assert!(is_sealed(raw_item(&h, "ops", id).await.get("secret")));
        assert_eq!(h.get(&format!("/v1/tenants/ops/webhooks/{id}")).await.status, StatusCode::OK);
    }
    assert_eq!(raw_item(&h, "ops", &new).await["secret"], sealed_before);
    assert_eq!(h.store().seal_plain_webhooks().await.expect("again"), 0);
}

#[tokio::test]
async fn deliveries_call_kms_once_per_instance_not_per_message() {
    // GIVEN a stack recording each function's AWS calls, and two webhooks with sealed secrets,
    // auth and headers
    let h = Harness::start_recording(HashMap::new()).await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    for name in ["one", "two"] {
        create(
            &h,
            "kms",
            json!({"name": name, "url": receiver.url, "topics": ["order_create"],
                   "auth": {"type": "basic", "username": "u", "password": "p-123456"}, "headers": {"x-a": "b-123456"}}),
        )
        .await;
    }
    h.start_delivery(FAST);

    // WHEN 10 events (20 deliveries, in several SQS batches) are delivered
    const EVENTS: u32 = 10;
    for n in 0..EVENTS {
        send_event(&h, "kms", n).await;
    }
    receiver.wait_for(20, Duration::from_secs(60)).await;

    // THEN the delivery function unwrapped the one data key once, and made no other KMS call
    let kms = |function: &str| -> Vec<(String, u64)> {
        h.calls[function].counts().into_iter().filter(|(op, _)| op.starts_with("kms:")).collect()
    };
    assert_eq!(kms("delivery"), [("kms:Decrypt".to_string(), 1)], "delivery: {:?}", h.calls["delivery"].counts());
    // AND the API generated one data key for both webhooks and opened its own without KMS
    assert_eq!(kms("api"), [("kms:GenerateDataKey".to_string(), 1)], "api: {:?}", h.calls["api"].counts());
}
