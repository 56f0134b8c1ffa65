//! The admin's side of integrations (docs/protocol.md §10): API keys,
//! webhook endpoints, and their deliveries.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;

use super::{AuthUser, JsonBody, Params, limit, params};
use crate::app::AppState;
use crate::chat::integrations::deliveries::{self, DeliveryView};
use crate::chat::integrations::endpoints::{self, CreatedWebhook, NewWebhook};
use crate::chat::integrations::keys::{self, CreatedApiKey};
use crate::error::{AppError, AppResult};
use crate::webhooks::address;

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
            "/api/webhooks/{id}/deliveries/{delivery}/retry",
            post(retry_delivery::<A>),
        )
}

async fn create_key<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody,
) -> AppResult<(StatusCode, Json<CreatedApiKey>)> {
    let created = keys::create(&app.db, &user, &body).await?;
    tracing::info!(key = %created.id, tenant = %user.tenant, by = %user.id, "API key created");
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list_keys<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
) -> AppResult<Json<Value>> {
    let items = keys::list(&app.db, &user).await?;
    Ok(Json(json!({ "items": items })))
}

async fn revoke_key<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    keys::revoke(&app.db, &user, &id).await?;
    tracing::info!(key = %id, tenant = %user.tenant, by = %user.id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}

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

async fn list_webhooks<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
) -> AppResult<Json<Value>> {
    let items = endpoints::list(&app.db, &user).await?;
    Ok(Json(json!({ "items": items })))
}

async fn delete_webhook<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    endpoints::delete(&app.db, &user, &id).await?;
    tracing::info!(webhook = %id, tenant = %user.tenant, by = %user.id, "webhook removed");
    Ok(StatusCode::NO_CONTENT)
}

async fn list_deliveries<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    query: Params,
) -> AppResult<Json<Value>> {
    let limit = limit(&params(query)?)?;
    let items = deliveries::list(&app.db, &user, &id, limit).await?;
    Ok(Json(json!({ "items": items })))
}

async fn retry_delivery<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path((id, delivery)): Path<(String, String)>,
) -> AppResult<Json<DeliveryView>> {
    let view = deliveries::retry(&app.db, &user, &id, &delivery).await?;
    app.webhooks.retried(&user.tenant, &id, view.clone()).await;
    Ok(Json(view))
}
