//! Requests as the domain accepts them, parsed from untrusted JSON. Socket
//! events and REST bodies go through the same parsers, so a payload that is
//! not the documented shape gets the same `invalid_payload` either way.

use serde_json::{Map, Value};

use crate::error::{AppError, AppResult};

/// Longest id, subject, reason or clientMessageId accepted.
const MAX_ID_LEN: usize = 200;
const MAX_SUBJECT_LEN: usize = 200;
const MAX_REASON_LEN: usize = 1000;

/// A JSON object's fields with typed, error-reporting getters.
pub struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    pub fn of(value: &'a Value) -> AppResult<Self> {
        value
            .as_object()
            .map(Fields)
            .ok_or_else(|| AppError::invalid("payload must be an object"))
    }

    /// A string field; `null` and absent are `None`.
    pub fn opt_str(&self, key: &str) -> AppResult<Option<&'a str>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(AppError::invalid(format!("{key} must be a string"))),
        }
    }

    /// A non-empty id of bounded length.
    pub fn opt_id(&self, key: &str) -> AppResult<Option<String>> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) => parse_id(s, key).map(Some),
        }
    }

    pub fn id(&self, key: &str) -> AppResult<String> {
        self.opt_id(key)?
            .ok_or_else(|| AppError::invalid(format!("{key} is required")))
    }

    /// Trimmed free text of bounded length; empty is `None`.
    pub fn opt_text(&self, key: &str, max: usize) -> AppResult<Option<String>> {
        match self.opt_str(key)?.map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) if s.chars().count() > max => Err(AppError::invalid(format!(
                "{key} is longer than {max} characters"
            ))),
            Some(s) => Ok(Some(s.to_string())),
        }
    }

    /// An optional array of distinct ids, at most `max` (absent: none).
    pub fn ids(&self, key: &str, max: usize) -> AppResult<Vec<String>> {
        let items = match self.0.get(key) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(AppError::invalid(format!("{key} must be an array of ids"))),
        };
        if items.len() > max {
            return Err(AppError::invalid(format!(
                "{key} holds more than {max} ids"
            )));
        }
        let mut ids: Vec<String> = Vec::with_capacity(items.len());
        for item in items {
            let id = match item {
                Value::String(s) => parse_id(s, key)?,
                _ => return Err(AppError::invalid(format!("{key} must be an array of ids"))),
            };
            if ids.contains(&id) {
                return Err(AppError::invalid(format!("{key} names {id} twice")));
            }
            ids.push(id);
        }
        Ok(ids)
    }

    pub fn bool(&self, key: &str) -> AppResult<bool> {
        match self.0.get(key) {
            Some(Value::Bool(b)) => Ok(*b),
            None => Err(AppError::invalid(format!("{key} is required"))),
            Some(_) => Err(AppError::invalid(format!("{key} must be a boolean"))),
        }
    }
}

pub fn parse_id(s: &str, what: &str) -> AppResult<String> {
    let s = s.trim();
    if s.is_empty() || s.len() > MAX_ID_LEN || s.chars().any(char::is_control) {
        return Err(AppError::invalid(format!("{what} is not a valid id")));
    }
    Ok(s.to_string())
}

/// `{ sessionId }`, or a bare string taken as the session id.
fn session_id_of(value: &Value) -> AppResult<String> {
    match value {
        Value::String(s) => parse_id(s, "sessionId"),
        other => Fields::of(other)?.id("sessionId"),
    }
}

#[derive(Debug, PartialEq)]
pub struct JoinRequest {
    pub session_id: String,
    pub last_message_id: Option<String>,
}

impl JoinRequest {
    pub fn parse(value: &Value) -> AppResult<Self> {
        let last_message_id = match value {
            Value::Object(_) => Fields::of(value)?.opt_id("lastMessageId")?,
            _ => None,
        };
        Ok(Self {
            session_id: session_id_of(value)?,
            last_message_id,
        })
    }
}

/// `{ sessionId }` alone: leave-session.
pub fn parse_session_ref(value: &Value) -> AppResult<String> {
    session_id_of(value)
}

#[derive(Debug, PartialEq)]
pub struct SendRequest {
    pub session_id: String,
    /// Not yet trimmed or length-checked: see [`validate_content`]. Empty
    /// when absent and the message has attachments.
    pub content: String,
    pub client_message_id: Option<String>,
    /// Attachment ids (docs/protocol.md §9): at most ten, no repeats.
    pub attachments: Vec<String>,
}

impl SendRequest {
    pub fn parse(value: &Value) -> AppResult<Self> {
        let fields = Fields::of(value)?;
        Self::parse_body(fields.id("sessionId")?, value)
    }

    /// The REST body `{ content, clientMessageId? }` for a session in the path.
    pub fn parse_body(session_id: String, value: &Value) -> AppResult<Self> {
        let fields = Fields::of(value)?;
        let attachments = fields.ids("attachments", MAX_ATTACHMENTS)?;
        let content = ["content", "message", "text"]
            .into_iter()
            .find_map(|key| fields.opt_str(key).transpose())
            .transpose()?;
        let content = match content {
            Some(content) => content.to_string(),
            None if !attachments.is_empty() => String::new(),
            None => return Err(AppError::invalid("content is required")),
        };
        Ok(Self {
            session_id,
            content,
            client_message_id: fields.opt_id("clientMessageId")?,
            attachments,
        })
    }
}

/// Attachments one message may carry (docs/protocol.md §9).
pub const MAX_ATTACHMENTS: usize = 10;

/// Trims; refuses empty content and content over `max` characters.
pub fn validate_content(content: &str, max: usize) -> AppResult<String> {
    validate_message(content, max, false)
}

/// [`validate_content`], where a message with attachments may be empty.
pub fn validate_message(content: &str, max: usize, has_attachments: bool) -> AppResult<String> {
    let content = content.trim();
    if content.is_empty() && !has_attachments {
        return Err(AppError::invalid("content must not be empty"));
    }
    if content.chars().count() > max {
        return Err(AppError::MessageTooLong(max));
    }
    Ok(content.to_string())
}

#[derive(Debug, PartialEq)]
pub struct TypingRequest {
    pub session_id: String,
    pub is_typing: bool,
}

impl TypingRequest {
    pub fn parse(value: &Value) -> AppResult<Self> {
        let fields = Fields::of(value)?;
        Ok(Self {
            session_id: fields.id("sessionId")?,
            is_typing: fields.bool("isTyping")?,
        })
    }
}

#[derive(Debug, PartialEq)]
pub struct MarkReadRequest {
    pub session_id: String,
    pub message_id: Option<String>,
}

impl MarkReadRequest {
    pub fn parse(value: &Value) -> AppResult<Self> {
        let session_id = Fields::of(value)?.id("sessionId")?;
        Self::parse_body(session_id, value)
    }

    pub fn parse_body(session_id: String, value: &Value) -> AppResult<Self> {
        Ok(Self {
            session_id,
            message_id: optional_body(value)?.opt_id("messageId")?,
        })
    }
}

#[derive(Debug, PartialEq)]
pub struct CloseRequest {
    pub session_id: String,
    pub reason: Option<String>,
}

impl CloseRequest {
    pub fn parse(value: &Value) -> AppResult<Self> {
        let session_id = Fields::of(value)?.id("sessionId")?;
        Self::parse_body(session_id, value)
    }

    pub fn parse_body(session_id: String, value: &Value) -> AppResult<Self> {
        Ok(Self {
            session_id,
            reason: optional_body(value)?.opt_text("reason", MAX_REASON_LEN)?,
        })
    }
}

/// `transfer-session` `{ sessionId, toAgentId?, reason? }` (REST: the id
/// from the path).
#[derive(Debug, PartialEq)]
pub struct TransferRequest {
    pub session_id: String,
    /// `None`: back to the queue.
    pub to_agent_id: Option<String>,
    pub reason: Option<String>,
}

impl TransferRequest {
    pub fn parse(value: &Value) -> AppResult<Self> {
        let session_id = Fields::of(value)?.id("sessionId")?;
        Self::parse_body(session_id, value)
    }

    pub fn parse_body(session_id: String, value: &Value) -> AppResult<Self> {
        let fields = optional_body(value)?;
        Ok(Self {
            session_id,
            to_agent_id: fields.opt_id("toAgentId")?,
            reason: fields.opt_text("reason", MAX_REASON_LEN)?,
        })
    }
}

#[derive(Debug, PartialEq)]
pub struct OpenRequest {
    pub subject: Option<String>,
    /// Not yet validated: see [`validate_content`].
    pub message: Option<String>,
}

impl OpenRequest {
    pub fn parse(value: &Value) -> AppResult<Self> {
        let fields = optional_body(value)?;
        Ok(Self {
            subject: fields.opt_text("subject", MAX_SUBJECT_LEN)?,
            message: fields.opt_str("message")?.map(str::to_owned),
        })
    }
}

/// REST `assign` body: `{ agentId? }`.
pub fn parse_assign(value: &Value) -> AppResult<Option<String>> {
    optional_body(value)?.opt_id("agentId")
}

static EMPTY: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| Value::Object(Map::new()));

/// Bodies whose fields are all optional may be absent (`null`).
pub fn optional_body(value: &Value) -> AppResult<Fields<'_>> {
    match value {
        Value::Null => Fields::of(&EMPTY),
        other => Fields::of(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bare_string_is_a_session_id_for_join() {
        let req = JoinRequest::parse(&json!("abc")).unwrap();
        assert_eq!(
            req,
            JoinRequest {
                session_id: "abc".into(),
                last_message_id: None
            }
        );
    }

    #[test]
    fn message_and_text_are_aliases_of_content() {
        for key in ["content", "message", "text"] {
            let req = SendRequest::parse(&json!({ "sessionId": "s", key: "hi" })).unwrap();
            assert_eq!(req.content, "hi");
        }
    }

    #[test]
    fn wrong_shapes_are_invalid_payload() {
        for bad in [
            json!(null),
            json!(5),
            json!([1]),
            json!({ "sessionId": 5, "content": "x" }),
            json!({ "sessionId": "s" }),
            json!({ "sessionId": "s", "content": 1 }),
            json!({ "sessionId": "", "content": "x" }),
        ] {
            assert!(
                matches!(SendRequest::parse(&bad), Err(AppError::InvalidPayload(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            TypingRequest::parse(&json!({ "sessionId": "s", "isTyping": "yes" })),
            Err(AppError::InvalidPayload(_))
        ));
    }

    #[test]
    fn content_is_trimmed_and_bounded_in_characters() {
        assert_eq!(validate_content("  hi \n", 10).unwrap(), "hi");
        assert!(matches!(
            validate_content("   ", 10),
            Err(AppError::InvalidPayload(_))
        ));
        assert_eq!(
            validate_content(&"é".repeat(10), 10)
                .unwrap()
                .chars()
                .count(),
            10
        );
        assert!(matches!(
            validate_content(&"é".repeat(11), 10),
            Err(AppError::MessageTooLong(10))
        ));
    }

    #[test]
    fn optional_bodies_may_be_absent() {
        assert_eq!(parse_assign(&json!(null)).unwrap(), None);
        assert_eq!(
            OpenRequest::parse(&json!(null)).unwrap(),
            OpenRequest {
                subject: None,
                message: None
            }
        );
        assert!(parse_assign(&json!("x")).is_err());
    }
}
