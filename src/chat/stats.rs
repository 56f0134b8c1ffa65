//! The per-tenant statistics of PROTOCOL §3, in one query: a handful of
//! indexed counts and two averages. Presence counts come from the caller,
//! which knows the connected sockets.

use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

use super::Stats;
use super::clock::{now_ms, rfc3339, start_of_utc_day};
use crate::error::{AppError, AppResult};

#[derive(Debug, FromQueryResult)]
struct Row {
    pending: i64,
    active: i64,
    closed_today: i64,
    messages_today: i64,
    avg_wait_ms: Option<f64>,
    avg_first_response_ms: Option<f64>,
}

/// `$1`/`$2` placeholders work on both backends (sqlx SQLite reads `$N`).
const QUERY: &str = "SELECT \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND status = 'pending') AS pending, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND status = 'active') AS active, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND closed_at >= $2) AS closed_today, \
  (SELECT COUNT(*) FROM messages WHERE tenant = $1 AND created_at >= $2) AS messages_today, \
  (SELECT CAST(AVG(assigned_at - created_at) AS DOUBLE PRECISION) FROM sessions \
     WHERE tenant = $1 AND assigned_at >= $2) AS avg_wait_ms, \
  (SELECT CAST(AVG(first_response_at - first_customer_message_at) AS DOUBLE PRECISION) FROM sessions \
     WHERE tenant = $1 AND first_response_at >= $2) AS avg_first_response_ms";

pub async fn compute(
    db: &impl ConnectionTrait,
    tenant: &str,
    online: (usize, usize),
) -> AppResult<Stats> {
    let now = now_ms();
    let statement = Statement::from_sql_and_values(
        db.get_database_backend(),
        QUERY,
        [tenant.into(), start_of_utc_day(now).into()],
    );
    let row = Row::find_by_statement(statement)
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal("stats query returned no row".into()))?;
    let seconds = |ms: Option<f64>| ms.map(|ms| (ms / 1000.0 * 1000.0).round() / 1000.0);
    Ok(Stats {
        pending_sessions: row.pending,
        active_sessions: row.active,
        closed_today: row.closed_today,
        messages_today: row.messages_today,
        online_agents: online.0,
        online_customers: online.1,
        avg_wait_seconds: seconds(row.avg_wait_ms),
        avg_first_response_seconds: seconds(row.avg_first_response_ms),
        generated_at: rfc3339(now),
    })
}
