//! Answers to client events: the ack `{ ok, data | error }` and, on failure,
//! the NestJS-style `exception` event; plus one log line per error.

use serde::Serialize;
use serde_json::{Value, json};
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef};

use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};

/// The payload of an event, or `invalid_payload` when it was not JSON (a
/// binary attachment, no argument at all).
pub fn payload(data: Result<Value, ParserError>) -> AppResult<Value> {
    data.map_err(|_| AppError::invalid("payload must be a JSON value"))
}

pub fn reply<A: Adapter, T: Serialize>(
    app: &AppState<A>,
    s: &SocketRef<A>,
    ack: AckSender<A>,
    event: &str,
    result: AppResult<T>,
) {
    let body = match result {
        Ok(data) => {
            app.metrics.count_event(event, "ok");
            json!({ "ok": true, "data": data })
        }
        Err(err) => {
            let body = err.body();
            app.metrics.count_event(event, body.code.as_str());
            if matches!(body.code, ErrorCode::Internal | ErrorCode::Unavailable) {
                tracing::warn!(socket = %s.id, event, code = body.code.as_str(), "event failed");
            } else {
                tracing::info!(socket = %s.id, event, code = body.code.as_str(), message = %body.message, "event refused");
            }
            let exception = json!({ "status": "error", "message": body.message, "code": body.code, "event": event });
            if let Err(e) = s.emit("exception", &exception) {
                tracing::debug!(socket = %s.id, error = %e, "cannot send exception");
            }
            json!({ "ok": false, "error": body })
        }
    };
    if let Err(e) = ack.send(&body) {
        tracing::debug!(socket = %s.id, event, error = %e, "cannot send ack");
    }
}

/// Defines `pub async fn $name`, the socketioxide handler of client event
/// `$event`: the event counts as in flight (graceful shutdown waits for
/// it, and refuses events with `unavailable` once it has started), its JSON payload (or `invalid_payload`) goes to
/// `$logic(&app, &socket, &user, payload)`, and the result is the ack (and,
/// on failure, the `exception` event).
macro_rules! client_event {
    ($name:ident, $event:literal, $logic:path) => {
        pub async fn $name<A: socketioxide::adapter::Adapter>(
            s: socketioxide::extract::SocketRef<A>,
            socketioxide::extract::TryData(data): socketioxide::extract::TryData<serde_json::Value>,
            ack: socketioxide::extract::AckSender<A>,
            socketioxide::extract::Extension(user): socketioxide::extract::Extension<
                crate::chat::User,
            >,
            socketioxide::extract::State(app): socketioxide::extract::State<
                crate::app::AppState<A>,
            >,
        ) {
            let in_flight = app.in_flight.enter();
            let result = match (&in_flight, crate::realtime::reply::payload(data)) {
                (None, _) => Err(crate::error::AppError::Unavailable("shutting down".into())),
                (Some(_), Ok(value)) => $logic(&app, &s, &user, value).await,
                (Some(_), Err(err)) => Err(err),
            };
            crate::realtime::reply::reply(&app, &s, ack, $event, result);
        }
    };
}
pub(crate) use client_event;
