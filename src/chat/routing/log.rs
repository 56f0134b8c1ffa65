//! What an assignment leaves behind: the agent's "last assignment" (the
//! fairness tie-break) and, for a session leaving the queue, a row in the
//! log the wait estimate reads.

use sea_orm::ConnectionTrait;

use super::sql;
use crate::error::AppResult;

/// How the session came to the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assignment {
    /// From `pending` (a take, an auto-assignment, an admin's assign).
    FromQueue,
    /// From another agent (a transfer, an offline reassignment).
    FromAgent,
}

/// Records an assignment of `session_id` to `agent_id` at `at`, inside the
/// transaction that makes it.
pub async fn record(
    txn: &impl ConnectionTrait,
    tenant: &str,
    session_id: &str,
    agent_id: &str,
    how: Assignment,
    at: i64,
) -> AppResult<()> {
    sql::execute(
        txn,
        "UPDATE users SET last_assigned_at = $3 WHERE tenant = $1 AND id = $2",
        vec![tenant.into(), agent_id.into(), at.into()],
    )
    .await?;
    if how == Assignment::FromQueue {
        sql::execute(
            txn,
            "INSERT INTO assignments (tenant, at, session_id, agent_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
            vec![tenant.into(), at.into(), session_id.into(), agent_id.into()],
        )
        .await?;
    }
    Ok(())
}
