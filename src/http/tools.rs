//! The agent tools of docs/protocol.md §11 over REST: notes, ratings,
//! transcripts, reports and canned responses.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use utoipa::{OpenApi, ToSchema};

use super::{AuthUser, JsonBody, Params, ReadSlot, params};
use crate::app::AppState;
use crate::chat::canned::{self, CannedResponse, CreateCannedBody, UpdateCannedBody};
use crate::chat::clock::now_ms;
use crate::chat::input::parse_id;
use crate::chat::notes::{self, NoteBody, NoteRequest};
use crate::chat::ratings::{RateBody, RateRequest};
use crate::chat::reports::{self, Range, Report};
use crate::chat::{NoteView, SessionView, transcript};
use crate::error::{AppError, AppResult, ErrorResponse};

/// This module's part of the OpenAPI document (`super::openapi`).
#[derive(OpenApi)]
#[openapi(paths(
    list_notes,
    add_note,
    rate,
    transcript,
    report,
    list_canned,
    create_canned,
    update_canned,
    delete_canned
))]
pub struct ToolsApi;

/// Every note of a session, oldest first.
#[derive(Serialize, ToSchema)]
pub struct NoteList {
    pub items: Vec<NoteView>,
}

/// The tenant's canned responses, by shortcut.
#[derive(Serialize, ToSchema)]
pub struct CannedList {
    pub items: Vec<CannedResponse>,
}

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new()
        .route(
            "/api/chat/sessions/{id}/notes",
            get(list_notes::<A>).post(add_note::<A>),
        )
        .route("/api/chat/sessions/{id}/rating", post(rate::<A>))
        .route("/api/chat/sessions/{id}/transcript", get(transcript::<A>))
        .route("/api/chat/reports", get(report::<A>))
        .route(
            "/api/canned-responses",
            get(list_canned::<A>).post(create_canned::<A>),
        )
        .route(
            "/api/canned-responses/{id}",
            patch(update_canned::<A>).delete(delete_canned::<A>),
        )
}

#[utoipa::path(
    get,
    path = "/api/chat/sessions/{id}/notes",
    tag = "tools",
    params(("id" = String, Path, description = "The session's id")),
    responses(
        (status = 200, body = NoteList),
        (status = 403, description = "Not staff", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn list_notes<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
    Path(id): Path<String>,
) -> AppResult<Json<NoteList>> {
    let id = parse_id(&id, "session id")?;
    let items = notes::list(&app.reads, &user, &id).await?;
    Ok(Json(NoteList { items }))
}

/// A private note for the staff; never reaches the customer.
#[utoipa::path(
    post,
    path = "/api/chat/sessions/{id}/notes",
    tag = "tools",
    params(("id" = String, Path, description = "The session's id")),
    request_body = NoteBody,
    responses(
        (status = 201, body = NoteView),
        (status = 403, description = "Not staff", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 429, description = "A turn of the sender's message rate limit", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn add_note<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<NoteView>)> {
    let req = NoteRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    let note = app.actions.add_note(&user, req).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// The customer rates their closed session, once.
#[utoipa::path(
    post,
    path = "/api/chat/sessions/{id}/rating",
    tag = "tools",
    params(("id" = String, Path, description = "The session's id")),
    request_body = RateBody,
    responses(
        (status = 200, body = SessionView),
        (status = 403, description = "Not the session's customer, or ratings are disabled", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "Not closed yet, or rated already", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn rate<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<SessionView>> {
    let req = RateRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    Ok(Json(app.actions.rate_session(&user, req).await?))
}

/// Streamed, a page of messages at a time.
#[utoipa::path(
    get,
    path = "/api/chat/sessions/{id}/transcript",
    tag = "tools",
    params(("id" = String, Path, description = "The session's id")),
    responses(
        (status = 200, description = "`Key: value` header lines, a blank line, one line per message (and, for staff, note)",
            content_type = "text/plain", body = String,
            headers(("content-disposition" = String, description = "attachment; filename=\"session-{id}.txt\""))),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn transcript<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id, "session id")?;
    let (name, text) = transcript::transcript(&app.reads, &user, &id).await?;
    let mut response = Response::new(Body::from_stream(text));
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"{name}\"");
    out.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| AppError::Internal(e.to_string()))?,
    );
    Ok(response)
}

/// Per UTC hour or day of a range: what happened in it.
#[utoipa::path(
    get,
    path = "/api/chat/reports",
    tag = "tools",
    params(
        ("from" = Option<String>, Query, format = DateTime, description = "RFC 3339; rounded down to a whole bucket"),
        ("to" = Option<String>, Query, format = DateTime, description = "RFC 3339, exclusive; rounded up to a whole bucket"),
        ("bucket" = Option<String>, Query, description = "hour (default) or day"),
    ),
    responses(
        (status = 200, body = Report),
        (status = 400, body = ErrorResponse),
        (status = 403, description = "Not staff", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn report<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
    query: Params,
) -> AppResult<Json<Report>> {
    let params = params(query)?;
    let get = |key: &str| params.get(key).map(String::as_str);
    let range = Range::parse(get("bucket"), get("from"), get("to"), now_ms())?;
    Ok(Json(reports::report(&app.reads, &user, range).await?))
}

#[utoipa::path(
    get,
    path = "/api/canned-responses",
    tag = "tools",
    responses(
        (status = 200, body = CannedList),
        (status = 403, description = "Not staff", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn list_canned<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
) -> AppResult<Json<CannedList>> {
    let items = canned::list(&app.reads, &user).await?;
    Ok(Json(CannedList { items }))
}

#[utoipa::path(
    post,
    path = "/api/canned-responses",
    tag = "tools",
    request_body = CreateCannedBody,
    responses(
        (status = 201, body = CannedResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 409, description = "The shortcut is taken", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn create_canned<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<CannedResponse>)> {
    let max = app.config.message_max_length;
    let created = canned::create(&app.db, &user, &body, max).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    patch,
    path = "/api/canned-responses/{id}",
    tag = "tools",
    params(("id" = String, Path, description = "The canned response's id")),
    request_body(content = Option<UpdateCannedBody>, description = "Optional: no body (or `null`) is an empty one"),
    responses(
        (status = 200, body = CannedResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "The shortcut is taken", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn update_canned<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<CannedResponse>> {
    let id = parse_id(&id, "canned response id")?;
    let max = app.config.message_max_length;
    Ok(Json(canned::update(&app.db, &user, &id, &body, max).await?))
}

#[utoipa::path(
    delete,
    path = "/api/canned-responses/{id}",
    tag = "tools",
    params(("id" = String, Path, description = "The canned response's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn delete_canned<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&id, "canned response id")?;
    canned::delete(&app.db, &user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
