//! The per-tenant statistics of docs/protocol.md §3, in one query of
//! indexed counts and sums. Presence counts come from the caller, which
//! knows the connected sockets.
//!
//! Every "today" figure (`messagesToday`, `closedToday`, the average wait,
//! first response and rating) grows with the day's traffic: recounting
//! from midnight at each update costs a scan of the whole day, twice a
//! second per tenant. Each of them counts rows by a time column that is set
//! once and never changes afterwards (a message's `created_at`, a session's
//! `closed_at`, `assigned_at`, `first_response_at`, `rated_at`), so the
//! totals of the rows older than a few seconds are kept ([`DayTotals`]),
//! and each query counts and sums only the rows since then.

use std::collections::HashMap;
use std::ops::Add;
use std::sync::Mutex;

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use super::Stats;
use super::clock::{now_ms, rfc3339, start_of_utc_day};
use crate::error::{AppError, AppResult};

/// `recent`: rows since the settled mark `$2`; `settling`: those of them
/// before the next mark `$3`, added to the kept totals.
#[derive(Debug, FromQueryResult)]
struct Row {
    pending: i64,
    active: i64,
    closed_recent: i64,
    closed_settling: i64,
    messages_recent: i64,
    messages_settling: i64,
    waits_recent: i64,
    wait_ms_recent: f64,
    waits_settling: i64,
    wait_ms_settling: f64,
    responses_recent: i64,
    response_ms_recent: f64,
    responses_settling: i64,
    response_ms_settling: f64,
    ratings_recent: i64,
    rating_sum_recent: f64,
    ratings_settling: i64,
    rating_sum_settling: f64,
}

/// `$1`/`$2`/`$3` placeholders work on both backends (sqlx SQLite reads `$N`).
const QUERY: &str = "SELECT \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND status = 'pending') AS pending, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND status = 'active') AS active, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND closed_at >= $2) AS closed_recent, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND closed_at >= $2 AND closed_at < $3) \
     AS closed_settling, \
  (SELECT COUNT(*) FROM messages WHERE tenant = $1 AND created_at >= $2) AS messages_recent, \
  (SELECT COUNT(*) FROM messages WHERE tenant = $1 AND created_at >= $2 AND created_at < $3) \
     AS messages_settling, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND assigned_at >= $2) AS waits_recent, \
  (SELECT CAST(COALESCE(SUM(assigned_at - created_at), 0) AS DOUBLE PRECISION) FROM sessions \
     WHERE tenant = $1 AND assigned_at >= $2) AS wait_ms_recent, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND assigned_at >= $2 AND assigned_at < $3) \
     AS waits_settling, \
  (SELECT CAST(COALESCE(SUM(assigned_at - created_at), 0) AS DOUBLE PRECISION) FROM sessions \
     WHERE tenant = $1 AND assigned_at >= $2 AND assigned_at < $3) AS wait_ms_settling, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND first_response_at >= $2) \
     AS responses_recent, \
  (SELECT CAST(COALESCE(SUM(first_response_at - first_customer_message_at), 0) \
     AS DOUBLE PRECISION) FROM sessions WHERE tenant = $1 AND first_response_at >= $2) \
     AS response_ms_recent, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND first_response_at >= $2 \
     AND first_response_at < $3) AS responses_settling, \
  (SELECT CAST(COALESCE(SUM(first_response_at - first_customer_message_at), 0) \
     AS DOUBLE PRECISION) FROM sessions WHERE tenant = $1 AND first_response_at >= $2 \
     AND first_response_at < $3) AS response_ms_settling, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND rated_at >= $2) AS ratings_recent, \
  (SELECT CAST(COALESCE(SUM(rating_score), 0) AS DOUBLE PRECISION) FROM sessions \
     WHERE tenant = $1 AND rated_at >= $2) AS rating_sum_recent, \
  (SELECT COUNT(*) FROM sessions WHERE tenant = $1 AND rated_at >= $2 AND rated_at < $3) \
     AS ratings_settling, \
  (SELECT CAST(COALESCE(SUM(rating_score), 0) AS DOUBLE PRECISION) FROM sessions \
     WHERE tenant = $1 AND rated_at >= $2 AND rated_at < $3) AS rating_sum_settling";

/// A row is "settled" once its time is this old: no transaction commits a
/// row stamped that long ago (a connection is given up after 5 s), so no
/// row can still appear below the settled mark.
const SETTLE_MS: i64 = 10_000;

/// How many rows, and the sum of their values (milliseconds, or scores).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Tally {
    n: i64,
    sum: f64,
}

impl Tally {
    fn average(self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

impl Add for Tally {
    type Output = Tally;
    fn add(self, other: Tally) -> Tally {
        Tally {
            n: self.n + other.n,
            sum: self.sum + other.sum,
        }
    }
}

/// Per tenant: today's totals of the rows stamped before `until`.
/// A `std::sync::Mutex`: no `.await` while held.
#[derive(Default)]
pub struct DayTotals {
    tenants: Mutex<HashMap<String, Settled>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Settled {
    day: i64,
    until: i64,
    messages: i64,
    closed: i64,
    waits: Tally,
    responses: Tally,
    ratings: Tally,
}

impl Settled {
    /// Nothing settled yet on `day`: the mark at midnight.
    fn new_day(day: i64) -> Settled {
        Settled {
            day,
            until: day,
            messages: 0,
            closed: 0,
            waits: Tally::default(),
            responses: Tally::default(),
            ratings: Tally::default(),
        }
    }

    /// These totals plus the rows that settle by `until`.
    fn plus(self, row: &Row, until: i64) -> Settled {
        Settled {
            day: self.day,
            until,
            messages: self.messages + row.messages_settling,
            closed: self.closed + row.closed_settling,
            waits: self.waits + tally(row.waits_settling, row.wait_ms_settling),
            responses: self.responses + tally(row.responses_settling, row.response_ms_settling),
            ratings: self.ratings + tally(row.ratings_settling, row.rating_sum_settling),
        }
    }
}

fn tally(n: i64, sum: f64) -> Tally {
    Tally { n, sum }
}

impl DayTotals {
    /// The settled totals of `tenant` for the day of `now` (none on a new day).
    fn get(&self, tenant: &str, now: i64) -> Settled {
        let day = start_of_utc_day(now);
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        match tenants.get(tenant) {
            Some(settled) if settled.day == day => *settled,
            _ => Settled::new_day(day),
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

/// The statement [`compute`] runs: the rows since `until` and those of
/// them before `next_until`.
pub fn query(backend: DbBackend, tenant: &str, until: i64, next_until: i64) -> Statement {
    Statement::from_sql_and_values(
        backend,
        QUERY,
        [tenant.into(), until.into(), next_until.into()],
    )
}

pub async fn compute(
    db: &impl ConnectionTrait,
    totals: &DayTotals,
    tenant: &str,
    online: (usize, usize),
) -> AppResult<Stats> {
    let now = now_ms();
    let settled = totals.get(tenant, now);
    let next_until = (now - SETTLE_MS).max(settled.until);
    let statement = query(db.get_database_backend(), tenant, settled.until, next_until);
    let row = Row::find_by_statement(statement)
        .one(db)
        .await?
        .ok_or_else(|| AppError::Internal("stats query returned no row".into()))?;
    totals.advance(tenant, settled.plus(&row, next_until));
    let waits = settled.waits + tally(row.waits_recent, row.wait_ms_recent);
    let responses = settled.responses + tally(row.responses_recent, row.response_ms_recent);
    let ratings = settled.ratings + tally(row.ratings_recent, row.rating_sum_recent);
    let available_agents = super::routing::sql::available_count(db, tenant).await?;
    let seconds = |ms: Option<f64>| ms.map(|ms| (ms / 1000.0 * 1000.0).round() / 1000.0);
    Ok(Stats {
        pending_sessions: row.pending,
        active_sessions: row.active,
        closed_today: settled.closed + row.closed_recent,
        messages_today: settled.messages + row.messages_recent,
        online_agents: online.0,
        online_customers: online.1,
        avg_wait_seconds: seconds(waits.average()),
        avg_first_response_seconds: seconds(responses.average()),
        available_agents,
        ratings_today: ratings.n,
        avg_rating_today: ratings.average().map(|r| (r * 100.0).round() / 100.0),
        generated_at: rfc3339(now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settled_mark_only_moves_forward_and_resets_each_day() {
        let totals = DayTotals::default();
        let day = start_of_utc_day(1_795_329_628_123);
        let now = day + 3_600_000;
        assert_eq!(totals.get("t", now), Settled::new_day(day));
        let later = Settled {
            until: now - 10_000,
            messages: 7,
            closed: 2,
            waits: tally(2, 3_000.0),
            ..Settled::new_day(day)
        };
        totals.advance("t", later);
        totals.advance(
            "t",
            Settled {
                until: now - 20_000,
                messages: 5,
                ..Settled::new_day(day)
            },
        );
        assert_eq!(totals.get("t", now), later);
        assert_eq!(totals.get("t", now).waits.average(), Some(1_500.0));
        let tomorrow = day + 86_400_000;
        assert_eq!(totals.get("t", tomorrow + 5), Settled::new_day(tomorrow));
    }

    #[test]
    fn an_empty_tally_has_no_average() {
        assert_eq!(Tally::default().average(), None);
        assert_eq!((tally(1, 4.0) + tally(3, 8.0)).average(), Some(3.0));
    }
}
