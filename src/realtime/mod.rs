//! The Socket.IO `/chat` namespace: authentication in a connect middleware,
//! one module per group of events, and the events the server sends.

pub mod connection;
pub mod events;
pub mod messages;
pub mod presence;
pub mod redis_driver;
pub mod reply;
pub mod sessions;
pub mod stats;
pub mod typing;

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::handler::ConnectHandler;
use socketioxide_core::adapter::DefinedAdapter;

pub const NAMESPACE: &str = "/chat";

/// Registers the namespace; handlers of each socket are registered in
/// [`connection::on_connect`].
/// The result is the adapter's initialisation (a future to await for a
/// remote adapter, nothing for the local one).
pub fn register<A: Adapter + DefinedAdapter>(io: &SocketIo<A>) -> A::InitRes {
    io.ns(
        NAMESPACE,
        connection::on_connect::<A>.with(connection::authenticate::<A>),
    )
}
