//! `join-session`, `leave-session` and `close-session`.

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::reply::Event;
use super::typing;
use crate::chat::input::{CloseRequest, JoinRequest, parse_session_ref};
use crate::chat::join::Joined;
use crate::chat::{SessionView, User};
use crate::error::{AppError, AppResult};
use crate::fanout::{Payload, payload, rooms};

/// The socket enters the session's room under the session's lock (see
/// [`crate::actions::Actions::join_session`]) and gets `session-joined`;
/// the rest of the room hears of it when this is the user's first socket
/// there (on any node; a socket joining again is not) or the join took the
/// session. The payload is
/// serialised once, for the event and the ack.
pub async fn join_session<A: Adapter>(cx: Event<A>, payload_in: Value) -> AppResult<Payload> {
    let Event { app, socket, user } = cx;
    let req = JoinRequest::parse(&payload_in)?;
    let room = rooms::session(&req.session_id);
    let in_rooms = socket.rooms();
    let rejoining = in_rooms.iter().any(|r| *r == room);
    let sessions_joined = in_rooms.iter().filter(|r| rooms::is_session(r)).count();
    if sessions_joined >= app.config.max_rooms_per_socket && !rejoining {
        return Err(AppError::RateLimited);
    }
    let mut answer = None;
    app.actions
        .join_session(&user, req, |joined: &Joined| {
            let to_joiner = payload(joined);
            let to_room = payload(&json!({ "session": joined.session, "user": joined.user }));
            let (room, taken) = (rooms::session(&joined.session.id), joined.taken);
            // Staff also hear the session's private notes.
            let staff_room = user
                .role
                .is_staff()
                .then(|| rooms::session_staff(&joined.session.id));
            let (s, answer) = (&socket, &mut answer);
            let user = &user;
            async move {
                // A socket joining again (a catch-up in parts) is no news.
                let first_here = !rejoining && !has_another_socket_in(s, user, &room).await;
                s.join(room.clone());
                if let Some(staff_room) = staff_room {
                    s.join(staff_room);
                }
                if let Err(err) = s.emit("session-joined", &to_joiner) {
                    tracing::debug!(socket = %s.id, error = %err, "cannot send session-joined");
                }
                if (first_here || taken)
                    && let Err(err) = s.to(room).emit("session-joined", &to_room).await
                {
                    tracing::debug!(error = %err, "session-joined broadcast failed");
                }
                *answer = Some(to_joiner);
            }
        })
        .await?;
    answer.ok_or_else(|| AppError::Internal("join finished without an answer".into()))
}

/// Whether another socket of the user is in `room` already, on any node
/// (this node's alone when the others cannot be asked).
async fn has_another_socket_in<A: Adapter>(s: &SocketRef<A>, user: &User, room: &str) -> bool {
    let mine = s.within(rooms::user(&user.tenant, &user.id));
    let (in_room, of_user) = tokio::join!(
        s.within(room.to_string()).fetch_sockets(),
        mine.fetch_sockets()
    );
    match (in_room, of_user) {
        (Ok(in_room), Ok(of_user)) => in_room
            .iter()
            .any(|a| a.data().id != s.id && of_user.iter().any(|b| b.data().id == a.data().id)),
        _ => {
            tracing::warn!(socket = %s.id, "cannot ask the other nodes who is in the room; asking this one");
            s.within(room.to_string()).sockets().iter().any(|other| {
                other.id != s.id
                    && other
                        .extensions
                        .get::<User>()
                        .is_some_and(|u| u.id == user.id && u.tenant == user.tenant)
            })
        }
    }
}

pub async fn leave_session<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<Value> {
    let session_id = parse_session_ref(&payload)?;
    typing::left_session(&cx.app.typing, &cx.socket, &cx.user, &session_id).await;
    cx.socket.leave(rooms::session(&session_id));
    cx.socket.leave(rooms::session_staff(&session_id));
    Ok(json!({ "sessionId": session_id }))
}

pub async fn close_session<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<SessionView> {
    let req = CloseRequest::parse(&payload)?;
    cx.app.actions.close_session(&cx.user, req).await
}
