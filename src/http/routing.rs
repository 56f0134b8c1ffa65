//! The routing API of docs/protocol.md §6-§7: the tenant's agents
//! (`/api/agents`), its settings (`/api/settings`) and its service status
//! (`/api/chat/service`).

use axum::extract::{Path, State};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use utoipa::{OpenApi, ToSchema};

use super::{AuthUser, JsonBody, ReadSlot};
use crate::app::AppState;
use crate::chat::input::parse_id;
use crate::chat::routing::agents::AgentPatchBody;
use crate::chat::routing::service::{self, ServiceStatus};
use crate::chat::routing::settings::SettingsPatchBody;
use crate::chat::routing::{AgentState, TenantSettings, agents, settings};
use crate::error::{AppResult, ErrorResponse};

/// This module's part of the OpenAPI document (`super::openapi`).
#[derive(OpenApi)]
#[openapi(paths(list_agents, patch_agent, get_settings, patch_settings, service_status))]
pub struct RoutingApi;

/// The tenant's agents and admins the server knows, by name.
#[derive(Serialize, ToSchema)]
pub struct AgentList {
    pub items: Vec<AgentState>,
}

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

#[utoipa::path(
    get,
    path = "/api/agents",
    tag = "routing",
    responses(
        (status = 200, body = AgentList),
        (status = 403, description = "Not staff", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn list_agents<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
) -> AppResult<Json<AgentList>> {
    let defaults = &app.actions.router.config.defaults;
    let items = agents::list_for(&app.reads, defaults, &user).await?;
    Ok(Json(AgentList { items }))
}

/// An agent sets their own availability; an admin either field of any
/// staff member of the tenant.
#[utoipa::path(
    patch,
    path = "/api/agents/{id}",
    tag = "routing",
    params(("id" = String, Path, description = "The agent's user id")),
    request_body(content = Option<AgentPatchBody>, description = "Optional: no body (or `null`) is an empty one"),
    responses(
        (status = 200, body = AgentState),
        (status = 400, body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn patch_agent<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> AppResult<Json<AgentState>> {
    let id = parse_id(&id, "agent id")?;
    Ok(Json(app.actions.patch_agent(&user, &id, &body).await?))
}

#[utoipa::path(
    get,
    path = "/api/settings",
    tag = "routing",
    responses(
        (status = 200, body = TenantSettings),
        (status = 403, description = "Not staff", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn get_settings<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
) -> AppResult<Json<TenantSettings>> {
    let defaults = &app.actions.router.config.defaults;
    Ok(Json(settings::get(&app.reads, defaults, &user).await?))
}

/// Sets any subset of the settings (admins); one bad value changes nothing.
#[utoipa::path(
    patch,
    path = "/api/settings",
    tag = "routing",
    request_body(content = Option<SettingsPatchBody>, description = "Optional: no body (or `null`) is an empty one"),
    responses(
        (status = 200, body = TenantSettings),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn patch_settings<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody,
) -> AppResult<Json<TenantSettings>> {
    Ok(Json(app.actions.update_settings(&user, &body).await?))
}

/// The caller's tenant's service status.
#[utoipa::path(
    get,
    path = "/api/chat/service",
    tag = "routing",
    responses((status = 200, body = ServiceStatus)),
    security(("bearerAuth" = [])),
)]
async fn service_status<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
) -> AppResult<Json<ServiceStatus>> {
    let defaults = &app.actions.router.config.defaults;
    Ok(Json(
        service::status(&app.reads, defaults, &user.tenant).await?,
    ))
}
