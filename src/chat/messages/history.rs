//! Reading messages back, oldest first: the newest page, pages before or
//! after a message, and catch-up after a `seq`.

use entities::message;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::error::AppResult;

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
    let query = message::Entity::find().filter(message::Column::SessionId.eq(session_id));
    let (query, ascending) = match from {
        PageFrom::Newest => (query.order_by_desc(message::Column::Seq), false),
        PageFrom::Before(seq) => (
            query
                .filter(message::Column::Seq.lt(seq))
                .order_by_desc(message::Column::Seq),
            false,
        ),
        PageFrom::After(seq) => (
            query
                .filter(message::Column::Seq.gt(seq))
                .order_by_asc(message::Column::Seq),
            true,
        ),
    };
    let mut rows = query.limit(limit + 1).all(db).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    if !ascending {
        rows.reverse();
    }
    Ok((rows, more))
}
