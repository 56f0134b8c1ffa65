//! The Socket.IO `/chat` namespace: authentication in a connect middleware,
//! one module per group of events, and the events the server sends.

pub mod connection;
pub mod events;
pub mod messages;
pub mod presence;
pub mod reply;
pub mod sessions;
pub mod stats;
pub mod typing;

use socketioxide::SocketIo;
use socketioxide::handler::ConnectHandler;

pub const NAMESPACE: &str = "/chat";

/// Registers the namespace; handlers of each socket are registered in
/// [`connection::on_connect`].
pub fn register(io: &SocketIo) {
    io.ns(
        NAMESPACE,
        connection::on_connect.with(connection::authenticate),
    );
}
