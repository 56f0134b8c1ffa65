//! The request bodies of the integration routes (docs/protocol.md §10) as
//! the OpenAPI document shows them. The handlers read them with the chat's
//! own parsers; the test below feeds the server API's bodies through the
//! parsers of their chat twins, so the two cannot drift apart.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::chat::integrations::events::EventType;

/// `POST /api/api-keys`.
#[derive(Serialize, ToSchema)]
pub struct CreateApiKeyBody {
    #[schema(max_length = 200)]
    pub name: String,
}

/// `POST /api/webhooks`. A URL that resolves to a loopback, private,
/// link-local or unique-local address is `invalid_payload` (unless the
/// server runs with `--webhook-allow-private-networks`).
#[derive(Serialize, ToSchema)]
pub struct CreateWebhookBody {
    /// An `http` or `https` URL.
    pub url: String,
    #[schema(min_items = 1)]
    pub events: Vec<EventType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Who a published event goes to: exactly one of the four.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum PublishTarget {
    /// Every socket of the key's tenant (`tenant: true`).
    Tenant { tenant: bool },
    /// The tenant's agents and admins (`agents: true`).
    Agents { agents: bool },
    /// Every socket of one user of the tenant.
    User { user: String },
    /// A session's room (another tenant's session: `not_found`).
    Session { session: String },
}

/// `POST /api/server/publish`.
#[derive(Serialize, ToSchema)]
pub struct PublishRequest {
    /// Not an event of docs/protocol.md §5 (nor `webhook-delivery`,
    /// `connect`, `disconnect`…). A name starting with `notify.` is shown
    /// as a toast by the web client to agents and admins.
    #[schema(pattern = "^[a-z0-9][a-z0-9._:-]{0,63}$")]
    pub event: String,
    /// Any JSON, at most 64 KiB serialised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    pub to: PublishTarget,
}

/// `202 {}`: published on every node.
#[derive(Serialize, ToSchema)]
pub struct Accepted {}

/// `POST /api/server/sessions`: as the customer's own `POST
/// /api/chat/sessions` (the customer recorded as a `customer` user of the
/// key's tenant).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerSessionRequest {
    #[schema(max_length = 200)]
    pub customer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Whom a server-API message is from.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServerSender {
    /// The session's customer (a gateway relaying what they wrote).
    Customer,
    /// Sender `{ id: 'bot:' + key id, role: 'bot', name: senderName ?? the key's name }`.
    Bot,
}

/// `POST /api/server/sessions/{id}/messages`: the rules, events and
/// idempotency of `send-message`; a per-key rate limit.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerMessageRequest {
    /// As `send-message`'s: required unless `attachments` holds ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub content: Option<String>,
    pub from: ServerSender,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub client_message_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 10)]
    pub attachments: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::input::{OpenRequest, SendRequest};

    #[test]
    fn the_server_api_bodies_share_the_parsers_of_their_chat_twins() {
        let open = ServerSessionRequest {
            customer_id: "c1".into(),
            customer_name: Some("Ann".into()),
            subject: Some("Order 7".into()),
            message: Some("Hello".into()),
        };
        let req = OpenRequest::parse(&serde_json::to_value(&open).unwrap()).unwrap();
        assert_eq!((req.subject, req.message), (open.subject, open.message));

        let send = ServerMessageRequest {
            content: Some("hi".into()),
            from: ServerSender::Bot,
            sender_name: Some("Bot".into()),
            client_message_id: Some("m-1".into()),
            attachments: vec!["a1".into()],
        };
        let wire = serde_json::to_value(&send).unwrap();
        let req = SendRequest::parse_body("s".into(), &wire).unwrap();
        assert_eq!(req.content, "hi");
        assert_eq!(req.client_message_id, send.client_message_id);
        assert_eq!(req.attachments, send.attachments);
        assert_eq!(wire["from"], "bot");
    }
}
