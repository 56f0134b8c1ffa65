//! Reading messages back, oldest first: the newest page, pages before or
//! after a message, and catch-up after a `seq`.

use entities::message;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

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
/// direction (ascending only `After`). Public for the query-plan test.
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
