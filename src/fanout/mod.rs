//! The one fan-out: what follows a change, whoever made it (a socket event
//! or a REST call). The domain returns [`Change`]s; [`Fanout::publish`]
//! turns them into the socket events of docs/protocol.md §5 to the right
//! rooms and a stats update, in the order they happened. It depends on the
//! socket layer only through [`Emitter`], so it is tested without sockets.

pub mod coalesce;
pub mod emitter;
pub mod notify;
pub mod presence;
pub mod rooms;
pub mod single_flight;
pub mod stats;
pub mod typing;

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use serde_json::json;

use crate::chat::{Change, Changed, SessionView};
use coalesce::Coalescer;
pub use emitter::{Emitter, Event, Payload, SocketEmitter, payload};
pub use notify::Notifier;
use stats::StatsSource;

pub struct Fanout {
    emitter: Arc<dyn Emitter>,
    pub stats: Arc<StatsSource>,
    coalescer: Arc<Coalescer<String>>,
    /// `queue-update`, `agent-updated`, `service-status`.
    pub notices: Arc<Notifier>,
    messages_stored: Counter,
}

impl Fanout {
    pub fn new(stats: StatsSource, notices: Arc<Notifier>, messages_stored: Counter) -> Self {
        let stats = Arc::new(stats);
        let source = stats.clone();
        let coalescer = Coalescer::new(
            stats::WINDOW,
            Box::new(move |tenant: String| {
                let source = source.clone();
                Box::pin(async move { source.broadcast(&tenant).await })
            }),
        );
        Self {
            emitter: stats.emitter.clone(),
            stats,
            coalescer,
            notices,
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

    /// An event that is no domain change: a backend's own
    /// (`POST /api/server/publish`) or a webhook delivery's progress.
    pub async fn emit(&self, rooms: Vec<String>, event: Event, data: Payload) {
        self.emitter.emit(rooms, event, data).await;
    }

    /// The tenant's stats changed without a domain change (a socket came
    /// or went): its agents get a `stats-update` within the window.
    pub fn stats_changed(&self, tenant: &str) {
        self.coalescer.changed(tenant.to_string());
    }

    /// What a change means for the routing notices: whose queue position,
    /// which agent's load or state, the tenant's service status.
    async fn notice(&self, tenant: &str, change: &Change) {
        let notices = &self.notices;
        let agent_of = |s: &SessionView| s.agent.as_ref().map(|a| a.id.clone());
        let (queue, agents) = match change {
            Change::SessionOpened(_) => (true, vec![]),
            Change::SessionAssigned { session, previous }
            | Change::SessionRequeued { session, previous } => (
                true,
                [agent_of(session), previous.clone()]
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            // A pending session that closes moves the queue too.
            Change::SessionClosed { session, .. } => {
                (true, agent_of(session).into_iter().collect())
            }
            Change::AgentChanged(id) => {
                notices.service_changed(tenant);
                (true, vec![id.clone()])
            }
            Change::SettingsChanged(_) => {
                notices.service_changed(tenant);
                notices.all_agents_changed(tenant).await;
                (true, vec![])
            }
            Change::MessageStored(_)
            | Change::MessagesRead(_)
            | Change::NoteAdded(_)
            | Change::SessionRated(_) => (false, vec![]),
        };
        if queue {
            notices.queue_changed(tenant);
        }
        for id in agents {
            notices.agent_changed(tenant, &id);
        }
    }

    async fn announce(&self, tenant: &str, change: &Change) {
        self.notice(tenant, change).await;
        let updated_to = |s: &SessionView| {
            vec![
                rooms::session(&s.id),
                rooms::agents(tenant),
                rooms::user(tenant, &s.customer.id),
            ]
        };
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
            Change::SessionAssigned { session, .. } | Change::SessionRated(session) => {
                (updated_to(session), "session-updated", payload(session))
            }
            // Staff only: the room customers never join.
            Change::NoteAdded(note) => (
                vec![rooms::session_staff(&note.session_id)],
                "note-added",
                payload(note),
            ),
            Change::SessionRequeued { session, .. } => {
                let data = payload(session);
                self.emitter
                    .emit(updated_to(session), "session-updated".into(), data.clone())
                    .await;
                (vec![rooms::agents(tenant)], "new-pending-session", data)
            }
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
            Change::AgentChanged(_) | Change::SettingsChanged(_) => return,
        };
        self.emitter.emit(to, event.into(), data).await;
    }
}
