//! `broadcast` (issue 18): one `POST /api/server/publish` to every socket
//! of a tenant, the sockets spread round-robin over `--nodes` nodes
//! (sharing PostgreSQL and Redis).
//!
//! The hard `RLIMIT_NOFILE` is per process (20,000 here), so this process
//! cannot hold 50,000 sockets: it spawns `--holders` children of its own
//! binary (`broadcast-holder`, hidden), each opening its share (at most
//! 18,000) at its share of `--connect-rate`, socket i to node i % nodes.
//! Parent and holders speak JSON lines: a holder writes `connected` once
//! its sockets are open, then answers the parent's `count` (how many of its
//! sockets got publish n) and `report` (each receipt's latency, per node)
//! commands; `exit`, or the end of its stdin, closes its sockets.
//!
//! Times across processes are wall-clock (CLOCK_REALTIME, one machine) in
//! microseconds: the parent stamps `sentAtUs` into the published `data`
//! just before the POST; a holder stamps each receipt when the socket's
//! frame was read (the monotonic read instant, converted). Every socket of
//! the tenant, customers included, is in its `tenant:{tenant}` room: the
//! connect middleware joins it (`src/realtime/connection.rs`, `prepare`).
//!
//! Per publish: received (missing ones are lost), duplicates, time until
//! the last socket had it, p50/p99 over the sockets, the same per node, the
//! POST's own latency, and each node's CPU seconds from the POST to the
//! last receipt. Memory: each node's RSS before any socket and after every
//! socket is connected and settled, KiB per socket; each node's peak fd
//! count (sampled every 250 ms), which must stay under the 20,000 limit.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::cli::{BroadcastArgs, HolderArgs};
use crate::net::{Sources, post_for_field, post_json, raise_fd_limit};
use crate::report::{histogram, line_ms, summary_ms};
use crate::server::{Server, open_fds_of};
use crate::sio::{Client, Incoming};
use crate::soak::{http_client, metrics};
use crate::token::Minter;

/// Sockets one holder may hold (its own fd limit is 20,000).
const HOLDER_MAX: usize = 18_000;
/// Default sockets per holder.
const HOLDER_DEFAULT: usize = 16_000;
/// The per-process descriptor limit of this machine.
const FD_LIMIT: u64 = 20_000;
/// The published event (a backend's own name, `notify.` shown as a toast
/// to staff by the web client).
const EVENT: &str = "notify.bench";

pub async fn run(args: BroadcastArgs) -> anyhow::Result<Value> {
    if args.nodes == 0 || args.sockets == 0 || args.connect_rate <= 0.0 {
        bail!("--nodes, --sockets and --connect-rate must be positive");
    }
    if args.publishes == 0 || args.publishes > 63 {
        bail!("--publishes must be 1..63");
    }
    if args.server.server_pid.is_some() {
        bail!("broadcast starts its own nodes (no --server-pid)");
    }
    let holders = args
        .holders
        .unwrap_or_else(|| args.sockets.div_ceil(HOLDER_DEFAULT))
        .max(1);
    let per_holder = args.sockets.div_ceil(holders);
    if per_holder > HOLDER_MAX {
        bail!(
            "{} sockets over {holders} holders is {per_holder} each, more than {HOLDER_MAX}: raise --holders",
            args.sockets
        );
    }
    let per_node = args.sockets.div_ceil(args.nodes) as u64;
    if per_node + 100 > FD_LIMIT {
        eprintln!(
            "warning: {per_node} sockets per node leave less than 100 descriptors under the {FD_LIMIT} limit"
        );
    }
    raise_fd_limit();
    let nodes =
        Server::start_nodes(&args.server, args.nodes, args.redis_url.as_deref(), None).await?;
    let result = scenario(&args, &nodes, holders, per_holder).await;
    eprintln!("stopping the nodes (SIGTERM)");
    for node in nodes {
        node.stop().await;
    }
    result
}

/// A holder as the parent sees it.
struct Holder {
    child: Child,
    stdin: ChildStdin,
    first: usize,
    count: usize,
}

impl Holder {
    async fn send(&mut self, command: Value) -> anyhow::Result<()> {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }
}

/// What a holder said once its sockets were open.
#[derive(Deserialize)]
struct Connected {
    connected: u64,
    failed: u64,
    per_node: Vec<u64>,
    failures: Vec<String>,
    connect_us: Vec<u64>,
}

#[derive(Deserialize)]
struct Count {
    received: u64,
    disconnects_per_node: Vec<u64>,
}

#[derive(Deserialize)]
struct Report {
    /// Latency of every receipt, µs, per node.
    latency_us: Vec<Vec<i64>>,
    duplicates: u64,
}

struct Messages {
    rx: mpsc::UnboundedReceiver<(usize, Value)>,
}

impl Messages {
    /// The next message of type `kind` from each of `n` holders (others
    /// are dropped), by holder.
    async fn one_each<T: for<'de> Deserialize<'de>>(
        &mut self,
        kind: &str,
        n: usize,
        limit: Duration,
    ) -> anyhow::Result<Vec<T>> {
        let mut got: Vec<Option<T>> = (0..n).map(|_| None).collect();
        let deadline = tokio::time::Instant::now() + limit;
        while got.iter().any(Option::is_none) {
            let (h, message) = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .with_context(|| format!("no `{kind}` from every holder within {limit:?}"))?
                .context("a holder exited")?;
            if message.get("type").and_then(Value::as_str) == Some(kind) && h < n {
                got[h] =
                    Some(serde_json::from_value(message).with_context(|| format!("bad `{kind}`"))?);
            }
        }
        Ok(got.into_iter().flatten().collect())
    }
}

async fn scenario(
    args: &BroadcastArgs,
    nodes: &[Server],
    holder_count: usize,
    per_holder: usize,
) -> anyhow::Result<Value> {
    let http = http_client()?;
    let k = nodes.len();
    let rss_before: Vec<u64> = nodes.iter().map(|n| n.rss_kib().unwrap_or(0)).collect();
    let fds_before: Vec<u64> = nodes.iter().map(|n| n.open_fds().unwrap_or(0)).collect();
    eprintln!("{k} node(s) before any socket: RSS {rss_before:?} KiB, fds {fds_before:?}");

    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let tenant = format!("bench-broadcast-{run}");
    let minter = Minter::new(&nodes[0].secret);
    let admin = minter.mint_in(&format!("admin-{run}"), "admin", Some(&tenant))?;
    let key = create_key(&http, nodes[0].addr, &admin).await?;
    eprintln!("tenant {tenant}: API key created");

    let peaks = FdPeaks::start(nodes.iter().map(|n| n.pid).collect());

    // The holders, each with its share of the sockets and of the rate.
    let exe = std::env::current_exe().context("own binary")?;
    let node_list = nodes
        .iter()
        .map(|n| n.addr.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let (tx, rx) = mpsc::unbounded_channel();
    let mut messages = Messages { rx };
    let mut holders = Vec::with_capacity(holder_count);
    let cpu_start = cpu_of(nodes);
    let connect_start = Instant::now();
    for h in 0..holder_count {
        let first = h * per_holder;
        let count = per_holder.min(args.sockets.saturating_sub(first));
        if count == 0 {
            break;
        }
        let rate = args.connect_rate * count as f64 / args.sockets as f64;
        let mut child = Command::new(&exe)
            .arg("broadcast-holder")
            .args(["--nodes", &node_list])
            .args(["--first", &first.to_string()])
            .args(["--count", &count.to_string()])
            .args(["--rate", &rate.to_string()])
            .args(["--jwt-secret", &nodes[0].secret])
            .args(["--tenant", &tenant])
            .args(["--role", &args.role])
            .args(["--source-addrs", &args.load.source_addrs.to_string()])
            .args(["--connect-timeout", &args.load.connect_timeout.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start a holder")?;
        let stdin = child.stdin.take().context("holder stdin")?;
        let stdout = child.stdout.take().context("holder stdout")?;
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(message) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send((h, message));
                }
            }
        });
        holders.push(Holder {
            child,
            stdin,
            first,
            count,
        });
    }
    drop(tx);
    let n_holders = holders.len();
    eprintln!(
        "{n_holders} holders open {} sockets at {}/s over {k} nodes (socket i on node i % {k})",
        args.sockets, args.connect_rate
    );
    // Twice the schedule and two minutes more: a busy machine is slower.
    let connect_limit = Duration::from_secs_f64(
        2.0 * args.sockets as f64 / args.connect_rate + 120.0 + args.load.connect_timeout,
    );
    let progress = tokio::spawn(connect_progress(
        http.clone(),
        nodes.iter().map(|n| (n.addr, n.pid)).collect(),
    ));
    let connected: Vec<Connected> = messages
        .one_each("connected", n_holders, connect_limit)
        .await?;
    progress.abort();
    let connect_s = connect_start.elapsed().as_secs_f64();
    let cpu_connected = cpu_of(nodes);
    let mut per_node = vec![0u64; k];
    let mut connect_latency = histogram();
    let mut failures = Vec::new();
    for c in &connected {
        for (node, n) in c.per_node.iter().enumerate() {
            per_node[node] += n;
        }
        for us in &c.connect_us {
            let _ = connect_latency.record((*us).max(1));
        }
        failures.extend(c.failures.iter().cloned());
    }
    failures.sort();
    failures.dedup();
    failures.truncate(10);
    let total_connected: u64 = connected.iter().map(|c| c.connected).sum();
    let total_failed: u64 = connected.iter().map(|c| c.failed).sum();
    eprintln!(
        "connected {total_connected} ({per_node:?} per node), {total_failed} failed, in {connect_s:.1} s; connect {}",
        line_ms(&connect_latency)
    );

    // Settled: every node counts its sockets, then --settle seconds.
    let settle_start = Instant::now();
    let mut counted = vec![0i64; k];
    loop {
        for (i, node) in nodes.iter().enumerate() {
            counted[i] = metrics(&http, node.addr)
                .await
                .ok()
                .and_then(|m| m.get("switchboard_connected_sockets").copied())
                .map_or(-1, |v| v as i64);
        }
        if counted.iter().zip(&per_node).all(|(c, p)| *c == *p as i64) {
            break;
        }
        if settle_start.elapsed() > Duration::from_secs(60) {
            eprintln!(
                "warning: after 60 s the nodes count {counted:?} sockets, the holders {per_node:?}"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let counted_ms = settle_start.elapsed().as_secs_f64() * 1000.0;
    let cpu_settle = cpu_of(nodes);
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let cpu_settled = cpu_of(nodes);
    let idle_pct: Vec<f64> = cpu_settle
        .iter()
        .zip(&cpu_settled)
        .map(|(a, b)| round1(100.0 * (b - a) / args.settle.max(0.001)))
        .collect();
    let rss_connected: Vec<u64> = nodes.iter().map(|n| n.rss_kib().unwrap_or(0)).collect();
    let fds_connected: Vec<u64> = nodes.iter().map(|n| n.open_fds().unwrap_or(0)).collect();
    let kib_per_socket: Vec<Option<f64>> = (0..k)
        .map(|i| {
            (per_node[i] > 0).then(|| {
                round2((rss_connected[i] as f64 - rss_before[i] as f64) / per_node[i] as f64)
            })
        })
        .collect();
    eprintln!(
        "settled ({counted_ms:.0} ms until every node counted its sockets, then {} s): RSS {rss_connected:?} KiB, {kib_per_socket:?} KiB per socket, fds {fds_connected:?}, idle CPU {idle_pct:?}%",
        args.settle
    );

    // The publishes, one after the other, each waited for.
    let limit = Duration::from_secs_f64(args.publish_timeout);
    let mut publishes = Vec::new();
    let mut problems = Vec::new();
    for n in 1..=args.publishes as u32 {
        // Who is still connected (the target): connected minus disconnected.
        let counts: Vec<Count> = ask(&mut holders, &mut messages, "count", n).await?;
        let expected_node: Vec<u64> = (0..k)
            .map(|i| {
                let gone: u64 = counts.iter().map(|c| c.disconnects_per_node[i]).sum();
                per_node[i].saturating_sub(gone)
            })
            .collect();
        let expected: u64 = expected_node.iter().sum();
        let via = (n as usize - 1) % k;
        let holders_before = holders_cpu(&holders);
        let cpu_before = cpu_of(nodes);
        let sent_at_us = wall_us();
        let posted = Instant::now();
        let status = publish(&http, nodes[via].addr, &key, n, sent_at_us).await;
        let post_ms = posted.elapsed().as_secs_f64() * 1000.0;
        if let Err(e) = &status {
            problems.push(format!("publish {n}: {e:#}"));
            eprintln!("publish {n} via node {via}: {e:#}");
        }
        while status.is_ok() && posted.elapsed() < limit {
            let counts: Vec<Count> = ask(&mut holders, &mut messages, "count", n).await?;
            if counts.iter().map(|c| c.received).sum::<u64>() >= expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let waited_ms = posted.elapsed().as_secs_f64() * 1000.0;
        let cpu_after = cpu_of(nodes);
        let holders_cpu_s = holders_cpu(&holders) - holders_before;
        let reports: Vec<Report> = ask(&mut holders, &mut messages, "report", n).await?;
        let mut all = histogram();
        let mut node_hist: Vec<_> = (0..k).map(|_| histogram()).collect();
        let mut node_received = vec![0u64; k];
        let mut duplicates = 0;
        for r in &reports {
            duplicates += r.duplicates;
            for (i, lat) in r.latency_us.iter().enumerate() {
                for us in lat {
                    let us = (*us).max(1) as u64;
                    let _ = all.record(us);
                    let _ = node_hist[i].record(us);
                    node_received[i] += 1;
                }
            }
        }
        let received_all: u64 = node_received.iter().sum();
        let missing = expected.saturating_sub(received_all);
        if missing > 0 || duplicates > 0 {
            problems.push(format!(
                "publish {n}: {received_all} of {expected} sockets got it, {duplicates} duplicates"
            ));
        }
        let last_ms = (!all.is_empty()).then(|| all.max() as f64 / 1000.0);
        eprintln!(
            "publish {n} via node {via}: POST {post_ms:.1} ms; {received_all}/{expected} sockets ({missing} missing, {duplicates} duplicates), last after {} ms; {}; node CPU {:?} s, holders {holders_cpu_s:.3} s",
            last_ms.map_or("-".into(), |v| format!("{v:.1}")),
            line_ms(&all),
            cpu_after
                .iter()
                .zip(&cpu_before)
                .map(|(a, b)| round3(a - b))
                .collect::<Vec<_>>(),
        );
        let per_node_json: Vec<Value> = (0..k)
            .map(|i| {
                json!({
                    "expected": expected_node[i],
                    "received": node_received[i],
                    "last_ms": (!node_hist[i].is_empty()).then(|| node_hist[i].max() as f64 / 1000.0),
                    "latency_ms": summary_ms(&node_hist[i]),
                    "cpu_s": round3(cpu_after[i] - cpu_before[i]),
                })
            })
            .collect();
        publishes.push(json!({
            "n": n,
            "via_node": via,
            "sent_at_us": sent_at_us,
            "post_ms": round2(post_ms),
            "post_ok": status.is_ok(),
            "expected": expected,
            "received": received_all,
            "missing": missing,
            "duplicates": duplicates,
            "last_ms": last_ms,
            "p50_ms": (!all.is_empty()).then(|| all.value_at_quantile(0.5) as f64 / 1000.0),
            "p99_ms": (!all.is_empty()).then(|| all.value_at_quantile(0.99) as f64 / 1000.0),
            "latency_ms": summary_ms(&all),
            "waited_ms": round1(waited_ms),
            "per_node": per_node_json,
            "cpu_s": cpu_after.iter().zip(&cpu_before).map(|(a, b)| round3(a - b)).collect::<Vec<_>>(),
            // The holders read and stamp every frame: their CPU over the same
            // span says whether they, not the nodes, set the pace.
            "holders_cpu_s": round3(holders_cpu_s),
        }));
        if n as usize != args.publishes {
            tokio::time::sleep(Duration::from_secs_f64(args.pause)).await;
        }
    }
    let rss_after: Vec<u64> = nodes.iter().map(|n| n.rss_kib().unwrap_or(0)).collect();
    let final_counts: Vec<Count> = ask(&mut holders, &mut messages, "count", 0).await?;
    let disconnects: u64 = final_counts
        .iter()
        .flat_map(|c| c.disconnects_per_node.iter())
        .sum();
    if disconnects > 0 {
        problems.push(format!("{disconnects} sockets closed by the server"));
    }
    let fd_peak = peaks.stop();
    for (i, peak) in fd_peak.iter().enumerate() {
        if *peak >= FD_LIMIT {
            problems.push(format!("node {i} reached {peak} fds"));
        }
    }
    if total_failed > 0 {
        problems.push(format!("{total_failed} sockets failed to connect"));
    }
    eprintln!("node fds at peak: {fd_peak:?} (limit {FD_LIMIT})");

    // The holders close their sockets and exit.
    eprintln!("holders close their sockets");
    for holder in &mut holders {
        let _ = holder.send(json!({ "cmd": "exit" })).await;
    }
    for holder in &mut holders {
        if tokio::time::timeout(Duration::from_secs(30), holder.child.wait())
            .await
            .is_err()
        {
            let _ = holder.child.kill().await;
        }
    }
    let cpu_end = cpu_of(nodes);
    if problems.is_empty() {
        eprintln!("no problem found");
    } else {
        for p in &problems {
            eprintln!("PROBLEM: {p}");
        }
    }

    let node_json: Vec<Value> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            json!({
                "addr": node.addr.to_string(),
                "sockets": per_node[i],
                "rss_before_kib": rss_before[i],
                "rss_connected_kib": rss_connected[i],
                "rss_after_publishes_kib": rss_after[i],
                "kib_per_socket": kib_per_socket[i],
                "fds_before": fds_before[i],
                "fds_connected": fds_connected[i],
                "fds_peak": fd_peak[i],
                "cpu_s_connecting": round2(cpu_connected[i] - cpu_start[i]),
                "cpu_pct_idle_settled": idle_pct[i],
                "cpu_s_total": round2(cpu_end[i] - cpu_start[i]),
                "log_warnings": node.log_counts().0,
                "log_errors": node.log_counts().1,
            })
        })
        .collect();
    let last: Vec<f64> = publishes
        .iter()
        .filter_map(|p| p["last_ms"].as_f64())
        .collect();
    Ok(json!({
        "scenario": "broadcast",
        "database": nodes[0].database,
        "redis": args.redis_url.is_some(),
        "nodes": k,
        "sockets": args.sockets,
        "role": args.role,
        "tenant_room": format!("tenant:{tenant}"),
        "holders": holders.iter().map(|h| json!({ "first": h.first, "count": h.count })).collect::<Vec<_>>(),
        "connect_rate": args.connect_rate,
        "connected": total_connected,
        "connect_failed": total_failed,
        "connect_failures": failures,
        "connect_s": round2(connect_s),
        "connect_ms": summary_ms(&connect_latency),
        "settle_counted_ms": round1(counted_ms),
        "publishes": publishes,
        "last_ms_per_publish": last,
        "disconnects": disconnects,
        "node": node_json,
        "fd_limit": FD_LIMIT,
        "problems": problems,
    }))
}

/// Sends `cmd` for publish `n` to every holder; one answer of each.
async fn ask<T: for<'de> Deserialize<'de>>(
    holders: &mut [Holder],
    messages: &mut Messages,
    cmd: &str,
    n: u32,
) -> anyhow::Result<Vec<T>> {
    for holder in holders.iter_mut() {
        holder.send(json!({ "cmd": cmd, "n": n })).await?;
    }
    messages
        .one_each(cmd, holders.len(), Duration::from_secs(30))
        .await
}

/// Every 2 s while the holders connect: each node's sockets and fds.
async fn connect_progress(http: reqwest::Client, nodes: Vec<(SocketAddr, u32)>) {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut line = Vec::new();
        for (addr, pid) in &nodes {
            let sockets = metrics(&http, *addr)
                .await
                .ok()
                .and_then(|m| m.get("switchboard_connected_sockets").copied())
                .unwrap_or(-1.0);
            line.push(format!(
                "{sockets:.0} sockets/{} fds",
                open_fds_of(*pid).unwrap_or(0)
            ));
        }
        eprintln!("  nodes: {}", line.join(", "));
    }
}

/// `POST /api/api-keys` as an admin of the tenant: the key.
async fn create_key(
    http: &reqwest::Client,
    addr: SocketAddr,
    admin: &str,
) -> anyhow::Result<String> {
    let body = json!({ "name": "switchboard-bench broadcast" });
    post_for_field(http, addr, "/api/api-keys", admin, &body, "key").await
}

/// `POST /api/server/publish` to the key's tenant (202).
async fn publish(
    http: &reqwest::Client,
    addr: SocketAddr,
    key: &str,
    n: u32,
    sent_at_us: i64,
) -> anyhow::Result<()> {
    let body = json!({
        "event": EVENT,
        "data": { "n": n, "sentAtUs": sent_at_us },
        "to": { "tenant": true },
    });
    post_json(http, addr, "/api/server/publish", key, &body).await?;
    Ok(())
}

/// CPU seconds used by the holders so far, together.
fn holders_cpu(holders: &[Holder]) -> f64 {
    holders
        .iter()
        .filter_map(|h| h.child.id())
        .map(|pid| crate::server::cpu_seconds_of(&format!("/proc/{pid}/stat")).unwrap_or(0.0))
        .sum()
}

fn cpu_of(nodes: &[Server]) -> Vec<f64> {
    nodes
        .iter()
        .map(|n| n.cpu_seconds().unwrap_or(0.0))
        .collect()
}

/// The highest fd count of each process, sampled every 250 ms on a thread
/// of its own.
struct FdPeaks {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<u64>>,
}

impl FdPeaks {
    fn start(pids: Vec<u32>) -> FdPeaks {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peaks = vec![0u64; pids.len()];
            loop {
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    *peak = (*peak).max(open_fds_of(*pid).unwrap_or(0));
                }
                if stopped.load(Ordering::Relaxed) {
                    return peaks;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        FdPeaks { stop, thread }
    }

    fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// Wall-clock microseconds since the epoch.
fn wall_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------
// The holder (a child process)

/// Receipts of the publishes, shared by every socket of the holder.
struct Receipts {
    nodes: usize,
    /// Publish n -> latency (µs) of each receipt, per node.
    latency: Mutex<HashMap<u32, Vec<Vec<i64>>>>,
    duplicates: Mutex<HashMap<u32, u64>>,
    /// Sockets the server closed, per node.
    disconnects: Vec<AtomicU64>,
    closed_reasons: Mutex<Vec<String>>,
}

impl Receipts {
    fn record(&self, n: u32, node: usize, latency_us: i64, duplicate: bool) {
        if duplicate {
            *self
                .duplicates
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(n)
                .or_default() += 1;
            return;
        }
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        latency
            .entry(n)
            .or_insert_with(|| vec![Vec::new(); self.nodes])[node]
            .push(latency_us);
    }

    fn received(&self, n: u32) -> u64 {
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&n)
            .map_or(0, |per_node| per_node.iter().map(|v| v.len() as u64).sum())
    }
}

#[derive(Deserialize)]
struct Published {
    n: u32,
    #[serde(rename = "sentAtUs")]
    sent_at_us: i64,
}

/// The `broadcast-holder` subcommand: opens its sockets, reports, then
/// answers the parent's commands until `exit` or the end of stdin.
pub async fn hold(args: HolderArgs) -> anyhow::Result<Value> {
    let limit = raise_fd_limit();
    if args.count as u64 + 100 > limit {
        bail!(
            "{} sockets need more descriptors than this process may open ({limit})",
            args.count
        );
    }
    if args.nodes.is_empty() || args.rate <= 0.0 {
        bail!("a holder needs nodes and a positive rate");
    }
    let k = args.nodes.len();
    let minter = Arc::new(Minter::new(&args.jwt_secret));
    let sources = Arc::new(Sources::new(args.load.source_addrs));
    let timeout = Duration::from_secs_f64(args.load.connect_timeout);
    let receipts = Arc::new(Receipts {
        nodes: k,
        latency: Mutex::default(),
        duplicates: Mutex::default(),
        disconnects: (0..k).map(|_| AtomicU64::new(0)).collect(),
        closed_reasons: Mutex::default(),
    });
    let clients: Arc<Mutex<Vec<Client>>> = Arc::new(Mutex::new(Vec::with_capacity(args.count)));
    let connected_per_node: Arc<Vec<AtomicU64>> =
        Arc::new((0..k).map(|_| AtomicU64::new(0)).collect());
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let connect_us: Arc<Mutex<Vec<u64>>> = Arc::default();
    let failed = Arc::new(AtomicU64::new(0));
    let label = format!("holder {}..{}", args.first, args.first + args.count);

    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = tokio::task::JoinSet::new();
    let mut progress = Instant::now();
    for j in 0..args.count {
        let i = args.first + j;
        let due = start + Duration::from_secs_f64(j as f64 / args.rate);
        tokio::time::sleep_until(due.into()).await;
        let node = i % k;
        let addr = args.nodes[node];
        let (minter, sources, receipts, held, per_node, failures, connect_us, failed_here) = (
            minter.clone(),
            sources.clone(),
            receipts.clone(),
            clients.clone(),
            connected_per_node.clone(),
            failures.clone(),
            connect_us.clone(),
            failed.clone(),
        );
        let (tenant, role) = (args.tenant.clone(), args.role.clone());
        tasks.spawn(async move {
            let result = async {
                let token = minter.mint_in(&format!("bcast-{i}"), &role, Some(&tenant))?;
                let (tx, rx) = mpsc::unbounded_channel();
                let client = Client::connect(addr, sources.pick(i), &token, tx, timeout).await?;
                anyhow::Ok((client, rx))
            }
            .await;
            match result {
                Ok((client, rx)) => {
                    let us = due.elapsed().as_micros() as u64;
                    connect_us
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(us);
                    per_node[node].fetch_add(1, Ordering::Relaxed);
                    held.lock().unwrap_or_else(|e| e.into_inner()).push(client);
                    tokio::spawn(socket_loop(node, rx, receipts));
                }
                Err(e) => {
                    failed_here.fetch_add(1, Ordering::Relaxed);
                    let mut failures = failures.lock().unwrap_or_else(|e| e.into_inner());
                    if failures.len() < 5 {
                        failures.push(format!("{e:#}"));
                    }
                }
            }
        });
        while tasks.try_join_next().is_some() {}
        if progress.elapsed() > Duration::from_secs(5) {
            progress = Instant::now();
            eprintln!(
                "  {label}: {} started, {} connected, {} failed",
                j + 1,
                clients.lock().unwrap_or_else(|e| e.into_inner()).len(),
                failed.load(Ordering::Relaxed)
            );
        }
    }
    while tasks.join_next().await.is_some() {}
    let per_node: Vec<u64> = connected_per_node
        .iter()
        .map(|n| n.load(Ordering::Relaxed))
        .collect();
    let connected = clients.lock().unwrap_or_else(|e| e.into_inner()).len();
    say(&json!({
        "type": "connected",
        "connected": connected,
        "failed": failed.load(Ordering::Relaxed),
        "per_node": per_node,
        "failures": *failures.lock().unwrap_or_else(|e| e.into_inner()),
        "connect_us": *connect_us.lock().unwrap_or_else(|e| e.into_inner()),
    }));

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(command) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let n = command.get("n").and_then(Value::as_u64).unwrap_or(0) as u32;
        match command.get("cmd").and_then(Value::as_str) {
            Some("count") => say(&json!({
                "type": "count",
                "n": n,
                "received": receipts.received(n),
                "disconnects_per_node": receipts
                    .disconnects
                    .iter()
                    .map(|d| d.load(Ordering::Relaxed))
                    .collect::<Vec<_>>(),
            })),
            Some("report") => {
                let latency = receipts
                    .latency
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&n)
                    .unwrap_or_else(|| vec![Vec::new(); k]);
                let duplicates = receipts
                    .duplicates
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&n)
                    .unwrap_or(0);
                say(&json!({
                    "type": "report",
                    "n": n,
                    "latency_us": latency,
                    "duplicates": duplicates,
                }));
            }
            Some("exit") => break,
            _ => {}
        }
    }
    let reasons = receipts
        .closed_reasons
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    clients.lock().unwrap_or_else(|e| e.into_inner()).clear();
    // Let the sockets' tasks send their close frames.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(json!({ "type": "exit", "closed_by_server": reasons }))
}

/// One JSON line to the parent.
fn say(message: &Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{message}");
    let _ = out.flush();
}

/// One socket: stamps each publish it gets (wall clock, from the instant
/// its frame was read), counts repeats and the server closing it.
async fn socket_loop(
    node: usize,
    mut rx: mpsc::UnboundedReceiver<Incoming>,
    receipts: Arc<Receipts>,
) {
    let mut seen: u64 = 0;
    while let Some(incoming) = rx.recv().await {
        match incoming {
            Incoming::Event { name, payload, at } if name == EVENT => {
                let wall = wall_us() - at.elapsed().as_micros() as i64;
                let Ok(p) = serde_json::from_str::<Published>(&payload) else {
                    continue;
                };
                let bit = 1u64 << (p.n % 64);
                let duplicate = seen & bit != 0;
                seen |= bit;
                receipts.record(p.n, node, wall - p.sent_at_us, duplicate);
            }
            Incoming::Closed { reason } => {
                receipts.disconnects[node].fetch_add(1, Ordering::Relaxed);
                let mut reasons = receipts
                    .closed_reasons
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if reasons.len() < 5 {
                    reasons.push(reason);
                }
                break;
            }
            _ => {}
        }
    }
}
