//! `GET /api/chat/stats` (agents) and `GET /ws/stats` (admins: this node's
//! connections of their tenant).

use socketioxide::adapter::Adapter;
use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{AuthUser, ReadSlot};
use crate::app::AppState;
use crate::chat::{Stats, User, access};
use crate::error::AppResult;

pub fn router<A: Adapter>() -> Router<AppState<A>> {
    Router::new()
        .route("/api/chat/stats", get(get_stats::<A>))
        .route("/ws/stats", get(socket_stats::<A>))
}

async fn get_stats<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(user): AuthUser,
    _turn: ReadSlot,
) -> AppResult<Json<Stats>> {
    Ok(Json(app.fanout().stats.snapshot_for(&user).await?))
}

async fn socket_stats<A: Adapter>(
    State(app): State<AppState<A>>,
    AuthUser(admin): AuthUser,
) -> AppResult<Json<Value>> {
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
    let rooms: BTreeMap<String, Value> = rooms
        .into_iter()
        .map(|(room, (connections, users))| {
            (
                room,
                json!({ "connections": connections, "users": users.len() }),
            )
        })
        .collect();
    Ok(Json(json!({
        "node": app.node_id,
        "totalConnections": total,
        "totalRooms": rooms.len(),
        "rooms": rooms,
    })))
}
