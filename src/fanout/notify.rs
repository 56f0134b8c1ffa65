//! The routing notices of docs/protocol.md §5 and §7: `queue-update` to a
//! waiting customer, `agent-updated` to the tenant's agents,
//! `service-status` to the whole tenant. Each is coalesced per key on this
//! node (at most one per second, within a second of the change) and sent
//! only when its value differs from the last one sent by any node
//! ([`crate::chat::notices::claim`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::coalesce::Coalescer;
use super::emitter::{Emitter, Payload, payload};
use super::rooms;
use crate::chat::notices;
use crate::chat::routing::queue::{self, QueueFigures};
use crate::chat::routing::service::{self, ServiceStatus};
use crate::chat::routing::{Defaults, agents};
use crate::error::AppResult;

pub const WINDOW: Duration = Duration::from_secs(1);

/// At most this many waiting customers hear of their position per flush
/// (those further back hear of it as the queue moves).
const MAX_QUEUE_NOTICES: u64 = 5000;

pub struct Notifier {
    /// Reads the state to announce.
    reads: DatabaseConnection,
    /// Claims the notices.
    writer: DatabaseConnection,
    emitter: Arc<dyn Emitter>,
    defaults: Defaults,
    queue: Arc<Coalescer<String>>,
    agents: Arc<Coalescer<(String, String)>>,
    service: Arc<Coalescer<String>>,
    /// The service status of each tenant as last read here, for the
    /// `connected` of a flood of sockets (one read per tenant per
    /// [`SERVICE_FRESH`], not one per socket).
    service_seen: Mutex<HashMap<String, (Instant, ServiceStatus)>>,
}

/// How long a service status read for `connected` is reused.
const SERVICE_FRESH: Duration = Duration::from_secs(1);

/// A flush that finds its notifier gone (shutting down) does nothing.
fn flush_with<K: Send + 'static>(
    this: &Weak<Notifier>,
    run: fn(Arc<Notifier>, K) -> BoxFuture<'static, ()>,
) -> Box<dyn Fn(K) -> BoxFuture<'static, ()> + Send + Sync> {
    let this = this.clone();
    Box::new(move |key| match this.upgrade() {
        Some(notifier) => run(notifier, key),
        None => Box::pin(async {}),
    })
}

impl Notifier {
    pub fn new(
        reads: DatabaseConnection,
        writer: DatabaseConnection,
        emitter: Arc<dyn Emitter>,
        defaults: Defaults,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this| Self {
            reads,
            writer,
            emitter,
            defaults,
            queue: Coalescer::new(
                WINDOW,
                flush_with(this, |n, tenant| Box::pin(n.flush_queue(tenant))),
            ),
            agents: Coalescer::new(
                WINDOW,
                flush_with(this, |n, key| Box::pin(n.flush_agent(key))),
            ),
            service: Coalescer::new(
                WINDOW,
                flush_with(this, |n, tenant| Box::pin(n.flush_service(tenant))),
            ),
            service_seen: Mutex::default(),
        })
    }

    /// The tenant's queue may have moved.
    pub fn queue_changed(&self, tenant: &str) {
        self.queue.changed(tenant.to_string());
    }

    /// A field of this agent's state may have changed.
    pub fn agent_changed(&self, tenant: &str, id: &str) {
        self.agents.changed((tenant.to_string(), id.to_string()));
    }

    /// The tenant's service status may have changed.
    pub fn service_changed(&self, tenant: &str) {
        self.forget_service(tenant);
        self.service.changed(tenant.to_string());
    }

    /// The next [`Self::service_status`] of the tenant reads it afresh.
    pub fn forget_service(&self, tenant: &str) {
        self.seen().remove(tenant);
    }

    /// The tenant's service status for a socket's `connected`: read at most
    /// once per [`SERVICE_FRESH`] per tenant (a change made on this node is
    /// seen at once; one made on another node within that time).
    pub async fn service_status(&self, tenant: &str) -> AppResult<ServiceStatus> {
        if let Some((at, status)) = self.seen().get(tenant)
            && at.elapsed() < SERVICE_FRESH
        {
            return Ok(status.clone());
        }
        let status = service::status(&self.reads, &self.defaults, tenant).await?;
        let mut seen = self.seen();
        if seen.len() > 10_000 {
            seen.retain(|_, (at, _)| at.elapsed() < SERVICE_FRESH);
        }
        seen.insert(tenant.to_string(), (Instant::now(), status.clone()));
        Ok(status)
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, ServiceStatus)>> {
        self.service_seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every agent of the tenant may have changed (its default capacity did).
    pub async fn all_agents_changed(&self, tenant: &str) {
        match agents::staff_ids(&self.reads, tenant).await {
            Ok(ids) => ids.iter().for_each(|id| self.agent_changed(tenant, id)),
            Err(err) => tracing::warn!(%tenant, code = err.code().as_str(), "agents not listed"),
        }
    }

    async fn flush_queue(self: Arc<Self>, tenant: String) {
        if let Err(err) = self.send_queue(&tenant).await {
            tracing::warn!(%tenant, code = err.code().as_str(), "queue-update not sent");
        }
    }

    async fn send_queue(&self, tenant: &str) -> AppResult<()> {
        let waiting = queue::waiting(&self.reads, tenant, MAX_QUEUE_NOTICES).await?;
        if waiting.is_empty() {
            return Ok(());
        }
        let figures = QueueFigures::of(&self.reads, tenant).await?;
        let infos: Vec<_> = (1..=waiting.len() as i64)
            .map(|position| figures.info(position))
            .collect();
        // The time it joined the queue is part of the value: a session that
        // comes back to the queue hears of its place again.
        let items: Vec<(String, String)> = waiting
            .iter()
            .zip(&infos)
            .map(|(w, info)| {
                let since = w.queued_at.unwrap_or(w.created_at);
                let value = format!("{since}|{}", json!(info));
                (format!("q:{}", w.id), value)
            })
            .collect();
        let claimed = notices::claim(&self.writer, &items, WINDOW.as_millis() as i64).await?;
        // A session served while this flush ran hears nothing more of the
        // queue (`session-updated` told it).
        let ids: Vec<&str> = claimed
            .send
            .iter()
            .map(|&i| waiting[i].id.as_str())
            .collect();
        let pending = queue::still_pending(&self.writer, tenant, &ids).await?;
        for i in claimed.send {
            let (w, info) = (&waiting[i], &infos[i]);
            if !pending.contains(&w.id) {
                continue;
            }
            let data = payload(&json!({ "sessionId": w.id, "queue": info }));
            let to = vec![rooms::user(tenant, &w.customer_id)];
            self.emitter.emit(to, "queue-update".into(), data).await;
        }
        if claimed.again {
            self.queue_changed(tenant);
        }
        Ok(())
    }

    async fn flush_agent(self: Arc<Self>, (tenant, id): (String, String)) {
        let state = agents::state(&self.reads, &self.defaults, &tenant, &id).await;
        let notice = state.map(|state| {
            state.map(|state| Notice {
                key: format!("a:{}:{tenant}:{id}", tenant.len()),
                to: rooms::agents(&tenant),
                event: "agent-updated",
                data: payload(&state),
            })
        });
        if self.send_once(&tenant, notice).await {
            self.agent_changed(&tenant, &id);
        }
    }

    async fn flush_service(self: Arc<Self>, tenant: String) {
        let status = service::status(&self.reads, &self.defaults, &tenant).await;
        let notice = status.map(|status| {
            Some(Notice {
                key: format!("s:{tenant}"),
                to: rooms::tenant(&tenant),
                event: "service-status",
                data: payload(&status),
            })
        });
        if self.send_once(&tenant, notice).await {
            self.service_changed(&tenant);
        }
    }

    /// Sends `notice` unless the last one sent under its key (by any node)
    /// carried the same data. Whether it must be looked at again after the
    /// window (it changed too soon after the last one, or another node
    /// claimed it meanwhile).
    async fn send_once(&self, tenant: &str, notice: AppResult<Option<Notice>>) -> bool {
        let result = async {
            let Some(notice) = notice? else {
                return Ok(false);
            };
            let items = [(notice.key, notice.data.get().to_string())];
            let claimed = notices::claim(&self.writer, &items, WINDOW.as_millis() as i64).await?;
            if !claimed.send.is_empty() {
                let data = notice.data;
                self.emitter
                    .emit(vec![notice.to], notice.event.into(), data)
                    .await;
            }
            AppResult::Ok(claimed.again)
        };
        result.await.unwrap_or_else(|err| {
            tracing::warn!(%tenant, code = err.code().as_str(), "routing notice not sent");
            false
        })
    }
}

/// One routing notice: its data goes to `to` as `event` once per change.
struct Notice {
    /// What it is about (`a:…` an agent, `s:…` a tenant's service).
    key: String,
    to: String,
    event: &'static str,
    data: Payload,
}
