//! `Authorization: Bearer <api key>` on every route but health. Keys are looked up by their
//! SHA-256 (the store never sees a key); a missing and a wrong key get the same 401.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hookline_shared::domain::api_key;
use hookline_shared::ports::queue::TaskQueue;
use hookline_shared::ports::store::Store;

use crate::error::ApiError;
use crate::state::App;

fn unauthorized() -> Response {
    let mut res = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send a valid API key as 'Authorization: Bearer <key>'",
    )
    .into_response();
    res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    res
}

pub async fn require_api_key<S: Store, Q: TaskQueue>(
    State(app): State<Arc<App<S, Q>>>,
    request: Request,
    next: Next,
) -> Response {
    let key = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(api_key::from_authorization);
    let Some(key) = key else {
        return unauthorized();
    };
    match app.store.get_api_key(&api_key::hash(key)).await {
        Ok(Some(record)) => {
            tracing::Span::current().record("api_key_id", record.key_id.as_str());
            next.run(request).await
        }
        Ok(None) => unauthorized(),
        Err(e) => ApiError::from(hookline_shared::domain::error::DomainError::from(e)).into_response(),
    }
}
