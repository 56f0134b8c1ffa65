//! The delivery workers of one node: claim due deliveries (a lease in the
//! database, so one node attempts a delivery at a time), send each as a
//! signed POST within the timeout, record the outcome, and tell the
//! tenant's admins. At most `concurrency` requests are in flight from the
//! node, and at most `per_endpoint` to one endpoint, so a slow or dead
//! endpoint holds a few slots and never the rest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sea_orm::DatabaseConnection;
use serde_json::json;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use super::WebhookConfig;
use super::address::{self, CheckedResolver};
use super::sign::signature;
use crate::chat::attachments::sign::{Signer, Variant};
use crate::chat::clock::now_ms;
use crate::chat::integrations::deliveries::{self, Claimed, DeliveryView, Outcome};
use crate::chat::integrations::outbox;
use crate::fanout::{Fanout, payload, rooms};

/// How often a node looks for due deliveries when nothing woke it.
const ROUND: Duration = Duration::from_secs(1);
/// How long shutdown waits for webhook attempts in flight.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);
/// How long a claim lasts beyond the attempt's own timeout.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// How often ended deliveries past their retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const PRUNE_BATCH: u64 = 500;
/// The most of a receiver's answer kept as `lastError`.
const ERROR_MAX: usize = 300;

pub struct Webhooks {
    db: DatabaseConnection,
    fanout: Arc<Fanout>,
    config: WebhookConfig,
    /// Built at the first attempt: a node that never delivers does not
    /// load TLS roots.
    client: OnceLock<reqwest::Client>,
    slots: Arc<Semaphore>,
    in_flight: Mutex<HashMap<String, usize>>,
    wake: Notify,
    node: String,
    /// Signs the attachment links of a delivery afresh at each attempt.
    signer: Signer,
}

/// How long the attachment links in a delivery work, from its attempt.
const LINK_TTL_SECONDS: u64 = 86_400;

impl Webhooks {
    pub fn new(
        db: DatabaseConnection,
        fanout: Arc<Fanout>,
        config: WebhookConfig,
        node: String,
        signer: Signer,
    ) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            db,
            fanout,
            config,
            client: OnceLock::new(),
            in_flight: Mutex::default(),
            wake: Notify::new(),
            node,
            signer,
        })
    }

    /// The HTTP client: no redirects, no proxy, the attempt's timeout,
    /// and names resolved to checked addresses only.
    fn client(&self) -> Result<&reqwest::Client, String> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.config.timeout)
            .connect_timeout(self.config.timeout)
            .dns_resolver(Arc::new(CheckedResolver {
                allow_private: self.config.allow_private,
            }))
            .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the HTTP client could not be built: {e}"))?;
        Ok(self.client.get_or_init(|| client))
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// Look for due deliveries now (a retry was asked for, a slot freed,
    /// a retry came due).
    pub fn kick(&self) {
        self.wake.notify_one();
    }

    /// Runs until `stop`; attempts in flight finish (within the timeout).
    pub fn spawn(self: &Arc<Self>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut next_prune = tokio::time::Instant::now() + PRUNE_EVERY / 60;
            loop {
                if tokio::time::Instant::now() >= next_prune {
                    next_prune += PRUNE_EVERY;
                    this.prune().await;
                }
                let claimed = this.claim_round().await;
                // A full round may leave more due: go again at once.
                if claimed > 0 && this.slots.available_permits() > 0 {
                    continue;
                }
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(ROUND) => {}
                    _ = outbox::recorded() => {}
                    _ = this.wake.notified() => {}
                }
            }
            // Let attempts in flight end, for a while: one cut short is
            // attempted again (by any node) once its lease runs out.
            let all = this.config.concurrency.max(1) as u32;
            let wait = this.config.timeout.min(SHUTDOWN_WAIT);
            if tokio::time::timeout(wait, this.slots.acquire_many(all))
                .await
                .is_err()
            {
                tracing::info!(
                    "webhook attempts still in flight at shutdown; they will be attempted again"
                );
            }
        })
    }

    /// Deletes the ended deliveries older than the retention.
    async fn prune(&self) {
        let before = now_ms() - self.config.retention.as_millis() as i64;
        let mut total = 0;
        loop {
            match deliveries::prune(&self.db, before, PRUNE_BATCH).await {
                Ok(n) => {
                    total += n;
                    if n < PRUNE_BATCH {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not prune webhook deliveries");
                    break;
                }
            }
        }
        if total > 0 {
            tracing::info!(
                events = total,
                "old webhook events and their deliveries deleted"
            );
        }
    }

    /// Claims what this node has room for and starts the attempts; how
    /// many it claimed.
    async fn claim_round(self: &Arc<Self>) -> usize {
        let free = self.slots.available_permits();
        if free == 0 {
            return 0;
        }
        let busy: Vec<String> = self
            .counts()
            .iter()
            .filter(|(_, n)| **n >= self.config.per_endpoint.max(1))
            .map(|(id, _)| id.clone())
            .collect();
        let token = format!("{}:{}", self.node, crate::chat::new_id());
        let lease = (self.config.timeout + LEASE_MARGIN).as_millis() as i64;
        // At most one endpoint's share per round: a round's deliveries may
        // all be one endpoint's.
        let share = self.config.per_endpoint.max(1);
        let limit = free.min(share);
        let claimed = match deliveries::claim(&self.db, &token, limit, &busy, lease).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "could not claim webhook deliveries");
                return 0;
            }
        };
        let mut started = 0;
        let mut extra = Vec::new();
        for delivery in claimed {
            let over_share = self
                .counts()
                .get(&delivery.endpoint_id)
                .copied()
                .unwrap_or(0)
                >= share;
            let permit = match self.slots.clone().try_acquire_owned() {
                Ok(permit) if !over_share => permit,
                _ => {
                    extra.push(delivery.id);
                    continue;
                }
            };
            *self
                .counts()
                .entry(delivery.endpoint_id.clone())
                .or_default() += 1;
            let this = self.clone();
            let token = token.clone();
            started += 1;
            tokio::spawn(async move {
                let endpoint = delivery.endpoint_id.clone();
                this.attempt(delivery, &token).await;
                let mut counts = this.counts();
                if let Some(n) = counts.get_mut(&endpoint) {
                    *n -= 1;
                    if *n == 0 {
                        counts.remove(&endpoint);
                    }
                }
                drop(permit);
                // A slot is free: look for more.
                this.kick();
            });
        }
        if !extra.is_empty()
            && let Err(err) = deliveries::release(&self.db, &extra, &token).await
        {
            tracing::warn!(error = %err, "could not release extra claims; their lease will run out");
        }
        started
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn attempt(self: &Arc<Self>, delivery: Claimed, token: &str) {
        let outcome = match self.send(&delivery).await {
            Ok(status) if (200..300).contains(&status) => Outcome::Delivered { status },
            Ok(status) => self.failed(&delivery, Some(status), format!("answered {status}")),
            Err(error) => self.failed(&delivery, None, error),
        };
        if let Outcome::Failed {
            again_at: Some(at), ..
        } = &outcome
        {
            // Look again when the retry is due, not at the round after.
            let wait = Duration::from_millis((*at - now_ms()).max(0) as u64);
            let this = Arc::downgrade(self);
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                if let Some(this) = this.upgrade() {
                    this.kick();
                }
            });
        }
        match deliveries::finish(&self.db, &delivery, token, outcome).await {
            Ok(Some(view)) => {
                self.announce(&delivery.tenant, &delivery.endpoint_id, view)
                    .await
            }
            Ok(None) => {
                tracing::info!(delivery = %delivery.id, "delivery was claimed again meanwhile; outcome not recorded")
            }
            Err(err) => {
                tracing::warn!(delivery = %delivery.id, error = %err, "could not record a delivery's outcome; its lease will run out and it is attempted again")
            }
        }
    }

    /// A failed attempt: again after the schedule's next wait, or never.
    fn failed(&self, delivery: &Claimed, status: Option<u16>, error: String) -> Outcome {
        let retry = usize::try_from(delivery.attempts - 1)
            .ok()
            .and_then(|i| self.config.schedule.get(i));
        tracing::info!(
            delivery = %delivery.id,
            attempts = delivery.attempts,
            error = %error,
            retry_in_seconds = ?retry,
            "webhook attempt failed"
        );
        Outcome::Failed {
            status,
            error,
            again_at: retry.map(|s| now_ms() + (*s as i64).saturating_mul(1000)),
        }
    }

    /// One signed POST; the status, or why there was none.
    async fn send(&self, delivery: &Claimed) -> Result<u16, String> {
        let url = url::Url::parse(&delivery.url).map_err(|e| format!("bad URL: {e}"))?;
        address::check_literal(&url, self.config.allow_private)?;
        let timestamp = now_ms() / 1000;
        let body = self.fresh_links(&delivery.body);
        let signature = signature(&delivery.secret, &delivery.event_id, timestamp, &body)?;
        let response = self
            .client()?
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        let status = response.status().as_u16();
        Ok(status)
    }

    /// The body with its message's attachment links signed for
    /// [`LINK_TTL_SECONDS`] from now (a retry hours later still links to
    /// working URLs); as stored when it has none.
    fn fresh_links(&self, body: &str) -> String {
        if !body.contains("\"attachments\":[{") {
            return body.to_string();
        }
        let Ok(mut event) = serde_json::from_str::<serde_json::Value>(body) else {
            return body.to_string();
        };
        let links = event
            .pointer_mut("/data/message/attachments")
            .and_then(serde_json::Value::as_array_mut);
        for attachment in links.into_iter().flatten() {
            let Some(id) = attachment["id"].as_str().map(str::to_owned) else {
                continue;
            };
            attachment["url"] = self
                .signer
                .url_for(&id, Variant::File, LINK_TTL_SECONDS)
                .into();
            if attachment["thumbnailUrl"].is_string() {
                attachment["thumbnailUrl"] = self
                    .signer
                    .url_for(&id, Variant::Thumbnail, LINK_TTL_SECONDS)
                    .into();
            }
        }
        event.to_string()
    }

    /// Tells the tenant's admins how a delivery stands.
    async fn announce(&self, tenant: &str, webhook_id: &str, delivery: DeliveryView) {
        let data = payload(&json!({ "webhookId": webhook_id, "delivery": delivery }));
        self.fanout
            .emit(vec![rooms::admins(tenant)], "webhook-delivery".into(), data)
            .await;
    }

    /// A delivery an admin asked to retry: announced, and looked at now.
    pub async fn retried(&self, tenant: &str, webhook_id: &str, delivery: DeliveryView) {
        self.announce(tenant, webhook_id, delivery).await;
        self.kick();
    }
}

/// What went wrong with a request, without the URL's query (which may
/// carry a receiver's token).
fn describe(err: reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_redirect() {
        "redirected"
    } else {
        "request failed"
    };
    let err = err.without_url();
    let mut text = format!("{kind}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text.chars().take(ERROR_MAX).collect()
}
