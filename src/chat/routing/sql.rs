//! Small helpers for the routing statements, written in SQL that SQLite
//! and PostgreSQL both run (`$N` placeholders work on both).

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};

use crate::error::AppResult;

pub fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, sql, values)
}

/// Runs a statement that changes rows; the number it changed.
pub async fn execute(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> AppResult<u64> {
    let result = db
        .execute_raw(statement(db.get_database_backend(), sql, values))
        .await?;
    Ok(result.rows_affected())
}

/// The rows of a query, as `T`.
pub async fn all<T: FromQueryResult>(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> AppResult<Vec<T>> {
    let statement = statement(db.get_database_backend(), sql, values);
    Ok(T::find_by_statement(statement).all(db).await?)
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

/// A query of one `n` column (a `COUNT(*) AS n`).
pub async fn count(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> AppResult<i64> {
    Ok(all::<Count>(db, sql, values)
        .await?
        .first()
        .map_or(0, |row| row.n))
}

/// `$from, $from+1, …` for `n` values of an `IN (…)` list.
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, …, $N), ($N+1, …)` for rows of `N` values each, and the values in
/// the same order: the `VALUES` of a multi-row statement.
pub fn value_rows<const N: usize>(rows: &[[Value; N]]) -> (String, Vec<Value>) {
    let tuples: Vec<String> = (0..rows.len())
        .map(|i| format!("({})", placeholders(i * N + 1, N)))
        .collect();
    let values = rows.iter().flat_map(|row| row.iter().cloned()).collect();
    (tuples.join(", "), values)
}

/// The staff users of tenant `$1` who are online: a socket on a node whose
/// lease (`$2` is now) has not run out.
pub const ONLINE_IDS: &str = "SELECT p.user_id FROM agent_presence p \
    JOIN nodes n ON n.id = p.node_id WHERE p.tenant = $1 AND n.expires_at >= $2";

/// How many staff of tenant `$1` are routable (`$2`: now).
pub fn available_sql() -> String {
    format!(
        "SELECT COUNT(*) AS n FROM users WHERE tenant = $1 AND availability = 'available' \
         AND role IN ('agent', 'admin') AND id IN ({ONLINE_IDS})"
    )
}

/// How many staff of the tenant are routable: online and available. (A
/// read beside the others here, so that the queue and the stats read it
/// without depending on the module that changes agents.)
pub async fn available_count(db: &impl ConnectionTrait, tenant: &str) -> AppResult<i64> {
    count(
        db,
        &available_sql(),
        vec![tenant.into(), crate::chat::clock::now_ms().into()],
    )
    .await
}
