//! `connect`: N authenticated `/chat` sockets opened at an open-loop rate
//! (latency counted from each socket's scheduled start), then held idle
//! while the server's heartbeats are answered. Reports connect rate and
//! latency, failures, disconnects during the hold, and the server's RSS per
//! socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore, mpsc};

use crate::cli::ConnectArgs;
use crate::net::{Sources, TcpCounters, raise_fd_limit};
use crate::report::{histogram, line_ms, own_cpu_seconds, summary_ms};
use crate::server::Server;
use crate::sio::{Client, Incoming};
use crate::token::Minter;

/// File descriptors kept for the runtime, the server's pipes and REST.
const FD_MARGIN: u64 = 200;

pub async fn run(args: ConnectArgs) -> anyhow::Result<Value> {
    let limit = raise_fd_limit();
    let n = args.connections;
    if n as u64 + FD_MARGIN > limit {
        bail!(
            "{n} sockets need more file descriptors than this process may open ({limit}, hard limit); \
             at most {} here",
            limit.saturating_sub(FD_MARGIN)
        );
    }
    let mut server = Server::start(&args.server, None).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = server.rss_kib()?;
    eprintln!("server RSS before: {rss_before} KiB; minting {n} tokens");
    let minter = Minter::new(&server.secret);
    let tokens = (0..n)
        .map(|i| minter.mint(&format!("bench-u{i}"), &args.role))
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Every socket's events go to one counter: only closures matter here.
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let disconnects = Arc::new(AtomicUsize::new(0));
    let counter = disconnects.clone();
    tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            if let Incoming::Closed { .. } = event {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    let sources = Arc::new(Sources::new(args.load.source_addrs));
    let timeout = Duration::from_secs_f64(args.load.connect_timeout);
    let latencies = Arc::new(Mutex::new(histogram()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients = Arc::new(Mutex::new(Vec::<Client>::with_capacity(n)));
    let permits = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let cpu_before = server.cpu_seconds()?;
    let tcp_before = TcpCounters::read();
    let own_before = own_cpu_seconds();
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(n);
    let mut progress = Instant::now();

    for (i, token) in tokens.into_iter().enumerate() {
        // Open loop: latency counts from the scheduled start. Closed loop
        // (rate 0): from the moment a handshake slot is free.
        let (scheduled, permit) = if args.rate > 0.0 {
            let at = start + Duration::from_secs_f64(i as f64 / args.rate);
            tokio::time::sleep_until(at.into()).await;
            (at, None)
        } else {
            let permit = permits.clone().acquire_owned().await?;
            (Instant::now(), Some(permit))
        };
        let (events, sources, latencies, failures, connected) = (
            events_tx.clone(),
            sources.clone(),
            latencies.clone(),
            failures.clone(),
            clients.clone(),
        );
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let result = Client::connect(addr, sources.pick(i), &token, events, timeout).await;
            let done = Instant::now();
            drop(permit);
            match result {
                Ok(client) => {
                    let us = done.duration_since(scheduled).as_micros() as u64;
                    let _ = latencies.lock().await.record(us.max(1));
                    connected.lock().await.push(client);
                }
                Err(e) => failures.lock().await.push(e.to_string()),
            }
        }));
        if progress.elapsed() > Duration::from_secs(2) {
            progress = Instant::now();
            eprintln!(
                "  {} / {n} started, {} connected",
                i + 1,
                clients.lock().await.len()
            );
        }
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let tcp = TcpCounters::read().since(tcp_before);
    let server_cpu = server.cpu_seconds()? - cpu_before;
    let own_cpu = own_cpu_seconds() - own_before;
    let connected = clients.lock().await.len();
    let failed = failures.lock().await.len();
    let latencies = latencies.lock().await.clone();
    let rate = connected as f64 / elapsed;
    eprintln!(
        "connected {connected}/{n} in {elapsed:.2} s ({rate:.0}/s), {failed} failed; latency {}",
        line_ms(&latencies)
    );
    eprintln!(
        "server CPU {:.0}% of a core during connects; bench CPU {:.0}%; accept-queue overflows {}, SYN retransmits {}",
        100.0 * server_cpu / elapsed,
        100.0 * own_cpu / elapsed,
        tcp.listen_overflows,
        tcp.syn_retransmits
    );

    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let rss_connected = server.rss_kib()?;
    let per_socket = per_socket_kib(rss_before, rss_connected, connected);
    eprintln!(
        "server RSS with {connected} sockets: {rss_connected} KiB ({per_socket:.2} KiB per socket); holding {} s",
        args.hold
    );
    let hold_start = Instant::now();
    while hold_start.elapsed().as_secs_f64() < args.hold {
        tokio::time::sleep(Duration::from_secs(1).min(Duration::from_secs_f64(args.hold))).await;
        let lost = disconnects.load(Ordering::Relaxed);
        if lost > 0 {
            eprintln!("  {lost} disconnected during the hold");
        }
    }
    let server_alive = server.alive();
    let rss_after_hold = server.rss_kib()?;
    let disconnected = disconnects.load(Ordering::Relaxed);
    let hold_cpu = server.cpu_seconds()? - cpu_before - server_cpu;
    eprintln!(
        "after {:.0} s hold: {disconnected} disconnects, server RSS {rss_after_hold} KiB, server CPU {:.1}% while idle",
        args.hold,
        100.0 * hold_cpu / hold_start.elapsed().as_secs_f64()
    );

    let mut failure_samples = failures.lock().await.clone();
    failure_samples.sort();
    failure_samples.dedup();
    failure_samples.truncate(5);
    clients.lock().await.clear();
    let database = server.database.clone();
    server.stop().await;
    Ok(json!({
        "scenario": "connect",
        "database": database,
        "connections": n,
        "role": args.role,
        "target_rate": args.rate,
        "concurrency": if args.rate > 0.0 { Value::Null } else { json!(args.concurrency) },
        "connected": connected,
        "failed": failed,
        "failure_samples": failure_samples,
        "connect_seconds": elapsed,
        "connect_rate": rate,
        "connect_latency_ms": summary_ms(&latencies),
        "server_cpu_pct_connecting": 100.0 * server_cpu / elapsed,
        "listen_overflows": tcp.listen_overflows,
        "syn_retransmits": tcp.syn_retransmits,
        "connects_per_server_cpu_second": if server_cpu > 0.0 { connected as f64 / server_cpu } else { 0.0 },
        "bench_cpu_pct": 100.0 * own_cpu / elapsed,
        "rss_before_kib": rss_before,
        "rss_connected_kib": rss_connected,
        "rss_after_hold_kib": rss_after_hold,
        "kib_per_socket": per_socket,
        "kib_per_socket_after_hold": per_socket_kib(rss_before, rss_after_hold, connected),
        "hold_seconds": args.hold,
        "disconnects_during_hold": disconnected,
        "server_alive_after_hold": server_alive,
        "server_cpu_pct_idle_hold": 100.0 * hold_cpu / args.hold.max(0.001),
    }))
}

fn per_socket_kib(before: u64, after: u64, sockets: usize) -> f64 {
    if sockets == 0 {
        return 0.0;
    }
    (after as f64 - before as f64) / sockets as f64
}
