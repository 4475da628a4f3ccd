//! Limits that hold under concurrency: the webhooks-per-tenant cap (a counter on the tenant
//! marker, taken in the create's transaction) and the per-tenant rate quotas (a conditional
//! counter per window), each hit by concurrent requests.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use hookline_api::{AwsApp, router};
use hookline_shared::domain::limits::MAX_WEBHOOKS_PER_TENANT;
use hookline_shared::domain::quota::{Quotas, RateQuota};
use hookline_shared::domain::settings::Settings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Harness;
use crate::receiver::{Answer, Receiver};

async fn start(settings: Settings) -> Harness {
    Harness::start_with(settings, HashMap::new(), |sdk, config| router(AwsApp::from_config(sdk, config))).await
}

/// A window no test crosses (it ends in 2106): what one window admits, without flakes at a
/// second's boundary. The deployed windows (1 s, 60 s) are the same code with another length.
const ONE_WINDOW: Duration = Duration::from_secs(u32::MAX as u64);

/// Sends `n` requests at once; each answer's status, code and `Retry-After`.
async fn concurrently(
    h: &Harness,
    n: usize,
    path: &str,
    body: impl Fn(usize) -> Value,
) -> Vec<(StatusCode, Value, Option<String>)> {
    let requests = (0..n).map(|i| {
        let req = h.http.post(format!("{}{path}", h.base)).bearer_auth(&h.key).json(&body(i));
        async move {
            let res = req.send().await.expect("request");
            let status = res.status();
            let retry_after = res.headers().get("retry-after").map(|v| v.to_str().expect("ascii").to_string());
            (status, res.json::<Value>().await.unwrap_or(Value::Null), retry_after)
        }
    });
    futures::future::join_all(requests).await
}

/// Every webhook id of a tenant, through every page.
async fn webhook_ids(h: &Harness, tenant: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = h.get(&format!("/v1/tenants/{tenant}/webhooks?limit=100{query}")).await.body;
        ids.extend(page["data"].as_array().expect("data").iter().map(|w| w["id"].as_str().expect("id").to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
    }
}

/// The tenant marker's webhook count (None: a marker from before the count).
async fn marker_count(h: &Harness, tenant: &str) -> Option<u64> {
    let item = h
        .dynamodb()
        .get_item()
        .table_name(&h.config.table_name)
        .key("pk", AttributeValue::S(format!("TENANT#{tenant}")))
        .key("sk", AttributeValue::S("#TENANT".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("read")
        .item
        .expect("marker");
    item.get("webhook_count").map(|n| n.as_n().expect("number").parse().expect("count"))
}

fn webhook_body(i: usize) -> Value {
    json!({"name": format!("c{i}"), "url": format!("https://c{i}.example.com/hook"), "topics": ["t"]})
}

fn count(answers: &[(StatusCode, Value, Option<String>)], status: StatusCode) -> usize {
    answers.iter().filter(|(s, _, _)| *s == status).count()
}

#[tokio::test]
async fn thirty_concurrent_creates_at_95_webhooks_leave_exactly_100() {
    // GIVEN a tenant with 95 webhooks
    let h = Harness::start().await;
    for i in 0..95 {
        h.create_webhook("busy", &format!("w{i}"), &["t"]).await;
    }

    // WHEN 30 creates arrive at once
    let answers = concurrently(&h, 30, "/v1/tenants/busy/webhooks", webhook_body).await;

    // THEN 5 are created and 25 refused with the cap's 409, and 100 webhooks exist
    assert_eq!(count(&answers, StatusCode::CREATED), 5, "{answers:?}");
    for (status, body, _) in answers.iter().filter(|(s, _, _)| *s != StatusCode::CREATED) {
        assert_eq!((*status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("webhook_limit_reached")));
    }
    assert_eq!(webhook_ids(&h, "busy").await.len(), MAX_WEBHOOKS_PER_TENANT);
    assert_eq!(marker_count(&h, "busy").await, Some(100));

    // AND a delete makes room for exactly one more
    let first = webhook_ids(&h, "busy").await.remove(0);
    let deleted = h.call("DELETE", &format!("/v1/tenants/busy/webhooks/{first}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(marker_count(&h, "busy").await, Some(99));
    let answers = concurrently(&h, 3, "/v1/tenants/busy/webhooks", webhook_body).await;
    assert_eq!(count(&answers, StatusCode::CREATED), 1, "{answers:?}");
    assert_eq!(webhook_ids(&h, "busy").await.len(), MAX_WEBHOOKS_PER_TENANT);
    // AND deleting a webhook that is not there counts nothing down
    let gone = h.call("DELETE", &format!("/v1/tenants/busy/webhooks/{first}"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(marker_count(&h, "busy").await, Some(100));
}

#[tokio::test]
async fn a_tenant_from_before_the_count_is_counted_once_and_then_capped() {
    // GIVEN a tenant with 98 webhooks whose marker has no count (as written before it existed)
    let h = Harness::start().await;
    for i in 0..98 {
        h.create_webhook("old", &format!("w{i}"), &["t"]).await;
    }
    h.dynamodb()
        .update_item()
        .table_name(&h.config.table_name)
        .key("pk", AttributeValue::S("TENANT#old".into()))
        .key("sk", AttributeValue::S("#TENANT".into()))
        .update_expression("REMOVE webhook_count")
        .send()
        .await
        .expect("the old marker");
    // WHEN one is deleted (no count to lower) THEN it is gone all the same
    let first = webhook_ids(&h, "old").await.remove(0);
    assert_eq!(
        h.call("DELETE", &format!("/v1/tenants/old/webhooks/{first}"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(marker_count(&h, "old").await, None);

    // WHEN 6 creates arrive at once
    let answers = concurrently(&h, 6, "/v1/tenants/old/webhooks", webhook_body).await;

    // THEN the tenant is counted (97) and exactly 3 more are created
    assert_eq!(count(&answers, StatusCode::CREATED), 3, "{answers:?}");
    assert_eq!(count(&answers, StatusCode::CONFLICT), 3, "{answers:?}");
    assert_eq!(webhook_ids(&h, "old").await.len(), MAX_WEBHOOKS_PER_TENANT);
    assert_eq!(marker_count(&h, "old").await, Some(100));
}

#[tokio::test]
async fn a_console_registered_tenant_starts_at_zero() {
    // GIVEN a tenant registered by a console link (no webhook yet)
    let h = Harness::start().await;
    let link = h.call("POST", "/v1/tenants/fresh/console-sessions", None).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    assert_eq!(marker_count(&h, "fresh").await, Some(0));
    // WHEN a webhook is created THEN it counts one; a second link changes nothing
    h.create_webhook("fresh", "w", &["t"]).await;
    h.call("POST", "/v1/tenants/fresh/console-sessions", None).await;
    assert_eq!(marker_count(&h, "fresh").await, Some(1));
}

#[tokio::test]
async fn an_events_quota_of_n_accepts_n_of_3n_concurrent_events_and_refuses_the_rest_with_retry_after() {
    // GIVEN a quota of 5 events a window, and a subscribed webhook
    const N: usize = 5;
    let quotas = Quotas { events: Some(RateQuota { limit: N as u32, window: ONE_WINDOW }), ..Quotas::default() };
    let h = start(Settings { quotas, ..Settings::default() }).await;
    h.create_webhook("shop", "a", &["order_create"]).await;

    // WHEN 15 events arrive at once
    let answers = concurrently(
        &h,
        3 * N,
        "/v1/tenants/shop/events",
        |i| json!({"id": format!("e{i}"), "topic": "order_create", "data": {}}),
    )
    .await;

    // THEN 5 are accepted; 10 get a 429 rate_limited with a Retry-After
    assert_eq!(count(&answers, StatusCode::ACCEPTED), N, "{answers:?}");
    for (status, body, retry_after) in answers.iter().filter(|(s, _, _)| *s != StatusCode::ACCEPTED) {
        assert_eq!((*status, body["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
        let seconds: u64 = retry_after.as_deref().expect("Retry-After").parse().expect("whole seconds");
        assert!(seconds >= 1);
    }
    // AND only the accepted ones were stored (each its call's marker) and queued
    assert_eq!(h.items_of_kind("event").await.len(), N);
    assert_eq!(h.items_of_kind("ingest").await.len(), N);
    assert_eq!(h.drain_queue("DeliveryQueue").await.len(), N);
}

#[tokio::test]
async fn a_batch_counts_each_event_against_the_quota_and_is_refused_whole_over_it() {
    // GIVEN a quota of 5 events a window, and a subscribed webhook
    let quotas = Quotas { events: Some(RateQuota { limit: 5, window: ONE_WINDOW }), ..Quotas::default() };
    let h = start(Settings { quotas, ..Settings::default() }).await;
    h.create_webhook("shop", "a", &["order_create"]).await;
    let batch = |first: usize, n: usize| json!({"events": (first..first + n).map(|i| json!({"id": format!("e{i}"), "topic": "order_create", "data": {}})).collect::<Vec<_>>()});

    // WHEN a batch of 3 comes, then another 3 (only 2 left), then 2
    let first = h.post("/v1/tenants/shop/events/batch", batch(0, 3)).await;
    let over = h.post("/v1/tenants/shop/events/batch", batch(3, 3)).await;
    let rest = h.post("/v1/tenants/shop/events/batch", batch(6, 2)).await;

    // THEN the first and last are accepted; the middle one is a 429, none of its events stored
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!((over.status, over.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.body);
    assert_eq!(h.items_of_kind("event").await.len(), 5);
    assert_eq!(h.drain_queue("DeliveryQueue").await.len(), 5);
}

#[tokio::test]
async fn an_events_per_second_quota_never_admits_more_than_n_in_any_second() {
    // GIVEN the deployed form: 4 events a second
    const N: u64 = 4;
    let quotas =
        Quotas { events: Some(RateQuota { limit: N as u32, window: Duration::from_secs(1) }), ..Quotas::default() };
    let h = start(Settings { quotas, ..Settings::default() }).await;
    h.create_webhook("shop", "a", &["order_create"]).await;

    // WHEN 12 events arrive at once (they may straddle a second)
    let answers = concurrently(
        &h,
        12,
        "/v1/tenants/shop/events",
        |i| json!({"id": format!("e{i}"), "topic": "order_create", "data": {}}),
    )
    .await;

    // THEN every second's counter holds at most 4, and together they are the accepted events
    let accepted = count(&answers, StatusCode::ACCEPTED) as u64;
    let counters: Vec<u64> = h
        .items_of_kind("quota")
        .await
        .iter()
        .map(|item| item["n"].as_n().expect("n").parse().expect("count"))
        .collect();
    assert!(!counters.is_empty() && counters.iter().all(|n| *n <= N), "{counters:?}");
    assert_eq!(counters.iter().sum::<u64>(), accepted);
    assert!(accepted >= N, "the first window admits its quota: {answers:?}");
    assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS) as u64, 12 - accepted);
}

#[tokio::test]
async fn a_test_sends_quota_refuses_the_send_after_its_limit_and_sends_nothing_for_it() {
    // GIVEN 2 test sends a window and a webhook to a receiver
    let quotas = Quotas { test_sends: Some(RateQuota { limit: 2, window: ONE_WINDOW }), ..Quotas::default() };
    let h = start(Settings { allow_private_targets: true, quotas, ..Settings::default() }).await;
    let receiver = Receiver::start(vec![Answer::status(200)]).await;
    let id = h.create_webhook_to("shop", &receiver.url, &["order_create"], None).await["id"]
        .as_str()
        .expect("id")
        .to_string();

    // WHEN four test sends arrive at once
    let answers = concurrently(&h, 4, &format!("/v1/tenants/shop/webhooks/{id}/test"), |_| json!({})).await;

    // THEN two are sent; two are refused with a 429 and a Retry-After
    assert_eq!(count(&answers, StatusCode::OK), 2, "{answers:?}");
    assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS), 2, "{answers:?}");
    assert!(answers.iter().all(|(s, _, r)| *s == StatusCode::OK || r.is_some()));
    // AND `?require_ok=true` saves count too: the quota is used up, so no request, no change
    let update =
        h.call("PATCH", &format!("/v1/tenants/shop/webhooks/{id}?require_ok=true"), Some(json!({"name": "x"}))).await;
    assert_eq!((update.status, update.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert_eq!(h.get(&format!("/v1/tenants/shop/webhooks/{id}")).await.body["name"], "receiver");
    // (test sends answer after their request, so every request made is in by now)
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_status_filter_over_many_other_deliveries_answers_within_its_page_bound_with_a_cursor() {
    use crate::harness::sample_delivery;
    use hookline_shared::domain::delivery::{DeliveryStatus, DeliveryWrite};
    use hookline_shared::domain::limits::{FILTERED_PAGE_EXAMINES, MAX_INDEX_PAGES_PER_REQUEST};
    use hookline_shared::ports::store::DeliveryStore;
    // GIVEN a webhook whose one failed delivery is older than more delivered ones than one
    // request may read
    let h = Harness::start().await;
    let webhook = h.create_webhook("shop", "a", &["order_create"]).await["id"].as_str().expect("id").to_string();
    let delivery = |status| sample_delivery("shop", &webhook, status);
    let failed = delivery(DeliveryStatus::Failed);
    let mut writes = vec![DeliveryWrite { delivery: failed.clone(), attempt: None }];
    let newer = MAX_INDEX_PAGES_PER_REQUEST * FILTERED_PAGE_EXAMINES + 50;
    writes.extend((0..newer).map(|_| DeliveryWrite { delivery: delivery(DeliveryStatus::Delivered), attempt: None }));
    h.store().write_deliveries(&writes).await.expect("write");

    // WHEN the log is asked for failed ones
    let path = format!("/v1/tenants/shop/webhooks/{webhook}/deliveries?status=failed");
    let first = h.get(&path).await;

    // THEN the first answer stops at its bound: nothing found yet, and a cursor
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["data"], json!([]));
    let mut cursor = first.body["next_cursor"].as_str().expect("a cursor where it stopped").to_string();
    // AND the cursor leads on to the failed delivery and then to the end
    let second = h.get(&format!("{path}&cursor={cursor}")).await;
    assert_eq!(second.body["data"][0]["id"], failed.delivery_id.as_str(), "{}", second.body);
    if let Some(more) = second.body["next_cursor"].as_str() {
        cursor = more.to_string();
        assert_eq!(h.get(&format!("{path}&cursor={cursor}")).await.body["next_cursor"], Value::Null);
    }
    // AND recover takes a cursor too, and refuses one it did not hand out
    let recover = format!("/v1/tenants/shop/webhooks/{webhook}/recover?since=2000-01-01T00:00:00Z");
    let bad = h.post(&format!("{recover}&cursor=Zm9v"), json!({})).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_cursor"));
}
