//! An uploaded file (docs/protocol.md §8). Its bytes are in the object
//! store under its id (and its thumbnail under `thumbnail`); `message_id`
//! is null until a message takes it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant: String,
    pub session_id: String,
    pub uploader_id: String,
    pub message_id: Option<String>,
    /// Its place among the message's attachments (0, 1, …).
    pub position: Option<i32>,
    /// The cleaned file name.
    pub name: String,
    /// Detected from the bytes.
    pub content_type: String,
    pub size: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// The thumbnail's content type (images only).
    pub thumbnail: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
