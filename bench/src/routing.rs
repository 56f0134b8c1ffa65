//! `routing`: auto-assignment (PROTOCOL §7) under a burst of opens.
//!
//! One tenant in `auto` mode on N nodes (one SQLite node, or several
//! sharing PostgreSQL and Redis): A agents connect round-robin over the
//! nodes and wait until every node sees them routable, C customers connect
//! the same way, then the customers open one session each over REST
//! (`POST /api/chat/sessions` on their own node) at an open-loop rate.
//! A × capacity sessions are served at once, the rest wait. Measured:
//!
//! - assignment latency: from each open's *scheduled* time to its
//!   customer's `session-updated` with status `active` (the customer's user
//!   room gets it; one session per customer, so no id is needed to match);
//! - the queue: positions of the waiting sessions from
//!   `GET /api/chat/sessions?status=pending` (as an admin), checked against
//!   1..W, the queue's order (`createdAt`, then id) and the last
//!   `queue-update` each waiting customer got;
//! - capacity: no agent above it, from `session-updated` payloads and from
//!   `GET /api/agents`;
//! - the drain: K agents each close one of their chats at once
//!   (`close-session`); time from each close to its agent's next
//!   assignment, and from the first close to the K-th assignment;
//! - every event every client received, by name and side, per phase, and
//!   events per assignment.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::cli::{RoutingArgs, ServerArgs};
use crate::net::{Sources, get_json, open_session, raise_fd_limit};
use crate::report::{histogram, line_ms, own_cpu_seconds, summary_ms};
use crate::server::Server;
use crate::sio::{Client, Incoming};
use crate::token::Minter;

/// Ack id of an agent's `close-session`.
const CLOSE_ACK: u64 = 1;

pub async fn run(args: RoutingArgs) -> anyhow::Result<Value> {
    if args.nodes == 0 || args.agents == 0 || args.sessions == 0 || args.rate <= 0.0 {
        bail!("--nodes, --agents, --sessions and --rate must be positive");
    }
    if args.server.server_pid.is_some() {
        bail!("routing starts its own nodes (no --server-pid)");
    }
    raise_fd_limit();
    let mut nodes = start_nodes(&args).await?;
    let result = scenario(&args, &mut nodes).await;
    eprintln!("stopping the nodes (SIGTERM)");
    for node in nodes {
        node.stop().await;
    }
    result
}

/// The nodes, each with auto routing and the agents' capacity.
async fn start_nodes(args: &RoutingArgs) -> anyhow::Result<Vec<Server>> {
    let mut server: ServerArgs = args.server.clone();
    server.server_warnings = true;
    let mut extra = vec![
        "--routing".to_string(),
        "auto".into(),
        "--agent-max-chats".into(),
        args.max_chats.to_string(),
    ];
    extra.append(&mut server.server_arg);
    server.server_arg = extra;
    Server::start_nodes(&server, args.nodes, args.redis_url.as_deref(), None).await
}

/// A session's `Session` fields the bench reads.
#[derive(Deserialize)]
struct SessionView {
    id: String,
    status: String,
    agent: Option<UserRef>,
    queue: Option<QueueView>,
    #[serde(rename = "createdAt")]
    created_at: Option<String>,
}

#[derive(Deserialize)]
struct UserRef {
    id: String,
}

#[derive(Deserialize)]
struct QueueView {
    position: i64,
    #[serde(rename = "estimatedWaitSeconds")]
    estimated_wait_seconds: Option<i64>,
    #[serde(rename = "availableAgents")]
    available_agents: i64,
}

#[derive(Deserialize)]
struct QueueUpdate {
    queue: QueueView,
}

#[derive(Deserialize)]
struct AgentView {
    id: String,
    online: bool,
    #[serde(rename = "activeChats")]
    active_chats: i64,
    #[serde(rename = "maxChats")]
    max_chats: i64,
}

/// What one customer saw (one session each).
#[derive(Default)]
struct CustomerState {
    session_id: Option<String>,
    /// Scheduled open time.
    opened_at: Option<Instant>,
    /// First `session-updated` with status `active`, and to whom.
    active_at: Option<Instant>,
    agent: Option<String>,
    /// `session-updated` active naming another agent than the first one.
    reassigned: u32,
    /// `session-updated` active repeated for the same agent.
    repeated: u32,
    last_queue_position: Option<i64>,
    queue_updates: u32,
}

/// Per agent: sessions announced and assignments seen, for duplicate and
/// missing deliveries across nodes.
#[derive(Default)]
struct AgentSeen {
    pending: HashSet<String>,
    pending_dupes: u64,
    assigned: HashSet<String>,
    assigned_dupes: u64,
    close_acked: Option<(Instant, bool)>,
}

#[derive(Default)]
struct Shared {
    /// Events received, by side ("agent"/"customer") and name.
    events: Mutex<BTreeMap<(&'static str, String), u64>>,
    customers: Mutex<Vec<CustomerState>>,
    agents: Mutex<Vec<AgentSeen>>,
    disconnects: AtomicU64,
    assigned: AtomicU64,
}

impl Shared {
    fn count(&self, side: &'static str, name: &str) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        match events.get_mut(&(side, name.to_string())) {
            Some(n) => *n += 1,
            None => {
                events.insert((side, name.to_string()), 1);
            }
        }
    }

    fn snapshot(&self) -> BTreeMap<(&'static str, String), u64> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn customers(&self) -> std::sync::MutexGuard<'_, Vec<CustomerState>> {
        self.customers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn agents(&self) -> std::sync::MutexGuard<'_, Vec<AgentSeen>> {
        self.agents.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Node {
    addr: SocketAddr,
}

async fn scenario(args: &RoutingArgs, servers: &mut [Server]) -> anyhow::Result<Value> {
    let nodes: Vec<Node> = servers.iter().map(|s| Node { addr: s.addr }).collect();
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let tenant = format!("bench-routing-{run}");
    let minter = Arc::new(Minter::new(&servers[0].secret));
    let sources = Arc::new(Sources::new(args.load.source_addrs));
    let timeout = Duration::from_secs_f64(args.load.connect_timeout);
    let http = reqwest::Client::new();
    let shared = Arc::new(Shared::default());
    shared
        .customers()
        .resize_with(args.sessions, CustomerState::default);
    shared.agents().resize_with(args.agents, AgentSeen::default);
    let admin = minter.mint_in(&format!("admin-{run}"), "admin", Some(&tenant))?;
    let cpu_start = cpu_of(servers);
    let own_start = own_cpu_seconds();

    // 1. Agents, round-robin over the nodes; each `connected` must say online.
    eprintln!(
        "{} node(s), tenant {tenant}: connecting {} agents (capacity {} each)",
        nodes.len(),
        args.agents,
        args.max_chats
    );
    let setup_start = Instant::now();
    let mut agents: Vec<Client> = Vec::with_capacity(args.agents);
    let mut agent_online = 0;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..args.agents {
        let token = minter.mint_in(&format!("agent-{i:03}"), "agent", Some(&tenant))?;
        let addr = nodes[i % nodes.len()].addr;
        let source = sources.pick(i);
        set.spawn(async move {
            let (client, rx, hello) = connect(addr, source, &token, timeout).await?;
            anyhow::Ok((i, client, rx, hello))
        });
    }
    let mut connected = Vec::new();
    while let Some(done) = set.join_next().await {
        connected.push(done??);
    }
    connected.sort_by_key(|c| c.0);
    for (i, client, rx, hello) in connected {
        let online = hello
            .pointer("/agent/online")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if online {
            agent_online += 1;
        }
        shared.count("agent", "connected");
        tokio::spawn(agent_loop(i, rx, shared.clone()));
        agents.push(client);
    }
    let agents_connect_ms = ms(setup_start.elapsed());
    eprintln!(
        "  {} agents connected in {agents_connect_ms:.0} ms, {agent_online} said online",
        agents.len()
    );

    // Every node must count them routable before the first open.
    let routable_start = Instant::now();
    let mut routable = vec![0i64; nodes.len()];
    loop {
        for (k, node) in nodes.iter().enumerate() {
            let status = get_json(&http, node.addr, "/api/chat/service", &admin).await?;
            routable[k] = status
                .get("availableAgents")
                .and_then(Value::as_i64)
                .unwrap_or(-1);
        }
        if routable.iter().all(|&n| n == args.agents as i64) {
            break;
        }
        if routable_start.elapsed() > Duration::from_secs(30) {
            bail!(
                "after 30 s the nodes count {routable:?} available agents, not {}",
                args.agents
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let routable_ms = ms(routable_start.elapsed());
    eprintln!(
        "  every node counts {} available agents after {routable_ms:.0} ms",
        args.agents
    );

    // 2. Customers, round-robin over the nodes, connected before the opens.
    let customers_start = Instant::now();
    let mut customers: Vec<Option<Client>> = (0..args.sessions).map(|_| None).collect();
    let mut tokens = Vec::with_capacity(args.sessions);
    for j in 0..args.sessions {
        tokens.push(minter.mint_in(&format!("customer-{j:04}"), "customer", Some(&tenant))?);
    }
    let mut set = tokio::task::JoinSet::new();
    for (j, token) in tokens.iter().enumerate() {
        let addr = nodes[j % nodes.len()].addr;
        let source = sources.pick(args.agents + j);
        let token = token.clone();
        set.spawn(async move {
            let (client, rx, _) = connect(addr, source, &token, timeout).await?;
            anyhow::Ok((j, client, rx))
        });
        if set.len() >= 64 || j + 1 == args.sessions {
            while let Some(done) = set.join_next().await {
                let (j, client, rx) = done??;
                shared.count("customer", "connected");
                tokio::spawn(customer_loop(j, rx, shared.clone()));
                customers[j] = Some(client);
            }
        }
    }
    let customers_connect_ms = ms(customers_start.elapsed());
    eprintln!(
        "  {} customers connected in {customers_connect_ms:.0} ms",
        args.sessions
    );
    // The agents' own `agent-updated` and `service-status` after connecting
    // are coalesced over a second: let them pass before the opens.
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let setup_events = shared.snapshot();

    // 3. Opens at an open-loop rate: open j is due at start + j / rate.
    let capacity = args.agents * args.max_chats as usize;
    let expected = capacity.min(args.sessions);
    eprintln!(
        "opening {} sessions at {}/s; capacity {capacity}: {expected} should be served at once",
        args.sessions, args.rate
    );
    let cpu_before_open = cpu_of(servers);
    let machine_before_open = cpu_jiffies();
    let open_start = Instant::now() + Duration::from_millis(20);
    let mut opens = tokio::task::JoinSet::new();
    let open_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    for (j, token) in tokens.iter().enumerate() {
        let due = open_start + Duration::from_secs_f64(j as f64 / args.rate);
        tokio::time::sleep_until(due.into()).await;
        let (http, token, shared, errors) = (
            http.clone(),
            token.clone(),
            shared.clone(),
            open_errors.clone(),
        );
        let addr = nodes[j % nodes.len()].addr;
        shared.customers()[j].opened_at = Some(due);
        opens.spawn(async move {
            let result = open_session(&http, addr, &token, &format!("routing bench {j}")).await;
            let took = due.elapsed();
            match result {
                Ok(id) => {
                    let mut customers = shared.customers();
                    customers[j].session_id = Some(id);
                    Some(took)
                }
                Err(e) => {
                    let mut errors = errors.lock().unwrap_or_else(|e| e.into_inner());
                    if errors.len() < 5 {
                        errors.push(format!("{e:#}"));
                    }
                    None
                }
            }
        });
    }
    let open_sent_s = open_start.elapsed().as_secs_f64();
    let mut open_latency = histogram();
    let mut opened = 0u64;
    while let Some(done) = opens.join_next().await {
        if let Some(took) = done? {
            opened += 1;
            let _ = open_latency.record((took.as_micros() as u64).max(1));
        }
    }
    let open_failed = args.sessions as u64 - opened;
    eprintln!(
        "  {opened} opened ({open_failed} failed) in {open_sent_s:.2} s; REST open {}",
        line_ms(&open_latency)
    );

    // Wait for the expected assignments, then a settle period in which no
    // more may come (and the coalesced notices arrive).
    let wait_start = Instant::now();
    let limit = Duration::from_secs_f64(args.assign_timeout);
    while (shared.assigned.load(Ordering::Relaxed) as usize) < expected
        && wait_start.elapsed() < limit
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let open_events = shared.snapshot();
    let cpu_after_open = cpu_of(servers);
    let machine_open = busy_pct(&machine_before_open, &cpu_jiffies());
    let open_phase_s = open_start.elapsed().as_secs_f64();

    let (assign_latency, assigned_first, per_agent, order) = {
        let customers = shared.customers();
        let mut h = histogram();
        let mut per_agent: HashMap<String, u64> = HashMap::new();
        let mut assigned = Vec::new();
        for (j, c) in customers.iter().enumerate() {
            if let (Some(open), Some(active)) = (c.opened_at, c.active_at) {
                let _ =
                    h.record((active.saturating_duration_since(open).as_micros() as u64).max(1));
                assigned.push(j);
                if let Some(agent) = &c.agent {
                    *per_agent.entry(agent.clone()).or_default() += 1;
                }
            }
        }
        // Served in open order: how many of the first `expected` opens.
        let in_order = assigned.iter().filter(|&&j| j < expected).count();
        (h, assigned.len(), per_agent, in_order)
    };
    let max_per_agent = per_agent.values().copied().max().unwrap_or(0);
    let over_capacity = per_agent
        .values()
        .filter(|&&n| n > args.max_chats as u64)
        .count();
    eprintln!(
        "  assigned {assigned_first} of {expected} expected ({order} of them among the first {expected} opens); \
         agents used {}, most chats per agent {max_per_agent}, over capacity {over_capacity}",
        per_agent.len()
    );
    eprintln!("  open → assigned {}", line_ms(&assign_latency));

    // 4. The queue as REST tells it (as an admin, on the first node).
    let pending = list_pending(&http, nodes[0].addr, &admin).await?;
    let queue_check = check_queue(&pending, &shared, args.agents as i64);
    eprintln!("  queue: {}", queue_check.line);
    let agents_after_open = list_agents(&http, nodes[0].addr, &admin).await?;
    let agents_check_open = check_agents(&agents_after_open, args.agents, args.max_chats);
    eprintln!("  GET /api/agents: {}", agents_check_open.1);

    // 5. The drain: the first K agents (by index) holding a chat each close
    // one of their sessions, all at once.
    let mut by_agent: BTreeMap<String, Vec<String>> = BTreeMap::new();
    {
        let customers = shared.customers();
        for c in customers.iter() {
            if let (Some(agent), Some(session)) = (&c.agent, &c.session_id) {
                by_agent
                    .entry(agent.clone())
                    .or_default()
                    .push(session.clone());
            }
        }
    }
    let queued_before: HashSet<usize> = {
        let customers = shared.customers();
        (0..args.sessions)
            .filter(|&j| customers[j].active_at.is_none() && customers[j].session_id.is_some())
            .collect()
    };
    let positions: HashMap<String, i64> = pending
        .iter()
        .filter_map(|s| Some((s.id.clone(), s.queue.as_ref()?.position)))
        .collect();
    let mut closers = Vec::new();
    for (i, agent) in agents.iter().enumerate() {
        if closers.len() >= args.close {
            break;
        }
        let id = format!("agent-{i:03}");
        if let Some(session) = by_agent.get(&id).and_then(|s| s.first()) {
            closers.push((i, id, session.clone(), agent));
        }
    }
    let drain_expected = closers.len().min(queued_before.len());
    eprintln!(
        "draining: {} agents close one chat each; {drain_expected} queued sessions should be served",
        closers.len()
    );
    let cpu_before_drain = cpu_of(servers);
    let machine_before_drain = cpu_jiffies();
    let drain_events_before = shared.snapshot();
    let assigned_before = shared.assigned.load(Ordering::Relaxed);
    let drain_start = Instant::now();
    let mut closed_at: HashMap<String, Instant> = HashMap::new();
    for (_, id, session, agent) in &closers {
        let payload = json!({ "sessionId": session, "reason": "bench drain" }).to_string();
        closed_at.insert(id.clone(), Instant::now());
        agent.emit_with_ack("close-session", &payload, CLOSE_ACK);
    }
    while ((shared.assigned.load(Ordering::Relaxed) - assigned_before) as usize) < drain_expected
        && drain_start.elapsed() < limit
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drain_wait = drain_start.elapsed();
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let drain_events = shared.snapshot();
    let cpu_after_drain = cpu_of(servers);
    let machine_drain = busy_pct(&machine_before_drain, &cpu_jiffies());
    let drain_phase_s = drain_start.elapsed().as_secs_f64();

    let mut close_ack = histogram();
    let mut close_failed = 0;
    {
        let agents_seen = shared.agents();
        for (i, id, _, _) in &closers {
            match agents_seen[*i].close_acked {
                Some((at, true)) => {
                    let _ = close_ack.record(
                        (at.saturating_duration_since(closed_at[id]).as_micros() as u64).max(1),
                    );
                }
                _ => close_failed += 1,
            }
        }
    }
    let mut drain_latency = histogram();
    let mut drained = 0u64;
    let mut drained_to_closer = 0u64;
    let mut drained_fifo = 0u64;
    let mut last_drain: Option<Instant> = None;
    {
        let customers = shared.customers();
        for &j in &queued_before {
            let c = &customers[j];
            let (Some(active), Some(agent)) = (c.active_at, c.agent.as_ref()) else {
                continue;
            };
            drained += 1;
            last_drain = Some(last_drain.map_or(active, |l| l.max(active)));
            let from = match closed_at.get(agent) {
                Some(at) => {
                    drained_to_closer += 1;
                    *at
                }
                None => drain_start,
            };
            let _ = drain_latency
                .record((active.saturating_duration_since(from).as_micros() as u64).max(1));
            if c.session_id
                .as_ref()
                .and_then(|s| positions.get(s))
                .is_some_and(|&p| p <= drain_expected as i64)
            {
                drained_fifo += 1;
            }
        }
    }
    let drain_all_ms = last_drain.map(|l| ms(l.saturating_duration_since(drain_start)));
    eprintln!(
        "  {drained} of {drain_expected} served ({drained_fifo} of them the first {drain_expected} in the queue, \
         {drained_to_closer} to an agent who closed); all within {:.1} ms of the first close",
        drain_all_ms.unwrap_or(f64::NAN)
    );
    eprintln!(
        "  close → that agent's next assignment {}",
        line_ms(&drain_latency)
    );
    eprintln!("  close-session ack {}", line_ms(&close_ack));

    // 6. The end state.
    let agents_end = list_agents(&http, nodes[0].addr, &admin).await?;
    let agents_check_end = check_agents(&agents_end, args.agents, args.max_chats);
    eprintln!("  GET /api/agents at the end: {}", agents_check_end.1);
    let pending_end = list_pending(&http, nodes[0].addr, &admin).await?;
    let pending_end_ok = pending_end
        .iter()
        .enumerate()
        .all(|(k, s)| s.queue.as_ref().is_some_and(|q| q.position == k as i64 + 1));
    eprintln!(
        "  pending at the end: {} (positions 1..{}: {})",
        pending_end.len(),
        pending_end.len(),
        if pending_end_ok { "yes" } else { "NO" }
    );

    // Deliveries per agent: every agent should see each session announced
    // once and each assignment once, whichever node it is on.
    let (agent_pending, agent_assigned, agent_dupes) = {
        let seen = shared.agents();
        let pending: Vec<u64> = seen.iter().map(|a| a.pending.len() as u64).collect();
        let assigned: Vec<u64> = seen.iter().map(|a| a.assigned.len() as u64).collect();
        let dupes: u64 = seen
            .iter()
            .map(|a| a.pending_dupes + a.assigned_dupes)
            .sum();
        (pending, assigned, dupes)
    };
    let (reassigned, repeated, customers_assigned) = {
        let customers = shared.customers();
        (
            customers
                .iter()
                .map(|c| u64::from(c.reassigned))
                .sum::<u64>(),
            customers.iter().map(|c| u64::from(c.repeated)).sum::<u64>(),
            customers.iter().filter(|c| c.active_at.is_some()).count(),
        )
    };
    let total_assignments = customers_assigned as u64;

    let open_phase = diff(&open_events, &setup_events);
    let drain_phase = diff(&drain_events, &drain_events_before);
    let whole = diff(&drain_events, &setup_events);
    let per = |events: &BTreeMap<(&'static str, String), u64>, n: u64| {
        let total: u64 = events.values().sum();
        if n == 0 {
            Value::Null
        } else {
            json!((total as f64 / n as f64 * 10.0).round() / 10.0)
        }
    };
    let open_per = per(&open_phase, assigned_first as u64);
    let drain_per = per(&drain_phase, drained);
    let whole_per = per(&whole, total_assignments);
    eprintln!("events received (open phase / drain phase):");
    print_events(&open_phase, &drain_phase);
    eprintln!(
        "events per assignment: open phase {open_per}, drain phase {drain_per}, both {whole_per}"
    );
    eprintln!(
        "machine CPUs busy: open phase {machine_open:?}% over {open_phase_s:.1} s, drain phase {machine_drain:?}% over {drain_phase_s:.1} s"
    );

    let cpu_end = cpu_of(servers);
    let wall = open_start.elapsed().as_secs_f64();
    let node_json: Vec<Value> = servers
        .iter()
        .enumerate()
        .map(|(k, s)| {
            json!({
                "addr": s.addr.to_string(),
                "agents": (0..args.agents).filter(|i| i % servers.len() == k).count(),
                "customers": (0..args.sessions).filter(|j| j % servers.len() == k).count(),
                "cpu_s_open_phase": round2(cpu_after_open[k] - cpu_before_open[k]),
                "cpu_s_drain_phase": round2(cpu_after_drain[k] - cpu_before_drain[k]),
                "cpu_s_total": round2(cpu_end[k] - cpu_start[k]),
                "rss_kib": s.rss_kib().unwrap_or(0),
                "log_warnings": s.log_counts().0,
                "log_errors": s.log_counts().1,
            })
        })
        .collect();
    let errors = open_errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let problems = {
        let mut p = Vec::new();
        if assigned_first != expected {
            p.push(format!(
                "{assigned_first} assigned after the opens, expected {expected}"
            ));
        }
        if over_capacity > 0 || !agents_check_open.0 || !agents_check_end.0 {
            p.push("an agent above capacity or GET /api/agents disagrees".to_string());
        }
        if !queue_check.ok {
            p.push(format!("queue: {}", queue_check.line));
        }
        if drained as usize != drain_expected {
            p.push(format!("drain served {drained}, expected {drain_expected}"));
        }
        if reassigned + repeated + agent_dupes > 0 {
            p.push(format!(
                "duplicates: {reassigned} reassigned, {repeated} repeated session-updated, {agent_dupes} duplicate deliveries to agents"
            ));
        }
        if open_failed + close_failed > 0 {
            p.push(format!(
                "{open_failed} opens and {close_failed} closes failed"
            ));
        }
        if !pending_end_ok
            || pending_end.len() != args.sessions.saturating_sub(expected + drained as usize)
        {
            p.push(format!("{} pending at the end", pending_end.len()));
        }
        let disconnects = shared.disconnects.load(Ordering::Relaxed);
        if disconnects > 0 {
            p.push(format!("{disconnects} sockets closed"));
        }
        p
    };
    if problems.is_empty() {
        eprintln!("no problem found");
    } else {
        for p in &problems {
            eprintln!("PROBLEM: {p}");
        }
    }
    let stats = |v: &[u64]| {
        json!({
            "min": v.iter().min(),
            "max": v.iter().max(),
        })
    };
    let result = json!({
        "scenario": "routing",
        "nodes": servers.len(),
        "database": servers[0].database,
        "redis": args.redis_url.is_some(),
        "agents": args.agents,
        "max_chats": args.max_chats,
        "sessions": args.sessions,
        "open_rate": args.rate,
        "close": args.close,
        "setup": {
            "agents_connect_ms": agents_connect_ms,
            "agents_connected_online": agent_online,
            "all_nodes_routable_ms": routable_ms,
            "customers_connect_ms": customers_connect_ms,
        },
        "opened": opened,
        "open_failed": open_failed,
        "open_errors": errors,
        "open_sent_s": open_sent_s,
        "open_ms": summary_ms(&open_latency),
        "expected_assigned": expected,
        "assigned": assigned_first,
        "assigned_in_open_order": order,
        "assign_ms": summary_ms(&assign_latency),
        "agents_used": per_agent.len(),
        "max_chats_per_agent_seen": max_per_agent,
        "agents_over_capacity": over_capacity,
        "queue": queue_check.json,
        "agents_rest_after_open": agents_check_open.2,
        "drain": {
            "closed": closers.len(),
            "close_failed": close_failed,
            "close_ack_ms": summary_ms(&close_ack),
            "expected": drain_expected,
            "served": drained,
            "served_first_in_queue": drained_fifo,
            "served_by_closing_agent": drained_to_closer,
            "latency_ms": summary_ms(&drain_latency),
            "all_served_ms": drain_all_ms,
            "wait_ms": ms(drain_wait),
        },
        "agents_rest_end": agents_check_end.2,
        "pending_end": pending_end.len(),
        "pending_end_positions_ok": pending_end_ok,
        "deliveries_per_agent": {
            "new_pending_session": stats(&agent_pending),
            "session_updated_active": stats(&agent_assigned),
            "duplicates": agent_dupes,
        },
        "customers_reassigned": reassigned,
        "customers_repeated_active": repeated,
        "assignments": total_assignments,
        "events": {
            "setup": events_json(&setup_events),
            "open_phase": events_json(&open_phase),
            "drain_phase": events_json(&drain_phase),
            "total_open_phase": open_phase.values().sum::<u64>(),
            "total_drain_phase": drain_phase.values().sum::<u64>(),
            "total": whole.values().sum::<u64>(),
        },
        "events_per_assignment": {
            "open_phase": open_per,
            "drain_phase": drain_per,
            "both": whole_per,
        },
        "settle_s": args.settle,
        "disconnects": shared.disconnects.load(Ordering::Relaxed),
        "node": node_json,
        "phase_s": { "open": round2(open_phase_s), "drain": round2(drain_phase_s) },
        "machine_cpu_busy_pct": { "open_phase": machine_open, "drain_phase": machine_drain },
        "bench_cpu_pct": 100.0 * (own_cpu_seconds() - own_start) / wall.max(0.001),
        "problems": problems,
    });
    // The nodes see every socket go before they are stopped, so what they
    // log about the disconnects comes before the "stopping" line.
    drop(customers);
    drop(agents);
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(result)
}

/// Busy and total jiffies of each CPU of the machine (`/proc/stat`).
fn cpu_jiffies() -> Vec<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let total: u64 = v.iter().take(8).sum();
            let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
            (total - idle, total)
        })
        .collect()
}

/// Each CPU's busy share between two `cpu_jiffies`, percent (the whole
/// machine: the nodes, the database, Redis, the bench and anyone else).
fn busy_pct(before: &[(u64, u64)], after: &[(u64, u64)]) -> Vec<f64> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| {
            let total = a.1.saturating_sub(b.1).max(1) as f64;
            (100.0 * a.0.saturating_sub(b.0) as f64 / total).round()
        })
        .collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

fn cpu_of(servers: &[Server]) -> Vec<f64> {
    servers
        .iter()
        .map(|s| s.cpu_seconds().unwrap_or(0.0))
        .collect()
}

fn diff(
    after: &BTreeMap<(&'static str, String), u64>,
    before: &BTreeMap<(&'static str, String), u64>,
) -> BTreeMap<(&'static str, String), u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn events_json(events: &BTreeMap<(&'static str, String), u64>) -> Value {
    let mut out = serde_json::Map::new();
    for ((side, name), n) in events {
        let entry = out
            .entry(side.to_string())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Value::Object(m) = entry {
            m.insert(name.clone(), json!(n));
        }
    }
    Value::Object(out)
}

fn print_events(
    open: &BTreeMap<(&'static str, String), u64>,
    drain: &BTreeMap<(&'static str, String), u64>,
) {
    let mut keys: Vec<&(&'static str, String)> = open.keys().chain(drain.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        eprintln!(
            "  {:<8} {:<22} {:>9} {:>9}",
            key.0,
            key.1,
            open.get(key).copied().unwrap_or(0),
            drain.get(key).copied().unwrap_or(0)
        );
    }
    eprintln!(
        "  {:<31} {:>9} {:>9}",
        "total",
        open.values().sum::<u64>(),
        drain.values().sum::<u64>()
    );
}

/// Connects and waits for `connected`; returns its payload.
async fn connect(
    addr: SocketAddr,
    source: Option<std::net::IpAddr>,
    token: &str,
    timeout: Duration,
) -> anyhow::Result<(Client, mpsc::UnboundedReceiver<Incoming>, Value)> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = Client::connect(addr, source, token, tx, timeout).await?;
    let hello = tokio::time::timeout(timeout, async {
        while let Some(incoming) = rx.recv().await {
            match incoming {
                Incoming::Event { name, payload, .. } if name == "connected" => {
                    return Ok(serde_json::from_str::<Value>(&payload)?);
                }
                Incoming::Closed { reason } => bail!("closed before `connected`: {reason}"),
                _ => {}
            }
        }
        bail!("closed before `connected`")
    })
    .await
    .context("no `connected` in time")??;
    Ok((client, rx, hello))
}

/// An agent: counts events, remembers announced and assigned sessions
/// (duplicates across nodes), and the ack of its `close-session`.
async fn agent_loop(i: usize, mut rx: mpsc::UnboundedReceiver<Incoming>, shared: Arc<Shared>) {
    while let Some(incoming) = rx.recv().await {
        match incoming {
            Incoming::Event { name, payload, .. } => {
                shared.count("agent", &name);
                let announced = name == "new-pending-session";
                if announced || name == "session-updated" {
                    let Ok(session) = serde_json::from_str::<SessionView>(&payload) else {
                        continue;
                    };
                    let mut agents = shared.agents();
                    let seen = &mut agents[i];
                    if announced {
                        if !seen.pending.insert(session.id) {
                            seen.pending_dupes += 1;
                        }
                    } else if session.status == "active" && !seen.assigned.insert(session.id) {
                        seen.assigned_dupes += 1;
                    }
                }
            }
            Incoming::Ack {
                id: CLOSE_ACK,
                payload,
                at,
            } => {
                let ok = payload.contains("\"ok\":true");
                if !ok {
                    eprintln!("agent-{i:03} close-session refused: {payload:.200}");
                }
                shared.agents()[i].close_acked = Some((at, ok));
            }
            Incoming::Ack { .. } => {}
            Incoming::Closed { reason } => {
                eprintln!("agent-{i:03} socket closed: {reason}");
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
}

/// A customer: counts events, the first `session-updated` active (when and
/// to whom), and the last `queue-update`.
async fn customer_loop(j: usize, mut rx: mpsc::UnboundedReceiver<Incoming>, shared: Arc<Shared>) {
    while let Some(incoming) = rx.recv().await {
        match incoming {
            Incoming::Event { name, payload, at } => {
                shared.count("customer", &name);
                if name == "session-updated" {
                    let Ok(session) = serde_json::from_str::<SessionView>(&payload) else {
                        continue;
                    };
                    if session.status != "active" {
                        continue;
                    }
                    let agent = session.agent.map(|a| a.id);
                    let mut customers = shared.customers();
                    let c = &mut customers[j];
                    match (&c.agent, agent) {
                        (None, Some(agent)) => {
                            c.active_at = Some(at);
                            c.agent = Some(agent);
                            drop(customers);
                            shared.assigned.fetch_add(1, Ordering::Relaxed);
                        }
                        (Some(first), Some(agent)) if *first != agent => c.reassigned += 1,
                        _ => c.repeated += 1,
                    }
                } else if name == "queue-update"
                    && let Ok(update) = serde_json::from_str::<QueueUpdate>(&payload)
                {
                    let mut customers = shared.customers();
                    customers[j].last_queue_position = Some(update.queue.position);
                    customers[j].queue_updates += 1;
                }
            }
            Incoming::Ack { .. } => {}
            Incoming::Closed { reason } => {
                eprintln!("customer-{j:04} socket closed: {reason}");
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
}

/// Every pending session of the tenant, newest first as the API lists them,
/// returned in queue order (position 1 first when the positions are right).
async fn list_pending(
    http: &reqwest::Client,
    addr: SocketAddr,
    admin: &str,
) -> anyhow::Result<Vec<SessionView>> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/chat/sessions?status=pending&limit=200&cursor={c}"),
            None => "/api/chat/sessions?status=pending&limit=200".to_string(),
        };
        let page = get_json(http, addr, &path, admin).await?;
        let items: Vec<SessionView> =
            serde_json::from_value(page.get("items").cloned().unwrap_or(Value::Null))
                .context("pending list: bad items")?;
        all.extend(items);
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    // Queue order: createdAt then id (RFC 3339 with milliseconds sorts as text).
    all.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    Ok(all)
}

struct QueueCheck {
    ok: bool,
    line: String,
    json: Value,
}

/// Positions 1..W in queue order, each pending customer's last
/// `queue-update` agreeing with REST.
fn check_queue(pending: &[SessionView], shared: &Shared, agents: i64) -> QueueCheck {
    let positions: Vec<Option<i64>> = pending
        .iter()
        .map(|s| s.queue.as_ref().map(|q| q.position))
        .collect();
    let in_order = positions
        .iter()
        .enumerate()
        .filter(|(k, p)| **p == Some(*k as i64 + 1))
        .count();
    let mut sorted: Vec<i64> = positions.iter().flatten().copied().collect();
    sorted.sort_unstable();
    let permutation = sorted.iter().enumerate().all(|(k, &p)| p == k as i64 + 1);
    let available_ok = pending
        .iter()
        .filter(|s| {
            s.queue
                .as_ref()
                .is_some_and(|q| q.available_agents == agents)
        })
        .count();
    let estimates: Vec<i64> = pending
        .iter()
        .filter_map(|s| s.queue.as_ref()?.estimated_wait_seconds)
        .collect();
    let by_session: HashMap<&str, i64> = pending
        .iter()
        .filter_map(|s| Some((s.id.as_str(), s.queue.as_ref()?.position)))
        .collect();
    let (mut agree, mut disagree, mut never, mut updates) = (0u64, 0u64, 0u64, 0u64);
    for c in shared.customers().iter() {
        let Some(rest) = c.session_id.as_deref().and_then(|s| by_session.get(s)) else {
            continue;
        };
        updates += u64::from(c.queue_updates);
        match c.last_queue_position {
            Some(p) if p == *rest => agree += 1,
            Some(_) => disagree += 1,
            None => never += 1,
        }
    }
    let ok = permutation && in_order == pending.len() && disagree == 0 && never == 0;
    let line = format!(
        "{} pending, positions 1..{}: {}, in createdAt order: {in_order}; last queue-update = REST position for {agree}, differs for {disagree}, none received {never}; availableAgents = {agents} in {available_ok}; estimatedWaitSeconds {}..{}",
        pending.len(),
        pending.len(),
        if permutation { "yes" } else { "NO" },
        estimates.iter().min().map_or("-".into(), |v| v.to_string()),
        estimates.iter().max().map_or("-".into(), |v| v.to_string()),
    );
    QueueCheck {
        ok,
        line,
        json: json!({
            "pending": pending.len(),
            "positions_are_1_to_n": permutation,
            "positions_in_created_order": in_order,
            "queue_update_agrees": agree,
            "queue_update_differs": disagree,
            "queue_update_none": never,
            "queue_updates_received": updates,
            "available_agents_ok": available_ok,
            "estimated_wait_s_min": estimates.iter().min(),
            "estimated_wait_s_max": estimates.iter().max(),
        }),
    }
}

async fn list_agents(
    http: &reqwest::Client,
    addr: SocketAddr,
    admin: &str,
) -> anyhow::Result<Vec<AgentView>> {
    let body = get_json(http, addr, "/api/agents", admin).await?;
    serde_json::from_value(body.get("items").cloned().unwrap_or(Value::Null))
        .context("GET /api/agents: bad items")
}

/// No agent above capacity; the bench's agents all online; the sum.
fn check_agents(agents: &[AgentView], expected: usize, max_chats: u16) -> (bool, String, Value) {
    let ours: Vec<&AgentView> = agents
        .iter()
        .filter(|a| a.id.starts_with("agent-"))
        .collect();
    let total: i64 = ours.iter().map(|a| a.active_chats).sum();
    let max = ours.iter().map(|a| a.active_chats).max().unwrap_or(0);
    let over = ours
        .iter()
        .filter(|a| a.active_chats > a.max_chats.min(i64::from(max_chats)))
        .count();
    let online = ours.iter().filter(|a| a.online).count();
    let ok = over == 0 && ours.len() == expected && online == expected;
    let line = format!(
        "{} agents, {online} online, {total} active chats, most {max}, over capacity {over}",
        ours.len()
    );
    (
        ok,
        line,
        json!({
            "agents": ours.len(),
            "online": online,
            "active_chats": total,
            "max_active_chats": max,
            "over_capacity": over,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_diff_keeps_only_what_changed() {
        let mut before = BTreeMap::new();
        before.insert(("agent", "a".to_string()), 2);
        let mut after = before.clone();
        after.insert(("agent", "a".to_string()), 5);
        after.insert(("customer", "b".to_string()), 1);
        let d = diff(&after, &before);
        assert_eq!(d.get(&("agent", "a".to_string())), Some(&3));
        assert_eq!(d.get(&("customer", "b".to_string())), Some(&1));
        assert_eq!(
            events_json(&d),
            json!({"agent": {"a": 3}, "customer": {"b": 1}})
        );
    }
}
