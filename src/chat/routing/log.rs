//! What an assignment leaves behind, and the order its locks are taken in.
//!
//! Every transaction that gives a session to an agent first stamps the
//! agent's row ([`lock_agent`]: their "last assignment", the fairness
//! tie-break) and only then changes the session: one lock order for takes,
//! assigns, transfers and auto-assignment, so two of them never wait on
//! each other in a circle (PostgreSQL would abort one as a deadlock). A
//! session leaving the queue also gets a row in the log the wait estimate
//! reads ([`record_from_queue`]).

use sea_orm::ConnectionTrait;

use super::sql;
use crate::error::AppResult;

/// Stamps `agent_id`'s last assignment at `at`, which locks their row
/// until the transaction ends. The number of rows stamped (0: the server
/// has never seen them).
pub async fn lock_agent(
    txn: &impl ConnectionTrait,
    tenant: &str,
    agent_id: &str,
    at: i64,
) -> AppResult<u64> {
    sql::execute(
        txn,
        "UPDATE users SET last_assigned_at = $3 WHERE tenant = $1 AND id = $2",
        vec![tenant.into(), agent_id.into(), at.into()],
    )
    .await
}

/// Logs that `session_id` left the queue for `agent_id` at `at`.
pub async fn record_from_queue(
    txn: &impl ConnectionTrait,
    tenant: &str,
    session_id: &str,
    agent_id: &str,
    at: i64,
) -> AppResult<()> {
    sql::execute(
        txn,
        "INSERT INTO assignments (tenant, at, session_id, agent_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
        vec![tenant.into(), at.into(), session_id.into(), agent_id.into()],
    )
    .await?;
    Ok(())
}
