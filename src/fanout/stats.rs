//! `stats-update`, coalesced per tenant on this node: at most one every
//! [`WINDOW`], and one within [`WINDOW`] of any change. A change marks the
//! tenant; the first mark schedules one flush (a single query, then one
//! broadcast) at the end of the current window, and marks until it runs
//! ride along with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;
use tokio::time::Instant;

use super::emitter::{Emitter, payload};
use super::rooms;
use crate::chat::stats::{MessageCounts, compute};
use crate::chat::{Stats, User, access};
use crate::error::AppResult;

pub const WINDOW: Duration = Duration::from_millis(500);

/// What a flush does for one tenant.
pub type Flush = Box<dyn Fn(String) -> BoxFuture<'static, ()> + Send + Sync>;

#[derive(Default)]
struct Tenant {
    last_flush: Option<Instant>,
    scheduled: bool,
}

pub struct StatsCoalescer {
    /// A `std::sync::Mutex`: no `.await` while held, tiny critical sections.
    tenants: Mutex<HashMap<String, Tenant>>,
    flush: Flush,
}

impl StatsCoalescer {
    pub fn new(flush: Flush) -> Arc<Self> {
        Arc::new(Self {
            tenants: Mutex::new(HashMap::new()),
            flush,
        })
    }

    /// The tenant's stats changed: schedule a flush unless one is.
    pub fn changed(self: &Arc<Self>, tenant: &str) {
        let delay = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let state = tenants.entry(tenant.to_string()).or_default();
            if state.scheduled {
                return;
            }
            state.scheduled = true;
            state
                .last_flush
                .map(|last| (last + WINDOW).saturating_duration_since(Instant::now()))
                .unwrap_or_default()
        };
        let this = self.clone();
        let tenant = tenant.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            {
                let mut tenants = this.tenants.lock().unwrap_or_else(|e| e.into_inner());
                let state = tenants.entry(tenant.clone()).or_default();
                state.scheduled = false;
                state.last_flush = Some(Instant::now());
            }
            (this.flush)(tenant).await;
        });
    }
}

/// Where a tenant's stats come from: the database and who is online.
pub struct StatsSource {
    pub db: DatabaseConnection,
    /// The settled part of each tenant's `messagesToday`.
    pub counts: MessageCounts,
    pub emitter: Arc<dyn Emitter>,
}

impl StatsSource {
    /// The tenant's stats now.
    pub async fn snapshot(&self, tenant: &str) -> AppResult<Stats> {
        let online = self.emitter.online(tenant).await;
        compute(&self.db, &self.counts, tenant, online).await
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
                self.emitter.emit(to, "stats-update", payload(&stats)).await;
            }
            Err(err) => tracing::warn!(%tenant, code = err.code().as_str(), "stats not computed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn recording() -> (
        Arc<StatsCoalescer>,
        mpsc::UnboundedReceiver<(String, Instant)>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let coalescer = StatsCoalescer::new(Box::new(move |tenant| {
            let tx = tx.clone();
            Box::pin(async move {
                let _ = tx.send((tenant, Instant::now()));
            })
        }));
        (coalescer, rx)
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_change_flushes_at_once_and_a_burst_in_the_window_flushes_once_at_its_end() {
        let (stats, mut flushed) = recording();
        let start = Instant::now();
        stats.changed("t");
        let (tenant, at) = flushed.recv().await.unwrap();
        assert_eq!((tenant.as_str(), at), ("t", start));
        for _ in 0..10 {
            stats.changed("t");
        }
        let (_, at) = flushed.recv().await.unwrap();
        assert_eq!(at, start + WINDOW);
        tokio::time::sleep(WINDOW * 4).await;
        assert!(flushed.try_recv().is_err(), "only one flush for the burst");
    }

    #[tokio::test(start_paused = true)]
    async fn tenants_are_coalesced_separately() {
        let (stats, mut flushed) = recording();
        let start = Instant::now();
        stats.changed("a");
        stats.changed("b");
        stats.changed("a"); // rides along with a's scheduled flush
        let mut got = vec![flushed.recv().await.unwrap(), flushed.recv().await.unwrap()];
        got.sort();
        assert_eq!(got, [("a".to_string(), start), ("b".to_string(), start)]);
        stats.changed("a");
        assert_eq!(
            flushed.recv().await.unwrap(),
            ("a".to_string(), start + WINDOW)
        );
        tokio::time::sleep(WINDOW * 4).await;
        assert!(flushed.try_recv().is_err(), "b was not flushed again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_after_a_quiet_window_flushes_at_once() {
        let (stats, mut flushed) = recording();
        stats.changed("t");
        flushed.recv().await.unwrap();
        tokio::time::sleep(WINDOW * 3).await;
        let now = Instant::now();
        stats.changed("t");
        assert_eq!(flushed.recv().await.unwrap().1, now);
    }
}
