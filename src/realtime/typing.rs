//! `typing` -> `user-typing`, with the server's own `isTyping: false` when a
//! typing user goes quiet for 5 s, leaves the room or disconnects.

use socketioxide::adapter::Adapter;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use socketioxide::extract::SocketRef;

use super::reply::client_event;
use crate::app::AppState;
use crate::chat::input::TypingRequest;
use crate::chat::{User, session_room, sessions};
use crate::error::{AppError, AppResult};

/// After this long without an update, a typing user is said to have stopped.
pub const IDLE: Duration = Duration::from_secs(5);

/// Who is typing where: `(socket id, session id)` -> the generation of the
/// last `isTyping: true`, so a timer only fires if nothing came after it.
#[derive(Default)]
pub struct TypingTimers {
    typing: Mutex<HashMap<(String, String), u64>>,
    generation: AtomicU64,
}

impl TypingTimers {
    fn start(&self, sid: &str, session_id: &str) -> u64 {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let mut typing = self.typing.lock().unwrap_or_else(|e| e.into_inner());
        typing.insert((sid.to_string(), session_id.to_string()), generation);
        generation
    }

    /// Forgets the entry; true if the user was typing (at `generation`, when given).
    fn stop(&self, sid: &str, session_id: &str, generation: Option<u64>) -> bool {
        let mut typing = self.typing.lock().unwrap_or_else(|e| e.into_inner());
        let key = (sid.to_string(), session_id.to_string());
        match (typing.get(&key), generation) {
            (Some(current), Some(g)) if *current != g => false,
            (Some(_), _) => typing.remove(&key).is_some(),
            (None, _) => false,
        }
    }

    /// Sessions the socket is typing in, forgotten.
    fn stop_all(&self, sid: &str) -> Vec<String> {
        let mut typing = self.typing.lock().unwrap_or_else(|e| e.into_inner());
        let sessions: Vec<String> = typing
            .keys()
            .filter(|(s, _)| s == sid)
            .map(|(_, id)| id.clone())
            .collect();
        for session_id in &sessions {
            typing.remove(&(sid.to_string(), session_id.clone()));
        }
        sessions
    }
}

client_event!(typing, "typing", handle);

async fn handle<A: Adapter>(
    app: &AppState<A>,
    s: &SocketRef<A>,
    user: &User,
    payload: Value,
) -> AppResult<Value> {
    let req = TypingRequest::parse(&payload)?;
    let room = session_room(&req.session_id);
    if !s.rooms().iter().any(|r| *r == room) {
        // Not in the room: say not_found for what the user may not see.
        sessions::find(&app.db, user, &req.session_id).await?;
        return Err(AppError::Forbidden(
            "join the session before typing in it".into(),
        ));
    }
    let ok = json!({ "sessionId": req.session_id });
    if app.typing_limiter.check_key(&s.id.to_string()).is_err() {
        return Ok(ok);
    }
    let sid = s.id.to_string();
    if req.is_typing {
        let generation = app.typing.start(&sid, &req.session_id);
        let (app, s, user, session_id) =
            (app.clone(), s.clone(), user.clone(), req.session_id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(IDLE).await;
            if s.connected() && app.typing.stop(&sid, &session_id, Some(generation)) {
                announce(&s, &user, &session_id, false).await;
            }
        });
    } else {
        app.typing.stop(&sid, &req.session_id, None);
    }
    announce(s, user, &req.session_id, req.is_typing).await;
    Ok(ok)
}

async fn announce<A: Adapter>(s: &SocketRef<A>, user: &User, session_id: &str, is_typing: bool) {
    let payload =
        json!({ "sessionId": session_id, "user": user.user_ref(), "isTyping": is_typing });
    if let Err(err) = s
        .to(session_room(session_id))
        .emit("user-typing", &payload)
        .await
    {
        tracing::debug!(error = %err, "user-typing broadcast failed");
    }
}

/// The socket left the session's room: if it was typing there, say it stopped.
pub async fn left_session<A: Adapter>(
    app: &AppState<A>,
    s: &SocketRef<A>,
    user: &User,
    session_id: &str,
) {
    if app.typing.stop(&s.id.to_string(), session_id, None) {
        announce(s, user, session_id, false).await;
    }
}

/// The socket is gone: wherever it was typing, say it stopped.
pub async fn disconnected<A: Adapter>(app: &AppState<A>, s: &SocketRef<A>, user: &User) {
    for session_id in app.typing.stop_all(&s.id.to_string()) {
        announce(s, user, &session_id, false).await;
    }
}
