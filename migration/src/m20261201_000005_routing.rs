//! Routing (docs/protocol.md §7): what an agent chose (availability, their
//! own capacity) and when they were last assigned or went offline, on
//! `users`; which node holds which agent's sockets (`agent_presence`, with
//! each node's lease in `nodes`, renewed by its heartbeat, so a dead node's agents go offline);
//! a session sent back to the queue (`queued_at`, `requeued_from`); the
//! log of assignments the wait estimate reads; per-tenant settings; and
//! `notices`, the last `queue-update` / `agent-updated` / `service-status`
//! sent, so several nodes send each change once.
//!
//! Indexes: the queue in order `(tenant, status, created_at, id)`; an
//! agent's load `(tenant, status, agent_id)`; the tenant's staff
//! `(tenant, role)`; agents offline since `(tenant, offline_since)`.

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_sessions::Sessions;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Tenant,
    Role,
    Availability,
    MaxChats,
    LastAssignedAt,
    OfflineSince,
}

#[derive(DeriveIden, Clone, Copy)]
enum Routing {
    QueuedAt,
    RequeuedFrom,
}

#[derive(DeriveIden)]
enum Nodes {
    Table,
    Id,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AgentPresence {
    Table,
    Tenant,
    UserId,
    NodeId,
    Sockets,
}

#[derive(DeriveIden)]
enum Assignments {
    Table,
    Tenant,
    At,
    SessionId,
    AgentId,
}

#[derive(DeriveIden)]
enum TenantSettings {
    Table,
    Tenant,
    Settings,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Notices {
    Table,
    Key,
    Value,
    SentAt,
}

fn add_column(table: impl IntoIden, col: ColumnDef) -> TableAlterStatement {
    Table::alter().table(table).add_column(col).to_owned()
}

fn index(name: &str, table: impl IntoIden + Clone, cols: &[DynIden]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    for col in cols {
        index.col(col.clone());
    }
    index.to_owned()
}

const INDEXES: [&str; 5] = [
    "idx_sessions_queue",
    "idx_sessions_agent_load",
    "idx_users_tenant_role",
    "idx_users_offline",
    "idx_agent_presence_node",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let user_columns = [
            ColumnDef::new(Users::Availability)
                .string()
                .not_null()
                .default("available")
                .to_owned(),
            ColumnDef::new(Users::MaxChats).integer().to_owned(),
            ColumnDef::new(Users::LastAssignedAt)
                .big_integer()
                .to_owned(),
            ColumnDef::new(Users::OfflineSince).big_integer().to_owned(),
        ];
        for col in user_columns {
            manager.alter_table(add_column(Users::Table, col)).await?;
        }
        let session_columns = [
            ColumnDef::new(Routing::QueuedAt).big_integer().to_owned(),
            ColumnDef::new(Routing::RequeuedFrom).string().to_owned(),
        ];
        for col in session_columns {
            manager
                .alter_table(add_column(Sessions::Table, col))
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Nodes::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Nodes::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Nodes::ExpiresAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AgentPresence::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(AgentPresence::Tenant).string().not_null())
                    .col(ColumnDef::new(AgentPresence::UserId).string().not_null())
                    .col(ColumnDef::new(AgentPresence::NodeId).string().not_null())
                    .col(ColumnDef::new(AgentPresence::Sockets).integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(AgentPresence::Tenant)
                            .col(AgentPresence::UserId)
                            .col(AgentPresence::NodeId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Assignments::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Assignments::Tenant).string().not_null())
                    .col(ColumnDef::new(Assignments::At).big_integer().not_null())
                    .col(ColumnDef::new(Assignments::SessionId).string().not_null())
                    .col(ColumnDef::new(Assignments::AgentId).string().not_null())
                    .primary_key(
                        Index::create()
                            .col(Assignments::Tenant)
                            .col(Assignments::At)
                            .col(Assignments::SessionId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TenantSettings::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(TenantSettings::Tenant)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TenantSettings::Settings).text().not_null())
                    .col(
                        ColumnDef::new(TenantSettings::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notices::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Notices::Key)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Notices::Value).text().not_null())
                    .col(ColumnDef::new(Notices::SentAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        let s = |c: Sessions| -> DynIden { c.into_iden() };
        let indexes = [
            index(
                INDEXES[0],
                Sessions::Table,
                &[
                    s(Sessions::Tenant),
                    s(Sessions::Status),
                    s(Sessions::CreatedAt),
                    s(Sessions::Id),
                ],
            ),
            index(
                INDEXES[1],
                Sessions::Table,
                &[
                    s(Sessions::Tenant),
                    s(Sessions::Status),
                    s(Sessions::AgentId),
                ],
            ),
            index(
                INDEXES[2],
                Users::Table,
                &[Users::Tenant.into_iden(), Users::Role.into_iden()],
            ),
            index(
                INDEXES[3],
                Users::Table,
                &[Users::Tenant.into_iden(), Users::OfflineSince.into_iden()],
            ),
            index(
                INDEXES[4],
                AgentPresence::Table,
                &[AgentPresence::NodeId.into_iden()],
            ),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Notices::Table.into_iden(),
            TenantSettings::Table.into_iden(),
            Assignments::Table.into_iden(),
            AgentPresence::Table.into_iden(),
            Nodes::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        for name in &INDEXES[..4] {
            manager
                .drop_index(Index::drop().name(*name).if_exists().to_owned())
                .await?;
        }
        for col in [Routing::QueuedAt, Routing::RequeuedFrom] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        for col in [
            Users::Availability,
            Users::MaxChats,
            Users::LastAssignedAt,
            Users::OfflineSince,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
