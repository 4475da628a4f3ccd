use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use hookline_shared::deliveries;
use hookline_shared::delivery::DeliveryView;
use hookline_shared::queue::TaskQueue;
use hookline_shared::store::Store;

use crate::error::ApiResult;
use crate::extract::ApiPath;
use crate::state::App;

pub async fn get<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, delivery_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<DeliveryView>> {
    let delivery = deliveries::get_delivery(&app.store, &tenant_id, &delivery_id).await?;
    Ok(Json(DeliveryView::from(&delivery)))
}
