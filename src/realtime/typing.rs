//! `typing` -> `user-typing` to the rest of the room, with the server's own
//! `isTyping: false` when a typing user goes quiet, leaves the room or
//! disconnects (timers in [`crate::fanout::typing`]).

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::reply::{Event, over_limit};
use crate::chat::input::TypingRequest;
use crate::chat::{User, sessions};
use crate::error::{AppError, AppResult};
use crate::fanout::rooms;
use crate::fanout::typing::TypingTimers;

pub async fn typing<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<Value> {
    let Event { app, socket, user } = cx;
    let req = TypingRequest::parse(&payload)?;
    let room = rooms::session(&req.session_id);
    if !socket.rooms().iter().any(|r| *r == room) {
        // A lookup follows: under the per-socket limit of every event.
        if over_limit(&app, &socket) {
            return Err(AppError::RateLimited);
        }
        let why = "join the session before typing in it";
        return Err(sessions::refuse(&app.db, &user, &req.session_id, why).await);
    }
    let ok = json!({ "sessionId": req.session_id });
    if app
        .typing_limiter
        .check_key(&socket.id.to_string())
        .is_err()
    {
        return Ok(ok);
    }
    let sid = socket.id.to_string();
    if req.is_typing {
        let (s, who, session_id) = (socket.clone(), user.clone(), req.session_id.clone());
        app.typing.start(&sid, &req.session_id, async move {
            if s.connected() {
                announce(&s, &who, &session_id, false).await;
            }
        });
    } else {
        app.typing.stop(&sid, &req.session_id);
    }
    announce(&socket, &user, &req.session_id, req.is_typing).await;
    Ok(ok)
}

async fn announce<A: Adapter>(s: &SocketRef<A>, user: &User, session_id: &str, is_typing: bool) {
    let payload =
        json!({ "sessionId": session_id, "user": user.user_ref(), "isTyping": is_typing });
    if let Err(err) = s
        .to(rooms::session(session_id))
        .emit("user-typing", &payload)
        .await
    {
        tracing::debug!(error = %err, "user-typing broadcast failed");
    }
}

/// The socket left the session's room: if it was typing there, say it stopped.
pub async fn left_session<A: Adapter>(
    timers: &TypingTimers,
    s: &SocketRef<A>,
    user: &User,
    session_id: &str,
) {
    if timers.stop(&s.id.to_string(), session_id) {
        announce(s, user, session_id, false).await;
    }
}

/// The socket is gone: wherever it was typing, say it stopped.
pub async fn disconnected<A: Adapter>(timers: &TypingTimers, s: &SocketRef<A>, user: &User) {
    for session_id in timers.stop_all(&s.id.to_string()) {
        announce(s, user, &session_id, false).await;
    }
}
