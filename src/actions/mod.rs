//! The actions both paths share: a socket handler and a REST handler call
//! the same function here, which runs the domain action (`crate::chat`)
//! under the session's lock and hands what changed to the one fan-out
//! (`crate::fanout`), so the two paths cannot disagree about what happens
//! or who is told.

mod locks;

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sea_orm::DatabaseConnection;

use crate::chat::input::{CloseRequest, JoinRequest, MarkReadRequest, OpenRequest, SendRequest};
use crate::chat::join::{self, Joined};
use crate::chat::messages::group_commit::GroupCommit;
use crate::chat::messages::{self, Sent, read};
use crate::chat::sessions::{self, Opened};
use crate::chat::{SessionView, User};
use crate::error::{AppError, AppResult};
use crate::fanout::Fanout;
pub use locks::SessionLocks;

/// The limits the actions enforce.
#[derive(Clone, Debug)]
pub struct Limits {
    pub message_max_length: usize,
    /// `send-message` per user, socket and REST together.
    pub send_per_second: u32,
    pub send_burst: u32,
    /// At most this many messages in a join's catch-up.
    pub catch_up: u64,
}

pub struct Actions {
    db: DatabaseConnection,
    /// Stores concurrent messages in one transaction.
    writer: GroupCommit,
    locks: SessionLocks,
    /// send-message, per `(tenant, user)`.
    send_limiter: DefaultKeyedRateLimiter<(String, String)>,
    limits: Limits,
    pub fanout: Arc<Fanout>,
}

impl Actions {
    pub fn new(db: DatabaseConnection, fanout: Arc<Fanout>, limits: Limits) -> Self {
        let quota = Quota::per_second(at_least_one(limits.send_per_second))
            .allow_burst(at_least_one(limits.send_burst));
        Self {
            writer: GroupCommit::start(db.clone()),
            db,
            locks: SessionLocks::default(),
            send_limiter: RateLimiter::keyed(quota),
            limits,
            fanout,
        }
    }

    pub async fn send_message(&self, user: &User, req: SendRequest) -> AppResult<Sent> {
        let key = (user.tenant.clone(), user.id.clone());
        if self.send_limiter.check_key(&key).is_err() {
            return Err(AppError::RateLimited);
        }
        let _order = self.locks.lock(&req.session_id).await;
        let max = self.limits.message_max_length;
        let changed = messages::send(&self.db, &self.writer, user, req, max).await?;
        self.fanout.publish(&changed).await;
        Ok(changed.value)
    }

    /// Opens a session (or returns the customer's open one).
    pub async fn open_session(&self, user: &User, req: OpenRequest) -> AppResult<Opened> {
        let max = self.limits.message_max_length;
        let changed = sessions::open(&self.db, user, req, max).await?;
        {
            let _order = self.locks.lock(&changed.value.session.id).await;
            self.fanout.publish(&changed).await;
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
        let changed = join::join(&self.db, user, &req, self.limits.catch_up).await?;
        enter_room(&changed.value).await;
        self.fanout.publish(&changed).await;
        Ok(changed.value)
    }

    pub async fn mark_read(&self, user: &User, req: MarkReadRequest) -> AppResult<u64> {
        let changed = read::mark_read(&self.db, user, &req).await?;
        self.fanout.publish(&changed).await;
        Ok(changed.value)
    }

    pub async fn close_session(&self, user: &User, req: CloseRequest) -> AppResult<SessionView> {
        let changed = sessions::close(&self.db, user, &req).await?;
        self.fanout.publish(&changed).await;
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
        self.fanout.publish(&changed).await;
        Ok(changed.value)
    }

    /// Drops the rate limiter's idle cells (called now and then).
    pub fn forget_idle_senders(&self) {
        self.send_limiter.retain_recent();
        self.send_limiter.shrink_to_fit();
    }
}

/// A quota of 0 would refuse everything for ever: taken as 1.
pub fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests;
