//! A support session between one customer and (once taken) one agent.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant: String,
    /// `pending`, `active` or `closed`.
    pub status: String,
    pub subject: Option<String>,
    pub customer_id: String,
    pub agent_id: Option<String>,
    pub created_at: i64,
    pub assigned_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub closed_by_id: Option<String>,
    pub close_reason: Option<String>,
    pub last_message_at: Option<i64>,
    /// The `seq` of the newest message: incremented in the transaction that
    /// inserts a message, which is what makes `seq` gap-free.
    pub last_seq: i64,
    /// Customer messages no agent has read yet (kept in step by the same
    /// transactions that insert messages and mark them read).
    pub unread_count: i64,
    /// For the first-response statistic: the first customer message, and the
    /// first staff message after it.
    pub first_customer_message_at: Option<i64>,
    pub first_response_at: Option<i64>,
    /// When the session last went back to the queue (a transfer without
    /// a target), and the agent who sent it there: auto-assignment does not
    /// give it straight back to them.
    pub queued_at: Option<i64>,
    pub requeued_from: Option<String>,
    /// The customer's rating after close (1..5), set once.
    pub rating_score: Option<i32>,
    pub rating_comment: Option<String>,
    pub rated_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::message::Entity")]
    Message,
}

impl Related<super::message::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Message.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
