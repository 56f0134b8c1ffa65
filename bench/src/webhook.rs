//! `chat --webhook`: a receiver on loopback that answers every delivery
//! 204 at once and counts them, and the admin calls that register it for
//! `message.created`, so a run measures the outbox and the deliveries on
//! the server's CPU beside the chat.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::token::Minter;

/// Deliveries received so far.
#[derive(Clone, Default)]
pub struct Received(Arc<AtomicU64>);

impl Received {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Listens on 127.0.0.1; HTTP/1.1 with keep-alive, as the server's client
/// uses it.
pub async fn receiver() -> anyhow::Result<(SocketAddr, Received)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let received = Received::default();
    let counter = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, counter.clone()));
        }
    });
    Ok((addr, received))
}

async fn serve(mut stream: TcpStream, received: Received) {
    let mut buffer: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        // One request: headers, then Content-Length bytes of body.
        let Some(end) = find(&buffer, b"\r\n\r\n") else {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < end + 4 + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..end + 4 + length);
        received.0.fetch_add(1, Ordering::Relaxed);
        let answer = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
        if stream.write_all(answer).await.is_err() {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Registers `receiver` for `message.created` of the `default` tenant.
pub async fn register(
    server: SocketAddr,
    minter: &Minter,
    receiver: SocketAddr,
) -> anyhow::Result<()> {
    let admin = minter.mint("bench-admin", "admin")?;
    let body = json!({ "url": format!("http://{receiver}/hook"), "events": ["message.created"] });
    crate::net::post_json(
        &reqwest::Client::new(),
        server,
        "/api/webhooks",
        &admin,
        &body,
    )
    .await?;
    Ok(())
}

/// Waits until `received` reaches `expected` (or `limit` passes); the
/// count then.
pub async fn wait_for(received: &Received, expected: u64, limit: Duration) -> u64 {
    let start = tokio::time::Instant::now();
    while received.count() < expected && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    received.count()
}
