//! The state shared by socket handlers, REST handlers and background tasks:
//! the composition root, built once at start-up. Handlers reach the
//! actions, the fan-out and the socket layer through it; nothing below
//! (actions, fan-out, domain) depends on it.

use std::sync::Arc;
use std::time::Duration;

use governor::DefaultKeyedRateLimiter;
use sea_orm::DatabaseConnection;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use tokio::sync::Semaphore;

use crate::actions::{Actions, Limits, keyed};
use crate::auth::Verifier;
use crate::chat::attachments::Attachments;
use crate::chat::integrations::keys::KeyCheck;
use crate::chat::routing::{Defaults, Node, RoutingConfig};
use crate::chat::stats::DayTotals;
use crate::chat::users::UserRecorder;
use crate::config::ServerConfig;
use crate::db::Databases;
use crate::fanout::stats::StatsSource;
use crate::fanout::typing::TypingTimers;
use crate::fanout::{Fanout, Notifier, SocketEmitter};
use crate::metrics::Metrics;
use crate::redis_driver::ReconnectingDriver;
use crate::shutdown::InFlight;
use crate::webhooks::worker::Webhooks;

pub type AppState<A> = Arc<App<A>>;

/// The Socket.IO namespace of the chat.
pub const NAMESPACE: &str = "/chat";

pub struct App<A: Adapter> {
    /// The writer: every change goes through it.
    pub db: DatabaseConnection,
    /// The read pool ([`crate::db`]): for reads that change nothing and
    /// may be slow on a long history (lists, pages, stats), so they never
    /// hold the connection the chat writes through.
    pub reads: DatabaseConnection,
    /// Admission to the REST reads ([`crate::config::ServerConfig::read_concurrency`]):
    /// a dashboard reloading in a loop then queues here instead of taking
    /// the core from the chat.
    pub read_slots: Arc<Semaphore>,
    /// Every change, for sockets and REST alike.
    pub actions: Actions,
    /// Records the users of concurrent connections in one upsert.
    pub users: UserRecorder,
    /// The `/chat` namespace, once built (see [`Self::set_io`]).
    pub sockets: Arc<SocketEmitter<A>>,
    pub verifier: Verifier,
    pub config: ServerConfig,
    /// A name for this process in `/ws/stats` (several nodes share a Redis).
    pub node_id: String,
    /// typing, per socket id (the excess is dropped).
    pub typing_limiter: DefaultKeyedRateLimiter<String>,
    /// Every other client event, per socket id.
    pub event_limiter: DefaultKeyedRateLimiter<String>,
    pub typing: TypingTimers,
    pub metrics: Metrics,
    pub in_flight: InFlight,
    /// Set with the Redis adapter, for `/health`.
    pub redis: Option<ReconnectingDriver>,
    /// Webhook delivery (docs/protocol.md §10).
    pub webhooks: Arc<Webhooks>,
    /// API keys of the server API, and their rate limit.
    pub keys: KeyCheck,
    pub key_limiter: DefaultKeyedRateLimiter<String>,
}

impl<A: Adapter> App<A> {
    pub fn new(
        databases: Databases,
        verifier: Verifier,
        attachments: Attachments,
        config: ServerConfig,
        redis: Option<ReconnectingDriver>,
    ) -> Self {
        let Databases {
            writer: db,
            reader: reads,
        } = databases;
        let metrics = Metrics::new();
        let sockets = Arc::new(SocketEmitter::new(NAMESPACE, redis.is_some()));
        let stats = StatsSource {
            db: reads.clone(),
            totals: DayTotals::default(),
            emitter: sockets.clone(),
        };
        let routing = RoutingConfig {
            defaults: Defaults {
                routing: config.routing,
                default_max_chats: config.agent_max_chats,
                reassign_after_offline_seconds: Some(config.reassign_after_offline_seconds),
            },
            requeue_hold_ms: config.requeue_hold_seconds.saturating_mul(1000) as i64,
        };
        let notices = Notifier::new(
            reads.clone(),
            db.clone(),
            sockets.clone(),
            routing.defaults.clone(),
        );
        let fanout = Arc::new(Fanout::new(stats, notices, metrics.messages_stored.clone()));
        let node_id = crate::chat::new_id();
        let integrations = &config.integrations;
        let webhooks = Webhooks::new(
            db.clone(),
            fanout.clone(),
            integrations.webhooks(),
            node_id.clone(),
            attachments.signer.clone(),
        );
        let key_limiter = keyed(
            integrations.server_api_rate_per_second,
            integrations.server_api_burst,
        );
        let node = Node {
            id: node_id.clone(),
            lease_ms: config.node_timeout_seconds.max(1).saturating_mul(1000) as i64,
        };
        let limits = Limits {
            message_max_length: config.message_max_length,
            send_per_second: config.send_rate_per_second,
            send_burst: config.send_burst,
            open_per_second: config.open_rate_per_second,
            open_burst: config.open_burst,
            catch_up: config.catch_up_limit.max(1),
            message_linger: (config.message_linger_ms > 0)
                .then(|| Duration::from_millis(config.message_linger_ms)),
        };
        let read_slots = config.read_concurrency.unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            cpus.min(config.database_readers.max(1) as usize)
        });
        Self {
            webhooks,
            keys: KeyCheck::default(),
            key_limiter,
            read_slots: Arc::new(Semaphore::new(read_slots.max(1))),
            actions: Actions::new(
                db.clone(),
                reads.clone(),
                fanout,
                limits,
                routing,
                node,
                attachments,
            ),
            users: UserRecorder::start(db.clone()),
            db,
            reads,
            sockets,
            verifier,
            node_id,
            typing_limiter: keyed(config.typing_rate_per_second, config.typing_rate_per_second),
            event_limiter: keyed(config.event_rate_per_second, config.event_burst),
            typing: TypingTimers::default(),
            metrics,
            in_flight: InFlight::default(),
            redis,
            config,
        }
    }

    /// Called once, right after the Socket.IO layer is built: the layer
    /// needs this state and the fan-out needs the layer to emit.
    pub fn set_io(&self, io: SocketIo<A>) {
        self.sockets.set_io(io);
    }

    /// Broadcast operators of the `/chat` namespace.
    pub fn chat(&self) -> Option<BroadcastOperators<A>> {
        self.sockets.chat()
    }

    pub fn fanout(&self) -> &Fanout {
        &self.actions.fanout
    }
}
