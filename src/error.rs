//! The one error type of the server, with its wire forms: the socket ack
//! `{ ok: false, error: { code, message } }` and the HTTP body
//! `{ error: { code, message } }` with the status docs/protocol.md §6 lists.
//! Internal causes are logged; clients get an opaque message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};
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
    /// 413: an upload over the size limit (docs/protocol.md §9).
    #[error("attachment is larger than {0} bytes")]
    AttachmentTooLarge(u64),
    /// 415: an upload whose bytes are not an allowed type.
    #[error("{0}")]
    UnsupportedMediaType(String),
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    InvalidPayload,
    SessionClosed,
    MessageTooLong,
    AttachmentTooLarge,
    UnsupportedMediaType,
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
            Self::AttachmentTooLarge => "attachment_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// `{ code, message }`, the body of every error the clients see.
#[derive(Debug, Serialize, utoipa::ToSchema)]
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
            Self::AttachmentTooLarge(_) => ErrorCode::AttachmentTooLarge,
            Self::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
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
            ErrorCode::MessageTooLong | ErrorCode::AttachmentTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body clients see: never an internal cause (see [`Self::log`]).
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            message: self.to_string(),
        }
    }

    /// One log line for an error answered to `origin` (an event of a
    /// socket, a REST route): the hidden cause of a failure at WARN or
    /// ERROR; a refusal (the client's doing) at DEBUG, so a client sending
    /// garbage cannot fill the log.
    pub fn log(&self, origin: &str) {
        match self {
            Self::Unavailable(cause) => tracing::warn!(origin, %cause, "unavailable"),
            Self::Internal(cause) => tracing::error!(origin, error = %cause, "internal error"),
            refusal => {
                tracing::debug!(origin, code = refusal.code().as_str(), message = %refusal, "refused")
            }
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
/// request is wrong": lost connections, an exhausted or closed pool, a
/// locked, read-only, full or unreadable SQLite file, a PostgreSQL server
/// shutting down or out of resources, a statement cancelled by its timeout.
fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => {
            sqlx_unavailable(err)
        }
        _ => false,
    }
}

fn sqlx_unavailable(err: &sqlx::Error) -> bool {
    use sqlx::Error as E;
    match err {
        E::Io(_) | E::Tls(_) | E::Protocol(_) => true,
        E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::BeginFailed => true,
        E::Database(db) => {
            let Some(code) = db.code() else { return false };
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                code.parse::<i32>().is_ok_and(sqlite_unavailable)
            } else {
                postgres_unavailable(&code)
            }
        }
        _ => false,
    }
}

/// SQLite primary result codes (the low byte of an extended one): BUSY,
/// LOCKED, READONLY, IOERR, FULL, CANTOPEN.
fn sqlite_unavailable(extended: i32) -> bool {
    matches!(extended & 0xff, 5 | 6 | 8 | 10 | 13 | 14)
}

/// PostgreSQL SQLSTATEs: connection exceptions (08), insufficient
/// resources (53), shutdown and start-up (57P01-57P03), a statement
/// cancelled by `statement_timeout` (57014).
fn postgres_unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || sqlstate.starts_with("53")
        || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "57014")
}

/// `{ error: { code, message } }`: an HTTP error's body (the OpenAPI
/// document's `ErrorResponse`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log("http");
        let body = ErrorResponse { error: self.body() };
        (self.status(), axum::Json(body)).into_response()
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_status_and_wire_name() {
        let cases = [
            (AppError::Unauthorized("x".into()), 401, "unauthorized"),
            (AppError::Forbidden("x".into()), 403, "forbidden"),
            (AppError::NotFound("x".into()), 404, "not_found"),
            (AppError::invalid("x"), 400, "invalid_payload"),
            (AppError::SessionClosed, 409, "session_closed"),
            (AppError::MessageTooLong(4000), 413, "message_too_long"),
            (AppError::RateLimited, 429, "rate_limited"),
            (AppError::Conflict("x".into()), 409, "conflict"),
            (AppError::Unavailable("x".into()), 503, "unavailable"),
            (AppError::Internal("x".into()), 500, "internal"),
        ];
        for (err, status, name) in cases {
            assert_eq!(err.status().as_u16(), status, "{name}");
            assert_eq!(err.code().as_str(), name);
            let wire = serde_json::to_value(err.code()).unwrap();
            assert_eq!(wire, name);
        }
    }

    #[test]
    fn internal_causes_never_reach_the_body() {
        let body = AppError::Internal("secret table t_x is corrupt".into()).body();
        assert_eq!(body.message, "internal error");
        let body = AppError::Unavailable("connection refused at 10.0.0.5".into()).body();
        assert_eq!(body.message, "service temporarily unavailable");
    }

    #[test]
    fn lost_connections_and_pools_are_unavailable_other_errors_internal() {
        let lost = DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(
            sqlx::Error::PoolTimedOut,
        )));
        assert_eq!(AppError::from(lost).code(), ErrorCode::Unavailable);
        let io = DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        ))));
        assert_eq!(AppError::from(io).code(), ErrorCode::Unavailable);
        let bug = DbErr::Custom("column does not exist".into());
        assert_eq!(AppError::from(bug).code(), ErrorCode::Internal);
    }

    #[test]
    fn sqlite_and_postgres_codes_of_an_absent_database_are_unavailable() {
        assert!(sqlite_unavailable(5)); // SQLITE_BUSY
        assert!(sqlite_unavailable(8 | (1 << 8))); // SQLITE_READONLY_RECOVERY
        assert!(sqlite_unavailable(10 | (12 << 8))); // an IOERR variant
        assert!(!sqlite_unavailable(2067)); // SQLITE_CONSTRAINT_UNIQUE
        assert!(postgres_unavailable("57P01"));
        assert!(postgres_unavailable("08006"));
        assert!(postgres_unavailable("53300"));
        assert!(!postgres_unavailable("23505"));
        assert!(!postgres_unavailable("42P01"));
    }
}
