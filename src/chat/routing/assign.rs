//! Auto-assignment (docs/protocol.md §8): a step is one transaction, race-
//! free across nodes. One node at a time assigns a tenant's sessions (on
//! PostgreSQL a transaction-scoped advisory lock; SQLite has one writer);
//! the routable agents' rows are locked, their active chats counted in a
//! fresh statement, and each session moved with a conditional UPDATE: a
//! session is assigned once, and no agent goes over capacity.

use std::cmp::Ordering;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, TransactionTrait};

use super::RoutingConfig;
use super::log;
use super::queue::{self, Waiting};
use super::settings::{self, RoutingMode};
use super::sql::{self, ONLINE_IDS};
use crate::chat::changes::{self, Change};
use crate::chat::clock::now_ms;
use crate::chat::{Changed, sessions, users};
use crate::error::AppResult;

/// A routable agent with room.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct Candidate {
    pub id: String,
    pub max_chats: Option<i32>,
    pub last_assigned_at: Option<i64>,
    pub active: i64,
}

impl Candidate {
    fn capacity(&self, default: u16) -> i64 {
        self.max_chats.map_or(i64::from(default), i64::from)
    }
}

/// The fairness rule: fewest active chats, then the oldest last
/// assignment (never assigned first), then the id (so the order is total).
pub fn fairness(a: &Candidate, b: &Candidate) -> Ordering {
    let last = |c: &Candidate| c.last_assigned_at.map_or((0, 0), |at| (1, at));
    a.active
        .cmp(&b.active)
        .then_with(|| last(a).cmp(&last(b)))
        .then_with(|| a.id.cmp(&b.id))
}

/// The routable agents of tenant `$1` (`$2`: now) with their active chats.
pub fn candidates_sql() -> String {
    format!(
        "SELECT u.id AS id, u.max_chats AS max_chats, u.last_assigned_at AS last_assigned_at, \
           (SELECT COUNT(*) FROM sessions s WHERE s.tenant = u.tenant AND s.status = 'active' \
            AND s.agent_id = u.id) AS active \
         FROM users u WHERE u.tenant = $1 AND u.availability = 'available' \
         AND u.role IN ('agent', 'admin') AND u.id IN ({ONLINE_IDS})"
    )
}

/// Active sessions of agents of tenant `$1` offline since before `$2`
/// (they all go, a batch at a time, in no particular order).
pub const ORPHAN_SQL: &str = "SELECT s.id AS id, s.agent_id AS agent_id FROM users u \
    JOIN sessions s ON s.tenant = u.tenant AND s.status = 'active' AND s.agent_id = u.id \
    WHERE u.tenant = $1 AND u.offline_since <= $2 LIMIT 20";

/// Routable agents of the tenant with room, best first.
pub async fn candidates(
    db: &impl ConnectionTrait,
    tenant: &str,
    default_max: u16,
) -> AppResult<Vec<Candidate>> {
    let mut found: Vec<Candidate> =
        sql::all(db, &candidates_sql(), vec![tenant.into(), now_ms().into()]).await?;
    found.retain(|c| c.active < c.capacity(default_max));
    found.sort_by(fairness);
    Ok(found)
}

/// What one step did.
#[derive(Debug)]
pub enum Step {
    /// Sessions were given to agents (one change each).
    Assigned(Changed<()>),
    /// Another node (or a take) changed what this step read: look again.
    Raced,
    /// Another node is assigning this tenant's sessions right now.
    Busy,
    /// Nothing to do: not in auto mode, nobody waiting, or nobody with room.
    Idle,
}

/// The sessions of agents offline for longer than the tenant allows.
#[derive(FromQueryResult)]
struct Orphan {
    id: String,
    agent_id: String,
}

/// The most assignments in one transaction on PostgreSQL (their events go
/// out together when it commits). SQLite makes one at a time: its single
/// writer would hold every message behind a longer transaction.
const BATCH: usize = 20;

/// Makes the assignments that should happen next in `tenant`, in one
/// transaction: first the sessions of agents offline for too long, then
/// the pending sessions oldest first, each to the best candidate it may go
/// to. On PostgreSQL one node at a time does this for a tenant (a
/// transaction-scoped advisory lock): nodes choosing the same session and
/// the same agent would otherwise wait on each other's row locks.
pub async fn step(
    db: &DatabaseConnection,
    config: &RoutingConfig,
    tenant: &str,
) -> AppResult<Step> {
    let txn = db.begin().await?;
    if !tenant_lock(&txn, tenant).await? {
        txn.rollback().await?;
        return Ok(Step::Busy);
    }
    let settings = settings::load(&txn, &config.defaults, tenant).await?;
    let max = settings.default_max_chats;
    let mut candidates = if settings.routing == RoutingMode::Auto {
        candidates(&txn, tenant, max).await?
    } else {
        Vec::new()
    };
    if candidates.is_empty() {
        txn.rollback().await?;
        return Ok(Step::Idle);
    }
    // Lock the candidates' rows before any session (the lock order of
    // `routing::log`), then count their chats again: while this
    // transaction lasts their counts cannot change (a take of theirs waits
    // for it), so the counts kept below are exact.
    let mut ids: Vec<String> = candidates.iter().map(|c| c.id.clone()).collect();
    ids.sort_unstable();
    log::hold_agents(&txn, tenant, &ids).await?;
    let batch = match txn.get_database_backend() {
        DbBackend::Postgres => BATCH,
        _ => 1,
    };
    let now = now_ms();
    // The sessions to serve are read before the agents' chats are counted
    // again: every change committed before one of these sessions existed
    // (a close that freed an agent) is then in the counts.
    let orphans: Vec<Orphan> = match settings.reassign_after_offline_seconds {
        Some(seconds) => {
            let cutoff = now - i64::from(seconds) * 1000;
            sql::all(&txn, ORPHAN_SQL, vec![tenant.into(), cutoff.into()]).await?
        }
        None => Vec::new(),
    };
    let limit = (batch + 20) as u64 + candidates.len() as u64;
    let waiting = queue::waiting(&txn, tenant, limit).await?;
    candidates = self::candidates(&txn, tenant, max).await?;
    candidates.retain(|c| ids.binary_search(&c.id).is_ok());
    let mut changes = Vec::new();
    let mut raced = false;
    for orphan in &orphans {
        if changes.len() >= batch {
            break;
        }
        let how = Move::FromAgent(&orphan.agent_id);
        let done = give(
            &txn,
            tenant,
            &orphan.id,
            how,
            &mut candidates,
            max,
            |_| true,
            now,
        )
        .await?;
        match done {
            Some(change) => changes.push(change),
            None => raced = true,
        }
    }
    let hold_since = now - config.requeue_hold_ms;
    for session in waiting {
        if changes.len() >= batch || candidates.is_empty() {
            break;
        }
        let may = |c: &Candidate| may_take(&session, c, hold_since);
        if !candidates.iter().any(may) {
            continue;
        }
        let done = give(
            &txn,
            tenant,
            &session.id,
            Move::FromQueue,
            &mut candidates,
            max,
            may,
            now,
        )
        .await?;
        match done {
            Some(change) => changes.push(change),
            None => raced = true,
        }
    }
    if changes.is_empty() {
        txn.rollback().await?;
        return Ok(if raced { Step::Raced } else { Step::Idle });
    }
    changes::commit(txn, tenant, &changes).await?;
    tracing::debug!(%tenant, assigned = changes.len(), "auto-assigned");
    Ok(Step::Assigned(Changed::new(tenant, (), changes)))
}

/// PostgreSQL: whether this transaction holds the tenant's routing lock
/// (released when it ends). SQLite has one writer: always.
async fn tenant_lock(txn: &impl ConnectionTrait, tenant: &str) -> AppResult<bool> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(true);
    }
    #[derive(FromQueryResult)]
    struct Locked {
        locked: bool,
    }
    let rows: Vec<Locked> = sql::all(
        txn,
        "SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS locked",
        vec![ROUTING_LOCK_CLASS.into(), tenant.into()],
    )
    .await?;
    Ok(rows.first().is_some_and(|r| r.locked))
}

/// The first key of the tenants' routing locks, apart from any other
/// advisory lock of the database.
const ROUTING_LOCK_CLASS: i32 = 0x5b_0007;

/// Gives `session_id` to the first candidate `may` allows, and updates the
/// candidates as the assignment changed them. `None`: the session had
/// moved meanwhile (a take, a close) or nobody may take it.
#[allow(clippy::too_many_arguments)]
async fn give(
    txn: &impl ConnectionTrait,
    tenant: &str,
    session_id: &str,
    how: Move<'_>,
    candidates: &mut Vec<Candidate>,
    max: u16,
    may: impl Fn(&Candidate) -> bool,
    now: i64,
) -> AppResult<Option<Change>> {
    let Some(i) = candidates.iter().position(may) else {
        return Ok(None);
    };
    let Some(change) = assign(txn, tenant, session_id, &candidates[i].id, how, now).await? else {
        return Ok(None);
    };
    let agent = &mut candidates[i];
    agent.active += 1;
    agent.last_assigned_at = Some(now);
    if agent.active >= agent.capacity(max) {
        candidates.remove(i);
    }
    candidates.sort_by(fairness);
    Ok(Some(change))
}

/// A session sent back to the queue does not go straight back to the
/// agent who sent it.
fn may_take(session: &Waiting, agent: &Candidate, hold_since: i64) -> bool {
    let held = session.requeued_from.as_deref() == Some(agent.id.as_str())
        && session.queued_at.is_some_and(|at| at > hold_since);
    !held
}

#[derive(Clone, Copy)]
enum Move<'a> {
    FromQueue,
    FromAgent(&'a str),
}

/// One assignment inside the step's transaction, to an agent whose row it
/// holds: the session moves with a conditional UPDATE (`None` when it had
/// moved meanwhile), then the agent's last assignment is stamped.
async fn assign(
    txn: &impl ConnectionTrait,
    tenant: &str,
    session_id: &str,
    agent_id: &str,
    how: Move<'_>,
    now: i64,
) -> AppResult<Option<Change>> {
    let (moved, previous) = match how {
        Move::FromQueue => {
            let moved = sql::execute(
                txn,
                "UPDATE sessions SET status = 'active', agent_id = $3, requeued_from = NULL, \
                 assigned_at = COALESCE(assigned_at, CASE WHEN created_at > $4 THEN created_at ELSE $4 END) \
                 WHERE tenant = $1 AND id = $2 AND status = 'pending'",
                vec![tenant.into(), session_id.into(), agent_id.into(), now.into()],
            )
            .await?;
            (moved, None)
        }
        Move::FromAgent(from) => {
            let moved = sql::execute(
                txn,
                "UPDATE sessions SET agent_id = $3 \
                 WHERE tenant = $1 AND id = $2 AND status = 'active' AND agent_id = $4",
                vec![
                    tenant.into(),
                    session_id.into(),
                    agent_id.into(),
                    from.into(),
                ],
            )
            .await?;
            (moved, Some(from.to_string()))
        }
    };
    if moved == 0 {
        return Ok(None);
    }
    log::lock_agent(txn, tenant, agent_id, now).await?;
    if previous.is_none() {
        log::record_from_queue(txn, tenant, session_id, agent_id, now).await?;
    }
    let row = sessions::reload(txn, session_id).await?;
    let session = users::session_view(txn, &row).await?;
    tracing::debug!(%tenant, session = %session_id, agent = %agent_id, "auto-assigned");
    Ok(Some(Change::SessionAssigned { session, previous }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, active: i64, last: Option<i64>) -> Candidate {
        Candidate {
            id: id.into(),
            max_chats: None,
            last_assigned_at: last,
            active,
        }
    }

    #[test]
    fn fewest_chats_then_oldest_last_assignment_never_assigned_first() {
        let mut agents = [
            agent("a", 2, Some(10)),
            agent("b", 1, Some(50)),
            agent("c", 1, Some(20)),
            agent("d", 1, None),
            agent("e", 0, Some(90)),
        ];
        agents.sort_by(fairness);
        let order: Vec<&str> = agents.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(order, ["e", "d", "c", "b", "a"]);
    }

    #[test]
    fn a_requeued_session_is_held_from_its_last_agent() {
        let session = Waiting {
            id: "s".into(),
            customer_id: "c".into(),
            created_at: 0,
            queued_at: Some(1_000),
            requeued_from: Some("a".into()),
        };
        assert!(!may_take(&session, &agent("a", 0, None), 500));
        assert!(may_take(&session, &agent("b", 0, None), 500));
        assert!(
            may_take(&session, &agent("a", 0, None), 1_000),
            "the hold is over"
        );
    }
}
