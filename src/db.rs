//! The database connections: SQLite (embedded default) or PostgreSQL, with
//! the migrations run at start-up.
//!
//! Two pools, so that no read stalls the chat. Writes (messages, session
//! changes, users) go to the writer; the reads a person waits on that
//! change nothing (REST lists and pages, the stats) go to the reader:
//! - SQLite: the writer is one connection (SQLite has one writer anyway);
//!   the reader is `--database-readers` read-only connections, which WAL
//!   lets read beside the writer. A slow list then waits for a reader, not
//!   in front of every `send-message`.
//! - PostgreSQL: the writer is `--database-max-connections`, the reader
//!   `--database-readers` connections whose statements are cancelled after
//!   `--read-timeout-ms` (and which refuse to write), so a runaway read
//!   gives its connection back and never holds the chat's.

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

/// How long a SQLite connection lives before it is reopened. An open
/// file descriptor keeps writing to a file whose permissions were taken
/// away (or that was replaced or unmounted underneath): reopening it now
/// and then makes the server see the file as it is, so it fails events
/// with `unavailable` and `/health` with 503 while the file is not
/// writable, and recovers by itself once it is. Reopening costs well
/// under a millisecond. The readers are reopened as often, so that they
/// too read the file that is there now.
const SQLITE_REOPEN_AFTER: Duration = Duration::from_secs(5);

/// Rows `ANALYZE` (run by `PRAGMA optimize`) samples per index: enough for
/// the planner to tell a selective index from a poor one, and milliseconds
/// on a database of any size (an unbounded `ANALYZE` reads every index).
const SQLITE_ANALYSIS_LIMIT: u32 = 1000;

/// The two pools; on SQLite the reader's connections are read-only.
#[derive(Clone)]
pub struct Databases {
    pub writer: DatabaseConnection,
    pub reader: DatabaseConnection,
}

/// Opens the writer, then the reader (a read-only SQLite connection cannot
/// create the file: the writer does, on a fresh database).
pub async fn connect(config: &ServerConfig) -> anyhow::Result<Databases> {
    let writer = open(config, Role::Writer).await?;
    let reader = open(config, Role::Reader).await?;
    Ok(Databases { writer, reader })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

async fn open(config: &ServerConfig, role: Role) -> anyhow::Result<DatabaseConnection> {
    let url = &config.database_url;
    let mut options = ConnectOptions::new(url.clone());
    options
        .sqlx_logging(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(ACQUIRE_TIMEOUT);
    let readers = config.database_readers.max(1);
    if url.starts_with("sqlite:") {
        let synchronous = SqliteSynchronous::from_str(config.sqlite_synchronous.as_str())
            .map_err(|e| anyhow::anyhow!("SQLITE_SYNCHRONOUS: {e}"))?;
        options
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(SQLITE_REOPEN_AFTER);
        match role {
            // One connection: SQLite has one writer anyway, and a single
            // connection never meets SQLITE_BUSY between its own
            // transactions. WAL + NORMAL: a committed transaction survives
            // a crash of the process (FULL adds power-loss durability).
            Role::Writer => options.max_connections(1).map_sqlx_sqlite_opts(move |o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(synchronous)
                    .busy_timeout(ACQUIRE_TIMEOUT)
                    .foreign_keys(true)
            }),
            // Read-only: a write through the reader is a bug, and fails.
            // The journal mode is the file's (WAL, set by the writer).
            Role::Reader => options.max_connections(readers).map_sqlx_sqlite_opts(|o| {
                o.read_only(true)
                    .create_if_missing(false)
                    .busy_timeout(ACQUIRE_TIMEOUT)
            }),
        };
    } else {
        match role {
            Role::Writer => options
                .max_connections(config.database_max_connections.max(1))
                .min_connections(1),
            Role::Reader => {
                let timeout = config.read_timeout_ms.to_string();
                options
                    .max_connections(readers)
                    .min_connections(1)
                    .map_sqlx_postgres_opts(move |o| {
                        o.options([
                            ("statement_timeout", timeout.as_str()),
                            ("default_transaction_read_only", "on"),
                        ])
                    })
            }
        };
    }
    Database::connect(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", redact_url(url)))
}

/// Keeps SQLite's planner statistics fresh: `PRAGMA optimize` once now and
/// then every `--sqlite-optimize-seconds`. Without statistics SQLite may
/// pick a poor index on a big table. It checks every table (`0x10000`) and
/// runs `ANALYZE` only where the statistics are missing or stale, sampling
/// [`SQLITE_ANALYSIS_LIMIT`] rows per index, so it takes milliseconds.
/// PostgreSQL's autovacuum does the same there: nothing to start.
pub fn spawn_optimizer(db: &DatabaseConnection, config: &ServerConfig) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let db = db.clone();
    let period = Duration::from_secs(config.sqlite_optimize_seconds.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            match optimize(&db).await {
                Ok(()) => tracing::debug!("planner statistics checked"),
                Err(err) => tracing::warn!(%err, "PRAGMA optimize failed"),
            }
        }
    });
}

/// The limit is set in the same transaction (so on the same connection)
/// as `PRAGMA optimize`: set only as a connection option, it was not in
/// effect, and the first `ANALYZE` of a 4 GB file held the writer for
/// minutes.
async fn optimize(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}"))
        .await?;
    txn.execute_unprepared("PRAGMA optimize = 0x10002").await?;
    txn.commit().await
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
