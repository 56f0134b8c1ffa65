//! The admin's side of integrations (docs/protocol.md §10): API keys,
//! webhook endpoints, and their deliveries.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use utoipa::{OpenApi, ToSchema};

use super::openapi::integrations::{CreateApiKeyBody, CreateWebhookBody};
use super::{AuthUser, JsonBody, Params, limit, params};
use crate::app::AppState;
use crate::chat::integrations::deliveries::{self, DeliveryView};
use crate::chat::integrations::endpoints::{self, CreatedWebhook, NewWebhook, WebhookView};
use crate::chat::integrations::keys::{self, ApiKeyView, CreatedApiKey};
use crate::error::{AppError, AppResult, ErrorResponse};
use crate::webhooks::address;

#[derive(OpenApi)]
#[openapi(paths(
    create_key,
    list_keys,
    revoke_key,
    create_webhook,
    list_webhooks,
    delete_webhook,
    list_deliveries,
    retry_delivery
))]
pub struct IntegrationsApi;

/// The tenant's API keys, newest first.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyView>,
}

/// The tenant's webhook endpoints, newest first.
#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

/// An endpoint's deliveries, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<DeliveryView>,
}

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new()
        .route("/api/api-keys", get(list_keys::<A>).post(create_key::<A>))
        .route("/api/api-keys/{id}", delete(revoke_key::<A>))
        .route(
            "/api/webhooks",
            get(list_webhooks::<A>).post(create_webhook::<A>),
        )
        .route("/api/webhooks/{id}", delete(delete_webhook::<A>))
        .route("/api/webhooks/{id}/deliveries", get(list_deliveries::<A>))
        .route(
            "/api/webhooks/{id}/deliveries/{deliveryId}/retry",
            post(retry_delivery::<A>),
        )
}

#[utoipa::path(
    post,
    path = "/api/api-keys",
    tag = "integrations",
    request_body = CreateApiKeyBody,
    responses(
        (status = 201, description = "The key, shown this once", body = CreatedApiKey),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
async fn create_key<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<CreatedApiKey>)> {
    let created = keys::create(&app.db, &user, &body).await?;
    tracing::info!(key = %created.id, tenant = %user.tenant, by = %user.id, "API key created");
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    get,
    path = "/api/api-keys",
    tag = "integrations",
    responses(
        (status = 200, body = ApiKeyList),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
async fn list_keys<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
) -> AppResult<Json<ApiKeyList>> {
    let items = keys::list(&app.db, &user).await?;
    Ok(Json(ApiKeyList { items }))
}

#[utoipa::path(
    delete,
    path = "/api/api-keys/{id}",
    tag = "integrations",
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked, on every node at once"),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
async fn revoke_key<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    keys::revoke(&app.db, &user, &id).await?;
    tracing::info!(key = %id, tenant = %user.tenant, by = %user.id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/webhooks",
    tag = "integrations",
    request_body = CreateWebhookBody,
    responses(
        (status = 201, description = "The endpoint; its secret shown this once", body = CreatedWebhook),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
async fn create_webhook<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<CreatedWebhook>)> {
    let new = NewWebhook::parse(&user, &body)?;
    address::check(&new.url, app.webhooks.config().allow_private)
        .await
        .map_err(|why| AppError::invalid(format!("url may not be called: {why}")))?;
    let created = endpoints::create(&app.db, &user, new).await?;
    tracing::info!(webhook = %created.webhook.id, tenant = %user.tenant, by = %user.id, "webhook registered");
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(
    get,
    path = "/api/webhooks",
    tag = "integrations",
    responses(
        (status = 200, body = WebhookList),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
async fn list_webhooks<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
) -> AppResult<Json<WebhookList>> {
    let items = endpoints::list(&app.db, &user).await?;
    Ok(Json(WebhookList { items }))
}

#[utoipa::path(
    delete,
    path = "/api/webhooks/{id}",
    tag = "integrations",
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Removed, with its deliveries"),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
async fn delete_webhook<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    endpoints::delete(&app.db, &user, &id).await?;
    tracing::info!(webhook = %id, tenant = %user.tenant, by = %user.id, "webhook removed");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/webhooks/{id}/deliveries",
    tag = "integrations",
    params(
        ("id" = String, Path, description = "The endpoint's id"),
        ("limit" = Option<u32>, Query, description = "Default 50, at most 200"),
    ),
    responses(
        (status = 200, body = DeliveryList),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
async fn list_deliveries<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    query: Params,
) -> AppResult<Json<DeliveryList>> {
    let limit = limit(&params(query)?)?;
    let items = deliveries::list(&app.db, &user, &id, limit).await?;
    Ok(Json(DeliveryList { items }))
}

#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/deliveries/{deliveryId}/retry",
    tag = "integrations",
    params(
        ("id" = String, Path, description = "The endpoint's id"),
        ("deliveryId" = String, Path, description = "The delivery's id"),
    ),
    responses(
        (status = 200, description = "Pending again, due now", body = DeliveryView),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "Not a failed delivery", body = ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
async fn retry_delivery<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path((id, delivery)): Path<(String, String)>,
) -> AppResult<Json<DeliveryView>> {
    let view = deliveries::retry(&app.db, &user, &id, &delivery).await?;
    app.webhooks.retried(&user.tenant, &id, view.clone()).await;
    Ok(Json(view))
}
