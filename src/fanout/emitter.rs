//! The narrow handle through which the fan-out reaches sockets: send an
//! event to rooms, and count who is online. [`SocketEmitter`] is the real
//! one, over the `/chat` namespace of any adapter (local or Redis); tests
//! of the fan-out record instead.

use std::sync::OnceLock;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::value::RawValue;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide_core::adapter::Room;

use super::presence::Presence;
use super::rooms;
use super::single_flight::SingleFlight;

/// An event's name: ours are fixed; a backend's (`POST /api/server/publish`)
/// are its own.
pub type Event = std::borrow::Cow<'static, str>;

/// An event's data, serialised once however many rooms and nodes get it.
pub type Payload = Box<RawValue>;

/// `data` as JSON. Our payloads always serialise; should one not, it is
/// logged and sent as `null` rather than dropping the event.
pub fn payload<T: Serialize + ?Sized>(data: &T) -> Payload {
    serde_json::value::to_raw_value(data).unwrap_or_else(|err| {
        tracing::error!(%err, "event payload does not serialise");
        RawValue::NULL.to_owned()
    })
}

/// What the fan-out needs of the socket layer.
pub trait Emitter: Send + Sync + 'static {
    /// `event` to every socket in any of `rooms`, on every node (a socket
    /// in several of them gets it once).
    fn emit(&self, rooms: Vec<String>, event: Event, data: Payload) -> BoxFuture<'_, ()>;

    /// `(onlineAgents, onlineCustomers)` of a tenant: distinct users, on
    /// every node.
    fn online<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, (usize, usize)>;
}

/// The `/chat` namespace. Set once, right after the Socket.IO layer is
/// built: the layer needs the app's state, and the state needs this.
pub struct SocketEmitter<A: Adapter> {
    io: OnceLock<SocketIo<A>>,
    namespace: &'static str,
    /// This node's connected users, kept by the connection handlers.
    pub presence: Presence,
    /// Other nodes share the rooms (the Redis adapter): presence is then
    /// asked of every node, one request per tenant at a time.
    clustered: bool,
    asks: SingleFlight<String, (usize, usize)>,
}

impl<A: Adapter> SocketEmitter<A> {
    pub fn new(namespace: &'static str, clustered: bool) -> Self {
        Self {
            io: OnceLock::new(),
            namespace,
            presence: Presence::default(),
            clustered,
            asks: SingleFlight::default(),
        }
    }

    pub fn set_io(&self, io: SocketIo<A>) {
        // Called once at start-up; a second call would be a bug, and the
        // first value stays.
        let _ = self.io.set(io);
    }

    /// Broadcast operators of the namespace (none before start-up ends).
    pub fn chat(&self) -> Option<BroadcastOperators<A>> {
        self.io.get()?.of(self.namespace)
    }

    /// Distinct users among the sockets of `room`, on all nodes; this
    /// node's alone when the others cannot be asked.
    async fn users_in(&self, ns: &BroadcastOperators<A>, tenant: &str, room: String) -> usize {
        match ns.clone().within(room.clone()).rooms().await {
            Ok(found) => distinct_users(&found, tenant),
            Err(err) => {
                tracing::warn!(%tenant, error = %err, "presence from the adapter failed; counting this node only");
                let local = ns.clone().local().within(room).rooms().await;
                distinct_users(&local.unwrap_or_default(), tenant)
            }
        }
    }
}

impl<A: Adapter> Emitter for SocketEmitter<A> {
    fn emit(&self, rooms: Vec<String>, event: Event, data: Payload) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let Some(ns) = self.chat() else { return };
            if let Err(err) = ns.within(rooms).emit(event.as_ref(), &data).await {
                tracing::warn!(event = %event, error = %err, "broadcast failed");
            }
        })
    }

    fn online<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, (usize, usize)> {
        Box::pin(async move {
            if !self.clustered {
                return self.presence.counts(tenant);
            }
            let Some(ns) = self.chat() else { return (0, 0) };
            let key = tenant.to_owned();
            self.asks
                .run(&key, || async {
                    let agents = self.users_in(&ns, tenant, rooms::agents(tenant)).await;
                    let customers = self.users_in(&ns, tenant, rooms::customers(tenant)).await;
                    (agents, customers)
                })
                .await
        })
    }
}

/// Every socket is in its user's room, so the distinct user rooms among
/// the rooms of a presence room's sockets are its distinct users.
fn distinct_users(found: &[Room], tenant: &str) -> usize {
    let prefix = rooms::user_prefix(tenant);
    found
        .iter()
        .filter(|room| room.starts_with(&prefix))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_counted_by_their_user_rooms_once_each() {
        let found: Vec<Room> = [
            rooms::user("t", "a"),
            rooms::agents("t"),
            rooms::user("t", "b"),
            rooms::session("x"),
            rooms::user("t2", "c"),
            rooms::user("t:x", "ab"),
        ]
        .into_iter()
        .map(Room::from)
        .collect();
        assert_eq!(distinct_users(&found, "t"), 2);
        assert_eq!(distinct_users(&found, "t2"), 1);
        assert_eq!(distinct_users(&found, "t:x"), 1);
    }
}
