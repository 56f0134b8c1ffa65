//! The accept loop, in place of `axum::serve`, for what it cannot set: a
//! deadline on request heads (hyper's `header_read_timeout`) and on request
//! bodies, and a cap on open connections per client address. Like
//! `axum::serve` it sets TCP_NODELAY, serves HTTP/1.1 with upgrades
//! (websockets leave hyper's watch once upgraded) and, on shutdown, stops
//! accepting and waits for the connections it serves to finish.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tower_http::timeout::DeadlineBody;

use crate::config::{IpNet, ServerConfig};

/// What every connection is held to.
#[derive(Clone)]
pub struct Limits {
    header_read_timeout: Duration,
    body_deadline: Duration,
    upload_deadline: Duration,
    per_address: Arc<PerAddress>,
    trusted_proxies: Arc<[IpNet]>,
}

impl Limits {
    pub fn from_config(config: &ServerConfig) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds.max(1)),
            body_deadline: Duration::from_secs(config.body_read_timeout_seconds.max(1)),
            upload_deadline: Duration::from_secs(
                config.attachments.attachment_upload_timeout_seconds.max(1),
            ),
            per_address: Arc::new(PerAddress::new(config.max_connections_per_ip)),
            trusted_proxies: config.trusted_proxies.clone().into(),
        }
    }
}

/// Serves `router` on `listener` until `stopping` is cancelled, then waits
/// for every connection to close, upgraded websockets included (the caller
/// closes the sockets and bounds the wait). Once `stopping` is cancelled
/// each connection finishes its request in progress and closes, and one
/// closed from then on closes without a reset ([`Tracked`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stopping: CancellationToken,
) -> std::io::Result<()> {
    // Each connection holds a receiver of `open` until it is closed.
    let (open, open_rx) = watch::channel(());
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = stopping.cancelled() => break,
        };
        let slot = SlotCell::default();
        let behind_proxy = is_trusted(&limits.trusted_proxies, peer.ip());
        if !behind_proxy {
            match limits.per_address.acquire(peer.ip()) {
                Some(held) => slot.hold(held),
                None => {
                    tracing::debug!(%peer, "connection refused: too many from this address");
                    continue;
                }
            }
        }
        no_delay(&tcp);
        let service = {
            let (router, limits, slot) = (router.clone(), limits.clone(), slot.clone());
            hyper::service::service_fn(move |request: Request<Incoming>| {
                handle(request, peer, behind_proxy, &limits, &slot, router.clone())
            })
        };
        let io = TokioIo::new(Tracked {
            tcp: Some(tcp),
            _slot: slot,
            closing: Closing {
                stopping: stopping.clone(),
                open: open_rx.clone(),
            },
        });
        let (builder, stopping) = (builder.clone(), stopping.clone());
        tokio::spawn(async move {
            let mut connection = pin!(builder.serve_connection(io, service).with_upgrades());
            let mut asked_to_stop = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(err) = result {
                            tracing::trace!(%err, "connection ended with an error");
                        }
                        break;
                    }
                    () = stopping.cancelled(), if !asked_to_stop => {
                        asked_to_stop = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    drop(listener);
    drop(open_rx);
    open.closed().await;
    Ok(())
}

/// One request: behind a trusted proxy, the connection counts against the
/// client address the proxy names; the body gets its deadline.
fn handle(
    request: Request<Incoming>,
    peer: SocketAddr,
    behind_proxy: bool,
    limits: &Limits,
    slot: &SlotCell,
    router: Router,
) -> impl Future<Output = Result<Response<Body>, Infallible>> + use<> {
    let refused = behind_proxy && {
        let client = client_address(request.headers(), peer.ip(), &limits.trusted_proxies);
        !slot.hold_for(client, &limits.per_address)
    };
    // An upload (docs/protocol.md §9) may take longer than a JSON body.
    let upload = request.method() == axum::http::Method::POST
        && request.uri().path().ends_with("/attachments");
    let deadline = if upload {
        limits.upload_deadline
    } else {
        limits.body_deadline
    };
    let request = request.map(|body| Body::new(DeadlineBody::new(deadline, body)));
    async move {
        if refused {
            return Ok(Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .body(Body::from("too many connections from this address"))
                .unwrap_or_default());
        }
        router.oneshot(request).await
    }
}

/// The client behind trusted proxies: the right-most `X-Forwarded-For`
/// entry that is not itself a trusted proxy (entries to its left are the
/// client's own word).
pub fn client_address(headers: &HeaderMap, peer: IpAddr, trusted: &[IpNet]) -> IpAddr {
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(trusted, *ip))
        .unwrap_or(peer)
}

fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    trusted.iter().any(|net| net.contains(ip))
}

/// Open connections per client address, capped (0: no cap).
pub struct PerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerAddress {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for one more connection from `ip`, or `None` at the cap.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if self.max != 0 && *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            ip,
            owner: self.clone(),
        })
    }
}

/// One open connection of `ip`; dropped when the connection is gone.
pub struct Slot {
    ip: IpAddr,
    owner: Arc<PerAddress>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The slot a connection holds, shared by its I/O (which outlives an
/// upgrade to websocket) and its service (which may change it when a
/// proxy reuses the connection for another client).
#[derive(Clone, Default)]
struct SlotCell(Arc<Mutex<Option<Slot>>>);

impl SlotCell {
    fn hold(&self, slot: Slot) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(slot);
    }

    /// Holds a slot of `ip` (keeping the one held if it is `ip`'s);
    /// false at the cap.
    fn hold_for(&self, ip: IpAddr, per_address: &Arc<PerAddress>) -> bool {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if held.as_ref().is_some_and(|slot| slot.ip == ip) {
            return true;
        }
        *held = None;
        match per_address.acquire(ip) {
            Some(slot) => {
                *held = Some(slot);
                true
            }
            None => false,
        }
    }
}

/// A TCP stream that keeps its connection's slot for as long as it lives.
struct Tracked {
    /// `None` only once dropped.
    tcp: Option<TcpStream>,
    _slot: SlotCell,
    closing: Closing,
}

/// What a connection needs to close well during shutdown.
struct Closing {
    stopping: CancellationToken,
    /// Held until the connection is closed, websockets included: shutdown
    /// waits for every receiver.
    open: watch::Receiver<()>,
}

/// How long a connection closed during shutdown is read on, at most.
const LINGER_FOR: Duration = Duration::from_secs(2);

/// The most bytes read from it meanwhile.
const LINGER_BYTES: usize = 1024 * 1024;

impl Tracked {
    /// `poll` on the stream (there is one until the connection is dropped).
    fn on_tcp<T>(
        &mut self,
        poll: impl FnOnce(Pin<&mut TcpStream>) -> Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match self.tcp.as_mut() {
            Some(tcp) => poll(Pin::new(tcp)),
            None => Poll::Ready(Err(std::io::ErrorKind::NotConnected.into())),
        }
    }
}

/// A connection closed during shutdown (the sockets closed by the server)
/// is closed the way nginx's `lingering_close` does: the end of what was
/// written is signalled (FIN), and what the client still sends is read and
/// thrown away until it closes too, 2 s or 1 MiB at most. Closed at once
/// with unread bytes, the kernel would reset it, and a client that was
/// still writing (its last messages, their acks on the way back) could
/// lose the acks it had not read yet. Shutdown waits for these closes.
impl Drop for Tracked {
    fn drop(&mut self) {
        let Some(tcp) = self.tcp.take() else { return };
        if !self.closing.stopping.is_cancelled() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let open = self.closing.open.clone();
        runtime.spawn(async move {
            let _ = tokio::time::timeout(LINGER_FOR, linger(tcp)).await;
            drop(open);
        });
    }
}

/// Sends FIN, then reads until the client closes (or `LINGER_BYTES`).
async fn linger(mut tcp: TcpStream) {
    if tcp.shutdown().await.is_err() {
        return;
    }
    let mut buf = [0u8; 4096];
    let mut read = 0;
    while read < LINGER_BYTES {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => read += n,
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.on_tcp(|tcp| tcp.poll_read(cx, buf))
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.on_tcp(|tcp| tcp.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.on_tcp(|tcp| tcp.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.as_ref().is_some_and(TcpStream::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.on_tcp(|tcp| tcp.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.on_tcp(|tcp| tcp.poll_shutdown(cx))
    }
}

/// Small Socket.IO packets (an echo, then its ack) go out at once instead
/// of waiting for Nagle's algorithm and the peer's delayed ACK (~40 ms).
fn no_delay(tcp: &TcpStream) {
    if let Err(err) = tcp.set_nodelay(true) {
        tracing::debug!(%err, "cannot set TCP_NODELAY");
    }
}

/// As `axum::serve`: a failed connection is the peer's problem; anything
/// else (out of file descriptors) is waited out for a second.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_cap_counts_open_connections_per_address() {
        let per = Arc::new(PerAddress::new(2));
        let a = per.acquire(ip("10.0.0.1")).unwrap();
        let _b = per.acquire(ip("10.0.0.1")).unwrap();
        assert!(per.acquire(ip("10.0.0.1")).is_none());
        assert!(per.acquire(ip("10.0.0.2")).is_some());
        drop(a);
        assert!(per.acquire(ip("10.0.0.1")).is_some());
    }

    #[test]
    fn forwarded_for_is_read_from_the_right_past_trusted_proxies() {
        let trusted = ["10.0.0.9".parse().unwrap(), "10.0.0.8/31".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "6.6.6.6, 1.2.3.4, 10.0.0.8".parse().unwrap(),
        );
        assert_eq!(
            client_address(&headers, ip("10.0.0.9"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_address(&HeaderMap::new(), ip("10.0.0.9"), &trusted),
            ip("10.0.0.9")
        );
    }
}
