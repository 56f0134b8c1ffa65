//! What a change did, as the domain reports it: every action of the domain
//! returns a [`Changed`], the answer for its caller and the [`Change`]s
//! that everyone else must hear of. `crate::fanout` turns the changes into
//! socket events and stats updates; the domain itself knows no sockets.

use sea_orm::DatabaseTransaction;
use serde::Serialize;

use super::clock::rfc3339;
use super::integrations::outbox;
use super::routing::TenantSettings;
use super::{MessageView, NoteView, SessionView, UserRef};
use crate::error::AppResult;

/// One thing that changed, with what its listeners need to know.
#[derive(Clone, Debug)]
pub enum Change {
    /// A customer opened a session.
    SessionOpened(SessionView),
    /// A message was stored (not a retry of a stored one).
    MessageStored(MessageView),
    /// A session got an agent (taken, assigned or transferred); `previous`
    /// is the agent who had it before, if any.
    SessionAssigned {
        session: SessionView,
        previous: Option<String>,
    },
    /// An agent sent an active session back to the queue.
    SessionRequeued {
        session: SessionView,
        previous: Option<String>,
    },
    /// Messages of the other side were marked read.
    MessagesRead(ReadReceipt),
    /// A session was closed.
    SessionClosed {
        session: SessionView,
        closed_by: UserRef,
        reason: Option<String>,
    },
    /// A field of this staff member's `AgentState` may have changed
    /// (availability, capacity, online).
    AgentChanged(String),
    /// The tenant's settings changed.
    SettingsChanged(TenantSettings),
    /// Staff wrote a private note (docs/protocol.md §11).
    NoteAdded(NoteView),
    /// The customer rated their closed session.
    SessionRated(SessionView),
}

impl Change {
    /// Whether auto-assignment may now have work: a session waits, an
    /// agent was freed or changed, the settings changed.
    pub fn moves_routing(&self) -> bool {
        match self {
            Self::SessionOpened(_)
            | Self::SessionRequeued { .. }
            | Self::SessionClosed { .. }
            | Self::AgentChanged(_)
            | Self::SettingsChanged(_) => true,
            Self::SessionAssigned { previous, .. } => previous.is_some(),
            Self::MessageStored(_)
            | Self::MessagesRead(_)
            | Self::NoteAdded(_)
            | Self::SessionRated(_) => false,
        }
    }

    /// Whether the tenant's statistics may have moved (notes are not in
    /// them).
    pub fn touches_stats(&self) -> bool {
        !matches!(
            self,
            Self::MessagesRead(_) | Self::SettingsChanged(_) | Self::NoteAdded(_)
        )
    }
}

/// What a `mark-read` marked (the `messages-read` payload).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadReceipt {
    pub session_id: String,
    pub reader: UserRef,
    /// The newest message marked.
    pub up_to_message_id: String,
    pub up_to_seq: i64,
    #[serde(serialize_with = "as_rfc3339")]
    pub read_at: i64,
    pub count: u64,
}

fn as_rfc3339<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*ms))
}

/// The result of a domain action: `value` answers the caller, `changes`
/// (in the order they happened) go to the fan-out for `tenant`.
#[derive(Debug)]
pub struct Changed<T> {
    pub tenant: String,
    pub value: T,
    pub changes: Vec<Change>,
}

impl<T> Changed<T> {
    pub fn new(tenant: &str, value: T, changes: Vec<Change>) -> Self {
        Self {
            tenant: tenant.to_string(),
            value,
            changes,
        }
    }

    /// Nothing changed: a read, a retry, a no-op.
    pub fn nothing(tenant: &str, value: T) -> Self {
        Self::new(tenant, value, Vec::new())
    }
}

/// Commits a transaction of the domain together with the changes it made
/// to `tenant`.
///
/// Every transaction that changes something others must hear of ends
/// here, so what has to be written atomically with a change, the webhook
/// outbox of docs/protocol.md §10, is written inside the transaction,
/// before the commit, never after it.
pub async fn commit(txn: DatabaseTransaction, tenant: &str, changes: &[Change]) -> AppResult<()> {
    let changes: Vec<&Change> = changes.iter().collect();
    outbox::record(&txn, tenant, &changes).await?;
    txn.commit().await?;
    Ok(())
}

/// [`commit`] for a transaction that changed several tenants (a group
/// commit of messages): each tenant's changes, in order.
pub async fn commit_each(txn: DatabaseTransaction, each: &[(&str, Vec<Change>)]) -> AppResult<()> {
    // One look at a tenant's endpoints however many of its messages the
    // batch holds.
    let mut by_tenant: Vec<(&str, Vec<&Change>)> = Vec::new();
    for (tenant, changes) in each {
        match by_tenant.iter_mut().find(|(t, _)| t == tenant) {
            Some((_, all)) => all.extend(changes),
            None => by_tenant.push((tenant, changes.iter().collect())),
        }
    }
    for (tenant, changes) in &by_tenant {
        outbox::record(&txn, tenant, changes).await?;
    }
    txn.commit().await?;
    Ok(())
}
