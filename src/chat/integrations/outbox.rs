//! The webhook outbox: for each change a transaction commits, one
//! `webhook_events` row and one `webhook_deliveries` row per endpoint of
//! the tenant that subscribes to its type, written inside that same
//! transaction ([`crate::chat::changes::commit`]), so a change that
//! commits is reported and one that rolls back is not, whatever crashes.
//!
//! A node that has never seen a webhook skips even the read: a change
//! costs nothing until some endpoint exists. Each node learns that one
//! exists when it starts, when one is registered through it, and at each
//! delivery round (every second) otherwise; from then on every change is
//! checked against the endpoints in its own transaction.

use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{ConnectionTrait, FromQueryResult, Value};
use serde_json::json;
use tokio::sync::Notify;

use super::events::{EventType, parse_list};
use crate::chat::clock::{now_ms, rfc3339};
use crate::chat::routing::sql::{all, execute, placeholders};
use crate::chat::{Change, sessions, users};
use crate::error::AppResult;

static MAY_EXIST: AtomicBool = AtomicBool::new(false);
static RECORDED: Notify = Notify::const_new();

/// Some webhook endpoint exists (or did): changes are checked from now on.
pub fn webhooks_exist() {
    MAY_EXIST.store(true, Ordering::Relaxed);
}

/// Whether changes are checked against endpoints on this node.
pub fn enabled() -> bool {
    MAY_EXIST.load(Ordering::Relaxed)
}

/// Resolves once after a transaction of this process recorded deliveries
/// (the workers look at once rather than at their next round).
pub async fn recorded() {
    RECORDED.notified().await;
}

/// Whether any endpoint is stored; sets the flag when one is.
pub async fn look_for_webhooks(db: &impl ConnectionTrait) -> AppResult<()> {
    if MAY_EXIST.load(Ordering::Relaxed) {
        return Ok(());
    }
    #[derive(FromQueryResult)]
    struct One {
        #[allow(dead_code)]
        id: String,
    }
    let found: Vec<One> = all(db, "SELECT id FROM webhook_endpoints LIMIT 1", vec![]).await?;
    if !found.is_empty() {
        webhooks_exist();
    }
    Ok(())
}

/// The endpoints of tenant `$1` and what they subscribe to.
pub const SUBSCRIBERS_SQL: &str = "SELECT id, events FROM webhook_endpoints WHERE tenant = $1";

#[derive(FromQueryResult)]
struct Endpoint {
    id: String,
    events: String,
}

/// Writes the events and deliveries `changes` of `tenant` call for, in
/// `txn`. Called by `changes::commit` just before the commit.
pub async fn record(txn: &impl ConnectionTrait, tenant: &str, changes: &[Change]) -> AppResult<()> {
    if !enabled() {
        return Ok(());
    }
    let typed: Vec<(EventType, &Change)> = changes
        .iter()
        .filter_map(|c| EventType::of(c).map(|t| (t, c)))
        .collect();
    if typed.is_empty() {
        return Ok(());
    }
    let endpoints: Vec<Endpoint> = all(txn, SUBSCRIBERS_SQL, vec![tenant.into()]).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let mut wrote = false;
    for (kind, change) in typed {
        let to: Vec<&str> = endpoints
            .iter()
            .filter(|e| parse_list(&e.events).contains(&kind))
            .map(|e| e.id.as_str())
            .collect();
        if to.is_empty() {
            continue;
        }
        let now = now_ms();
        let body = json!({
            "type": kind.as_str(),
            "timestamp": rfc3339(now),
            "tenant": tenant,
            "data": data(txn, change).await?,
        });
        let event_id = format!("evt_{}", uuid::Uuid::now_v7().simple());
        execute(
            txn,
            "INSERT INTO webhook_events (id, tenant, type, body, created_at) VALUES ($1, $2, $3, $4, $5)",
            vec![event_id.clone().into(), tenant.into(), kind.as_str().into(), body.to_string().into(), now.into()],
        )
        .await?;
        insert_deliveries(txn, tenant, &event_id, &to, now).await?;
        wrote = true;
    }
    if wrote {
        RECORDED.notify_one();
    }
    Ok(())
}

async fn insert_deliveries(
    txn: &impl ConnectionTrait,
    tenant: &str,
    event_id: &str,
    endpoints: &[&str],
    now: i64,
) -> AppResult<()> {
    const COLUMNS: usize = 7;
    let rows: Vec<String> = (0..endpoints.len())
        .map(|i| format!("({})", placeholders(i * COLUMNS + 1, COLUMNS)))
        .collect();
    let mut values: Vec<Value> = Vec::with_capacity(endpoints.len() * COLUMNS);
    for endpoint in endpoints {
        values.extend([
            crate::chat::new_id().into(),
            event_id.into(),
            (*endpoint).into(),
            tenant.into(),
            "pending".into(),
            now.into(),
            now.into(),
        ]);
    }
    let sql = format!(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, tenant, status, next_attempt_at, created_at) VALUES {}",
        rows.join(", ")
    );
    execute(txn, &sql, values).await?;
    Ok(())
}

/// The event's `data`: the session, and the message or note.
async fn data(txn: &impl ConnectionTrait, change: &Change) -> AppResult<serde_json::Value> {
    let session_of = |id: String| async move {
        let row = sessions::reload(txn, &id).await?;
        users::session_view(txn, &row).await
    };
    Ok(match change {
        Change::SessionOpened(session)
        | Change::SessionAssigned { session, .. }
        | Change::SessionRequeued { session, .. }
        | Change::SessionRated(session) => json!({ "session": session }),
        Change::SessionClosed {
            session,
            closed_by,
            reason,
        } => {
            json!({ "session": session, "closedBy": closed_by, "reason": reason })
        }
        Change::MessageStored(message) => {
            json!({ "session": session_of(message.session_id.clone()).await?, "message": message })
        }
        Change::NoteAdded(note) => {
            json!({ "session": session_of(note.session_id.clone()).await?, "note": note })
        }
        Change::MessagesRead(_) | Change::AgentChanged(_) | Change::SettingsChanged(_) => {
            serde_json::Value::Null
        }
    })
}
