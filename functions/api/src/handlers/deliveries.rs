use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hookline_shared::app::manage_deliveries::{self, DeliveryListParams, RecoverParams, Requeued};
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, NoParams};
use crate::state::App;
use crate::views::DeliveryView;

#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/deliveries/{delivery_id}", tag = "deliveries", operation_id = "get_delivery",
    params(crate::openapi::DeliveryPath),
    responses(
        (status = 200, description = "The delivery with its attempts, oldest first.", body = DeliveryView),
        (status = 404, description = "Error codes: `delivery_not_found`.", body = ErrorBody),
    ))]
pub async fn get<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, delivery_id)): ApiPath<(String, String)>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<Json<DeliveryView>> {
    let delivery = manage_deliveries::get_delivery(&app.store, &tenant_id, &delivery_id).await?;
    Ok(Json(DeliveryView::from(&delivery)))
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    data: Vec<DeliveryView>,
    next_cursor: Option<String>,
}

/// `GET .../webhooks/{id}/deliveries`: the webhook's delivery log, newest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/deliveries", tag = "deliveries", operation_id = "list_deliveries",
    params(crate::openapi::WebhookPath, DeliveryListParams),
    responses(
        (status = 200, description = "A page of the webhook's delivery log, newest first. A page may hold fewer than `limit` and still have a `next_cursor`.", body = DeliveryList),
        (status = 400, description = "Error codes: `invalid_limit`, `invalid_status`, `invalid_cursor`.", body = ErrorBody),
        (status = 404, description = "Error codes: `webhook_not_found`.", body = ErrorBody),
    ))]
pub async fn list<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<DeliveryListParams>,
) -> ApiResult<Json<DeliveryList>> {
    let page = manage_deliveries::list_webhook_deliveries(&app.store, &tenant_id, &webhook_id, &params).await?;
    Ok(Json(DeliveryList { data: page.items.iter().map(DeliveryView::from).collect(), next_cursor: page.next }))
}

/// `POST .../deliveries/{id}/retry`.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/deliveries/{delivery_id}/retry", tag = "deliveries", operation_id = "retry_delivery",
    params(crate::openapi::DeliveryPath),
    responses(
        (status = 202, description = "Queued again, with the same delivery id.", body = Requeued),
        (status = 404, description = "Error codes: `delivery_not_found`.", body = ErrorBody),
        (status = 409, description = "Error codes: `delivery_not_failed`.", body = ErrorBody),
    ))]
pub async fn retry<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, delivery_id)): ApiPath<(String, String)>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<(StatusCode, Json<Requeued>)> {
    let requeued = manage_deliveries::retry_delivery(&app.store, &app.queue, &tenant_id, &delivery_id).await?;
    tracing::info!(tenant_id = %tenant_id, delivery_id = %delivery_id, "delivery requeued");
    Ok((StatusCode::ACCEPTED, Json(requeued)))
}

/// `POST .../webhooks/{id}/recover?since=&cursor=`.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/recover", tag = "deliveries", operation_id = "recover_webhook",
    params(crate::openapi::WebhookPath, RecoverParams),
    responses(
        (status = 202, description = "The failed deliveries since `since` queued again (up to 1000 a call; `next_cursor` continues).", body = Requeued),
        (status = 400, description = "Error codes: `invalid_since`, `invalid_cursor`.", body = ErrorBody),
        (status = 404, description = "Error codes: `webhook_not_found`.", body = ErrorBody),
    ))]
pub async fn recover<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<RecoverParams>,
) -> ApiResult<(StatusCode, Json<Requeued>)> {
    let requeued = manage_deliveries::recover_webhook(&app.store, &app.queue, &tenant_id, &webhook_id, &params).await?;
    tracing::info!(tenant_id = %tenant_id, webhook_id = %webhook_id, requeued = requeued.requeued, "deliveries recovered");
    Ok((StatusCode::ACCEPTED, Json(requeued)))
}
