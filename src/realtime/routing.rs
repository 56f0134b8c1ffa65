//! `set-availability` and `transfer-session` (docs/protocol.md §4, §7).

use serde_json::Value;
use socketioxide::adapter::Adapter;

use super::reply::Event;
use crate::chat::SessionView;
use crate::chat::input::{Fields, TransferRequest};
use crate::chat::routing::AgentState;
use crate::error::AppResult;

/// `{ status: 'available' | 'away' }`.
pub async fn set_availability<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<AgentState> {
    let status = Fields::of(&payload)?.opt_str("status")?.map(str::to_owned);
    cx.app
        .actions
        .set_availability(&cx.user, status.as_deref())
        .await
}

pub async fn transfer_session<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<SessionView> {
    let req = TransferRequest::parse(&payload)?;
    cx.app.actions.transfer_session(&cx.user, req).await
}
