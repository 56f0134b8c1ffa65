//! `set-availability` and `transfer-session` (docs/protocol.md §4, §7).

use serde_json::Value;
use socketioxide::adapter::Adapter;

use super::reply::Event;
use crate::chat::SessionView;
use crate::chat::input::{Fields, TransferRequest};
use crate::chat::routing::{AgentState, Availability};
use crate::error::{AppError, AppResult};

/// `{ status: 'available' | 'away' }`.
pub async fn set_availability<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<AgentState> {
    if !cx.user.role.is_staff() {
        return Err(AppError::Forbidden(
            "only agents and admins have an availability".into(),
        ));
    }
    let fields = Fields::of(&payload)?;
    let status = fields
        .opt_str("status")?
        .ok_or_else(|| AppError::invalid("status is required"))?;
    let availability = Availability::parse(&Value::String(status.to_string()))?;
    cx.app
        .actions
        .set_availability(&cx.user, availability)
        .await
}

pub async fn transfer_session<A: Adapter>(cx: Event<A>, payload: Value) -> AppResult<SessionView> {
    let req = TransferRequest::parse(&payload)?;
    cx.app.actions.transfer_session(&cx.user, req).await
}
