//! `chat`: a warm-up step, then one measured step at a fixed aggregate rate.

use serde_json::{Value, json};

use crate::cli::ChatArgs;
use crate::fleet::Fleet;
use crate::token::Minter;
use crate::webhook;
use std::time::Duration;

pub async fn run(mut args: ChatArgs) -> anyhow::Result<Value> {
    if args.webhook {
        args.server
            .server_arg
            .push("--webhook-allow-private-networks".into());
    }
    let nodes = args.nodes.start(&args.server, &args.chat).await?;
    let hook = if args.webhook {
        let (addr, received) = webhook::receiver().await?;
        webhook::register(nodes[0].addr, &Minter::new(&nodes[0].secret), addr).await?;
        eprintln!("webhook registered for message.created: http://{addr}/hook");
        Some(received)
    } else {
        None
    };
    let mut fleet = Fleet::setup_nodes(nodes, &args.chat, &args.load).await?;
    if args.warmup > 0.0 {
        eprintln!(
            "warm-up: {:.0} msg/s for {} s (not recorded)",
            args.rate, args.warmup
        );
        fleet.run_step(0, args.rate, args.warmup).await?;
    }
    eprintln!("measuring: {:.0} msg/s for {} s", args.rate, args.duration);
    let outcome = fleet.run_step(1, args.rate, args.duration).await?;
    let mut result = json!({
        "scenario": "chat",
        "server_send_rate_limit": args.chat.send_limit,
        "lossless": outcome.lossless(),
    });
    merge(&mut result, fleet.totals());
    if let Some(received) = hook {
        // Every stored message is one delivery: wait for the last ones.
        let sent = fleet.sent();
        let got = webhook::wait_for(&received, sent, Duration::from_secs(60)).await;
        merge(
            &mut result,
            json!({ "webhook": true, "webhook_messages_sent": sent, "webhook_deliveries": got }),
        );
    }
    merge(&mut result, outcome.json);
    fleet.finish().await;
    Ok(result)
}

/// Copies the fields of `more` into `into` (both objects).
pub fn merge(into: &mut Value, more: Value) {
    if let (Some(into), Value::Object(more)) = (into.as_object_mut(), more) {
        into.extend(more);
    }
}
