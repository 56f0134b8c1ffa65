//! Command line: one subcommand per scenario, with the server and load
//! generator settings they share.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "switchboard-bench",
    version,
    about = "Load generator for Switchboard: real Socket.IO v4 /chat clients over websocket",
    long_about = "Load generator for Switchboard. Speaks Engine.IO v4 / Socket.IO v4 over websocket \
                  like socket.io-client does (token in the /chat CONNECT, acks, heartbeats). Progress \
                  goes to stderr; every scenario ends with one JSON line on stdout."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Scenario,
    /// Worker threads of the load generator's runtime (default: the CPUs this
    /// process may run on, so `taskset -c 1 switchboard-bench ...` gives 1).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum Scenario {
    /// N authenticated /chat sockets opened at a given rate and held idle:
    /// connect rate and latency, failures, server RSS per socket.
    Connect(ConnectArgs),
    /// P sessions (customer + agent who took it); customers send at an
    /// aggregate open-loop rate: ack and delivery latency, loss.
    Chat(ChatArgs),
    /// Raises the chat rate step by step until delivery p99 passes a bound
    /// or a message is lost; reports the highest rate that held.
    Ramp(RampArgs),
    /// A short chat run for CI: zero loss and a JSON line, no timing checks.
    Smoke(SmokeArgs),
    /// Seeds a long history, then measures what a person waits on against
    /// an empty and the seeded database, and the chat while agents read.
    Growth(GrowthArgs),
    /// Auto-assignment: agents with a capacity on one or more nodes, a burst
    /// of opens; open-to-assignment latency, the queue, the drain after
    /// closes, events per assignment.
    Routing(RoutingArgs),
    /// Attachments (PROTOCOL §8): C clients upload files of each size at
    /// once; throughput, latency, and the server's RSS before, during and
    /// after each size.
    Upload(UploadArgs),
    /// A long run (issue 18): the chat fleet at a steady rate, measured
    /// window by window, while customers come and go (open a session,
    /// connect, send, an agent takes and closes it, both leave); the
    /// server's RSS, fds, threads and tasks sampled, their slopes, and what
    /// remains when every client has left.
    Soak(SoakArgs),
    /// One `POST /api/server/publish` to every socket of a tenant spread
    /// over several nodes, the sockets held by child processes: time until
    /// the last socket has it, loss, memory per socket and fds per node.
    Broadcast(BroadcastArgs),
    /// Internal: a child of `broadcast` holding its share of the sockets
    /// (JSON lines with the parent over stdin/stdout).
    #[command(hide = true)]
    BroadcastHolder(HolderArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Server binary to start (default: target/release/switchboard, else
    /// target/debug/switchboard).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Observe an already running server instead of starting one (needs
    /// --server-addr and the server's --jwt-secret).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Address of the server given by --server-pid.
    #[arg(long)]
    pub server_addr: Option<SocketAddr>,
    /// Database of the started server (default: a fresh SQLite file in a
    /// temporary directory), e.g. postgres://user:pass@127.0.0.1:5433/bench.
    #[arg(long)]
    pub database_url: Option<String>,
    /// HS256 secret given to the started server and used to mint tokens.
    #[arg(long, default_value = "switchboard-bench-secret-0123456789abcdef")]
    pub jwt_secret: String,
    /// CPUs the started server is pinned to with `taskset -c` ("none": not pinned).
    #[arg(long, default_value = "0")]
    pub server_cpus: String,
    /// RUST_LOG of the started server (info logs every connection, as in production).
    #[arg(long, default_value = "info")]
    pub server_log: String,
    /// Extra argument for the started server (repeatable), e.g. --server-arg=--sqlite-synchronous=FULL.
    #[arg(long, allow_hyphen_values = true)]
    pub server_arg: Vec<String>,
    /// Also show the started server's WARN lines (errors are always shown).
    #[arg(long)]
    pub server_warnings: bool,
}

#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Loopback source addresses the sockets bind to, round-robin, from
    /// 127.0.0.2 (one address holds at most ~28,000 sockets).
    #[arg(long, default_value_t = 8)]
    pub source_addrs: u8,
    /// Handshake timeout, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub connect_timeout: f64,
}

#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Sockets to open.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub connections: usize,
    /// Connections per second, open loop (0: as fast as --concurrency allows).
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Handshakes in flight at most when --rate is 0.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Seconds to hold the sockets open (idle, answering heartbeats).
    #[arg(long, default_value_t = 10.0)]
    pub hold: f64,
    /// Seconds to wait after the last connect before reading the RSS.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// Role of the connecting users (customers get no stats snapshot).
    #[arg(long, default_value = "customer")]
    pub role: String,
}

#[derive(Args, Debug, Clone)]
pub struct ChatArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub chat: ChatShape,
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// Aggregate send rate of all customers, messages per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Measured seconds.
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// Unrecorded seconds at the same rate before the measurement.
    #[arg(long, default_value_t = 3.0)]
    pub warmup: f64,
    /// Few sessions, few hundred messages, started from the debug binary
    /// when no release one exists; fails on any loss (same as `smoke`).
    #[arg(long)]
    pub smoke: bool,
    /// Register a webhook for `message.created` with a receiver in this
    /// process (the server is started with --webhook-allow-private-networks):
    /// the chat's cost with the outbox and its deliveries.
    #[arg(long)]
    pub webhook: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ChatShape {
    /// Sessions (each: one customer socket, one agent socket that took it).
    #[arg(long, short = 'p', default_value_t = 100)]
    pub sessions: usize,
    /// Bytes of message content.
    #[arg(long, default_value_t = 64)]
    pub message_bytes: usize,
    /// Seconds to wait for late acks and deliveries after a run or step.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// The server's per-user send-message limit (--send-rate-per-second and
    /// --send-burst): raised so that it is not what is measured. 0: the
    /// server's defaults (10/s, burst 20), as in production.
    #[arg(long, default_value_t = 1_000_000)]
    pub send_limit: u32,
    /// Agents (default: one per session); session i is taken by agent
    /// `i % agents`, whose one socket holds all its sessions.
    #[arg(long)]
    pub agents: Option<usize>,
    /// During each step a probe customer opens a session this often (ms);
    /// every agent's `stats-update` must show it: its latency is reported
    /// (0: no probe).
    #[arg(long, default_value_t = 1000)]
    pub stats_probe_ms: u64,
    /// After the set-up, wait until the server's CPU over one second is
    /// under this percent (at most 120 s) before measuring: the set-up's
    /// own aftermath (every agent's `agent-updated` to every agent) is not
    /// the steady rate. Its length is reported as `settle_s`. 0: no wait.
    #[arg(long, default_value_t = 20.0)]
    pub settle_cpu: f64,
}

impl ChatShape {
    /// The `send_rate` of `Server::start`: None keeps the server's defaults.
    pub fn server_send_rate(&self) -> Option<u32> {
        (self.send_limit > 0).then_some(self.send_limit)
    }
}

#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// Server processes started, sharing --database-url (PostgreSQL) and
    /// --redis-url; a session's customer and agent are on different nodes.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Redis of the nodes' adapter (needed for more than one node).
    #[arg(long)]
    pub redis_url: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct RampArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub chat: ChatShape,
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// First rate, messages per second.
    #[arg(long, default_value_t = 500.0)]
    pub start_rate: f64,
    /// Each step multiplies the rate by this.
    #[arg(long, default_value_t = 1.25)]
    pub factor: f64,
    /// Highest rate tried.
    #[arg(long, default_value_t = 50_000.0)]
    pub max_rate: f64,
    /// Seconds per step.
    #[arg(long, default_value_t = 10.0)]
    pub step_duration: f64,
    /// Delivery p99 bound, milliseconds.
    #[arg(long, default_value_t = 50.0)]
    pub p99_bound_ms: f64,
}

#[derive(Args, Debug, Clone)]
pub struct SmokeArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Sessions.
    #[arg(long, default_value_t = 4)]
    pub sessions: usize,
    /// Messages in all.
    #[arg(long, default_value_t = 300)]
    pub messages: usize,
    /// Aggregate rate, messages per second.
    #[arg(long, default_value_t = 150.0)]
    pub rate: f64,
}

#[derive(Args, Debug, Clone)]
pub struct GrowthArgs {
    /// `--database-url` is the database to seed and measure (SQLite or
    /// PostgreSQL; default: a SQLite file in a temporary directory). The
    /// empty one is a fresh SQLite file, or `<database>_empty` beside it.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Closed sessions to seed.
    #[arg(long, default_value_t = 1_000_000)]
    pub sessions: u64,
    /// Messages per seeded session.
    #[arg(long, default_value_t = 10)]
    pub messages: u64,
    /// Tenants; tenant-0 holds half the sessions, the others share the rest.
    #[arg(long, default_value_t = 100)]
    pub tenants: u64,
    /// Months the history spans, up to yesterday.
    #[arg(long, default_value_t = 12)]
    pub months: u64,
    /// Sessions of the small baseline database, seeded the same way, so its
    /// pages are as full as the big one's (0: none, only the empty one).
    #[arg(long, default_value_t = 10_000)]
    pub baseline_sessions: u64,
    /// Runs of each operation.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// The database is seeded already (by an earlier run): only migrate it.
    #[arg(long)]
    pub reuse: bool,
    /// Seed (and migrate), measure nothing.
    #[arg(long)]
    pub seed_only: bool,
    /// Seconds the customer sends, alone and then while agents read.
    #[arg(long, default_value_t = 10.0)]
    pub chat_seconds: f64,
    /// Agents paging through the session list while the customer sends.
    #[arg(long, default_value_t = 10)]
    pub agents: usize,
    /// Sessions waiting in the big tenant's queue while every operation is
    /// measured (a desk with a queue: the newest page of its list is
    /// pending sessions, each with its queue position); closed at the end
    /// of the run, so a reused database does not keep them.
    #[arg(long, default_value_t = 0)]
    pub queue: usize,
}

#[derive(Args, Debug, Clone)]
pub struct RoutingArgs {
    /// `--database-url` is shared by every node (PostgreSQL for more than
    /// one; default: a fresh SQLite file, one node). `--server-arg`s go to
    /// every node.
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Server processes started, sharing the database and --redis-url.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Redis of the nodes' adapter (needed for more than one node).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Agents, connected round-robin over the nodes, all available.
    #[arg(long, default_value_t = 100)]
    pub agents: usize,
    /// Each agent's capacity (the nodes' --agent-max-chats).
    #[arg(long, default_value_t = 5)]
    pub max_chats: u16,
    /// Customers, one session each, connected round-robin over the nodes.
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// Opens per second, open loop (POST /api/chat/sessions on the customer's node).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Agents that each close one chat after the opens (the drain).
    #[arg(long, default_value_t = 100)]
    pub close: usize,
    /// Seconds to wait after each phase for late assignments and the
    /// coalesced notices (the sweep runs every 2 s by default).
    #[arg(long, default_value_t = 3.0)]
    pub settle: f64,
    /// Seconds to wait for the expected assignments of a phase.
    #[arg(long, default_value_t = 30.0)]
    pub assign_timeout: f64,
}

#[derive(Args, Debug, Clone)]
// The steady fleet of a soak is bigger than a chat run's.
#[command(mut_arg("sessions", |a| a.default_value("1000")))]
pub struct SoakArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// The steady fleet (`--sessions`, default 1000 here).
    #[command(flatten)]
    pub chat: ChatShape,
    /// Seconds of the whole run (steady chat and churn).
    #[arg(long, default_value_t = 1800.0)]
    pub duration: f64,
    /// Aggregate send rate of the steady fleet, messages per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Churn visits started per second, open loop: each is a new customer
    /// who opens a session, connects, joins, sends one message, is taken and
    /// closed by an agent, and leaves (0: no churn).
    #[arg(long, default_value_t = 200.0)]
    pub connect_rate: f64,
    /// Page views per second beside the visits, open loop: a new customer
    /// socket connects (the widget on a page; CONNECT acknowledged) and leaves
    /// without opening a session. Sockets connecting per second are then
    /// `connect-rate + browse-rate` (plus fresh agents).
    #[arg(long, default_value_t = 0.0)]
    pub browse_rate: f64,
    /// Seconds per measured window (one fleet step each).
    #[arg(long, default_value_t = 60.0)]
    pub interval: f64,
    /// Seconds between two samples of the server (RSS, fds, threads, tasks,
    /// sockets).
    #[arg(long, default_value_t = 5.0)]
    pub sample_every: f64,
    /// Churn visits in flight at most; a visit due while this many are
    /// running is skipped and counted (the bench does not pile up on a slow
    /// server).
    #[arg(long, default_value_t = 2000)]
    pub max_in_flight: usize,
    /// Agents of the churn: a pool of this many connected agents who take
    /// and close the visits' sessions round-robin (and leave each room);
    /// 0: a fresh agent socket per visit, which connects and disconnects
    /// with it. Default: enough that each pool agent sends at most 15
    /// events a second (3 per visit), under the server's per-socket limit
    /// (20/s, burst 40): ceil(connect-rate / 5).
    #[arg(long)]
    pub churn_agents: Option<usize>,
    /// Tenant of the churn's customers and agents (default: a tenant of its
    /// own, so the steady fleet's agents do not get every churn session's
    /// notices; `default` is the fleet's tenant).
    #[arg(long)]
    pub churn_tenant: Option<String>,
    /// Seconds a churn step (REST call, connect, ack) may take before the
    /// visit counts as failed.
    #[arg(long, default_value_t = 10.0)]
    pub visit_timeout: f64,
    /// Seconds to wait, at the end, for the server to count no socket.
    #[arg(long, default_value_t = 60.0)]
    pub leave_timeout: f64,
    /// Seconds after the last socket left before the "settled" sample
    /// (timers of the last disconnects, the coalesced notices).
    #[arg(long, default_value_t = 10.0)]
    pub after_leave: f64,
}

#[derive(Args, Debug, Clone)]
pub struct BroadcastArgs {
    /// `--database-url` is shared by every node (PostgreSQL for more than
    /// one); `--server-arg`s go to every node.
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Server processes started, sharing the database and --redis-url.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Redis of the nodes' adapter (needed for more than one node).
    #[arg(long)]
    pub redis_url: Option<String>,
    /// Sockets, spread round-robin over the nodes, all of one tenant.
    #[arg(long, default_value_t = 50_000)]
    pub sockets: usize,
    /// Connections per second of all the holders together, open loop.
    #[arg(long, default_value_t = 1000.0)]
    pub connect_rate: f64,
    /// Child processes holding the sockets (each at most 18,000: the fd
    /// limit is per process). Default: ceil(sockets / 16,000).
    #[arg(long)]
    pub holders: Option<usize>,
    /// Publishes, one after the other, each waited for.
    #[arg(long, default_value_t = 5)]
    pub publishes: usize,
    /// Role of the sockets' users; every socket of the tenant is in its
    /// `tenant:` room whatever the role (agents also change presence).
    #[arg(long, default_value = "customer")]
    pub role: String,
    /// Seconds to wait after every node counts its sockets, before the RSS
    /// "connected" is read.
    #[arg(long, default_value_t = 3.0)]
    pub settle: f64,
    /// Seconds a publish may take to reach every socket before the missing
    /// ones count as lost.
    #[arg(long, default_value_t = 30.0)]
    pub publish_timeout: f64,
    /// Seconds between the end of a publish and the next one.
    #[arg(long, default_value_t = 1.0)]
    pub pause: f64,
}

#[derive(Args, Debug, Clone)]
pub struct HolderArgs {
    /// The nodes, comma separated; socket i goes to node i % nodes.
    #[arg(long, value_delimiter = ',', required = true)]
    pub nodes: Vec<SocketAddr>,
    /// Global index of this holder's first socket.
    #[arg(long)]
    pub first: usize,
    /// Sockets this holder opens.
    #[arg(long)]
    pub count: usize,
    /// This holder's connections per second.
    #[arg(long)]
    pub rate: f64,
    /// HS256 secret of the nodes.
    #[arg(long)]
    pub jwt_secret: String,
    /// Tenant of every socket's user.
    #[arg(long)]
    pub tenant: String,
    /// Role of every socket's user.
    #[arg(long)]
    pub role: String,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(Args, Debug, Clone)]
pub struct UploadArgs {
    /// `--server-arg`s go to the started server (e.g.
    /// `--server-arg=--attachment-max-bytes=20971520`).
    #[command(flatten)]
    pub server: ServerArgs,
    /// File sizes, one phase each, in order: bytes, or with a KiB/MiB suffix.
    #[arg(long, value_delimiter = ',', default_value = "1MiB,10MiB", value_parser = parse_size)]
    pub sizes: Vec<u64>,
    /// Clients uploading at once, each with its own customer and session.
    #[arg(long, default_value_t = 20)]
    pub clients: usize,
    /// Files each client uploads per size, one after the other.
    #[arg(long, default_value_t = 5)]
    pub uploads: usize,
    /// The started server's `--attachments-store`: `file://DIR` or
    /// `s3://bucket/prefix` (the server reads `AWS_*` from the bench's
    /// environment). Default: `file://` a temporary directory, removed at
    /// the end.
    #[arg(long)]
    pub attachments_store: Option<String>,
    /// What the files are: a ZIP local-file header or a PDF header, then
    /// random bytes (both detected from the bytes, neither decoded).
    #[arg(long, value_enum, default_value_t = FileKind::Zip)]
    pub file_type: FileKind,
    /// Milliseconds between two reads of the server's RSS.
    #[arg(long, default_value_t = 50)]
    pub sample_ms: u64,
    /// Seconds to wait after each phase before reading the RSS "after".
    #[arg(long, default_value_t = 1.0)]
    pub settle: f64,
    /// Seconds one upload may take before it counts as an error.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Zip,
    Pdf,
}

/// `1048576`, `64KiB`, `1MiB`, `1.5MiB` (binary units; `KB`/`MB` are read
/// the same way, the bench reports MiB).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("bad size {text:?}: expected e.g. 1048576, 64KiB, 10MiB"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("bad size unit {other:?} in {text:?}")),
    };
    Ok((number * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_binary_units() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("1MiB"), Ok(1_048_576));
        assert_eq!(parse_size("10MiB"), Ok(10_485_760));
        assert_eq!(parse_size("1.5mib"), Ok(1_572_864));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("3 parsecs").is_err());
    }
}
