//! `stats-update`, coalesced per tenant on this node: at most one every
//! 500 ms, and one within 500 ms of any change. A change marks the tenant;
//! the first mark schedules one computation (a single query) at the end of
//! the current window, and marks until it runs ride along with it.

use socketioxide::adapter::Adapter;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::app::AppState;
use crate::chat::{Stats, agents_room, stats as domain_stats};
use crate::error::AppResult;

pub const WINDOW: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Tenant {
    last_emit: Option<Instant>,
    scheduled: bool,
}

/// A `std::sync::Mutex`: no `.await` while held.
#[derive(Default)]
pub struct StatsCoalescer {
    tenants: Mutex<HashMap<String, Tenant>>,
}

/// The tenant's stats changed: schedule a `stats-update` unless one is.
pub fn changed<A: Adapter>(app: &AppState<A>, tenant: &str) {
    let delay = {
        let mut tenants = app.stats.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let state = tenants.entry(tenant.to_string()).or_default();
        if state.scheduled {
            return;
        }
        state.scheduled = true;
        state
            .last_emit
            .map(|last| (last + WINDOW).saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    };
    let app = app.clone();
    let tenant = tenant.to_string();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        {
            let mut tenants = app.stats.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let state = tenants.entry(tenant.clone()).or_default();
            state.scheduled = false;
            state.last_emit = Some(Instant::now());
        }
        match snapshot(&app, &tenant).await {
            Ok(stats) => {
                if let Some(ns) = app.chat()
                    && let Err(err) = ns
                        .within(agents_room(&tenant))
                        .emit("stats-update", &stats)
                        .await
                {
                    tracing::warn!(%tenant, error = %err, "stats broadcast failed");
                }
            }
            Err(err) => tracing::warn!(%tenant, code = err.code().as_str(), "stats not computed"),
        }
    });
}

/// Schedules a `stats-update` for every tenant with staff connected here.
pub fn refresh_local_tenants<A: Adapter>(app: &AppState<A>) {
    let Some(ns) = app.chat() else { return };
    let tenants: std::collections::BTreeSet<String> = ns
        .sockets()
        .iter()
        .filter_map(|s| s.extensions.get::<crate::chat::User>())
        .filter(|user| user.role.is_staff())
        .map(|user| user.tenant)
        .collect();
    for tenant in tenants {
        changed(app, &tenant);
    }
}

/// The tenant's stats now.
pub async fn snapshot<A: Adapter>(app: &AppState<A>, tenant: &str) -> AppResult<Stats> {
    let online = super::presence::online(app, tenant).await;
    domain_stats::compute(&app.reads, &app.message_counts, tenant, online).await
}
