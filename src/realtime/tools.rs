//! `add-note` and `rate-session` (docs/protocol.md §4, §11).

use serde_json::Value;
use socketioxide::adapter::Adapter;

use super::reply::Event;
use crate::chat::notes::NoteRequest;
use crate::chat::ratings::RateRequest;
use crate::chat::{NoteView, SessionView};
use crate::error::AppResult;

pub async fn add_note<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<NoteView> {
    let req = NoteRequest::parse(&payload)?;
    cx.app.actions.add_note(&cx.user, req).await
}

pub async fn rate_session<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<SessionView> {
    let req = RateRequest::parse(&payload)?;
    cx.app.actions.rate_session(&cx.user, req).await
}
