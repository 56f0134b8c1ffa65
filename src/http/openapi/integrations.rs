//! The integration routes of docs/protocol.md §9 (API keys, webhooks and
//! their deliveries, the server API) in the OpenAPI document, for now
//! written here from the protocol: their handlers (`src/http/integrations.rs`,
//! `src/http/server_api.rs`) are being written. Once those handlers carry
//! their own `#[utoipa::path]` attributes and their modules' `OpenApi`
//! parts are listed in `super::document`, [`paths`] goes, and so do the
//! types below that the handlers' own types (with `ToSchema`) replace.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::{
    ContentBuilder, Ref, Required, ResponseBuilder, SecurityRequirement, Type,
    schema::ObjectBuilder,
};

/// `POST /api/api-keys`.
#[derive(Serialize, ToSchema)]
pub struct CreateApiKeyBody {
    #[schema(max_length = 200)]
    pub name: String,
}

/// An API key as listed (never the key itself).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Updated at most once a minute per key.
    #[schema(required, format = DateTime)]
    pub last_used_at: Option<String>,
}

/// A new API key: the only time `key` is shown.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub id: String,
    pub name: String,
    /// `sbk_` + base64url of 32 random bytes; the server keeps a hash.
    #[schema(pattern = "^sbk_[A-Za-z0-9_-]+$")]
    pub key: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The tenant's API keys, newest first.
#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyView>,
}

/// What a webhook is told of.
#[derive(Serialize, ToSchema)]
pub enum WebhookEventType {
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

/// `POST /api/webhooks`. A URL that resolves to a loopback, private,
/// link-local or unique-local address is `invalid_payload` (unless the
/// server runs with `--webhook-allow-private-networks`).
#[derive(Serialize, ToSchema)]
pub struct CreateWebhookBody {
    /// An `http` or `https` URL.
    pub url: String,
    #[schema(min_items = 1)]
    pub events: Vec<WebhookEventType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A webhook endpoint as listed (never its secret).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<WebhookEventType>,
    #[schema(required)]
    pub description: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A new webhook endpoint: the only time `secret` is shown.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhook {
    pub id: String,
    pub url: String,
    pub events: Vec<WebhookEventType>,
    #[schema(required)]
    pub description: Option<String>,
    /// `whsec_` + base64 of 32 random bytes (Standard Webhooks).
    #[schema(pattern = "^whsec_[A-Za-z0-9+/=]+$")]
    pub secret: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The tenant's webhook endpoints.
#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

/// One event's delivery to one endpoint.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    /// The `webhook-id` header, the same on every attempt.
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: WebhookEventType,
    pub status: DeliveryStatus,
    #[schema(minimum = 0)]
    pub attempts: i32,
    #[schema(required)]
    pub last_status_code: Option<i32>,
    #[schema(required)]
    pub last_error: Option<String>,
    #[schema(required, format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(required, format = DateTime)]
    pub delivered_at: Option<String>,
}

/// A webhook's deliveries, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<DeliveryView>,
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

/// The §9 routes, until their handlers document themselves.
pub fn paths() -> Vec<(&'static str, PathItem)> {
    let admin = |op: OperationBuilder| op.security(requirement("bearerAuth"));
    let server = |op: OperationBuilder| op.security(requirement("apiKey"));
    vec![
        (
            "/api/api-keys",
            item(&[
                (
                    HttpMethod::Post,
                    admin(operation("integrations", "Creates an API key (admins)"))
                        .request_body(Some(json_body("CreateApiKeyBody")))
                        .response("201", json_response("The key, shown this once", "CreatedApiKey"))
                        .response("403", error("Not an admin"))
                        .build(),
                ),
                (
                    HttpMethod::Get,
                    admin(operation("integrations", "The tenant's API keys, newest first"))
                        .response("200", json_response("", "ApiKeyList"))
                        .response("403", error("Not an admin"))
                        .build(),
                ),
            ]),
        ),
        (
            "/api/api-keys/{id}",
            item(&[(
                HttpMethod::Delete,
                admin(operation("integrations", "Revokes an API key at once, on every node"))
                    .parameter(path_param("id", "The API key's id"))
                    .response("204", ResponseBuilder::new().description("Revoked"))
                    .response("403", error("Not an admin"))
                    .response("404", error(""))
                    .build(),
            )]),
        ),
        (
            "/api/webhooks",
            item(&[
                (
                    HttpMethod::Post,
                    admin(operation("integrations", "Registers a webhook endpoint (admins)"))
                        .request_body(Some(json_body("CreateWebhookBody")))
                        .response(
                            "201",
                            json_response("The endpoint, with its secret shown this once", "CreatedWebhook"),
                        )
                        .response("403", error("Not an admin"))
                        .build(),
                ),
                (
                    HttpMethod::Get,
                    admin(operation("integrations", "The tenant's webhook endpoints"))
                        .response("200", json_response("", "WebhookList"))
                        .response("403", error("Not an admin"))
                        .build(),
                ),
            ]),
        ),
        (
            "/api/webhooks/{id}",
            item(&[(
                HttpMethod::Delete,
                admin(operation("integrations", "Removes an endpoint and its pending deliveries"))
                    .parameter(path_param("id", "The webhook's id"))
                    .response("204", ResponseBuilder::new().description("Removed"))
                    .response("403", error("Not an admin"))
                    .response("404", error(""))
                    .build(),
            )]),
        ),
        (
            "/api/webhooks/{id}/deliveries",
            item(&[(
                HttpMethod::Get,
                admin(operation("integrations", "An endpoint's deliveries, newest first"))
                    .parameter(path_param("id", "The webhook's id"))
                    .parameter(
                        ParameterBuilder::new()
                            .name("limit")
                            .parameter_in(ParameterIn::Query)
                            .required(Required::False)
                            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))),
                    )
                    .response("200", json_response("", "DeliveryList"))
                    .response("400", error(""))
                    .response("403", error("Not an admin"))
                    .response("404", error(""))
                    .build(),
            )]),
        ),
        (
            "/api/webhooks/{id}/deliveries/{deliveryId}/retry",
            item(&[(
                HttpMethod::Post,
                admin(operation(
                    "integrations",
                    "Makes a failed delivery pending again, next attempt now, schedule started over",
                ))
                .parameter(path_param("id", "The webhook's id"))
                .parameter(path_param("deliveryId", "The delivery's id"))
                .response("200", json_response("", "DeliveryView"))
                .response("403", error("Not an admin"))
                .response("404", error(""))
                .response("409", error("The delivery is not failed"))
                .build(),
            )]),
        ),
        (
            "/api/server/publish",
            item(&[(
                HttpMethod::Post,
                server(operation("server", "Emits an event of the backend's to sockets of the key's tenant"))
                    .request_body(Some(json_body("PublishRequest")))
                    .response("202", json_response("Published on every node", "Accepted"))
                    .response("404", error("A session or user of another tenant"))
                    .response("429", error("Over the key's rate limit"))
                    .build(),
            )]),
        ),
        (
            "/api/server/sessions",
            item(&[(
                HttpMethod::Post,
                server(operation("server", "Opens a session on behalf of a customer"))
                    .request_body(Some(json_body("ServerSessionRequest")))
                    .response("201", json_response("A new pending session", "Session"))
                    .response("200", json_response("The customer's session that was already open", "Session"))
                    .response("429", error("Over the key's rate limit"))
                    .build(),
            )]),
        ),
        (
            "/api/server/sessions/{id}/messages",
            item(&[(
                HttpMethod::Post,
                server(operation("server", "Sends a message as the session's customer or as a bot"))
                    .parameter(path_param("id", "The session's id"))
                    .request_body(Some(json_body("ServerMessageRequest")))
                    .response("201", json_response("Stored and sent to the session's room", "Message"))
                    .response(
                        "200",
                        json_response("A repeated `clientMessageId`: the message stored before", "Message"),
                    )
                    .response("404", error(""))
                    .response("409", error("session_closed"))
                    .response("429", error("Over the key's rate limit"))
                    .build(),
            )]),
        ),
        (
            "/api/server/sessions/{id}/attachments",
            item(&[(
                HttpMethod::Post,
                server(operation("server", "Uploads a file as the session's customer or as a bot, for a message of theirs"))
                    .parameter(path_param("id", "The session's id"))
                    .parameter(query_param("from", "customer or bot"))
                    .parameter(query_param("senderName", "The bot's name (default: the key's)"))
                    .request_body(Some(
                        RequestBodyBuilder::new()
                            .content(
                                "multipart/form-data",
                                ContentBuilder::new().schema(Some(Ref::from_schema_name("UploadForm"))).build(),
                            )
                            .required(Some(Required::True))
                            .build(),
                    ))
                    .response("201", json_response("", "Attachment"))
                    .response("400", error("No part named file, several, or an image that does not decode"))
                    .response("404", error(""))
                    .response("409", error("session_closed"))
                    .response("413", error("attachment_too_large"))
                    .response("415", error("unsupported_media_type"))
                    .response("429", error("Over the key's rate limit"))
                    .build(),
            )]),
        ),
    ]
}

fn query_param(name: &str, description: &str) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
}

fn item(operations: &[(HttpMethod, Operation)]) -> PathItem {
    let mut item = PathItem::default();
    for (method, operation) in operations {
        item.merge_operations(PathItem::new(method.clone(), operation.clone()));
    }
    item
}

fn operation(tag: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new().tag(tag).summary(Some(summary))
}

fn requirement(scheme: &str) -> SecurityRequirement {
    SecurityRequirement::new::<_, _, String>(scheme, [])
}

fn path_param(name: &str, description: &str) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
}

fn json_body(schema: &str) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build(),
        )
        .required(Some(Required::True))
        .build()
}

fn json_response(description: &str, schema: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(schema)))
            .build(),
    )
}

fn error(description: &str) -> ResponseBuilder {
    json_response(description, "ErrorResponse")
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
