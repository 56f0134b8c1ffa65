//! `stats-update`, coalesced per tenant on this node ([`Coalescer`] with a
//! [`WINDOW`] of 500 ms): at most one every window, and one within a window
//! of any change: a single query, then one broadcast.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

use super::emitter::{Emitter, payload};
use super::rooms;
use crate::chat::stats::{DayTotals, compute};
use crate::chat::{Stats, User, access};
use crate::error::AppResult;

pub const WINDOW: Duration = Duration::from_millis(500);

/// Where a tenant's stats come from: the database and who is online.
pub struct StatsSource {
    pub db: DatabaseConnection,
    /// The settled part of each tenant's figures of the day.
    pub totals: DayTotals,
    pub emitter: Arc<dyn Emitter>,
}

impl StatsSource {
    /// The tenant's stats now.
    pub async fn snapshot(&self, tenant: &str) -> AppResult<Stats> {
        let online = self.emitter.online(tenant).await;
        compute(&self.db, &self.totals, tenant, online).await
    }

    /// The stats the user may see now (staff only).
    pub async fn snapshot_for(&self, user: &User) -> AppResult<Stats> {
        access::ensure_may_see_stats(user)?;
        self.snapshot(&user.tenant).await
    }

    /// Computes the tenant's stats and sends them to its agents.
    pub async fn broadcast(&self, tenant: &str) {
        match self.snapshot(tenant).await {
            Ok(stats) => {
                let to = vec![rooms::agents(tenant)];
                self.emitter
                    .emit(to, "stats-update".into(), payload(&stats))
                    .await;
            }
            Err(err) => tracing::warn!(%tenant, code = err.code().as_str(), "stats not computed"),
        }
    }
}
