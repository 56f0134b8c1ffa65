//! The agent tools of docs/protocol.md §11 over REST: notes, ratings,
//! transcripts, reports and canned responses.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;

use super::{AuthUser, JsonBody, Params, ReadSlot, params};
use crate::app::AppState;
use crate::chat::canned::{self, CannedResponse};
use crate::chat::clock::now_ms;
use crate::chat::input::parse_id;
use crate::chat::notes::{self, NoteRequest};
use crate::chat::ratings::RateRequest;
use crate::chat::reports::{self, Range, Report};
use crate::chat::{NoteView, SessionView, transcript};
use crate::error::{AppError, AppResult};

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

async fn list_notes<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id, "session id")?;
    let items = notes::list(&app.reads, &user, &id).await?;
    Ok(Json(json!({ "items": items })))
}

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

async fn list_canned<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
) -> AppResult<Json<Value>> {
    let items = canned::list(&app.reads, &user).await?;
    Ok(Json(json!({ "items": items })))
}

async fn create_canned<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<CannedResponse>)> {
    let max = app.config.message_max_length;
    let created = canned::create(&app.db, &user, &body, max).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

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

async fn delete_canned<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    let id = parse_id(&id, "canned response id")?;
    canned::delete(&app.db, &user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
