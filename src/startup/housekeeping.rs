//! What the server does now and then, whatever happens.

use std::sync::Arc;
use std::time::Duration;

use socketioxide::adapter::Adapter;

use crate::app::AppState;

/// Every `--stats-refresh-seconds` (30): drop the rate limiters' idle
/// cells, and refresh the stats
/// of every tenant with staff on this node (a node that died elsewhere
/// changed the online counts without a change event here).
pub(super) fn spawn_housekeeping<A: Adapter>(app: &AppState<A>) {
    let period = Duration::from_secs(app.config.stats_refresh_seconds.max(1));
    let app = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(app) = app.upgrade() else { return };
            app.actions.forget_idle_users();
            for limiter in [&app.typing_limiter, &app.event_limiter] {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            refresh_local_tenants(&app);
            // The routing notices of a day ago are of no use (at worst one
            // is sent again).
            if let Err(err) = crate::chat::notices::forget_older_than(&app.db, 86_400_000).await {
                tracing::debug!(code = err.code().as_str(), "old notices not removed");
            }
        }
    });
}

/// Schedules a `stats-update` for every tenant with staff connected here.
fn refresh_local_tenants<A: Adapter>(app: &AppState<A>) {
    let Some(ns) = app.chat() else { return };
    let tenants: std::collections::BTreeSet<String> = ns
        .sockets()
        .iter()
        .filter_map(|s| s.extensions.get::<crate::chat::User>())
        .filter(crate::chat::access::may_see_stats)
        .map(|user| user.tenant)
        .collect();
    for tenant in tenants {
        app.fanout().stats_changed(&tenant);
    }
}
