//! A migrated SQLite database in a temporary directory, for unit tests:
//! depends on nothing of the crate, so any module's tests may use it.

#![allow(clippy::unwrap_used)]

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

/// One connection (the writer alone); the directory lives as long as the
/// returned guard.
pub async fn db() -> (tempfile::TempDir, DatabaseConnection) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
    let mut options = ConnectOptions::new(url);
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    (dir, db)
}
