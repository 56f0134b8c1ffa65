//! The actions against a real SQLite database, with a recording emitter in
//! place of the sockets: what each change stores and who hears of it.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::*;
use crate::chat::stats::DayTotals;
use crate::chat::{Role, User};
use crate::fanout::stats::StatsSource;
use crate::fanout::{Emitter, Event, Payload};

/// Records every event; stats updates also go to a channel, since they are
/// sent from a task of their own.
struct Recorder {
    events: Mutex<Vec<(Vec<String>, Event, Value)>>,
    stats: mpsc::UnboundedSender<Value>,
}

impl Emitter for Recorder {
    fn emit(&self, rooms: Vec<String>, event: Event, data: Payload) -> BoxFuture<'_, ()> {
        let data: Value = serde_json::from_str(data.get()).unwrap();
        if event == "stats-update" {
            let _ = self.stats.send(data);
        } else if matches!(
            event.as_ref(),
            "queue-update" | "agent-updated" | "service-status"
        ) {
            // Coalesced notices, sent from tasks of their own: the routing
            // tests (tests/js) follow them.
        } else {
            self.events.lock().unwrap().push((rooms, event, data));
        }
        Box::pin(async {})
    }

    fn online<'a>(&'a self, _tenant: &'a str) -> BoxFuture<'a, (usize, usize)> {
        Box::pin(async { (1, 1) })
    }
}

struct Setup {
    actions: Actions,
    recorder: Arc<Recorder>,
    stats: mpsc::UnboundedReceiver<Value>,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Self {
        let (dir, db) = crate::scratch::db().await;
        let (tx, stats) = mpsc::unbounded_channel();
        let recorder = Arc::new(Recorder {
            events: Mutex::default(),
            stats: tx,
        });
        let source = StatsSource {
            db: db.clone(),
            totals: DayTotals::default(),
            emitter: recorder.clone(),
        };
        let defaults = routing::Defaults {
            routing: routing::RoutingMode::Manual,
            default_max_chats: 5,
            reassign_after_offline_seconds: Some(300),
        };
        let notices = crate::fanout::Notifier::new(
            db.clone(),
            db.clone(),
            recorder.clone(),
            defaults.clone(),
        );
        let fanout = Arc::new(Fanout::new(source, notices, Default::default()));
        let config = RoutingConfig {
            defaults,
            requeue_hold_ms: 60_000,
        };
        let node = Node {
            id: "node".into(),
            lease_ms: 15_000,
        };
        let limits = Limits {
            message_max_length: 100,
            send_per_second: 100,
            send_burst: 100,
            open_per_second: 100,
            open_burst: 100,
            catch_up: 3,
            message_linger: None,
        };
        let files = <crate::config::Cli as clap::Parser>::parse_from(["switchboard"])
            .server
            .attachments;
        let store = crate::storage::Store::open(&format!("file://{}", dir.path().display()))
            .expect("a store");
        let signer = crate::chat::attachments::Signer::new(vec![1; 32], 60, None);
        let attachments = crate::chat::attachments::Attachments::new(&files, store, signer);
        Self {
            actions: Actions::new(db.clone(), db, fanout, limits, config, node, attachments),
            recorder,
            stats,
            _dir: dir,
        }
    }

    /// The events sent since the last call: `(rooms, event)`.
    fn heard(&self) -> Vec<(Vec<String>, &'static str)> {
        let mut events = self.recorder.events.lock().unwrap();
        let fixed = |e: Event| match e {
            Event::Borrowed(name) => name,
            Event::Owned(name) => panic!("the fan-out named {name} at run time"),
        };
        events
            .drain(..)
            .map(|(rooms, e, _)| (rooms, fixed(e)))
            .collect()
    }
}

/// Opens a session for `customer` with `body`, and forgets what was heard.
async fn open(t: &Setup, customer: &User, body: Value) -> Opened {
    let opened = t
        .actions
        .open_session(customer, OpenRequest::parse(&body).unwrap())
        .await
        .unwrap();
    t.heard();
    opened
}

fn user(id: &str, role: Role) -> User {
    User {
        id: id.into(),
        tenant: "acme".into(),
        role,
        name: None,
        email: None,
    }
}

fn rooms(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[tokio::test]
async fn opening_with_a_message_stores_both_and_announces_the_session_before_its_message() {
    let mut t = Setup::new().await;
    let customer = user("c1", Role::Customer);
    let req = OpenRequest::parse(&json!({ "subject": "help", "message": "hello" })).unwrap();
    let opened = t.actions.open_session(&customer, req).await.unwrap();
    assert!(opened.created);
    assert_eq!(opened.session.unread_count, 1);
    let id = opened.session.id.clone();
    assert_eq!(
        t.heard(),
        [
            (rooms(&["agents:acme"]), "new-pending-session"),
            (rooms(&[&format!("session:{id}")]), "new-message"),
        ]
    );
    let stats = t.stats.recv().await.unwrap();
    assert_eq!(
        (
            stats["pendingSessions"].clone(),
            stats["messagesToday"].clone()
        ),
        (json!(1), json!(1))
    );

    let again = OpenRequest::parse(&json!({})).unwrap();
    let same = t.actions.open_session(&customer, again).await.unwrap();
    assert!(!same.created);
    assert_eq!(same.session.id, id);
    assert!(
        t.heard().is_empty(),
        "returning the open session changes nothing"
    );
}

#[tokio::test]
async fn a_send_is_announced_once_and_its_retry_not_at_all() {
    let t = Setup::new().await;
    let customer = user("c1", Role::Customer);
    let opened = open(&t, &customer, json!({})).await;
    let id = opened.session.id;
    let send = || {
        SendRequest::parse(&json!({ "sessionId": id, "content": " hi ", "clientMessageId": "m1" }))
            .unwrap()
    };
    let first = t.actions.send_message(&customer, send()).await.unwrap();
    assert!(first.is_new);
    assert_eq!(
        (first.message.seq, first.message.content.as_str()),
        (1, "hi")
    );
    assert_eq!(
        t.heard(),
        [(rooms(&[&format!("session:{id}")]), "new-message")]
    );
    let retry = t.actions.send_message(&customer, send()).await.unwrap();
    assert!(!retry.is_new);
    assert_eq!(retry.message.id, first.message.id);
    assert!(t.heard().is_empty());
}

#[tokio::test]
async fn an_agent_joining_a_pending_session_takes_it_and_a_second_agent_only_watches() {
    let t = Setup::new().await;
    let customer = user("c1", Role::Customer);
    let opened = open(&t, &customer, json!({})).await;
    let id = opened.session.id;
    let join = || JoinRequest::parse(&json!(id)).unwrap();
    let mut entered = Vec::new();
    let joined = t
        .actions
        .join_session(&user("a1", Role::Agent), join(), |j: &Joined| {
            entered.push(j.taken);
            async {}
        })
        .await
        .unwrap();
    assert!(joined.taken);
    assert_eq!(joined.session.status, "active");
    assert_eq!(
        t.heard(),
        [(
            rooms(&[
                &format!("session:{id}"),
                "agents:acme",
                &crate::fanout::rooms::user("acme", "c1"),
            ]),
            "session-updated"
        )],
        "the customer's tabs hear of it too (v1.3)"
    );
    let watched = t
        .actions
        .join_session(&user("a2", Role::Agent), join(), |j: &Joined| {
            entered.push(j.taken);
            async {}
        })
        .await
        .unwrap();
    assert!(!watched.taken);
    assert_eq!(watched.session.agent.unwrap().id, "a1");
    assert!(t.heard().is_empty());
    assert_eq!(entered, [true, false], "the room is entered on every join");
}

#[tokio::test]
async fn a_failed_join_takes_nothing() {
    let t = Setup::new().await;
    let customer = user("c1", Role::Customer);
    let opened = open(&t, &customer, json!({})).await;
    let req =
        JoinRequest::parse(&json!({ "sessionId": opened.session.id, "lastMessageId": "nope" }))
            .unwrap();
    let err = t
        .actions
        .join_session(&user("a1", Role::Agent), req, |_: &Joined| async {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), crate::error::ErrorCode::NotFound);
    assert!(t.heard().is_empty());
}

#[tokio::test]
async fn catch_up_is_capped_and_says_more_follow() {
    let t = Setup::new().await;
    let customer = user("c1", Role::Customer);
    let opened = open(&t, &customer, json!({ "message": "m0" })).await;
    let id = opened.session.id;
    for i in 1..=5 {
        let req =
            SendRequest::parse(&json!({ "sessionId": id, "content": format!("m{i}") })).unwrap();
        t.actions.send_message(&customer, req).await.unwrap();
    }
    // After m0: m1..m5, five messages, with a cap of 3.
    let anchor = t
        .actions
        .join_session(
            &customer,
            JoinRequest::parse(&json!(id)).unwrap(),
            |_: &Joined| async {},
        )
        .await
        .unwrap()
        .messages[0]
        .id
        .clone();
    let req = JoinRequest::parse(&json!({ "sessionId": id, "lastMessageId": anchor })).unwrap();
    let joined = t
        .actions
        .join_session(&customer, req, |_: &Joined| async {})
        .await
        .unwrap();
    let contents: Vec<_> = joined.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["m1", "m2", "m3"]);
    assert!(joined.has_more);
}

#[tokio::test]
async fn marking_read_with_nothing_unread_changes_and_announces_nothing() {
    let t = Setup::new().await;
    let customer = user("c1", Role::Customer);
    let admin = user("boss", Role::Admin);
    let opened = open(&t, &customer, json!({ "message": "hi" })).await;
    let read = || MarkReadRequest::parse(&json!({ "sessionId": opened.session.id })).unwrap();
    assert_eq!(t.actions.mark_read(&admin, read()).await.unwrap(), 1);
    assert_eq!(t.heard()[0].1, "messages-read");
    assert_eq!(t.actions.mark_read(&admin, read()).await.unwrap(), 0);
    assert!(t.heard().is_empty());
}

#[tokio::test]
async fn closing_twice_announces_once() {
    let t = Setup::new().await;
    let customer = user("c1", Role::Customer);
    let opened = open(&t, &customer, json!({})).await;
    let close = || CloseRequest::parse(&json!({ "sessionId": opened.session.id })).unwrap();
    let closed = t.actions.close_session(&customer, close()).await.unwrap();
    assert_eq!(closed.status, "closed");
    assert_eq!(t.heard().len(), 1);
    t.actions.close_session(&customer, close()).await.unwrap();
    assert!(t.heard().is_empty());
}
