//! Messages, unique by `(session, seq)` and by `(session, sender,
//! clientMessageId)` so retries and races cannot store a message twice.

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_sessions::Sessions;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    SessionId,
    Tenant,
    Seq,
    SenderId,
    SenderRole,
    SenderName,
    Content,
    ClientMessageId,
    CreatedAt,
    ReadAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Messages as M;
        manager
            .create_table(
                Table::create()
                    .table(M::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(M::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(M::SessionId).string().not_null())
                    .col(ColumnDef::new(M::Tenant).string().not_null())
                    .col(ColumnDef::new(M::Seq).big_integer().not_null())
                    .col(ColumnDef::new(M::SenderId).string().not_null())
                    .col(ColumnDef::new(M::SenderRole).string().not_null())
                    .col(ColumnDef::new(M::SenderName).string())
                    .col(ColumnDef::new(M::Content).text().not_null())
                    .col(ColumnDef::new(M::ClientMessageId).string())
                    .col(ColumnDef::new(M::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(M::ReadAt).big_integer())
                    .foreign_key(
                        ForeignKey::create()
                            .from(M::Table, M::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_messages_session_seq")
                    .table(M::Table)
                    .if_not_exists()
                    .unique()
                    .col(M::SessionId)
                    .col(M::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uniq_messages_client_id")
                    .table(M::Table)
                    .if_not_exists()
                    .unique()
                    .col(M::SessionId)
                    .col(M::SenderId)
                    .col(M::ClientMessageId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_tenant_created_at")
                    .table(M::Table)
                    .if_not_exists()
                    .col(M::Tenant)
                    .col(M::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Messages::Table).to_owned())
            .await
    }
}
