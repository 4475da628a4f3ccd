use axum::Json;
use hookline_shared::outbound::integration::describe::{self, IntegrationDescription};
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::{ApiQuery, NoParams};

#[derive(Serialize, ToSchema)]
pub struct IntegrationList {
    data: Vec<IntegrationDescription>,
}

#[utoipa::path(get, path = "/v1/integrations", tag = "integrations", operation_id = "list_integrations",
    responses((status = 200, description = "The integration presets a webhook's `integration` may name, each with its settings and an example request.", body = IntegrationList)))]
/// `GET /v1/integrations`: the integration presets (issue 13), with their settings and what
/// each sends for page 000's coupon event.
pub async fn list(_no_params: ApiQuery<NoParams>) -> Json<IntegrationList> {
    Json(IntegrationList { data: describe::integrations() })
}
