//! Auto-assignment (docs/protocol.md §7): one step at a time, each in its
//! own transaction, race-free across nodes. The agent's row is locked
//! first (an UPDATE), then their active chats are counted in a fresh
//! statement and the session is moved with a conditional UPDATE: two
//! nodes choosing the same agent or the same session cannot both win, and
//! no agent goes over capacity.

use std::cmp::Ordering;

use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, TransactionTrait};

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

/// An active session of an agent of tenant `$1` offline since before `$2`
/// (they all go, one step each, in no particular order).
pub const ORPHAN_SQL: &str = "SELECT s.id AS id, s.agent_id AS agent_id FROM users u \
    JOIN sessions s ON s.tenant = u.tenant AND s.status = 'active' AND s.agent_id = u.id \
    WHERE u.tenant = $1 AND u.offline_since <= $2 LIMIT 1";

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
    /// A session was given to an agent.
    Assigned(Changed<()>),
    /// Another node (or a take) changed what this step read: look again.
    Raced,
    /// Nothing to do: not in auto mode, nobody waiting, or nobody with room.
    Idle,
}

/// The sessions of agents offline for longer than the tenant allows.
#[derive(FromQueryResult)]
struct Orphan {
    id: String,
    agent_id: String,
}

/// Makes the one assignment that should happen next in `tenant`, if any:
/// first a session of an agent offline for too long, then the oldest
/// pending session, each to the best candidate it may go to.
pub async fn step(
    db: &DatabaseConnection,
    config: &RoutingConfig,
    tenant: &str,
) -> AppResult<Step> {
    let settings = settings::load(db, &config.defaults, tenant).await?;
    if settings.routing != RoutingMode::Auto {
        return Ok(Step::Idle);
    }
    let max = settings.default_max_chats;
    let candidates = candidates(db, tenant, max).await?;
    let Some(best) = candidates.first() else {
        return Ok(Step::Idle);
    };
    let now = now_ms();
    if let Some(seconds) = settings.reassign_after_offline_seconds {
        let cutoff = now - i64::from(seconds) * 1000;
        let orphans: Vec<Orphan> =
            sql::all(db, ORPHAN_SQL, vec![tenant.into(), cutoff.into()]).await?;
        if let Some(orphan) = orphans.first() {
            let how = Move::FromAgent(&orphan.agent_id);
            return assign(db, tenant, &orphan.id, best, max, how).await;
        }
    }
    let waiting = queue::waiting(db, tenant, candidates.len() as u64 + 20).await?;
    let hold_since = now - config.requeue_hold_ms;
    for session in &waiting {
        if let Some(agent) = candidates.iter().find(|c| may_take(session, c, hold_since)) {
            return assign(db, tenant, &session.id, agent, max, Move::FromQueue).await;
        }
    }
    Ok(Step::Idle)
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

async fn assign(
    db: &DatabaseConnection,
    tenant: &str,
    session_id: &str,
    agent: &Candidate,
    default_max: u16,
    how: Move<'_>,
) -> AppResult<Step> {
    let txn = db.begin().await?;
    let now = now_ms();
    // Locks the agent's row: a concurrent step for the same agent waits
    // here, then counts what this one committed.
    let locked = log::lock_agent(&txn, tenant, &agent.id, now).await?;
    let active = sql::count(
        &txn,
        "SELECT COUNT(*) AS n FROM sessions WHERE tenant = $1 AND status = 'active' AND agent_id = $2",
        vec![tenant.into(), agent.id.clone().into()],
    )
    .await?;
    if locked == 0 || active >= agent.capacity(default_max) {
        txn.rollback().await?;
        return Ok(Step::Raced);
    }
    let (moved, previous) = match how {
        Move::FromQueue => {
            let moved = sql::execute(
                &txn,
                "UPDATE sessions SET status = 'active', agent_id = $3, requeued_from = NULL, \
                 assigned_at = COALESCE(assigned_at, CASE WHEN created_at > $4 THEN created_at ELSE $4 END) \
                 WHERE tenant = $1 AND id = $2 AND status = 'pending'",
                vec![tenant.into(), session_id.into(), agent.id.clone().into(), now.into()],
            )
            .await?;
            (moved, None)
        }
        Move::FromAgent(from) => {
            let moved = sql::execute(
                &txn,
                "UPDATE sessions SET agent_id = $3 \
                 WHERE tenant = $1 AND id = $2 AND status = 'active' AND agent_id = $4",
                vec![
                    tenant.into(),
                    session_id.into(),
                    agent.id.clone().into(),
                    from.into(),
                ],
            )
            .await?;
            (moved, Some(from.to_string()))
        }
    };
    if moved == 0 {
        txn.rollback().await?;
        return Ok(Step::Raced);
    }
    if previous.is_none() {
        log::record_from_queue(&txn, tenant, session_id, &agent.id, now).await?;
    }
    let row = sessions::reload(&txn, session_id).await?;
    let view = users::session_view(&txn, &row).await?;
    let changed = vec![Change::SessionAssigned {
        session: view,
        previous,
    }];
    changes::commit(txn, &changed).await?;
    tracing::debug!(%tenant, session = %session_id, agent = %agent.id, "auto-assigned");
    Ok(Step::Assigned(Changed::new(tenant, (), changed)))
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
