//! A queue whose writer tasks handle everything waiting in it at once.
//!
//! Database writes under load cost mostly per transaction and per
//! statement (and, on SQLite, per hand-over to sqlx's worker thread), not
//! per row. A [`Batcher`] lets concurrent callers each submit one job and
//! await its own answer, while a writer takes every job queued (up to a
//! cap) and handles them together. Nobody waits for a batch to fill: when
//! the queue holds one job, the batch is that job.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::error::{AppError, AppResult, ErrorCode};

/// Jobs queued beyond this wait for room (back-pressure on callers).
const QUEUE: usize = 4096;

type Queued<J, R> = (J, oneshot::Sender<R>);

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
    /// Starts `writers` tasks that each take up to `max_batch` jobs and pass
    /// them to `run`, which answers every job, in the order given.
    pub fn start<F, Fut>(writers: usize, max_batch: usize, run: F) -> Self
    where
        F: Fn(Vec<J>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..writers.max(1) {
            tokio::spawn(write(jobs.clone(), max_batch, run.clone()));
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

async fn write<J, R, F, Fut>(jobs: Arc<Mutex<mpsc::Receiver<Queued<J, R>>>>, max: usize, run: F)
where
    F: Fn(Vec<J>) -> Fut,
    Fut: Future<Output = Vec<R>>,
{
    loop {
        let mut batch = Vec::new();
        if jobs.lock().await.recv_many(&mut batch, max).await == 0 {
            return; // every sender is gone: the server stopped
        }
        let (batch, replies): (Vec<J>, Vec<_>) = batch.into_iter().unzip();
        let answers = run(batch).await;
        debug_assert_eq!(answers.len(), replies.len());
        for (reply, answer) in replies.into_iter().zip(answers) {
            // The caller may have gone (its socket closed): nothing to do.
            let _ = reply.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_each_job_with_its_own_result_and_batches_what_waits() {
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let batcher = Batcher::start(1, 8, move |jobs: Vec<u32>| {
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
}
