use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use hookline_shared::domain::catalog::Topic;
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::{ApiQuery, NoParams};
use crate::state::App;

#[derive(Serialize, ToSchema)]
pub struct TopicList {
    /// Whether the deployment restricts subscriptions to these topics.
    catalog: bool,
    data: Vec<Topic>,
}

#[utoipa::path(get, path = "/v1/topics", tag = "topics", operation_id = "list_topics",
    responses((status = 200, description = "The deployment's topic catalog (empty without one).", body = TopicList)))]
/// `GET /v1/topics`: the deployment's topic catalog (empty without one).
pub async fn list<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    _no_params: ApiQuery<NoParams>,
) -> Json<TopicList> {
    let catalog = app.settings.catalog.as_deref();
    Json(TopicList {
        catalog: catalog.is_some(),
        data: catalog.map(|c| c.topics().cloned().collect()).unwrap_or_default(),
    })
}
