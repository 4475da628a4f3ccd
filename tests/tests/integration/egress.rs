//! `GET /v1/egress-ips`: the addresses deliveries leave from, as the deployment names them
//! (the template sets `HOOKLINE_EGRESS_IPS` from its Elastic IPs when `StaticEgressIps` is on).

use std::collections::HashMap;

use hookline_shared::domain::settings::Settings;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Harness;

#[tokio::test]
async fn egress_ips_are_listed_when_the_deployment_has_them_and_empty_otherwise() {
    // GIVEN a deployment without static egress WHEN a key asks THEN an empty list
    let off = Harness::start().await;
    let reply = off.get("/v1/egress-ips").await;
    assert_eq!((reply.status, reply.body.clone()), (StatusCode::OK, json!({"data": []})));

    // GIVEN one with two NAT gateways' addresses
    let settings = Settings {
        egress_ips: vec!["203.0.113.7".parse().expect("ip"), "198.51.100.9".parse().expect("ip")],
        ..Settings::default()
    };
    let on = Harness::start_with(settings, HashMap::new(), |sdk, config| {
        hookline_api::router(hookline_api::AwsApp::from_config(sdk, config))
    })
    .await;
    // WHEN a key asks THEN both, in order
    let reply = on.get("/v1/egress-ips").await;
    assert_eq!((reply.status, reply.body.clone()), (StatusCode::OK, json!({"data": ["203.0.113.7", "198.51.100.9"]})));
    // AND bad input is refused with the stable error body: an unknown query parameter,
    // and no key at all
    let odd = on.get("/v1/egress-ips?all=1").await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST, "{}", odd.body);
    assert!(!odd.code().is_empty(), "{}", odd.body);
    let anonymous = on.http.get(format!("{}/v1/egress-ips", on.base)).send().await.expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
