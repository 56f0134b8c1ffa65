//! One question in flight per key, its answer shared by everyone who
//! waited for it. A caller that arrives while a question is in flight
//! waits for the next one, which starts after it arrived: no caller gets
//! an answer older than its own call.
//!
//! Used for presence on several nodes, which asks every node for the rooms
//! of the tenant's sockets: 1,000 agents logging on at once asked that
//! 1,000 times, each answer in proportion to everyone connected (issue
//! 18). Now the questions of a burst share one request per round trip.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The last answer for a key and the ticket drawn when its question
/// started. Tokio's mutex: it is held across the question's `.await`, and
/// the callers queued on it are the ones who share the next answer.
type Slot<V> = Arc<tokio::sync::Mutex<Option<(u64, V)>>>;

pub struct SingleFlight<K, V> {
    /// Tickets, drawn on arrival and when a question starts: an answer is
    /// fresh for a caller if its question's ticket is the larger.
    tickets: AtomicU64,
    /// One slot per key ever asked about here, kept: a key is a tenant,
    /// about 100 bytes each. A `std` mutex: only looked up, never held
    /// across an `.await`.
    slots: Mutex<HashMap<K, Slot<V>>>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            tickets: AtomicU64::new(0),
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> SingleFlight<K, V> {
    /// `ask()`'s answer, or that of a question for the same key that
    /// started after this call. If the caller asking is dropped midway,
    /// the next waiter asks.
    pub async fn run<F, Fut>(&self, key: &K, ask: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let arrived = self.tickets.fetch_add(1, Ordering::SeqCst);
        let slot = self.slot(key);
        let mut last = slot.lock().await;
        if let Some((started, answer)) = &*last
            && *started > arrived
        {
            return answer.clone();
        }
        let started = self.tickets.fetch_add(1, Ordering::SeqCst);
        let answer = ask().await;
        *last = Some((started, answer.clone()));
        answer
    }

    fn slot(&self, key: &K) -> Slot<V> {
        // Every statement leaves the map whole: a poisoned lock is usable.
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(key) {
            return slot.clone();
        }
        slots.entry(key.clone()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll, Waker};

    use tokio::sync::Semaphore;

    use super::*;

    /// A question that counts itself and waits for a permit of `gate`.
    async fn ask(calls: &AtomicUsize, gate: &Semaphore) -> usize {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        gate.acquire().await.expect("gate open").forget();
        n
    }

    fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        fut.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[tokio::test]
    async fn callers_during_a_question_share_the_next_one_and_never_an_older_answer() {
        let flight = SingleFlight::<String, usize>::default();
        let (calls, gate) = (AtomicUsize::new(0), Semaphore::new(0));
        let key = "t".to_string();

        let mut first = pin!(flight.run(&key, || ask(&calls, &gate)));
        assert!(
            poll_once(first.as_mut()).is_pending(),
            "question 1 in flight"
        );
        // Arrive while question 1 is in flight: it is too old for them.
        let mut second = pin!(flight.run(&key, || ask(&calls, &gate)));
        let mut third = pin!(flight.run(&key, || ask(&calls, &gate)));
        assert!(poll_once(second.as_mut()).is_pending());
        assert!(poll_once(third.as_mut()).is_pending());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        gate.add_permits(1);
        assert_eq!(first.await, 1);
        // The second asks again; the third waits for that answer.
        assert!(
            poll_once(second.as_mut()).is_pending(),
            "question 2 in flight"
        );
        assert!(poll_once(third.as_mut()).is_pending());
        gate.add_permits(1);
        assert_eq!(second.await, 2);
        assert_eq!(
            third.await,
            2,
            "shared, and started after the third arrived"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // A later caller never gets an answer from before it came.
        gate.add_permits(1);
        assert_eq!(flight.run(&key, || ask(&calls, &gate)).await, 3);
    }

    #[tokio::test]
    async fn keys_do_not_wait_for_each_other() {
        let flight = SingleFlight::<String, usize>::default();
        let (calls, gate) = (AtomicUsize::new(0), Semaphore::new(0));
        let (a, b) = ("a".to_string(), "b".to_string());

        let mut on_a = pin!(flight.run(&a, || ask(&calls, &gate)));
        assert!(poll_once(on_a.as_mut()).is_pending());
        let mut on_b = pin!(flight.run(&b, || ask(&calls, &gate)));
        assert!(poll_once(on_b.as_mut()).is_pending());
        assert_eq!(calls.load(Ordering::SeqCst), 2, "both asked at once");
        gate.add_permits(2);
        assert_eq!(on_a.await + on_b.await, 3);
    }

    #[tokio::test]
    async fn a_waiter_asks_itself_when_the_caller_asking_goes_away() {
        let flight = SingleFlight::<String, usize>::default();
        let (calls, gate) = (AtomicUsize::new(0), Semaphore::new(0));
        let key = "t".to_string();

        let mut waiter = {
            let mut leaver = Box::pin(flight.run(&key, || ask(&calls, &gate)));
            assert!(poll_once(leaver.as_mut()).is_pending());
            let mut waiter = Box::pin(flight.run(&key, || ask(&calls, &gate)));
            assert!(poll_once(waiter.as_mut()).is_pending());
            waiter
            // `leaver` dropped here, its question unanswered.
        };
        assert!(poll_once(waiter.as_mut()).is_pending(), "the waiter asks");
        gate.add_permits(1);
        assert_eq!(waiter.await, 2);
    }
}
