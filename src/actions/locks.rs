//! Per-session ordering on this node.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

/// Serialises, per session and on this node, "commit a change, then
/// broadcast it", so `new-message` events leave in `seq` order and a join
/// cannot slip between a commit and its broadcast. Striped: a fixed number
/// of mutexes, so memory does not grow with the number of sessions.
pub struct SessionLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for SessionLocks {
    fn default() -> Self {
        Self {
            stripes: (0..1024).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl SessionLocks {
    pub async fn lock(&self, session_id: &str) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        session_id.hash(&mut hasher);
        let stripe = (hasher.finish() % self.stripes.len() as u64) as usize;
        self.stripes[stripe].lock().await
    }
}
