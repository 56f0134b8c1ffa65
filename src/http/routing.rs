//! The routing API of docs/protocol.md §6-§7: the tenant's agents
//! (`/api/agents`), its settings (`/api/settings`) and its service status
//! (`/api/chat/service`).

use axum::extract::{Path, State};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;

use super::{AuthUser, JsonBody, ReadSlot};
use crate::app::AppState;
use crate::chat::input::parse_id;
use crate::chat::routing::service::{self, ServiceStatus};
use crate::chat::routing::{AgentState, TenantSettings, agents, settings};
use crate::error::AppResult;

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new()
        .route("/api/agents", get(list_agents::<A>))
        .route("/api/agents/{id}", patch(patch_agent::<A>))
        .route(
            "/api/settings",
            get(get_settings::<A>).patch(patch_settings::<A>),
        )
        .route("/api/chat/service", get(service_status::<A>))
}

async fn list_agents<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
) -> AppResult<Json<Value>> {
    let defaults = &app.actions.router.config.defaults;
    let items = agents::list_for(&app.reads, defaults, &user).await?;
    Ok(Json(json!({ "items": items })))
}

async fn patch_agent<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<AgentState>> {
    let id = parse_id(&id, "agent id")?;
    Ok(Json(app.actions.patch_agent(&user, &id, &body).await?))
}

async fn get_settings<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
) -> AppResult<Json<TenantSettings>> {
    let defaults = &app.actions.router.config.defaults;
    Ok(Json(settings::get(&app.reads, defaults, &user).await?))
}

async fn patch_settings<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody,
) -> AppResult<Json<TenantSettings>> {
    Ok(Json(app.actions.update_settings(&user, &body).await?))
}

async fn service_status<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
) -> AppResult<Json<ServiceStatus>> {
    let defaults = &app.actions.router.config.defaults;
    Ok(Json(
        service::status(&app.reads, defaults, &user.tenant).await?,
    ))
}
