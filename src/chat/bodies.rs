//! The REST bodies read by the parsers of [`super::input`], as types for the
//! OpenAPI document (`crate::http::openapi`). The parsers read JSON values
//! (the same ones serve socket payloads), so these types are never
//! deserialised: the tests below send each one through its parser, which
//! keeps the names and shapes the document shows those the parsers read.

use serde::Serialize;
use utoipa::ToSchema;

/// `POST /api/chat/sessions` (every field optional; no body at all is fine).
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenSessionBody {
    /// At most 200 characters; trimmed, empty is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub subject: Option<String>,
    /// Stored as the customer's first message of the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `POST /api/chat/sessions/{id}/messages`. `content` is required unless
/// `attachments` holds ids; `message` and `text` are aliases of it.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageBody {
    /// Trimmed; not empty (unless with attachments); at most the server's
    /// message length (default 4000 characters: else 413).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Alias of `content`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Alias of `content`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The client's own id: a repeat returns the stored message (200).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub client_message_id: Option<String>,
    /// Ids of attachments the sender uploaded to this session, not yet sent.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 10)]
    pub attachments: Vec<String>,
}

/// `POST /api/chat/sessions/{id}/read`: up to `messageId` (all when absent).
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarkReadBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// `POST /api/chat/sessions/{id}/close`.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloseSessionBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// `POST /api/chat/sessions/{id}/transfer`: to an agent, or back to the
/// queue without `toAgentId`.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransferSessionBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// `POST /api/chat/sessions/{id}/assign`: an agent takes it (no body); an
/// admin assigns it to `agentId`.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssignSessionBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::input::{
        CloseRequest, MarkReadRequest, OpenRequest, SendRequest, TransferRequest, parse_assign,
    };
    use serde_json::{Value, json};

    fn wire(body: &impl Serialize) -> Value {
        serde_json::to_value(body).unwrap()
    }

    #[test]
    fn an_open_session_body_is_what_its_parser_reads() {
        let body = OpenSessionBody {
            subject: Some("Billing".into()),
            message: Some("Hello".into()),
        };
        let req = OpenRequest::parse(&wire(&body)).unwrap();
        assert_eq!(req.subject, body.subject);
        assert_eq!(req.message, body.message);
    }

    #[test]
    fn a_send_message_body_is_what_its_parser_reads() {
        let body = SendMessageBody {
            content: Some("hi".into()),
            client_message_id: Some("c-1".into()),
            attachments: vec!["a1".into(), "a2".into()],
            ..Default::default()
        };
        let req = SendRequest::parse_body("s".into(), &wire(&body)).unwrap();
        assert_eq!(req.content, "hi");
        assert_eq!(req.client_message_id, body.client_message_id);
        assert_eq!(req.attachments, body.attachments);
        for alias in [
            SendMessageBody {
                message: Some("hi".into()),
                ..Default::default()
            },
            SendMessageBody {
                text: Some("hi".into()),
                ..Default::default()
            },
        ] {
            let req = SendRequest::parse_body("s".into(), &wire(&alias)).unwrap();
            assert_eq!(req.content, "hi");
        }
    }

    #[test]
    fn read_close_transfer_and_assign_bodies_are_what_their_parsers_read() {
        let read = MarkReadBody {
            message_id: Some("m".into()),
        };
        let req = MarkReadRequest::parse_body("s".into(), &wire(&read)).unwrap();
        assert_eq!(req.message_id, read.message_id);

        let close = CloseSessionBody {
            reason: Some("done".into()),
        };
        let req = CloseRequest::parse_body("s".into(), &wire(&close)).unwrap();
        assert_eq!(req.reason, close.reason);

        let transfer = TransferSessionBody {
            to_agent_id: Some("a2".into()),
            reason: Some("shift".into()),
        };
        let req = TransferRequest::parse_body("s".into(), &wire(&transfer)).unwrap();
        assert_eq!(req.to_agent_id, transfer.to_agent_id);
        assert_eq!(req.reason, transfer.reason);

        let assign = AssignSessionBody {
            agent_id: Some("a1".into()),
        };
        assert_eq!(parse_assign(&wire(&assign)).unwrap(), assign.agent_id);
    }

    #[test]
    fn the_empty_bodies_are_accepted() {
        assert!(OpenRequest::parse(&wire(&OpenSessionBody::default())).is_ok());
        assert!(MarkReadRequest::parse_body("s".into(), &wire(&MarkReadBody::default())).is_ok());
        assert!(CloseRequest::parse_body("s".into(), &wire(&CloseSessionBody::default())).is_ok());
        assert!(
            TransferRequest::parse_body("s".into(), &wire(&TransferSessionBody::default())).is_ok()
        );
        assert_eq!(
            parse_assign(&wire(&AssignSessionBody::default())).unwrap(),
            None
        );
        // Without content or attachments a message is refused, as documented.
        assert!(SendRequest::parse_body("s".into(), &json!({})).is_err());
    }
}
