//! Support sessions, with the indexes the stats and listings use and the
//! partial unique index that gives a customer at most one open session
//! (the database, not a node, decides a race between two opens).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
pub enum Sessions {
    Table,
    Id,
    Tenant,
    Status,
    Subject,
    CustomerId,
    AgentId,
    CreatedAt,
    AssignedAt,
    ClosedAt,
    ClosedById,
    CloseReason,
    LastMessageAt,
    LastSeq,
    UnreadCount,
    FirstCustomerMessageAt,
    FirstResponseAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Sessions as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(S::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(S::Tenant).string().not_null())
                    .col(ColumnDef::new(S::Status).string().not_null())
                    .col(ColumnDef::new(S::Subject).string())
                    .col(ColumnDef::new(S::CustomerId).string().not_null())
                    .col(ColumnDef::new(S::AgentId).string())
                    .col(ColumnDef::new(S::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(S::AssignedAt).big_integer())
                    .col(ColumnDef::new(S::ClosedAt).big_integer())
                    .col(ColumnDef::new(S::ClosedById).string())
                    .col(ColumnDef::new(S::CloseReason).string())
                    .col(ColumnDef::new(S::LastMessageAt).big_integer())
                    .col(
                        ColumnDef::new(S::LastSeq)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(S::UnreadCount)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(S::FirstCustomerMessageAt).big_integer())
                    .col(ColumnDef::new(S::FirstResponseAt).big_integer())
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_sessions_tenant_status", [S::Tenant, S::Status]),
            ("idx_sessions_tenant_customer", [S::Tenant, S::CustomerId]),
            ("idx_sessions_tenant_closed_at", [S::Tenant, S::ClosedAt]),
            (
                "idx_sessions_tenant_assigned_at",
                [S::Tenant, S::AssignedAt],
            ),
            (
                "idx_sessions_tenant_first_response",
                [S::Tenant, S::FirstResponseAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(S::Table).if_not_exists();
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        // Partial indexes are not in sea-query's builder; this statement is
        // the same on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS uniq_sessions_open_per_customer \
                 ON sessions (tenant, customer_id) WHERE status <> 'closed'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await
    }
}
