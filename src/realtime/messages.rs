//! `send-message` and `mark-read`.

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};

use super::reply::{payload, reply};
use crate::app::AppState;
use crate::chat::User;
use crate::chat::input::{MarkReadRequest, SendRequest};
use crate::service;

pub async fn send_message<A: Adapter>(
    s: SocketRef<A>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    Extension(user): Extension<User>,
    State(app): State<AppState<A>>,
) {
    let _in_flight = app.in_flight.enter();
    let result = async {
        let req = SendRequest::parse(&payload(data)?)?;
        Ok(service::send_message(&app, &user, req).await?.message)
    }
    .await;
    reply(&app, &s, ack, "send-message", result);
}

pub async fn mark_read<A: Adapter>(
    s: SocketRef<A>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
    Extension(user): Extension<User>,
    State(app): State<AppState<A>>,
) {
    let _in_flight = app.in_flight.enter();
    let result = async {
        let req = MarkReadRequest::parse(&payload(data)?)?;
        let session_id = req.session_id.clone();
        let count = service::mark_read(&app, &user, req).await?;
        Ok(json!({ "sessionId": session_id, "count": count }))
    }
    .await;
    reply(&app, &s, ack, "mark-read", result);
}
