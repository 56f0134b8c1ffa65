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

use std::collections::HashMap;

use entities::session;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, Value};
use serde_json::json;
use tokio::sync::Notify;

use super::events::{EventType, parse_list};
use crate::chat::clock::{now_ms, rfc3339};
use crate::chat::routing::sql::{all, execute, value_rows};
use crate::chat::{Change, SessionView, users};
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
/// `txn`. Called by `changes::commit` just before the commit. However
/// many changes, a handful of statements: the endpoints, the sessions the
/// messages and notes belong to (with their users), and one insert each
/// for the events and the deliveries.
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
    let subscriptions: Vec<(&str, Vec<EventType>)> = endpoints
        .iter()
        .map(|e| (e.id.as_str(), parse_list(&e.events)))
        .collect();
    let subscribers = |kind: EventType| -> Vec<&str> {
        subscriptions
            .iter()
            .filter(|(_, types)| types.contains(&kind))
            .map(|(id, _)| *id)
            .collect()
    };
    let reported: Vec<(EventType, &Change, Vec<&str>)> = typed
        .into_iter()
        .map(|(kind, change)| (kind, change, subscribers(kind)))
        .filter(|(_, _, to)| !to.is_empty())
        .collect();
    if reported.is_empty() {
        return Ok(());
    }
    let sessions = sessions_of(txn, reported.iter().map(|(_, c, _)| *c)).await?;
    let now = now_ms();
    let mut events: Vec<[Value; 5]> = Vec::with_capacity(reported.len());
    let mut deliveries: Vec<[Value; 7]> = Vec::new();
    for (kind, change, to) in &reported {
        let body = json!({
            "type": kind.as_str(),
            "timestamp": rfc3339(now),
            "tenant": tenant,
            "data": data(change, &sessions),
        });
        let event_id = format!("evt_{}", uuid::Uuid::now_v7().simple());
        for endpoint in to {
            deliveries.push([
                crate::chat::new_id().into(),
                event_id.clone().into(),
                (*endpoint).into(),
                tenant.into(),
                "pending".into(),
                now.into(),
                now.into(),
            ]);
        }
        events.push([
            event_id.into(),
            tenant.into(),
            kind.as_str().into(),
            body.to_string().into(),
            now.into(),
        ]);
    }
    insert(
        txn,
        "INSERT INTO webhook_events (id, tenant, type, body, created_at)",
        events,
    )
    .await?;
    insert(
        txn,
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, tenant, status, next_attempt_at, created_at)",
        deliveries,
    )
    .await?;
    RECORDED.notify_one();
    Ok(())
}

/// Rows per INSERT (well under both databases' limits on parameters).
const ROWS_PER_INSERT: usize = 500;

/// `into` followed by `VALUES` of `rows`, in as few statements as fit.
async fn insert<const N: usize>(
    txn: &impl ConnectionTrait,
    into: &str,
    rows: Vec<[Value; N]>,
) -> AppResult<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let (tuples, values) = value_rows(chunk);
        execute(txn, &format!("{into} VALUES {tuples}"), values).await?;
    }
    Ok(())
}

/// The views of the sessions that messages and notes among `changes`
/// belong to, as the transaction sees them (one read for all).
async fn sessions_of<'a>(
    txn: &impl ConnectionTrait,
    changes: impl Iterator<Item = &'a Change>,
) -> AppResult<HashMap<String, SessionView>> {
    let mut ids: Vec<String> = changes
        .filter_map(|change| match change {
            Change::MessageStored(message) => Some(message.session_id.clone()),
            Change::NoteAdded(note) => Some(note.session_id.clone()),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = session::Entity::find()
        .filter(session::Column::Id.is_in(ids))
        .all(txn)
        .await?;
    let views = users::session_views(txn, &rows).await?;
    Ok(views.into_iter().map(|v| (v.id.clone(), v)).collect())
}

/// The event's `data`: the session, and the message or note.
fn data(change: &Change, sessions: &HashMap<String, SessionView>) -> serde_json::Value {
    match change {
        Change::SessionOpened(session)
        | Change::SessionAssigned { session, .. }
        | Change::SessionRequeued { session, .. }
        | Change::SessionRated(session) => json!({ "session": session }),
        Change::SessionClosed {
            session,
            closed_by,
            reason,
        } => json!({ "session": session, "closedBy": closed_by, "reason": reason }),
        Change::MessageStored(message) => {
            json!({ "session": sessions.get(&message.session_id), "message": message })
        }
        Change::NoteAdded(note) => {
            json!({ "session": sessions.get(&note.session_id), "note": note })
        }
        Change::MessagesRead(_) | Change::AgentChanged(_) | Change::SettingsChanged(_) => {
            serde_json::Value::Null
        }
    }
}
