//! A user the server has seen in a valid token, keyed by `(tenant, id)`:
//! the same JWT subject in two tenants is two people.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `customer`, `agent` or `admin`, as of the last token seen.
    pub role: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub last_seen_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
