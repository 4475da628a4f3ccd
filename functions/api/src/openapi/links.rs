//! The document's links: which answer gives the ids another operation takes, so clients (and
//! contract fuzzers, which follow them statefully) can go from creating a webhook to reading,
//! changing, testing and deleting it. Only ids an answer always has are linked: a listing's
//! first item (or an event's first delivery) may not exist, and a link must always resolve.

use std::collections::BTreeMap;

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{OpenApi, RefOr};

const TENANT: (&str, &str) = ("tenant_id", "$request.path.tenant_id");
const CREATED_WEBHOOK: (&str, &str) = ("webhook_id", "$response.body#/id");
const SAME_WEBHOOK: (&str, &str) = ("webhook_id", "$request.path.webhook_id");
const SAME_DELIVERY: (&str, &str) = ("delivery_id", "$request.path.delivery_id");

type Parameters = &'static [(&'static str, &'static str)];

/// (from operation, its status, to operation, the parameters the link fills).
const LINKS: &[(&str, &str, &str, Parameters)] = &[
    ("create_webhook", "201", "get_webhook", &[TENANT, CREATED_WEBHOOK]),
    ("create_webhook", "201", "update_webhook", &[TENANT, CREATED_WEBHOOK]),
    ("create_webhook", "201", "test_webhook", &[TENANT, CREATED_WEBHOOK]),
    ("create_webhook", "201", "list_deliveries", &[TENANT, CREATED_WEBHOOK]),
    ("create_webhook", "201", "delete_webhook", &[TENANT, CREATED_WEBHOOK]),
    ("update_webhook", "200", "test_webhook", &[TENANT, SAME_WEBHOOK]),
    ("get_delivery", "200", "retry_delivery", &[TENANT, SAME_DELIVERY]),
    ("create_api_key", "201", "revoke_api_key", &[("key_id", "$response.body#/id")]),
];

/// Adds `LINKS` to the answers they start from.
pub fn add(openapi: &mut OpenApi) {
    let mut by_operation: BTreeMap<String, &mut Operation> = BTreeMap::new();
    for item in openapi.paths.paths.values_mut() {
        let utoipa::openapi::path::PathItem { get, put, post, delete, patch, .. } = item;
        for operation in [get, put, post, delete, patch].into_iter().flatten() {
            if let Some(id) = operation.operation_id.clone() {
                by_operation.insert(id, operation);
            }
        }
    }
    for (from, status, to, parameters) in LINKS {
        let Some(RefOr::T(response)) =
            by_operation.get_mut(*from).and_then(|op| op.responses.responses.get_mut(*status))
        else {
            panic!("link from {from} {status}: no such operation or answer");
        };
        let link = parameters
            .iter()
            .fold(LinkBuilder::new().operation_id(*to), |link, (name, value)| link.parameter(*name, *value))
            .build();
        response.links.insert(to.to_string(), RefOr::T(link));
    }
}
