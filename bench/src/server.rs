//! The server under test: either a process the bench starts itself (fresh
//! temporary SQLite database or a given `--database-url`, port 0, pinned
//! with `taskset`, killed when the bench ends) or one already running that
//! is only observed through `/proc/<pid>`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::cli::{ChatShape, NodeArgs, ServerArgs};

/// A server the bench talks to; kills the process it started on drop.
pub struct Server {
    pub addr: SocketAddr,
    pub pid: u32,
    pub secret: String,
    pub database: String,
    /// WARN and ERROR lines the server logged so far.
    log: Arc<LogCounts>,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl NodeArgs {
    /// The nodes of a chat fleet of `shape` (its send limit).
    pub async fn start(
        &self,
        server: &ServerArgs,
        shape: &ChatShape,
    ) -> anyhow::Result<Vec<Server>> {
        Server::start_nodes(
            server,
            self.nodes,
            self.redis_url.as_deref(),
            shape.server_send_rate(),
        )
        .await
    }
}

impl Server {
    /// Starts the server (or attaches to `--server-pid` at `--server-addr`).
    /// `send_rate` raises the per-user `send-message` limit so that it is
    /// not what a chat run measures.
    /// `nodes` servers sharing `args.database_url` and `redis_url`,
    /// started one after the other (the first one migrates the database).
    pub async fn start_nodes(
        args: &ServerArgs,
        nodes: usize,
        redis_url: Option<&str>,
        send_rate: Option<u32>,
    ) -> anyhow::Result<Vec<Server>> {
        if nodes == 0 {
            bail!("--nodes must be positive");
        }
        if nodes > 1 && (args.database_url.is_none() || redis_url.is_none()) {
            bail!("--nodes > 1 needs a shared --database-url (PostgreSQL) and --redis-url");
        }
        if nodes > 1 && args.server_pid.is_some() {
            bail!("several nodes are started by the bench (no --server-pid)");
        }
        let mut args = args.clone();
        if let Some(url) = redis_url {
            args.server_arg
                .extend(["--redis-url".to_string(), url.to_string()]);
        }
        let mut started = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            started.push(Server::start(&args, send_rate).await?);
        }
        Ok(started)
    }

    pub async fn start(args: &ServerArgs, send_rate: Option<u32>) -> anyhow::Result<Server> {
        if let Some(pid) = args.server_pid {
            let addr = args
                .server_addr
                .context("--server-pid needs --server-addr (and the server's --jwt-secret)")?;
            return Ok(Server {
                addr,
                pid,
                secret: args.jwt_secret.clone(),
                database: "external".into(),
                log: Arc::default(),
                child: None,
                _dir: None,
            });
        }
        let bin = resolve_bin(args.server_bin.as_deref())?;
        let dir = tempfile::tempdir()?;
        let database = match &args.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
        };
        let pin = match args.server_cpus.as_str() {
            "" | "none" => None,
            cpus if which("taskset") => Some(cpus),
            _ => {
                eprintln!("warning: taskset not found, the server is not pinned");
                None
            }
        };
        let mut command = match pin {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(&bin);
                c
            }
            None => Command::new(&bin),
        };
        let rate = send_rate.unwrap_or(10).to_string();
        let burst = send_rate.map_or(20, |r| r.max(20)).to_string();
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--database-url", &database])
            .args(["--jwt-secret", &args.jwt_secret])
            .args(["--send-rate-per-second", &rate, "--send-burst", &burst])
            // The bench's thousands of sockets share 8 loopback addresses:
            // the per-address cap (a defence, tested on its own) is lifted.
            .args(uncapped(&args.server_arg))
            .args(["--static-dir"])
            .arg(dir.path().join("no-static"))
            .args(&args.server_arg)
            .env("RUST_LOG", &args.server_log)
            .env("LOG_FORMAT", "text")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id().context("server exited at once")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let log = Arc::new(LogCounts {
            show_warnings: args.server_warnings,
            ..LogCounts::default()
        });
        let addr = tokio::time::timeout(Duration::from_secs(30), wait_ready(stdout, log.clone()))
            .await
            .context("server not ready within 30 s")??;
        drain(stderr, log.clone());
        eprintln!(
            "server {} pid {pid} on {addr}, database {}",
            bin.display(),
            redact(&database)
        );
        Ok(Server {
            addr,
            pid,
            secret: args.jwt_secret.clone(),
            database: redact(&database),
            log,
            child: Some(child),
            _dir: Some(dir),
        })
    }

    /// VmRSS of the server process, KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .context("no VmRSS in /proc/<pid>/status")
    }

    /// CPU time (user + system) of the server so far, seconds.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds_of(&format!("/proc/{}/stat", self.pid))
    }

    /// Open file descriptors of the server (entries of `/proc/<pid>/fd`).
    pub fn open_fds(&self) -> anyhow::Result<u64> {
        open_fds_of(self.pid)
    }

    /// A handle on the same process that does not own it: stopping or
    /// dropping it leaves the server running (a scenario that hands a
    /// `Server` to the fleet and still observes the process afterwards).
    pub fn observer(&self) -> Server {
        Server {
            addr: self.addr,
            pid: self.pid,
            secret: self.secret.clone(),
            database: self.database.clone(),
            log: self.log.clone(),
            child: None,
            _dir: None,
        }
    }

    /// WARN and ERROR lines logged so far.
    pub fn log_counts(&self) -> (u64, u64) {
        (
            self.log.warnings.load(Ordering::Relaxed),
            self.log.errors.load(Ordering::Relaxed),
        )
    }

    /// True while the process is alive (always true for an external one we
    /// can still see in /proc).
    pub fn alive(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => Path::new(&format!("/proc/{}", self.pid)).exists(),
        }
    }

    /// Stops a server we started (SIGTERM, then SIGKILL after 5 s).
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .arg(self.pid.to_string())
                .status();
            if tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

/// Open file descriptors of process `pid` (entries of `/proc/<pid>/fd`).
pub fn open_fds_of(pid: u32) -> anyhow::Result<u64> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64)
}

/// Threads of process `pid` (`Threads:` of `/proc/<pid>/status`).
pub fn threads_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no Threads in /proc/<pid>/status")
}

/// CPU seconds (utime + stime) from a `/proc/.../stat` file.
pub fn cpu_seconds_of(path: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(path)?;
    // Fields after the `(comm)` which may itself contain spaces.
    let after = stat.rsplit_once(')').context("bad stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / 100.0)
}

/// `--server-bin`, else `target/release/switchboard`, else
/// `target/debug/switchboard` (looked for from the current directory and
/// from the bench's own location in `target/`).
pub fn resolve_bin(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        if p.exists() {
            return Ok(p.to_path_buf());
        }
        bail!("server binary {} not found", p.display());
    }
    let mut roots = vec![PathBuf::from("target"), PathBuf::from("../target")];
    if let Ok(exe) = std::env::current_exe()
        && let Some(target) = exe.parent().and_then(Path::parent)
    {
        roots.push(target.to_path_buf());
    }
    for profile in ["release", "debug"] {
        for root in &roots {
            let p = root.join(profile).join("switchboard");
            if p.exists() {
                return Ok(p);
            }
        }
    }
    bail!("no server binary: run `cargo build --release` (or pass --server-bin)")
}

async fn wait_ready(
    stdout: tokio::process::ChildStdout,
    log: Arc<LogCounts>,
) -> anyhow::Result<SocketAddr> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(at) = line.find("listening on http://") {
            let rest = &line[at + "listening on http://".len()..];
            let addr: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\u{1b}')
                .collect();
            let addr: SocketAddr = addr.parse().context("bad listening address")?;
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    log.line(&line);
                }
            });
            return Ok(addr);
        }
    }
    bail!("server exited before listening")
}

/// Keeps reading a pipe so the server never blocks on a full one.
fn drain(stderr: tokio::process::ChildStderr, log: Arc<LogCounts>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            log.line(&line);
        }
    });
}

/// Counts the server's WARN and ERROR lines. Errors and panics are shown
/// (warnings too with `--server-warnings`); everything else is discarded.
#[derive(Default)]
struct LogCounts {
    show_warnings: bool,
    warnings: AtomicU64,
    errors: AtomicU64,
}

impl LogCounts {
    fn line(&self, line: &str) {
        if line.contains("ERROR") || line.contains("panicked") {
            self.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("server: {line}");
        } else if line.contains("WARN") {
            self.warnings.fetch_add(1, Ordering::Relaxed);
            if self.show_warnings {
                eprintln!("server: {line}");
            }
        }
    }
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Hides a password in a database URL.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

/// `--max-connections-per-ip 0` unless the caller set it with --server-arg.
fn uncapped(extra: &[String]) -> Vec<&'static str> {
    if extra.iter().any(|a| a.contains("max-connections-per-ip")) {
        Vec::new()
    } else {
        vec!["--max-connections-per-ip", "0"]
    }
}
