//! A private note of staff on a session: never shown to its customer, and
//! not a message (it takes no `seq`). The author's role and name are kept
//! as they were when it was written.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant: String,
    pub session_id: String,
    pub author_id: String,
    pub author_role: String,
    pub author_name: Option<String>,
    pub content: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
