//! Group commit: messages sent at the same time are stored in one
//! transaction.
//!
//! A message costs a commit and a handful of statements; on SQLite each
//! statement is also a hand-over to sqlx's worker thread and back. Under
//! load most of that cost is per transaction and per statement, not per
//! byte, so a writer task takes every append waiting in its queue (up to
//! [`MAX_BATCH`]) and stores them together: one BEGIN and one COMMIT for
//! the batch, per message one `UPDATE sessions … RETURNING` (that
//! checks access, that the session is open and that the `clientMessageId`
//! is new, and gives the `seq`), and one INSERT of every message's row.
//!
//! A message alone in the queue is a batch of one. Messages arrive spread
//! in time, not in bursts, so at 2,000 messages a second nearly every one
//! is its own transaction. Given a linger (`--message-linger-ms`), the
//! writer waits that long for more before it starts, but only while
//! batches follow each other within twice the linger: with 1 ms, at 2,000
//! msg/s the server's CPU falls by about 30%, for about 2 ms more latency
//! (bench/README.md, "Fourth pass"). A quiet server never waits. It is
//! off by default: it did not raise the highest rate held at p99 <= 50 ms.
//!
//! `seq` order is kept: the caller holds the session's lock (one append
//! per session in flight on a node), and the UPDATE takes the session's row
//! lock until the batch commits, so concurrent appends on other nodes wait.
//! Jobs run in session-id order, so batches of two nodes lock rows in the
//! same order and cannot deadlock.
//!
//! A message whose UPDATE matches no row (not found, not allowed, closed,
//! a retry of a `clientMessageId`) is left out of the batch and answered
//! [`Outcome::Check`]: the caller then takes the one-by-one path, which
//! names the exact error (or finds the retry's original). So does every
//! message of a batch that fails for any reason but an unavailable
//! database, since one bad statement aborts a PostgreSQL transaction.

use std::time::Duration;

use entities::{message, session};
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, TransactionTrait, TryIntoModel,
};

use super::append::{Appended, may_append, number_in};
use crate::batch::{Batcher, Batching, shared_failure};
use crate::chat::User;
use crate::chat::changes;
use crate::error::{AppError, AppResult};

/// The most messages in one transaction.
pub const MAX_BATCH: usize = 256;

/// A message to store: content already validated.
#[derive(Debug)]
pub struct Append {
    pub user: User,
    pub session_id: String,
    pub content: String,
    pub client_message_id: Option<String>,
}

/// What the batch did with one message.
#[derive(Debug)]
pub enum Outcome {
    Stored(Box<Appended>),
    /// Not stored: check it one by one for the precise answer.
    Check(Append),
}

/// The message writers.
#[derive(Clone)]
pub struct GroupCommit(Batcher<Append, AppResult<Outcome>>);

impl GroupCommit {
    /// Starts the writers: one on SQLite (it has one connection), a few on
    /// PostgreSQL so a batch's round trips overlap the next one's. A busy
    /// writer waits `linger` for more messages before it starts.
    pub fn start(db: DatabaseConnection, linger: Option<Duration>) -> Self {
        let writers = match db.get_database_backend() {
            DbBackend::Sqlite => 1,
            _ => 4,
        };
        let batching = Batching {
            writers,
            max: MAX_BATCH,
            linger,
        };
        Self(Batcher::start(batching, move |batch| {
            let db = db.clone();
            async move { write(&db, batch).await }
        }))
    }

    /// Stores the message with whatever else is waiting.
    pub async fn append(&self, append: Append) -> AppResult<Outcome> {
        self.0.answer(append, "message writer").await
    }
}

/// Stores one batch and answers each of its messages.
async fn write(db: &DatabaseConnection, batch: Vec<Append>) -> Vec<AppResult<Outcome>> {
    let stored = match store(db, &batch).await {
        Ok(stored) => stored,
        Err(err) => {
            tracing::debug!(%err, size = batch.len(), "batch not stored");
            // Unless the database is down, each message is checked alone.
            return shared_failure(&err, batch.len())
                .unwrap_or_else(|| batch.into_iter().map(|a| Ok(Outcome::Check(a))).collect());
        }
    };
    batch
        .into_iter()
        .zip(stored)
        .map(|(append, stored)| {
            Ok(stored.map_or(Outcome::Check(append), |a| Outcome::Stored(Box::new(a))))
        })
        .collect()
}

/// One transaction for the whole batch, in session-id order: the appended
/// message of each one, or `None` for those to check one by one. Each
/// message takes its `seq` with its own UPDATE (always the same statement,
/// prepared once); their rows go in with one INSERT.
async fn store(db: &DatabaseConnection, batch: &[Append]) -> AppResult<Vec<Option<Appended>>> {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by(|&a, &b| batch[a].session_id.cmp(&batch[b].session_id));
    let txn = db.begin().await?;
    let mut numbered: Vec<Option<Numbered>> = batch.iter().map(|_| None).collect();
    for i in order {
        match number_one(&txn, &batch[i]).await {
            Ok(row) => numbered[i] = row,
            Err(err) => {
                txn.rollback().await?;
                return Err(err);
            }
        }
    }
    let rows: Vec<message::ActiveModel> = numbered
        .iter()
        .flatten()
        .map(|(_, message)| message.clone())
        .collect();
    if !rows.is_empty()
        && let Err(err) = message::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
    {
        txn.rollback().await?;
        return Err(err.into());
    }
    let stored = numbered
        .into_iter()
        .map(|row| {
            row.map(|(session, message)| {
                Ok::<_, AppError>(Appended {
                    message: message.try_into_model()?,
                    session,
                    is_new: true,
                    attachments: Vec::new(),
                })
            })
            .transpose()
        })
        .collect::<AppResult<Vec<_>>>()?;
    let each: Vec<(&str, Vec<_>)> = batch
        .iter()
        .zip(&stored)
        .filter_map(|(append, stored)| {
            stored
                .as_ref()
                .map(|a| (append.user.tenant.as_str(), a.changes()))
        })
        .collect();
    changes::commit_each(txn, &each).await?;
    Ok(stored)
}

/// A session after the UPDATE that numbered a message, and its row.
type Numbered = (session::Model, message::ActiveModel);

async fn number_one(txn: &DatabaseTransaction, append: &Append) -> AppResult<Option<Numbered>> {
    let user = &append.user;
    let cmid = append.client_message_id.as_deref();
    number_in(
        txn,
        user,
        &append.session_id,
        may_append(user, &append.session_id, cmid),
        append.content.clone(),
        append.client_message_id.clone(),
    )
    .await
}
