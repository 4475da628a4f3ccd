//! The API's error answer: a status and `{"error": {"code", "message"}}`. Codes are stable;
//! clients may branch on them.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hookline_shared::domain::error::{DomainError, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (a 429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after: None }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match e.kind() {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => {
                // The details (AWS error, table) are for operators, not for the caller.
                tracing::error!(error = %e, "dependency failure");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let retry_after = match e {
            DomainError::RateLimited { retry_after, .. } => Some(retry_after),
            _ => None,
        };
        Self { status, code: e.code(), message: e.public_message(), retry_after }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The body of every error answer (the OpenAPI document's `ErrorBody`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable; each operation's responses list the codes it can answer.
    #[schema(pattern = "^[a-z][a-z_]*$")]
    pub code: String,
    /// For people; may change.
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;
