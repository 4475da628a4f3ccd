//! The route table. Every route needs an API key or a console session but `/v1/health` and
//! the console's own pages; tenant routes reach the caller's tenant only, key routes need an
//! operator key.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use hookline_shared::domain::limits::MAX_BODY_BYTES;
use hookline_shared::domain::timestamp;
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;
use tracing::Instrument;

use crate::auth::{authenticate, require_operator, require_tenant};
use crate::error::ApiError;
use crate::handlers::{access, deliveries, egress, events, health, integrations, recipients, topics, webhooks};
use crate::state::App;

pub fn router<S: Store, Q: TaskQueue>(app: Arc<App<S, Q>>) -> Router {
    let tenants = Router::new()
        .route("/v1/tenants/{tenant_id}/webhooks", get(webhooks::list::<S, Q>).post(webhooks::create::<S, Q>))
        .route(
            "/v1/tenants/{tenant_id}/webhooks/{webhook_id}",
            get(webhooks::get::<S, Q>).patch(webhooks::update::<S, Q>).delete(webhooks::delete::<S, Q>),
        )
        .route("/v1/tenants/{tenant_id}/webhooks/{webhook_id}/test", post(webhooks::test::<S, Q>))
        .route("/v1/tenants/{tenant_id}/webhooks/{webhook_id}/deliveries", get(deliveries::list::<S, Q>))
        .route("/v1/tenants/{tenant_id}/webhooks/{webhook_id}/recover", post(deliveries::recover::<S, Q>))
        .route("/v1/tenants/{tenant_id}/deliveries/{delivery_id}/retry", post(deliveries::retry::<S, Q>))
        .route(
            "/v1/tenants/{tenant_id}/events",
            post(events::ingest::<S, Q>).layer(middleware::from_fn(events::count_events)),
        )
        .route("/v1/tenants/{tenant_id}/events/batch", post(events::ingest_batch::<S, Q>))
        .route("/v1/tenants/{tenant_id}/deliveries/{delivery_id}", get(deliveries::get::<S, Q>))
        .route("/v1/tenants/{tenant_id}/console-sessions", post(access::create_console_link::<S, Q>))
        .route("/v1/tenants/{tenant_id}/alert-recipients", get(recipients::list::<S, Q>))
        .route("/v1/tenants/{tenant_id}/alert-recipients/{email}/resend", post(recipients::resend::<S, Q>))
        .route_layer(middleware::from_fn(require_tenant));
    let operator = Router::new()
        .route("/v1/api-keys", get(access::list_keys::<S, Q>).post(access::create_key::<S, Q>))
        .route("/v1/api-keys/{key_id}", delete(access::revoke_key::<S, Q>))
        .route_layer(middleware::from_fn(require_operator));
    let authenticated = Router::new()
        .merge(tenants)
        .merge(operator)
        .route("/v1/topics", get(topics::list::<S, Q>))
        .route("/v1/integrations", get(integrations::list))
        .route("/v1/egress-ips", get(egress::list::<S, Q>))
        .route("/v1/console/session", get(access::session_info::<S, Q>))
        .route("/v1/console/logout", post(access::logout::<S, Q>))
        .route_layer(middleware::from_fn_with_state(app.clone(), authenticate::<S, Q>));

    Router::new()
        .route("/v1/health", get(health::health))
        .route("/v1/openapi.json", get(crate::openapi::openapi_json))
        .route("/console/open", get(access::open_console::<S, Q>))
        // The links in alert e-mails: no key, only the link's token (see handlers::recipients).
        .route("/alerts/confirm", get(recipients::confirm_page::<S, Q>).post(recipients::confirm::<S, Q>))
        .route("/alerts/unsubscribe", get(recipients::unsubscribe_page::<S, Q>).post(recipients::unsubscribe::<S, Q>))
        .merge(crate::console::console_routes(&app.settings.console.frame_ancestors))
        .merge(authenticated)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(log_request))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route; see the API reference in the README")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}

/// One log line per request: method, path (ids are not secrets; the query string and the
/// headers, which may carry keys, are left out), status and latency.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        api_key_id = tracing::field::Empty
    );
    let response = next.run(request).instrument(span.clone()).await;
    let latency_ms = timestamp::millis(started.elapsed());
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), latency_ms, "request"));
    response.into_response()
}
