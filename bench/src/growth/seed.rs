//! Seeds a database with a long history, set-based so a million sessions
//! take minutes: the schema is the server's own (`switchboard migrate`
//! with the binary under test), the rows come from one `INSERT … SELECT`
//! per table over a recursive CTE (SQLite) or `generate_series`
//! (PostgreSQL), run by the `sqlite3` and `psql` command-line clients.
//!
//! The history: `sessions` closed sessions over `months` months up to
//! yesterday, `messages` messages each, across `tenants` tenants; every
//! other session is `tenant-0`'s, so one tenant holds half the history.
//! Ids are UUIDv7-shaped and time-ordered like the server's, and follow
//! from the session's number, so the bench can name a session deep in the
//! history ([`session_id`]) without asking the database.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The shape of the history.
#[derive(Clone, Copy, Debug)]
pub struct History {
    pub sessions: u64,
    pub messages: u64,
    pub tenants: u64,
    pub months: u64,
    /// Milliseconds: the last session starts a day before this.
    pub now_ms: i64,
}

const DAY_MS: i64 = 86_400_000;
/// A customer of a tenant has about this many sessions in the history.
const SESSIONS_PER_CUSTOMER: u64 = 5;

impl History {
    fn first_ms(&self) -> i64 {
        self.now_ms - DAY_MS - self.span_ms()
    }

    fn span_ms(&self) -> i64 {
        self.months as i64 * 30 * DAY_MS
    }

    /// `created_at` of session `n`: evenly spread, in `n` order.
    pub fn created_ms(&self, n: u64) -> i64 {
        self.first_ms() + (self.span_ms() as i128 * n as i128 / self.sessions.max(1) as i128) as i64
    }

    /// Customers per tenant-0 (the others have fewer sessions, same count).
    fn customers(&self) -> u64 {
        (self.sessions / 2 / SESSIONS_PER_CUSTOMER).max(1)
    }

    /// A customer of tenant-0 with sessions in the history.
    pub fn a_customer(&self) -> String {
        format!("cust-{}", 7 % self.customers())
    }
}

/// The id of seeded session `n` (the formula of the SQL below).
pub fn session_id(history: &History, n: u64) -> String {
    let ms = history.created_ms(n) as u64;
    format!(
        "{:08x}-{:04x}-7000-{:04x}-{:012x}",
        ms >> 16,
        ms & 0xffff,
        0x8000 | ((n >> 48) & 0x3fff),
        n & 0xffff_ffff_ffff
    )
}

/// SQL expressions over `n` (session number) and `s` (message seq) shared
/// by both dialects; `hex8`/`hex4`/`hex12` format a number in hex.
fn inserts(h: &History, hex: fn(&str, usize) -> String) -> (String, String) {
    let first = h.first_ms();
    let span = h.span_ms();
    let total = h.sessions.max(1);
    let created = format!("({first} + ({span} * n) / {total})");
    let tenant = format!(
        "CASE WHEN n % 2 = 0 THEN 'tenant-0' ELSE 'tenant-' || (1 + (n / 2) % {}) END",
        h.tenants.saturating_sub(1).max(1)
    );
    let customer = format!("'cust-' || ((n / 2) % {})", h.customers());
    let agent = "'agent-' || (n % 20)";
    let id = |tail: &str| {
        format!(
            "{} || '-' || {} || '-7' || {} || '-' || {} || '-' || {}",
            hex(&format!("({created} / 65536)"), 8),
            hex(&format!("({created} % 65536)"), 4),
            hex(tail, 3),
            hex("(32768 + (n / 281474976710656) % 16384)", 4),
            hex("(n % 281474976710656)", 12),
        )
    };
    let m = h.messages;
    let sessions = format!(
        "INSERT INTO sessions (id, tenant, status, subject, customer_id, agent_id, created_at, \
         assigned_at, closed_at, closed_by_id, close_reason, last_message_at, last_seq, \
         unread_count, first_customer_message_at, first_response_at) \
         SELECT {sid}, {tenant}, 'closed', 'seeded session ' || n, {customer}, {agent}, \
         {created}, {created} + 30000, {created} + 1200000, {agent}, 'resolved', \
         {created} + {m} * 10000, {m}, 0, {created} + 10000, {created} + 20000 FROM n",
        sid = id("0"),
    );
    let messages = format!(
        "INSERT INTO messages (id, session_id, tenant, seq, sender_id, sender_role, sender_name, \
         content, client_message_id, created_at, read_at) \
         SELECT {mid}, {sid}, {tenant}, s, \
         CASE WHEN s % 2 = 1 THEN {customer} ELSE {agent} END, \
         CASE WHEN s % 2 = 1 THEN 'customer' ELSE 'agent' END, NULL, \
         'message ' || s || ' of seeded session ' || n || ', about this long: a chat line.', \
         'seed-' || s, {created} + s * 10000, {created} + s * 10000 + 5000 FROM n CROSS JOIN s",
        mid = id("s"),
        sid = id("0"),
    );
    (sessions, messages)
}

fn sqlite_hex(expr: &str, width: usize) -> String {
    format!("printf('%0{width}x', {expr})")
}

fn postgres_hex(expr: &str, width: usize) -> String {
    format!("lpad(to_hex(({expr})::bigint), {width}, '0')")
}

/// The whole seeding script for `url`'s dialect.
fn script(url: &str, h: &History) -> String {
    let last = h.sessions.saturating_sub(1);
    if url.starts_with("postgres") {
        let (sessions, messages) = inserts(h, postgres_hex);
        let n = format!("(SELECT generate_series(0, {last})::bigint AS n) n");
        let s = format!("(SELECT generate_series(1, {})::bigint AS s) s", h.messages);
        format!(
            "\\set ON_ERROR_STOP on\nBEGIN;\n{};\n{};\nCOMMIT;\nVACUUM ANALYZE;\n",
            sessions.replace("FROM n", &format!("FROM {n}")),
            messages.replace("FROM n CROSS JOIN s", &format!("FROM {n} CROSS JOIN {s}")),
        )
    } else {
        let (sessions, messages) = inserts(h, sqlite_hex);
        let n = format!(
            "WITH RECURSIVE n(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM n WHERE n < {last})"
        );
        let s = format!(
            "s(s) AS (SELECT 1 UNION ALL SELECT s + 1 FROM s WHERE s < {})",
            h.messages
        );
        // No journal while seeding (the file is thrown away if it fails),
        // then back to WAL as the server leaves it.
        format!(
            ".bail on\nPRAGMA journal_mode = OFF;\nPRAGMA synchronous = OFF;\n\
             PRAGMA cache_size = -1000000;\nBEGIN;\n{n} {sessions};\n{n}, {s} {messages};\n\
             COMMIT;\nPRAGMA journal_mode = WAL;\n",
        )
    }
}

/// The file of a `sqlite://path?…` URL.
pub fn sqlite_path(url: &str) -> anyhow::Result<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .context("not a sqlite: URL")?;
    Ok(rest.split('?').next().unwrap_or(rest))
}

/// Creates the schema with `bin migrate` and fills it; returns how long
/// the inserts took.
pub async fn seed(bin: &Path, url: &str, h: &History) -> anyhow::Result<Duration> {
    migrate(bin, url).await?;
    let started = Instant::now();
    let mut command = if url.starts_with("postgres") {
        let mut c = Command::new("psql");
        c.args(["-q", "-X", url]);
        c
    } else {
        let mut c = Command::new("sqlite3");
        c.arg(sqlite_path(url)?);
        c
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start sqlite3/psql (Debian: sqlite3, postgresql-client)")?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    stdin.write_all(script(url, h).as_bytes()).await?;
    drop(stdin);
    if !child.wait().await?.success() {
        bail!("seeding {url} failed");
    }
    Ok(started.elapsed())
}

/// Runs the binary's migrations on `url`; returns how long they took.
pub async fn migrate(bin: &Path, url: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = Command::new(bin)
        .args(["migrate", "--database-url", url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .await?;
    if !status.success() {
        bail!("{} migrate --database-url {url} failed", bin.display());
    }
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_are_time_ordered_like_the_servers() {
        let h = History {
            sessions: 1_000_000,
            messages: 10,
            tenants: 100,
            months: 12,
            now_ms: 1_795_329_628_123,
        };
        let (a, b) = (session_id(&h, 10), session_id(&h, 11));
        assert!(a < b, "{a} < {b}");
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "7");
    }
}
