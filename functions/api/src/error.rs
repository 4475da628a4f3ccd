//! The API's error answer: a status and `{"error": {"code", "message"}}`. Codes are stable;
//! clients may branch on them.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hookline_shared::domain::error::{DomainError, ErrorKind};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match e.kind() {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Unavailable => {
                // The details (AWS error, table) are for operators, not for the caller.
                tracing::error!(error = %e, "dependency failure");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        Self { status, code: e.code(), message: e.public_message() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
