//! Alert recipients: the tenant's list with each address's opt-in state and a resend (API key
//! or console session), and the two public pages the e-mails link to (no key: only the link's
//! token, which changes only its own address). A GET shows a button that POSTs, so a mail
//! scanner that opens links confirms nothing; the unsubscribe POST is also RFC 8058's
//! one-click request, which mail clients send without a page.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hookline_shared::app::recipients::{self, OptIn};
use hookline_shared::domain::error::{DomainError, DomainResult};
use hookline_shared::domain::recipient::{AlertRecipient, RecipientState, TokenPurpose};
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, NoParams};
use crate::handlers::access::public_base;
use crate::state::App;

/// What the API shows of a recipient: never its token's hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientView {
    email: String,
    state: RecipientState,
    requested_at: String,
    confirmation_sent_at: Option<String>,
    confirmed_at: Option<String>,
    changed_at: String,
    reason: Option<String>,
    retry_after: Option<String>,
}

impl From<AlertRecipient> for RecipientView {
    fn from(r: AlertRecipient) -> Self {
        Self {
            email: r.email,
            state: r.state,
            requested_at: r.requested_at,
            confirmation_sent_at: r.confirmation_sent_at,
            confirmed_at: r.confirmed_at,
            changed_at: r.changed_at,
            reason: r.reason,
            retry_after: r.retry_after,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RecipientList {
    data: Vec<RecipientView>,
}

#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/alert-recipients", tag = "alert-recipients", operation_id = "list_alert_recipients",
    params(crate::openapi::TenantPath),
    responses((status = 200, description = "Every address the tenant's webhooks name, with its opt-in state.", body = RecipientList)))]
/// `GET /v1/tenants/{tenant_id}/alert-recipients`.
pub async fn list<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath(tenant_id): ApiPath<String>,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<Json<RecipientList>> {
    let all = recipients::list(&app.store, &tenant_id).await?;
    Ok(Json(RecipientList { data: all.into_iter().map(RecipientView::from).collect() }))
}

#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/alert-recipients/{email}/resend", tag = "alert-recipients", operation_id = "resend_confirmation",
    params(crate::openapi::RecipientPath),
    responses(
        (status = 202, description = "A new confirmation e-mail is on its way.", body = RecipientView),
        (status = 400, description = "Error codes: `invalid_host`.", body = ErrorBody),
        (status = 404, description = "Error codes: `recipient_not_found`.", body = ErrorBody),
        (status = 409, description = "Error codes: `recipient_not_pending`, `confirmation_limit_reached` (the tenant's daily cap).", body = ErrorBody),
    ))]
/// `POST /v1/tenants/{tenant_id}/alert-recipients/{email}/resend`.
pub async fn resend<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    ApiPath((tenant_id, email)): ApiPath<(String, String)>,
    headers: HeaderMap,
    _no_params: ApiQuery<NoParams>,
) -> ApiResult<(StatusCode, Json<RecipientView>)> {
    let base = public_base(app.settings.console.public_url.as_deref(), &headers)?;
    let recipient = app.opt_in(&base)?.resend(&tenant_id, &email).await?;
    Ok((StatusCode::ACCEPTED, Json(RecipientView::from(recipient))))
}

/// After a webhook is saved: its new addresses are asked to confirm (see `OptIn::request`).
pub async fn ask_new_addresses<S: Store, Q: TaskQueue>(
    app: &App<S, Q>,
    headers: &HeaderMap,
    tenant_id: &str,
    emails: &[String],
) {
    if emails.is_empty() {
        return;
    }
    let base = match public_base(app.settings.console.public_url.as_deref(), headers) {
        Ok(base) => base,
        Err(e) => return tracing::warn!(code = e.code, "no public address for confirmation links"),
    };
    match app.opt_in(&base) {
        Ok(opt_in) => opt_in.request(tenant_id, emails).await,
        Err(e) => tracing::error!(error = %e, "alert recipients cannot be asked to confirm"),
    }
}

impl<S: Store, Q> App<S, Q> {
    fn opt_in<'a>(
        &'a self,
        base_url: &'a str,
    ) -> Result<OptIn<'a, S, hookline_shared::adapters::ses::SesMailer>, DomainError> {
        let mailer = self.mailer.as_ref().ok_or_else(|| DomainError::Unavailable {
            detail: "no e-mail sender is configured (HOOKLINE_ALERT_SENDER)".into(),
        })?;
        Ok(OptIn {
            store: &self.store,
            mailer,
            product: &self.settings.console.product_name,
            base_url,
            settings: &self.settings.opt_in,
        })
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenParams {
    /// The token of the e-mail's link (without it, the page says the link is incomplete).
    #[param(required = true, pattern = "^hr[cu]_[A-Za-z0-9_-]{43}$")]
    token: Option<String>,
}

/// The link's token; a query that cannot be read (e.g. `token` twice) has none.
fn token(query: Result<Query<TokenParams>, QueryRejection>) -> Option<String> {
    query.ok().and_then(|Query(params)| params.token)
}

/// The pages' headers: nothing runs, nothing embeds them, nothing is cached or leaks the
/// token through a referrer.
fn page(status: StatusCode, product: &str, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{} - {}</title></head><body><h1>{}</h1>{body}</body></html>",
        escape(title),
        escape(product),
        escape(title)
    );
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A link that does nothing: missing (400), or used, replaced, expired or unknown (404).
fn bad_link(product: &str, e: Option<DomainError>) -> Response {
    match e {
        None => page(
            StatusCode::BAD_REQUEST,
            product,
            "Link incomplete",
            "<p>This link has no token. Open it from the e-mail as it was sent.</p>",
        ),
        Some(e @ DomainError::Unavailable { .. }) => {
            tracing::error!(error = %e, "link page failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                product,
                "Try again",
                "<p>Something failed on our side. Try again in a minute.</p>",
            )
        }
        Some(_) => page(
            StatusCode::NOT_FOUND,
            product,
            "Link not valid",
            "<p>This link was used already, replaced by a newer one, or has expired. Nothing was changed.</p>",
        ),
    }
}

/// The button a GET shows: a form that POSTs the same token back.
fn button_form(token: &str, label: &str) -> String {
    // Tokens are URL-safe base64 with a prefix; anything else never reaches here valid.
    format!(
        "<form method=\"post\" action=\"?token={}\"><button type=\"submit\">{}</button></form>",
        escape(token),
        escape(label)
    )
}

/// A link page: no token is a 400; otherwise `act` runs with the token, and its success is
/// the page `title` and `body` (HTML, given the token), its failure `bad_link`.
async fn link_page<F, Fut>(
    product: &str,
    token: Option<String>,
    title: &str,
    body: impl FnOnce(&str) -> String,
    act: F,
) -> Response
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = DomainResult<()>>,
{
    let Some(token) = token else { return bad_link(product, None) };
    let html = body(&token);
    match act(token).await {
        Ok(()) => page(StatusCode::OK, product, title, &html),
        Err(e) => bad_link(product, Some(e)),
    }
}

#[utoipa::path(get, path = "/alerts/confirm", tag = "alert-recipients", operation_id = "confirm_page",
    params(TokenParams),
    responses(
        (status = 200, description = "A page with the button that confirms (a POST).", content_type = "text/html", body = String),
        (status = 400, description = "The link has no token.", content_type = "text/html", body = String),
        (status = 404, description = "The link was used, replaced or has expired; nothing changed.", content_type = "text/html", body = String),
        (status = 503, description = "A dependency failed; try again.", content_type = "text/html", body = String),
    ))]
/// `GET /alerts/confirm?token=`: what the link is for, and the button that confirms.
pub async fn confirm_page<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    query: Result<Query<TokenParams>, QueryRejection>,
) -> Response {
    let product = &app.settings.console.product_name;
    let body = |token: &str| {
        format!(
            "<p>Confirm that this address may get e-mail alerts about failing webhook deliveries from {}.</p>{}",
            escape(product),
            button_form(token, "Confirm")
        )
    };
    let store = &app.store;
    let act = move |token: String| async move { recipients::check_link(store, &token, TokenPurpose::Confirm).await };
    link_page(product, token(query), "Confirm failure alerts", body, act).await
}

#[utoipa::path(post, path = "/alerts/confirm", tag = "alert-recipients", operation_id = "confirm_alerts",
    params(TokenParams),
    responses(
        (status = 200, description = "Confirmed.", content_type = "text/html", body = String),
        (status = 400, description = "The link has no token.", content_type = "text/html", body = String),
        (status = 404, description = "The link was used, replaced or has expired; nothing changed.", content_type = "text/html", body = String),
        (status = 503, description = "A dependency failed; try again.", content_type = "text/html", body = String),
    ))]
/// `POST /alerts/confirm?token=`: confirms the address, once.
pub async fn confirm<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    query: Result<Query<TokenParams>, QueryRejection>,
) -> Response {
    let body =
        |_: &str| "<p>This address will get failure alerts. Every alert has a link to unsubscribe.</p>".to_string();
    let store = &app.store;
    let act = move |token: String| async move { recipients::confirm(store, &token).await };
    link_page(&app.settings.console.product_name, token(query), "Confirmed", body, act).await
}

#[utoipa::path(get, path = "/alerts/unsubscribe", tag = "alert-recipients", operation_id = "unsubscribe_page",
    params(TokenParams),
    responses(
        (status = 200, description = "A page with the button that unsubscribes (a POST).", content_type = "text/html", body = String),
        (status = 400, description = "The link has no token.", content_type = "text/html", body = String),
        (status = 404, description = "The link was used, replaced or has expired; nothing changed.", content_type = "text/html", body = String),
        (status = 503, description = "A dependency failed; try again.", content_type = "text/html", body = String),
    ))]
/// `GET /alerts/unsubscribe?token=`: the button that unsubscribes.
pub async fn unsubscribe_page<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    query: Result<Query<TokenParams>, QueryRejection>,
) -> Response {
    let body = |token: &str| {
        format!(
            "<p>Stop e-mail alerts about failing webhook deliveries to this address.</p>{}",
            button_form(token, "Unsubscribe")
        )
    };
    let store = &app.store;
    let act =
        move |token: String| async move { recipients::check_link(store, &token, TokenPurpose::Unsubscribe).await };
    link_page(&app.settings.console.product_name, token(query), "Unsubscribe from failure alerts", body, act).await
}

#[utoipa::path(post, path = "/alerts/unsubscribe", tag = "alert-recipients", operation_id = "unsubscribe_alerts",
    params(TokenParams),
    responses(
        (status = 200, description = "Unsubscribed (also RFC 8058 one-click).", content_type = "text/html", body = String),
        (status = 400, description = "The link has no token.", content_type = "text/html", body = String),
        (status = 404, description = "The link was used, replaced or has expired; nothing changed.", content_type = "text/html", body = String),
        (status = 503, description = "A dependency failed; try again.", content_type = "text/html", body = String),
    ))]
/// `POST /alerts/unsubscribe?token=`: a person's button, or a mail client's RFC 8058
/// one-click POST (body `List-Unsubscribe=One-Click`, not needed: the token says it all).
pub async fn unsubscribe<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    query: Result<Query<TokenParams>, QueryRejection>,
) -> Response {
    let body = |_: &str| "<p>This address will get no more failure alerts from this account.</p>".to_string();
    let store = &app.store;
    let act = move |token: String| async move { recipients::unsubscribe(store, &token).await };
    link_page(&app.settings.console.product_name, token(query), "Unsubscribed", body, act).await
}
