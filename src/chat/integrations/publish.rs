//! `POST /api/server/publish` (docs/protocol.md §10): a backend's own event
//! to rooms of its key's tenant, checked here; the fan-out sends it.

use serde_json::Value;
use serde_json::value::RawValue;

use crate::chat::input::{Fields, parse_id};
use crate::error::{AppError, AppResult};

/// The largest `data`, serialised.
pub const MAX_DATA_BYTES: usize = 64 * 1024;

/// The events of docs/protocol.md §5 and those Socket.IO clients treat
/// specially: a backend may not send them.
const RESERVED: &[&str] = &[
    "connected",
    "session-joined",
    "new-message",
    "user-typing",
    "messages-read",
    "session-closed",
    "new-pending-session",
    "session-updated",
    "queue-update",
    "agent-updated",
    "service-status",
    "note-added",
    "stats-update",
    "exception",
    "webhook-delivery",
    "connect",
    "disconnect",
    "disconnecting",
    "error",
    "message",
    "ping",
    "pong",
];

/// Who hears a published event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Tenant,
    Agents,
    User(String),
    Session(String),
}

#[derive(Debug)]
pub struct PublishRequest {
    pub event: String,
    /// `data` as sent (`null` when absent).
    pub data: Box<RawValue>,
    pub to: Target,
}

impl PublishRequest {
    pub fn parse(body: &Value) -> AppResult<Self> {
        let fields = Fields::of(body)?;
        let event = fields
            .opt_str("event")?
            .ok_or_else(|| AppError::invalid("event is required"))?;
        if !valid_name(event) {
            return Err(AppError::invalid(
                "event must match ^[a-z0-9][a-z0-9._:-]{0,63}$",
            ));
        }
        if RESERVED.contains(&event) {
            return Err(AppError::invalid(format!(
                "{event} is an event of the server's own; choose another name"
            )));
        }
        let data = serde_json::value::to_raw_value(body.get("data").unwrap_or(&Value::Null))
            .map_err(|e| AppError::invalid(format!("data cannot be serialised: {e}")))?;
        if data.get().len() > MAX_DATA_BYTES {
            return Err(AppError::invalid(format!(
                "data is larger than {MAX_DATA_BYTES} bytes serialised"
            )));
        }
        let to = target(body.get("to"))?;
        Ok(Self {
            event: event.to_string(),
            data,
            to,
        })
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    match chars.next() {
        Some(first) if allowed(first) => {}
        _ => return false,
    }
    name.len() <= 64 && chars.all(|c| allowed(c) || matches!(c, '.' | '_' | ':' | '-'))
}

fn target(to: Option<&Value>) -> AppResult<Target> {
    let invalid = || {
        AppError::invalid(
            "to must be one of { tenant: true }, { agents: true }, { user: id }, { session: id }",
        )
    };
    let object = to.and_then(Value::as_object).ok_or_else(invalid)?;
    if object.len() != 1 {
        return Err(invalid());
    }
    let fields = Fields::of(to.unwrap_or(&Value::Null))?;
    match object.iter().next() {
        Some((key, Value::Bool(true))) if key == "tenant" => Ok(Target::Tenant),
        Some((key, Value::Bool(true))) if key == "agents" => Ok(Target::Agents),
        Some((key, Value::String(id))) if key == "user" => Ok(Target::User(parse_id(id, "user")?)),
        Some((key, Value::String(_))) if key == "session" => {
            Ok(Target::Session(fields.id("session")?))
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_targets_and_sizes_are_checked() {
        let ok = PublishRequest::parse(
            &json!({ "event": "crm.contact:new", "data": { "a": 1 }, "to": { "agents": true } }),
        )
        .unwrap();
        assert_eq!(ok.to, Target::Agents);
        assert_eq!(ok.data.get(), r#"{"a":1}"#);
        for bad in [
            json!({ "event": "New", "to": { "tenant": true } }),
            json!({ "event": "-x", "to": { "tenant": true } }),
            json!({ "event": "new-message", "to": { "tenant": true } }),
            json!({ "event": "x".repeat(65), "to": { "tenant": true } }),
            json!({ "event": "ok", "to": { "tenant": false } }),
            json!({ "event": "ok", "to": { "tenant": true, "agents": true } }),
            json!({ "event": "ok", "to": { "session": 7 } }),
            json!({ "event": "ok", "data": "x".repeat(MAX_DATA_BYTES), "to": { "tenant": true } }),
        ] {
            assert!(
                PublishRequest::parse(&bad).is_err(),
                "{bad} must be refused"
            );
        }
        let user = PublishRequest::parse(&json!({ "event": "x", "to": { "user": "u1" } })).unwrap();
        assert_eq!(user.to, Target::User("u1".into()));
    }
}
