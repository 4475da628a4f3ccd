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
