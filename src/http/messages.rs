//! `/api/chat/sessions/{id}/messages`: history pages and sending.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use utoipa::{OpenApi, ToSchema};

use super::{AuthUser, JsonBody, Params, ReadSlot, created_or_ok, limit, params};
use crate::app::AppState;
use crate::chat::bodies::SendMessageBody;
use crate::chat::input::{SendRequest, parse_id};
use crate::chat::messages::history::{self, PageFrom};
use crate::chat::{MessageView, sessions};
use crate::error::{AppError, AppResult, ErrorResponse};

/// This module's part of the OpenAPI document (`super::openapi`).
#[derive(OpenApi)]
#[openapi(paths(list_messages, send_message))]
pub struct MessagesApi;

/// A page of a session's messages, oldest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    /// The id to pass (as `before`, or as `after` when paging with
    /// `after`) for the next page that way; null when there is none.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new().route(
        "/api/chat/sessions/{id}/messages",
        get(list_messages::<A>).post(send_message::<A>),
    )
}

/// `before`/`after` are message ids; `nextCursor` is the id to pass the same
/// way for the next page in that direction.
#[utoipa::path(
    get,
    path = "/api/chat/sessions/{id}/messages",
    tag = "messages",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("before" = Option<String>, Query, description = "A message id: the page before it"),
        ("after" = Option<String>, Query, description = "A message id: the page after it (not with `before`)"),
        ("limit" = Option<u32>, Query, description = "Default 50; over 200 is taken as 200"),
    ),
    responses(
        (status = 200, body = MessagePage),
        (status = 400, body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn list_messages<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
    Path(id): Path<String>,
    query: Params,
) -> AppResult<Json<MessagePage>> {
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
    Ok(Json(MessagePage {
        items,
        next_cursor: next,
    }))
}

/// 201 for a new message; 200 when the `clientMessageId` was stored before.
#[utoipa::path(
    post,
    path = "/api/chat/sessions/{id}/messages",
    tag = "messages",
    params(("id" = String, Path, description = "The session's id")),
    request_body = SendMessageBody,
    responses(
        (status = 201, description = "Stored and sent to the session's room", body = MessageView),
        (status = 200, description = "A repeated `clientMessageId`: the message stored before", body = MessageView),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "session_closed", body = ErrorResponse),
        (status = 429, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn send_message<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<MessageView>)> {
    let req = SendRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    let sent = app.actions.send_message(&user, req).await?;
    Ok((created_or_ok(sent.is_new), Json(sent.message)))
}
