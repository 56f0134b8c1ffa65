//! The server events of PROTOCOL §5 that follow a change, whoever made it
//! (a socket event or a REST call): the one place that decides which rooms
//! hear of what.

use serde::Serialize;
use serde_json::json;
use socketioxide::adapter::Adapter;

use crate::app::AppState;
use crate::chat::clock::rfc3339;
use crate::chat::{MessageView, SessionView, User, agents_room, session_room};
use entities::message;

/// Emits to the union of `rooms` (a socket in several hears it once).
async fn emit<A: Adapter, T: Serialize + ?Sized>(
    app: &AppState<A>,
    rooms: Vec<String>,
    event: &str,
    data: &T,
) {
    let Some(ns) = app.chat() else { return };
    if let Err(err) = ns.within(rooms).emit(event, data).await {
        tracing::warn!(event, error = %err, "broadcast failed");
    }
}

/// `new-message` to the session's room, sender included.
pub async fn new_message<A: Adapter>(app: &AppState<A>, message: &MessageView) {
    emit(
        app,
        vec![session_room(&message.session_id)],
        "new-message",
        message,
    )
    .await;
}

/// `new-pending-session` to the tenant's agents.
pub async fn pending_session<A: Adapter>(app: &AppState<A>, tenant: &str, session: &SessionView) {
    emit(
        app,
        vec![agents_room(tenant)],
        "new-pending-session",
        session,
    )
    .await;
}

/// `session-updated` (assignment, transfer) to the room and the agents.
pub async fn session_updated<A: Adapter>(app: &AppState<A>, tenant: &str, session: &SessionView) {
    emit(
        app,
        vec![session_room(&session.id), agents_room(tenant)],
        "session-updated",
        session,
    )
    .await;
}

/// `session-closed` to the room and the agents.
pub async fn session_closed<A: Adapter>(
    app: &AppState<A>,
    tenant: &str,
    session: &SessionView,
    by: &User,
    reason: Option<&str>,
) {
    let payload = json!({ "session": session, "closedBy": by.user_ref(), "reason": reason });
    emit(
        app,
        vec![session_room(&session.id), agents_room(tenant)],
        "session-closed",
        &payload,
    )
    .await;
}

/// `messages-read` to the room; `up_to` is the newest message marked.
pub async fn messages_read<A: Adapter>(
    app: &AppState<A>,
    reader: &User,
    up_to: &message::Model,
    read_at: i64,
    count: u64,
) {
    let payload = json!({
        "sessionId": up_to.session_id,
        "reader": reader.user_ref(),
        "upToMessageId": up_to.id,
        "upToSeq": up_to.seq,
        "readAt": rfc3339(read_at),
        "count": count,
    });
    emit(
        app,
        vec![session_room(&up_to.session_id)],
        "messages-read",
        &payload,
    )
    .await;
}
