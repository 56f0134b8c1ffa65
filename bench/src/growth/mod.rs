//! `growth`: does the cost of what a person waits on grow with the history?
//!
//! Seeds a database (SQLite or PostgreSQL) with N closed sessions × M
//! messages over months across many tenants, one holding half of them
//! ([`seed`]), then runs the real server binary on an empty database and on
//! the seeded one, in the same run, and measures on each every operation of
//! [`ops`] and the chat's ack latency while agents read ([`chatter`]).

mod chatter;
mod client;
mod ops;
mod seed;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::cli::GrowthArgs;
use crate::report::line_ms;
use crate::server::{Server, resolve_bin};
use crate::token::Minter;

pub async fn run(args: GrowthArgs) -> anyhow::Result<Value> {
    let bin = resolve_bin(args.server.server_bin.as_deref())?;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let history = seed::History {
        sessions: args.sessions,
        messages: args.messages,
        tenants: args.tenants.max(2),
        months: args.months,
        now_ms,
    };
    let scratch = tempfile::tempdir()?;
    let seeded = match &args.server.database_url {
        Some(url) => url.clone(),
        None => sqlite_url(scratch.path().join("seeded.db")),
    };
    let mut out = json!({
        "scenario": "growth",
        "server_bin": bin.display().to_string(),
        "sessions": history.sessions,
        "messages_per_session": history.messages,
        "tenants": history.tenants,
        "queue": args.queue,
    });
    if !args.reuse {
        eprintln!(
            "seeding {} sessions × {} messages…",
            history.sessions, history.messages
        );
        let took = seed::seed(&bin, &seeded, &history).await?;
        eprintln!("seeded in {:.1} s", took.as_secs_f64());
        out["seed_seconds"] = json!(took.as_secs_f64());
    }
    // The binary's migrations on the seeded database: a no-op right after
    // seeding, else what upgrading a big database costs.
    let took = seed::migrate(&bin, &seeded).await?;
    eprintln!(
        "migrations on the seeded database: {:.2} s",
        took.as_secs_f64()
    );
    out["migrate_seconds"] = json!(took.as_secs_f64());
    if args.seed_only {
        return Ok(out);
    }
    let empty = scratch_database(&seeded, &scratch, "empty").await?;
    let small_history = seed::History {
        sessions: args.baseline_sessions,
        ..history
    };
    let small = scratch_database(&seeded, &scratch, "small").await?;
    if args.baseline_sessions > 0 {
        seed::seed(&bin, &small, &small_history).await?;
    }
    let minter = Minter::new(&args.server.jwt_secret);
    let tag = now_ms.to_string();
    let mut results = Vec::new();
    let mut databases = vec![("empty", &empty, &history)];
    if args.baseline_sessions > 0 {
        databases.push(("small", &small, &small_history));
    }
    databases.push(("seeded", &seeded, &history));
    for (label, url, history) in databases {
        let mut server_args = args.server.clone();
        server_args.database_url = Some(url.clone());
        let server = Server::start(&server_args, Some(1_000_000)).await?;
        eprintln!("{label}: measuring");
        let tag = format!("{label}-{tag}");
        let measured =
            ops::measure(server.addr, &minter, history, args.runs, args.queue, &tag).await;
        let chat = match &measured {
            Ok(_) => {
                Some(chatter::run(server.addr, &minter, args.chat_seconds, args.agents, &tag).await)
            }
            Err(_) => None,
        };
        server.stop().await;
        results.push((label, measured?, chat.transpose()?));
    }
    out["operations"] = table(&results);
    out["chat_under_reads"] = json!(
        results
            .iter()
            .filter_map(|(label, _, chat)| chat.as_ref().map(|c| (
                label.to_string(),
                json!({
                        "idle": crate::report::summary_ms(&c.idle),
                        "agents_paging": crate::report::summary_ms(&c.loaded),
                        "agents": args.agents,
                        "pages_read": c.pages,
                "failed_pages": c.failed_pages,
                "unacked_idle": c.unacked_idle,
                "unacked_agents_paging": c.unacked_loaded,
                        "p50_ratio": ratio(&c.loaded, &c.idle),
                    })
            )))
            .collect::<serde_json::Map<_, _>>()
    );
    for (label, _, chat) in &results {
        if let Some(c) = chat {
            eprintln!(
                "{label}: send-message ack, alone:        {}",
                line_ms(&c.idle)
            );
            eprintln!(
                "{label}: same, {} agents paging ({} pages): {}",
                args.agents,
                c.pages,
                line_ms(&c.loaded)
            );
        }
    }
    drop_scratch(&empty).await;
    drop_scratch(&small).await;
    Ok(out)
}

fn sqlite_url(path: PathBuf) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

fn ratio(a: &hdrhistogram::Histogram<u64>, b: &hdrhistogram::Histogram<u64>) -> f64 {
    let p50 = |h: &hdrhistogram::Histogram<u64>| h.value_at_quantile(0.5).max(1) as f64;
    (p50(a) / p50(b) * 100.0).round() / 100.0
}

/// The figures of every database side by side (the seeded one last), and
/// the seeded one's p50 over each other's; printed as a table too.
fn table(results: &[(&str, Vec<ops::Measured>, Option<chatter::ChatUnderReads>)]) -> Value {
    let Some((_, seeded, _)) = results.last() else {
        return Value::Null;
    };
    let others = &results[..results.len() - 1];
    let labels: Vec<&str> = results.iter().map(|(label, ..)| *label).collect();
    eprintln!(
        "| operation | {} | {} |",
        labels
            .iter()
            .map(|l| format!("{l} p50 / p99 (ms)"))
            .collect::<Vec<_>>()
            .join(" | "),
        others
            .iter()
            .map(|(l, ..)| format!("p50 growth vs {l}"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    eprintln!("|---|{}", "---|".repeat(labels.len() + others.len()));
    let mut rows = Vec::new();
    for (i, s) in seeded.iter().enumerate() {
        let mut row = json!({ "operation": s.name });
        let mut cells = Vec::new();
        for (label, measured, _) in results {
            let summary = ops::summary(&measured[i]);
            cells.push(format!(
                "{:.2} / {:.2}",
                summary["p50"].as_f64().unwrap_or(0.0),
                summary["p99"].as_f64().unwrap_or(0.0)
            ));
            row[*label] = summary;
        }
        for (label, measured, _) in others {
            let growth = ratio(&s.latencies, &measured[i].latencies);
            cells.push(format!("×{growth}"));
            row[format!("p50_growth_vs_{label}")] = json!(growth);
        }
        eprintln!("| {} | {} |", s.name, cells.join(" | "));
        rows.push(row);
    }
    Value::Array(rows)
}

/// A fresh empty database of the seeded one's kind: a SQLite file in the
/// scratch directory, or `<database>_<suffix>` beside the PostgreSQL one.
async fn scratch_database(
    seeded: &str,
    scratch: &tempfile::TempDir,
    suffix: &str,
) -> anyhow::Result<String> {
    if !seeded.starts_with("postgres") {
        return Ok(sqlite_url(scratch.path().join(format!("{suffix}.db"))));
    }
    let (base, name) = seeded
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("no database name in {seeded}"))?;
    let name = name.split('?').next().unwrap_or(name);
    let fresh = format!("{name}_{suffix}");
    psql(seeded, &format!("DROP DATABASE IF EXISTS {fresh}")).await?;
    psql(seeded, &format!("CREATE DATABASE {fresh}")).await?;
    Ok(format!("{base}/{fresh}"))
}

async fn drop_scratch(url: &str) {
    if let Some((base, name)) = url.rsplit_once('/')
        && url.starts_with("postgres")
    {
        // From another database: one cannot drop the database one is in.
        let _ = psql(
            &format!("{base}/postgres"),
            &format!("DROP DATABASE IF EXISTS {name}"),
        )
        .await;
    }
}

async fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let status = tokio::process::Command::new("psql")
        .args(["-q", "-X", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .status()
        .await?;
    anyhow::ensure!(status.success(), "psql: {sql} failed");
    Ok(())
}
