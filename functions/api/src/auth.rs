//! Who is calling, on every route but health and the console's own pages: an API key as
//! `Authorization: Bearer <key>`, or the console's session cookie. Keys and session tokens are
//! looked up by their SHA-256; a missing, wrong or revoked one gets the same 401.
//!
//! Then what they may reach: a tenant key or a console session only its own tenant (another
//! tenant's routes answer 404 as if it did not exist), the key routes only an operator key
//! (403), and a console session changes nothing without its CSRF token (403).

use std::sync::Arc;

use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hookline_shared::app::access;
use hookline_shared::domain::access::Principal;
use hookline_shared::domain::api_key;
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;

use crate::error::ApiError;
use crate::state::App;

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "hookline_session";
/// The header a console session sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

fn unauthorized() -> Response {
    let mut res = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send a valid API key as 'Authorization: Bearer <key>' (or open a new console link)",
    )
    .into_response();
    res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    res
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn changes_something(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn authenticate<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(api_key::from_authorization);
    let principal = match (bearer, cookie(headers, SESSION_COOKIE)) {
        (Some(key), _) => access::authenticate_key(&app.store, &app.unknown_keys, key).await,
        (None, Some(token)) => match access::authenticate_session(&app.store, token).await {
            Ok(Some(session)) => {
                let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                if changes_something(request.method()) && !access::csrf_matches(&session, sent) {
                    return ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf_token_invalid",
                        format!("a console change must send the session's {CSRF_HEADER} header"),
                    )
                    .into_response();
                }
                Ok(Some(Principal::Session { tenant_id: session.tenant_id, csrf_token: session.csrf_token }))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        },
        (None, None) => Ok(None),
    };
    match principal {
        Ok(Some(principal)) => {
            if let Some((key_id, _)) = principal.key() {
                tracing::Span::current().record("api_key_id", key_id);
            }
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(None) => unauthorized(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// On `/v1/tenants/{tenant_id}/...`: another tenant than the caller's own does not exist.
pub async fn require_tenant(params: RawPathParams, request: Request, next: Next) -> Response {
    let tenant = params.iter().find(|(name, _)| *name == "tenant_id").map(|(_, v)| v.to_string());
    let reaches = match (request.extensions().get::<Principal>(), tenant) {
        (Some(p), Some(t)) => p.reaches(&t),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if reaches {
        next.run(request).await
    } else {
        ApiError::new(StatusCode::NOT_FOUND, "tenant_not_found", "no such tenant for this key").into_response()
    }
}

/// On the operator's routes (API keys): tenant keys and console sessions are refused.
pub async fn require_operator(request: Request, next: Next) -> Response {
    if request.extensions().get::<Principal>().is_some_and(Principal::is_operator) {
        next.run(request).await
    } else {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", "only an operator key may do this").into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; hookline_session=hcs_x; b=2".parse().expect("header"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("hcs_x"));
        assert_eq!(cookie(&headers, "hookline"), None);
        assert!(changes_something(&Method::POST) && changes_something(&Method::DELETE));
        assert!(!changes_something(&Method::GET));
    }
}
