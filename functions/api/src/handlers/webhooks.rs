use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hookline_shared::app::manage_webhooks::{self, WebhookListParams};
use hookline_shared::app::send_test::{TestSendRequest, TestSendResult};
use hookline_shared::domain::webhook::{CreateWebhook, UpdateWebhook};
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, JsonBody, NoParams, OptionalJsonBody};
use crate::handlers::recipients;
use crate::state::App;
use crate::views::WebhookView;

/// The create answer: the webhook and, this once, its whole signing secret.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    webhook: WebhookView,
    /// The whole signing secret (`whsec_…`), shown this once.
    secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    data: Vec<WebhookView>,
    next_cursor: Option<String>,
}

/// `?require_ok=true` on create and update: save only if a test send answers 2xx.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SaveParams {
    /// Save only if a test send to the URL answers 2xx (else 422 `test_failed`).
    #[serde(default)]
    require_ok: bool,
}

#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhooks", tag = "webhooks", operation_id = "create_webhook",
    params(crate::openapi::TenantPath, SaveParams), request_body = CreateWebhook,
    responses(
        (status = 201, description = "Created; the answer carries the whole secret this once.", body = CreatedWebhook),
        (status = 400, description = "Error codes: `invalid_name`, `invalid_url`, `invalid_topic`, `invalid_topics`, `unknown_topic`, `invalid_description`, `invalid_secret`, `invalid_filter`, `invalid_form_key`, `invalid_event_prefix`, `invalid_fields`, `invalid_auth`, `invalid_headers`, `invalid_integration`, `invalid_template`, `invalid_alert_emails`, `invalid_alert_interval`, `invalid_disable_after_failures`.", body = ErrorBody),
        (status = 409, description = "Error codes: `webhook_limit_reached`.", body = ErrorBody),
        (status = 422, description = "Error codes: `forbidden_url` (the URL is in a network Hookline does not send to), `test_failed` (with `require_ok=true`).", body = ErrorBody),
    ))]
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

#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhooks", tag = "webhooks", operation_id = "list_webhooks",
    params(crate::openapi::TenantPath, WebhookListParams),
    responses(
        (status = 200, description = "A page of the tenant's webhooks.", body = WebhookList),
        (status = 400, description = "Error codes: `invalid_limit`, `invalid_cursor`.", body = ErrorBody),
        (status = 409, description = "Error codes: `secret_unreadable` (a stored secret does not open for this webhook; set it again or delete).", body = ErrorBody),
    ))]
pub async fn list<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath(tenant_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<WebhookListParams>,
) -> ApiResult<Json<WebhookList>> {
    let page = manage_webhooks::list_webhooks(&app.store, &tenant_id, &params).await?;
    Ok(Json(WebhookList { data: page.items.iter().map(WebhookView::from).collect(), next_cursor: page.next }))
}

#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}", tag = "webhooks", operation_id = "get_webhook",
    params(crate::openapi::WebhookPath),
    responses(
        (status = 200, description = "The webhook (secrets as hints).", body = WebhookView),
        (status = 404, description = "Error codes: `webhook_not_found`.", body = ErrorBody),
        (status = 409, description = "Error codes: `secret_unreadable` (a stored secret does not open for this webhook; set it again or delete).", body = ErrorBody),
    ))]
pub async fn get<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<Json<WebhookView>> {
    let webhook = manage_webhooks::get_webhook(&app.store, &tenant_id, &webhook_id).await?;
    Ok(Json(WebhookView::from(&webhook)))
}

#[utoipa::path(patch, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}", tag = "webhooks", operation_id = "update_webhook",
    params(crate::openapi::WebhookPath, SaveParams), request_body = UpdateWebhook,
    responses(
        (status = 200, description = "The changed webhook.", body = WebhookView),
        (status = 400, description = "Error codes: `invalid_name`, `invalid_url`, `invalid_topic`, `invalid_topics`, `unknown_topic`, `invalid_description`, `invalid_secret`, `invalid_filter`, `invalid_form_key`, `invalid_event_prefix`, `invalid_fields`, `invalid_auth`, `invalid_headers`, `invalid_integration`, `invalid_template`, `invalid_alert_emails`, `invalid_alert_interval`, `invalid_disable_after_failures`.", body = ErrorBody),
        (status = 404, description = "Error codes: `webhook_not_found`.", body = ErrorBody),
        (status = 409, description = "Error codes: `secret_unreadable` (set the secret, with `secret_grace_minutes` 0, its auth and headers again to repair); `invalid_headers`, `invalid_request`, `invalid_integration` where the change breaks that rule only with the webhook as stored (a header named as the stored auth's, a `url` under a stored integration, auth or headers under a stored tool integration).", body = ErrorBody),
        (status = 422, description = "Error codes: `forbidden_url` (the URL is in a network Hookline does not send to), `test_failed` (with `require_ok=true`).", body = ErrorBody),
    ))]
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
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}/test", tag = "webhooks", operation_id = "test_webhook",
    params(crate::openapi::WebhookPath), request_body(content = TestSendRequest, description = "Optional: the topic and payload to send (without a body: the first topic and its sample)."),
    responses(
        (status = 200, description = "What the receiver answered (`ok` is false for a non-2xx or a failed connection).", body = TestSendResult),
        (status = 400, description = "Error codes: `invalid_topic`, `invalid_payload`.", body = ErrorBody),
        (status = 404, description = "Error codes: `webhook_not_found`.", body = ErrorBody),
        (status = 409, description = "Error codes: `secret_unreadable` (a stored secret does not open for this webhook; set it again or delete).", body = ErrorBody),
        (status = 429, description = "Error codes: `rate_limited` (the tenant's test-send quota; see `Retry-After`).", body = ErrorBody),
    ))]
pub async fn test<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    _no_params: ApiQuery<NoParams>,
    OptionalJsonBody(request): OptionalJsonBody<TestSendRequest>,
) -> ApiResult<Json<TestSendResult>> {
    let result = manage_webhooks::test_webhook(&app.store, &app.tester(), &tenant_id, &webhook_id, request).await?;
    Ok(Json(result))
}

#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/webhooks/{webhook_id}", tag = "webhooks", operation_id = "delete_webhook",
    params(crate::openapi::WebhookPath),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "Error codes: `webhook_not_found`.", body = ErrorBody),
    ))]
pub async fn delete<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, webhook_id)): ApiPath<(String, String)>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<StatusCode> {
    manage_webhooks::delete_webhook(&app.store, &tenant_id, &webhook_id).await?;
    tracing::info!(tenant_id = %tenant_id, webhook_id = %webhook_id, "webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}
