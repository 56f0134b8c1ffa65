//! Every client event, by name: its rate limit and its handler, in one
//! table. One fallback handler per socket serves them all (a socket then
//! keeps no handler of its own per event: less memory per idle socket).
//! Unknown events get no answer, as with a Socket.IO server that has no
//! handler for them.

use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event as Name, Extension, SocketRef, State, TryData};

use super::reply::Limit::{Own, PerSocket};
use super::reply::{Event, answer};
use super::{messages, routing, sessions, tools, typing};
use crate::app::AppState;
use crate::chat::User;

pub async fn dispatch<A: Adapter>(
    s: SocketRef<A>,
    Name(name): Name,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    Extension(user): Extension<User>,
    State(app): State<AppState<A>>,
) {
    let cx = Event {
        app,
        socket: s,
        user,
    };
    match name.as_str() {
        "join-session" => answer(cx, &name, data, ack, PerSocket, sessions::join_session).await,
        "leave-session" => answer(cx, &name, data, ack, PerSocket, sessions::leave_session).await,
        "close-session" => answer(cx, &name, data, ack, PerSocket, sessions::close_session).await,
        "mark-read" => answer(cx, &name, data, ack, PerSocket, messages::mark_read).await,
        "send-message" => answer(cx, &name, data, ack, Own, messages::send_message).await,
        "typing" => answer(cx, &name, data, ack, Own, typing::typing).await,
        "set-availability" => {
            answer(cx, &name, data, ack, PerSocket, routing::set_availability).await
        }
        "transfer-session" => {
            answer(cx, &name, data, ack, PerSocket, routing::transfer_session).await
        }
        "add-note" => answer(cx, &name, data, ack, Own, tools::add_note).await,
        "rate-session" => answer(cx, &name, data, ack, PerSocket, tools::rate_session).await,
        _ => tracing::debug!(event = %name, "unknown event, not answered"),
    }
}
