use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::{ApiQuery, NoParams};
use crate::state::App;

#[derive(Serialize, ToSchema)]
pub struct EgressIps {
    /// The IP addresses every delivery and test send comes from, for receivers' allow-lists;
    /// empty when the deployment has no static egress addresses (`StaticEgressIps` off).
    #[schema(value_type = Vec<String>)]
    data: Vec<std::net::IpAddr>,
}

#[utoipa::path(get, path = "/v1/egress-ips", tag = "meta", operation_id = "list_egress_ips",
    responses((status = 200, description = "The addresses deliveries come from (empty without static egress).", body = EgressIps)))]
/// `GET /v1/egress-ips`: the deployment's fixed outbound addresses (empty without them).
pub async fn list<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    _no_params: ApiQuery<NoParams>,
) -> Json<EgressIps> {
    Json(EgressIps { data: app.settings.egress_ips.clone() })
}
