//! What a person waits on, each measured `runs` times in a row against one
//! server: the agent's lists (a big and a small tenant, by status, 200 at a
//! time deep in the history), a customer's own list, a history page, a
//! join's catch-up, the stats, open, send and mark-read.

use std::net::SocketAddr;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::client::{Rest, Socket};
use super::seed::{History, session_id};
use crate::report::histogram;
use crate::token::Minter;

pub const BIG: &str = "tenant-0";
pub const SMALL: &str = "tenant-1";

/// One operation's latencies, microseconds.
pub struct Measured {
    pub name: &'static str,
    pub latencies: Histogram<u64>,
}

/// The users of a run, and the live session they talk in.
struct Desk {
    agent: Rest,
    agent_socket: Socket,
    customer_socket: Socket,
    session: String,
    /// The 5th of the session's 10 messages: a join's catch-up anchor.
    anchor: String,
}

async fn open_desk(
    addr: SocketAddr,
    minter: &Minter,
    http: &reqwest::Client,
) -> anyhow::Result<Desk> {
    let token = |sub: &str, role: &str| minter.mint_in(sub, role, Some(BIG));
    let customer = Rest::new(http, addr, token("bench-customer", "customer")?);
    let (opened, _) = customer.post("/api/chat/sessions", &json!({})).await?;
    let session = opened["id"].as_str().context("no session id")?.to_string();
    let mut agent_socket = Socket::connect(addr, &token("bench-agent", "agent")?).await?;
    agent_socket
        .call("join-session", &json!({ "sessionId": session }))
        .await?;
    let mut customer_socket = Socket::connect(addr, &token("bench-customer", "customer")?).await?;
    customer_socket
        .call("join-session", &json!({ "sessionId": session }))
        .await?;
    let mut ids = Vec::new();
    for i in 0..10 {
        let (message, _) = customer_socket
            .call(
                "send-message",
                &json!({ "sessionId": session, "content": format!("history {i}") }),
            )
            .await?;
        ids.push(message["id"].as_str().context("no message id")?.to_string());
    }
    Ok(Desk {
        agent: Rest::new(http, addr, token("bench-agent", "agent")?),
        agent_socket,
        customer_socket,
        session,
        anchor: ids[4].clone(),
    })
}

fn record(h: &mut Histogram<u64>, took: std::time::Duration) {
    let _ = h.record((took.as_micros() as u64).max(1));
}

/// Every operation, `runs` times each.
pub async fn measure(
    addr: SocketAddr,
    minter: &Minter,
    history: &History,
    runs: usize,
    queue: usize,
    tag: &str,
) -> anyhow::Result<Vec<Measured>> {
    let http = reqwest::Client::new();
    let mut desk = open_desk(addr, minter, &http).await?;
    let mut waiting = Vec::new();
    for i in 0..queue {
        waiting.push(
            open_as(&http, addr, minter, &format!("bench-queue-{tag}-{i}"))
                .await?
                .0,
        );
    }
    let measured = measure_desk(&http, addr, minter, history, runs, tag, &mut desk).await;
    // Leave the database as it was found: every session this run left
    // waiting is closed (a `--reuse` run would otherwise find them).
    let (_, opened) = measured.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let admin = Rest::new(
        &http,
        addr,
        minter.mint_in("bench-admin", "admin", Some(BIG))?,
    );
    for id in waiting.iter().chain(opened) {
        admin
            .post(&format!("/api/chat/sessions/{id}/close"), &json!({}))
            .await?;
    }
    measured.map(|(out, _)| out)
}

/// Opens a session as customer `sub` of the big tenant: its id, and how
/// long the answer took.
async fn open_as(
    http: &reqwest::Client,
    addr: SocketAddr,
    minter: &Minter,
    sub: &str,
) -> anyhow::Result<(String, std::time::Duration)> {
    let customer = Rest::new(http, addr, minter.mint_in(sub, "customer", Some(BIG))?);
    let (opened, took) = customer.post("/api/chat/sessions", &json!({})).await?;
    let id = opened["id"].as_str().context("no session id")?.to_string();
    Ok((id, took))
}

/// Every operation against `desk`: the figures, and the sessions opened
/// (still pending).
async fn measure_desk(
    http: &reqwest::Client,
    addr: SocketAddr,
    minter: &Minter,
    history: &History,
    runs: usize,
    tag: &str,
    desk: &mut Desk,
) -> anyhow::Result<(Vec<Measured>, Vec<String>)> {
    let http = http.clone();
    let small_agent = Rest::new(
        &http,
        addr,
        minter.mint_in("bench-agent", "agent", Some(SMALL))?,
    );
    let own = Rest::new(
        &http,
        addr,
        minter.mint_in(&history.a_customer(), "customer", Some(BIG))?,
    );
    let deep = URL_SAFE_NO_PAD.encode(session_id(history, (history.sessions / 2) & !1));
    let mut out = Vec::new();
    let mut time_rest = async |name: &'static str, rest: &Rest, path: &str| -> anyhow::Result<()> {
        let mut h = histogram();
        for _ in 0..runs {
            record(&mut h, rest.get(path).await?.1);
        }
        out.push(Measured { name, latencies: h });
        Ok(())
    };
    time_rest(
        "agent list ?limit=50, big tenant",
        &desk.agent,
        "/api/chat/sessions?limit=50",
    )
    .await?;
    time_rest(
        "agent list ?limit=50, small tenant",
        &small_agent,
        "/api/chat/sessions?limit=50",
    )
    .await?;
    time_rest(
        "agent list ?limit=50&status=closed, big tenant",
        &desk.agent,
        "/api/chat/sessions?limit=50&status=closed",
    )
    .await?;
    time_rest(
        "a customer's own list ?limit=50",
        &own,
        "/api/chat/sessions?limit=50",
    )
    .await?;
    let history_path = format!("/api/chat/sessions/{}/messages?limit=50", desk.session);
    time_rest("history page ?limit=50", &desk.agent, &history_path).await?;
    time_rest(
        "stats snapshot (GET /api/chat/stats)",
        &desk.agent,
        "/api/chat/stats",
    )
    .await?;
    // Reports (issue 17): a month of hours, and a year of days, of the
    // big tenant, ending now.
    let month_ago = utc(history.now_ms - 31 * 86_400_000);
    time_rest(
        "report: 31 days by hour, big tenant",
        &desk.agent,
        &format!("/api/chat/reports?bucket=hour&from={month_ago}"),
    )
    .await?;
    let year_ago = utc(history.now_ms - 365 * 86_400_000);
    time_rest(
        "report: 365 days by day, big tenant",
        &desk.agent,
        &format!("/api/chat/reports?bucket=day&from={year_ago}"),
    )
    .await?;

    let mut h = histogram();
    let mut cursor = deep.clone();
    for _ in 0..runs {
        let (page, took) = desk
            .agent
            .get(&format!("/api/chat/sessions?limit=200&cursor={cursor}"))
            .await?;
        record(&mut h, took);
        cursor = page["nextCursor"]
            .as_str()
            .map_or_else(|| deep.clone(), str::to_string);
    }
    out.push(Measured {
        name: "paging 200 at a time from mid-history, big tenant",
        latencies: h,
    });

    let mut h = histogram();
    let join = json!({ "sessionId": desk.session, "lastMessageId": desk.anchor });
    for _ in 0..runs {
        record(
            &mut h,
            desk.agent_socket.call("join-session", &join).await?.1,
        );
    }
    out.push(Measured {
        name: "join-session catch-up (lastMessageId)",
        latencies: h,
    });

    let mut h = histogram();
    let mut opened = Vec::new();
    for i in 0..runs {
        let (id, took) = open_as(&http, addr, minter, &format!("bench-open-{tag}-{i}")).await?;
        record(&mut h, took);
        opened.push(id);
    }
    out.push(Measured {
        name: "open (POST /api/chat/sessions)",
        latencies: h,
    });

    let mut h = histogram();
    for i in 0..runs {
        let send = json!({ "sessionId": desk.session, "content": "a message of sixty-four bytes, more or less, like a chat line", "clientMessageId": format!("{tag}-{i}") });
        record(
            &mut h,
            desk.customer_socket.call("send-message", &send).await?.1,
        );
    }
    out.push(Measured {
        name: "send-message ack",
        latencies: h,
    });

    let mut h = histogram();
    for _ in 0..runs {
        record(
            &mut h,
            desk.agent_socket
                .call("mark-read", &json!({ "sessionId": desk.session }))
                .await?
                .1,
        );
    }
    out.push(Measured {
        name: "mark-read ack",
        latencies: h,
    });
    Ok((out, opened))
}

/// A summary of one operation for the JSON line.
pub fn summary(m: &Measured) -> Value {
    let ms = |q: f64| m.latencies.value_at_quantile(q) as f64 / 1000.0;
    json!({ "p50": ms(0.5), "p99": ms(0.99), "max": m.latencies.max() as f64 / 1000.0, "runs": m.latencies.len() })
}

/// `ms` as an RFC 3339 UTC time, for query strings.
fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
