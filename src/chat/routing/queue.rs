//! The queue (docs/protocol.md §8): a pending session's position (1 + the
//! pending sessions of its tenant before it, by `createdAt` then `id`) and
//! the wait estimate (the position times the mean interval between the
//! tenant's last 20 assignments within the hour).

use std::collections::HashMap;

use entities::session;
use sea_orm::{ConnectionTrait, FromQueryResult};
use serde::Serialize;

use super::sql::{self, placeholders};
use crate::chat::access::SessionStatus;
use crate::chat::clock::now_ms;
use crate::error::AppResult;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueInfo {
    /// 1: the next session to be served.
    #[schema(minimum = 1)]
    pub position: i64,
    #[schema(required)]
    pub estimated_wait_seconds: Option<i64>,
    #[schema(minimum = 0)]
    pub available_agents: i64,
}

/// The estimate reads the last 20 assignments of tenant `$1` since `$2`…
pub const RECENT_ASSIGNMENTS_SQL: &str =
    "SELECT at FROM assignments WHERE tenant = $1 AND at >= $2 ORDER BY at DESC LIMIT 20";
/// …within this window, and needs at least this many of them.
const ESTIMATE_WINDOW_MS: i64 = 3_600_000;
const ESTIMATE_MIN: usize = 3;

/// What every position of a tenant's queue shares: the routable agents and
/// the mean interval between recent assignments.
#[derive(Clone, Copy, Debug)]
pub struct QueueFigures {
    pub available_agents: i64,
    pub mean_interval_ms: Option<f64>,
}

impl QueueFigures {
    pub async fn of(db: &impl ConnectionTrait, tenant: &str) -> AppResult<Self> {
        #[derive(FromQueryResult)]
        struct At {
            at: i64,
        }
        let recent: Vec<At> = sql::all(
            db,
            RECENT_ASSIGNMENTS_SQL,
            vec![tenant.into(), (now_ms() - ESTIMATE_WINDOW_MS).into()],
        )
        .await?;
        Ok(Self {
            available_agents: sql::available_count(db, tenant).await?,
            mean_interval_ms: mean_interval(&recent.iter().map(|r| r.at).collect::<Vec<_>>()),
        })
    }

    pub fn info(&self, position: i64) -> QueueInfo {
        let estimate = match self.mean_interval_ms {
            Some(mean) if self.available_agents > 0 => {
                Some((position as f64 * mean / 1000.0).round() as i64)
            }
            _ => None,
        };
        QueueInfo {
            position,
            estimated_wait_seconds: estimate,
            available_agents: self.available_agents,
        }
    }
}

/// The mean interval between the times (newest first), when there are
/// enough of them.
fn mean_interval(times: &[i64]) -> Option<f64> {
    if times.len() < ESTIMATE_MIN {
        return None;
    }
    let (newest, oldest) = (times[0], times[times.len() - 1]);
    Some((newest - oldest) as f64 / (times.len() - 1) as f64)
}

/// The queue info of each pending session among `rows` (all of one
/// tenant), in three queries whatever their number.
pub async fn infos(
    db: &impl ConnectionTrait,
    rows: &[session::Model],
) -> AppResult<HashMap<String, QueueInfo>> {
    let pending: Vec<&session::Model> = rows
        .iter()
        .filter(|r| SessionStatus::Pending.is(r))
        .collect();
    fn queue_order<'a>(r: &&&'a session::Model) -> (i64, &'a str) {
        (r.created_at, r.id.as_str())
    }
    let (Some(first), Some(last)) = (
        pending.iter().min_by_key(queue_order).copied(),
        pending.iter().max_by_key(queue_order).copied(),
    ) else {
        return Ok(HashMap::new());
    };
    let tenant = first.tenant.as_str();
    #[derive(FromQueryResult)]
    struct Position {
        id: String,
        position: i64,
    }
    let mut values: Vec<sea_orm::Value> = vec![
        tenant.into(),
        first.created_at.into(),
        first.id.clone().into(),
        last.created_at.into(),
        last.id.clone().into(),
    ];
    values.extend(pending.iter().map(|r| r.id.clone().into()));
    let positions: Vec<Position> = sql::all(db, &positions_sql(pending.len()), values).await?;
    let figures = QueueFigures::of(db, tenant).await?;
    Ok(positions
        .into_iter()
        .map(|p| (p.id, figures.info(p.position)))
        .collect())
}

/// The positions of `n` pending sessions of tenant `$1` (ids `$6`…), the
/// first of them in the queue's order at (`$2` created_at, `$3` id) and
/// the last at (`$4`, `$5`): one count of the queue before the first, and
/// one ordered pass from the first to the last, numbering as it goes. So a
/// page of pending sessions costs one walk along the queue's index, not
/// one per session listed.
pub fn positions_sql(n: usize) -> String {
    format!(
        "SELECT id, position FROM (\
           SELECT id, (SELECT COUNT(*) FROM sessions b \
               WHERE b.tenant = $1 AND b.status = 'pending' AND (b.created_at, b.id) < ($2, $3)) \
             + ROW_NUMBER() OVER (ORDER BY created_at, id) AS position \
           FROM sessions WHERE tenant = $1 AND status = 'pending' \
             AND (created_at, id) >= ($2, $3) AND (created_at, id) <= ($4, $5)\
         ) q WHERE id IN ({})",
        placeholders(6, n)
    )
}

/// The first `limit` pending sessions of tenant `$1`, in the queue's order.
pub fn waiting_sql(limit: u64) -> String {
    format!(
        "SELECT id, customer_id, created_at, queued_at, requeued_from FROM sessions \
         WHERE tenant = $1 AND status = 'pending' ORDER BY created_at, id LIMIT {limit}"
    )
}

/// Which of `ids` (sessions of tenant `tenant`) are still pending.
pub async fn still_pending(
    db: &impl ConnectionTrait,
    tenant: &str,
    ids: &[&str],
) -> AppResult<std::collections::HashSet<String>> {
    #[derive(FromQueryResult)]
    struct Id {
        id: String,
    }
    let mut pending = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        let mut values: Vec<sea_orm::Value> = vec![tenant.into()];
        values.extend(chunk.iter().map(|id| (*id).into()));
        let sql = format!(
            "SELECT id FROM sessions WHERE tenant = $1 AND status = 'pending' AND id IN ({})",
            placeholders(2, chunk.len())
        );
        let rows: Vec<Id> = sql::all(db, &sql, values).await?;
        pending.extend(rows.into_iter().map(|r| r.id));
    }
    Ok(pending)
}

/// A pending session in the queue's order.
#[derive(Clone, Debug, FromQueryResult)]
pub struct Waiting {
    pub id: String,
    pub customer_id: String,
    pub created_at: i64,
    pub queued_at: Option<i64>,
    pub requeued_from: Option<String>,
}

/// The tenant's first `limit` pending sessions, in the queue's order.
pub async fn waiting(
    db: &impl ConnectionTrait,
    tenant: &str,
    limit: u64,
) -> AppResult<Vec<Waiting>> {
    sql::all(db, &waiting_sql(limit), vec![tenant.into()]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_needs_three_assignments_and_someone_routable() {
        assert_eq!(mean_interval(&[30_000, 10_000]), None);
        assert_eq!(mean_interval(&[50_000, 30_000, 10_000]), Some(20_000.0));
        let figures = QueueFigures {
            available_agents: 2,
            mean_interval_ms: Some(20_400.0),
        };
        assert_eq!(figures.info(3).estimated_wait_seconds, Some(61));
        let nobody = QueueFigures {
            available_agents: 0,
            ..figures
        };
        assert_eq!(nobody.info(3).estimated_wait_seconds, None);
        assert_eq!(nobody.info(3).position, 3);
    }
}
