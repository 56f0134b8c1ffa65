//! `/api/chat/sessions`: open, list, get, assign, read, close.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use socketioxide::adapter::Adapter;
use utoipa::{OpenApi, ToSchema};

use super::{AuthUser, JsonBody, Params, ReadSlot, created_or_ok, limit, params};
use crate::app::AppState;
use crate::chat::bodies::{
    AssignSessionBody, CloseSessionBody, MarkReadBody, OpenSessionBody, TransferSessionBody,
};
use crate::chat::input::{
    CloseRequest, MarkReadRequest, OpenRequest, TransferRequest, parse_assign, parse_id,
};
use crate::chat::{SessionView, sessions, users};
use crate::error::{AppError, AppResult, ErrorResponse};

/// This module's part of the OpenAPI document (`super::openapi`).
#[derive(OpenApi)]
#[openapi(paths(
    open_session,
    list_sessions,
    get_session,
    assign_session,
    mark_read,
    close_session,
    transfer_session
))]
pub struct SessionsApi;

/// A page of sessions, newest first.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionPage {
    pub items: Vec<SessionView>,
    /// Opaque; pass it as `cursor` for the next page. Null on the last.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

/// The messages `POST …/read` marked.
#[derive(Serialize, ToSchema)]
pub struct ReadCount {
    #[schema(minimum = 0)]
    pub count: u64,
}

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

/// Opens a pending session, or returns the customer's open one.
#[utoipa::path(
    post,
    path = "/api/chat/sessions",
    tag = "sessions",
    request_body(content = Option<OpenSessionBody>, description = "Optional: no body opens a session without a subject"),
    responses(
        (status = 201, description = "A new pending session", body = SessionView),
        (status = 200, description = "The customer's session that was already open", body = SessionView),
        (status = 403, description = "Not a customer", body = ErrorResponse),
        (status = 429, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn open_session<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<SessionView>)> {
    let opened = app
        .actions
        .open_session(&user, OpenRequest::parse(&body)?)
        .await?;
    Ok((created_or_ok(opened.created), Json(opened.session)))
}

/// The caller's sessions (a customer), or the tenant's (staff), newest first.
#[utoipa::path(
    get,
    path = "/api/chat/sessions",
    tag = "sessions",
    params(
        ("status" = Option<String>, Query, description = "pending, active or closed"),
        ("limit" = Option<u32>, Query, description = "Default 50; over 200 is taken as 200"),
        ("cursor" = Option<String>, Query, description = "A `nextCursor` of a previous page"),
    ),
    responses(
        (status = 200, body = SessionPage),
        (status = 400, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn list_sessions<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
    query: Params,
) -> AppResult<Json<SessionPage>> {
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
    Ok(Json(SessionPage {
        items,
        next_cursor: next.map(|id| URL_SAFE_NO_PAD.encode(id)),
    }))
}

fn decode_cursor(cursor: &str) -> AppResult<String> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| AppError::invalid("cursor is not one this server gave"))
}

#[utoipa::path(
    get,
    path = "/api/chat/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    responses(
        (status = 200, body = SessionView),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn get_session<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
    Path(id): Path<String>,
) -> AppResult<Json<SessionView>> {
    let row = sessions::find(&app.reads, &user, &parse_id(&id, "session id")?).await?;
    Ok(Json(users::session_view(&app.reads, &row).await?))
}

/// An agent takes a pending session; an admin assigns (or transfers) it.
#[utoipa::path(
    post,
    path = "/api/chat/sessions/{id}/assign",
    tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    request_body(content = Option<AssignSessionBody>, description = "Optional"),
    responses(
        (status = 200, body = SessionView),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "Closed, or another agent holds it", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
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

/// Marks the other side's messages read.
#[utoipa::path(
    post,
    path = "/api/chat/sessions/{id}/read",
    tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    request_body(content = Option<MarkReadBody>, description = "Optional"),
    responses(
        (status = 200, body = ReadCount),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn mark_read<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<ReadCount>> {
    let req = MarkReadRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    let count = app.actions.mark_read(&user, req).await?;
    Ok(Json(ReadCount { count }))
}

/// Closes the session (a closed one is returned unchanged).
#[utoipa::path(
    post,
    path = "/api/chat/sessions/{id}/close",
    tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    request_body(content = Option<CloseSessionBody>, description = "Optional"),
    responses(
        (status = 200, body = SessionView),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn close_session<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<SessionView>> {
    let req = CloseRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    Ok(Json(app.actions.close_session(&user, req).await?))
}

/// Transfers an active session to another agent, or back to the queue.
#[utoipa::path(
    post,
    path = "/api/chat/sessions/{id}/transfer",
    tag = "sessions",
    params(("id" = String, Path, description = "The session's id")),
    request_body(content = Option<TransferSessionBody>, description = "Optional: without `toAgentId`, back to the queue"),
    responses(
        (status = 200, body = SessionView),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "session_closed", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn transfer_session<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<SessionView>> {
    let req = TransferRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    Ok(Json(app.actions.transfer_session(&user, req).await?))
}
