//! API keys (the operator's) and console sessions: links for a tenant's console, opening one,
//! what the console learns about its session, and signing out.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use hookline_shared::app::access::{self, ApiKeyView, CreateApiKey, CreatedApiKey};
use hookline_shared::domain::access::Principal;
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{SESSION_COOKIE, cookie};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, JsonBody, NoParams};
use crate::state::App;

/// Where the console lives, and where an opened link lands.
pub const CONSOLE_PATH: &str = "/console/";

#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", operation_id = "create_api_key", request_body = CreateApiKey,
    responses(
        (status = 201, description = "Created; the answer carries the whole key this once.", body = CreatedApiKey),
        (status = 400, description = "Error codes: `invalid_name`, `invalid_tenant_id`.", body = ErrorBody),
    ))]
pub async fn create_key<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    _no_params: ApiQuery<NoParams>,
    JsonBody(request): JsonBody<CreateApiKey>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    let created = access::create_api_key(&app.store, request).await?;
    tracing::info!(key_id = %created.view.id, tenant_id = ?created.view.tenant_id, "api key created");
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    data: Vec<ApiKeyView>,
}

#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", operation_id = "list_api_keys",
    responses((status = 200, description = "Every key, as hints.", body = KeyList)))]
pub async fn list_keys<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<Json<KeyList>> {
    Ok(Json(KeyList { data: access::list_api_keys(&app.store).await? }))
}

#[utoipa::path(delete, path = "/v1/api-keys/{key_id}", tag = "api-keys", operation_id = "revoke_api_key",
    params(crate::openapi::KeyPath),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "Error codes: `api_key_not_found`.", body = ErrorBody),
    ))]
pub async fn revoke_key<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath(key_id): ApiPath<String>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<StatusCode> {
    access::revoke_api_key(&app.store, &key_id).await?;
    tracing::info!(key_id = %key_id, "api key revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct ConsoleLinkAnswer {
    url: String,
    expires_at: String,
}

/// Whether the request reached Hookline over https (API Gateway says so in a header).
fn over_https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// The deployment's public address: the setting, or the request's own host and scheme.
pub(crate) fn public_base(app_url: Option<&str>, headers: &HeaderMap) -> ApiResult<String> {
    if let Some(url) = app_url {
        return Ok(url.to_string());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']')))
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_host", "the request names no usable host"))?;
    Ok(format!("{}://{host}", if over_https(headers) { "https" } else { "http" }))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/console-sessions", tag = "console", operation_id = "create_console_link",
    params(crate::openapi::TenantPath),
    responses(
        (status = 201, description = "A one-time link that opens the tenant's console.", body = ConsoleLinkAnswer),
        (status = 400, description = "Error codes: `invalid_host`, `invalid_tenant_id`.", body = ErrorBody),
        (status = 403, description = "Error codes: `forbidden` (a console session cannot open console links).", body = ErrorBody),
    ))]
/// `POST /v1/tenants/{tenant_id}/console-sessions`: a one-time link to the tenant's console.
pub async fn create_console_link<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    Extension(principal): Extension<Principal>,
    ApiPath(tenant_id): ApiPath<String>,
    headers: HeaderMap,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<(StatusCode, Json<ConsoleLinkAnswer>)> {
    // A key opens consoles; a console does not open more of itself.
    let Some((key_id, key_hash)) = principal.key() else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "a console session cannot open console links"));
    };
    let console = &app.settings.console;
    let base = public_base(console.public_url.as_deref(), &headers)?;
    let (token, expires_at) = access::open_console_link(&app.store, console, key_hash, &tenant_id).await?;
    tracing::info!(tenant_id = %tenant_id, key_id = %key_id, "console link created");
    let url = format!("{base}{CONSOLE_PATH}open?token={token}");
    Ok((StatusCode::CREATED, Json(ConsoleLinkAnswer { url, expires_at })))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpenParams {
    /// The one-time token of a console link (`hcl_…`). Without one, or with any other value,
    /// the console opens without a session and says to ask for a new link.
    token: Option<String>,
}

#[utoipa::path(get, path = "/console/open", tag = "console", operation_id = "open_console",
    params(OpenParams),
    responses(
        (status = 303, description = "To the console (`Location: /console/`), with the session cookie when the link was good.",
            headers(("Location" = String), ("Set-Cookie" = String, description = "`hookline_session=…; HttpOnly; SameSite=Strict`"))),
        (status = 503, description = "Error codes: `service_unavailable`.", body = ErrorBody),
    ))]
/// `GET /console/open?token=`: trades the link for a session cookie and lands on the console
/// (a redirect, so the token leaves the address bar and the history). A used, expired or
/// unknown link lands there without a session: the console says to ask for a new link.
pub async fn open_console<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    headers: HeaderMap,
    query: Result<Query<OpenParams>, QueryRejection>,
) -> ApiResult<Response> {
    let console = &app.settings.console;
    // A query that cannot be read (e.g. `token` twice) is a link without a token.
    let token = query.ok().and_then(|Query(params)| params.token);
    let opened = match token.as_deref() {
        Some(token) => access::exchange_console_link(&app.store, console, token).await?,
        None => None,
    };
    let mut response = Redirect::to(CONSOLE_PATH).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response_headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Some((token, session)) = opened {
        tracing::info!(tenant_id = %session.tenant_id, "console session opened");
        let secure = over_https(&headers) || console.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
        let cookie = format!(
            "{SESSION_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
            console.session_ttl.as_secs(),
            if secure { "; Secure" } else { "" }
        );
        let value = HeaderValue::from_str(&cookie)
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "cookie"))?;
        response_headers.insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    tenant_id: String,
    csrf_token: String,
    product_name: String,
    accent_color: String,
    header_prefix: String,
}

#[utoipa::path(get, path = "/v1/console/session", tag = "console", operation_id = "console_session",
    responses(
        (status = 200, description = "The console's own session: tenant, CSRF token, branding.", body = SessionInfo),
        (status = 403, description = "Error codes: `not_a_console_session`.", body = ErrorBody),
    ))]
/// `GET /v1/console/session`: what the console needs to know about its own session.
pub async fn session_info<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    Extension(principal): Extension<Principal>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<([(header::HeaderName, HeaderValue); 1], Json<SessionInfo>)> {
    let Principal::Session { tenant_id, csrf_token } = principal else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "not_a_console_session", "this is for the console only"));
    };
    let console = &app.settings.console;
    let info = SessionInfo {
        tenant_id,
        csrf_token,
        product_name: console.product_name.clone(),
        accent_color: console.accent_color.clone(),
        header_prefix: app.settings.header_prefix.clone(),
    };
    // It carries the CSRF token: no cache keeps it.
    Ok(([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(info)))
}

#[utoipa::path(post, path = "/v1/console/logout", tag = "console", operation_id = "console_logout",
    responses(
        (status = 204, description = "Signed out; the cookie is dropped."),
        (status = 403, description = "Error codes: `not_a_console_session`.", body = ErrorBody),
    ))]
/// `POST /v1/console/logout`: ends the session and drops its cookie.
pub async fn logout<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<Response> {
    let (Principal::Session { .. }, Some(token)) = (&principal, cookie(&headers, SESSION_COOKIE)) else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "not_a_console_session", "this is for the console only"));
    };
    access::close_session(&app.store, token).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}
