//! `GET /api/chat/stats` (agents) and `GET /ws/stats` (admins: this node's
//! connections of their tenant).

use socketioxide::adapter::Adapter;
use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{AuthUser, ReadSlot};
use crate::app::AppState;
use crate::chat::{Stats, User, access};
use crate::error::{AppResult, ErrorResponse};

/// This module's part of the OpenAPI document (`super::openapi`).
#[derive(OpenApi)]
#[openapi(paths(get_stats, socket_stats))]
pub struct StatsApi;

/// This node's connections of the admin's tenant.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SocketStats {
    pub node: String,
    pub total_connections: usize,
    pub total_rooms: usize,
    /// By room name.
    pub rooms: BTreeMap<String, RoomStats>,
}

#[derive(Serialize, ToSchema)]
pub struct RoomStats {
    /// Sockets in the room.
    pub connections: usize,
    /// Distinct users among them.
    pub users: usize,
}

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new()
        .route("/api/chat/stats", get(get_stats::<A>))
        .route("/ws/stats", get(socket_stats::<A>))
}

#[utoipa::path(
    get,
    path = "/api/chat/stats",
    tag = "stats",
    responses(
        (status = 200, body = Stats),
        (status = 403, description = "Not staff", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn get_stats<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
) -> AppResult<Json<Stats>> {
    Ok(Json(app.fanout().stats.snapshot_for(&user).await?))
}

#[utoipa::path(
    get,
    path = "/ws/stats",
    tag = "stats",
    responses(
        (status = 200, body = SocketStats),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
    security(("bearerAuth" = [])),
)]
async fn socket_stats<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(admin): AuthUser,
) -> AppResult<Json<SocketStats>> {
    access::ensure_admin(&admin, "socket stats")?;
    let sockets = app.chat().map(|ns| ns.sockets()).unwrap_or_default();
    let mut total = 0;
    let mut rooms: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
    for socket in sockets {
        let Some(user) = socket.extensions.get::<User>() else {
            continue;
        };
        if user.tenant != admin.tenant {
            continue;
        }
        total += 1;
        for room in socket.rooms() {
            let entry = rooms.entry(room.to_string()).or_default();
            entry.0 += 1;
            entry.1.insert(user.id.clone());
        }
    }
    let rooms: BTreeMap<String, RoomStats> = rooms
        .into_iter()
        .map(|(room, (connections, users))| {
            let users = users.len();
            (room, RoomStats { connections, users })
        })
        .collect();
    Ok(Json(SocketStats {
        node: app.node_id.clone(),
        total_connections: total,
        total_rooms: rooms.len(),
        rooms,
    }))
}
