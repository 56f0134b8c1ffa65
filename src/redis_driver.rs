//! The Redis pub/sub driver of the Socket.IO adapter, over redis'
//! `ConnectionManager` instead of socketioxide-redis' own driver.
//!
//! Why: socketioxide-redis' driver holds one `MultiplexedConnection`, which
//! never reconnects. After Redis restarts, every broadcast of the node fails
//! with "broken pipe" until the process restarts, and since the adapter
//! returns the failed publish before its local broadcast, not even the
//! node's own sockets get events. The `ConnectionManager` reconnects on a
//! lost connection and re-subscribes the adapter's channels; a keep-alive
//! PING makes it notice a Redis that came back even when nothing is
//! published; and a publish that fails is logged and dropped, so the
//! adapter still delivers the event to this node's sockets (clients on
//! other nodes catch up by `seq`, docs/protocol.md §4).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, PushInfo, PushKind, Value};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

/// Every command to Redis is bounded by this: a Redis that does not answer
/// must never hold an ack up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the keep-alive PINGs (and so how soon a returning Redis is seen).
const KEEPALIVE: Duration = Duration::from_secs(1);

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// Cheap to clone: clones share the connection, handlers and state.
#[derive(Clone)]
pub struct ReconnectingDriver {
    conn: ConnectionManager,
    handlers: Handlers,
    up: Arc<AtomicBool>,
}

/// A Redis error, or a command that did not answer in time.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

async fn bounded<T>(
    command: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, DriverError> {
    tokio::time::timeout(COMMAND_TIMEOUT, command)
        .await
        .map_err(|_| DriverError::Timeout(COMMAND_TIMEOUT))?
        .map_err(DriverError::from)
}

impl ReconnectingDriver {
    /// Connects (the first connection must succeed: a node does not start
    /// without its Redis) and starts the keep-alive.
    pub async fn connect(client: &redis::Client) -> redis::RedisResult<Self> {
        let handlers: Handlers = Arc::default();
        let push_handlers = handlers.clone();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(move |push: PushInfo| {
                deliver(push, &push_handlers);
                Ok::<(), Infallible>(())
            })
            .set_automatic_resubscription()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            // A reconnection gives up quickly; the keep-alive starts the next.
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        let driver = Self {
            conn,
            handlers,
            up: Arc::new(AtomicBool::new(true)),
        };
        tokio::spawn(driver.clone().keep_alive());
        Ok(driver)
    }

    /// Whether the last keep-alive PING was answered (for `/health`).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    async fn keep_alive(self) {
        let mut tick = tokio::time::interval(KEEPALIVE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut conn = self.conn.clone();
            let answered = bounded(redis::cmd("PING").query_async::<String>(&mut conn))
                .await
                .is_ok();
            if self.up.swap(answered, Ordering::Relaxed) != answered {
                if answered {
                    tracing::info!("Redis is back: the adapter reconnected and re-subscribed");
                } else {
                    tracing::warn!("Redis is unreachable: events reach this node's sockets only");
                }
            }
        }
    }
}

/// Hands a pub/sub message to the adapter's stream for its channel.
fn deliver(push: PushInfo, handlers: &Handlers) {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) {
        return;
    }
    let mut data = push.data.into_iter();
    let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
        return;
    };
    let (Ok(channel), Ok(payload)) = (
        redis::from_redis_value::<String>(channel),
        redis::from_redis_value::<Vec<u8>>(payload),
    ) else {
        tracing::warn!("unreadable message from Redis");
        return;
    };
    let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = handlers.get(&channel)
        && let Err(err) = tx.try_send((channel, payload))
    {
        tracing::warn!(error = %err, "Redis adapter channel full: message dropped");
    }
}

impl Driver for ReconnectingDriver {
    type Error = DriverError;

    /// A failed publish is logged and reported as sent: the adapter then
    /// still broadcasts locally (it would skip that on an error).
    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let mut conn = self.conn.clone();
        if let Err(err) = bounded(conn.publish::<_, _, Value>(chan, val)).await {
            tracing::warn!(error = %err, "publish to Redis failed: other nodes miss this event");
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        let (tx, rx) = mpsc::channel(size);
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        let mut conn = self.conn.clone();
        bounded(conn.subscribe(chan.as_str())).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        let mut conn = self.conn.clone();
        bounded(conn.unsubscribe(chan.as_str())).await
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let mut conn = self.conn.clone();
        let (_, count): (String, u16) = bounded(
            redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(chan)
                .query_async(&mut conn),
        )
        .await?;
        Ok(count)
    }
}
