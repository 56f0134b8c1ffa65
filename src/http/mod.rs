//! The REST API of docs/protocol.md §6: one module per resource, each with its
//! `router()`, and the extractors they share (the bearer-token user, a JSON
//! body whose errors have the protocol's shape).

use socketioxide::adapter::Adapter;
pub mod attachments;
pub mod compact_head;
pub mod dev;
pub mod drain;
pub mod health;
pub mod integrations;
pub mod messages;
pub mod openapi;
pub mod routing;
pub mod server_api;
pub mod sessions;
pub mod stats;
pub mod tools;

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde_json::Value;

use crate::app::AppState;
use crate::chat::User;
use crate::error::AppError;

/// Every route of the API; the socket layer and static files are added by
/// [`crate::startup`].
pub fn router<A: Adapter>(app: &AppState<A>) -> Router<AppState<A>> {
    let router = Router::new()
        .merge(sessions::router::<A>())
        .merge(attachments::router::<A>(&app.config))
        .merge(messages::router::<A>())
        .merge(routing::router::<A>())
        .merge(stats::router::<A>())
        .merge(tools::router::<A>())
        .merge(integrations::router::<A>())
        .merge(server_api::router::<A>(&app.config))
        .merge(health::router::<A>())
        .merge(openapi::router::<A>(app.config.dev_mode()));
    if app.config.dev_mode() {
        router.merge(dev::router::<A>())
    } else {
        router
    }
}

/// The user of a REST call, from `Authorization: Bearer <jwt>`; recorded
/// like a socket connection's.
pub struct AuthUser(pub User);

impl<A: Adapter> FromRequestParts<AppState<A>> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState<A>) -> Result<Self, AppError> {
        let user = bearer_user(&parts.headers, app)?;
        app.users.remember(&user).await?;
        Ok(Self(user))
    }
}

/// The user of `Authorization: Bearer <jwt>`, or 401.
pub fn bearer_user<A: Adapter>(
    headers: &axum::http::HeaderMap,
    app: &AppState<A>,
) -> Result<User, AppError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AppError::Unauthorized("missing_token".into()))?;
    crate::auth::bearer_token(header)
        .and_then(|token| app.verifier.verify(token))
        .map_err(|reason| AppError::Unauthorized(reason.to_string()))
}

/// A turn at the REST reads (see `App::read_slots`), held while the
/// handler runs.
pub struct ReadSlot {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl<A: Adapter> FromRequestParts<AppState<A>> for ReadSlot {
    type Rejection = AppError;

    async fn from_request_parts(_: &mut Parts, app: &AppState<A>) -> Result<Self, AppError> {
        let permit = app
            .read_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AppError::Unavailable("shutting down".into()))?;
        // The chat first: socket events in flight (a message being stored)
        // finish before this read starts, for at most --read-yield-ms.
        let yield_for = std::time::Duration::from_millis(app.config.read_yield_ms);
        if !yield_for.is_zero() {
            let _ = tokio::time::timeout(yield_for, app.in_flight.idle()).await;
        }
        Ok(Self { _permit: permit })
    }
}

/// A JSON body as a [`Value`] (absent is `null`), parsed by the same
/// functions as socket payloads.
pub struct JsonBody(pub Value);

impl<A: Adapter> FromRequest<AppState<A>> for JsonBody {
    type Rejection = AppError;

    async fn from_request(req: Request, app: &AppState<A>) -> Result<Self, AppError> {
        let bytes = Bytes::from_request(req, app).await.map_err(|rejection| {
            // Over the body limit: 413, like a message over its own; any
            // other failure to read the body is the client's to fix.
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::MessageTooLong(app.config.message_max_length)
            } else {
                AppError::invalid(format!("cannot read the body: {}", rejection.body_text()))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Value::Null));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| AppError::invalid(format!("body is not valid JSON: {e}")))
    }
}

/// 201 for what was stored now, 200 for what was there already (an open
/// session, a repeated `clientMessageId`).
pub fn created_or_ok(created: bool) -> axum::http::StatusCode {
    if created {
        axum::http::StatusCode::CREATED
    } else {
        axum::http::StatusCode::OK
    }
}

/// Query parameters, with malformed ones as `invalid_payload`.
pub type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

pub fn params(query: Params) -> Result<HashMap<String, String>, AppError> {
    query
        .map(|Query(q)| q)
        .map_err(|_| AppError::invalid("malformed query string"))
}

/// `limit`: default 50; over 200 is taken as 200; not a positive integer is invalid.
pub fn limit(params: &HashMap<String, String>) -> Result<u64, AppError> {
    match params.get("limit") {
        None => Ok(50),
        Some(raw) => match raw.parse::<u64>() {
            Ok(0) | Err(_) => Err(AppError::invalid("limit must be a positive integer")),
            Ok(n) => Ok(n.min(200)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_to_50_and_cap_at_200() {
        let p = |v: &str| HashMap::from([("limit".to_string(), v.to_string())]);
        assert_eq!(limit(&HashMap::new()).unwrap(), 50);
        assert_eq!(limit(&p("500")).unwrap(), 200);
        assert_eq!(limit(&p("7")).unwrap(), 7);
        assert!(limit(&p("0")).is_err());
        assert!(limit(&p("-1")).is_err());
        assert!(limit(&p("ten")).is_err());
    }
}
