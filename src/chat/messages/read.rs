//! `mark-read`: the other side's unread messages up to one, read now.

use entities::{message, session};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use crate::chat::changes::{self, Change, ReadReceipt};
use crate::chat::clock::now_ms;
use crate::chat::input::MarkReadRequest;
use crate::chat::{Changed, Role, User, sessions};
use crate::error::AppResult;

/// Sets `readAt` on the other side's unread messages up to `messageId`
/// (all when absent); the answer is how many. With nothing unread, nothing
/// is written.
pub async fn mark_read(
    db: &DatabaseConnection,
    user: &User,
    req: &MarkReadRequest,
) -> AppResult<Changed<u64>> {
    let row = sessions::find_participant(db, user, &req.session_id).await?;
    let up_to_seq = match &req.message_id {
        Some(id) => sessions::message_in(db, &row.id, id).await?.seq,
        None => row.last_seq,
    };
    let unread = unread_of_other_side(user, &row.id, up_to_seq);
    let Some(newest) = message::Entity::find()
        .filter(unread.clone())
        .order_by_desc(message::Column::Seq)
        .one(db)
        .await?
    else {
        return Ok(Changed::nothing(&user.tenant, 0));
    };
    let now = now_ms();
    let txn = db.begin().await?;
    let count = message::Entity::update_many()
        .col_expr(message::Column::ReadAt, Expr::value(now))
        .filter(unread)
        .exec(&txn)
        .await?
        .rows_affected;
    if count == 0 {
        // Someone else marked them first.
        txn.rollback().await?;
        return Ok(Changed::nothing(&user.tenant, 0));
    }
    if user.role.is_staff() {
        session::Entity::update_many()
            .col_expr(
                session::Column::UnreadCount,
                Expr::col(session::Column::UnreadCount).sub(count as i64),
            )
            .filter(session::Column::Id.eq(&row.id))
            .exec(&txn)
            .await?;
    }
    let changes = vec![Change::MessagesRead(ReadReceipt {
        session_id: row.id.clone(),
        reader: user.user_ref(),
        up_to_message_id: newest.id,
        up_to_seq: newest.seq,
        read_at: now,
        count,
    })];
    changes::commit(txn, &user.tenant, &changes).await?;
    Ok(Changed::new(&user.tenant, count, changes))
}

/// Messages of the other side of `user` in the session, unread, up to `seq`.
fn unread_of_other_side(user: &User, session_id: &str, seq: i64) -> Condition {
    let customer = Role::Customer.as_str();
    let other_side = if user.role.is_staff() {
        message::Column::SenderRole.eq(customer)
    } else {
        message::Column::SenderRole.ne(customer)
    };
    Condition::all()
        .add(message::Column::SessionId.eq(session_id))
        .add(message::Column::Seq.lte(seq))
        .add(message::Column::ReadAt.is_null())
        .add(other_side)
}
