//! `ramp`: the same fleet, rate multiplied step after step until delivery
//! p99 passes the bound or a message is lost (or errors); the answer is the
//! highest rate that held.

use serde_json::{Value, json};

use crate::chat::merge;
use crate::cli::RampArgs;
use crate::fleet::Fleet;

pub async fn run(args: RampArgs) -> anyhow::Result<Value> {
    let nodes = args.nodes.start(&args.server, &args.chat).await?;
    let mut fleet = Fleet::setup_nodes(nodes, &args.chat, &args.load).await?;
    let mut rate = args.start_rate;
    let mut steps = Vec::new();
    let mut held: Option<(f64, Value)> = None;
    let mut stopped_by = "max_rate";
    let mut step = 1;
    while rate <= args.max_rate {
        eprintln!(
            "ramp step {step}: {rate:.0} msg/s for {} s",
            args.step_duration
        );
        let outcome = fleet.run_step(step, rate, args.step_duration).await?;
        let ok = outcome.lossless() && outcome.delivery_p99_ms <= args.p99_bound_ms;
        let mut record = outcome.json.clone();
        merge(&mut record, json!({ "held": ok }));
        steps.push(record);
        if !ok {
            stopped_by = if outcome.lossless() {
                "delivery_p99"
            } else {
                "loss_or_errors"
            };
            eprintln!(
                "  does not hold: delivery p99 {:.2} ms (bound {} ms), lost {}, unacked {}, errors {}",
                outcome.delivery_p99_ms,
                args.p99_bound_ms,
                outcome.lost,
                outcome.unacked,
                outcome.errors
            );
            break;
        }
        held = Some((outcome.rate, outcome.json));
        rate *= args.factor;
        step += 1;
    }
    let mut result = json!({
        "scenario": "ramp",
        "server_send_rate_limit": args.chat.send_limit,
        "p99_bound_ms": args.p99_bound_ms,
        "step_duration_s": args.step_duration,
        "factor": args.factor,
        "highest_rate_held": held.as_ref().map(|h| h.0),
        "highest_held_step": held.map(|h| h.1),
        "stopped_by": stopped_by,
        "steps": steps,
    });
    merge(&mut result, fleet.totals());
    eprintln!("highest rate that held: {}", result["highest_rate_held"]);
    fleet.finish().await;
    Ok(result)
}
