//! Coalescing per key on this node: a change marks the key; the first mark
//! schedules one flush at the end of the current window (at once when the
//! last flush is a window old), and marks until it runs ride along with it.
//! So a key is flushed at most once per window, and within a window of any
//! change. Used for `stats-update` (per tenant, 500 ms) and the routing
//! notices (`queue-update`, `agent-updated`, `service-status`: 1 s).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;

/// What a flush does for one key.
pub type Flush<K> = Box<dyn Fn(K) -> BoxFuture<'static, ()> + Send + Sync>;

struct State {
    last_flush: Option<Instant>,
    scheduled: bool,
}

pub struct Coalescer<K> {
    window: Duration,
    /// A `std::sync::Mutex`: no `.await` while held, tiny critical sections.
    keys: Mutex<HashMap<K, State>>,
    flush: Flush<K>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> Coalescer<K> {
    pub fn new(window: Duration, flush: Flush<K>) -> Arc<Self> {
        Arc::new(Self {
            window,
            keys: Mutex::new(HashMap::new()),
            flush,
        })
    }

    /// `key` changed: schedule a flush unless one is.
    pub fn changed(self: &Arc<Self>, key: K) {
        let delay = {
            let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            // Keys flushed long ago are forgotten, so the map stays small.
            if keys.len() > 1024 {
                let window = self.window;
                keys.retain(|_, s| s.scheduled || s.last_flush.is_some_and(|at| now - at < window));
            }
            let state = keys.entry(key.clone()).or_insert(State {
                last_flush: None,
                scheduled: false,
            });
            if state.scheduled {
                return;
            }
            state.scheduled = true;
            state
                .last_flush
                .map(|last| (last + self.window).saturating_duration_since(now))
                .unwrap_or_default()
        };
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            {
                let mut keys = this.keys.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(state) = keys.get_mut(&key) {
                    state.scheduled = false;
                    state.last_flush = Some(Instant::now());
                }
            }
            (this.flush)(key).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    const WINDOW: Duration = Duration::from_millis(500);

    fn recording() -> (
        Arc<Coalescer<String>>,
        mpsc::UnboundedReceiver<(String, Instant)>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let coalescer = Coalescer::new(
            WINDOW,
            Box::new(move |key| {
                let tx = tx.clone();
                Box::pin(async move {
                    let _ = tx.send((key, Instant::now()));
                })
            }),
        );
        (coalescer, rx)
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_change_flushes_at_once_and_a_burst_in_the_window_flushes_once_at_its_end() {
        let (stats, mut flushed) = recording();
        let start = Instant::now();
        stats.changed("t".into());
        let (key, at) = flushed.recv().await.unwrap();
        assert_eq!((key.as_str(), at), ("t", start));
        for _ in 0..10 {
            stats.changed("t".into());
        }
        let (_, at) = flushed.recv().await.unwrap();
        assert_eq!(at, start + WINDOW);
        tokio::time::sleep(WINDOW * 4).await;
        assert!(flushed.try_recv().is_err(), "only one flush for the burst");
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_coalesced_separately() {
        let (stats, mut flushed) = recording();
        let start = Instant::now();
        stats.changed("a".into());
        stats.changed("b".into());
        stats.changed("a".into()); // rides along with a's scheduled flush
        let mut got = vec![flushed.recv().await.unwrap(), flushed.recv().await.unwrap()];
        got.sort();
        assert_eq!(got, [("a".to_string(), start), ("b".to_string(), start)]);
        stats.changed("a".into());
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
        stats.changed("t".into());
        flushed.recv().await.unwrap();
        tokio::time::sleep(WINDOW * 3).await;
        let now = Instant::now();
        stats.changed("t".into());
        assert_eq!(flushed.recv().await.unwrap().1, now);
    }
}
