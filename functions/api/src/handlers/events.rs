use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use hookline_shared::adapters::metrics;
use hookline_shared::app::ingest;
use hookline_shared::domain::event::{
    BatchEventError, BatchEventResult, BatchResult, EventBatchRequest, EventRequest, IngestResult,
};
use hookline_shared::domain::metrics::{EVENTS_ACCEPTED, EVENTS_REFUSED, Measure};
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;

use crate::error::{ApiError, ApiResult, ErrorBody};
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

#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/events/batch", tag = "events", operation_id = "ingest_event_batch",
    params(crate::openapi::TenantPath), request_body = EventBatchRequest,
    responses(
        (status = 200, description = "A result per event, in the request's order: `status` 202 with its deliveries (all on the queue; a repeated id answers the first result), or the 400 a single POST of that event would get, with its `error`.", body = BatchResult),
        (status = 400, description = "Error codes: `invalid_batch` (no events, or more than 100).", body = ErrorBody),
        (status = 429, description = "Error codes: `rate_limited` (the batch's events do not all fit in the tenant's event quota: none is taken; see `Retry-After`).", body = ErrorBody),
    ))]
/// `POST /v1/tenants/{tenant_id}/events/batch`: up to 100 events, a result per event. The
/// whole batch fails (retry it: accepted ids answer as before) only for an unknown tenant, the
/// quota, or a dependency failure (503).
pub async fn ingest_batch<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath(tenant_id): ApiPath<String>,
    _no_params: ApiQuery<NoParams>,
    JsonBody(request): JsonBody<EventBatchRequest>,
) -> ApiResult<Json<BatchResult>> {
    let sent = request.events.len();
    let events = request.events.into_iter().map(EventRequest::from_batch_item).collect();
    let outcomes = match ingest::ingest_events(&app.store, &app.queue, &app.settings, &tenant_id, events).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            let e = ApiError::from(e);
            if e.status.is_client_error() {
                metrics::emit("api", &[Measure::count(EVENTS_REFUSED, sent)]);
            }
            return Err(e);
        }
    };
    let results: Vec<BatchEventResult> = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(result) => BatchEventResult::accepted(result),
            Err((event_id, e)) => {
                let e = ApiError::from(e);
                let error = BatchEventError { code: e.code.to_string(), message: e.message };
                BatchEventResult { status: e.status.as_u16(), event_id, deliveries: None, error: Some(error) }
            }
        })
        .collect();
    let accepted = results.iter().filter(|r| r.error.is_none()).count();
    metrics::emit(
        "api",
        &[Measure::count(EVENTS_ACCEPTED, accepted), Measure::count(EVENTS_REFUSED, results.len() - accepted)],
    );
    tracing::info!(tenant_id = %tenant_id, accepted, refused = results.len() - accepted, "event batch");
    Ok(Json(BatchResult { results }))
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
