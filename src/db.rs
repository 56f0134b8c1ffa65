//! The database connection: SQLite (embedded default) or PostgreSQL, with
//! the migrations run at start-up.

use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::config::{ServerConfig, redact_url};

/// How long a request waits for a connection before it is `unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn connect(config: &ServerConfig) -> anyhow::Result<DatabaseConnection> {
    let url = &config.database_url;
    let mut options = ConnectOptions::new(url.clone());
    options
        .sqlx_logging(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(ACQUIRE_TIMEOUT);
    if url.starts_with("sqlite:") {
        let synchronous = SqliteSynchronous::from_str(&config.sqlite_synchronous)
            .map_err(|e| anyhow::anyhow!("SQLITE_SYNCHRONOUS: {e}"))?;
        // One connection: SQLite has one writer anyway, and a single
        // connection never meets SQLITE_BUSY between its own transactions.
        // WAL + NORMAL: a committed transaction survives a crash of the
        // process (FULL adds power-loss durability).
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
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

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))
}
