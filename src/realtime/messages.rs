//! `send-message` and `mark-read`.

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::reply::client_event;
use crate::app::AppState;
use crate::chat::input::{MarkReadRequest, SendRequest};
use crate::chat::{MessageView, User};
use crate::error::AppResult;
use crate::service;

client_event!(send_message, "send-message", send);
client_event!(mark_read, "mark-read", read);

async fn send<A: Adapter>(
    app: &AppState<A>,
    _: &SocketRef<A>,
    user: &User,
    payload: Value,
) -> AppResult<MessageView> {
    let req = SendRequest::parse(&payload)?;
    Ok(service::send_message(app, user, req).await?.message)
}

async fn read<A: Adapter>(
    app: &AppState<A>,
    _: &SocketRef<A>,
    user: &User,
    payload: Value,
) -> AppResult<Value> {
    let req = MarkReadRequest::parse(&payload)?;
    let session_id = req.session_id.clone();
    let count = service::mark_read(app, user, req).await?;
    Ok(json!({ "sessionId": session_id, "count": count }))
}
