//! The one fan-out: what follows a change, whoever made it (a socket event
//! or a REST call). The domain returns [`Change`]s; [`Fanout::publish`]
//! turns them into the socket events of docs/protocol.md §5 to the right
//! rooms and a stats update, in the order they happened. It depends on the
//! socket layer only through [`Emitter`], so it is tested without sockets.

pub mod emitter;
pub mod rooms;
pub mod stats;
pub mod typing;

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use serde_json::json;

use crate::chat::{Change, Changed};
pub use emitter::{Emitter, Payload, SocketEmitter, payload};
use stats::{StatsCoalescer, StatsSource};

pub struct Fanout {
    emitter: Arc<dyn Emitter>,
    pub stats: Arc<StatsSource>,
    coalescer: Arc<StatsCoalescer>,
    messages_stored: Counter,
}

impl Fanout {
    pub fn new(stats: StatsSource, messages_stored: Counter) -> Self {
        let stats = Arc::new(stats);
        let source = stats.clone();
        let coalescer = StatsCoalescer::new(Box::new(move |tenant| {
            let source = source.clone();
            Box::pin(async move { source.broadcast(&tenant).await })
        }));
        Self {
            emitter: stats.emitter.clone(),
            stats,
            coalescer,
            messages_stored,
        }
    }

    /// Tells everyone who must hear of what `changed` did.
    pub async fn publish<T>(&self, changed: &Changed<T>) {
        self.publish_changes(&changed.tenant, &changed.changes)
            .await;
    }

    /// [`Self::publish`] for changes of `tenant`.
    pub async fn publish_changes(&self, tenant: &str, changes: &[Change]) {
        for change in changes {
            self.announce(tenant, change).await;
        }
        if changes.iter().any(Change::touches_stats) {
            self.stats_changed(tenant);
        }
    }

    /// The tenant's stats changed without a domain change (a socket came
    /// or went): its agents get a `stats-update` within the window.
    pub fn stats_changed(&self, tenant: &str) {
        self.coalescer.changed(tenant);
    }

    async fn announce(&self, tenant: &str, change: &Change) {
        let (to, event, data) = match change {
            Change::SessionOpened(session) => (
                vec![rooms::agents(tenant)],
                "new-pending-session",
                payload(session),
            ),
            Change::MessageStored(message) => {
                self.messages_stored.inc();
                (
                    vec![rooms::session(&message.session_id)],
                    "new-message",
                    payload(message),
                )
            }
            Change::SessionAssigned(session) => (
                vec![rooms::session(&session.id), rooms::agents(tenant)],
                "session-updated",
                payload(session),
            ),
            Change::MessagesRead(receipt) => (
                vec![rooms::session(&receipt.session_id)],
                "messages-read",
                payload(receipt),
            ),
            Change::SessionClosed {
                session,
                closed_by,
                reason,
            } => (
                vec![rooms::session(&session.id), rooms::agents(tenant)],
                "session-closed",
                payload(&json!({ "session": session, "closedBy": closed_by, "reason": reason })),
            ),
        };
        self.emitter.emit(to, event, data).await;
    }
}
