//! The webhook outbox: for each change a transaction commits, one
//! `webhook_events` row and one `webhook_deliveries` row per endpoint of
//! the tenant that subscribes to its type, written inside that same
//! transaction ([`crate::chat::changes::commit`]), so a change that
//! commits is reported and one that rolls back is not, whatever crashes.
//!
//! Every change of a reported type looks its tenant's endpoints up in its
//! own transaction (one indexed read of a small table, once per tenant
//! in a group commit), so an endpoint hears of every change committed
//! after its registration, on any node, from the first one on.

use sea_orm::{ConnectionTrait, FromQueryResult, Value};
use serde_json::json;
use tokio::sync::Notify;

use super::events::{EventType, parse_list};
use crate::chat::clock::{now_ms, rfc3339};
use crate::chat::routing::sql::{all, execute, placeholders};
use crate::chat::{Change, sessions, users};
use crate::error::AppResult;

static RECORDED: Notify = Notify::const_new();

/// Resolves once after a transaction of this process recorded deliveries
/// (the workers look at once rather than at their next round).
pub async fn recorded() {
    RECORDED.notified().await;
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
pub async fn record(
    txn: &impl ConnectionTrait,
    tenant: &str,
    changes: &[&Change],
) -> AppResult<()> {
    let typed: Vec<(EventType, &Change)> = changes
        .iter()
        .filter_map(|c| EventType::of(c).map(|t| (t, *c)))
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
