//! How a client event is answered ([`answer`], called by
//! [`super::dispatch`] for every known event): the event counts
//! as in flight (graceful shutdown waits for it, and refuses new ones with
//! `unavailable` once it has started), its JSON payload (or
//! `invalid_payload`) goes to the handler, and the result is the ack
//! `{ ok, data | error }` and, on failure, the NestJS-style `exception`
//! event, with one log line.

use std::future::Future;

use serde::Serialize;
use serde_json::{Value, json};
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef};

use crate::app::AppState;
use crate::chat::User;
use crate::error::{AppError, AppResult, ErrorBody};

/// What a client-event handler works with.
pub struct Event<A: Adapter> {
    pub app: AppState<A>,
    pub socket: SocketRef<A>,
    pub user: User,
}

/// The rate limit an event is under.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The per-socket limit of every client event without one of its own,
    /// checked before any work (`--event-rate-per-second`).
    PerSocket,
    /// Its own, checked by the handler: `send-message` per user,
    /// `typing` per socket (the excess dropped silently).
    Own,
}

/// Handles one client event with `handler`: the event counts as in
/// flight, is checked against its `limit`, gets its payload, and is
/// answered with the ack (and, on failure, `exception`).
pub async fn answer<A, F, Fut, T>(
    cx: Event<A>,
    event: &str,
    data: Result<Value, ParserError>,
    ack: AckSender<A>,
    limit: Limit,
    handler: F,
) where
    A: Adapter,
    F: FnOnce(Event<A>, Value) -> Fut,
    Fut: Future<Output = AppResult<T>>,
    T: Serialize,
{
    let (app, s) = (cx.app.clone(), cx.socket.clone());
    let in_flight = app.in_flight.enter();
    let result = match (&in_flight, payload(data)) {
        (None, _) => Err(AppError::Unavailable("shutting down".into())),
        (Some(_), _) if limit == Limit::PerSocket && over_limit(&app, &s) => {
            Err(AppError::RateLimited)
        }
        (Some(_), Ok(value)) => handler(cx, value).await,
        (Some(_), Err(err)) => Err(err),
    };
    reply(&app, &s, ack, event, result);
}

/// Whether the socket is over the per-socket event limit (this event counts).
pub fn over_limit<A: Adapter>(app: &AppState<A>, s: &SocketRef<A>) -> bool {
    app.event_limiter.check_key(&s.id.to_string()).is_err()
}

/// The payload of an event, or `invalid_payload` when it was not JSON (a
/// binary attachment, no argument at all).
fn payload(data: Result<Value, ParserError>) -> AppResult<Value> {
    data.map_err(|_| AppError::invalid("payload must be a JSON value"))
}

/// The ack: `{ ok: true, data }` or `{ ok: false, error }`, serialised
/// straight into the packet (data already serialised stays as it is).
#[derive(Serialize)]
struct Ack<T> {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody>,
}

fn reply<A: Adapter, T: Serialize>(
    app: &AppState<A>,
    s: &SocketRef<A>,
    ack: AckSender<A>,
    event: &str,
    result: AppResult<T>,
) {
    let ack_body = match result {
        Ok(data) => {
            app.metrics.count_event(event, "ok");
            Ack {
                ok: true,
                data: Some(data),
                error: None,
            }
        }
        Err(err) => {
            let body = err.body();
            app.metrics.count_event(event, body.code.as_str());
            err.log(&format!("socket {} {event}", s.id));
            let exception = json!({ "status": "error", "message": body.message, "code": body.code, "event": event });
            if let Err(e) = s.emit("exception", &exception) {
                tracing::debug!(socket = %s.id, error = %e, "cannot send exception");
            }
            Ack {
                ok: false,
                data: None,
                error: Some(body),
            }
        }
    };
    if let Err(e) = ack.send(&ack_body) {
        tracing::debug!(socket = %s.id, event, error = %e, "cannot send ack");
    }
}
