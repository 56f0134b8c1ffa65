//! `join-session`, `leave-session` and `close-session`.

use serde::Serialize;
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::reply::client_event;
use super::{events, stats, typing};
use crate::app::AppState;
use crate::chat::access::PENDING;
use crate::chat::input::{CloseRequest, JoinRequest, parse_session_ref};
use crate::chat::{MessageView, SessionView, User, messages, session_room, sessions, users};
use crate::error::AppResult;
use crate::service;

/// Without `lastMessageId`, a join returns this many of the newest messages.
const JOIN_HISTORY: u64 = 50;

#[derive(Serialize)]
pub struct Joined {
    session: SessionView,
    messages: Vec<MessageView>,
}

client_event!(join_session, "join-session", join);
client_event!(leave_session, "leave-session", leave);
client_event!(close_session, "close-session", close);

/// Under the session's lock, so no local `new-message` can fall between the
/// history read here and the socket joining the room.
async fn join<A: Adapter>(
    app: &AppState<A>,
    s: &SocketRef<A>,
    user: &User,
    payload: Value,
) -> AppResult<Joined> {
    let req = JoinRequest::parse(&payload)?;
    let _order = app.locks.lock(&req.session_id).await;
    let mut row = sessions::find(&app.db, user, &req.session_id).await?;
    // Checked before taking: a failed join changes nothing.
    let anchor = match &req.last_message_id {
        Some(id) => Some(sessions::message_in(&app.db, &row.id, id).await?.seq),
        None => None,
    };
    let mut taken = false;
    if user.role.is_staff() && row.status == PENDING {
        match sessions::take(&app.db, user, &row).await? {
            Some(now_held) => {
                taken = true;
                row = now_held;
            }
            // Another agent was faster: watch.
            None => row = sessions::reload(&app.db, &row.id).await?,
        }
    }
    let history = match anchor {
        Some(seq) => messages::after_seq(&app.db, &row.id, seq).await?,
        None => messages::latest(&app.db, &row.id, JOIN_HISTORY).await?,
    };
    let session = users::session_view(&app.db, &row).await?;
    let history: Vec<MessageView> = history.iter().map(MessageView::from).collect();

    let room = session_room(&row.id);
    let already_there = s.within(room.clone()).sockets().iter().any(|other| {
        other.id != s.id
            && other
                .extensions
                .get::<User>()
                .is_some_and(|u| u.id == user.id && u.tenant == user.tenant)
    });
    s.join(room.clone());
    let to_joiner = json!({ "session": session, "user": user.user_ref(), "messages": history });
    if let Err(err) = s.emit("session-joined", &to_joiner) {
        tracing::debug!(socket = %s.id, error = %err, "cannot send session-joined");
    }
    if !already_there || taken {
        let to_room = json!({ "session": session, "user": user.user_ref() });
        if let Err(err) = s.to(room).emit("session-joined", &to_room).await {
            tracing::debug!(error = %err, "session-joined broadcast failed");
        }
    }
    if taken {
        events::session_updated(app, &user.tenant, &session).await;
        stats::changed(app, &user.tenant);
    }
    Ok(Joined {
        session,
        messages: history,
    })
}

async fn leave<A: Adapter>(
    app: &AppState<A>,
    s: &SocketRef<A>,
    user: &User,
    payload: Value,
) -> AppResult<Value> {
    let session_id = parse_session_ref(&payload)?;
    typing::left_session(app, s, user, &session_id).await;
    s.leave(session_room(&session_id));
    Ok(json!({ "sessionId": session_id }))
}

async fn close<A: Adapter>(
    app: &AppState<A>,
    _: &SocketRef<A>,
    user: &User,
    payload: Value,
) -> AppResult<SessionView> {
    service::close_session(app, user, CloseRequest::parse(&payload)?).await
}
