//! The Socket.IO `/chat` namespace: authentication in a connect middleware,
//! one module per group of client events. What follows a change goes out
//! through `crate::fanout`, not from here.

pub mod connection;
pub mod dispatch;
pub mod messages;
pub mod reply;
pub mod routing;
pub mod sessions;
pub mod tools;
pub mod typing;

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::handler::ConnectHandler;
use socketioxide_core::adapter::DefinedAdapter;

use crate::app::NAMESPACE;

/// Registers the namespace; handlers of each socket are registered in
/// [`connection::authenticate`].
/// The result is the adapter's initialisation (a future to await for a
/// remote adapter, nothing for the local one).
pub fn register<A: Adapter + DefinedAdapter>(io: &SocketIo<A>) -> A::InitRes {
    io.ns(
        NAMESPACE,
        connection::on_connect::<A>.with(connection::authenticate::<A>),
    )
}
