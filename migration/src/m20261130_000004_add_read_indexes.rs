//! Indexes that give the session lists their filter and their order, so a
//! page costs the same on a year of history as on an empty database:
//! `(tenant, id)` for an agent's list, `(tenant, status, id)` for a list by
//! status (and the stats' pending/active counts), `(tenant, customer_id,
//! id)` for a customer's own list. Sessions are listed newest first by id
//! (UUIDv7, time-ordered), and without `id` in the index the database
//! sorts every matching session to return 50.
//!
//! The last two replace `(tenant, status)` and `(tenant, customer_id)`,
//! their prefixes, which are dropped: one index less to write per change.
//! (Message history, catch-up and the stats' message counts already have
//! theirs: `(session_id, seq)` and `(tenant, created_at)`.)

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_sessions::Sessions;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NEW: [(&str, &[Sessions]); 3] = [
    ("idx_sessions_tenant_id", &[Sessions::Tenant, Sessions::Id]),
    (
        "idx_sessions_tenant_status_id",
        &[Sessions::Tenant, Sessions::Status, Sessions::Id],
    ),
    (
        "idx_sessions_tenant_customer_id",
        &[Sessions::Tenant, Sessions::CustomerId, Sessions::Id],
    ),
];

const REPLACED: [(&str, &[Sessions]); 2] = [
    (
        "idx_sessions_tenant_status",
        &[Sessions::Tenant, Sessions::Status],
    ),
    (
        "idx_sessions_tenant_customer",
        &[Sessions::Tenant, Sessions::CustomerId],
    ),
];

fn create(name: &str, cols: &[Sessions]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Sessions::Table).if_not_exists();
    for col in cols {
        index.col(*col);
    }
    index.to_owned()
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop()
        .name(name)
        .table(Sessions::Table)
        .if_exists()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, cols) in NEW {
            manager.create_index(create(name, cols)).await?;
        }
        for (name, _) in REPLACED {
            manager.drop_index(drop(name)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, cols) in REPLACED {
            manager.create_index(create(name, cols)).await?;
        }
        for (name, _) in NEW {
            manager.drop_index(drop(name)).await?;
        }
        Ok(())
    }
}
