//! The actions that both the socket handlers and the REST handlers perform:
//! call the domain, then tell the right rooms (through
//! [`crate::realtime::events`]), so the two paths cannot disagree about who
//! is told what.

use socketioxide::adapter::Adapter;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

use crate::app::AppState;
use crate::chat::input::{CloseRequest, MarkReadRequest, OpenRequest, SendRequest};
use crate::chat::{MessageView, SessionView, User, messages, sessions, users};
use crate::error::{AppError, AppResult};
use crate::realtime::{events, stats};

/// Serialises, per session and on this node, "commit a change, then
/// broadcast it", so `new-message` events leave in `seq` order and a join
/// cannot slip between a commit and its broadcast. Striped: a fixed number
/// of mutexes, so memory does not grow with the number of sessions.
pub struct SessionLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for SessionLocks {
    fn default() -> Self {
        Self {
            stripes: (0..1024).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl SessionLocks {
    pub async fn lock(&self, session_id: &str) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        session_id.hash(&mut hasher);
        let stripe = (hasher.finish() % self.stripes.len() as u64) as usize;
        self.stripes[stripe].lock().await
    }
}

/// A message, and whether it was stored now (false: a retry of a stored one).
pub struct Sent {
    pub message: MessageView,
    pub is_new: bool,
}

pub async fn send_message<A: Adapter>(
    app: &AppState<A>,
    user: &User,
    req: SendRequest,
) -> AppResult<Sent> {
    if app
        .send_limiter
        .check_key(&(user.tenant.clone(), user.id.clone()))
        .is_err()
    {
        return Err(AppError::RateLimited);
    }
    let _order = app.locks.lock(&req.session_id).await;
    let appended = messages::send(
        &app.db,
        &app.group_commit,
        user,
        req,
        app.config.message_max_length,
    )
    .await?;
    let message = MessageView::from(&appended.message);
    if appended.is_new {
        app.metrics.messages_stored.inc();
        events::new_message(app, &message).await;
        stats::changed(app, &user.tenant);
    }
    Ok(Sent {
        message,
        is_new: appended.is_new,
    })
}

/// Opens a session (or returns the open one); `true` when it is new.
pub async fn open_session<A: Adapter>(
    app: &AppState<A>,
    user: &User,
    req: OpenRequest,
) -> AppResult<(SessionView, bool)> {
    let opened = sessions::open(&app.db, user, req, app.config.message_max_length).await?;
    let mut row = opened.session;
    let _order = app.locks.lock(&row.id).await;
    let appended = match opened.message {
        Some(content) => Some(messages::append_valid(&app.db, user, &row, content, None).await?),
        None => None,
    };
    if let Some(appended) = &appended {
        row = appended.session.clone();
    }
    let view = users::session_view(&app.db, &row).await?;
    if opened.created {
        events::pending_session(app, &user.tenant, &view).await;
    }
    if let Some(appended) = appended {
        app.metrics.messages_stored.inc();
        events::new_message(app, &MessageView::from(&appended.message)).await;
    }
    stats::changed(app, &user.tenant);
    Ok((view, opened.created))
}

pub async fn mark_read<A: Adapter>(
    app: &AppState<A>,
    user: &User,
    req: MarkReadRequest,
) -> AppResult<u64> {
    let read = messages::mark_read(&app.db, user, &req).await?;
    if let Some(up_to) = &read.up_to {
        events::messages_read(app, user, up_to, read.read_at, read.count).await;
    }
    Ok(read.count)
}

pub async fn close_session<A: Adapter>(
    app: &AppState<A>,
    user: &User,
    req: CloseRequest,
) -> AppResult<SessionView> {
    let (row, closed_now) = sessions::close(&app.db, user, &req).await?;
    let view = users::session_view(&app.db, &row).await?;
    if closed_now {
        events::session_closed(app, &user.tenant, &view, user, req.reason.as_deref()).await;
        stats::changed(app, &user.tenant);
    }
    Ok(view)
}

/// REST assign: an agent takes a pending session for themself (another
/// agent's is `conflict`); an admin assigns or transfers to any staff member.
pub async fn assign_session<A: Adapter>(
    app: &AppState<A>,
    user: &User,
    session_id: &str,
    agent_id: Option<String>,
) -> AppResult<SessionView> {
    let row = sessions::find(&app.db, user, session_id).await?;
    let _order = app.locks.lock(&row.id).await;
    let target = agent_id.unwrap_or_else(|| user.id.clone());
    let before = row.agent_id.clone();
    let row = if user.role == crate::chat::Role::Admin || target != user.id {
        sessions::transfer(&app.db, user, &row, &target).await?
    } else {
        sessions::take(&app.db, user, &row)
            .await?
            .ok_or_else(|| AppError::Conflict("another agent holds this session".into()))?
    };
    let view = users::session_view(&app.db, &row).await?;
    if before != row.agent_id {
        events::session_updated(app, &user.tenant, &view).await;
        stats::changed(app, &user.tenant);
    }
    Ok(view)
}
