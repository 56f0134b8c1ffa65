//! When auto-assignment runs (docs/protocol.md §8): a change that may let
//! a session be served (one opened or sent back to the queue, an agent
//! freed, routable or given more room, the mode switched to auto) kicks
//! the tenant, and the periodic sweep kicks every tenant with agents
//! online. A kick runs steps of `chat::routing::assign` until none is
//! left; a kick while a run is going makes it look once more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sea_orm::DatabaseConnection;

use crate::chat::routing::RoutingConfig;
use crate::chat::routing::assign::{self, Step};
use crate::fanout::Fanout;

/// A run gives up after this many lost races in a row (the sweep comes back).
const MAX_RACES: u32 = 50;

/// While another node assigns the tenant's sessions, look again this often,
/// this many times (the sweep comes back after that).
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_millis(100);
const MAX_BUSY: u32 = 20;

pub struct Router {
    db: DatabaseConnection,
    pub config: RoutingConfig,
    fanout: Arc<Fanout>,
    /// Tenants with a run going on this node, and whether it must look again.
    running: Mutex<HashMap<String, bool>>,
}

impl Router {
    pub fn new(db: DatabaseConnection, config: RoutingConfig, fanout: Arc<Fanout>) -> Arc<Self> {
        Arc::new(Self {
            db,
            config,
            fanout,
            running: Mutex::new(HashMap::new()),
        })
    }

    /// Makes the assignments `tenant` is owed, in the background.
    pub fn kick(self: &Arc<Self>, tenant: &str) {
        {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(again) = running.get_mut(tenant) {
                *again = true;
                return;
            }
            running.insert(tenant.to_string(), false);
        }
        let this = self.clone();
        let tenant = tenant.to_string();
        tokio::spawn(async move {
            loop {
                this.drain(&tenant).await;
                let mut running = this.running.lock().unwrap_or_else(|e| e.into_inner());
                match running.get_mut(&tenant) {
                    Some(again) if *again => *again = false,
                    _ => {
                        running.remove(&tenant);
                        return;
                    }
                }
            }
        });
    }

    async fn drain(&self, tenant: &str) {
        let (mut races, mut busy) = (0, 0);
        loop {
            match assign::step(&self.db, &self.config, tenant).await {
                Ok(Step::Assigned(changed)) => {
                    races = 0;
                    self.fanout.publish(&changed).await;
                }
                Ok(Step::Raced) if races < MAX_RACES => races += 1,
                Ok(Step::Raced) => {
                    tracing::warn!(%tenant, "auto-assignment lost {MAX_RACES} races in a row; the sweep retries");
                    return;
                }
                Ok(Step::Idle) => return,
                // Another node is at it: it sees this node's changes too.
                // Look again in a moment, in case it had just finished.
                Ok(Step::Busy) if busy < MAX_BUSY => {
                    busy += 1;
                    tokio::time::sleep(BUSY_RETRY).await;
                }
                Ok(Step::Busy) => return,
                Err(err) => {
                    tracing::warn!(%tenant, code = err.code().as_str(), "auto-assignment failed; the sweep retries");
                    return;
                }
            }
        }
    }
}
