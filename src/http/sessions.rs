//! `/api/chat/sessions`: open, list, get, assign, read, close.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;

use super::{AuthUser, JsonBody, Params, ReadSlot, limit, params};
use crate::app::AppState;
use crate::chat::input::{
    CloseRequest, MarkReadRequest, OpenRequest, TransferRequest, parse_assign, parse_id,
};
use crate::chat::{SessionView, sessions, users};
use crate::error::{AppError, AppResult};

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new()
        .route(
            "/api/chat/sessions",
            post(open_session::<A>).get(list_sessions::<A>),
        )
        .route("/api/chat/sessions/{id}", get(get_session::<A>))
        .route("/api/chat/sessions/{id}/assign", post(assign_session::<A>))
        .route("/api/chat/sessions/{id}/read", post(mark_read::<A>))
        .route("/api/chat/sessions/{id}/close", post(close_session::<A>))
        .route(
            "/api/chat/sessions/{id}/transfer",
            post(transfer_session::<A>),
        )
}

async fn open_session<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<SessionView>)> {
    let opened = app
        .actions
        .open_session(&user, OpenRequest::parse(&body)?)
        .await?;
    let status = if opened.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(opened.session)))
}

async fn list_sessions<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
    query: Params,
) -> AppResult<Json<Value>> {
    let params = params(query)?;
    let limit = limit(&params)?;
    let after = params
        .get("cursor")
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor(c))
        .transpose()?;
    let status = params
        .get("status")
        .filter(|s| !s.is_empty())
        .map(String::as_str);
    let (rows, next) = sessions::list(&app.reads, &user, status, limit, after.as_deref()).await?;
    let items = users::session_views(&app.reads, &rows).await?;
    Ok(Json(
        json!({ "items": items, "nextCursor": next.map(|id| URL_SAFE_NO_PAD.encode(id)) }),
    ))
}

fn decode_cursor(cursor: &str) -> AppResult<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| AppError::invalid("cursor is not one this server gave"))
}

async fn get_session<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
    Path(id): Path<String>,
) -> AppResult<Json<SessionView>> {
    let row = sessions::find(&app.reads, &user, &parse_id(&id, "session id")?).await?;
    Ok(Json(users::session_view(&app.reads, &row).await?))
}

async fn assign_session<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<SessionView>> {
    let id = parse_id(&id, "session id")?;
    let agent_id = parse_assign(&body)?;
    let view = app.actions.assign_session(&user, &id, agent_id).await?;
    Ok(Json(view))
}

async fn mark_read<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<Value>> {
    let req = MarkReadRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    let count = app.actions.mark_read(&user, req).await?;
    Ok(Json(json!({ "count": count })))
}

async fn close_session<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<SessionView>> {
    let req = CloseRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    Ok(Json(app.actions.close_session(&user, req).await?))
}

async fn transfer_session<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<SessionView>> {
    let req = TransferRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    Ok(Json(app.actions.transfer_session(&user, req).await?))
}
