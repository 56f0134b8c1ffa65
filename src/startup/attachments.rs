//! Attachments at start-up (docs/protocol.md §9): the store opened, the
//! URL key chosen, and the sweep of uploads no message took.

use std::sync::Arc;
use std::time::Duration;

use socketioxide::adapter::Adapter;

use crate::app::AppState;
use crate::auth::KeySource;
use crate::chat::attachments::sign::MIN_KEY_BYTES;
use crate::chat::attachments::{self, Attachments, Signer};
use crate::config::ServerConfig;
use crate::storage::Store;

/// Uploads deleted per sweep transaction batch.
const SWEEP_BATCH: u64 = 500;

pub(super) fn open(config: &ServerConfig, source: &KeySource) -> anyhow::Result<Attachments> {
    let settings = &config.attachments;
    let store = Store::open(&settings.attachments_store)?;
    tracing::info!(store = %settings.attachments_store, "attachment store ready");
    let signer = Signer::new(
        url_key(config, source)?,
        settings.attachment_url_ttl_seconds,
        settings.public_url.as_deref(),
    );
    Ok(Attachments::new(settings, store, signer))
}

/// The key of attachment URLs: `--attachment-url-key`; else derived from
/// the HS256 secret (configured, or development mode's generated one), so
/// nodes sharing the secret share it; else (a public-key JWT) a random
/// one, which several nodes cannot share: refused with Redis.
fn url_key(config: &ServerConfig, source: &KeySource) -> anyhow::Result<Vec<u8>> {
    if let Some(key) = &config.attachments.attachment_url_key {
        anyhow::ensure!(
            key.len() >= MIN_KEY_BYTES,
            "--attachment-url-key must be at least {MIN_KEY_BYTES} bytes (generate one with `openssl rand -base64 48`)"
        );
        return Ok(key.as_bytes().to_vec());
    }
    let secret = match (source, &config.jwt_secret) {
        (KeySource::Generated(secret), _) => Some(secret.as_str()),
        (KeySource::Configured, Some(secret)) if config.jwt_public_key_file.is_none() => {
            Some(secret.as_str())
        }
        _ => None,
    };
    if let Some(secret) = secret {
        return Ok(Signer::derive_key(secret));
    }
    anyhow::ensure!(
        config.redis_url.is_none(),
        "with a public-key JWT and several nodes, set --attachment-url-key (ATTACHMENT_URL_KEY) \
         to the same secret on every node, so a URL one node signs works on the others"
    );
    tracing::warn!(
        "attachment URLs are signed with a random key of this process: set --attachment-url-key \
         so they survive a restart"
    );
    Ok(rand::random::<[u8; 32]>().to_vec())
}

/// Every `--attachment-sweep-seconds`, deletes the uploads no message took
/// within `--attachment-unsent-seconds`. Each node sweeps; the deletes are
/// conditional, so two nodes deleting one upload do it once.
pub(super) fn spawn_sweep<A: Adapter>(app: &AppState<A>) {
    let settings = &app.config.attachments;
    let period = Duration::from_secs(settings.attachment_sweep_seconds.max(1));
    let unsent_ms = settings.attachment_unsent_seconds.saturating_mul(1000) as i64;
    let app = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(app) = app.upgrade() else { return };
            if app.in_flight.is_draining() {
                return;
            }
            let store = &app.actions.attachments.store;
            loop {
                match attachments::sweep(&app.db, store, unsent_ms, SWEEP_BATCH).await {
                    Ok(0) => break,
                    Ok(n) => {
                        tracing::info!(deleted = n, "unsent uploads deleted");
                        if n < SWEEP_BATCH {
                            break;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(code = err.code().as_str(), %err, "attachment sweep failed");
                        break;
                    }
                }
            }
        }
    });
}
