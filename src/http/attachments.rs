//! Attachments over HTTP (docs/protocol.md §9): the multipart upload,
//! streamed part by part into the store, and the download by signed URL
//! or bearer token, streamed back with headers that keep a browser from
//! running what it gets.

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::map_request;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use futures_util::{StreamExt, TryStreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use utoipa::{OpenApi, ToSchema};

use super::drain::Drained;
use super::{AuthUser, Params, bearer_user, params};
use crate::app::AppState;
use crate::chat::User;
use crate::chat::attachments::upload::Received;
use crate::chat::attachments::{self, AttachmentView, Variant, file_key, thumbnail_key};
use crate::chat::input::parse_id;
use crate::config::ServerConfig;
use crate::error::{AppError, AppResult, ErrorResponse};

/// This module's part of the OpenAPI document (`super::openapi`).
#[derive(OpenApi)]
#[openapi(paths(upload, download, thumbnail))]
pub struct AttachmentsApi;

/// The multipart body of an upload: one part named `file` (its filename is
/// kept); its type is detected from the bytes.
#[derive(Serialize, ToSchema)]
pub struct UploadForm {
    #[schema(value_type = FileBytes)]
    pub file: Vec<u8>,
}

/// A file's bytes, not JSON: `{ type: string, contentMediaType:
/// application/octet-stream }` in the document.
pub struct FileBytes;

impl utoipa::PartialSchema for FileBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .content_media_type("application/octet-stream")
            .into()
    }
}

impl ToSchema for FileBytes {}

/// Room for the multipart framing and small other parts around the file.
const FRAMING_BYTES: u64 = 64 * 1024;

/// A refused body is read on at least this far before the connection
/// closes.
const DRAIN_AT_LEAST: u64 = 32 * 1024 * 1024;

pub fn router<A: Adapter>(config: &ServerConfig) -> Router<AppState<A>> {
    Router::new()
        .route(
            "/api/chat/sessions/{id}/attachments",
            upload_route(config, post(upload::<A>)),
        )
        .route("/api/attachments/{id}", get(download::<A>))
        .route("/api/attachments/{id}/thumbnail", get(thumbnail::<A>))
}

/// An upload route (`POST …/attachments`): the body limit, and a refused
/// upload's body read on and thrown away (twice what an upload may be, at
/// least 32 MiB, 10 s at most), so the client reads the answer (`drain`).
pub fn upload_route<A: Adapter>(
    config: &ServerConfig,
    handler: MethodRouter<AppState<A>>,
) -> MethodRouter<AppState<A>> {
    let body_limit = config
        .attachments
        .attachment_max_bytes
        .saturating_add(FRAMING_BYTES);
    let drain_cap = body_limit.saturating_mul(2).max(DRAIN_AT_LEAST);
    handler
        .layer(DefaultBodyLimit::max(
            usize::try_from(body_limit).unwrap_or(usize::MAX),
        ))
        .layer(map_request(move |request: Request| async move {
            Drained::wrap(request, drain_cap)
        }))
}

/// `POST /api/chat/sessions/{id}/attachments`: one part named `file`;
/// other parts are read past. 201 with the `Attachment`.
#[utoipa::path(
    post,
    path = "/api/chat/sessions/{id}/attachments",
    tag = "attachments",
    params(("id" = String, Path, description = "The session's id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = AttachmentView),
        (status = 400, description = "No part named file, several, or an image that does not decode", body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "session_closed", body = ErrorResponse),
        (status = 413, description = "attachment_too_large", body = ErrorResponse),
        (status = 415, description = "unsupported_media_type", body = ErrorResponse),
        (status = 429, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn upload<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<AttachmentView>)> {
    let session_id = parse_id(&id, "session id")?;
    app.actions.admit_upload(&user)?;
    store_upload(&app, &user, &session_id, multipart).await
}

/// Receives the part named `file` of an upload by `user` to session
/// `session_id` and records it: 201 with the `Attachment`. Every refusal
/// leaves nothing behind.
pub async fn store_upload<A: Adapter>(
    app: &AppState<A>,
    user: &User,
    session_id: &str,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<(StatusCode, Json<AttachmentView>)> {
    let session = attachments::session_for_upload(&app.db, user, session_id).await?;
    let mut multipart = multipart.map_err(|e| {
        AppError::invalid(format!("expected multipart/form-data: {}", e.body_text()))
    })?;
    let files = &app.actions.attachments;
    let limit = files.max_bytes;
    let mut received: Option<Received> = None;
    let outcome: AppResult<()> = async {
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| body_error(e, limit))?
        {
            if field.name() != Some("file") {
                skip(field, limit).await?;
                continue;
            }
            if received.is_some() {
                return Err(AppError::invalid("send one part named file, not several"));
            }
            let name = field.file_name().unwrap_or("file").to_string();
            let bytes = field.map_err(move |e| body_error(e, limit));
            received = Some(files.receive(&name, bytes.boxed()).await?);
        }
        Ok(())
    }
    .await;
    match (outcome, received) {
        (Ok(()), Some(received)) => {
            let view = received.record(&app.db, files, user, &session.id).await?;
            Ok((StatusCode::CREATED, Json(view)))
        }
        (Ok(()), None) => Err(AppError::invalid("the body has no part named file")),
        (Err(err), received) => {
            if let Some(received) = received {
                received.discard().await;
            }
            Err(err)
        }
    }
}

/// Reads a part that is not the file past.
async fn skip(mut field: Field<'_>, limit: u64) -> AppResult<()> {
    while field
        .chunk()
        .await
        .map_err(|e| body_error(e, limit))?
        .is_some()
    {}
    Ok(())
}

/// A body over the limit is 413 like a file over it; any other failure to
/// read it (cut short, malformed, too slow) is the client's to fix.
fn body_error(err: MultipartError, limit: u64) -> AppError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::AttachmentTooLarge(limit)
    } else {
        AppError::invalid(format!("cannot read the upload: {}", err.body_text()))
    }
}

/// The bytes, by the signed `url` (no token) or with a participant's or
/// staff's bearer token.
#[utoipa::path(
    get,
    path = "/api/attachments/{id}",
    tag = "attachments",
    params(
        ("id" = String, Path, description = "The attachment's id"),
        ("expires" = Option<i64>, Query, description = "Unix seconds (from the signed `url`)"),
        ("signature" = Option<String>, Query, description = "From the signed `url`"),
    ),
    responses(
        (status = 200, description = "The bytes, as their detected type", content_type = "*/*", body = FileBytes),
        (status = 400, body = ErrorResponse),
        (status = 401, description = "Neither a signature nor a token", body = ErrorResponse),
        (status = 403, description = "A bad or expired signature", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security((), ("bearerAuth" = [])),
)]
async fn download<A: Adapter>(
    State(app): State<AppState<A>>,
    Path(id): Path<String>,
    query: Params,
    headers: HeaderMap,
) -> AppResult<Response> {
    serve(&app, &id, Variant::File, query, &headers).await
}

/// An image's thumbnail (at most 320 px on the long side).
#[utoipa::path(
    get,
    path = "/api/attachments/{id}/thumbnail",
    tag = "attachments",
    params(
        ("id" = String, Path, description = "The attachment's id"),
        ("expires" = Option<i64>, Query, description = "Unix seconds (from the signed `url`)"),
        ("signature" = Option<String>, Query, description = "From the signed `url`"),
    ),
    responses(
        (status = 200, description = "The thumbnail", content_type = "image/*", body = FileBytes),
        (status = 400, body = ErrorResponse),
        (status = 401, description = "Neither a signature nor a token", body = ErrorResponse),
        (status = 403, description = "A bad or expired signature", body = ErrorResponse),
        (status = 404, description = "Unknown, or not an image", body = ErrorResponse),
    ),
    security((), ("bearerAuth" = [])),
)]
async fn thumbnail<A: Adapter>(
    State(app): State<AppState<A>>,
    Path(id): Path<String>,
    query: Params,
    headers: HeaderMap,
) -> AppResult<Response> {
    serve(&app, &id, Variant::Thumbnail, query, &headers).await
}

/// With `expires` and `signature`: a signed URL (bad or expired: 403).
/// Without: `Authorization: Bearer` of someone who may see the session.
async fn serve<A: Adapter>(
    app: &AppState<A>,
    id: &str,
    variant: Variant,
    query: Params,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let id = parse_id(id, "attachment id")?;
    let params = params(query)?;
    let files = &app.actions.attachments;
    let row = if params.contains_key("signature") || params.contains_key("expires") {
        let expires = params.get("expires").and_then(|e| e.parse::<i64>().ok());
        let signature = params.get("signature").map(String::as_str).unwrap_or("");
        let valid = expires.is_some_and(|e| files.signer.verify(&id, variant, e, signature));
        if !valid {
            return Err(AppError::Forbidden(
                "the link is not valid or has expired".into(),
            ));
        }
        attachments::find(&app.reads, &id).await?
    } else {
        let user = bearer_user(headers, app)?;
        attachments::find_for(&app.reads, &user, &id).await?
    };
    let (key, content_type) = match variant {
        Variant::File => (file_key(&row.id), row.content_type.clone()),
        Variant::Thumbnail => match &row.thumbnail {
            Some(kind) => (thumbnail_key(&row.id), kind.clone()),
            None => {
                return Err(AppError::NotFound(
                    "this attachment has no thumbnail".into(),
                ));
            }
        },
    };
    let (size, stream) = files.store.get(&key).await?;
    let inline = content_type.starts_with("image/");
    let content_type = if content_type.starts_with("text/") {
        format!("{content_type}; charset=utf-8")
    } else {
        content_type
    };
    let body = Body::from_stream(stream.map(|chunk| chunk.map_err(std::io::Error::other)));
    let mut response = Response::new(body);
    let out = response.headers_mut();
    let value = |v: &str| HeaderValue::from_str(v).map_err(|e| AppError::Internal(e.to_string()));
    out.insert(header::CONTENT_TYPE, value(&content_type)?);
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    out.insert(
        header::CONTENT_DISPOSITION,
        value(&disposition(inline, &row.name))?,
    );
    Ok(response)
}

/// RFC 5987 `attr-char`: what `filename*` leaves unencoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition` (RFC 6266): `inline` for images, else
/// `attachment`; `filename` an ASCII stand-in, `filename*` the name.
pub fn disposition(inline: bool, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        utf8_percent_encode(name, ATTR_CHAR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disposition_names_the_file_twice() {
        assert_eq!(
            disposition(false, "rapport été \"final\".pdf"),
            "attachment; filename=\"rapport _t_ _final_.pdf\"; filename*=UTF-8''rapport%20%C3%A9t%C3%A9%20%22final%22.pdf"
        );
        assert_eq!(
            disposition(true, "a.png"),
            "inline; filename=\"a.png\"; filename*=UTF-8''a.png"
        );
    }
}
