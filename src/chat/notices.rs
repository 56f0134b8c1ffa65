//! The last notice of each kind sent (a `queue-update` of a session, an
//! `agent-updated` of an agent, a `service-status` of a tenant), so that
//! when several nodes notice the same change, one of them sends it, once,
//! and never more often than once per window.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

use super::clock::now_ms;
use super::routing::sql::placeholders;
use crate::error::AppResult;

/// What [`claim`] decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Claimed {
    /// The indexes of the items this caller sends now.
    pub send: Vec<usize>,
    /// Some item changed but was sent less than a window ago (or another
    /// node sent it meanwhile): look again after the window.
    pub again: bool,
}

/// The most keys read in one statement.
const CHUNK: usize = 500;

/// For each `(key, value)`: claims the right to send it when it differs
/// from the last value sent under `key` and that one is at least
/// `window_ms` old. The claim is a conditional write, so of several nodes
/// claiming the same change exactly one wins.
pub async fn claim(
    db: &impl ConnectionTrait,
    items: &[(String, String)],
    window_ms: i64,
) -> AppResult<Claimed> {
    #[derive(FromQueryResult)]
    struct Last {
        key: String,
        value: String,
        sent_at: i64,
    }
    let backend = db.get_database_backend();
    let mut last: HashMap<String, (String, i64)> = HashMap::new();
    for chunk in items.chunks(CHUNK) {
        let sql = format!(
            "SELECT key, value, sent_at FROM notices WHERE key IN ({})",
            placeholders(1, chunk.len())
        );
        let values: Vec<sea_orm::Value> = chunk.iter().map(|(k, _)| k.clone().into()).collect();
        let rows = Last::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(db)
            .await?;
        last.extend(rows.into_iter().map(|r| (r.key, (r.value, r.sent_at))));
    }
    let now = now_ms();
    let mut claimed = Claimed::default();
    for (i, (key, value)) in items.iter().enumerate() {
        let won = match last.get(key) {
            Some((sent, _)) if sent == value => continue,
            Some((_, at)) if *at > now - window_ms => {
                claimed.again = true;
                continue;
            }
            Some((sent, at)) => db.execute_raw(Statement::from_sql_and_values(
                backend,
                "UPDATE notices SET value = $2, sent_at = $3 WHERE key = $1 AND value = $4 AND sent_at = $5",
                [key.clone().into(), value.clone().into(), now.into(), sent.clone().into(), (*at).into()],
            )),
            None => db.execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO notices (key, value, sent_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
                [key.clone().into(), value.clone().into(), now.into()],
            )),
        }
        .await?
        .rows_affected()
            == 1;
        if won {
            claimed.send.push(i);
        } else {
            claimed.again = true;
        }
    }
    Ok(claimed)
}

/// Forgets notices older than `age_ms` (at worst one is sent again).
pub async fn forget_older_than(db: &impl ConnectionTrait, age_ms: i64) -> AppResult<u64> {
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "DELETE FROM notices WHERE sent_at < $1",
            [(now_ms() - age_ms).into()],
        ))
        .await?;
    Ok(result.rows_affected())
}
