//! Graceful shutdown: the signal that starts it, and the count of events in
//! flight that it waits for before closing the sockets.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Counts socket events being handled, so shutdown can wait for them.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Counter>);

#[derive(Default)]
struct Counter {
    count: AtomicUsize,
    idle: Notify,
    /// Set when shutdown starts: new events are refused from then on, so
    /// a client that keeps sending cannot hold the shutdown open.
    draining: AtomicBool,
}

/// Held while one event is handled.
pub struct InFlightGuard(Arc<Counter>);

impl InFlight {
    /// `None` once shutdown has started.
    pub fn enter(&self) -> Option<InFlightGuard> {
        self.0.count.fetch_add(1, Ordering::SeqCst);
        let guard = InFlightGuard(self.0.clone());
        (!self.0.draining.load(Ordering::SeqCst)).then_some(guard)
    }

    /// Whether shutdown has started.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::SeqCst)
    }

    /// Refuses new events and resolves once those in flight are done.
    pub async fn drain(&self) {
        self.0.draining.store(true, Ordering::SeqCst);
        self.idle().await;
    }

    /// Resolves once nothing is in flight.
    pub async fn idle(&self) {
        loop {
            let notified = self.0.idle.notified();
            if self.0.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// SIGTERM or Ctrl-C.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_events_in_flight_and_refuses_new_ones() {
        use futures_util::FutureExt;
        let in_flight = InFlight::default();
        let first = in_flight.enter().expect("accepted before shutdown");
        let second = in_flight.enter().expect("accepted before shutdown");
        let drained = in_flight.drain();
        tokio::pin!(drained);
        assert!((&mut drained).now_or_never().is_none(), "two in flight");
        assert!(in_flight.enter().is_none(), "refused once shutdown began");
        drop(first);
        assert!((&mut drained).now_or_never().is_none(), "one in flight");
        drop(second);
        assert!(drained.now_or_never().is_some(), "nothing in flight");
    }

    #[tokio::test]
    async fn idle_returns_at_once_when_nothing_is_in_flight() {
        InFlight::default().idle().await;
    }
}
