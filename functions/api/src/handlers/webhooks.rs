use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hookline_shared::app::manage_webhooks;
use hookline_shared::app::pagination::ListParams;
use hookline_shared::app::send_test::{TestSendRequest, TestSendResult};
use hookline_shared::domain::webhook::{CreateWebhook, UpdateWebhook};
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;
use serde::{Deserialize, Serialize};

use crate::error::ApiResult;
use crate::extract::{ApiPath, ApiQuery, JsonBody, NoParams, OptionalJsonBody};
use crate::handlers::recipients;
use crate::state::App;
use crate::views::WebhookView;

/// The create answer: the webhook and, this once, its whole signing secret.
#[derive(Serialize)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    webhook: WebhookView,
    secret: String,
}

#[derive(Serialize)]
pub struct WebhookList {
    data: Vec<WebhookView>,
    next_cursor: Option<String>,
}

/// `?require_ok=true` on create and update: save only if a test send answers 2xx.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveParams {
    #[serde(default)]
    require_ok: bool,
}

pub async fn create<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath(tenant_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<SaveParams>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let tester = app.tester();
    let tester = params.require_ok.then_some(&tester);
    let webhook = manage_webhooks::create_webhook(&app.store, &app.settings, &tenant_id, request, tester).await?;
    tracing::info!(tenant_id = %tenant_id, webhook_id = %webhook.id, "webhook created");
    recipients::ask_new_addresses(&app, &headers, &tenant_id, &webhook.alert_emails).await;
    let created = CreatedWebhook { webhook: WebhookView::from(&webhook), secret: webhook.secret.expose().to_string() };
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn list<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath(tenant_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<WebhookList>> {
    let page = manage_webhooks::list_webhooks(&app.store, &tenant_id, &params).await?;
    Ok(Json(WebhookList { data: page.items.iter().map(WebhookView::from).collect(), next_cursor: page.next }))
}

pub async fn get<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<Json<WebhookView>> {
    let webhook = manage_webhooks::get_webhook(&app.store, &tenant_id, &webhook_id).await?;
    Ok(Json(WebhookView::from(&webhook)))
}

pub async fn update<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<SaveParams>,
    headers: HeaderMap,
    JsonBody(request): JsonBody<UpdateWebhook>,
) -> ApiResult<Json<WebhookView>> {
    let tester = app.tester();
    let tester = params.require_ok.then_some(&tester);
    let webhook =
        manage_webhooks::update_webhook(&app.store, &app.settings, &tenant_id, &webhook_id, request, tester).await?;
    tracing::info!(tenant_id = %tenant_id, webhook_id = %webhook_id, "webhook updated");
    recipients::ask_new_addresses(&app, &headers, &tenant_id, &webhook.alert_emails).await;
    Ok(Json(WebhookView::from(&webhook)))
}

/// `POST .../webhooks/{id}/test`: one signed request now; the receiver's answer back.
pub async fn test<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    _no_params: ApiQuery<NoParams>,
    OptionalJsonBody(request): OptionalJsonBody<TestSendRequest>,
) -> ApiResult<Json<TestSendResult>> {
    let result = manage_webhooks::test_webhook(&app.store, &app.tester(), &tenant_id, &webhook_id, request).await?;
    Ok(Json(result))
}

pub async fn delete<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<StatusCode> {
    manage_webhooks::delete_webhook(&app.store, &tenant_id, &webhook_id).await?;
    tracing::info!(tenant_id = %tenant_id, webhook_id = %webhook_id, "webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}
