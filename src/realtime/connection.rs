//! The life of a `/chat` socket: the connect middleware that authenticates
//! (a refusal becomes `connect_error` with `unauthorized: <reason>`), the
//! connect handler that registers the event handlers and joins the user's
//! rooms, and the disconnect handler.

use serde_json::{Value, json};
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;

use super::dispatch::dispatch;
use super::typing;
use crate::app::AppState;
use crate::auth::AuthError;
use crate::chat::clock::{now_ms, rfc3339};
use crate::chat::routing::agents;
use crate::chat::{Role, User, access};
use crate::fanout::rooms;
use crate::metrics::ReasonLabels;

/// What the client sees as `err.message` of `connect_error`.
#[derive(Debug)]
pub struct Refused(AuthError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unauthorized: {}", self.0)
    }
}

/// Connect middleware: runs before the socket joins the namespace, so a
/// refused client gets no other event and nothing is stored.
pub async fn authenticate<A: Adapter>(
    s: SocketRef<A>,
    TryData(auth): TryData<Value>,
    State(app): State<AppState<A>>,
) -> Result<(), Refused> {
    let result = token_of(&s, auth).and_then(|token| app.verifier.verify(&token));
    let user = match result {
        Ok(user) => user,
        Err(reason) => {
            app.metrics
                .refused_handshakes
                .get_or_create(&ReasonLabels {
                    reason: reason.to_string(),
                })
                .inc();
            tracing::info!(socket = %s.id, %reason, "handshake refused");
            return Err(Refused(reason));
        }
    };
    if let Err(err) = app.users.remember(&user).await {
        // The connection is still worth having: events will report the
        // database state themselves.
        tracing::warn!(user = %user.id, code = err.code().as_str(), "cannot record user");
    }
    prepare(&s, &user);
    app.sockets.presence.joined(&user);
    s.extensions.insert(user);
    Ok(())
}

/// Registers every handler and joins the user's rooms. Called from the
/// middleware, which socketioxide awaits before it sends CONNECT: the
/// connect handler runs in a task spawned after CONNECT, so events a client
/// sends the moment it is connected could otherwise find no handler.
fn prepare<A: Adapter>(s: &SocketRef<A>, user: &User) {
    s.on_fallback(dispatch::<A>);
    s.on_disconnect(on_disconnect::<A>);
    s.join([
        rooms::user(&user.tenant, &user.id),
        rooms::tenant(&user.tenant),
        rooms::presence(user),
    ]);
    if user.role == Role::Admin {
        s.join(rooms::admins(&user.tenant));
    }
}

/// `auth.token`, then the `token` query parameter, then `Authorization: Bearer`.
fn token_of<A: Adapter>(
    s: &SocketRef<A>,
    auth: Result<Value, ParserError>,
) -> Result<String, AuthError> {
    match auth.ok().as_ref().and_then(|a| a.get("token")) {
        Some(Value::String(token)) => {
            return Ok(crate::auth::bearer_token(token).unwrap_or(token).to_owned());
        }
        Some(Value::Null) | None => {}
        Some(_) => return Err(AuthError::InvalidToken),
    }
    let parts = s.req_parts();
    let from_query = parts.uri.query().and_then(|query| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == "token").then(|| percent_decode(value))
        })
    });
    if let Some(token) = from_query {
        return Ok(token);
    }
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match header {
        Some(value) => crate::auth::bearer_token(value).map(str::to_owned),
        None => Err(AuthError::MissingToken),
    }
}

/// JWTs are URL-safe, but a client may still percent-encode the parameter.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3).and_then(hex_byte)) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
}

/// The socket is connected (its handlers and rooms are in place, see
/// [`prepare`]): say hello, give staff a stats snapshot, and tell the
/// tenant's agents that presence changed.
pub async fn on_connect<A: Adapter>(
    s: SocketRef<A>,
    Extension(user): Extension<User>,
    State(app): State<AppState<A>>,
) {
    app.metrics.connections.inc();
    app.metrics.connected_sockets.inc();
    tracing::info!(socket = %s.id, user = %user.id, tenant = %user.tenant, role = user.role.as_str(),
                   transport = ?s.transport_type(), "connected");

    // Hello and the snapshot come first, before any event this connection
    // causes (an agent coming online changes their tenant's stats).
    let greet = || async {
        let hello = hello(&app, &s, &user).await;
        if let Err(err) = s.emit("connected", &hello) {
            tracing::debug!(socket = %s.id, error = %err, "cannot send connected");
        }
        if access::may_see_stats(&user) {
            match app.fanout().stats.snapshot(&user.tenant).await {
                Ok(snapshot) => {
                    if let Err(err) = s.emit("stats-update", &snapshot) {
                        tracing::debug!(socket = %s.id, error = %err, "cannot send stats snapshot");
                    }
                }
                Err(err) => {
                    tracing::warn!(socket = %s.id, code = err.code().as_str(), "no stats snapshot")
                }
            }
        }
    };
    if user.role.is_staff() {
        if let Err(err) = app.actions.agent_connected(&user, greet).await {
            tracing::warn!(socket = %s.id, code = err.code().as_str(), "agent presence not recorded");
        }
    } else {
        greet().await;
    }
    app.fanout().stats_changed(&user.tenant);
}

/// The `connected` payload: who the socket is, the tenant's service status
/// and, for staff, their own state.
async fn hello<A: Adapter>(app: &AppState<A>, s: &SocketRef<A>, user: &User) -> Value {
    let defaults = &app.actions.router.config.defaults;
    let mut hello = json!({ "user": user.user_ref(), "socketId": s.id.to_string(), "serverTime": rfc3339(now_ms()) });
    match app.fanout().notices.service_status(&user.tenant).await {
        Ok(status) => hello["service"] = json!(status),
        Err(err) => tracing::warn!(socket = %s.id, code = err.code().as_str(), "no service status"),
    }
    if user.role.is_staff() {
        match agents::state(&app.reads, defaults, &user.tenant, &user.id).await {
            Ok(Some(agent)) => hello["agent"] = json!(agent),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(socket = %s.id, code = err.code().as_str(), "no agent state")
            }
        }
    }
    hello
}

async fn on_disconnect<A: Adapter>(
    s: SocketRef<A>,
    reason: DisconnectReason,
    Extension(user): Extension<User>,
    State(app): State<AppState<A>>,
) {
    tracing::info!(socket = %s.id, user = %user.id, tenant = %user.tenant, ?reason, "disconnected");
    app.sockets.presence.left(&user);
    typing::disconnected(&app.typing, &s, &user).await;
    if user.role.is_staff()
        && let Err(err) = app.actions.agent_disconnected(&user).await
    {
        tracing::warn!(socket = %s.id, code = err.code().as_str(), "agent presence not updated");
    }
    app.metrics.connected_sockets.dec();
    app.fanout().stats_changed(&user.tenant);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoded_query_tokens_are_decoded() {
        assert_eq!(percent_decode("a%2Eb%3d"), "a.b=");
        assert_eq!(percent_decode("abc"), "abc");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
    }
}
