//! The webhook event types of docs/protocol.md §10, and which change is
//! reported as which.

use serde::Serialize;
use utoipa::ToSchema;

use crate::chat::Change;

/// What a webhook is told of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = WebhookEventType)]
pub enum EventType {
    #[serde(rename = "session.created")]
    SessionCreated,
    /// Assigned, transferred, back to the queue, rated.
    #[serde(rename = "session.updated")]
    SessionUpdated,
    #[serde(rename = "session.closed")]
    SessionClosed,
    /// Customer, agent and bot messages; never notes.
    #[serde(rename = "message.created")]
    MessageCreated,
    #[serde(rename = "note.created")]
    NoteCreated,
}

impl EventType {
    pub const ALL: [Self; 5] = [
        Self::SessionCreated,
        Self::SessionUpdated,
        Self::SessionClosed,
        Self::MessageCreated,
        Self::NoteCreated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionCreated => "session.created",
            Self::SessionUpdated => "session.updated",
            Self::SessionClosed => "session.closed",
            Self::MessageCreated => "message.created",
            Self::NoteCreated => "note.created",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The type a change is reported as, if any (notes are never a
    /// `message.created`; read receipts, agents and settings are not
    /// reported).
    pub fn of(change: &Change) -> Option<Self> {
        match change {
            Change::SessionOpened(_) => Some(Self::SessionCreated),
            Change::SessionAssigned { .. }
            | Change::SessionRequeued { .. }
            | Change::SessionRated(_) => Some(Self::SessionUpdated),
            Change::SessionClosed { .. } => Some(Self::SessionClosed),
            Change::MessageStored(_) => Some(Self::MessageCreated),
            Change::NoteAdded(_) => Some(Self::NoteCreated),
            Change::MessagesRead(_) | Change::AgentChanged(_) | Change::SettingsChanged(_) => None,
        }
    }
}

/// A stored list of types (`"a,b"`), unknown names skipped.
pub fn parse_list(stored: &str) -> Vec<EventType> {
    stored.split(',').filter_map(EventType::parse).collect()
}

pub fn join_list(types: &[EventType]) -> String {
    types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_wire_names() {
        for t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            parse_list(&join_list(&EventType::ALL)),
            EventType::ALL.to_vec()
        );
        assert_eq!(EventType::parse("message.deleted"), None);
    }
}
