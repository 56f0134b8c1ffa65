//! A minimal Socket.IO v4 client over Engine.IO v4 websocket, enough to
//! load the server the way `socket.io-client` with
//! `{ transports: ['websocket'], auth: { token } }` does: handshake with the
//! token in the `/chat` CONNECT packet, events with and without ack ids,
//! ack replies, and heartbeats (the server pings, we answer `3`).
//!
//! Each connection is one task owning its websocket (no split, no locks):
//! it writes what the owner queues on an unbounded channel and forwards
//! every event and ack, stamped with the instant its frame was read, to the
//! owner's channel. Timestamps are taken before any JSON parsing so the
//! parsing cost of the load generator is not counted as server latency.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The namespace every frame is addressed to.
const NS: &str = "/chat";

/// What a connection hands to its owner.
#[derive(Debug)]
pub enum Incoming {
    /// `42/chat,["name",payload]`: `payload` is the raw JSON of the first
    /// argument.
    Event {
        name: String,
        payload: String,
        at: Instant,
    },
    /// `43/chat,<id>[payload]`: `payload` is the raw JSON of the first
    /// argument.
    Ack {
        id: u64,
        payload: String,
        at: Instant,
    },
    /// The websocket ended: server close, error or disconnect packet.
    Closed { reason: String },
}

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("tcp: {0}")]
    Tcp(#[from] std::io::Error),
    #[error("websocket: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    /// The server answered CONNECT_ERROR (`44/chat,{"message":..}`).
    #[error("refused: {0}")]
    Refused(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("timed out")]
    Timeout,
}

/// The owner's side of a connected socket. Dropping it closes the socket.
pub struct Client {
    out: mpsc::UnboundedSender<Message>,
}

impl Client {
    /// Opens TCP from `source` (port chosen by the kernel), upgrades to
    /// websocket, and connects to `/chat` with `{"token": token}`. Events
    /// and acks go to `events`; `connected` and the like included.
    pub async fn connect(
        server: SocketAddr,
        source: Option<std::net::IpAddr>,
        token: &str,
        events: mpsc::UnboundedSender<Incoming>,
        timeout: Duration,
    ) -> Result<Client, ConnectError> {
        tokio::time::timeout(timeout, handshake(server, source, token))
            .await
            .map_err(|_| ConnectError::Timeout)?
            .map(|ws| {
                let (out, rx) = mpsc::unbounded_channel();
                tokio::spawn(run(ws, rx, events));
                Client { out }
            })
    }

    /// `42/chat,<id>["event",payload]`: the reply comes as `Incoming::Ack`.
    pub fn emit_with_ack(&self, event: &str, payload: &str, id: u64) -> bool {
        self.send_raw(event_frame(event, payload, Some(id)))
    }

    /// Queues a ready-made Engine.IO text frame; false once the socket is gone.
    pub fn send_raw(&self, frame: String) -> bool {
        self.out.send(Message::text(frame)).is_ok()
    }

    /// A cheap handle that can queue frames from another thread (the pacer).
    pub fn sender(&self) -> mpsc::UnboundedSender<Message> {
        self.out.clone()
    }
}

/// The text of an EVENT packet to `/chat`.
pub fn event_frame(event: &str, payload: &str, ack: Option<u64>) -> String {
    match ack {
        Some(id) => format!("42{NS},{id}[\"{event}\",{payload}]"),
        None => format!("42{NS},[\"{event}\",{payload}]"),
    }
}

type Ws = WebSocketStream<TcpStream>;

async fn handshake(
    server: SocketAddr,
    source: Option<std::net::IpAddr>,
    token: &str,
) -> Result<Ws, ConnectError> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{server}/socket.io/?EIO=4&transport=websocket");
    // Small buffers: tens of thousands of idle sockets live in this process.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;

    let open = next_text(&mut ws).await?;
    if !open.starts_with("0{") {
        return Err(ConnectError::Protocol(format!(
            "expected OPEN, got {open:.60}"
        )));
    }
    let auth = serde_json::json!({ "token": token });
    ws.send(Message::text(format!("40{NS},{auth}"))).await?;
    loop {
        let frame = next_text(&mut ws).await?;
        if let Some(body) = frame.strip_prefix("40/chat,") {
            let sid = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("sid")?.as_str().map(str::to_owned));
            if sid.is_none() {
                return Err(ConnectError::Protocol(format!("bad CONNECT: {body:.60}")));
            }
            return Ok(ws);
        } else if let Some(body) = frame.strip_prefix("44/chat,") {
            let message = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| body.to_string());
            return Err(ConnectError::Refused(message));
        } else if frame == "2" {
            ws.send(Message::text("3")).await?;
        } else {
            return Err(ConnectError::Protocol(format!("unexpected {frame:.60}")));
        }
    }
}

async fn next_text(ws: &mut Ws) -> Result<String, ConnectError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | None => {
                return Err(ConnectError::Protocol("closed during handshake".into()));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// The connection task: writes queued frames (batched, one flush per
/// batch), answers pings, forwards events and acks.
async fn run(
    mut ws: Ws,
    mut rx: mpsc::UnboundedReceiver<Message>,
    events: mpsc::UnboundedSender<Incoming>,
) {
    let reason = loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    let at = Instant::now();
                    let text = t.as_str();
                    if text == "2" {
                        if let Err(e) = ws.send(Message::text("3")).await {
                            break format!("write: {e}");
                        }
                        continue;
                    }
                    match parse(text, at) {
                        Parsed::Deliver(incoming) => { let _ = events.send(incoming); }
                        Parsed::Disconnect => break "server disconnect packet".to_string(),
                        Parsed::Ignore => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None => break "closed by server".to_string(),
                Some(Ok(_)) => {}
                Some(Err(e)) => break format!("read: {e}"),
            },
            out = rx.recv() => match out {
                Some(first) => {
                    let mut result = ws.feed(first).await;
                    while result.is_ok() {
                        match rx.try_recv() {
                            Ok(more) => result = ws.feed(more).await,
                            Err(_) => break,
                        }
                    }
                    if let Err(e) = result.and(ws.flush().await) {
                        break format!("write: {e}");
                    }
                }
                // The owner dropped its `Client`: close politely.
                None => {
                    let _ = ws.send(Message::text(format!("41{NS},"))).await;
                    let _ = ws.close(None).await;
                    return;
                }
            },
        }
    };
    let _ = events.send(Incoming::Closed { reason });
}

enum Parsed {
    Deliver(Incoming),
    Disconnect,
    Ignore,
}

/// Parses `4<type>/chat,[<ack id>]<json>`; anything else is ignored.
fn parse(text: &str, at: Instant) -> Parsed {
    let Some(rest) = text.strip_prefix('4') else {
        return if text.starts_with('1') {
            Parsed::Disconnect
        } else {
            Parsed::Ignore
        };
    };
    let mut chars = rest.chars();
    let kind = chars.next();
    let rest = chars.as_str();
    let rest = rest.strip_prefix("/chat,").unwrap_or(rest);
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = rest[..digits].parse::<u64>().ok();
    let json = &rest[digits..];
    match kind {
        Some('2') => match split_event(json) {
            Some((name, payload)) => Parsed::Deliver(Incoming::Event {
                name: name.to_owned(),
                payload: payload.to_owned(),
                at,
            }),
            None => Parsed::Ignore,
        },
        Some('3') => match (id, json.strip_prefix('[').and_then(|j| j.strip_suffix(']'))) {
            (Some(id), Some(payload)) => Parsed::Deliver(Incoming::Ack {
                id,
                payload: payload.to_owned(),
                at,
            }),
            _ => Parsed::Ignore,
        },
        Some('1') => Parsed::Disconnect,
        _ => Parsed::Ignore,
    }
}

/// `["name",payload]` -> (name, payload); event names never need escapes.
fn split_event(json: &str) -> Option<(&str, &str)> {
    let inner = json.strip_prefix("[\"")?.strip_suffix(']')?;
    let end = inner.find('"')?;
    let name = &inner[..end];
    let payload = inner[end + 1..].strip_prefix(',').unwrap_or("null");
    Some((name, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_with_ack_id_is_framed_like_socket_io_client() {
        assert_eq!(
            event_frame("send-message", "{\"a\":1}", Some(17)),
            "42/chat,17[\"send-message\",{\"a\":1}]"
        );
    }

    #[test]
    fn ack_and_event_frames_are_parsed() {
        let at = Instant::now();
        match parse("43/chat,17[{\"ok\":true}]", at) {
            Parsed::Deliver(Incoming::Ack { id, payload, .. }) => {
                assert_eq!(id, 17);
                assert_eq!(payload, "{\"ok\":true}");
            }
            _ => panic!("not an ack"),
        }
        match parse("42/chat,[\"new-message\",{\"seq\":1}]", at) {
            Parsed::Deliver(Incoming::Event { name, payload, .. }) => {
                assert_eq!(name, "new-message");
                assert_eq!(payload, "{\"seq\":1}");
            }
            _ => panic!("not an event"),
        }
    }
}
