//! The bench's users: REST calls with a bearer token, and a Socket.IO
//! socket whose events are called one at a time (emit, wait for the ack).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::sio::{Client, Incoming};

/// A user over REST.
#[derive(Clone)]
pub struct Rest {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Rest {
    pub fn new(http: &reqwest::Client, addr: SocketAddr, token: String) -> Rest {
        Rest {
            http: http.clone(),
            base: format!("http://{addr}"),
            token,
        }
    }

    /// GET `path`: the body, and how long the answer took.
    pub async fn get(&self, path: &str) -> anyhow::Result<(Value, Duration)> {
        let started = Instant::now();
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        self.body(response, started, path).await
    }

    /// POST `path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(Value, Duration)> {
        let started = Instant::now();
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        self.body(response, started, path).await
    }

    async fn body(
        &self,
        response: reqwest::Response,
        started: Instant,
        path: &str,
    ) -> anyhow::Result<(Value, Duration)> {
        let status = response.status();
        // Timed to the last byte, before the bench parses it.
        let bytes = response.bytes().await?;
        let took = started.elapsed();
        let body: Value = serde_json::from_slice(&bytes)?;
        if !status.is_success() {
            bail!("{path}: {status} {body}");
        }
        Ok((body, took))
    }
}

/// A connected `/chat` socket.
pub struct Socket {
    client: Client,
    events: mpsc::UnboundedReceiver<Incoming>,
    next_ack: u64,
}

impl Socket {
    pub async fn connect(addr: SocketAddr, token: &str) -> anyhow::Result<Socket> {
        let (tx, events) = mpsc::unbounded_channel();
        let client = Client::connect(addr, None, token, tx, Duration::from_secs(10))
            .await
            .map_err(|e| anyhow::anyhow!("socket: {e}"))?;
        Ok(Socket {
            client,
            events,
            next_ack: 1,
        })
    }

    /// Emits `event` and waits for its ack: the ack's `data`, and how long
    /// it took (to the instant its frame was read).
    pub async fn call(
        &mut self,
        event: &str,
        payload: &Value,
    ) -> anyhow::Result<(Value, Duration)> {
        let id = self.next_ack;
        self.next_ack += 1;
        let started = Instant::now();
        if !self.client.emit_with_ack(event, &payload.to_string(), id) {
            bail!("{event}: socket closed");
        }
        let wait = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match self.events.recv().await {
                    Some(Incoming::Ack {
                        id: got,
                        payload,
                        at,
                    }) if got == id => {
                        return Ok((payload, at));
                    }
                    Some(Incoming::Closed { reason }) => bail!("{event}: closed: {reason}"),
                    Some(_) => {}
                    None => bail!("{event}: socket gone"),
                }
            }
        });
        let (payload, at) = wait.await.context("no ack in 30 s")??;
        let ack: Value = serde_json::from_str(&payload)?;
        if ack["ok"] != Value::Bool(true) {
            bail!("{event}: {ack}");
        }
        Ok((ack["data"].clone(), at - started))
    }

    /// The client and its incoming channel, for a caller that sends
    /// without waiting for each ack.
    pub fn parts(&mut self) -> (&Client, &mut mpsc::UnboundedReceiver<Incoming>) {
        (&self.client, &mut self.events)
    }
}
