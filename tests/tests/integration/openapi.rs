//! The API's OpenAPI document as the running API serves it: without a key, the committed
//! `docs/openapi.json` byte for byte, and naming exactly the routes the router has.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::harness::Harness;

#[path = "../../../functions/api/src/openapi/route_table.rs"]
mod route_table;

const COMMITTED: &str = include_str!("../../../docs/openapi.json");
const ROUTES_RS: &str = include_str!("../../../functions/api/src/routes.rs");
const CONSOLE_RS: &str = include_str!("../../../functions/api/src/console.rs");
/// The console's static pages: not part of the JSON API.
const UNDOCUMENTED: &[&str] = &["/console", "/console/", "/console/app.js", "/console/style.css"];
const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// A documented path with its parameters filled in (values that exist nowhere).
fn concrete(path: &str) -> String {
    path.replace("{tenant_id}", "t-openapi")
        .replace("{webhook_id}", "wh_00000000000000000000000000000000")
        .replace("{delivery_id}", "dlv_00000000000000000000000000000000")
        .replace("{key_id}", "key_00000000000000000000000000000000")
        .replace("{email}", "a%40example.com")
}

#[tokio::test]
async fn the_document_is_served_without_a_key_and_covers_every_route() {
    // GIVEN the stack, and a client that sends no key and follows no redirect
    let h = Harness::start().await;
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");

    // WHEN the document is fetched without a key
    let res = anonymous.get(format!("{}/v1/openapi.json", h.base)).send().await.expect("request");
    // THEN it answers 200 JSON: the committed document, byte for byte
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(content_type, "application/json");
    let served = res.text().await.expect("body");
    assert!(served == COMMITTED, "the served document differs from docs/openapi.json");
    let document: Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");

    // AND its operations are exactly the route table's (less the console's static pages)
    let documented = route_table::operations_of(&document);
    let routes: BTreeSet<_> = route_table::routes_in(ROUTES_RS)
        .into_iter()
        .chain(route_table::routes_in(CONSOLE_RS))
        .filter(|(_, path)| !UNDOCUMENTED.contains(&path.as_str()))
        .collect();
    assert_eq!(documented, routes, "documented operations vs routes.rs");

    // AND the running router has every documented operation, answers a caller without a key
    // with a documented status, and has no undocumented method on a documented path
    for path in document["paths"].as_object().expect("paths").keys() {
        for method in METHODS {
            let url = format!("{}{}", h.base, concrete(path));
            let res =
                anonymous.request(method.to_uppercase().parse().expect("method"), &url).send().await.expect("request");
            let status = res.status();
            let body: Value = serde_json::from_str(&res.text().await.expect("body")).unwrap_or(Value::Null);
            let code = body["error"]["code"].as_str().unwrap_or_default().to_string();
            match document["paths"][path].get(*method) {
                Some(operation) => {
                    assert_ne!(code, "route_not_found", "{method} {path}");
                    assert_ne!(code, "method_not_allowed", "{method} {path}");
                    let documented_status = operation["responses"].get(status.as_str()).is_some();
                    assert!(documented_status, "{method} {path} answered an undocumented {status}: {body}");
                }
                None => assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: an undocumented method"),
            }
        }
    }
}
