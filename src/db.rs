//! The database connection: SQLite (embedded default) or PostgreSQL, with
//! the migrations run at start-up.

use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    TransactionTrait,
};

use crate::config::{ServerConfig, redact_url};

/// How long a request waits for a connection before it is `unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the SQLite connection lives before it is reopened. An open
/// file descriptor keeps writing to a file whose permissions were taken
/// away (or that was replaced or unmounted underneath): reopening it now
/// and then makes the server see the file as it is, so it fails events
/// with `unavailable` and `/health` with 503 while the file is not
/// writable, and recovers by itself once it is. Reopening costs well
/// under a millisecond.
const SQLITE_REOPEN_AFTER: Duration = Duration::from_secs(5);

pub async fn connect(config: &ServerConfig) -> anyhow::Result<DatabaseConnection> {
    let url = &config.database_url;
    let mut options = ConnectOptions::new(url.clone());
    options
        .sqlx_logging(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(ACQUIRE_TIMEOUT);
    if url.starts_with("sqlite:") {
        let synchronous = SqliteSynchronous::from_str(config.sqlite_synchronous.as_str())
            .map_err(|e| anyhow::anyhow!("SQLITE_SYNCHRONOUS: {e}"))?;
        // One connection: SQLite has one writer anyway, and a single
        // connection never meets SQLITE_BUSY between its own transactions.
        // WAL + NORMAL: a committed transaction survives a crash of the
        // process (FULL adds power-loss durability).
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(SQLITE_REOPEN_AFTER)
            .map_sqlx_sqlite_opts(move |o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(synchronous)
                    .busy_timeout(ACQUIRE_TIMEOUT)
                    .foreign_keys(true)
            });
    } else {
        options.max_connections(16).min_connections(1);
    }
    let db = Database::connect(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", redact_url(url)))?;
    Ok(db)
}

/// Key of the PostgreSQL advisory lock that serialises migrations.
const MIGRATION_LOCK: i64 = 0x5357_4254_4348_4244; // "SWBTCHBD"

/// Runs the pending migrations. On PostgreSQL several nodes may start at
/// once on a fresh database (docker compose starts them together): without
/// a lock, two `CREATE TABLE IF NOT EXISTS` race and one fails on
/// `pg_type_typname_nsp_index`. So the migrations run in one transaction
/// holding a transaction-level advisory lock: the other nodes wait for it,
/// then find nothing left to do. (PostgreSQL DDL is transactional; the
/// migrator's own per-migration transactions become savepoints.) SQLite
/// has a single writer and needs none of this.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    let failed = |e: DbErr| anyhow::anyhow!("migrations failed: {e}");
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await.map_err(failed);
    }
    let txn = db.begin().await.map_err(failed)?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await
        .map_err(failed)?;
    Migrator::up(&txn, None).await.map_err(failed)?;
    txn.commit().await.map_err(failed)
}

/// Whether the database can take a write right now. A SELECT is not
/// enough on SQLite: a file opened read-only answers reads. So on SQLite
/// this starts a write transaction (an UPDATE that matches no row still
/// takes the write lock, and fails on a read-only or locked file) and
/// rolls it back; on PostgreSQL it is a ping.
pub async fn writable(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return db.ping().await;
    }
    let txn = db.begin().await?;
    let probe = txn
        .execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0")
        .await;
    txn.rollback().await?;
    probe.map(|_| ())
}
