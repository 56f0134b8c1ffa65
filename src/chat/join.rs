//! `join-session`: what a user joining a session sees, and the rule that an
//! agent joining a pending session takes it.

use sea_orm::DatabaseConnection;
use serde::Serialize;

use super::access::SessionStatus;
use super::attachments::Attachments;
use super::input::JoinRequest;
use super::messages::history::{self, PageFrom};
use super::{
    Change, Changed, MessageView, NoteView, SessionView, User, UserRef, notes, sessions, users,
};
use crate::error::AppResult;

/// Without `lastMessageId`, a join returns this many of the newest messages.
pub const RECENT: u64 = 50;

/// What a join gives the joiner (the ack's `data`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Joined {
    pub session: SessionView,
    /// Who joined (the `session-joined` payload is the ack's data).
    pub user: UserRef,
    /// Oldest first: the newest [`RECENT`], or the catch-up after
    /// `lastMessageId`, at most `catch_up_limit` of them.
    pub messages: Vec<MessageView>,
    /// More messages follow the catch-up: join again from the last one.
    pub has_more: bool,
    /// Staff only: every note of the session, oldest first (absent for a
    /// customer, docs/protocol.md §11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<NoteView>>,
    /// This join took the session (it was pending and the joiner is staff).
    #[serde(skip)]
    pub taken: bool,
}

/// Checks the join and, for staff joining a pending session, takes it.
/// Checked before taking: a join that fails (a bad `lastMessageId`)
/// changes nothing. Another agent faster to take it: the joiner watches.
/// The history (up to `catch_up_limit` rows) is read through `reads`, so a
/// long catch-up does not hold the connection the chat writes through.
pub async fn join(
    db: &DatabaseConnection,
    reads: &DatabaseConnection,
    user: &User,
    req: &JoinRequest,
    catch_up_limit: u64,
    attachments: &Attachments,
) -> AppResult<Changed<Joined>> {
    let mut row = sessions::find(db, user, &req.session_id).await?;
    let anchor = match &req.last_message_id {
        Some(id) => Some(sessions::message_in(db, &row.id, id).await?.seq),
        None => None,
    };
    let mut changes = Vec::new();
    if user.role.is_staff() && SessionStatus::Pending.is(&row) {
        row = match sessions::take(db, user, &row).await? {
            Some(taken) => {
                changes = taken.changes;
                taken.value
            }
            None => sessions::reload(db, &row.id).await?,
        };
    }
    let (messages, has_more) = match anchor {
        Some(seq) => history::page(reads, &row.id, PageFrom::After(seq), catch_up_limit).await?,
        None => (
            history::page(reads, &row.id, PageFrom::Newest, RECENT)
                .await?
                .0,
            false,
        ),
    };
    let session = match changes.first() {
        Some(Change::SessionAssigned { session, .. }) => session.clone(),
        _ => users::session_view(db, &row).await?,
    };
    let joined = Joined {
        session,
        user: user.user_ref(),
        messages: attachments.messages(reads, &messages).await?,
        has_more,
        notes: if user.role.is_staff() {
            Some(notes::of_session(reads, &row.id).await?)
        } else {
            None
        },
        taken: !changes.is_empty(),
    };
    Ok(Changed::new(&user.tenant, joined, changes))
}
