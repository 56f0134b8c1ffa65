//! The last notice of each kind sent (a `queue-update` of a session, an
//! `agent-updated` of an agent, a `service-status` of a tenant), so that
//! when several nodes notice the same change, one of them sends it, once,
//! and never more often than once per window.

use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, FromQueryResult, Value};

use super::clock::now_ms;
use super::routing::sql::{all, execute, placeholders, value_rows};
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
    let mut last: HashMap<String, (String, i64)> = HashMap::new();
    for chunk in items.chunks(CHUNK) {
        let sql = format!(
            "SELECT key, value, sent_at FROM notices WHERE key IN ({})",
            placeholders(1, chunk.len())
        );
        let values: Vec<Value> = chunk.iter().map(|(k, _)| k.clone().into()).collect();
        let rows: Vec<Last> = all(db, &sql, values).await?;
        last.extend(rows.into_iter().map(|r| (r.key, (r.value, r.sent_at))));
    }
    let now = now_ms();
    let mut claimed = Claimed::default();
    // What each item asks of the table: nothing, a first row, or the
    // replacement of the row last read (if no other node replaced it).
    let mut first: Vec<usize> = Vec::new();
    let mut replace: Vec<(usize, &str, i64)> = Vec::new();
    for (i, (key, value)) in items.iter().enumerate() {
        match last.get(key) {
            Some((sent, _)) if sent == value => {}
            Some((_, at)) if *at > now - window_ms => claimed.again = true,
            Some((sent, at)) => replace.push((i, sent, *at)),
            None => first.push(i),
        }
    }
    // A few statements however long the queue: a notice per waiting
    // customer written one by one held the writer for seconds with
    // thousands waiting (issue 18).
    let mut won: HashSet<String> = HashSet::new();
    for chunk in first.chunks(CHUNK) {
        let rows: Vec<[Value; 3]> = chunk
            .iter()
            .map(|&i| {
                let (key, value) = &items[i];
                [key.clone().into(), value.clone().into(), now.into()]
            })
            .collect();
        let (rows, values) = value_rows(&rows);
        let sql = format!(
            "INSERT INTO notices (key, value, sent_at) VALUES {rows} \
             ON CONFLICT (key) DO NOTHING RETURNING key"
        );
        won.extend(returned_keys(db, &sql, values).await?);
    }
    for chunk in replace.chunks(CHUNK) {
        let rows: Vec<[Value; 4]> = chunk
            .iter()
            .map(|&(i, sent, at)| {
                let (key, value) = &items[i];
                [
                    key.clone().into(),
                    value.clone().into(),
                    sent.to_string().into(),
                    at.into(),
                ]
            })
            .collect();
        let (rows, mut values) = value_rows(&rows);
        values.push(now.into());
        let sql = format!(
            "UPDATE notices SET value = v.column2, sent_at = ${} \
             FROM (VALUES {rows}) AS v \
             WHERE notices.key = v.column1 AND notices.value = v.column3 AND notices.sent_at = v.column4 \
             RETURNING notices.key",
            values.len()
        );
        won.extend(returned_keys(db, &sql, values).await?);
    }
    for &i in first.iter().chain(replace.iter().map(|(i, _, _)| i)) {
        if won.contains(&items[i].0) {
            claimed.send.push(i);
        } else {
            claimed.again = true;
        }
    }
    claimed.send.sort_unstable();
    Ok(claimed)
}

/// The `key` column of the rows a statement returned.
async fn returned_keys(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> AppResult<Vec<String>> {
    #[derive(FromQueryResult)]
    struct Key {
        key: String,
    }
    let keys: Vec<Key> = all(db, sql, values).await?;
    Ok(keys.into_iter().map(|k| k.key).collect())
}

/// Forgets notices older than `age_ms` (at worst one is sent again).
pub async fn forget_older_than(db: &impl ConnectionTrait, age_ms: i64) -> AppResult<u64> {
    execute(
        db,
        "DELETE FROM notices WHERE sent_at < $1",
        vec![(now_ms() - age_ms).into()],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::db;

    fn items(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn sends_each_change_once_and_a_change_within_the_window_later() {
        let (_dir, db) = db().await;
        let first = items(&[("a", "1"), ("b", "1")]);
        let claimed = claim(&db, &first, 0).await.unwrap();
        assert_eq!(
            claimed,
            Claimed {
                send: vec![0, 1],
                again: false
            }
        );
        // The same values: nothing to send.
        assert_eq!(claim(&db, &first, 0).await.unwrap(), Claimed::default());
        // b changed, within the window: not now, look again.
        let changed = items(&[("a", "1"), ("b", "2"), ("c", "1")]);
        let claimed = claim(&db, &changed, 60_000).await.unwrap();
        assert_eq!(
            claimed,
            Claimed {
                send: vec![2],
                again: true
            }
        );
        // Past the window (0 ms): b is sent, c is not again.
        let claimed = claim(&db, &changed, 0).await.unwrap();
        assert_eq!(
            claimed,
            Claimed {
                send: vec![1],
                again: false
            }
        );
    }

    #[tokio::test]
    async fn a_queue_of_thousands_is_claimed_in_chunks() {
        let (_dir, db) = db().await;
        let n = 2 * CHUNK + 7;
        let keys: Vec<String> = (0..n).map(|i| format!("q:{i}")).collect();
        let one: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), "1".into())).collect();
        assert_eq!(claim(&db, &one, 0).await.unwrap().send.len(), n);
        let two: Vec<(String, String)> = keys.iter().map(|k| (k.clone(), "2".into())).collect();
        let claimed = claim(&db, &two, 0).await.unwrap();
        assert_eq!(claimed.send, (0..n).collect::<Vec<_>>());
        assert!(!claimed.again);
    }
}
