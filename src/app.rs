//! The state shared by socket handlers, REST handlers and background tasks.

use socketioxide::adapter::Adapter;
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sea_orm::DatabaseConnection;
use socketioxide::SocketIo;
use socketioxide::operators::BroadcastOperators;

use crate::auth::Verifier;
use crate::chat::group_commit::GroupCommit;
use crate::chat::stats::MessageCounts;
use crate::chat::users::UserRecorder;
use crate::config::ServerConfig;
use crate::db::Databases;
use crate::metrics::Metrics;
use crate::realtime::redis_driver::ReconnectingDriver;
use crate::realtime::stats::StatsCoalescer;
use crate::realtime::typing::TypingTimers;
use crate::service::SessionLocks;
use crate::shutdown::InFlight;

pub type AppState<A> = Arc<App<A>>;

pub struct App<A: Adapter> {
    pub db: DatabaseConnection,
    /// The read pool ([`crate::db`]): for reads that change nothing and
    /// may be slow on a long history (lists, pages, stats), so they never
    /// hold the connection the chat writes through.
    pub reads: DatabaseConnection,
    /// Stores concurrent messages in one transaction.
    pub group_commit: GroupCommit,
    /// Records the users of concurrent connections in one upsert.
    pub users: UserRecorder,
    /// Set once, right after the Socket.IO layer is built: the layer needs
    /// this state and REST handlers need the layer's `SocketIo` to emit.
    io: OnceLock<SocketIo<A>>,
    pub verifier: Verifier,
    pub config: ServerConfig,
    /// A name for this process in `/ws/stats` (several nodes share a Redis).
    pub node_id: String,
    /// send-message, per `(tenant, user)`, socket and REST together.
    pub send_limiter: DefaultKeyedRateLimiter<(String, String)>,
    /// typing, per socket id.
    pub typing_limiter: DefaultKeyedRateLimiter<String>,
    pub typing: TypingTimers,
    pub stats: StatsCoalescer,
    pub locks: SessionLocks,
    pub metrics: Metrics,
    /// The settled part of each tenant's `messagesToday`.
    pub message_counts: MessageCounts,
    pub in_flight: InFlight,
    /// Set with the Redis adapter, for `/health`.
    pub redis: Option<ReconnectingDriver>,
}

impl<A: Adapter> App<A> {
    pub fn new(
        databases: Databases,
        verifier: Verifier,
        config: ServerConfig,
        redis: Option<ReconnectingDriver>,
    ) -> Self {
        let per_second = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let send_quota = Quota::per_second(per_second(config.send_rate_per_second))
            .allow_burst(per_second(config.send_burst));
        let typing_quota = Quota::per_second(per_second(config.typing_rate_per_second));
        let Databases { writer: db, reader } = databases;
        Self {
            group_commit: GroupCommit::start(db.clone()),
            users: UserRecorder::start(db.clone()),
            db,
            reads: reader,
            io: OnceLock::new(),
            verifier,
            node_id: crate::chat::new_id(),
            send_limiter: RateLimiter::keyed(send_quota),
            typing_limiter: RateLimiter::keyed(typing_quota),
            typing: TypingTimers::default(),
            stats: StatsCoalescer::default(),
            locks: SessionLocks::default(),
            metrics: Metrics::new(),
            message_counts: MessageCounts::default(),
            in_flight: InFlight::default(),
            redis,
            config,
        }
    }

    pub fn set_io(&self, io: SocketIo<A>) {
        // Called once at start-up; a second call would be a bug, and the
        // first value stays.
        let _ = self.io.set(io);
    }

    pub fn io(&self) -> Option<&SocketIo<A>> {
        self.io.get()
    }

    /// Broadcast operators of the `/chat` namespace.
    pub fn chat(&self) -> Option<BroadcastOperators<A>> {
        self.io.get()?.of(crate::realtime::NAMESPACE)
    }
}
