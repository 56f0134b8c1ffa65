//! `switchboard-bench`: a load generator for Switchboard written against the
//! wire protocol (Engine.IO v4 / Socket.IO v4 over websocket), so it loads the
//! server exactly as the browser client does.
//!
//! - `sio`: the Socket.IO client (handshake, events, acks, heartbeats)
//! - `server`: start/observe the server process (RSS, CPU, pinning)
//! - `fleet`: chat sessions and the open-loop pacer shared by `chat`,
//!   `ramp` and `smoke`
//! - `connect`, `chat`, `ramp`, `smoke`: the scenarios
//! - `growth`: a seeded long history against an empty database
//! - `routing`: auto-assignment on one or more nodes (PROTOCOL §7)
//! - `upload`: attachment uploads (PROTOCOL §8), throughput and the server's
//!   memory while they run (`memory` samples it)
//! - `soak`: the chat fleet for a long run while customers come and go;
//!   the server's RSS, fds, threads and tasks over time, and after every
//!   client left
//! - `broadcast`: one publish to tens of thousands of sockets over several
//!   nodes, the sockets held by child processes of this binary
//!   (`broadcast-holder`)
//! - `report`, `token`, `net`: histograms, JWTs, source addresses and fd limit
//!
//! Progress goes to stderr; each scenario ends with one JSON line on stdout.

mod broadcast;
mod chat;
mod cli;
mod connect;
mod fleet;
mod growth;
mod memory;
mod net;
mod ramp;
mod report;
mod routing;
mod server;
mod sio;
mod smoke;
mod soak;
mod token;
mod upload;
mod webhook;

use clap::Parser;

use cli::{Cli, Scenario, SmokeArgs};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let threads = cli.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        match cli.command {
            Scenario::Connect(args) => connect::run(args).await,
            Scenario::Chat(args) if args.smoke => {
                smoke::run(SmokeArgs {
                    server: args.server,
                    load: args.load,
                    sessions: 4,
                    messages: 300,
                    rate: 150.0,
                })
                .await
            }
            Scenario::Chat(args) => chat::run(args).await,
            Scenario::Ramp(args) => ramp::run(args).await,
            Scenario::Smoke(args) => smoke::run(args).await,
            Scenario::Growth(args) => growth::run(args).await,
            Scenario::Routing(args) => routing::run(args).await,
            Scenario::Upload(args) => upload::run(args).await,
            Scenario::Soak(args) => soak::run(args).await,
            Scenario::Broadcast(args) => broadcast::run(args).await,
            Scenario::BroadcastHolder(args) => broadcast::hold(args).await,
        }
    });
    // Sockets still open are dropped with the runtime, without waiting.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    let result = result?;
    println!("{result}");
    Ok(())
}
