//! This node's part in routing (docs/protocol.md §8): its lease in the
//! database, renewed every third of `--node-timeout-seconds` (a node that
//! stops renewing is dead, and its agents go offline), and the sweep every
//! `--routing-sweep-ms` that repairs whatever a crash interrupted.

use std::sync::Arc;
use std::time::Duration;

use socketioxide::adapter::Adapter;

use crate::app::AppState;

/// Takes the lease before the first socket can connect, then keeps it and
/// sweeps in the background.
pub(super) async fn start<A: Adapter>(app: &AppState<A>) -> anyhow::Result<()> {
    app.actions
        .node
        .heartbeat(&app.db)
        .await
        .map_err(|err| anyhow::anyhow!("cannot register this node: {err}"))?;
    let beat = Duration::from_millis((app.actions.node.lease_ms / 3).max(100) as u64);
    every(app, beat, |app| async move {
        if let Err(err) = app.actions.node.heartbeat(&app.db).await {
            tracing::warn!(code = err.code().as_str(), "node heartbeat failed");
        }
    });
    let sweep = Duration::from_millis(app.config.routing_sweep_ms.max(50));
    every(app, sweep, |app| async move {
        if let Err(err) = app.actions.sweep().await {
            tracing::warn!(code = err.code().as_str(), "routing sweep failed");
        }
    });
    Ok(())
}

/// Runs `work` every `period` (not twice at once) until shutdown starts.
fn every<A, F, Fut>(app: &AppState<A>, period: Duration, work: F)
where
    A: Adapter,
    F: Fn(AppState<A>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let app = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(app) = app.upgrade() else { return };
            // Shutting down: the node leaves (its presence is cleared once
            // the sockets are closed) and the database is about to close.
            if app.in_flight.is_draining() {
                return;
            }
            work(app).await;
        }
    });
}
