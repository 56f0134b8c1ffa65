//! The chat fleet shared by `chat`, `ramp` and `smoke`: P sessions, each
//! opened by a customer over REST and joined over Socket.IO by the customer
//! and by an agent (whose join takes it); then steps in which the customers
//! send at an aggregate open-loop rate.
//!
//! Every message carries its schedule in its `clientMessageId`
//! (`step.session.k.scheduled_us`), echoed back by the server in the ack and
//! in `new-message`, so latencies are counted from the scheduled send time
//! (no coordinated omission) without any shared table of messages in
//! flight.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::cli::{ChatShape, LoadArgs};
use crate::net::{Sources, open_session, raise_fd_limit};
use crate::report::{histogram, line_ms, own_cpu_seconds, summary_ms};
use crate::server::Server;
use crate::sio::{Client, Incoming, event_frame};
use crate::token::Minter;

/// Ack id of the `join-session` each socket sends during set-up; message
/// ack ids are `(step << 32) | k` with k >= 1.
const JOIN_ACK: u64 = 0;

pub struct Fleet {
    /// The first node (the only one unless `--nodes`).
    pub server: Server,
    /// The other nodes.
    others: Vec<Server>,
    pairs: Vec<Pair>,
    /// Agent sockets (one per agent, each holding its sessions).
    _agents: Vec<Client>,
    probe: Option<Arc<StatsProbe>>,
    probe_every: Duration,
    http: reqwest::Client,
    run: u128,
    recorder: Arc<Recorder>,
    /// The origin of every `scheduled_us`.
    base: Instant,
    content: Arc<str>,
    drain: Duration,
    /// Wall seconds of the set-up, and the nodes' CPU seconds in it.
    setup: (f64, f64),
    /// Seconds the server took to calm down after the set-up.
    settle_s: Option<f64>,
}

struct Pair {
    session_id: Arc<str>,
    customer: Client,
    /// Messages this customer sent so far (k of the next one, minus one).
    sent: u64,
}

/// What one step measured.
pub struct StepOutcome {
    pub rate: f64,
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub unacked: u64,
    pub errors: u64,
    pub delivery_p99_ms: f64,
    pub json: Value,
}

impl StepOutcome {
    pub fn lossless(&self) -> bool {
        self.lost == 0 && self.unacked == 0 && self.errors == 0
    }
}

const SETTLE_MAX: Duration = Duration::from_secs(120);

impl Fleet {
    /// Starts or attaches to the server and sets up `shape.sessions` pairs.
    pub async fn setup(
        server: Server,
        shape: &ChatShape,
        load: &LoadArgs,
    ) -> anyhow::Result<Fleet> {
        Fleet::setup_nodes(vec![server], shape, load).await
    }

    /// The fleet over several nodes: session i's customer on node
    /// `i % N`, agent a's socket on node `(a + 1) % N`, so with one agent
    /// per session every message crosses nodes.
    pub async fn setup_nodes(
        mut nodes: Vec<Server>,
        shape: &ChatShape,
        load: &LoadArgs,
    ) -> anyhow::Result<Fleet> {
        if nodes.is_empty() {
            bail!("no server");
        }
        raise_fd_limit();
        let base = Instant::now();
        let cpu_before = cpu_seconds(&nodes)?;
        let recorder = Arc::new(Recorder::default());
        let minter = Arc::new(Minter::new(&nodes[0].secret));
        let sources = Arc::new(Sources::new(load.source_addrs));
        let http = reqwest::Client::new();
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let timeout = Duration::from_secs_f64(load.connect_timeout);
        let agents = shape
            .agents
            .unwrap_or(shape.sessions)
            .clamp(1, shape.sessions.max(1));
        let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
        eprintln!(
            "setting up {} sessions on {} node(s) (customer opens over REST and joins), {agents} agents (each joins and takes its sessions)",
            shape.sessions,
            addrs.len()
        );
        let mut pairs = Vec::with_capacity(shape.sessions);
        let mut batch = tokio::task::JoinSet::new();
        for i in 0..shape.sessions {
            let (minter, sources, http, recorder) = (
                minter.clone(),
                sources.clone(),
                http.clone(),
                recorder.clone(),
            );
            let addr = addrs[i % addrs.len()];
            batch.spawn(async move {
                let customer = minter.mint(&format!("bench-{run}-c{i}"), "customer")?;
                let session_id =
                    open_session(&http, addr, &customer, &format!("bench session {i}")).await?;
                let (client, mut rx) =
                    connect(addr, sources.pick(2 * i), &customer, timeout).await?;
                join(&client, &mut rx, &session_id, timeout).await?;
                tokio::spawn(customer_loop(rx, recorder, base));
                anyhow::Ok((i, session_id, client))
            });
            if batch.len() >= 32 || i + 1 == shape.sessions {
                while let Some(done) = batch.join_next().await {
                    let (i, session_id, customer) = done??;
                    pairs.push((
                        i,
                        Pair {
                            session_id: session_id.into(),
                            customer,
                            sent: 0,
                        },
                    ));
                }
            }
        }
        pairs.sort_by_key(|(i, _)| *i);
        let pairs: Vec<Pair> = pairs.into_iter().map(|(_, p)| p).collect();
        let probe = (shape.stats_probe_ms > 0).then(|| Arc::new(StatsProbe::default()));
        let mut agent_sockets = Vec::with_capacity(agents);
        let mut agent_batch = tokio::task::JoinSet::new();
        for a in 0..agents {
            let (minter, sources, recorder, probe) = (
                minter.clone(),
                sources.clone(),
                recorder.clone(),
                probe.clone(),
            );
            let addr = addrs[(a + 1) % addrs.len()];
            let sessions: Vec<Arc<str>> = pairs
                .iter()
                .skip(a)
                .step_by(agents)
                .map(|p| p.session_id.clone())
                .collect();
            agent_batch.spawn(async move {
                let agent = minter.mint(&format!("bench-{run}-a{a}"), "agent")?;
                let (client, mut rx) =
                    connect(addr, sources.pick(2 * a + 1), &agent, timeout).await?;
                for session_id in &sessions {
                    join(&client, &mut rx, session_id, timeout).await?;
                }
                tokio::spawn(agent_loop(rx, recorder, base, probe));
                anyhow::Ok(client)
            });
            if agent_batch.len() >= 32 || a + 1 == agents {
                while let Some(done) = agent_batch.join_next().await {
                    agent_sockets.push(done??);
                }
            }
        }
        let content: String = "load generator message "
            .chars()
            .cycle()
            .take(shape.message_bytes.max(1))
            .collect();
        let setup = (
            base.elapsed().as_secs_f64(),
            cpu_seconds(&nodes)? - cpu_before,
        );
        eprintln!(
            "set up in {:.1} s, {:.1} CPU s on the node(s)",
            setup.0, setup.1
        );
        let server = nodes.remove(0);
        let mut fleet = Fleet {
            server,
            others: nodes,
            pairs,
            _agents: agent_sockets,
            probe,
            probe_every: Duration::from_millis(shape.stats_probe_ms.max(1)),
            http,
            run,
            recorder,
            base,
            content: content.into(),
            drain: Duration::from_secs_f64(shape.drain),
            setup,
            settle_s: None,
        };
        fleet.settle_s = fleet.settle(shape.settle_cpu).await?;
        Ok(fleet)
    }

    fn nodes(&self) -> impl Iterator<Item = &Server> {
        std::iter::once(&self.server).chain(&self.others)
    }

    /// How long until the nodes' CPU over one second is under `percent`
    /// of a core (all nodes together), at most [`SETTLE_MAX`]; `None` if
    /// not asked.
    async fn settle(&self, percent: f64) -> anyhow::Result<Option<f64>> {
        if percent <= 0.0 {
            return Ok(None);
        }
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let mut last = (Instant::now(), self.cpu_seconds()?);
        loop {
            tick.tick().await;
            let now = (Instant::now(), self.cpu_seconds()?);
            let busy = 100.0 * (now.1 - last.1) / (now.0 - last.0).as_secs_f64();
            last = now;
            if busy < percent || start.elapsed() >= SETTLE_MAX {
                let waited = start.elapsed().as_secs_f64();
                eprintln!(
                    "settled after {waited:.0} s (server CPU {busy:.0}% over the last second)"
                );
                return Ok(Some(waited));
            }
        }
    }

    /// CPU seconds of every node together.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds(self.nodes())
    }

    /// Sends at `rate` for `duration` seconds (step `step`), waits for late
    /// acks and deliveries, and returns the step's figures.
    pub async fn run_step(
        &mut self,
        step: u32,
        rate: f64,
        duration: f64,
    ) -> anyhow::Result<StepOutcome> {
        if rate <= 0.0 || self.pairs.is_empty() {
            bail!("a step needs a positive rate and at least one session");
        }
        self.recorder.open(step);
        let plan = Plan {
            senders: self
                .pairs
                .iter()
                .map(|p| (p.customer.sender(), p.session_id.clone(), p.sent))
                .collect(),
            step,
            rate,
            duration,
            base: self.base,
            content: self.content.clone(),
        };
        let cpu_before = self.cpu_seconds()?;
        let own_before = own_cpu_seconds();
        let start = Instant::now();
        let probing = self.probe.clone().map(|probe| {
            probe.open(step);
            let (http, addr, minter) = (
                self.http.clone(),
                self.server.addr,
                Minter::new(&self.server.secret),
            );
            let (every, run, until) = (
                self.probe_every,
                self.run,
                start + Duration::from_secs_f64(duration),
            );
            tokio::spawn(async move {
                probe
                    .run(&http, addr, &minter, run, step, every, until)
                    .await
            })
        });
        let paced = tokio::task::spawn_blocking(move || pace(plan)).await?;
        let sending = start.elapsed().as_secs_f64();
        for (pair, k) in self.pairs.iter_mut().zip(&paced.last_k) {
            pair.sent = *k;
        }
        let drain_start = Instant::now();
        while drain_start.elapsed() < self.drain && !self.recorder.settled(step, paced.sent) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let wall = start.elapsed().as_secs_f64();
        let server_cpu = 100.0 * (self.cpu_seconds()? - cpu_before) / wall;
        let stats_update = match (probing, &self.probe) {
            (Some(task), Some(probe)) => {
                task.await??;
                probe.wait_seen(self._agents.len(), self.drain).await;
                Some(probe.take(self._agents.len()))
            }
            _ => None,
        };
        let own_cpu = 100.0 * (own_cpu_seconds() - own_before) / wall;
        let s = self.recorder.take(step);
        let sent = paced.sent;
        let lost = sent.saturating_sub(s.delivered + s.errors);
        let unacked = sent.saturating_sub(s.acked_ok + s.errors);
        let active = s.last_delivery.map_or(sending, |t| {
            t.duration_since(start).as_secs_f64().max(sending)
        });
        let achieved = s.delivered as f64 / active.max(0.001);
        eprintln!(
            "  step {step}: {rate:.0} msg/s target, sent {sent}, delivered {} ({achieved:.0}/s), lost {lost}, unacked {unacked}, errors {}; server CPU {server_cpu:.0}%, bench CPU {own_cpu:.0}%",
            s.delivered, s.errors
        );
        eprintln!("    ack      {}", line_ms(&s.ack));
        eprintln!("    delivery {}", line_ms(&s.delivery));
        let delivery_p99_ms = if s.delivery.is_empty() {
            f64::INFINITY
        } else {
            s.delivery.value_at_quantile(0.99) as f64 / 1000.0
        };
        let json = json!({
            "target_rate": rate,
            "duration_s": duration,
            "sent": sent,
            "acked": s.acked_ok,
            "delivered": s.delivered,
            "lost": lost,
            "unacked": unacked,
            "errors": s.errors,
            "error_samples": s.error_samples,
            "duplicates": s.duplicates,
            "achieved_rate": achieved,
            "ack_ms": summary_ms(&s.ack),
            "delivery_ms": summary_ms(&s.delivery),
            "pacer_lag_ms": summary_ms(&paced.lag),
            "server_cpu_pct": server_cpu,
            "bench_cpu_pct": own_cpu,
            "server_rss_kib": self.nodes().map(|n| n.rss_kib().unwrap_or(0)).sum::<u64>(),
            "stats_update": stats_update,
        });
        Ok(StepOutcome {
            rate,
            sent,
            delivered: s.delivered,
            lost,
            unacked,
            errors: s.errors,
            delivery_p99_ms,
            json,
        })
    }

    /// Figures over the whole run: disconnects and out-of-order deliveries.
    /// Messages sent by every customer so far (warm-up included).
    pub fn sent(&self) -> u64 {
        self.pairs.iter().map(|p| p.sent).sum()
    }

    pub fn totals(&self) -> Value {
        json!({
            "setup_s": self.setup.0,
            "setup_cpu_s": self.setup.1,
            "settle_s": self.settle_s,
            "sessions": self.pairs.len(),
            "agents": self._agents.len(),
            "nodes": 1 + self.others.len(),
            "message_bytes": self.content.len(),
            "disconnects": self.recorder.disconnects.load(Ordering::Relaxed),
            "out_of_order": self.recorder.out_of_order.load(Ordering::Relaxed),
            "database": self.server.database,
        })
    }

    pub async fn finish(self) {
        drop(self.pairs);
        drop(self._agents);
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.server.stop().await;
        for node in self.others {
            node.stop().await;
        }
    }
}

/// CPU seconds of `nodes` together.
fn cpu_seconds<'a>(nodes: impl IntoIterator<Item = &'a Server>) -> anyhow::Result<f64> {
    nodes.into_iter().map(Server::cpu_seconds).sum()
}

/// Connects to `/chat`; returns the client and its events.
async fn connect(
    addr: std::net::SocketAddr,
    source: Option<std::net::IpAddr>,
    token: &str,
    timeout: Duration,
) -> anyhow::Result<(Client, mpsc::UnboundedReceiver<Incoming>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = Client::connect(addr, source, token, tx, timeout).await?;
    Ok((client, rx))
}

/// Joins a session (waits for the ack of `join-session`).
async fn join(
    client: &Client,
    rx: &mut mpsc::UnboundedReceiver<Incoming>,
    session_id: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    client.emit_with_ack(
        "join-session",
        &json!({ "sessionId": session_id }).to_string(),
        JOIN_ACK,
    );
    let reply = tokio::time::timeout(timeout, async {
        while let Some(incoming) = rx.recv().await {
            match incoming {
                Incoming::Ack {
                    id: JOIN_ACK,
                    payload,
                    ..
                } => return Ok(payload),
                Incoming::Closed { reason } => bail!("closed while joining: {reason}"),
                _ => {}
            }
        }
        bail!("closed while joining")
    })
    .await
    .context("join-session timed out")??;
    if !reply.contains("\"ok\":true") {
        bail!("join-session refused: {reply:.200}");
    }
    Ok(())
}

/// What the pacer is given: one sender and the next k per session.
struct Plan {
    senders: Vec<(mpsc::UnboundedSender<Message>, Arc<str>, u64)>,
    step: u32,
    rate: f64,
    duration: f64,
    base: Instant,
    content: Arc<str>,
}

struct Paced {
    sent: u64,
    last_k: Vec<u64>,
    lag: Histogram<u64>,
}

/// The open-loop schedule, on its own OS thread: message j is due at
/// `start + j / rate`, from session `j % P`. Sleeping with the OS timer
/// (tens of microseconds late) rather than tokio's 1 ms wheel keeps the
/// schedule honest at thousands of messages per second.
fn pace(plan: Plan) -> Paced {
    let sessions = plan.senders.len();
    let mut last_k: Vec<u64> = plan.senders.iter().map(|s| s.2).collect();
    let mut lag = histogram();
    let total = (plan.duration * plan.rate).ceil() as u64;
    let start = Instant::now() + Duration::from_millis(5);
    let mut sent = 0;
    for j in 0..total {
        let due = start + Duration::from_secs_f64(j as f64 / plan.rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let s = (j % sessions as u64) as usize;
        let (sender, session_id, _) = &plan.senders[s];
        last_k[s] += 1;
        let k = last_k[s];
        let scheduled_us = due.duration_since(plan.base).as_micros();
        let payload = format!(
            "{{\"sessionId\":\"{session_id}\",\"content\":\"{}\",\"clientMessageId\":\"{}.{s}.{k}.{scheduled_us}\"}}",
            plan.content, plan.step
        );
        let frame = event_frame(
            "send-message",
            &payload,
            Some(((plan.step as u64) << 32) | k),
        );
        if sender.send(Message::text(frame)).is_ok() {
            sent += 1;
        }
        let late = Instant::now().saturating_duration_since(due).as_micros() as u64;
        let _ = lag.record(late.max(1));
    }
    Paced { sent, last_k, lag }
}

/// A message's identity and schedule, parsed from its `clientMessageId`.
struct Tag {
    step: u32,
    key: u64,
    scheduled_us: u64,
}

impl Tag {
    fn parse(cmid: &str) -> Option<Tag> {
        let mut parts = cmid.split('.');
        let step = parts.next()?.parse().ok()?;
        let session: u64 = parts.next()?.parse().ok()?;
        let k: u64 = parts.next()?.parse().ok()?;
        let scheduled_us = parts.next()?.parse().ok()?;
        Some(Tag {
            step,
            key: (session << 32) | k,
            scheduled_us,
        })
    }

    fn latency_us(&self, at: Instant, base: Instant) -> u64 {
        let elapsed = at.duration_since(base).as_micros() as u64;
        elapsed.saturating_sub(self.scheduled_us).max(1)
    }
}

#[derive(Deserialize)]
struct Delivered {
    #[serde(rename = "sessionId", default)]
    session_id: String,
    seq: u64,
    #[serde(rename = "clientMessageId")]
    client_message_id: Option<String>,
}

#[derive(Deserialize)]
struct AckReply {
    ok: bool,
    data: Option<Delivered>,
    error: Option<Value>,
}

/// The agent's side: every `new-message` is a delivery (in order per
/// session); every `stats-update` is checked against the probes.
async fn agent_loop(
    mut rx: mpsc::UnboundedReceiver<Incoming>,
    recorder: Arc<Recorder>,
    base: Instant,
    probe: Option<Arc<StatsProbe>>,
) {
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    let mut probes_seen = 0;
    while let Some(incoming) = rx.recv().await {
        match incoming {
            Incoming::Event { name, payload, at } if name == "new-message" => {
                let Ok(message) = serde_json::from_str::<Delivered>(&payload) else {
                    continue;
                };
                let last = last_seq.entry(message.session_id).or_default();
                if message.seq <= *last {
                    recorder.out_of_order.fetch_add(1, Ordering::Relaxed);
                }
                *last = (*last).max(message.seq);
                if let Some(tag) = message.client_message_id.as_deref().and_then(Tag::parse) {
                    recorder.delivered(&tag, tag.latency_us(at, base), at);
                }
            }
            Incoming::Event { name, payload, at } if name == "stats-update" => {
                if let Some(probe) = &probe {
                    probes_seen = probe.seen(&payload, probes_seen, at);
                }
            }
            Incoming::Closed { reason } => {
                eprintln!("agent socket closed: {reason}");
                recorder.disconnects.fetch_add(1, Ordering::Relaxed);
                break;
            }
            _ => {}
        }
    }
}

/// Is `stats-update` live? During a step a probe customer opens a session
/// every `--stats-probe-ms` (the fleet's own sessions are all taken, so
/// `pendingSessions` counts the probes); each agent's first `stats-update`
/// whose `pendingSessions` reaches k says when that agent learnt of probe
/// k. The latency is from the probe's `POST` to that update.
#[derive(Default)]
struct StatsProbe {
    inner: Mutex<ProbeState>,
}

#[derive(Default)]
struct ProbeState {
    /// When each probe's session was opened (index k - 1), all steps.
    opened: Vec<Instant>,
    /// Probes of the current step: `first..opened.len()`.
    first: usize,
    latency: Option<Histogram<u64>>,
    /// (agent, probe) pairs seen in the current step.
    seen: u64,
}

impl StatsProbe {
    fn open(&self, _step: u32) {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        state.first = state.opened.len();
        state.latency = Some(histogram());
        state.seen = 0;
    }

    /// Opens a probe session every `every` until `until`.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        http: &reqwest::Client,
        addr: std::net::SocketAddr,
        minter: &Minter,
        run: u128,
        step: u32,
        every: Duration,
        until: Instant,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        while Instant::now() + every <= until {
            tick.tick().await;
            let k = {
                let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                state.opened.push(Instant::now());
                state.opened.len()
            };
            let token = minter.mint(&format!("bench-{run}-probe{k}"), "customer")?;
            open_session(http, addr, &token, &format!("stats probe {step}.{k}")).await?;
        }
        Ok(())
    }

    /// An agent's `stats-update`: records the probes it newly shows (after
    /// `seen_before` of them); returns how many it shows.
    fn seen(&self, payload: &str, seen_before: usize, at: Instant) -> usize {
        let Ok(stats) = serde_json::from_str::<Value>(payload) else {
            return seen_before;
        };
        let pending = stats["pendingSessions"].as_u64().unwrap_or(0) as usize;
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let shown = pending.min(state.opened.len());
        for k in seen_before.max(state.first)..shown {
            let latency = at.saturating_duration_since(state.opened[k]).as_micros() as u64;
            if let Some(h) = state.latency.as_mut() {
                let _ = h.record(latency.max(1));
            }
            state.seen += 1;
        }
        shown.max(seen_before)
    }

    /// Waits (at most `limit`) until every agent saw every probe of the step.
    async fn wait_seen(&self, agents: usize, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            let done = {
                let state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                state.seen >= ((state.opened.len() - state.first) * agents) as u64
            };
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn take(&self, agents: usize) -> Value {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let probes = state.opened.len() - state.first;
        let expected = (probes * agents) as u64;
        let latency = state.latency.take().unwrap_or_else(histogram);
        json!({
            "probes": probes,
            "agents": agents,
            "seen": state.seen,
            "missed": expected.saturating_sub(state.seen),
            "latency_ms": summary_ms(&latency),
        })
    }
}

/// The customer's side: acks of its own `send-message`.
async fn customer_loop(
    mut rx: mpsc::UnboundedReceiver<Incoming>,
    recorder: Arc<Recorder>,
    base: Instant,
) {
    while let Some(incoming) = rx.recv().await {
        match incoming {
            Incoming::Ack { id, payload, at } if id != JOIN_ACK => {
                let step = (id >> 32) as u32;
                match serde_json::from_str::<AckReply>(&payload) {
                    Ok(AckReply {
                        ok: true,
                        data: Some(message),
                        ..
                    }) => {
                        if let Some(tag) = message.client_message_id.as_deref().and_then(Tag::parse)
                        {
                            recorder.acked(&tag, tag.latency_us(at, base));
                        }
                    }
                    Ok(reply) => {
                        recorder.failed(step, reply.error.map_or(payload, |e| e.to_string()))
                    }
                    Err(_) => recorder.failed(step, payload),
                }
            }
            Incoming::Closed { reason } => {
                eprintln!("customer socket closed: {reason}");
                recorder.disconnects.fetch_add(1, Ordering::Relaxed);
                break;
            }
            _ => {}
        }
    }
}

/// Figures of the steps in progress, behind one std mutex: every critical
/// section is a few counter updates, never held across an await.
#[derive(Default)]
struct Recorder {
    steps: Mutex<HashMap<u32, StepStats>>,
    out_of_order: AtomicU64,
    disconnects: AtomicU64,
}

struct StepStats {
    ack: Histogram<u64>,
    delivery: Histogram<u64>,
    acked_ok: u64,
    errors: u64,
    delivered: u64,
    duplicates: u64,
    seen: HashSet<u64>,
    last_delivery: Option<Instant>,
    error_samples: Vec<String>,
}

impl StepStats {
    fn new() -> StepStats {
        StepStats {
            ack: histogram(),
            delivery: histogram(),
            acked_ok: 0,
            errors: 0,
            delivered: 0,
            duplicates: 0,
            seen: HashSet::new(),
            last_delivery: None,
            error_samples: Vec::new(),
        }
    }
}

impl Recorder {
    fn with<R>(&self, step: u32, f: impl FnOnce(&mut StepStats) -> R) -> Option<R> {
        let mut steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        steps.get_mut(&step).map(f)
    }

    fn open(&self, step: u32) {
        let mut steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        steps.insert(step, StepStats::new());
    }

    fn take(&self, step: u32) -> StepStats {
        let mut steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        steps.remove(&step).unwrap_or_else(StepStats::new)
    }

    fn settled(&self, step: u32, sent: u64) -> bool {
        self.with(step, |s| {
            s.acked_ok + s.errors >= sent && s.delivered + s.errors >= sent
        })
        .unwrap_or(true)
    }

    fn acked(&self, tag: &Tag, latency_us: u64) {
        self.with(tag.step, |s| {
            s.acked_ok += 1;
            let _ = s.ack.record(latency_us);
        });
    }

    fn failed(&self, step: u32, error: String) {
        self.with(step, |s| {
            s.errors += 1;
            if s.error_samples.len() < 5 {
                s.error_samples.push(error);
            }
        });
    }

    fn delivered(&self, tag: &Tag, latency_us: u64, at: Instant) {
        self.with(tag.step, |s| {
            if s.seen.insert(tag.key) {
                s.delivered += 1;
                let _ = s.delivery.record(latency_us);
                s.last_delivery = Some(at);
            } else {
                s.duplicates += 1;
            }
        });
    }
}
