//! Does reading stall the chat? A customer sends a message every 100 ms
//! and times each ack from the moment the message was due (open loop: a
//! slow ack does not delay the next send), first alone, then while
//! `agents` agents page through the big tenant's session list in a loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use serde_json::json;

use super::client::{Rest, Socket};
use super::ops::BIG;
use crate::report::histogram;
use crate::sio::Incoming;
use crate::token::Minter;

const PERIOD: Duration = Duration::from_millis(100);

pub struct ChatUnderReads {
    pub idle: Histogram<u64>,
    pub loaded: Histogram<u64>,
    /// List pages the agents got while the customer was sending.
    pub pages: u64,
    /// Messages not acked 30 s after they were due (not in the histograms).
    pub unacked_idle: u64,
    pub unacked_loaded: u64,
    /// List requests that failed (e.g. `unavailable` after 5 s in the queue).
    pub failed_pages: u64,
}

pub async fn run(
    addr: SocketAddr,
    minter: &Minter,
    seconds: f64,
    agents: usize,
    tag: &str,
) -> anyhow::Result<ChatUnderReads> {
    let http = reqwest::Client::new();
    let sub = format!("bench-chatter-{tag}");
    let token = minter.mint_in(&sub, "customer", Some(BIG))?;
    let (opened, _) = Rest::new(&http, addr, token.clone())
        .post("/api/chat/sessions", &json!({}))
        .await?;
    let session = opened["id"].as_str().context("no session id")?.to_string();
    let mut socket = Socket::connect(addr, &token).await?;
    socket
        .call("join-session", &json!({ "sessionId": session }))
        .await?;
    let count = (seconds / PERIOD.as_secs_f64()).ceil() as u64;
    let (idle, unacked_idle) = send_for(&mut socket, &session, count, 1_000).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let pages = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for i in 0..agents {
        let agent = Rest::new(
            &http,
            addr,
            minter.mint_in(&format!("bench-reader-{i}"), "agent", Some(BIG))?,
        );
        let (stop, pages, failed) = (stop.clone(), pages.clone(), failed.clone());
        readers.push(tokio::spawn(page_in_a_loop(agent, stop, pages, failed)));
    }
    let before = pages.load(Ordering::Relaxed);
    let loaded = send_for(&mut socket, &session, count, 2_000_000).await;
    let pages = pages.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await?;
    }
    let (loaded, unacked_loaded) = loaded?;
    Ok(ChatUnderReads {
        idle,
        loaded,
        pages,
        unacked_idle,
        unacked_loaded,
        failed_pages: failed.load(Ordering::Relaxed),
    })
}

/// An agent reloading the list and paging on, five pages, again and again.
async fn page_in_a_loop(
    agent: Rest,
    stop: Arc<AtomicBool>,
    pages: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
) {
    while !stop.load(Ordering::Relaxed) {
        let mut path = "/api/chat/sessions?limit=50".to_string();
        for _ in 0..5 {
            let Ok((page, _)) = agent.get(&path).await else {
                failed.fetch_add(1, Ordering::Relaxed);
                break;
            };
            pages.fetch_add(1, Ordering::Relaxed);
            let Some(cursor) = page["nextCursor"].as_str() else {
                break;
            };
            path = format!("/api/chat/sessions?limit=50&cursor={cursor}");
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
}

/// `count` messages, one every [`PERIOD`]; ack ids from `first_id`. The
/// latencies, and how many acks had not come 30 s after the last send.
async fn send_for(
    socket: &mut Socket,
    session: &str,
    count: u64,
    first_id: u64,
) -> anyhow::Result<(Histogram<u64>, u64)> {
    let mut h = histogram();
    let start = Instant::now() + PERIOD;
    let mut tick = tokio::time::interval_at(start.into(), PERIOD);
    let mut sent = 0;
    let mut acked = 0;
    let deadline = start + PERIOD * count as u32 + Duration::from_secs(30);
    let (client, events) = socket.parts();
    while acked < count {
        tokio::select! {
            _ = tick.tick(), if sent < count => {
                let id = first_id + sent;
                let message = json!({ "sessionId": session, "content": "a chat line while agents read", "clientMessageId": format!("chat-{id}") });
                client.emit_with_ack("send-message", &message.to_string(), id);
                sent += 1;
            }
            event = events.recv() => match event {
                Some(Incoming::Ack { id, payload, at }) if (first_id..first_id + count).contains(&id) => {
                    anyhow::ensure!(payload.contains("\"ok\":true"), "send-message failed: {payload}");
                    let due = start + PERIOD * (id - first_id) as u32;
                    let _ = h.record((at.saturating_duration_since(due).as_micros() as u64).max(1));
                    acked += 1;
                }
                Some(Incoming::Closed { reason }) => anyhow::bail!("socket closed: {reason}"),
                Some(_) => {}
                None => anyhow::bail!("socket gone"),
            },
            () = tokio::time::sleep_until(deadline.into()) => break,
        }
    }
    Ok((h, count - acked))
}
