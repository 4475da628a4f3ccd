use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use hookline_shared::adapters::metrics;
use hookline_shared::app::ingest;
use hookline_shared::domain::event::{EventRequest, IngestResult};
use hookline_shared::domain::metrics::{EVENTS_ACCEPTED, EVENTS_REFUSED, Measure};
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, JsonBody, NoParams};
use crate::state::App;

#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/events", tag = "events", operation_id = "ingest_event",
    params(crate::openapi::TenantPath), request_body = EventRequest,
    responses(
        (status = 202, description = "Accepted: every delivery is on the queue. A repeated event id answers the first result.", body = IngestResult),
        (status = 400, description = "Error codes: `invalid_event_id`, `invalid_topic`, `invalid_occurred_at`, `invalid_payload`, `event_too_large`.", body = ErrorBody),
        (status = 429, description = "Error codes: `rate_limited` (the tenant's event quota; see `Retry-After`).", body = ErrorBody),
    ))]
/// `POST /v1/tenants/{tenant_id}/events`: 202 once every delivery is on the queue.
pub async fn ingest<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath(tenant_id): ApiPath<String>,
    _no_params: ApiQuery<NoParams>,
    JsonBody(request): JsonBody<EventRequest>,
) -> ApiResult<(StatusCode, Json<IngestResult>)> {
    let result = ingest::ingest_event(&app.store, &app.queue, &app.settings, &tenant_id, request).await?;
    tracing::info!(tenant_id = %tenant_id, event_id = %result.event_id, deliveries = result.deliveries.len(), "event accepted");
    Ok((StatusCode::ACCEPTED, Json(result)))
}

/// Counts each event request once in the metrics line: accepted (2xx) or refused (4xx: the
/// body's own refusals included, which the extractors answer before `ingest` runs). A 5xx is
/// Hookline's failure, not a refusal, and shows in the function's errors instead.
pub async fn count_events(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let name =
        if status.is_success() { Some(EVENTS_ACCEPTED) } else { status.is_client_error().then_some(EVENTS_REFUSED) };
    if let Some(name) = name {
        metrics::emit("api", &[Measure::count(name, 1)]);
    }
    response
}
