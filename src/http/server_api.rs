//! The server API of docs/protocol.md §10, for the company's own backends:
//! an API key (never a JWT) publishes events to sockets, opens sessions
//! for customers and writes messages as a customer or as a bot. Messages
//! take the same path as `send-message`, so they obey its rules, reach the
//! same rooms and are reported to webhooks like any other.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::post;
use axum::{Json, Router};
use socketioxide::adapter::Adapter;

use axum::extract::Multipart;
use axum::extract::multipart::MultipartRejection;

use utoipa::OpenApi;

use super::attachments::{UploadForm, store_upload, upload_route};
use super::openapi::integrations::{
    Accepted, PublishRequest, ServerMessageRequest, ServerSessionRequest,
};
use super::{JsonBody, Params, created_or_ok, params};
use crate::app::AppState;
use crate::chat::attachments::AttachmentView;
use crate::chat::input::{Fields, OpenRequest, SendRequest, parse_id};
use crate::chat::integrations::acting::{self, NAME_MAX};
use crate::chat::integrations::keys::{ApiKey, PREFIX};
use crate::chat::integrations::publish::{self as chat_publish, Target};
use crate::chat::{MessageView, SessionView};
use crate::config::ServerConfig;
use crate::error::{AppError, AppResult, ErrorResponse};
use crate::fanout::rooms;

/// This module's part of the OpenAPI document (`super::openapi`).
#[derive(OpenApi)]
#[openapi(paths(publish, open_session, send_message, upload))]
pub struct ServerApi;

pub fn router<A: Adapter>(config: &ServerConfig) -> Router<AppState<A>> {
    Router::new()
        .route("/api/server/publish", post(publish::<A>))
        .route("/api/server/sessions", post(open_session::<A>))
        .route(
            "/api/server/sessions/{id}/messages",
            post(send_message::<A>),
        )
        .route(
            "/api/server/sessions/{id}/attachments",
            upload_route(config, post(upload::<A>)),
        )
}

/// The API key of a server API request, within its rate limit.
pub struct ServerKey(pub ApiKey);

impl<A: Adapter> FromRequestParts<AppState<A>> for ServerKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState<A>) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| crate::auth::bearer_token(h).ok())
            .ok_or_else(|| AppError::Unauthorized("missing API key".into()))?;
        if !token.starts_with(PREFIX) {
            return Err(AppError::Unauthorized(
                "the server API takes an API key (sbk_…), not a user's token".into(),
            ));
        }
        let key = app.keys.authenticate(&app.db, token).await?;
        app.key_limiter
            .check_key(&key.id)
            .map_err(|_| AppError::RateLimited)?;
        Ok(Self(key))
    }
}

#[utoipa::path(
    post,
    path = "/api/server/publish",
    tag = "server",
    operation_id = "server_publish",
    request_body = PublishRequest,
    responses(
        (status = 202, description = "Sent to the room on every node", body = Accepted),
        (status = 404, description = "A session of another tenant, or none", body = ErrorResponse),
        (status = 429, body = ErrorResponse),
    ),
    security(("apiKey" = []))
)]
async fn publish<A: Adapter>(
    State(app): State<AppState<A>>,
    ServerKey(key): ServerKey,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<Accepted>)> {
    let req = chat_publish::PublishRequest::parse(&body)?;
    let tenant = &key.tenant;
    let room = match &req.to {
        Target::Tenant => rooms::tenant(tenant),
        Target::Agents => rooms::agents(tenant),
        Target::User(id) => rooms::user(tenant, id),
        Target::Session(id) => {
            acting::session(&app.db, &key, id).await?;
            rooms::session(id)
        }
    };
    app.actions
        .fanout
        .emit(vec![room], req.event.into(), req.data)
        .await;
    Ok((StatusCode::ACCEPTED, Json(Accepted {})))
}

#[utoipa::path(
    post,
    path = "/api/server/sessions",
    tag = "server",
    operation_id = "server_open_session",
    request_body = ServerSessionRequest,
    responses(
        (status = 201, description = "A new session", body = SessionView),
        (status = 200, description = "The customer's open session", body = SessionView),
        (status = 429, body = ErrorResponse),
    ),
    security(("apiKey" = []))
)]
async fn open_session<A: Adapter>(
    State(app): State<AppState<A>>,
    ServerKey(key): ServerKey,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<SessionView>)> {
    let customer = acting::customer(&key, &body)?;
    let req = OpenRequest::parse(&body)?;
    app.users.remember(&customer).await?;
    let opened = app.actions.open_session_for_key(&customer, req).await?;
    Ok((created_or_ok(opened.created), Json(opened.session)))
}

#[utoipa::path(
    post,
    path = "/api/server/sessions/{id}/messages",
    tag = "server",
    operation_id = "server_send_message",
    params(("id" = String, Path, description = "The session's id")),
    request_body = ServerMessageRequest,
    responses(
        (status = 201, description = "Stored now", body = MessageView),
        (status = 200, description = "A repeated clientMessageId: the stored one", body = MessageView),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "The session is closed", body = ErrorResponse),
        (status = 429, body = ErrorResponse),
    ),
    security(("apiKey" = []))
)]
async fn send_message<A: Adapter>(
    State(app): State<AppState<A>>,
    ServerKey(key): ServerKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<MessageView>)> {
    let req = SendRequest::parse_body(parse_id(&id, "session id")?, &body)?;
    let fields = Fields::of(&body)?;
    let sender_name = fields.opt_text("senderName", NAME_MAX)?;
    let from = fields.opt_str("from")?;
    let sender = acting::sender(&app.db, &key, &req.session_id, from, sender_name).await?;
    let sent = app.actions.send_message_for_key(&sender, req).await?;
    Ok((created_or_ok(sent.is_new), Json(sent.message)))
}

/// `POST /api/server/sessions/{id}/attachments?from=customer|bot&senderName=`:
/// an upload as that sender, for a message of theirs through the server
/// API (one part named `file`, as the customer's own upload).
#[utoipa::path(
    post,
    path = "/api/server/sessions/{id}/attachments",
    tag = "server",
    operation_id = "server_upload",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("from" = String, Query, description = "`customer` or `bot`"),
        ("senderName" = Option<String>, Query, description = "The sender's name"),
    ),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = AttachmentView),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "The session is closed", body = ErrorResponse),
        (status = 413, body = ErrorResponse),
        (status = 415, body = ErrorResponse),
        (status = 429, body = ErrorResponse),
    ),
    security(("apiKey" = []))
)]
async fn upload<A: Adapter>(
    State(app): State<AppState<A>>,
    ServerKey(key): ServerKey,
    Path(id): Path<String>,
    query: Params,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<AttachmentView>)> {
    let session_id = parse_id(&id, "session id")?;
    let query = params(query)?;
    let name = query
        .get("senderName")
        .map(|n| n.trim().chars().take(NAME_MAX).collect());
    let from = query.get("from").map(String::as_str);
    let sender = acting::sender(&app.db, &key, &session_id, from, name).await?;
    store_upload(&app, &sender, &session_id, multipart).await
}
