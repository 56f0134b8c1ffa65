//! `/api/chat/sessions/{id}/messages`: history pages and sending.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;

use super::{AuthUser, JsonBody, Params, ReadSlot, limit, params};
use crate::app::AppState;
use crate::chat::input::{SendRequest, parse_id};
use crate::chat::messages::history::{self, PageFrom};
use crate::chat::{MessageView, sessions};
use crate::error::{AppError, AppResult};

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new().route(
        "/api/chat/sessions/{id}/messages",
        get(list_messages::<A>).post(send_message::<A>),
    )
}

/// `before`/`after` are message ids; `nextCursor` is the id to pass the same
/// way for the next page in that direction.
async fn list_messages<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
    Path(id): Path<String>,
    query: Params,
) -> AppResult<Json<Value>> {
    let params = params(query)?;
    let limit = limit(&params)?;
    let row = sessions::find(&app.reads, &user, &parse_id(&id, "session id")?).await?;
    let anchor = |key: &str| params.get(key).filter(|v| !v.is_empty());
    let from = match (anchor("before"), anchor("after")) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                "before and after cannot be used together",
            ));
        }
        (Some(before), None) => {
            PageFrom::Before(sessions::message_in(&app.reads, &row.id, before).await?.seq)
        }
        (None, Some(after)) => {
            PageFrom::After(sessions::message_in(&app.reads, &row.id, after).await?.seq)
        }
        (None, None) => PageFrom::Newest,
    };
    let forward = matches!(from, PageFrom::After(_));
    let (rows, more) = history::page(&app.reads, &row.id, from, limit).await?;
    let next = more
        .then(|| if forward { rows.last() } else { rows.first() })
        .flatten()
        .map(|m| m.id.clone());
    let items = app.actions.attachments.messages(&app.reads, &rows).await?;
    Ok(Json(json!({ "items": items, "nextCursor": next })))
}

/// 201 for a new message; 200 when the `clientMessageId` was stored before.
async fn send_message<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<MessageView>)> {
    let req = SendRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    let sent = app.actions.send_message(&user, req).await?;
    let status = if sent.is_new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(sent.message)))
}
