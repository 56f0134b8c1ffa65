//! The actions both paths share: a socket handler and a REST handler call
//! the same function here, which runs the domain action (`crate::chat`)
//! under the session's lock and hands what changed to the one fan-out
//! (`crate::fanout`), so the two paths cannot disagree about what happens
//! or who is told.

mod locks;
pub mod router;

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sea_orm::DatabaseConnection;

use crate::chat::attachments::Attachments;
use crate::chat::input::{
    CloseRequest, JoinRequest, MarkReadRequest, OpenRequest, SendRequest, TransferRequest,
};
use crate::chat::join::{self, Joined};
use crate::chat::messages::group_commit::GroupCommit;
use crate::chat::messages::{self, Sent, read};
use crate::chat::notes::{self, NoteRequest};
use crate::chat::ratings::{self, RateRequest};
use crate::chat::routing::{
    self, AgentState, Node, RoutingConfig, TenantSettings, agents, transfer,
};
use crate::chat::sessions::{self, Opened};
use crate::chat::{Change, Changed, NoteView, SessionView, User};
use crate::error::{AppError, AppResult};
use crate::fanout::Fanout;
pub use locks::SessionLocks;
use router::Router;

/// The limits the actions enforce.
#[derive(Clone, Debug)]
pub struct Limits {
    pub message_max_length: usize,
    /// `send-message` per user, socket and REST together.
    pub send_per_second: u32,
    pub send_burst: u32,
    /// Opening sessions, per user.
    pub open_per_second: u32,
    pub open_burst: u32,
    /// At most this many messages in a join's catch-up.
    pub catch_up: u64,
    /// How long a busy message writer waits for more messages
    /// ([`GroupCommit`]); `None`: never.
    pub message_linger: Option<Duration>,
}

pub struct Actions {
    db: DatabaseConnection,
    /// The read pool, for reads that may be long (a join's catch-up).
    reads: DatabaseConnection,
    /// Stores concurrent messages in one transaction.
    writer: GroupCommit,
    locks: SessionLocks,
    /// send-message, per `(tenant, user)`.
    send_limiter: DefaultKeyedRateLimiter<(String, String)>,
    /// Opening sessions, per `(tenant, user)`.
    open_limiter: DefaultKeyedRateLimiter<(String, String)>,
    limits: Limits,
    pub fanout: Arc<Fanout>,
    /// Auto-assignment, kicked by the changes that may let it work.
    pub router: Arc<Router>,
    /// This node's presence (its agents' sockets, its lease).
    pub node: Node,
    /// The store, signer and limits of attachments.
    pub attachments: Attachments,
}

impl Actions {
    pub fn new(
        db: DatabaseConnection,
        reads: DatabaseConnection,
        fanout: Arc<Fanout>,
        limits: Limits,
        routing: RoutingConfig,
        node: Node,
        attachments: Attachments,
    ) -> Self {
        Self {
            attachments,
            router: Router::new(db.clone(), routing, fanout.clone()),
            node,
            writer: GroupCommit::start(db.clone(), limits.message_linger),
            db,
            reads,
            locks: SessionLocks::default(),
            send_limiter: keyed(limits.send_per_second, limits.send_burst),
            open_limiter: keyed(limits.open_per_second, limits.open_burst),
            limits,
            fanout,
        }
    }

    pub async fn send_message(&self, user: &User, req: SendRequest) -> AppResult<Sent> {
        within(&self.send_limiter, user)?;
        self.send_message_for_key(user, req).await
    }

    /// [`Self::send_message`] without the sender's own rate limit: the
    /// server API (docs/protocol.md §10), whose API key has its own.
    pub async fn send_message_for_key(&self, user: &User, req: SendRequest) -> AppResult<Sent> {
        let _order = self.locks.lock(&req.session_id).await;
        let max = self.limits.message_max_length;
        let changed =
            messages::send(&self.db, &self.writer, &self.attachments, user, req, max).await?;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    /// A private note (docs/protocol.md §11): a turn of the send limit.
    pub async fn add_note(&self, user: &User, req: NoteRequest) -> AppResult<NoteView> {
        within(&self.send_limiter, user)?;
        // Under the session's lock, like a join: a note is either in a
        // joiner's ack or reaches the socket as `note-added`.
        let _order = self.locks.lock(&req.session_id).await;
        let max = self.limits.message_max_length;
        let changed = notes::add(&self.db, user, req, max).await?;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    /// The customer rates their closed session.
    pub async fn rate_session(&self, user: &User, req: RateRequest) -> AppResult<SessionView> {
        let defaults = &self.router.config.defaults;
        let changed = ratings::rate(&self.db, defaults, user, req).await?;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    /// An upload (docs/protocol.md §9) takes a turn of the user's send
    /// limit, as a message does: a client cannot fill the store faster
    /// than it may write.
    pub fn admit_upload(&self, user: &User) -> AppResult<()> {
        within(&self.send_limiter, user)
    }

    /// Opens a session (or returns the customer's open one).
    pub async fn open_session(&self, user: &User, req: OpenRequest) -> AppResult<Opened> {
        within(&self.open_limiter, user)?;
        self.open_session_for_key(user, req).await
    }

    /// [`Self::open_session`] without the customer's own rate limit (the
    /// server API, limited per key).
    pub async fn open_session_for_key(&self, user: &User, req: OpenRequest) -> AppResult<Opened> {
        let max = self.limits.message_max_length;
        let changed = sessions::open(&self.db, user, req, max).await?;
        {
            let _order = self.locks.lock(&changed.value.session.id).await;
            self.publish(&changed).await;
        }
        Ok(changed.value)
    }

    /// Joins a session (an agent joining a pending one takes it).
    /// `enter_room` runs under the session's lock before anyone hears of
    /// the take, so no `new-message` falls between the history read and
    /// the socket entering the room.
    pub async fn join_session<F, Fut>(
        &self,
        user: &User,
        req: JoinRequest,
        enter_room: F,
    ) -> AppResult<Joined>
    where
        F: FnOnce(&Joined) -> Fut,
        Fut: Future<Output = ()>,
    {
        let _order = self.locks.lock(&req.session_id).await;
        let catch_up = self.limits.catch_up;
        let attachments = &self.attachments;
        let changed = join::join(&self.db, &self.reads, user, &req, catch_up, attachments).await?;
        enter_room(&changed.value).await;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    pub async fn mark_read(&self, user: &User, req: MarkReadRequest) -> AppResult<u64> {
        let changed = read::mark_read(&self.db, user, &req).await?;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    pub async fn close_session(&self, user: &User, req: CloseRequest) -> AppResult<SessionView> {
        let changed = sessions::close(&self.db, user, &req).await?;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    /// REST assign: an agent takes a pending session for themself; an
    /// admin assigns or transfers it.
    pub async fn assign_session(
        &self,
        user: &User,
        session_id: &str,
        agent_id: Option<String>,
    ) -> AppResult<SessionView> {
        let _order = self.locks.lock(session_id).await;
        let changed = sessions::assign(&self.db, user, session_id, agent_id).await?;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    /// Tells everyone who must hear of `changed`, and lets auto-assignment
    /// look at the tenant when the change may give it work.
    pub async fn publish<T>(&self, changed: &Changed<T>) {
        self.fanout.publish(changed).await;
        if changed.changes.iter().any(Change::moves_routing) {
            self.router.kick(&changed.tenant);
        }
    }

    /// `transfer-session`: to another agent, or back to the queue.
    pub async fn transfer_session(
        &self,
        user: &User,
        req: TransferRequest,
    ) -> AppResult<SessionView> {
        let _order = self.locks.lock(&req.session_id).await;
        let changed = transfer::transfer(&self.db, user, &req).await?;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    /// `set-availability`.
    pub async fn set_availability(
        &self,
        user: &User,
        status: Option<&str>,
    ) -> AppResult<AgentState> {
        let defaults = &self.router.config.defaults;
        let changed = agents::set_availability(&self.db, defaults, user, status).await?;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    /// `PATCH /api/agents/{id}`.
    pub async fn patch_agent(
        &self,
        user: &User,
        id: &str,
        body: &serde_json::Value,
    ) -> AppResult<AgentState> {
        let defaults = &self.router.config.defaults;
        let changed = agents::patch(&self.db, defaults, user, id, body).await?;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    /// `PATCH /api/settings`.
    pub async fn update_settings(
        &self,
        user: &User,
        patch: &serde_json::Value,
    ) -> AppResult<TenantSettings> {
        let defaults = &self.router.config.defaults;
        let changed = routing::settings::update(&self.db, defaults, user, patch).await?;
        self.publish(&changed).await;
        Ok(changed.value)
    }

    /// A staff socket connected on this node. `greet` runs once the agent
    /// counts as online and before anyone hears of it, so the socket's
    /// `connected` comes before any event the connection causes.
    pub async fn agent_connected<Fut: Future<Output = ()>>(
        &self,
        user: &User,
        greet: impl FnOnce() -> Fut,
    ) -> AppResult<()> {
        let changed = self.node.connected(&self.db, user).await;
        if changed.as_ref().is_ok_and(|c| !c.changes.is_empty()) {
            // The greeting's service status counts this agent.
            self.fanout.notices.forget_service(&user.tenant);
        }
        greet().await;
        self.publish(&changed?).await;
        Ok(())
    }

    /// A staff socket left this node.
    pub async fn agent_disconnected(&self, user: &User) -> AppResult<()> {
        let changed = self.node.disconnected(&self.db, user).await?;
        self.publish(&changed).await;
        Ok(())
    }

    /// The periodic sweep of this node (its lease is renewed apart, by
    /// [`Node::heartbeat`]): takes dead nodes' agents offline; kicks
    /// auto-assignment and the queue notices of every tenant with agents
    /// online, and the service status of every tenant with business hours.
    pub async fn sweep(&self) -> AppResult<()> {
        for changed in self.node.expire(&self.db, false).await? {
            self.publish(&changed).await;
        }
        for tenant in agents::tenants_online(&self.reads).await? {
            self.router.kick(&tenant);
            self.fanout.notices.queue_changed(&tenant);
        }
        for tenant in routing::settings::tenants_with_hours(&self.reads).await? {
            self.fanout.notices.service_changed(&tenant);
        }
        Ok(())
    }

    /// Shutting down: this node's agents' sockets are gone.
    pub async fn leave(&self) -> AppResult<()> {
        for changed in self.node.expire(&self.db, true).await? {
            self.fanout.publish(&changed).await;
        }
        Ok(())
    }

    /// Drops the rate limiters' idle cells (called now and then).
    pub fn forget_idle_users(&self) {
        for limiter in [&self.send_limiter, &self.open_limiter] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// `rate_limited` when the user is over `limiter`'s quota.
fn within(limiter: &DefaultKeyedRateLimiter<(String, String)>, user: &User) -> AppResult<()> {
    let key = (user.tenant.clone(), user.id.clone());
    limiter.check_key(&key).map_err(|_| AppError::RateLimited)
}

/// A keyed limiter of `per_second` with bursts of `burst`; a quota of 0
/// would refuse everything for ever, so it is taken as 1.
pub fn keyed<K: std::hash::Hash + Eq + Clone>(
    per_second: u32,
    burst: u32,
) -> DefaultKeyedRateLimiter<K> {
    let at_least_one = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_second(at_least_one(per_second)).allow_burst(at_least_one(burst)))
}

#[cfg(test)]
mod tests;
