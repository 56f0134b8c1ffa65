//! A chat message. The sender's role and name are kept as they were when the
//! message was sent, so history does not change when a user is renamed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub session_id: String,
    /// Denormalised from the session so per-tenant counts need no join.
    pub tenant: String,
    /// 1, 2, 3… within the session, in commit order.
    pub seq: i64,
    pub sender_id: String,
    pub sender_role: String,
    pub sender_name: Option<String>,
    pub content: String,
    pub client_message_id: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
    /// How many attachments the message has (docs/protocol.md §8), so
    /// reading history looks them up only where there are some.
    pub attachments: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::session::Entity",
        from = "Column::SessionId",
        to = "super::session::Column::Id"
    )]
    Session,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
