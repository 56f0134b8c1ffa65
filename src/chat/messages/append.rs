//! Appending a message: the UPDATE that gives it the next gap-free `seq`,
//! the INSERT, and the one-by-one path that names the exact error (or
//! finds a retry's original).

use entities::{attachment, message, session};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, Set, TransactionTrait, TryIntoModel, UpdateMany,
};

use crate::chat::access::{self, SessionStatus};
use crate::chat::attachments::AttachmentView;
use crate::chat::changes::{self, Change};
use crate::chat::clock::now_ms;
use crate::chat::{MessageView, Role, User, new_id};
use crate::error::{AppError, AppResult, ErrorCode};

/// A message that was appended, or found again by its `clientMessageId`.
#[derive(Clone, Debug)]
pub struct Appended {
    pub message: message::Model,
    /// The session after the append (new `lastMessageAt`, `unreadCount`).
    pub session: session::Model,
    /// False when the `clientMessageId` was seen before: nothing was stored
    /// and nothing must be broadcast again.
    pub is_new: bool,
    /// The attachments it took, in order (empty for a retry: read them
    /// back with the message).
    pub attachments: Vec<attachment::Model>,
}

impl Appended {
    /// What others must hear of: the message, when it is new, with its
    /// attachments unlinked (the outbox's copy; what goes out to sockets
    /// is signed after the commit, `send::view`).
    pub fn changes(&self) -> Vec<Change> {
        if self.is_new {
            let mut message = MessageView::from(&self.message);
            message.attachments = self
                .attachments
                .iter()
                .map(AttachmentView::unlinked)
                .collect();
            vec![Change::MessageStored(message)]
        } else {
            Vec::new()
        }
    }
}

/// Appends a message inside `txn` to session `session_id` if it is open and
/// matches `condition`; `None` when the UPDATE matched no row.
///
/// `seq` is given by incrementing the session's `last_seq` in the same
/// transaction as the insert: on PostgreSQL the UPDATE locks the session
/// row until commit, on SQLite the write locks the database, so concurrent
/// senders (on any node) get 1, 2, 3… in commit order and a failed insert
/// rolls the increment back.
pub(crate) async fn append_in(
    txn: &DatabaseTransaction,
    user: &User,
    session_id: &str,
    condition: Condition,
    content: String,
    client_message_id: Option<String>,
    attachments: &[String],
) -> AppResult<Option<Appended>> {
    let Some((session, mut message)) =
        number_in(txn, user, session_id, condition, content, client_message_id).await?
    else {
        return Ok(None);
    };
    message.attachments = Set(attachments.len() as i32);
    message::Entity::insert(message.clone())
        .exec_without_returning(txn)
        .await?;
    let message = message.try_into_model()?;
    let attachments = if attachments.is_empty() {
        Vec::new()
    } else {
        crate::chat::attachments::link(txn, user, &session.id, &message.id, attachments).await?
    };
    Ok(Some(Appended {
        message,
        session,
        is_new: true,
        attachments,
    }))
}

/// The first half of an append inside `txn`: the UPDATE that gives the
/// message its `seq` (if session `session_id` is open and matches
/// `condition`), and the message row to insert, numbered and timed by it.
/// `None` when the UPDATE matched no row. The group commit inserts the
/// rows of a whole batch in one statement.
pub(crate) async fn number_in(
    txn: &DatabaseTransaction,
    user: &User,
    session_id: &str,
    condition: Condition,
    content: String,
    client_message_id: Option<String>,
) -> AppResult<Option<(session::Model, message::ActiveModel)>> {
    let clock = now_ms();
    let updated = bump(user, clock)
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::Status.ne(SessionStatus::Closed.as_str()))
        .filter(condition)
        .exec_with_returning(txn)
        .await?;
    Ok(updated.into_iter().next().map(|session| {
        let message = new_message(user, &session, content, client_message_id, clock);
        (session, message)
    }))
}

/// The group commit's condition: the sender takes part in the session and
/// has not stored this `clientMessageId` in it yet.
pub(crate) fn may_append(user: &User, session_id: &str, cmid: Option<&str>) -> Condition {
    let condition = access::participant_condition(user);
    let Some(cmid) = cmid else { return condition };
    let seen = Query::select()
        .expr(Expr::val(1))
        .from(message::Entity)
        .cond_where(same_client_message(session_id, &user.id, cmid))
        .to_owned();
    condition.add(Expr::exists(seen).not())
}

/// Appends already validated content (and `attachments`, uploads of the
/// user to this session) for a user allowed to send, alone in its
/// transaction: the path that names the exact error.
pub async fn append_valid(
    db: &DatabaseConnection,
    user: &User,
    row: &session::Model,
    content: String,
    client_message_id: Option<String>,
    attachments: &[String],
) -> AppResult<Appended> {
    let cmid = client_message_id.clone();
    match insert(db, user, row, content, client_message_id, attachments).await {
        // A retry: the unique (session, sender, clientMessageId) index
        // refused the copy, or the session closed after the original was
        // stored. Look the original up only then, not before every insert.
        Err(err)
            if cmid.is_some()
                && matches!(err.code(), ErrorCode::Conflict | ErrorCode::SessionClosed) =>
        {
            find_retry(db, row, user, cmid.as_deref()).await?.ok_or(err)
        }
        result => result,
    }
}

async fn insert(
    db: &DatabaseConnection,
    user: &User,
    row: &session::Model,
    content: String,
    client_message_id: Option<String>,
    attachments: &[String],
) -> AppResult<Appended> {
    access::ensure_open(row)?;
    let txn = db.begin().await?;
    let appended = append_in(
        &txn,
        user,
        &row.id,
        Condition::all(),
        content,
        client_message_id,
        attachments,
    )
    .await;
    match appended {
        Ok(Some(appended)) => {
            changes::commit(txn, &user.tenant, &appended.changes()).await?;
            Ok(appended)
        }
        Ok(None) => {
            txn.rollback().await?;
            Err(AppError::SessionClosed)
        }
        Err(err) => {
            txn.rollback().await?;
            Err(err)
        }
    }
}

/// The UPDATE that gives the next `seq` to a message of `user`: one more
/// `last_seq`, `lastMessageAt`, and the unread count and first-message
/// times the stats need. The caller adds the filters. Its RETURNING row is
/// the session after the message.
///
/// The message's time is this node's clock, but never earlier than the
/// session's previous message: across nodes a sender can read its clock,
/// then wait for the row lock behind a message stamped later (or another
/// node's clock can be ahead), and `createdAt` going backwards in `seq`
/// order would make a first response come before the first customer
/// message (a negative `avgFirstResponseSeconds`). Every column is set
/// from that one clamped time; SET expressions see the old row.
fn bump(user: &User, clock: i64) -> UpdateMany<session::Entity> {
    // max(clock, last_message_at), in SQL so it sees the locked row.
    let now: SimpleExpr = Expr::case(
        Expr::col(session::Column::LastMessageAt).gt(clock),
        Expr::col(session::Column::LastMessageAt),
    )
    .finally(Expr::value(clock))
    .into();
    let update = session::Entity::update_many()
        .col_expr(
            session::Column::LastSeq,
            Expr::col(session::Column::LastSeq).add(1),
        )
        .col_expr(session::Column::LastMessageAt, now.clone());
    if user.role == Role::Customer {
        update
            .col_expr(
                session::Column::UnreadCount,
                Expr::col(session::Column::UnreadCount).add(1),
            )
            .col_expr(
                session::Column::FirstCustomerMessageAt,
                Expr::col(session::Column::FirstCustomerMessageAt).if_null(now),
            )
    } else {
        // The first staff message after the first customer message.
        update.col_expr(
            session::Column::FirstResponseAt,
            Expr::case(
                Expr::col(session::Column::FirstResponseAt)
                    .is_null()
                    .and(Expr::col(session::Column::FirstCustomerMessageAt).is_not_null()),
                now,
            )
            .finally(Expr::col(session::Column::FirstResponseAt))
            .into(),
        )
    }
}

/// The message row, numbered and timed by the session row [`bump`] returned.
fn new_message(
    user: &User,
    session: &session::Model,
    content: String,
    client_message_id: Option<String>,
    clock: i64,
) -> message::ActiveModel {
    message::ActiveModel {
        id: Set(new_id()),
        session_id: Set(session.id.clone()),
        tenant: Set(session.tenant.clone()),
        seq: Set(session.last_seq),
        sender_id: Set(user.id.clone()),
        sender_role: Set(user.role.as_str().to_string()),
        sender_name: Set(user.name.clone()),
        content: Set(content),
        client_message_id: Set(client_message_id),
        created_at: Set(session.last_message_at.unwrap_or(clock)),
        read_at: Set(None),
        attachments: Set(0),
    }
}

/// The message a sender stored in a session with a `clientMessageId`: the
/// key of the unique index that makes a retry idempotent.
fn same_client_message(session_id: &str, sender_id: &str, cmid: &str) -> Condition {
    Condition::all()
        .add(message::Column::SessionId.eq(session_id))
        .add(message::Column::SenderId.eq(sender_id))
        .add(message::Column::ClientMessageId.eq(cmid))
}

/// The message this sender already stored with this `clientMessageId`.
async fn find_retry(
    db: &impl ConnectionTrait,
    row: &session::Model,
    user: &User,
    client_message_id: Option<&str>,
) -> AppResult<Option<Appended>> {
    let Some(cmid) = client_message_id else {
        return Ok(None);
    };
    let found = message::Entity::find()
        .filter(same_client_message(&row.id, &user.id, cmid))
        .one(db)
        .await?;
    Ok(found.map(|message| Appended {
        message,
        session: row.clone(),
        is_new: false,
        attachments: Vec::new(),
    }))
}
