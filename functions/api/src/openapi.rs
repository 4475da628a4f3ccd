//! The API's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes
//! and the request and answer types themselves (the shared ones derive `ToSchema` under the
//! `openapi` feature), so it cannot drift from the code. Served at `GET /v1/openapi.json` and
//! committed as `docs/openapi.json`; `UPDATE_OPENAPI=1 cargo test -p hookline-api openapi`
//! writes the committed copy again.
//!
//! What every operation shares is added here rather than on each handler: the security
//! requirements (an API key; or, on tenant routes, the console's session cookie, with its
//! CSRF header on changes) and the errors any authenticated route can answer.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::auth::{CSRF_HEADER, SESSION_COOKIE};
use crate::error::{ErrorBody, ErrorDetail};
use crate::handlers::{access, deliveries, egress, events, health, integrations, recipients, topics, webhooks};

/// `{tenant_id}`: the tenant a key or console session reaches.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TenantPath {
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
    pub tenant_id: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WebhookPath {
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
    pub tenant_id: String,
    #[param(pattern = "^wh_[0-9a-f]{32}$")]
    pub webhook_id: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryPath {
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
    pub tenant_id: String,
    #[param(pattern = "^dlv_[0-9a-f]{32}$")]
    pub delivery_id: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RecipientPath {
    #[param(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
    pub tenant_id: String,
    /// The address, percent-encoded.
    pub email: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KeyPath {
    #[param(pattern = "^key_[0-9a-f]{32}$")]
    pub key_id: String,
}

/// `GET /v1/health`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(pattern = "^ok$")]
    pub status: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hookline API",
        description = "Multi-tenant webhook delivery: manage webhooks, send events, read the delivery log. \
                       Every error answers `{\"error\": {\"code\", \"message\"}}`; each response lists its codes.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health::health, openapi_json, topics::list, integrations::list, egress::list,
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete, webhooks::test,
        deliveries::list, deliveries::get, deliveries::retry, deliveries::recover,
        events::ingest, events::ingest_batch,
        access::create_key, access::list_keys, access::revoke_key,
        access::create_console_link, access::open_console, access::session_info, access::logout,
        recipients::list, recipients::resend,
        recipients::confirm_page, recipients::confirm, recipients::unsubscribe_page, recipients::unsubscribe,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Shared),
    tags(
        (name = "webhooks", description = "A tenant's webhooks"),
        (name = "events", description = "What happened, to deliver"),
        (name = "deliveries", description = "The delivery log, retry and recover"),
        (name = "topics", description = "The deployment's topic catalog"),
        (name = "integrations", description = "The external tools a webhook can send to (presets) and request templates"),
        (name = "api-keys", description = "Operator keys and tenant keys (operator key only)"),
        (name = "console", description = "Console links and sessions"),
        (name = "alert-recipients", description = "Failure-alert addresses and their opt-in pages"),
        (name = "meta", description = "Health, this document, the deployment's outbound addresses"),
    )
)]
struct ApiDoc;

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", operation_id = "openapi",
    responses((status = 200, description = "This OpenAPI 3.1 document.", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Response {
    let mut response = document_json().to_string().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The document, pretty-printed as committed in `docs/openapi.json` (with a final newline).
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).expect("the document is JSON");
        rules::state(&mut document);
        let mut json = serde_json::to_string_pretty(&document).expect("the document is JSON");
        json.push('\n');
        json
    })
}

/// The routes anyone may call.
const PUBLIC: &[&str] = &["/v1/health", "/v1/openapi.json", "/console/open", "/alerts/confirm", "/alerts/unsubscribe"];

const BEARER: &str = "api_key";
const SESSION: &str = "console_session";
const CSRF: &str = "csrf_token";

struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: `Authorization: Bearer hk_…`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The console's session cookie, set by `GET /console/open`.",
            ))),
        );
        components.add_security_scheme(
            CSRF,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                CSRF_HEADER,
                "A console session's CSRF token (from `GET /v1/console/session`), required on every change.",
            ))),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (changes, operation) in operations(item) {
                decorate(path, changes, operation);
            }
        }
        links::add(openapi);
    }
}

fn operations(item: &mut PathItem) -> Vec<(bool, &mut Operation)> {
    let PathItem { get, put, post, delete, patch, .. } = item;
    [(false, get), (true, put), (true, post), (true, delete), (true, patch)]
        .into_iter()
        .filter_map(|(changes, op)| op.as_mut().map(|op| (changes, op)))
        .collect()
}

fn decorate(path: &str, changes: bool, operation: &mut Operation) {
    if PUBLIC.contains(&path) {
        operation.security = Some(vec![SecurityRequirement::default()]);
        return;
    }
    let operator = path.starts_with("/v1/api-keys");
    let console_only = path.starts_with("/v1/console/");
    let bearer = SecurityRequirement::new(BEARER, Vec::<String>::new());
    let session = if changes {
        SecurityRequirement::new(SESSION, Vec::<String>::new()).add(CSRF, Vec::<String>::new())
    } else {
        SecurityRequirement::new(SESSION, Vec::<String>::new())
    };
    operation.security = Some(match (operator, console_only) {
        (true, _) => vec![bearer],
        (_, true) => vec![session],
        _ => vec![bearer, session],
    });
    // The test send's body may be left out (`OptionalJsonBody`); the derive marks it required.
    if operation.operation_id.as_deref() == Some("test_webhook")
        && let Some(RefOr::T(body)) = operation.request_body.as_mut()
    {
        body.required = Some(Required::False);
    }
    add_error(operation, 400, &["invalid_query"]);
    if operation.request_body.is_some() {
        add_error(operation, 400, &["invalid_json", "invalid_request"]);
        add_error(operation, 413, &["payload_too_large"]);
        add_error(operation, 415, &["unsupported_media_type"]);
    }
    add_error(operation, 401, &["unauthorized"]);
    if operator {
        add_error(operation, 403, &["forbidden"]);
    } else if changes {
        add_error(operation, 403, &["csrf_token_invalid"]);
    }
    if path.starts_with("/v1/tenants/") {
        add_error(operation, 404, &["tenant_not_found"]);
    }
    add_error(operation, 503, &["service_unavailable"]);
}

/// Adds error codes to an operation's response for `status`: to its list when it has one.
fn add_error(operation: &mut Operation, status: u16, codes: &[&str]) {
    let listed = codes.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let responses = &mut operation.responses.responses;
    if let Some(RefOr::T(response)) = responses.get_mut(&status.to_string()) {
        let base = response.description.trim_end_matches('.');
        response.description = if base.starts_with("Error codes: ") {
            format!("{base}, {listed}.")
        } else {
            format!("{base}; error codes: {listed}.")
        };
        return;
    }
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    let response =
        ResponseBuilder::new().description(format!("Error codes: {listed}.")).content("application/json", content);
    responses.insert(status.to_string(), RefOr::T(response.build()));
}

mod links;
#[cfg(test)]
mod route_table;
mod rules;
#[cfg(test)]
mod tests;
