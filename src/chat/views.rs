//! The shapes of docs/protocol.md §3 as they go on the wire (camelCase JSON).

use serde::Serialize;
use utoipa::ToSchema;

use super::Role;
use super::access::SessionStatus;
use super::attachments::AttachmentView;
use super::clock::rfc3339;
use super::routing::QueueInfo;
use entities::{message, note, session};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserRef {
    pub id: String,
    pub role: Role,
    #[schema(required)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Session)]
pub struct SessionView {
    pub id: String,
    #[schema(value_type = SessionStatus)]
    pub status: String,
    #[schema(required)]
    pub subject: Option<String>,
    pub customer: UserRef,
    #[schema(required)]
    pub agent: Option<UserRef>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(required, format = DateTime)]
    pub assigned_at: Option<String>,
    #[schema(required, format = DateTime)]
    pub closed_at: Option<String>,
    #[schema(required)]
    pub closed_by: Option<UserRef>,
    #[schema(required, format = DateTime)]
    pub last_message_at: Option<String>,
    #[schema(minimum = 0)]
    pub unread_count: i64,
    /// Present exactly while the session is pending (docs/protocol.md §8).
    #[schema(required)]
    pub queue: Option<QueueInfo>,
    /// The customer's rating after close (docs/protocol.md §11), or null.
    #[schema(required)]
    pub rating: Option<RatingView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Rating)]
pub struct RatingView {
    #[schema(minimum = 1, maximum = 5)]
    pub score: i32,
    #[schema(required)]
    pub comment: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A private note (docs/protocol.md §11): staff only.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Note)]
pub struct NoteView {
    pub id: String,
    pub session_id: String,
    pub author: UserRef,
    pub content: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&note::Model> for NoteView {
    fn from(row: &note::Model) -> Self {
        Self {
            id: row.id.clone(),
            session_id: row.session_id.clone(),
            author: UserRef {
                id: row.author_id.clone(),
                role: Role::parse(&row.author_role).unwrap_or(Role::Agent),
                name: row.author_name.clone(),
            },
            content: row.content.clone(),
            created_at: rfc3339(row.created_at),
        }
    }
}

impl SessionView {
    /// `lookup` names the users the row refers to (see
    /// `users::session_views`, which looks them up in one query).
    pub fn new(row: &session::Model, lookup: impl Fn(&str) -> UserRef) -> Self {
        Self {
            id: row.id.clone(),
            status: row.status.clone(),
            subject: row.subject.clone(),
            customer: lookup(&row.customer_id),
            agent: row.agent_id.as_deref().map(&lookup),
            created_at: rfc3339(row.created_at),
            assigned_at: row.assigned_at.map(rfc3339),
            closed_at: row.closed_at.map(rfc3339),
            closed_by: row.closed_by_id.as_deref().map(&lookup),
            last_message_at: row.last_message_at.map(rfc3339),
            unread_count: row.unread_count,
            queue: None,
            rating: row.rating_score.map(|score| RatingView {
                score,
                comment: row.rating_comment.clone(),
                created_at: rfc3339(row.rated_at.unwrap_or(row.created_at)),
            }),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Message)]
pub struct MessageView {
    pub id: String,
    pub session_id: String,
    #[schema(minimum = 1)]
    pub seq: i64,
    pub sender: UserRef,
    pub content: String,
    #[schema(required)]
    pub client_message_id: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(required, format = DateTime)]
    pub read_at: Option<String>,
    /// Filled in by `Attachments::messages` for the messages that have
    /// some (docs/protocol.md §9); `[]` on the wire when none.
    pub attachments: Vec<AttachmentView>,
}

impl From<&message::Model> for MessageView {
    fn from(row: &message::Model) -> Self {
        Self {
            id: row.id.clone(),
            session_id: row.session_id.clone(),
            seq: row.seq,
            sender: UserRef {
                id: row.sender_id.clone(),
                role: Role::parse(&row.sender_role).unwrap_or(Role::Customer),
                name: row.sender_name.clone(),
            },
            content: row.content.clone(),
            client_message_id: row.client_message_id.clone(),
            created_at: rfc3339(row.created_at),
            read_at: row.read_at.map(rfc3339),
            attachments: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    #[schema(minimum = 0)]
    pub pending_sessions: i64,
    #[schema(minimum = 0)]
    pub active_sessions: i64,
    #[schema(minimum = 0)]
    pub closed_today: i64,
    #[schema(minimum = 0)]
    pub messages_today: i64,
    pub online_agents: usize,
    pub online_customers: usize,
    #[schema(required)]
    pub avg_wait_seconds: Option<f64>,
    #[schema(required)]
    pub avg_first_response_seconds: Option<f64>,
    #[schema(minimum = 0)]
    pub available_agents: i64,
    /// Ratings given today (UTC), and their mean score (docs/protocol.md §11).
    #[schema(minimum = 0)]
    pub ratings_today: i64,
    #[schema(required)]
    pub avg_rating_today: Option<f64>,
    #[schema(format = DateTime)]
    pub generated_at: String,
}
