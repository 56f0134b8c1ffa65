//! Loopback source addresses and the file-descriptor limit: what lets one
//! process hold tens of thousands of client sockets; and the REST calls
//! the scenarios make.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Source addresses 127.0.0.2, 127.0.0.3, ... used round-robin: each
/// (source, destination) pair has only ~28,000 ephemeral ports.
pub struct Sources(Vec<IpAddr>);

impl Sources {
    pub fn new(count: u8) -> Sources {
        Sources(
            (0..count.max(1))
                .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i)))
                .collect(),
        )
    }

    pub fn pick(&self, i: usize) -> Option<IpAddr> {
        self.0.get(i % self.0.len()).copied()
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (the server the bench
/// starts inherits it) and returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            eprintln!("warning: cannot raise the fd limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// Kernel TCP counters that explain connect latency outliers: accept-queue
/// overflows (the server did not accept fast enough; the client's SYN is
/// dropped and retried after 1 s, then 3 s) and SYN retransmissions. They
/// are machine-wide, so they count only this benchmark on an idle machine.
#[derive(Clone, Copy, Default)]
pub struct TcpCounters {
    pub listen_overflows: u64,
    pub syn_retransmits: u64,
}

impl TcpCounters {
    pub fn read() -> TcpCounters {
        let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
        let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
        let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
            return TcpCounters::default();
        };
        let get = |name: &str| {
            names
                .split_whitespace()
                .position(|n| n == name)
                .and_then(|i| values.split_whitespace().nth(i)?.parse().ok())
                .unwrap_or(0)
        };
        TcpCounters {
            listen_overflows: get("ListenOverflows"),
            syn_retransmits: get("TCPSynRetrans"),
        }
    }

    pub fn since(self, before: TcpCounters) -> TcpCounters {
        TcpCounters {
            listen_overflows: self
                .listen_overflows
                .saturating_sub(before.listen_overflows),
            syn_retransmits: self.syn_retransmits.saturating_sub(before.syn_retransmits),
        }
    }
}

/// `POST` of `body` with a bearer token: the response's JSON (null when it
/// has none), or an error with the status and body when it is no success.
pub async fn post_json(
    http: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let request = http.post(format!("http://{addr}{path}")).json(body);
    json_reply(request.bearer_auth(token), "POST", path).await
}

/// `GET` with a bearer token, as [`post_json`].
pub async fn get_json(
    http: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    token: &str,
) -> anyhow::Result<Value> {
    let request = http.get(format!("http://{addr}{path}"));
    json_reply(request.bearer_auth(token), "GET", path).await
}

async fn json_reply(
    request: reqwest::RequestBuilder,
    method: &str,
    path: &str,
) -> anyhow::Result<Value> {
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("{method} {path}: {status} {text:.300}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// [`post_json`], then the string `field` of the response.
pub async fn post_for_field(
    http: &reqwest::Client,
    addr: SocketAddr,
    path: &str,
    token: &str,
    body: &Value,
    field: &str,
) -> anyhow::Result<String> {
    let reply = post_json(http, addr, path, token, body).await?;
    reply
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("POST {path}: no {field}"))
}

/// `POST /api/chat/sessions` as the customer of `token`: the new session's id.
pub async fn open_session(
    http: &reqwest::Client,
    addr: SocketAddr,
    token: &str,
    subject: &str,
) -> anyhow::Result<String> {
    let body = json!({ "subject": subject });
    post_for_field(http, addr, "/api/chat/sessions", token, &body, "id").await
}
