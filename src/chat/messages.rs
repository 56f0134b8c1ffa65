//! Messages: append with a gap-free `seq`, read back in `seq` order, mark
//! read.

use entities::{message, session};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Set, TransactionTrait, TryIntoModel, UpdateMany,
};

use super::access::{self, CLOSED};
use super::clock::now_ms;
use super::group_commit::{Append, GroupCommit, Outcome};
use super::input::{MarkReadRequest, SendRequest, validate_content};
use super::{Role, User, new_id, sessions};
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
}

/// Checks the request and appends the message (PROTOCOL §4 send-message).
///
/// Valid content goes to the group commit, which checks access, the
/// session's state and the `clientMessageId` in its UPDATE; anything it
/// did not store is checked here one step at a time, for the exact error
/// (or a retry's original). Access is checked before the content, so an
/// outsider learns nothing from a content error.
pub async fn send(
    db: &DatabaseConnection,
    writer: &GroupCommit,
    user: &User,
    req: SendRequest,
    max_len: usize,
) -> AppResult<Appended> {
    let append = match validate_content(&req.content, max_len) {
        Ok(content) => Append {
            user: user.clone(),
            session_id: req.session_id,
            content,
            client_message_id: req.client_message_id,
        },
        Err(err) => {
            sessions::find_participant(db, user, &req.session_id).await?;
            return Err(err);
        }
    };
    let append = match writer.append(append).await? {
        Outcome::Stored(appended) => return Ok(*appended),
        Outcome::Check(append) => append,
    };
    let row = sessions::find_participant(db, user, &append.session_id).await?;
    append_valid(db, user, &row, append.content, append.client_message_id).await
}

/// Appends already validated content for a user allowed to send.
///
/// `seq` is given by incrementing the session's `last_seq` in the same
/// transaction as the insert: on PostgreSQL the UPDATE locks the session
/// row until commit, on SQLite the write locks the database, so concurrent
/// senders (on any node) get 1, 2, 3… in commit order and a failed insert
/// rolls the increment back. The UPDATE is the transaction's first
/// statement so SQLite takes its write lock at once.
pub async fn append_valid(
    db: &DatabaseConnection,
    user: &User,
    row: &session::Model,
    content: String,
    client_message_id: Option<String>,
) -> AppResult<Appended> {
    let cmid = client_message_id.clone();
    match insert(db, user, row, content, client_message_id).await {
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
) -> AppResult<Appended> {
    access::ensure_open(row)?;
    let clock = now_ms();
    let txn = db.begin().await?;
    let updated = bump(user, clock)
        .filter(session::Column::Id.eq(&row.id))
        .filter(session::Column::Status.ne(CLOSED))
        .exec_with_returning(&txn)
        .await?;
    let Some(session) = updated.into_iter().next() else {
        txn.rollback().await?;
        return Err(AppError::SessionClosed);
    };
    let message = new_message(user, &session, content, client_message_id, clock);
    if let Err(err) = message::Entity::insert(message.clone())
        .exec_without_returning(&txn)
        .await
    {
        txn.rollback().await?;
        return Err(err.into());
    }
    txn.commit().await?;
    Ok(Appended {
        message: message.try_into_model()?,
        session,
        is_new: true,
    })
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
pub(super) fn bump(user: &User, clock: i64) -> UpdateMany<session::Entity> {
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
pub(super) fn new_message(
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
    }
}

/// The message a sender stored in a session with a `clientMessageId`: the
/// key of the unique index that makes a retry idempotent.
pub(super) fn same_client_message(session_id: &str, sender_id: &str, cmid: &str) -> Condition {
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
    }))
}

/// The newest `limit` messages, oldest first.
pub async fn latest(
    db: &impl ConnectionTrait,
    session_id: &str,
    limit: u64,
) -> AppResult<Vec<message::Model>> {
    let mut rows = latest_query(session_id, limit).all(db).await?;
    rows.reverse();
    Ok(rows)
}

/// The query [`latest`] runs (newest first).
pub fn latest_query(session_id: &str, limit: u64) -> Select<message::Entity> {
    message::Entity::find()
        .filter(message::Column::SessionId.eq(session_id))
        .order_by_desc(message::Column::Seq)
        .limit(limit)
}

/// Every message after `seq`, oldest first (catch-up, however long the gap).
pub async fn after_seq(
    db: &impl ConnectionTrait,
    session_id: &str,
    seq: i64,
) -> AppResult<Vec<message::Model>> {
    Ok(after_seq_query(session_id, seq).all(db).await?)
}

/// The query [`after_seq`] runs.
pub fn after_seq_query(session_id: &str, seq: i64) -> Select<message::Entity> {
    message::Entity::find()
        .filter(message::Column::SessionId.eq(session_id))
        .filter(message::Column::Seq.gt(seq))
        .order_by_asc(message::Column::Seq)
}

/// Which way a page of history goes from its anchor message.
pub enum PageFrom {
    Newest,
    Before(i64),
    After(i64),
}

/// One page of history, oldest first, and whether there is more beyond it.
pub async fn page(
    db: &impl ConnectionTrait,
    session_id: &str,
    from: PageFrom,
    limit: u64,
) -> AppResult<(Vec<message::Model>, bool)> {
    let ascending = matches!(from, PageFrom::After(_));
    let mut rows = page_query(session_id, &from, limit).all(db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    if !ascending {
        rows.reverse();
    }
    Ok((rows, more))
}

/// The query [`page`] runs: one more row than `limit`, in the page's
/// direction (ascending only `After`).
pub fn page_query(session_id: &str, from: &PageFrom, limit: u64) -> Select<message::Entity> {
    let query = message::Entity::find().filter(message::Column::SessionId.eq(session_id));
    let query = match *from {
        PageFrom::Newest => query.order_by_desc(message::Column::Seq),
        PageFrom::Before(seq) => query
            .filter(message::Column::Seq.lt(seq))
            .order_by_desc(message::Column::Seq),
        PageFrom::After(seq) => query
            .filter(message::Column::Seq.gt(seq))
            .order_by_asc(message::Column::Seq),
    };
    query.limit(limit + 1)
}

/// What a mark-read did.
pub struct Read {
    pub session: session::Model,
    pub count: u64,
    /// The newest message marked, when `count > 0`.
    pub up_to: Option<message::Model>,
    pub read_at: i64,
}

/// Sets `readAt` on the other side's unread messages up to `messageId`
/// (all when absent).
pub async fn mark_read(
    db: &DatabaseConnection,
    user: &User,
    req: &MarkReadRequest,
) -> AppResult<Read> {
    let row = sessions::find_participant(db, user, &req.session_id).await?;
    let up_to_seq = match &req.message_id {
        Some(id) => sessions::message_in(db, &row.id, id).await?.seq,
        None => row.last_seq,
    };
    let now = now_ms();
    let other_side = || {
        let unread = message::Column::SessionId
            .eq(&row.id)
            .and(message::Column::Seq.lte(up_to_seq))
            .and(message::Column::ReadAt.is_null());
        if user.role.is_staff() {
            unread.and(message::Column::SenderRole.eq(Role::Customer.as_str()))
        } else {
            unread.and(message::Column::SenderRole.ne(Role::Customer.as_str()))
        }
    };
    let txn = db.begin().await?;
    let result = message::Entity::update_many()
        .col_expr(message::Column::ReadAt, Expr::value(now))
        .filter(other_side())
        .exec(&txn)
        .await?;
    let count = result.rows_affected;
    if count > 0 && user.role.is_staff() {
        session::Entity::update_many()
            .col_expr(
                session::Column::UnreadCount,
                Expr::col(session::Column::UnreadCount).sub(count as i64),
            )
            .filter(session::Column::Id.eq(&row.id))
            .exec(&txn)
            .await?;
    }
    let up_to = if count > 0 {
        message::Entity::find()
            .filter(message::Column::SessionId.eq(&row.id))
            .filter(message::Column::Seq.lte(up_to_seq))
            .filter(message::Column::ReadAt.eq(now))
            .order_by_desc(message::Column::Seq)
            .one(&txn)
            .await?
    } else {
        None
    };
    let session = sessions::reload(&txn, &row.id).await?;
    txn.commit().await?;
    Ok(Read {
        session,
        count,
        up_to,
        read_at: now,
    })
}
