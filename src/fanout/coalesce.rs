//! Coalescing per key on this node: a change marks the key; the first mark
//! schedules one flush at the end of the current window (at once when the
//! last flush ended a window ago), and marks until it runs ride along with
//! it. So a key's events are at least a window apart, and one follows any
//! change within a window (plus the time a flush takes). Used for `stats-update` (per tenant, 500 ms) and the routing
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
    /// When the last flush ended (its event went out).
    last_flush: Option<Instant>,
    /// A flush is due: scheduled, or to be scheduled when the running one ends.
    scheduled: bool,
    /// A flush is running: the next waits for it, then a whole window.
    running: bool,
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
                keys.retain(|_, s| {
                    s.scheduled || s.running || s.last_flush.is_some_and(|at| now - at < window)
                });
            }
            let state = keys.entry(key.clone()).or_insert(State {
                last_flush: None,
                scheduled: false,
                running: false,
            });
            if state.scheduled {
                return;
            }
            state.scheduled = true;
            if state.running {
                // The running flush schedules the next when it ends.
                return;
            }
            state
                .last_flush
                .map(|last| (last + self.window).saturating_duration_since(now))
                .unwrap_or_default()
        };
        self.schedule(key, delay);
    }

    /// Flushes `key` after `delay`; the window counts from when a flush
    /// ends, so two of its events are never closer than the window.
    fn schedule(self: &Arc<Self>, key: K, delay: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            this.set(&key, |state| {
                state.scheduled = false;
                state.running = true;
            });
            (this.flush)(key.clone()).await;
            let again = this.set(&key, |state| {
                state.running = false;
                state.last_flush = Some(Instant::now());
                state.scheduled
            });
            if again == Some(true) {
                this.schedule(key, this.window);
            }
        });
    }

    fn set<T>(&self, key: &K, change: impl FnOnce(&mut State) -> T) -> Option<T> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get_mut(key).map(change)
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

    #[tokio::test(start_paused = true)]
    async fn a_change_during_a_slow_flush_waits_a_whole_window_after_it_ends() {
        let (tx, mut ended) = mpsc::unbounded_channel();
        let slow = Duration::from_millis(300);
        let coalescer = Coalescer::new(
            WINDOW,
            Box::new(move |key: String| {
                let tx = tx.clone();
                Box::pin(async move {
                    tokio::time::sleep(slow).await;
                    let _ = tx.send((key, Instant::now()));
                })
            }),
        );
        let start = Instant::now();
        coalescer.changed("t".into());
        tokio::time::sleep(Duration::from_millis(100)).await;
        coalescer.changed("t".into()); // while the first flush runs
        assert_eq!(ended.recv().await.unwrap().1, start + slow);
        assert_eq!(ended.recv().await.unwrap().1, start + slow + WINDOW + slow);
        tokio::time::sleep(WINDOW * 4).await;
        assert!(
            ended.try_recv().is_err(),
            "one flush for the change made during the first"
        );
    }
}
