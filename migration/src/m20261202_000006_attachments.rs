//! Attachments (docs/protocol.md §8): one row per upload, its bytes (and
//! thumbnail) in the object store under its id. `message_id` stays null
//! until a message takes it: sending sets it in the message's transaction,
//! and the sweep deletes rows still null a day after upload, both
//! conditional on it being null. `messages.attachments` counts a message's
//! attachments, so reading history looks them up only for messages that
//! have some.
//!
//! `position` is the attachment's place in its message, as the sender
//! listed them. One index serves both reads: a message's attachments, and
//! the sweep's unsent uploads by age, `(message_id, created_at)`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Attachments {
    Table,
    Id,
    Tenant,
    SessionId,
    UploaderId,
    MessageId,
    Position,
    Name,
    ContentType,
    Size,
    Width,
    Height,
    Thumbnail,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Attachments,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Attachments::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Attachments::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Attachments::Tenant).string().not_null())
                    .col(ColumnDef::new(Attachments::SessionId).string().not_null())
                    .col(ColumnDef::new(Attachments::UploaderId).string().not_null())
                    .col(ColumnDef::new(Attachments::MessageId).string())
                    .col(ColumnDef::new(Attachments::Position).integer())
                    .col(ColumnDef::new(Attachments::Name).string().not_null())
                    .col(ColumnDef::new(Attachments::ContentType).string().not_null())
                    .col(ColumnDef::new(Attachments::Size).big_integer().not_null())
                    .col(ColumnDef::new(Attachments::Width).integer())
                    .col(ColumnDef::new(Attachments::Height).integer())
                    .col(ColumnDef::new(Attachments::Thumbnail).string())
                    .col(
                        ColumnDef::new(Attachments::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attachments_message")
                    .table(Attachments::Table)
                    .col(Attachments::MessageId)
                    .col(Attachments::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(
                        ColumnDef::new(Messages::Attachments)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(Messages::Attachments)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Attachments::Table).to_owned())
            .await
    }
}
