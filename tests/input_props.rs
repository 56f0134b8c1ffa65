//! Property tests of `switchboard::chat::input`, the parsers every socket
//! payload and REST body goes through: for any JSON value they never panic,
//! and whatever they accept satisfies the invariants the domain relies on
//! (ids trimmed, non-empty, bounded and free of control characters; text
//! trimmed, non-empty and within its limit; the fields really came from the
//! payload).
//!
//! `PROPTEST_CASES=10000 cargo test --test input_props` for a longer run.

use proptest::prelude::*;
use serde_json::{Map, Value};
use switchboard::chat::input::{
    CloseRequest, JoinRequest, MarkReadRequest, OpenRequest, SendRequest, TypingRequest,
    parse_assign, parse_session_ref, validate_content,
};
use switchboard::error::AppError;

/// The limits of `chat::input` (private constants there).
const MAX_ID_LEN: usize = 200;
const MAX_SUBJECT_LEN: usize = 200;
const MAX_REASON_LEN: usize = 1000;

/// Every key the parsers read, plus a few they must ignore.
const KEYS: &[&str] = &[
    "sessionId",
    "lastMessageId",
    "content",
    "message",
    "text",
    "clientMessageId",
    "isTyping",
    "messageId",
    "reason",
    "subject",
    "agentId",
    "seq",
    "__proto__",
    "",
];

/// Strings that hit the edges: whitespace, control characters, multi-byte
/// characters, lengths around the limits, and plain random text.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        2 => "[ \t\n\r\u{0}\u{1b}\u{7f}\u{85}\u{a0}\u{2028}\u{feff}a-zé😀]{0,12}",
        1 => Just(String::new()),
        1 => (0usize..=2).prop_map(|pad| format!("{}id{}", " ".repeat(pad), "\n".repeat(pad))),
        1 => (MAX_ID_LEN - 2..=MAX_ID_LEN + 2).prop_map(|n| "x".repeat(n)),
        1 => (MAX_ID_LEN / 2 - 1..=MAX_ID_LEN / 2 + 1).prop_map(|n| "é".repeat(n)),
        1 => (MAX_REASON_LEN - 1..=MAX_REASON_LEN + 1).prop_map(|n| format!(" {} ", "r".repeat(n))),
        1 => (0usize..6000).prop_map(|n| "w ".repeat(n / 2)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        tricky_string().prop_map(Value::String),
    ]
}

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(KEYS).prop_map(str::to_owned),
                    any::<String>()
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Objects built from the keys the parsers read, with values that are
/// mostly strings and booleans: close to valid, so acceptance is common.
fn near_valid() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        6 => tricky_string().prop_map(Value::String),
        2 => any::<bool>().prop_map(Value::Bool),
        2 => leaf(),
        1 => any_json(),
    ];
    prop::collection::btree_map(
        prop::sample::select(KEYS).prop_map(str::to_owned),
        value,
        0..8,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

fn payload() -> impl Strategy<Value = Value> {
    prop_oneof![3 => near_valid(), 1 => any_json(), 1 => tricky_string().prop_map(Value::String)]
}

/// An accepted id: trimmed, non-empty, at most MAX_ID_LEN bytes, no control
/// characters, and the trimmed form of the string the payload carried.
fn assert_id(id: &str, raw: Option<&Value>, what: &str) {
    assert!(!id.is_empty(), "{what}: empty id accepted");
    assert_eq!(id, id.trim(), "{what}: id {id:?} not trimmed");
    assert!(
        id.len() <= MAX_ID_LEN,
        "{what}: id of {} bytes accepted",
        id.len()
    );
    assert!(
        !id.chars().any(char::is_control),
        "{what}: id {id:?} has a control character"
    );
    match raw {
        Some(Value::String(s)) => {
            assert_eq!(s.trim(), id, "{what}: id does not come from the payload")
        }
        other => panic!("{what}: accepted id {id:?} from {other:?}"),
    }
}

fn assert_opt_id(id: &Option<String>, raw: Option<&Value>, what: &str) {
    match id {
        Some(id) => assert_id(id, raw, what),
        None => assert!(
            matches!(raw, None | Some(Value::Null)),
            "{what}: {raw:?} was silently dropped"
        ),
    }
}

/// Optional free text: trimmed, non-empty, at most `max` characters.
fn assert_opt_text(text: &Option<String>, raw: Option<&Value>, max: usize, what: &str) {
    match (text, raw) {
        (Some(t), Some(Value::String(s))) => {
            assert!(!t.is_empty(), "{what}: empty text accepted");
            assert_eq!(t, s.trim(), "{what}: text not the trimmed payload");
            assert!(
                t.chars().count() <= max,
                "{what}: {} characters accepted",
                t.chars().count()
            );
        }
        (Some(t), other) => panic!("{what}: text {t:?} accepted from {other:?}"),
        (None, None | Some(Value::Null)) => {}
        (None, Some(Value::String(s))) => assert!(s.trim().is_empty(), "{what}: {s:?} dropped"),
        (None, other) => panic!("{what}: {other:?} accepted as no text"),
    }
}

fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.as_object().and_then(|o| o.get(key))
}

/// The session id of join/leave: a bare string, or the `sessionId` field.
fn session_field(value: &Value) -> Option<&Value> {
    match value {
        Value::String(_) => Some(value),
        other => field(other, "sessionId"),
    }
}

fn is_refusal(err: &AppError) -> bool {
    matches!(
        err,
        AppError::InvalidPayload(_) | AppError::MessageTooLong(_)
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn join_requests_are_valid_or_invalid_payload(value in payload()) {
        match JoinRequest::parse(&value) {
            Ok(req) => {
                assert_id(&req.session_id, session_field(&value), "join sessionId");
                if value.is_object() {
                    assert_opt_id(&req.last_message_id, field(&value, "lastMessageId"), "join lastMessageId");
                } else {
                    assert_eq!(req.last_message_id, None);
                }
            }
            Err(err) => prop_assert!(is_refusal(&err), "{err:?}"),
        }
        match parse_session_ref(&value) {
            Ok(id) => assert_id(&id, session_field(&value), "leave sessionId"),
            Err(err) => prop_assert!(is_refusal(&err), "{err:?}"),
        }
    }

    #[test]
    fn send_requests_are_valid_or_invalid_payload(value in payload(), max in 1usize..5000) {
        match SendRequest::parse(&value) {
            Ok(req) => {
                assert_id(&req.session_id, field(&value, "sessionId"), "send sessionId");
                assert_opt_id(&req.client_message_id, field(&value, "clientMessageId"), "clientMessageId");
                let from = ["content", "message", "text"]
                    .iter()
                    .find_map(|k| field(&value, k).filter(|v| !v.is_null()));
                prop_assert_eq!(from, Some(&Value::String(req.content.clone())));
                // What the domain does next with the content.
                match validate_content(&req.content, max) {
                    Ok(content) => {
                        prop_assert!(!content.is_empty());
                        prop_assert_eq!(content.as_str(), req.content.trim());
                        prop_assert!(content.chars().count() <= max);
                    }
                    Err(AppError::MessageTooLong(m)) => {
                        prop_assert_eq!(m, max);
                        prop_assert!(req.content.trim().chars().count() > max);
                    }
                    Err(AppError::InvalidPayload(_)) => prop_assert!(req.content.trim().is_empty()),
                    Err(other) => prop_assert!(false, "unexpected {other:?}"),
                }
            }
            Err(err) => prop_assert!(is_refusal(&err), "{err:?}"),
        }
    }

    #[test]
    fn typing_requests_are_valid_or_invalid_payload(value in payload()) {
        match TypingRequest::parse(&value) {
            Ok(req) => {
                assert_id(&req.session_id, field(&value, "sessionId"), "typing sessionId");
                prop_assert_eq!(field(&value, "isTyping"), Some(&Value::Bool(req.is_typing)));
            }
            Err(err) => prop_assert!(is_refusal(&err), "{err:?}"),
        }
    }

    #[test]
    fn mark_read_requests_are_valid_or_invalid_payload(value in payload()) {
        match MarkReadRequest::parse(&value) {
            Ok(req) => {
                assert_id(&req.session_id, field(&value, "sessionId"), "mark-read sessionId");
                assert_opt_id(&req.message_id, field(&value, "messageId"), "mark-read messageId");
            }
            Err(err) => prop_assert!(is_refusal(&err), "{err:?}"),
        }
        match MarkReadRequest::parse_body("s".into(), &value) {
            Ok(req) => assert_opt_id(&req.message_id, field(&value, "messageId"), "read body messageId"),
            Err(err) => prop_assert!(is_refusal(&err), "{err:?}"),
        }
    }

    #[test]
    fn close_requests_are_valid_or_invalid_payload(value in payload()) {
        match CloseRequest::parse(&value) {
            Ok(req) => {
                assert_id(&req.session_id, field(&value, "sessionId"), "close sessionId");
                assert_opt_text(&req.reason, field(&value, "reason"), MAX_REASON_LEN, "close reason");
            }
            Err(err) => prop_assert!(is_refusal(&err), "{err:?}"),
        }
    }

    #[test]
    fn open_requests_are_valid_or_invalid_payload(value in payload(), max in 1usize..5000) {
        match OpenRequest::parse(&value) {
            Ok(req) => {
                prop_assert!(value.is_null() || value.is_object());
                assert_opt_text(&req.subject, field(&value, "subject"), MAX_SUBJECT_LEN, "open subject");
                match (&req.message, field(&value, "message")) {
                    (Some(m), Some(Value::String(s))) => {
                        prop_assert_eq!(m, s);
                        // The opening message goes through validate_content too.
                        if let Ok(content) = validate_content(m, max) {
                            prop_assert!(!content.is_empty() && content.chars().count() <= max);
                            prop_assert_eq!(content.as_str(), content.trim());
                        }
                    }
                    (None, None | Some(Value::Null)) => {}
                    (m, raw) => prop_assert!(false, "message {m:?} from {raw:?}"),
                }
            }
            Err(err) => prop_assert!(is_refusal(&err), "{err:?}"),
        }
        match parse_assign(&value) {
            Ok(agent) => assert_opt_id(&agent, field(&value, "agentId"), "assign agentId"),
            Err(err) => prop_assert!(is_refusal(&err), "{err:?}"),
        }
    }

    #[test]
    fn validated_content_is_trimmed_non_empty_and_within_the_limit(content in tricky_string(), max in 0usize..7000) {
        match validate_content(&content, max) {
            Ok(out) => {
                prop_assert!(!out.is_empty());
                prop_assert_eq!(out.as_str(), content.trim());
                prop_assert!(out.chars().count() <= max);
            }
            Err(AppError::InvalidPayload(_)) => prop_assert!(content.trim().is_empty()),
            Err(AppError::MessageTooLong(m)) => {
                prop_assert_eq!(m, max);
                prop_assert!(content.trim().chars().count() > max);
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }
}
