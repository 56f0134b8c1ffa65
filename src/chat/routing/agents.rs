//! Agents (docs/protocol.md §8): their state (`AgentState`), what they
//! choose (availability) or an admin sets (capacity), and their presence
//! across nodes: each node counts its sockets of each agent in
//! `agent_presence` and holds a lease in `nodes`; an agent is online while
//! some node whose lease is valid has a socket of theirs.

use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::settings::{self, Defaults};
use super::sql::{self, ONLINE_IDS};
use crate::chat::changes::{self, Change};
use crate::chat::clock::now_ms;
use crate::chat::{Changed, Role, User};
use crate::error::{AppError, AppResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    Available,
    Away,
}

impl Availability {
    pub fn parse(value: &Value) -> AppResult<Self> {
        serde_json::from_value(value.clone())
            .map_err(|_| AppError::invalid("availability must be 'available' or 'away'"))
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Away => "away",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentState {
    pub id: String,
    #[schema(required)]
    pub name: Option<String>,
    /// `agent` or `admin`.
    pub role: Role,
    pub availability: Availability,
    pub online: bool,
    #[schema(minimum = 0)]
    pub active_chats: i64,
    #[schema(minimum = 0, maximum = 100)]
    pub max_chats: i64,
}

pub const MAX_CHATS_LIMIT: u64 = 100;

#[derive(FromQueryResult)]
struct StaffRow {
    id: String,
    name: Option<String>,
    role: String,
    availability: String,
    max_chats: Option<i32>,
}

#[derive(FromQueryResult)]
struct IdRow {
    user_id: String,
}

#[derive(FromQueryResult)]
struct LoadRow {
    agent_id: String,
    n: i64,
}

/// The staff of tenant `$1`.
pub const STAFF_SQL: &str = "SELECT id, name, role, availability, max_chats FROM users \
    WHERE tenant = $1 AND role IN ('agent', 'admin')";

/// The active chats of each agent of tenant `$1`.
pub const LOADS_SQL: &str = "SELECT agent_id, COUNT(*) AS n FROM sessions \
    WHERE tenant = $1 AND status = 'active' AND agent_id IS NOT NULL GROUP BY agent_id";

/// The tenant's staff, by name (case-insensitive; unnamed last), then id.
pub async fn list(
    db: &impl ConnectionTrait,
    defaults: &Defaults,
    tenant: &str,
) -> AppResult<Vec<AgentState>> {
    let rows: Vec<StaffRow> = sql::all(db, STAFF_SQL, vec![tenant.into()]).await?;
    let mut states = states(db, defaults, tenant, rows).await?;
    states.sort_by(|a, b| {
        let name = |s: &AgentState| (s.name.is_none(), s.name.as_deref().map(str::to_lowercase));
        name(a).cmp(&name(b)).then_with(|| a.id.cmp(&b.id))
    });
    Ok(states)
}

/// The ids of the tenant's staff (without their state).
pub async fn staff_ids(db: &impl ConnectionTrait, tenant: &str) -> AppResult<Vec<String>> {
    let rows: Vec<StaffRow> = sql::all(db, STAFF_SQL, vec![tenant.into()]).await?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// `GET /api/agents`: staff only.
pub async fn list_for(
    db: &impl ConnectionTrait,
    defaults: &Defaults,
    user: &User,
) -> AppResult<Vec<AgentState>> {
    if !user.role.is_staff() {
        return Err(AppError::Forbidden(
            "only agents and admins list agents".into(),
        ));
    }
    list(db, defaults, &user.tenant).await
}

/// One staff member's state; `None` when the tenant has no such staff.
pub async fn state(
    db: &impl ConnectionTrait,
    defaults: &Defaults,
    tenant: &str,
    id: &str,
) -> AppResult<Option<AgentState>> {
    let rows: Vec<StaffRow> = sql::all(
        db,
        &format!("{STAFF_SQL} AND id = $2"),
        vec![tenant.into(), id.into()],
    )
    .await?;
    Ok(states(db, defaults, tenant, rows).await?.pop())
}

/// States of `rows`: who is online and the loads in one query each.
async fn states(
    db: &impl ConnectionTrait,
    defaults: &Defaults,
    tenant: &str,
    rows: Vec<StaffRow>,
) -> AppResult<Vec<AgentState>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let default_max = settings::load(db, defaults, tenant)
        .await?
        .default_max_chats;
    let online: HashSet<String> =
        sql::all::<IdRow>(db, ONLINE_IDS, vec![tenant.into(), now_ms().into()])
            .await?
            .into_iter()
            .map(|row| row.user_id)
            .collect();
    let loads: HashMap<String, i64> = sql::all::<LoadRow>(db, LOADS_SQL, vec![tenant.into()])
        .await?
        .into_iter()
        .map(|row| (row.agent_id, row.n))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| AgentState {
            online: online.contains(&row.id),
            active_chats: loads.get(&row.id).copied().unwrap_or(0),
            max_chats: row.max_chats.map_or(i64::from(default_max), i64::from),
            availability: if row.availability == "away" {
                Availability::Away
            } else {
                Availability::Available
            },
            role: Role::parse(&row.role).unwrap_or(Role::Agent),
            name: row.name,
            id: row.id,
        })
        .collect())
}

/// `set-availability` `{ status }`: a staff member chooses for themself
/// (customers are `forbidden` whatever they send).
pub async fn set_availability(
    db: &DatabaseConnection,
    defaults: &Defaults,
    user: &User,
    status: Option<&str>,
) -> AppResult<Changed<AgentState>> {
    if !user.role.is_staff() {
        return Err(AppError::Forbidden(
            "only agents and admins have an availability".into(),
        ));
    }
    let status = status.ok_or_else(|| AppError::invalid("status is required"))?;
    let availability = Availability::parse(&Value::String(status.to_string()))?;
    update(db, defaults, user, &user.id, Some(availability), None).await
}

/// `PATCH /api/agents/{id}` `{ availability?, maxChats? }`: an agent sets
/// their own availability; an admin either field of any staff member of
/// the tenant (`maxChats` null: back to the tenant's default).
pub async fn patch(
    db: &DatabaseConnection,
    defaults: &Defaults,
    user: &User,
    id: &str,
    body: &Value,
) -> AppResult<Changed<AgentState>> {
    if !user.role.is_staff() {
        return Err(AppError::Forbidden(
            "only agents and admins change agents".into(),
        ));
    }
    let (availability, max_chats) = parse_patch(body)?;
    if user.role != Role::Admin {
        if id != user.id {
            return Err(AppError::Forbidden("agents change only themselves".into()));
        }
        if max_chats.is_some() {
            return Err(AppError::Forbidden("only admins set maxChats".into()));
        }
    }
    update(db, defaults, user, id, availability, max_chats).await
}

// The body `parse_patch` reads, as a type for the OpenAPI document.

/// `PATCH /api/agents/{id}`: an agent sets their own `availability`; an
/// admin either field of any staff member.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct AgentPatchBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub availability: Option<Availability>,
    /// Admins only; null: back to the tenant's `defaultMaxChats`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u8>, minimum = 0, maximum = 100)]
    pub max_chats: Option<Option<u8>>,
}

/// `{ availability?, maxChats? }`: `maxChats` `Some(None)` when null.
#[allow(clippy::type_complexity)]
fn parse_patch(body: &Value) -> AppResult<(Option<Availability>, Option<Option<i32>>)> {
    let empty = serde_json::Map::new();
    let body = match body {
        Value::Null => &empty,
        other => other
            .as_object()
            .ok_or_else(|| AppError::invalid("the body must be an object"))?,
    };
    if let Some(key) = body
        .keys()
        .find(|k| *k != "availability" && *k != "maxChats")
    {
        return Err(AppError::invalid(format!("unknown field '{key}'")));
    }
    let availability = body
        .get("availability")
        .map(Availability::parse)
        .transpose()?;
    let max_chats = match body.get("maxChats") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(value) => Some(Some(
            value
                .as_u64()
                .filter(|n| *n <= MAX_CHATS_LIMIT)
                .ok_or_else(|| AppError::invalid("maxChats must be an integer from 0 to 100"))?
                as i32,
        )),
    };
    Ok((availability, max_chats))
}

async fn update(
    db: &DatabaseConnection,
    defaults: &Defaults,
    user: &User,
    id: &str,
    availability: Option<Availability>,
    max_chats: Option<Option<i32>>,
) -> AppResult<Changed<AgentState>> {
    let tenant = user.tenant.as_str();
    let txn = db.begin().await?;
    let mut changed_rows = 0;
    if let Some(availability) = availability {
        changed_rows += sql::execute(
            &txn,
            "UPDATE users SET availability = $3 WHERE tenant = $1 AND id = $2 \
             AND role IN ('agent', 'admin') AND availability <> $3",
            vec![tenant.into(), id.into(), availability.as_str().into()],
        )
        .await?;
    }
    if let Some(max_chats) = max_chats {
        changed_rows += sql::execute(
            &txn,
            "UPDATE users SET max_chats = $3 WHERE tenant = $1 AND id = $2 \
             AND role IN ('agent', 'admin') AND max_chats IS DISTINCT FROM $3",
            vec![tenant.into(), id.into(), max_chats.into()],
        )
        .await?;
    }
    let state = state(&txn, defaults, tenant, id)
        .await?
        .ok_or_else(|| AppError::NotFound("no agent with that id".into()))?;
    let changed = if changed_rows > 0 {
        vec![Change::AgentChanged(id.to_string())]
    } else {
        Vec::new()
    };
    changes::commit(txn, tenant, &changed).await?;
    Ok(Changed::new(tenant, state, changed))
}

/// This node's presence in the database.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: String,
    /// How long a heartbeat keeps the node alive.
    pub lease_ms: i64,
}

impl Node {
    /// Renews this node's lease.
    pub async fn heartbeat(&self, db: &impl ConnectionTrait) -> AppResult<()> {
        sql::execute(
            db,
            "INSERT INTO nodes (id, expires_at) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
            vec![self.id.clone().into(), (now_ms() + self.lease_ms).into()],
        )
        .await?;
        Ok(())
    }

    /// A socket of staff member `user` connected here. Changed when they
    /// were offline before.
    pub async fn connected(&self, db: &DatabaseConnection, user: &User) -> AppResult<Changed<()>> {
        let (tenant, id) = (user.tenant.as_str(), user.id.as_str());
        let txn = db.begin().await?;
        // The user's row first: it serialises this agent's connects and
        // disconnects on every node.
        sql::execute(
            &txn,
            "UPDATE users SET offline_since = NULL WHERE tenant = $1 AND id = $2",
            vec![tenant.into(), id.into()],
        )
        .await?;
        let was_online = is_online(&txn, tenant, id).await?;
        sql::execute(
            &txn,
            "INSERT INTO agent_presence (tenant, user_id, node_id, sockets) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (tenant, user_id, node_id) DO UPDATE SET sockets = agent_presence.sockets + 1",
            vec![tenant.into(), id.into(), self.id.clone().into()],
        )
        .await?;
        let changed = if was_online {
            Vec::new()
        } else {
            vec![Change::AgentChanged(id.to_string())]
        };
        changes::commit(txn, tenant, &changed).await?;
        Ok(Changed::new(tenant, (), changed))
    }

    /// A socket of staff member `user` left this node. Changed when it was
    /// their last one anywhere.
    pub async fn disconnected(
        &self,
        db: &DatabaseConnection,
        user: &User,
    ) -> AppResult<Changed<()>> {
        let (tenant, id) = (user.tenant.as_str(), user.id.as_str());
        let txn = db.begin().await?;
        sql::execute(
            &txn,
            "UPDATE users SET offline_since = offline_since WHERE tenant = $1 AND id = $2",
            vec![tenant.into(), id.into()],
        )
        .await?;
        let key = vec![tenant.into(), id.into(), self.id.clone().into()];
        sql::execute(
            &txn,
            "UPDATE agent_presence SET sockets = sockets - 1 \
             WHERE tenant = $1 AND user_id = $2 AND node_id = $3",
            key.clone(),
        )
        .await?;
        sql::execute(
            &txn,
            "DELETE FROM agent_presence WHERE tenant = $1 AND user_id = $2 AND node_id = $3 \
             AND sockets <= 0",
            key,
        )
        .await?;
        let changed = went_offline(&txn, tenant, id).await?;
        changes::commit(txn, tenant, &changed).await?;
        Ok(Changed::new(tenant, (), changed))
    }

    /// Removes the presence of nodes whose lease ran out (they died) and,
    /// on shutdown, of this node itself; their agents with no socket left
    /// elsewhere go offline. The changes, per tenant.
    pub async fn expire(
        &self,
        db: &DatabaseConnection,
        leaving: bool,
    ) -> AppResult<Vec<Changed<()>>> {
        #[derive(FromQueryResult)]
        struct Gone {
            tenant: String,
            user_id: String,
            node_id: String,
        }
        let now = now_ms();
        let gone: Vec<Gone> = sql::all(
            db,
            "SELECT p.tenant, p.user_id, p.node_id FROM agent_presence p \
             LEFT JOIN nodes n ON n.id = p.node_id \
             WHERE n.id IS NULL OR n.expires_at < $1 OR p.node_id = $2",
            vec![
                now.into(),
                (if leaving { self.id.as_str() } else { "" }).into(),
            ],
        )
        .await?;
        let mut nodes: Vec<&str> = gone.iter().map(|g| g.node_id.as_str()).collect();
        nodes.sort_unstable();
        nodes.dedup();
        let mut by_tenant: HashMap<&str, Vec<Change>> = HashMap::new();
        let txn = db.begin().await?;
        for node in &nodes {
            sql::execute(
                &txn,
                "DELETE FROM agent_presence WHERE node_id = $1",
                vec![(*node).into()],
            )
            .await?;
            sql::execute(
                &txn,
                "DELETE FROM nodes WHERE id = $1 AND (expires_at < $2 OR id = $3)",
                vec![
                    (*node).into(),
                    now.into(),
                    (if leaving { self.id.as_str() } else { "" }).into(),
                ],
            )
            .await?;
        }
        for g in &gone {
            let changes = went_offline(&txn, &g.tenant, &g.user_id).await?;
            by_tenant.entry(&g.tenant).or_default().extend(changes);
        }
        let each: Vec<(&str, Vec<Change>)> = by_tenant
            .iter()
            .map(|(tenant, changes)| (*tenant, changes.clone()))
            .collect();
        changes::commit_each(txn, &each).await?;
        if !gone.is_empty() {
            tracing::info!(nodes = ?nodes, sockets = gone.len(), "presence of dead nodes removed");
        }
        Ok(by_tenant
            .into_iter()
            .filter(|(_, changes)| !changes.is_empty())
            .map(|(tenant, changes)| Changed::new(tenant, (), changes))
            .collect())
    }
}

async fn is_online(db: &impl ConnectionTrait, tenant: &str, id: &str) -> AppResult<bool> {
    let n = sql::count(
        db,
        "SELECT COUNT(*) AS n FROM agent_presence p JOIN nodes n ON n.id = p.node_id \
         WHERE p.tenant = $1 AND p.user_id = $2 AND n.expires_at >= $3",
        vec![tenant.into(), id.into(), now_ms().into()],
    )
    .await?;
    Ok(n > 0)
}

/// Marks the agent offline when no live node has a socket of theirs.
async fn went_offline(db: &impl ConnectionTrait, tenant: &str, id: &str) -> AppResult<Vec<Change>> {
    if is_online(db, tenant, id).await? {
        return Ok(Vec::new());
    }
    let rows = sql::execute(
        db,
        "UPDATE users SET offline_since = $3 WHERE tenant = $1 AND id = $2 AND offline_since IS NULL",
        vec![tenant.into(), id.into(), now_ms().into()],
    )
    .await?;
    Ok(if rows == 1 {
        vec![Change::AgentChanged(id.to_string())]
    } else {
        Vec::new()
    })
}

/// Tenants with a staff socket on some node (the sweep's work list).
pub async fn tenants_online(db: &impl ConnectionTrait) -> AppResult<Vec<String>> {
    #[derive(FromQueryResult)]
    struct Tenant {
        tenant: String,
    }
    let rows: Vec<Tenant> =
        sql::all(db, "SELECT DISTINCT tenant FROM agent_presence", vec![]).await?;
    Ok(rows.into_iter().map(|r| r.tenant).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_patch_body_is_what_its_parser_reads() {
        let body = AgentPatchBody {
            availability: Some(Availability::Away),
            max_chats: Some(Some(7)),
        };
        let parsed = parse_patch(&serde_json::to_value(&body).unwrap()).unwrap();
        assert_eq!(parsed, (Some(Availability::Away), Some(Some(7))));
        let reset = AgentPatchBody {
            max_chats: Some(None),
            ..Default::default()
        };
        let parsed = parse_patch(&serde_json::to_value(&reset).unwrap()).unwrap();
        assert_eq!(parsed, (None, Some(None)));
    }
}
