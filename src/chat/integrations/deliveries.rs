//! Deliveries of the outbox: claimed by one node at a time with a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer does
//! the same for one statement), finished only by the claim that holds
//! them, listed for the admin and retried on request.

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, TransactionTrait, Value};
use serde::Serialize;
use utoipa::ToSchema;

use super::events::EventType;

use crate::chat::User;
use crate::chat::clock::{now_ms, rfc3339};
use crate::chat::routing::sql::{all, execute, placeholders};
use crate::error::{AppError, AppResult};

/// One event's delivery to one endpoint, as the admin sees it.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    /// The `webhook-id` header, the same on every attempt.
    pub event_id: String,
    #[serde(rename = "type")]
    #[schema(value_type = EventType)]
    pub kind: String,
    #[schema(value_type = DeliveryStatus)]
    pub status: String,
    #[schema(minimum = 0)]
    pub attempts: i32,
    #[schema(required)]
    pub last_status_code: Option<i32>,
    #[schema(required)]
    pub last_error: Option<String>,
    /// Set while `pending`.
    #[schema(required, format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(required, format = DateTime)]
    pub delivered_at: Option<String>,
}

/// The states of a delivery (stored as their names).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

#[derive(FromQueryResult)]
struct Row {
    id: String,
    event_id: String,
    kind: String,
    status: String,
    attempts: i32,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: i64,
    created_at: i64,
    delivered_at: Option<i64>,
}

const SELECT: &str = "SELECT d.id, d.event_id, e.type AS kind, d.status, d.attempts, \
     d.last_status_code, d.last_error, d.next_attempt_at, d.created_at, d.delivered_at \
     FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id";

/// An endpoint's deliveries, newest first (`$1` endpoint, `$2` tenant,
/// `$3` limit).
pub fn list_sql() -> String {
    format!(
        "{SELECT} WHERE d.endpoint_id = $1 AND d.tenant = $2 ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
    )
}

/// Due deliveries in order (`$3` now, `$4` limit), skipping `busy`
/// endpoints (`$5`…); locked and skipped where the database can.
pub fn due_sql(backend: DbBackend, busy: usize) -> String {
    let skip_locked = match backend {
        DbBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let not_busy = if busy == 0 {
        String::new()
    } else {
        format!(" AND endpoint_id NOT IN ({})", placeholders(5, busy))
    };
    format!(
        "SELECT id FROM webhook_deliveries WHERE {DUE}{not_busy} ORDER BY next_attempt_at LIMIT $4{skip_locked}"
    )
}

const DUE: &str =
    "status = 'pending' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)";

/// The oldest events (`$1` before, `$2` limit).
pub const OLD_EVENTS_SQL: &str =
    "SELECT id FROM webhook_events WHERE created_at < $1 ORDER BY created_at LIMIT $2";

impl Row {
    fn view(&self) -> DeliveryView {
        DeliveryView {
            id: self.id.clone(),
            event_id: self.event_id.clone(),
            kind: self.kind.clone(),
            status: self.status.clone(),
            attempts: self.attempts,
            last_status_code: self.last_status_code,
            last_error: self.last_error.clone(),
            next_attempt_at: (self.status == "pending").then(|| rfc3339(self.next_attempt_at)),
            created_at: rfc3339(self.created_at),
            delivered_at: self.delivered_at.map(rfc3339),
        }
    }
}

/// `GET /api/webhooks/{id}/deliveries?limit=`: newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    admin: &User,
    webhook_id: &str,
    limit: u64,
) -> AppResult<Vec<DeliveryView>> {
    super::endpoints::find(db, admin, webhook_id).await?;
    let rows: Vec<Row> = all(
        db,
        &list_sql(),
        vec![
            webhook_id.into(),
            admin.tenant.clone().into(),
            (limit as i64).into(),
        ],
    )
    .await?;
    Ok(rows.iter().map(Row::view).collect())
}

/// `POST …/deliveries/{id}/retry`: a failed delivery is pending again,
/// due now, its schedule started over.
pub async fn retry(
    db: &impl ConnectionTrait,
    admin: &User,
    webhook_id: &str,
    id: &str,
) -> AppResult<DeliveryView> {
    super::endpoints::find(db, admin, webhook_id).await?;
    let changed = execute(
        db,
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, \
         lease_until = NULL, claimed_by = NULL \
         WHERE id = $2 AND endpoint_id = $3 AND tenant = $4 AND status = 'failed'",
        vec![
            now_ms().into(),
            id.into(),
            webhook_id.into(),
            admin.tenant.clone().into(),
        ],
    )
    .await?;
    let rows: Vec<Row> = all(
        db,
        &format!("{SELECT} WHERE d.id = $1 AND d.endpoint_id = $2 AND d.tenant = $3"),
        vec![id.into(), webhook_id.into(), admin.tenant.clone().into()],
    )
    .await?;
    let row = rows
        .first()
        .ok_or_else(|| AppError::NotFound("delivery not found".into()))?;
    if changed == 0 {
        return Err(AppError::Conflict(format!(
            "only a failed delivery can be retried; this one is {}",
            row.status
        )));
    }
    Ok(row.view())
}

/// A delivery this node claimed: what to send, and where.
#[derive(Clone, Debug, FromQueryResult)]
pub struct Claimed {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub tenant: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub kind: String,
    pub created_at: i64,
    pub body: String,
    pub url: String,
    pub secret: String,
}

/// Claims up to `limit` due deliveries for `lease_ms`, skipping the
/// endpoints in `busy` (at their share of this node's requests).
pub async fn claim(
    db: &impl ConnectionTrait,
    token: &str,
    limit: usize,
    busy: &[String],
    lease_ms: i64,
) -> AppResult<Vec<Claimed>> {
    let now = now_ms();
    let mut values: Vec<Value> = vec![
        (now + lease_ms).into(),
        token.into(),
        now.into(),
        (limit as i64).into(),
    ];
    values.extend(busy.iter().map(|id| Value::from(id.clone())));
    let sql = format!(
        "UPDATE webhook_deliveries SET lease_until = $1, claimed_by = $2, attempts = attempts + 1 \
         WHERE {DUE} AND id IN ({}) RETURNING id",
        due_sql(db.get_database_backend(), busy.len())
    );
    #[derive(FromQueryResult)]
    struct Id {
        id: String,
    }
    let ids: Vec<Id> = all(db, &sql, values).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT d.id, d.event_id, d.endpoint_id, d.tenant, d.attempts, e.type AS kind, d.created_at, e.body, w.url, w.secret \
         FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
         JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.id IN ({})",
        placeholders(1, ids.len())
    );
    all(db, &sql, ids.into_iter().map(|i| i.id.into()).collect()).await
}

/// Gives back deliveries claimed with `token` but not attempted.
pub async fn release(db: &impl ConnectionTrait, ids: &[String], token: &str) -> AppResult<()> {
    let mut values: Vec<Value> = vec![token.into()];
    values.extend(ids.iter().map(|id| Value::from(id.clone())));
    let sql = format!(
        "UPDATE webhook_deliveries SET lease_until = NULL, claimed_by = NULL, attempts = attempts - 1 \
         WHERE claimed_by = $1 AND id IN ({})",
        placeholders(2, ids.len())
    );
    execute(db, &sql, values).await?;
    Ok(())
}

/// How an attempt ended.
pub enum Outcome {
    Delivered {
        status: u16,
    },
    /// Try again at `at` (ms), or give up when `None`.
    Failed {
        status: Option<u16>,
        error: String,
        again_at: Option<i64>,
    },
}

/// Records an attempt's outcome, if the claim `token` still holds it
/// (a lease that ran out may have been claimed again elsewhere): the
/// delivery as it is now, or `None` when it was not recorded.
pub async fn finish(
    db: &impl ConnectionTrait,
    claimed: &Claimed,
    token: &str,
    outcome: Outcome,
) -> AppResult<Option<DeliveryView>> {
    let now = now_ms();
    let (status, code, error, next, delivered): (
        &str,
        Option<i32>,
        Option<String>,
        i64,
        Option<i64>,
    ) = match outcome {
        Outcome::Delivered { status } => ("delivered", Some(status.into()), None, now, Some(now)),
        Outcome::Failed {
            status,
            error,
            again_at: Some(at),
        } => ("pending", status.map(i32::from), Some(error), at, None),
        Outcome::Failed {
            status,
            error,
            again_at: None,
        } => ("failed", status.map(i32::from), Some(error), now, None),
    };
    let changed = execute(
        db,
        "UPDATE webhook_deliveries SET status = $1, last_status_code = $2, last_error = $3, \
         next_attempt_at = $4, delivered_at = $5, lease_until = NULL, claimed_by = NULL \
         WHERE id = $6 AND claimed_by = $7 AND status = 'pending'",
        vec![
            status.into(),
            code.into(),
            error.clone().into(),
            next.into(),
            delivered.into(),
            claimed.id.clone().into(),
            token.into(),
        ],
    )
    .await?;
    if changed != 1 {
        return Ok(None);
    }
    Ok(Some(
        Row {
            id: claimed.id.clone(),
            event_id: claimed.event_id.clone(),
            kind: claimed.kind.clone(),
            status: status.to_string(),
            attempts: claimed.attempts,
            last_status_code: code,
            last_error: error,
            next_attempt_at: next,
            created_at: claimed.created_at,
            delivered_at: delivered,
        }
        .view(),
    ))
}

/// Deletes up to `batch` events older than `before` (ms) whose deliveries
/// all ended (delivered or failed), with those deliveries; how many
/// events it deleted.
pub async fn prune(db: &sea_orm::DatabaseConnection, before: i64, batch: u64) -> AppResult<u64> {
    #[derive(FromQueryResult)]
    struct Id {
        id: String,
    }
    let old: Vec<Id> = all(
        db,
        OLD_EVENTS_SQL,
        vec![before.into(), (batch as i64).into()],
    )
    .await?;
    if old.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Value> = old.into_iter().map(|i| i.id.into()).collect();
    let list = placeholders(1, ids.len());
    let ended = "NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
                 WHERE p.event_id = webhook_events.id AND p.status = 'pending')";
    let txn = db.begin().await?;
    let deleted = execute(
        &txn,
        &format!("DELETE FROM webhook_events WHERE id IN ({list}) AND {ended}"),
        ids.clone(),
    )
    .await?;
    execute(
        &txn,
        &format!(
            "DELETE FROM webhook_deliveries WHERE event_id IN ({list}) AND NOT EXISTS \
             (SELECT 1 FROM webhook_events e WHERE e.id = webhook_deliveries.event_id)"
        ),
        ids,
    )
    .await?;
    txn.commit().await?;
    Ok(deleted)
}
