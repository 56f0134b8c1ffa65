//! `send-message` and `mark-read`.

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;

use super::reply::Event;
use crate::chat::MessageView;
use crate::chat::input::{MarkReadRequest, SendRequest};
use crate::error::AppResult;

pub async fn send_message<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<MessageView> {
    let req = SendRequest::parse(&payload)?;
    Ok(cx.app.actions.send_message(&cx.user, req).await?.message)
}

pub async fn mark_read<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<Value> {
    let req = MarkReadRequest::parse(&payload)?;
    let session_id = req.session_id.clone();
    let count = cx.app.actions.mark_read(&cx.user, req).await?;
    Ok(json!({ "sessionId": session_id, "count": count }))
}
