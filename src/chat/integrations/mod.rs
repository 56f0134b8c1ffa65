//! Integrations (docs/protocol.md §10): API keys for the company's own
//! backends, webhook endpoints, and the outbox that reports committed
//! changes to them. The domain stores and reads; delivering over HTTP is
//! `crate::webhooks`'.

pub mod acting;
pub mod deliveries;
pub mod endpoints;
pub mod events;
pub mod keys;
pub mod outbox;
pub mod publish;

use base64::Engine;
use rand::RngCore;

/// `n` random bytes from the operating system's generator.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// URL-safe base64 without padding (API keys).
pub fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
