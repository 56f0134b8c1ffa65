//! `soak` (issue 18): hours, not minutes. The chat fleet of `chat`
//! (`Fleet::setup`, one `Fleet::run_step` per `--interval`, so each window
//! has its own delivery p50/p99/max, sent and lost) runs at `--rate` while,
//! concurrently and open loop at `--connect-rate`, customers come and go.
//! Each churn *visit* is a new customer (a fresh user id) who opens a
//! session over REST, connects, joins it and sends one message (ack
//! checked); an agent joins it (which takes it) and closes it
//! (`close-session`, ack checked); then both leave: the customer's socket
//! disconnects, and a pooled agent leaves the session's room (a fresh agent,
//! `--churn-agents 0`, disconnects instead). Beside them, at `--browse-rate`,
//! *page views*: a new customer's socket connects and leaves without a
//! session (the widget on a page nobody chats from). Visits and page views
//! in flight are bounded (`--max-in-flight` each): one due at the bound is
//! skipped and counted.
//!
//! Every `--sample-every` seconds the server's RSS (`VmRSS`), open fds
//! (`/proc/<pid>/fd`), threads, and from `GET /metrics` its alive tokio
//! tasks and connected sockets are sampled; the slopes of RSS, fds, tasks
//! and threads are fitted by least squares over the second half of the run
//! (the first is warm-up). At the end the churn stops, the fleet leaves, the
//! bench waits until the server counts no socket, and samples again: what
//! remains when every client has left, beside the same figures taken right
//! after start-up, before any client.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::chat::merge;
use crate::cli::SoakArgs;
use crate::fleet::Fleet;
use crate::net::{Sources, open_session, raise_fd_limit};
use crate::report::{histogram, line_ms, summary_ms};
use crate::server::{Server, open_fds_of, threads_of};
use crate::sio::{Client, Incoming};
use crate::token::Minter;

/// Events a pooled churn agent sends per visit: join (take), close, leave.
const AGENT_EVENTS_PER_VISIT: f64 = 3.0;
/// What the default pool aims at per agent: three quarters of the server's
/// default per-socket event limit (20/s, burst 40).
const AGENT_EVENTS_PER_SECOND: f64 = 15.0;

pub async fn run(args: SoakArgs) -> anyhow::Result<Value> {
    if args.duration <= 0.0 || args.interval <= 0.0 || args.sample_every <= 0.0 {
        bail!("--duration, --interval and --sample-every must be positive");
    }
    if args.rate <= 0.0 || args.chat.sessions == 0 {
        bail!("the steady fleet needs a positive --rate and --sessions");
    }
    if args.connect_rate < 0.0 || args.browse_rate < 0.0 {
        bail!("--connect-rate and --browse-rate must not be negative");
    }
    raise_fd_limit();
    let server = Server::start(&args.server, args.chat.server_send_rate()).await?;
    let result = scenario(&args, &server).await;
    server.stop().await;
    result
}

async fn scenario(args: &SoakArgs, server: &Server) -> anyhow::Result<Value> {
    let http = http_client()?;
    let started = Instant::now();
    let baseline = probe(&http, server.pid, server.addr, started).await;
    eprintln!("server at start-up, before any client: {}", baseline.line());

    // The fleet gets a handle that does not own the process, so that
    // `Fleet::finish` lets every client leave without stopping the server.
    let mut fleet = Fleet::setup(server.observer(), &args.chat, &args.load).await?;

    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let tenant = args
        .churn_tenant
        .clone()
        .unwrap_or_else(|| format!("bench-soak-{run}"));
    let pool_size = args.churn_agents.unwrap_or_else(|| {
        (args.connect_rate * AGENT_EVENTS_PER_VISIT / AGENT_EVENTS_PER_SECOND)
            .ceil()
            .max(1.0) as usize
    });
    let timeout = Duration::from_secs_f64(args.visit_timeout);
    let sources = Sources::new(args.load.source_addrs);
    let minter = Minter::new(&server.secret);
    let stats = Arc::new(ChurnStats::default());
    let mut pool = Vec::new();
    if args.connect_rate > 0.0 && pool_size > 0 {
        eprintln!("connecting {pool_size} churn agents (tenant {tenant})");
        for k in 0..pool_size {
            let id = format!("churn-{run}-agent{k}");
            let token = minter.mint_in(&id, "agent", Some(&tenant))?;
            let peer = Peer::connect(
                server.addr,
                sources.pick(k + 1),
                &token,
                timeout,
                stats.clone(),
            )
            .await
            .with_context(|| format!("churn agent {k}"))?;
            pool.push(Arc::new(Agent { id, peer }));
        }
    }
    let churn = Arc::new(Churn {
        addr: server.addr,
        http: http.clone(),
        minter,
        sources,
        tenant: tenant.clone(),
        run,
        timeout,
        pool,
        stats: stats.clone(),
    });
    // Page views: sockets of their own, counted apart from the visits.
    let browses = Arc::new(Churn {
        addr: server.addr,
        http: http.clone(),
        minter: Minter::new(&server.secret),
        sources: Sources::new(args.load.source_addrs),
        tenant: tenant.clone(),
        run,
        timeout,
        pool: Vec::new(),
        stats: Arc::new(ChurnStats::default()),
    });

    let windows = (args.duration / args.interval).ceil().max(1.0) as u32;
    eprintln!(
        "soak: {} s in {windows} windows of {} s; steady chat {} msg/s over {} sessions; churn {} visits/s ({}) and {} page views/s, at most {} in flight each",
        args.duration,
        args.interval,
        args.rate,
        args.chat.sessions,
        args.connect_rate,
        if churn.pool.is_empty() {
            "a fresh agent per visit".to_string()
        } else {
            format!("{} pooled agents", churn.pool.len())
        },
        args.browse_rate,
        args.max_in_flight
    );
    let t0 = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let samples: Arc<Mutex<Vec<Probe>>> = Arc::default();
    let sampler = tokio::spawn(sample_loop(
        http.clone(),
        server.pid,
        server.addr,
        Duration::from_secs_f64(args.sample_every),
        t0,
        stats.clone(),
        samples.clone(),
        stop.clone(),
    ));
    let scheduler = (args.connect_rate > 0.0).then(|| {
        tokio::spawn(churn_loop(
            churn.clone(),
            Kind::Visit,
            args.connect_rate,
            args.max_in_flight,
            t0,
            stop.clone(),
        ))
    });
    let browser = (args.browse_rate > 0.0).then(|| {
        tokio::spawn(churn_loop(
            browses.clone(),
            Kind::Browse,
            args.browse_rate,
            args.max_in_flight,
            t0,
            stop.clone(),
        ))
    });
    let mut browses_before = browses.stats.counts();

    let mut window_json = Vec::new();
    let mut p99s = Vec::new();
    let (mut sent, mut lost, mut unacked, mut errors) = (0u64, 0u64, 0u64, 0u64);
    let mut churn_before = stats.counts();
    for step in 1..=windows {
        let length = args
            .interval
            .min(args.duration - f64::from(step - 1) * args.interval);
        let outcome = fleet.run_step(step, args.rate, length).await?;
        let at = probe(&http, server.pid, server.addr, t0).await;
        let churn_now = stats.counts();
        let churn_window = churn_now.since(&churn_before);
        churn_before = churn_now;
        let visit_ms = stats.take_window_latency();
        let browses_now = browses.stats.counts();
        let browse_window = browses_now.since(&browses_before);
        browses_before = browses_now;
        let browse_ms = browses.stats.take_window_latency();
        sent += outcome.sent;
        lost += outcome.lost;
        unacked += outcome.unacked;
        errors += outcome.errors;
        let delivery = &outcome.json["delivery_ms"];
        let p99 = delivery["p99"].as_f64();
        p99s.push(p99);
        eprintln!(
            "window {step}/{windows} at {:.0} s: delivery p50 {} p99 {} max {} ms, sent {}, lost {}; server CPU {:.0}%; {}; churn: {} done, {} failed, {} skipped at the bound, {} in flight, visit {}; page views: {} done, {} failed, {} skipped",
            at.t_s,
            fmt_ms(delivery["p50"].as_f64()),
            fmt_ms(p99),
            fmt_ms(delivery["max"].as_f64()),
            outcome.sent,
            outcome.lost,
            outcome.json["server_cpu_pct"].as_f64().unwrap_or(0.0),
            at.line(),
            churn_window.done,
            churn_window.failed,
            churn_window.skipped,
            stats.in_flight.load(Ordering::Relaxed),
            line_ms(&visit_ms),
            browse_window.done,
            browse_window.failed,
            browse_window.skipped,
        );
        window_json.push(json!({
            "step": step,
            "t_end_s": round1(at.t_s),
            "duration_s": length,
            "sent": outcome.sent,
            "delivered": outcome.delivered,
            "lost": outcome.lost,
            "unacked": outcome.unacked,
            "errors": outcome.errors,
            "delivery_p50_ms": delivery["p50"],
            "delivery_p99_ms": delivery["p99"],
            "delivery_max_ms": delivery["max"],
            "ack_p99_ms": outcome.json["ack_ms"]["p99"],
            "pacer_lag_p99_ms": outcome.json["pacer_lag_ms"]["p99"],
            "server_cpu_pct": round1(outcome.json["server_cpu_pct"].as_f64().unwrap_or(0.0)),
            "bench_cpu_pct": round1(outcome.json["bench_cpu_pct"].as_f64().unwrap_or(0.0)),
            "rss_kib": at.rss_kib,
            "fds": at.fds,
            "threads": at.threads,
            "tasks": at.tasks,
            "sockets": at.sockets,
            "churn": {
                "started": churn_window.started,
                "done": churn_window.done,
                "failed": churn_window.failed,
                "skipped_at_bound": churn_window.skipped,
                "in_flight_end": stats.in_flight.load(Ordering::Relaxed),
                "visit_ms": summary_ms(&visit_ms),
            },
            "page_views": {
                "started": browse_window.started,
                "done": browse_window.done,
                "failed": browse_window.failed,
                "skipped_at_bound": browse_window.skipped,
                "connect_ms": summary_ms(&browse_ms),
            },
            "error_samples": outcome.json["error_samples"],
        }));
        if !fleet.server.alive() {
            bail!("the server exited during window {step}");
        }
    }
    let run_s = t0.elapsed().as_secs_f64();

    // The end: no more visits, wait for those in flight, then everyone leaves.
    stop.store(true, Ordering::Relaxed);
    for scheduler in [scheduler, browser].into_iter().flatten() {
        scheduler.await?;
    }
    let drain_limit = timeout * 8;
    let drain_start = Instant::now();
    let in_flight = || {
        stats.in_flight.load(Ordering::Relaxed) + browses.stats.in_flight.load(Ordering::Relaxed)
    };
    while in_flight() > 0 && drain_start.elapsed() < drain_limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let unfinished = stats.in_flight.load(Ordering::Relaxed);
    if unfinished > 0 {
        eprintln!("{unfinished} churn visits still in flight after {drain_limit:?}: leaving them");
    }
    // The sampler may be waiting for its next tick: the samples taken are kept.
    sampler.abort();
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    let churn_totals = stats.counts();
    let churn_json = churn.summary(&churn_totals, args, unfinished);
    let browse_totals = browses.stats.counts();
    let browse_json = browses.summary(&browse_totals, args, 0);
    if args.browse_rate > 0.0 {
        eprintln!(
            "page views: {} started, {} done, {} failed {}, {} skipped at the bound; connect {}",
            browse_totals.started,
            browse_totals.done,
            browse_totals.failed,
            browse_json["failed_by_stage"],
            browse_totals.skipped,
            line_ms(&browses.stats.inner().all)
        );
    }
    eprintln!(
        "churn: {} visits started, {} done, {} failed {}, {} skipped at the bound",
        churn_totals.started,
        churn_totals.done,
        churn_totals.failed,
        churn_json["failed_by_stage"],
        churn_totals.skipped
    );
    for (stage, h) in &stats.inner().stages {
        eprintln!("  {stage:<14} {}", line_ms(h));
    }
    let fleet_totals = fleet.totals();
    let pool_disconnects = stats.closed.load(Ordering::Relaxed);
    drop(churn);
    drop(browses);
    eprintln!("every client leaves: churn agents, then the fleet");
    fleet.finish().await;
    let leave_start = Instant::now();
    let leave_limit = Duration::from_secs_f64(args.leave_timeout);
    let mut sockets_left = None;
    loop {
        sockets_left = metrics(&http, server.addr)
            .await
            .ok()
            .and_then(|m| m.get("switchboard_connected_sockets").copied())
            .or(sockets_left);
        if sockets_left == Some(0.0) || leave_start.elapsed() > leave_limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let leave_ms = leave_start.elapsed().as_secs_f64() * 1000.0;
    let after_leave = probe(&http, server.pid, server.addr, t0).await;
    let all_left = sockets_left == Some(0.0);
    if all_left {
        eprintln!(
            "the server counts no socket {leave_ms:.0} ms after the last client left: {}",
            after_leave.line()
        );
    } else {
        eprintln!(
            "the server still counts {sockets_left:?} sockets {leave_ms:.0} ms after the last client left: {}",
            after_leave.line()
        );
    }
    tokio::time::sleep(Duration::from_secs_f64(args.after_leave)).await;
    let settled = probe(&http, server.pid, server.addr, t0).await;
    eprintln!("{} s later: {}", args.after_leave, settled.line());
    eprintln!("at start-up:  {}", baseline.line());

    // Slopes over the second half of the run (the first is warm-up).
    let half = run_s / 2.0;
    let late: Vec<&Probe> = samples.iter().filter(|p| p.t_s >= half).collect();
    let fit = |f: &dyn Fn(&Probe) -> Option<f64>| {
        slope_per_minute(
            &late
                .iter()
                .filter_map(|p| Some((p.t_s, f(p)?)))
                .collect::<Vec<_>>(),
        )
        .map(round2)
    };
    let p99_late: Vec<(f64, f64)> = window_json
        .iter()
        .zip(&p99s)
        .filter_map(|(w, p)| Some((w["t_end_s"].as_f64()?, (*p)?)))
        .filter(|(t, _)| *t >= half)
        .collect();
    let slopes = json!({
        "from_s": round1(half),
        "samples": late.len(),
        "rss_kib_per_min": fit(&|p| Some(p.rss_kib as f64)),
        "fds_per_min": fit(&|p| Some(p.fds as f64)),
        "tasks_per_min": fit(&|p| p.tasks.map(|t| t as f64)),
        "threads_per_min": fit(&|p| Some(p.threads as f64)),
        "sockets_per_min": fit(&|p| p.sockets.map(|t| t as f64)),
        "delivery_p99_ms_per_min": slope_per_minute(&p99_late).map(round2),
    });
    eprintln!(
        "slopes over the second half (from {:.0} s, {} samples): RSS {} KiB/min, fds {}/min, tasks {}/min, threads {}/min",
        half,
        late.len(),
        slopes["rss_kib_per_min"],
        slopes["fds_per_min"],
        slopes["tasks_per_min"],
        slopes["threads_per_min"]
    );
    let (warnings, log_errors) = server.log_counts();
    let mut result = json!({
        "scenario": "soak",
        "database": server.database,
        "duration_s": args.duration,
        "run_s": round1(run_s),
        "interval_s": args.interval,
        "rate": args.rate,
        "connect_rate": args.connect_rate,
        "browse_rate": args.browse_rate,
        "server_send_rate_limit": args.chat.send_limit,
        "sent": sent,
        "lost": lost,
        "unacked": unacked,
        "errors": errors,
        "lossless": lost == 0 && unacked == 0 && errors == 0,
        "delivery_p99_ms_per_window": p99s,
        "windows": window_json,
        "samples": columns(&samples),
        "slopes_second_half": slopes,
        "baseline": baseline.json(),
        "after_leave": merge_into(after_leave.json(), json!({
            "wait_ms": round1(leave_ms),
            "all_left": all_left,
        })),
        "after_leave_settled": merge_into(settled.json(), json!({ "after_s": args.after_leave })),
        "remains": {
            "rss_kib": after_leave.rss_kib as i64 - baseline.rss_kib as i64,
            "fds": after_leave.fds as i64 - baseline.fds as i64,
            "threads": after_leave.threads as i64 - baseline.threads as i64,
            "tasks": diff_opt(after_leave.tasks, baseline.tasks),
            "settled_rss_kib": settled.rss_kib as i64 - baseline.rss_kib as i64,
            "settled_fds": settled.fds as i64 - baseline.fds as i64,
            "settled_tasks": diff_opt(settled.tasks, baseline.tasks),
        },
        "churn": churn_json,
        "page_views": browse_json,
        "churn_agent_disconnects": pool_disconnects,
        "server_log_warnings": warnings,
        "server_log_errors": log_errors,
    });
    merge(&mut result, fleet_totals);
    Ok(result)
}

/// One look at the server.
#[derive(Clone, Copy, Debug)]
struct Probe {
    /// Seconds since the run started (start-up: since the bench started).
    t_s: f64,
    rss_kib: u64,
    fds: u64,
    threads: u64,
    /// `switchboard_runtime_alive_tasks` (none when `/metrics` did not answer).
    tasks: Option<u64>,
    /// `switchboard_connected_sockets`.
    sockets: Option<i64>,
    /// Churn visits in flight in the bench.
    in_flight: i64,
}

impl Probe {
    fn line(&self) -> String {
        format!(
            "RSS {} KiB, {} fds, {} threads, {} tasks, {} sockets",
            self.rss_kib,
            self.fds,
            self.threads,
            self.tasks.map_or("?".into(), |t| t.to_string()),
            self.sockets.map_or("?".into(), |s| s.to_string()),
        )
    }

    fn json(&self) -> Value {
        json!({
            "rss_kib": self.rss_kib,
            "fds": self.fds,
            "threads": self.threads,
            "tasks": self.tasks,
            "sockets": self.sockets,
        })
    }
}

async fn probe(http: &reqwest::Client, pid: u32, addr: SocketAddr, t0: Instant) -> Probe {
    let scraped = metrics(http, addr).await.unwrap_or_default();
    Probe {
        t_s: t0.elapsed().as_secs_f64(),
        rss_kib: crate::memory::read(pid).map_or(0, |vm| vm.rss_kib),
        fds: open_fds_of(pid).unwrap_or(0),
        threads: threads_of(pid).unwrap_or(0),
        tasks: scraped
            .get("switchboard_runtime_alive_tasks")
            .map(|v| *v as u64),
        sockets: scraped
            .get("switchboard_connected_sockets")
            .map(|v| *v as i64),
        in_flight: 0,
    }
}

/// A client that never reuses a connection idle for 5 s: the server closes
/// idle keep-alive connections after its 10 s request-head timeout, and a
/// request sent on one just then fails ("connection closed before message
/// completed").
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(5))
        .build()?)
}

/// The unlabelled series of the server's `GET /metrics` (Prometheus or
/// OpenMetrics text), by name. Tried twice: a pooled keep-alive connection
/// the server closes just then (it closes idle ones after its request-head
/// timeout) fails the first try.
pub async fn metrics(
    http: &reqwest::Client,
    addr: SocketAddr,
) -> anyhow::Result<HashMap<String, f64>> {
    match scrape(http, addr).await {
        Ok(m) => Ok(m),
        Err(e) => {
            eprintln!("  GET /metrics failed ({e:#}); trying again");
            scrape(http, addr).await
        }
    }
}

async fn scrape(http: &reqwest::Client, addr: SocketAddr) -> anyhow::Result<HashMap<String, f64>> {
    let text = http
        .get(format!("http://{addr}/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(parse_metrics(&text))
}

fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next()?;
            if name.contains('{') {
                return None;
            }
            Some((name.to_string(), parts.next()?.parse().ok()?))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn sample_loop(
    http: reqwest::Client,
    pid: u32,
    addr: SocketAddr,
    every: Duration,
    t0: Instant,
    stats: Arc<ChurnStats>,
    out: Arc<Mutex<Vec<Probe>>>,
    stop: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let mut p = probe(&http, pid, addr, t0).await;
        p.in_flight = stats.in_flight.load(Ordering::Relaxed);
        out.lock().unwrap_or_else(|e| e.into_inner()).push(p);
    }
}

/// The samples as compact columns.
fn columns(samples: &[Probe]) -> Value {
    json!({
        "t_s": samples.iter().map(|p| round1(p.t_s)).collect::<Vec<_>>(),
        "rss_kib": samples.iter().map(|p| p.rss_kib).collect::<Vec<_>>(),
        "fds": samples.iter().map(|p| p.fds).collect::<Vec<_>>(),
        "threads": samples.iter().map(|p| p.threads).collect::<Vec<_>>(),
        "tasks": samples.iter().map(|p| p.tasks).collect::<Vec<_>>(),
        "sockets": samples.iter().map(|p| p.sockets).collect::<Vec<_>>(),
        "visits_in_flight": samples.iter().map(|p| p.in_flight).collect::<Vec<_>>(),
    })
}

/// Least-squares slope of `(seconds, value)` points, per minute.
fn slope_per_minute(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    Some(sxy / sxx * 60.0)
}

// ---------------------------------------------------------------------------
// Churn

/// What every visit shares.
struct Churn {
    addr: SocketAddr,
    http: reqwest::Client,
    minter: Minter,
    sources: Sources,
    tenant: String,
    run: u128,
    timeout: Duration,
    /// Pooled agents, round-robin; empty: a fresh agent per visit.
    pool: Vec<Arc<Agent>>,
    stats: Arc<ChurnStats>,
}

struct Agent {
    id: String,
    peer: Peer,
}

#[derive(Default)]
struct ChurnStats {
    started: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    in_flight: AtomicI64,
    in_flight_max: AtomicI64,
    /// Churn sockets (pooled agents, customers, fresh agents) the server closed.
    closed: AtomicU64,
    inner: Mutex<ChurnInner>,
}

struct ChurnInner {
    failed_by_stage: BTreeMap<&'static str, u64>,
    error_samples: Vec<String>,
    window: Histogram<u64>,
    all: Histogram<u64>,
    /// Each stage of the visits that got through it.
    stages: BTreeMap<&'static str, Histogram<u64>>,
    /// Seconds into the run of the first visit skipped at the bound, and
    /// how many times the bound was hit (one per skipped visit).
    bound_first_s: Option<f64>,
}

impl Default for ChurnInner {
    fn default() -> Self {
        ChurnInner {
            failed_by_stage: BTreeMap::new(),
            error_samples: Vec::new(),
            window: histogram(),
            all: histogram(),
            stages: BTreeMap::new(),
            bound_first_s: None,
        }
    }
}

#[derive(Clone, Copy, Default)]
struct ChurnCounts {
    started: u64,
    done: u64,
    failed: u64,
    skipped: u64,
}

impl ChurnCounts {
    fn since(&self, before: &ChurnCounts) -> ChurnCounts {
        ChurnCounts {
            started: self.started - before.started,
            done: self.done - before.done,
            failed: self.failed - before.failed,
            skipped: self.skipped - before.skipped,
        }
    }
}

impl ChurnStats {
    fn inner(&self) -> std::sync::MutexGuard<'_, ChurnInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn counts(&self) -> ChurnCounts {
        ChurnCounts {
            started: self.started.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
        }
    }

    fn take_window_latency(&self) -> Histogram<u64> {
        std::mem::replace(&mut self.inner().window, histogram())
    }

    fn finished(&self, result: Result<(), (&'static str, String)>, took: Duration) {
        match result {
            Ok(()) => {
                self.done.fetch_add(1, Ordering::Relaxed);
                let us = (took.as_micros() as u64).max(1);
                let mut inner = self.inner();
                let _ = inner.window.record(us);
                let _ = inner.all.record(us);
            }
            Err((stage, error)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut inner = self.inner();
                *inner.failed_by_stage.entry(stage).or_default() += 1;
                if inner.error_samples.len() < 10 {
                    inner.error_samples.push(format!("{stage}: {error:.300}"));
                }
            }
        }
    }
}

impl Churn {
    fn summary(&self, totals: &ChurnCounts, args: &SoakArgs, unfinished: i64) -> Value {
        let inner = self.stats.inner();
        json!({
            "tenant": self.tenant,
            "agents": if self.pool.is_empty() { json!("fresh per visit") } else { json!(self.pool.len()) },
            "max_in_flight": args.max_in_flight,
            "started": totals.started,
            "done": totals.done,
            "failed": totals.failed,
            "skipped_at_bound": totals.skipped,
            "bound_first_hit_s": inner.bound_first_s.map(round1),
            "unfinished_at_end": unfinished,
            "in_flight_max": self.stats.in_flight_max.load(Ordering::Relaxed),
            "failed_by_stage": inner.failed_by_stage,
            "error_samples": inner.error_samples,
            "visit_ms": summary_ms(&inner.all),
            "stage_ms": inner
                .stages
                .iter()
                .map(|(stage, h)| (stage.to_string(), summary_ms(h)))
                .collect::<serde_json::Map<_, _>>(),
            "sockets_closed_by_server": self.stats.closed.load(Ordering::Relaxed),
        })
    }
}

/// The open-loop schedule of visits: visit v is due at `start + v / rate`.
async fn churn_loop(
    churn: Arc<Churn>,
    kind: Kind,
    rate: f64,
    max_in_flight: usize,
    t0: Instant,
    stop: Arc<AtomicBool>,
) {
    let permits = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let start = Instant::now() + Duration::from_millis(5);
    let mut bound_reported = false;
    for v in 0u64.. {
        let due = start + Duration::from_secs_f64(v as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            churn.stats.skipped.fetch_add(1, Ordering::Relaxed);
            let mut inner = churn.stats.inner();
            if inner.bound_first_s.is_none() {
                inner.bound_first_s = Some(t0.elapsed().as_secs_f64());
            }
            if !bound_reported {
                bound_reported = true;
                eprintln!(
                    "  churn: {max_in_flight} visits in flight at {:.0} s: the bound is hit, due visits are skipped (counted)",
                    t0.elapsed().as_secs_f64()
                );
            }
            continue;
        };
        churn.stats.started.fetch_add(1, Ordering::Relaxed);
        let now = churn.stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        churn.stats.in_flight_max.fetch_max(now, Ordering::Relaxed);
        tokio::spawn(visit_task(churn.clone(), kind, v, due, permit));
    }
}

/// What an open-loop arrival does.
#[derive(Clone, Copy)]
enum Kind {
    /// A customer with a session: see the module's documentation.
    Visit,
    /// A page view: connect (CONNECT acknowledged), leave.
    Browse,
}

async fn visit_task(
    churn: Arc<Churn>,
    kind: Kind,
    v: u64,
    due: Instant,
    permit: OwnedSemaphorePermit,
) {
    let result = match kind {
        Kind::Visit => visit(&churn, v).await,
        Kind::Browse => browse(&churn, v).await,
    };
    churn.stats.finished(result, due.elapsed());
    churn.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
}

type Stage = (&'static str, String);

/// Times each stage of a visit (from the end of the one before).
struct Lap<'a> {
    stats: &'a ChurnStats,
    at: Instant,
}

impl Lap<'_> {
    fn done(&mut self, stage: &'static str) {
        let now = Instant::now();
        let us = (now.duration_since(self.at).as_micros() as u64).max(1);
        self.at = now;
        let mut inner = self.stats.inner();
        let _ = inner
            .stages
            .entry(stage)
            .or_insert_with(histogram)
            .record(us);
    }
}

fn at(stage: &'static str) -> impl FnOnce(String) -> Stage {
    move |e| (stage, e)
}

/// One visit: see the module's documentation.
async fn visit(c: &Churn, v: u64) -> Result<(), Stage> {
    let customer_id = format!("churn-{}-c{v}", c.run);
    let token = c
        .minter
        .mint_in(&customer_id, "customer", Some(&c.tenant))
        .map_err(|e| ("token", e.to_string()))?;
    let mut lap = Lap {
        stats: &c.stats,
        at: Instant::now(),
    };
    let session_id = tokio::time::timeout(
        c.timeout,
        open_session(&c.http, c.addr, &token, &format!("soak visit {v}")),
    )
    .await
    .map_err(|_| ("open", "timed out".to_string()))?
    .map_err(|e| ("open", format!("{e:#}")))?;
    lap.done("open");
    let customer = Peer::connect(
        c.addr,
        c.sources.pick(2 * v as usize),
        &token,
        c.timeout,
        c.stats.clone(),
    )
    .await
    .map_err(|e| ("connect", format!("{e:#}")))?;
    lap.done("connect");
    let session = json!({ "sessionId": session_id });
    customer
        .call("join-session", &session, c.timeout)
        .await
        .map_err(at("join"))?;
    lap.done("join");
    let sent = customer
        .call(
            "send-message",
            &json!({ "sessionId": session_id, "content": format!("churn visit {v}"), "clientMessageId": format!("churn-{v}") }),
            c.timeout,
        )
        .await
        .map_err(at("send"))?;
    if sent.get("seq").and_then(Value::as_u64).is_none() {
        return Err(("send", format!("the ack is no message: {sent:.200}")));
    }
    lap.done("send");

    let fresh;
    let agent: &Agent = if c.pool.is_empty() {
        let id = format!("churn-{}-a{v}", c.run);
        let token = c
            .minter
            .mint_in(&id, "agent", Some(&c.tenant))
            .map_err(|e| ("token", e.to_string()))?;
        let peer = Peer::connect(
            c.addr,
            c.sources.pick(2 * v as usize + 1),
            &token,
            c.timeout,
            c.stats.clone(),
        )
        .await
        .map_err(|e| ("agent-connect", format!("{e:#}")))?;
        lap.done("agent-connect");
        fresh = Agent { id, peer };
        &fresh
    } else {
        &c.pool[v as usize % c.pool.len()]
    };
    let joined = agent
        .peer
        .call("join-session", &session, c.timeout)
        .await
        .map_err(at("take"))?;
    let status = joined.pointer("/session/status").and_then(Value::as_str);
    let holder = joined.pointer("/session/agent/id").and_then(Value::as_str);
    if status != Some("active") || holder != Some(agent.id.as_str()) {
        return Err((
            "take",
            format!("not taken: status {status:?}, agent {holder:?}"),
        ));
    }
    lap.done("take");
    let closed = agent
        .peer
        .call(
            "close-session",
            &json!({ "sessionId": session_id, "reason": "soak churn" }),
            c.timeout,
        )
        .await
        .map_err(at("close"))?;
    if closed.get("status").and_then(Value::as_str) != Some("closed") {
        return Err(("close", format!("not closed: {closed:.200}")));
    }
    lap.done("close");
    if !c.pool.is_empty() {
        // A pooled agent leaves the room (a socket may be in at most
        // --max-rooms-per-socket session rooms).
        agent
            .peer
            .call("leave-session", &session, c.timeout)
            .await
            .map_err(at("leave"))?;
        lap.done("leave");
    }
    // Both leave: the customer's socket (and a fresh agent's) disconnect.
    drop(customer);
    Ok(())
}

/// A page view: a new customer's socket connects and leaves.
async fn browse(c: &Churn, v: u64) -> Result<(), Stage> {
    let token = c
        .minter
        .mint_in(
            &format!("browse-{}-c{v}", c.run),
            "customer",
            Some(&c.tenant),
        )
        .map_err(|e| ("token", e.to_string()))?;
    let customer = Peer::connect(
        c.addr,
        c.sources.pick(v as usize),
        &token,
        c.timeout,
        c.stats.clone(),
    )
    .await
    .map_err(|e| ("connect", format!("{e:#}")))?;
    drop(customer);
    Ok(())
}

/// A socket whose acks are matched to the calls that wait for them, so one
/// socket (a pooled agent) can serve many visits at once.
struct Peer {
    client: Client,
    acks: Acks,
    next: AtomicU64,
}

type Acks = Arc<Mutex<HashMap<u64, oneshot::Sender<String>>>>;

impl Peer {
    async fn connect(
        addr: SocketAddr,
        source: Option<std::net::IpAddr>,
        token: &str,
        timeout: Duration,
        stats: Arc<ChurnStats>,
    ) -> anyhow::Result<Peer> {
        let (tx, rx) = mpsc::unbounded_channel();
        let client = Client::connect(addr, source, token, tx, timeout).await?;
        let acks: Acks = Arc::default();
        tokio::spawn(route_acks(rx, acks.clone(), stats));
        Ok(Peer {
            client,
            acks,
            next: AtomicU64::new(1),
        })
    }

    /// Emits `event` with an ack id and waits for the ack: its `data`, or
    /// the error.
    async fn call(&self, event: &str, payload: &Value, timeout: Duration) -> Result<Value, String> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        let forget = || {
            self.acks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        };
        if !self.client.emit_with_ack(event, &payload.to_string(), id) {
            forget();
            return Err(format!("{event}: the socket is closed"));
        }
        let reply = match tokio::time::timeout(timeout, rx).await {
            Err(_) => {
                forget();
                return Err(format!("{event}: no ack within {timeout:?}"));
            }
            Ok(Err(_)) => return Err(format!("{event}: the socket closed before the ack")),
            Ok(Ok(reply)) => reply,
        };
        let reply: Value =
            serde_json::from_str(&reply).map_err(|_| format!("{event}: bad ack {reply:.200}"))?;
        if reply.get("ok").and_then(Value::as_bool) == Some(true) {
            Ok(reply.get("data").cloned().unwrap_or(Value::Null))
        } else {
            Err(format!("{event}: {}", reply.get("error").unwrap_or(&reply)))
        }
    }
}

/// Hands each ack to its caller; events are not needed. A socket the
/// server closes fails the calls waiting on it.
async fn route_acks(mut rx: mpsc::UnboundedReceiver<Incoming>, acks: Acks, stats: Arc<ChurnStats>) {
    while let Some(incoming) = rx.recv().await {
        match incoming {
            Incoming::Ack { id, payload, .. } => {
                let waiting = acks.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                if let Some(tx) = waiting {
                    let _ = tx.send(payload);
                }
            }
            Incoming::Closed { reason } => {
                stats.closed.fetch_add(1, Ordering::Relaxed);
                eprintln!("  churn socket closed by the server: {reason}");
                break;
            }
            Incoming::Event { .. } => {}
        }
    }
    acks.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn diff_opt(a: Option<u64>, b: Option<u64>) -> Option<i64> {
    Some(a? as i64 - b? as i64)
}

fn merge_into(mut a: Value, b: Value) -> Value {
    merge(&mut a, b);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_is_per_minute() {
        let points: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64 * 5.0, 100.0 + i as f64))
            .collect();
        // +1 every 5 s: +12 a minute.
        let slope = slope_per_minute(&points).unwrap();
        assert!((slope - 12.0).abs() < 1e-9, "{slope}");
        assert_eq!(slope_per_minute(&points[..1]), None);
        assert_eq!(slope_per_minute(&[(1.0, 2.0), (1.0, 3.0)]), None);
    }

    #[test]
    fn unlabelled_metrics_are_read() {
        let text = "# HELP switchboard_connected_sockets x\n# TYPE switchboard_connected_sockets gauge\nswitchboard_connected_sockets 12\nswitchboard_events_total{event=\"a\",outcome=\"ok\"} 3\nswitchboard_runtime_alive_tasks 345\n# EOF\n";
        let m = parse_metrics(text);
        assert_eq!(m.get("switchboard_connected_sockets"), Some(&12.0));
        assert_eq!(m.get("switchboard_runtime_alive_tasks"), Some(&345.0));
        assert_eq!(m.len(), 2);
    }
}
