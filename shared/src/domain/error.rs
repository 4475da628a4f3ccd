//! The domain's error type. Each error carries a stable machine-readable `code` (part of the
//! API contract: clients branch on it) and a human message; `kind` tells the API layer which
//! HTTP status class it belongs to without this crate knowing about HTTP.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule: 400.
    Invalid,
    /// The named tenant, webhook or delivery does not exist: 404.
    NotFound,
    /// The request conflicts with the current state (a limit reached, ...): 409.
    Conflict,
    /// Well-formed but refused on its merits (a webhook URL in a network Hookline does not
    /// send to, a required test send failed): 422.
    Unprocessable,
    /// A tenant's quota for this window is used up: 429, with the seconds to wait.
    RateLimited,
    /// A dependency (DynamoDB, SQS) failed: 503, safe to retry with the same event id.
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// Over a rate quota: try again in `retry_after` seconds (the `Retry-After` header).
    #[error("{message}")]
    RateLimited { code: &'static str, message: String, retry_after: u64 },
    /// A dependency (a store, a queue) failed; `detail` is for the log, not the caller.
    /// Adapter errors become this at the port (`ports`), so the domain imports none of them.
    #[error("{detail}")]
    Unavailable { detail: String },
}

impl DomainError {
    pub fn invalid(code: &'static str, message: impl fmt::Display) -> Self {
        Self::Invalid { code, message: message.to_string() }
    }

    pub fn not_found(code: &'static str, message: impl fmt::Display) -> Self {
        Self::NotFound { code, message: message.to_string() }
    }

    pub fn conflict(code: &'static str, message: impl fmt::Display) -> Self {
        Self::Conflict { code, message: message.to_string() }
    }

    pub fn unprocessable(code: &'static str, message: impl fmt::Display) -> Self {
        Self::Unprocessable { code, message: message.to_string() }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid { .. } => ErrorKind::Invalid,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Conflict { .. } => ErrorKind::Conflict,
            Self::Unprocessable { .. } => ErrorKind::Unprocessable,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. }
            | Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::RateLimited { code, .. } => code,
            Self::Unavailable { .. } => "service_unavailable",
        }
    }

    /// The message shown to API clients. Dependency failures are summarised: their details
    /// (table names, AWS request ids) go to the log, not to the caller.
    pub fn public_message(&self) -> String {
        match self {
            Self::Unavailable { .. } => "a dependency failed; retry the request (events: with the same id)".to_string(),
            other => other.to_string(),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
