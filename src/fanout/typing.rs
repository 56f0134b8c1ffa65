//! Typing timers: who is typing where, so the server can say
//! `isTyping: false` itself when a typing user goes quiet for [`IDLE`],
//! leaves the room or disconnects.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// After this long without an update, a typing user is said to have stopped.
pub const IDLE: Duration = Duration::from_secs(5);

/// `(socket id, session id)` -> the generation of the last `isTyping:
/// true`, so a timer only fires if nothing came after it. Cloning shares
/// the same timers.
#[derive(Clone, Default)]
pub struct TypingTimers(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// A `std::sync::Mutex`: no `.await` while held.
    typing: Mutex<HashMap<(String, String), u64>>,
    generation: AtomicU64,
}

impl TypingTimers {
    /// The socket started (or goes on) typing in the session: after
    /// [`IDLE`] without another start or a stop, `on_idle` runs.
    pub fn start(
        &self,
        sid: &str,
        session_id: &str,
        on_idle: impl Future<Output = ()> + Send + 'static,
    ) {
        let generation = self.0.generation.fetch_add(1, Ordering::Relaxed);
        let key = (sid.to_string(), session_id.to_string());
        self.lock().insert(key.clone(), generation);
        let timers = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(IDLE).await;
            if timers.forget(&key, Some(generation)) {
                on_idle.await;
            }
        });
    }

    /// Forgets the entry; true if the socket was typing there.
    pub fn stop(&self, sid: &str, session_id: &str) -> bool {
        self.forget(&(sid.to_string(), session_id.to_string()), None)
    }

    /// Sessions the socket was typing in, forgotten.
    pub fn stop_all(&self, sid: &str) -> Vec<String> {
        let mut typing = self.lock();
        let sessions: Vec<String> = typing
            .keys()
            .filter(|(s, _)| s == sid)
            .map(|(_, id)| id.clone())
            .collect();
        for session_id in &sessions {
            typing.remove(&(sid.to_string(), session_id.clone()));
        }
        sessions
    }

    /// Removes the entry if present (and of `generation`, when given).
    fn forget(&self, key: &(String, String), generation: Option<u64>) -> bool {
        let mut typing = self.lock();
        match (typing.get(key), generation) {
            (Some(current), Some(g)) if *current != g => false,
            (Some(_), _) => typing.remove(key).is_some(),
            (None, _) => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), u64>> {
        self.0.typing.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;
    use tokio::time::Instant;

    fn idle_signal(
        tx: &mpsc::UnboundedSender<(&'static str, Instant)>,
        name: &'static str,
    ) -> impl Future<Output = ()> + Send + 'static {
        let tx = tx.clone();
        async move {
            let _ = tx.send((name, Instant::now()));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_typist_is_stopped_after_the_idle_time() {
        let timers = TypingTimers::default();
        let (tx, mut idle) = mpsc::unbounded_channel();
        let start = Instant::now();
        timers.start("s1", "x", idle_signal(&tx, "first"));
        assert_eq!(idle.recv().await.unwrap(), ("first", start + IDLE));
        assert!(!timers.stop("s1", "x"), "already forgotten");
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_last_start_fires() {
        let timers = TypingTimers::default();
        let (tx, mut idle) = mpsc::unbounded_channel();
        let start = Instant::now();
        timers.start("s1", "x", idle_signal(&tx, "first"));
        tokio::time::sleep(Duration::from_secs(3)).await;
        timers.start("s1", "x", idle_signal(&tx, "second"));
        drop(tx);
        assert_eq!(
            idle.recv().await.unwrap(),
            ("second", start + Duration::from_secs(3) + IDLE)
        );
        assert!(idle.recv().await.is_none(), "the first timer never fired");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_cancels_the_timer_and_says_whether_it_was_typing() {
        let timers = TypingTimers::default();
        let (tx, mut idle) = mpsc::unbounded_channel();
        timers.start("s1", "x", idle_signal(&tx, "x"));
        timers.start("s1", "y", idle_signal(&tx, "y"));
        timers.start("s2", "x", idle_signal(&tx, "other socket"));
        assert!(timers.stop("s1", "x"));
        assert!(!timers.stop("s1", "x"));
        assert_eq!(timers.stop_all("s1"), ["y"]);
        drop(tx);
        assert_eq!(idle.recv().await.unwrap().0, "other socket");
        assert!(idle.recv().await.is_none());
    }
}
