//! Agent tools (docs/protocol.md §11): private notes (a table of their own:
//! a note is not a message and takes no `seq`), canned responses (unique
//! shortcut per tenant), a session's rating (three columns on `sessions`,
//! set once), and the indexes the reports read by time: sessions by
//! `(tenant, created_at)` and `(tenant, rated_at)` (the others exist).

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_sessions::Sessions;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Notes {
    Table,
    Id,
    Tenant,
    SessionId,
    AuthorId,
    AuthorRole,
    AuthorName,
    Content,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CannedResponses {
    Table,
    Id,
    Tenant,
    Shortcut,
    Title,
    Content,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SessionColumns {
    Tenant,
    CreatedAt,
    RatingScore,
    RatingComment,
    RatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notes::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Notes::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Notes::Tenant).string().not_null())
                    .col(ColumnDef::new(Notes::SessionId).string().not_null())
                    .col(ColumnDef::new(Notes::AuthorId).string().not_null())
                    .col(ColumnDef::new(Notes::AuthorRole).string().not_null())
                    .col(ColumnDef::new(Notes::AuthorName).string())
                    .col(ColumnDef::new(Notes::Content).text().not_null())
                    .col(ColumnDef::new(Notes::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CannedResponses::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(CannedResponses::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(CannedResponses::Tenant).string().not_null())
                    .col(
                        ColumnDef::new(CannedResponses::Shortcut)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CannedResponses::Title).string())
                    .col(ColumnDef::new(CannedResponses::Content).text().not_null())
                    .col(
                        ColumnDef::new(CannedResponses::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CannedResponses::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let columns = [
            ColumnDef::new(SessionColumns::RatingScore)
                .integer()
                .to_owned(),
            ColumnDef::new(SessionColumns::RatingComment)
                .text()
                .to_owned(),
            ColumnDef::new(SessionColumns::RatedAt)
                .big_integer()
                .to_owned(),
        ];
        for col in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(col)
                        .to_owned(),
                )
                .await?;
        }
        let indexes = [
            Index::create()
                .name("idx_notes_session")
                .table(Notes::Table)
                .col(Notes::SessionId)
                .col(Notes::CreatedAt)
                .col(Notes::Id)
                .if_not_exists()
                .to_owned(),
            Index::create()
                .name("idx_canned_tenant_shortcut")
                .table(CannedResponses::Table)
                .col(CannedResponses::Tenant)
                .col(CannedResponses::Shortcut)
                .unique()
                .if_not_exists()
                .to_owned(),
            Index::create()
                .name("idx_sessions_tenant_created_at")
                .table(Sessions::Table)
                .col(SessionColumns::Tenant)
                .col(SessionColumns::CreatedAt)
                .if_not_exists()
                .to_owned(),
            Index::create()
                .name("idx_sessions_tenant_rated_at")
                .table(Sessions::Table)
                .col(SessionColumns::Tenant)
                .col(SessionColumns::RatedAt)
                .if_not_exists()
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx_sessions_tenant_rated_at",
            "idx_sessions_tenant_created_at",
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Sessions::Table).to_owned())
                .await?;
        }
        for col in [
            SessionColumns::RatedAt,
            SessionColumns::RatingComment,
            SessionColumns::RatingScore,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(CannedResponses::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Notes::Table).to_owned())
            .await
    }
}
