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
    /// Staff: `available` or `away`, as they chose last (docs/protocol.md §7).
    pub availability: String,
    /// Staff: their own capacity for auto-assignment, set by an admin
    /// (`None`: the tenant's `defaultMaxChats`).
    pub max_chats: Option<i32>,
    /// Staff: their last assignment (auto, a take or a transfer to them),
    /// the tie-break of the fairness rule.
    pub last_assigned_at: Option<i64>,
    /// Staff: when their last socket went (`None` while online).
    pub offline_since: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
