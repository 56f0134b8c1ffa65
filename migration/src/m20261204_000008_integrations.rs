//! Integrations (docs/protocol.md §10): API keys (a SHA-256 of the key,
//! never the key), webhook endpoints (the signing secret, which the server
//! needs to sign), and the outbox: one `webhook_events` row per reported
//! change, written in the change's own transaction, and one
//! `webhook_deliveries` row per subscribed endpoint, which the delivery
//! workers of every node claim with a lease.
//!
//! Plain SQL that both SQLite and PostgreSQL read the same way; the
//! partial index keeps the workers' "what is due" read on pending rows
//! only, however long the delivered history grows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT
    )",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_api_keys_hash ON api_keys (key_hash)",
    "CREATE INDEX IF NOT EXISTS idx_api_keys_tenant ON api_keys (tenant, created_at, id)",
    "CREATE TABLE IF NOT EXISTS webhook_endpoints (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        description TEXT,
        secret TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS idx_webhook_endpoints_tenant ON webhook_endpoints (tenant, created_at, id)",
    "CREATE TABLE IF NOT EXISTS webhook_events (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS idx_webhook_events_created ON webhook_events (created_at)",
    "CREATE TABLE IF NOT EXISTS webhook_deliveries (
        id TEXT PRIMARY KEY,
        event_id TEXT NOT NULL,
        endpoint_id TEXT NOT NULL,
        tenant TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        lease_until BIGINT,
        claimed_by TEXT,
        last_status_code INTEGER,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        delivered_at BIGINT
    )",
    "CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_event ON webhook_deliveries (event_id)",
];

const DOWN: &[&str] = &[
    "DROP TABLE IF EXISTS webhook_deliveries",
    "DROP TABLE IF EXISTS webhook_events",
    "DROP TABLE IF EXISTS webhook_endpoints",
    "DROP TABLE IF EXISTS api_keys",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in UP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in DOWN {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
