//! The one error type of the server, with its wire forms: the socket ack
//! `{ ok: false, error: { code, message } }` and the HTTP body
//! `{ error: { code, message } }` with the status PROTOCOL §6 lists.
//! Internal causes are logged; clients get an opaque message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::{DbErr, SqlErr};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 401: no valid token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the user may not do this to a session of their own tenant.
    #[error("{0}")]
    Forbidden(String),
    /// 404: unknown, or of another tenant (existence is not revealed).
    #[error("{0}")]
    NotFound(String),
    /// 400: the payload is not the documented shape.
    #[error("{0}")]
    InvalidPayload(String),
    /// 409: the session is closed.
    #[error("session is closed")]
    SessionClosed,
    /// 413: the message is longer than the configured limit.
    #[error("message is longer than {0} characters")]
    MessageTooLong(usize),
    /// 429: too many requests.
    #[error("rate limit exceeded, slow down")]
    RateLimited,
    /// 409: the state changed under the request (another agent holds it).
    #[error("{0}")]
    Conflict(String),
    /// 503: the database cannot be reached, or the server is shutting down;
    /// the cause is logged, not shown.
    #[error("service temporarily unavailable")]
    Unavailable(String),
    /// 500: a bug or an unexpected database error; details only in the log.
    #[error("internal error")]
    Internal(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    InvalidPayload,
    SessionClosed,
    MessageTooLong,
    RateLimited,
    Conflict,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::InvalidPayload => "invalid_payload",
            Self::SessionClosed => "session_closed",
            Self::MessageTooLong => "message_too_long",
            Self::RateLimited => "rate_limited",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// `{ code, message }`, the body of every error the clients see.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::InvalidPayload(_) => ErrorCode::InvalidPayload,
            Self::SessionClosed => ErrorCode::SessionClosed,
            Self::MessageTooLong(_) => ErrorCode::MessageTooLong,
            Self::RateLimited => ErrorCode::RateLimited,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self.code() {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidPayload => StatusCode::BAD_REQUEST,
            ErrorCode::SessionClosed | ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::MessageTooLong => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body clients see, after logging what they must not.
    pub fn body(&self) -> ErrorBody {
        match self {
            Self::Unavailable(cause) => tracing::warn!(%cause, "unavailable"),
            Self::Internal(cause) => tracing::error!(error = %cause, "internal error"),
            _ => {}
        }
        ErrorBody {
            code: self.code(),
            message: self.to_string(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidPayload(message.into())
    }

    pub fn session_not_found() -> Self {
        Self::NotFound("session not found".into())
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            return Self::Unavailable(err.to_string());
        }
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Self::Conflict("conflicting change".into())
            }
            _ => Self::Internal(err.to_string()),
        }
    }
}

/// Errors that mean "the database is not there right now" rather than "the
/// request is wrong": lost connections, an exhausted pool, a locked or
/// read-only SQLite file.
fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        _ => {
            let text = err.to_string().to_ascii_lowercase();
            [
                "database is locked",
                "readonly database",
                "read-only",
                "disk i/o error",
                "database or disk is full",
                "connection refused",
                "connection reset",
                "broken pipe",
                "pool timed out",
                "unable to open database",
                "terminating connection",
                "connection closed",
            ]
            .iter()
            .any(|needle| text.contains(needle))
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Wrapper {
            error: ErrorBody,
        }
        (self.status(), axum::Json(Wrapper { error: self.body() })).into_response()
    }
}

pub type AppResult<T> = Result<T, AppError>;
