//! A queue whose writer tasks handle everything waiting in it at once.
//!
//! Database writes under load cost mostly per transaction and per
//! statement (and, on SQLite, per hand-over to sqlx's worker thread), not
//! per row. A [`Batcher`] lets concurrent callers each submit one job and
//! await its own answer, while a writer takes every job queued (up to a
//! cap) and handles them together. When the queue holds one job, the
//! batch is that job; only a batcher given a [`Batching::linger`] waits a
//! little for more, and only while batches follow each other closely (the
//! idea of PostgreSQL's `commit_delay`, which applies only while other
//! transactions are active): jobs spread evenly in time (a chat's messages)
//! would otherwise each be a batch of one, each paying the whole
//! per-transaction cost.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{AppError, AppResult, ErrorCode};

/// Jobs queued beyond this wait for room (back-pressure on callers).
const QUEUE: usize = 4096;

type Queued<J, R> = (J, oneshot::Sender<R>);

/// How a [`Batcher`]'s writers take their batches.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Writer tasks (at least one).
    pub writers: usize,
    /// The most jobs in one batch.
    pub max: usize,
    /// How long a writer that found fewer than `max` jobs waits for more
    /// before it starts, while busy: when the batch before began less than
    /// twice this long ago. `None`: never waits.
    pub linger: Option<Duration>,
}

/// The queue the writers take turns at, and when the last batch began.
struct Jobs<J, R> {
    queue: mpsc::Receiver<Queued<J, R>>,
    last_began: Option<Instant>,
}

pub struct Batcher<J, R> {
    queue: mpsc::Sender<Queued<J, R>>,
}

impl<J, R> Clone for Batcher<J, R> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<J: Send + 'static, R: Send + 'static> Batcher<J, R> {
    /// Starts the writer tasks of `batching`, which each take a batch of
    /// jobs and pass it to `run`, which answers every job, in the order
    /// given.
    pub fn start<F, Fut>(batching: Batching, run: F) -> Self
    where
        F: Fn(Vec<J>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let jobs = Arc::new(Mutex::new(Jobs {
            queue: jobs,
            last_began: None,
        }));
        for _ in 0..batching.writers.max(1) {
            tokio::spawn(write(jobs.clone(), batching, run.clone()));
        }
        Self { queue }
    }

    /// The answer to `job`, or `None` if the writers have stopped.
    pub async fn submit(&self, job: J) -> Option<R> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((job, reply)).await.ok()?;
        answer.await.ok()
    }
}

impl<J: Send + 'static, T: Send + 'static> Batcher<J, AppResult<T>> {
    /// The answer to `job`; `unavailable` if the writers (named by `what`)
    /// have stopped.
    pub async fn answer(&self, job: J, what: &str) -> AppResult<T> {
        self.submit(job)
            .await
            .unwrap_or_else(|| Err(AppError::Unavailable(format!("the {what} stopped"))))
    }
}

/// The answers to `jobs` jobs whose shared transaction failed with `err`:
/// when the database is unavailable every job fails alike; any other error
/// may be one job's doing, so `None`: each job needs an answer of its own.
pub fn shared_failure<T>(err: &AppError, jobs: usize) -> Option<Vec<AppResult<T>>> {
    (err.code() == ErrorCode::Unavailable).then(|| {
        let cause = err.to_string();
        (0..jobs)
            .map(|_| Err(AppError::Unavailable(cause.clone())))
            .collect()
    })
}

async fn write<J, R, F, Fut>(jobs: Arc<Mutex<Jobs<J, R>>>, batching: Batching, run: F)
where
    F: Fn(Vec<J>) -> Fut,
    Fut: Future<Output = Vec<R>>,
{
    loop {
        let Some(batch) = take(&mut *jobs.lock().await, batching).await else {
            return; // every sender is gone: the server stopped
        };
        let (batch, replies): (Vec<J>, Vec<_>) = batch.into_iter().unzip();
        let answers = run(batch).await;
        debug_assert_eq!(answers.len(), replies.len());
        for (reply, answer) in replies.into_iter().zip(answers) {
            // The caller may have gone (its socket closed): nothing to do.
            let _ = reply.send(answer);
        }
    }
}

/// The next batch: what is queued, at least one job (`None` once every
/// sender is gone), and, while busy, what comes in during the linger.
async fn take<J, R>(jobs: &mut Jobs<J, R>, batching: Batching) -> Option<Vec<Queued<J, R>>> {
    let mut batch = Vec::new();
    if jobs.queue.recv_many(&mut batch, batching.max).await == 0 {
        return None;
    }
    let now = Instant::now();
    if let Some(linger) = batching.linger
        && batch.len() < batching.max
        && jobs
            .last_began
            .is_some_and(|began| now.duration_since(began) < linger * 2)
    {
        tokio::time::sleep(linger).await;
        while batch.len() < batching.max {
            let Ok(job) = jobs.queue.try_recv() else {
                break;
            };
            batch.push(job);
        }
    }
    jobs.last_began = Some(Instant::now());
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_each_job_with_its_own_result_and_batches_what_waits() {
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let batching = Batching {
            writers: 1,
            max: 8,
            linger: None,
        };
        let batcher = Batcher::start(batching, move |jobs: Vec<u32>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(jobs.len());
                jobs.into_iter().map(|j| j * 10).collect::<Vec<_>>()
            }
        });
        let answers = futures_util::future::join_all((0..20).map(|j| batcher.submit(j))).await;
        assert_eq!(answers, (0..20).map(|j| Some(j * 10)).collect::<Vec<_>>());
        let sizes = sizes.lock().unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(sizes.iter().all(|&n| n <= 8), "{sizes:?}");
        assert!(sizes.len() < 20, "nothing was batched: {sizes:?}");
    }

    /// A batcher that records the size of each batch.
    fn recording(linger: Duration) -> (Batcher<u32, u32>, Arc<std::sync::Mutex<Vec<usize>>>) {
        let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = batches.clone();
        let batching = Batching {
            writers: 1,
            max: 64,
            linger: Some(linger),
        };
        let batcher = Batcher::start(batching, move |jobs: Vec<u32>| {
            seen.lock().unwrap().push(jobs.len());
            async move { jobs }
        });
        (batcher, batches)
    }

    // The clock is tokio's paused one: it moves only by the sleeps here
    // and the linger's own, so the times asserted are exact.
    #[tokio::test(start_paused = true)]
    async fn an_idle_batcher_answers_at_once_and_a_busy_one_lingers_for_more() {
        let linger = Duration::from_millis(2);
        let (batcher, batches) = recording(linger);
        let started = Instant::now();
        assert_eq!(batcher.submit(7).await, Some(7));
        assert_eq!(Instant::now(), started, "a lone job waited");

        // A job every millisecond: once batches follow each other closely,
        // each waits the linger and takes what came in meanwhile.
        let mut answers = Vec::new();
        for job in 0..20 {
            let batcher = batcher.clone();
            answers.push(tokio::spawn(async move { batcher.submit(job).await }));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for (job, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.await.unwrap(), Some(job as u32));
        }
        let sizes = batches.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 21, "{sizes:?}");
        assert!(
            sizes.len() < 15,
            "the busy stream was not batched: {sizes:?}"
        );

        // Quiet again: after a pause the next job is answered at once.
        tokio::time::sleep(linger * 10).await;
        let quiet = Instant::now();
        assert_eq!(batcher.submit(99).await, Some(99));
        assert_eq!(Instant::now(), quiet, "a job after a quiet spell waited");
        assert_eq!(batches.lock().unwrap().last(), Some(&1));
    }
}
