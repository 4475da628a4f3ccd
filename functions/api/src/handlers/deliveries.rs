use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hookline_shared::app::manage_deliveries::{self, DeliveryListParams, RecoverParams, Requeued};
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;
use serde::Serialize;

use crate::error::ApiResult;
use crate::extract::{ApiPath, ApiQuery, NoParams};
use crate::state::App;
use crate::views::DeliveryView;

pub async fn get<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, delivery_id)): ApiPath<(String, String)>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<Json<DeliveryView>> {
    let delivery = manage_deliveries::get_delivery(&app.store, &tenant_id, &delivery_id).await?;
    Ok(Json(DeliveryView::from(&delivery)))
}

#[derive(Serialize)]
pub struct DeliveryList {
    data: Vec<DeliveryView>,
    next_cursor: Option<String>,
}

/// `GET .../webhooks/{id}/deliveries`: the webhook's delivery log, newest first.
pub async fn list<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<DeliveryListParams>,
) -> ApiResult<Json<DeliveryList>> {
    let page = manage_deliveries::list_webhook_deliveries(&app.store, &tenant_id, &webhook_id, &params).await?;
    Ok(Json(DeliveryList { data: page.items.iter().map(DeliveryView::from).collect(), next_cursor: page.next }))
}

/// `POST .../deliveries/{id}/retry`.
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
pub async fn recover<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<RecoverParams>,
) -> ApiResult<(StatusCode, Json<Requeued>)> {
    let requeued = manage_deliveries::recover_webhook(&app.store, &app.queue, &tenant_id, &webhook_id, &params).await?;
    tracing::info!(tenant_id = %tenant_id, webhook_id = %webhook_id, requeued = requeued.requeued, "deliveries recovered");
    Ok((StatusCode::ACCEPTED, Json(requeued)))
}
