//! The per-tenant statistics of docs/protocol.md §3, in one query: a handful of
//! indexed counts and two averages. Presence counts come from the caller,
//! which knows the connected sockets.
//!
//! `messagesToday` is the one count that grows with traffic (millions of
//! rows a day), so it is not recounted from midnight each time: a count of
//! the messages older than a few seconds is kept ([`MessageCounts`]), and
//! each query counts only the messages since then.

use std::collections::HashMap;
use std::sync::Mutex;

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use super::Stats;
use super::clock::{now_ms, rfc3339, start_of_utc_day};
use crate::error::{AppError, AppResult};

#[derive(Debug, FromQueryResult)]
struct Row {
    pending: i64,
    active: i64,
    closed_today: i64,
    recent_messages: i64,
    settling_messages: i64,
    avg_wait_ms: Option<f64>,
    avg_first_response_ms: Option<f64>,
    ratings_today: i64,
    avg_rating_today: Option<f64>,
}

/// `$1`/`$2` placeholders work on both backends (sqlx SQLite reads `$N`).
const QUERY: &str = "SELECT \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND status = 'pending') AS pending, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND status = 'active') AS active, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND closed_at >= $2) AS closed_today, \
  (SELECT COUNT(*) FROM messages WHERE tenant = $1 AND created_at >= $3) AS recent_messages, \
  (SELECT COUNT(*) FROM messages WHERE tenant = $1 AND created_at >= $3 AND created_at < $4) \
     AS settling_messages, \
  (SELECT CAST(AVG(assigned_at - created_at) AS DOUBLE PRECISION) FROM sessions \
     WHERE tenant = $1 AND assigned_at >= $2) AS avg_wait_ms, \
  (SELECT CAST(AVG(first_response_at - first_customer_message_at) AS DOUBLE PRECISION) FROM sessions \
     WHERE tenant = $1 AND first_response_at >= $2) AS avg_first_response_ms, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND rated_at >= $2) AS ratings_today, \
  (SELECT CAST(AVG(rating_score) AS DOUBLE PRECISION) FROM sessions \
     WHERE tenant = $1 AND rated_at >= $2) AS avg_rating_today";

/// A message is counted as "settled" once it is this old: no transaction
/// commits a message stamped that long ago (a connection is given up after
/// 5 s), so no message can still appear below the settled mark.
const SETTLE_MS: i64 = 10_000;

/// Per tenant: how many of today's messages were stamped before `until`.
/// A `std::sync::Mutex`: no `.await` while held.
#[derive(Default)]
pub struct MessageCounts {
    tenants: Mutex<HashMap<String, Settled>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Settled {
    day: i64,
    until: i64,
    count: i64,
}

impl MessageCounts {
    /// The settled mark of `tenant` for the day of `now` (midnight, 0 on a new day).
    fn get(&self, tenant: &str, now: i64) -> Settled {
        let day = start_of_utc_day(now);
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        match tenants.get(tenant) {
            Some(settled) if settled.day == day => *settled,
            _ => Settled {
                day,
                until: day,
                count: 0,
            },
        }
    }

    /// Moves the mark forward (never back: concurrent computations race).
    fn advance(&self, tenant: &str, next: Settled) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let entry = tenants.entry(tenant.to_string()).or_insert(next);
        if (next.day, next.until) > (entry.day, entry.until) {
            *entry = next;
        }
    }
}

/// The statement [`compute`] runs: the counts since `day` (midnight),
/// the messages since `until` and those of them before `next_until`.
pub fn query(backend: DbBackend, tenant: &str, day: i64, until: i64, next_until: i64) -> Statement {
    Statement::from_sql_and_values(
        backend,
        QUERY,
        [tenant.into(), day.into(), until.into(), next_until.into()],
    )
}

pub async fn compute(
    db: &impl ConnectionTrait,
    counts: &MessageCounts,
    tenant: &str,
    online: (usize, usize),
) -> AppResult<Stats> {
    let now = now_ms();
    let settled = counts.get(tenant, now);
    let next_until = (now - SETTLE_MS).max(settled.until);
    let statement = query(
        db.get_database_backend(),
        tenant,
        settled.day,
        settled.until,
        next_until,
    );
    let row = Row::find_by_statement(statement)
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal("stats query returned no row".into()))?;
    counts.advance(
        tenant,
        Settled {
            day: settled.day,
            until: next_until,
            count: settled.count + row.settling_messages,
        },
    );
    let available_agents = super::routing::sql::available_count(db, tenant).await?;
    let seconds = |ms: Option<f64>| ms.map(|ms| (ms / 1000.0 * 1000.0).round() / 1000.0);
    Ok(Stats {
        pending_sessions: row.pending,
        active_sessions: row.active,
        closed_today: row.closed_today,
        messages_today: settled.count + row.recent_messages,
        online_agents: online.0,
        online_customers: online.1,
        avg_wait_seconds: seconds(row.avg_wait_ms),
        avg_first_response_seconds: seconds(row.avg_first_response_ms),
        available_agents,
        ratings_today: row.ratings_today,
        avg_rating_today: row.avg_rating_today.map(|r| (r * 100.0).round() / 100.0),
        generated_at: rfc3339(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settled_mark_only_moves_forward_and_resets_each_day() {
        let counts = MessageCounts::default();
        let day = start_of_utc_day(1_795_329_628_123);
        let now = day + 3_600_000;
        assert_eq!(
            counts.get("t", now),
            Settled {
                day,
                until: day,
                count: 0
            }
        );
        counts.advance(
            "t",
            Settled {
                day,
                until: now - 10_000,
                count: 7,
            },
        );
        counts.advance(
            "t",
            Settled {
                day,
                until: now - 20_000,
                count: 5,
            },
        );
        assert_eq!(counts.get("t", now).count, 7);
        let tomorrow = day + 86_400_000;
        assert_eq!(
            counts.get("t", tomorrow + 5),
            Settled {
                day: tomorrow,
                until: tomorrow,
                count: 0
            }
        );
    }
}
