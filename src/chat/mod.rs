//! The domain: users, sessions, messages and stats, over the database.
//!
//! The rules live here (who may join, send, read or close; what a valid
//! message is; how `seq` is given; how stats are counted) and nowhere else.
//! This layer knows no sockets and no HTTP. Every change is one function
//! that runs its transaction and returns what happened ([`Changed`]: the
//! answer for the caller and the [`Change`]s), and `crate::fanout` turns
//! those into the events of docs/protocol.md §5 for the socket and the
//! REST path alike.

pub mod access;
pub mod attachments;
pub mod bodies;
pub mod canned;
pub mod changes;
pub mod clock;
pub mod input;
pub mod integrations;
pub mod join;
pub mod messages;
pub mod notes;
pub mod notices;
pub mod ratings;
pub mod reports;
pub mod routing;
pub mod sessions;
pub mod stats;
pub mod transcript;
pub mod users;
pub mod views;

use serde::Serialize;

pub use changes::{Change, Changed};
pub use views::{MessageView, NoteView, RatingView, SessionView, Stats, UserRef};

/// The tenant of a token without a `tenant` claim.
pub const DEFAULT_TENANT: &str = "default";

/// The longest tenant accepted (docs/protocol.md §2).
pub const MAX_TENANT_CHARS: usize = 128;

/// A tenant name the server accepts: not blank, at most
/// [`MAX_TENANT_CHARS`] characters.
pub fn is_valid_tenant(tenant: &str) -> bool {
    !tenant.trim().is_empty() && tenant.chars().count() <= MAX_TENANT_CHARS
}

/// Who a user is in the chat. A `bot` (docs/protocol.md §9) is a sender
/// posting through the server API with an API key, never a token's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[derive(utoipa::ToSchema)]
pub enum Role {
    Customer,
    Agent,
    Admin,
    /// A company's bot or gateway writing through the server API with an
    /// API key (docs/protocol.md §10); never a token's role.
    #[value(skip)]
    Bot,
}

impl Role {
    /// Case-insensitive; unknown names are `None` (ignored, never a refusal).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "customer" => Some(Self::Customer),
            "agent" => Some(Self::Agent),
            "admin" => Some(Self::Admin),
            "bot" => Some(Self::Bot),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Agent => "agent",
            Self::Admin => "admin",
            Self::Bot => "bot",
        }
    }

    /// Agents and admins: the "agent side" of a conversation.
    pub fn is_staff(self) -> bool {
        matches!(self, Self::Agent | Self::Admin)
    }

    /// The company's side of a conversation: staff and bots (whose
    /// messages the customer has to read).
    pub fn is_company(self) -> bool {
        self != Self::Customer
    }

    /// A role a token may carry (a bot is only ever an API key's).
    pub fn from_token(name: &str) -> Option<Self> {
        Self::parse(name).filter(|role| *role != Self::Bot)
    }
}

/// The authenticated user of a socket or a REST call, from the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub tenant: String,
    pub role: Role,
    pub name: Option<String>,
    pub email: Option<String>,
}

impl User {
    /// A user without name or e-mail, for tests.
    #[cfg(test)]
    pub fn test(tenant: &str, id: &str, role: Role) -> User {
        User {
            id: id.into(),
            tenant: tenant.into(),
            role,
            name: None,
            email: None,
        }
    }

    pub fn user_ref(&self) -> UserRef {
        UserRef {
            id: self.id.clone(),
            role: self.role,
            name: self.name.clone(),
        }
    }
}

/// A new id for a row the server creates: UUID v7, so ids sort by creation.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
