//! `smoke`: a few hundred messages over a few sessions against the server
//! binary (release if built, else debug). Fails on any loss, error,
//! disconnect or out-of-order delivery; checks no timing, so it is safe in CI.

use anyhow::bail;
use serde_json::{Value, json};

use crate::chat::merge;
use crate::cli::{ChatShape, SmokeArgs};
use crate::fleet::Fleet;
use crate::server::Server;

pub async fn run(mut args: SmokeArgs) -> anyhow::Result<Value> {
    // CI machines may not let us pick CPUs: never pin here.
    args.server.server_cpus = "none".into();
    let shape = ChatShape {
        sessions: args.sessions.max(1),
        message_bytes: 64,
        drain: 10.0,
        send_limit: 1_000_000,
        agents: None,
        stats_probe_ms: 0,
        // A smoke test measures nothing that the set-up could disturb.
        settle_cpu: 0.0,
    };
    let server = Server::start(&args.server, Some(shape.send_limit)).await?;
    let mut fleet = Fleet::setup(server, &shape, &args.load).await?;
    let duration = args.messages as f64 / args.rate;
    let outcome = fleet.run_step(1, args.rate, duration).await?;
    let totals = fleet.totals();
    fleet.finish().await;
    let mut result = json!({ "scenario": "smoke", "lossless": outcome.lossless() });
    merge(&mut result, totals);
    merge(&mut result, outcome.json.clone());
    let sound = outcome.lossless()
        && outcome.sent as usize >= args.messages
        && outcome.delivered == outcome.sent
        && result["disconnects"] == 0
        && result["out_of_order"] == 0;
    if !sound {
        println!("{result}");
        bail!("smoke failed: {result}");
    }
    Ok(result)
}
