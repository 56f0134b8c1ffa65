//! Signed, expiring attachment URLs (docs/protocol.md §9): HMAC-SHA256 over
//! the attachment's id, the variant (the file or its thumbnail) and the
//! expiry, checked in constant time. Made afresh whenever a message goes
//! out, so a URL in a history read now works for the TTL from now.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::chat::clock::now_ms;

type HmacSha256 = Hmac<Sha256>;

/// The shortest key accepted (the hash's size).
pub const MIN_KEY_BYTES: usize = 32;

/// What a URL gives: the uploaded file or its thumbnail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    File,
    Thumbnail,
}

impl Variant {
    fn as_str(self) -> &'static str {
        match self {
            Variant::File => "file",
            Variant::Thumbnail => "thumbnail",
        }
    }
}

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
    ttl_seconds: u64,
    /// `--public-url` without its trailing `/`, or empty: URLs are paths.
    base: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("ttl_seconds", &self.ttl_seconds)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(key: Vec<u8>, ttl_seconds: u64, public_url: Option<&str>) -> Self {
        Self {
            key,
            ttl_seconds,
            base: public_url.unwrap_or("").trim_end_matches('/').to_string(),
        }
    }

    /// A key derived from the HS256 JWT secret, for another use than
    /// tokens: a URL signature is never a token signature, and the nodes
    /// that share the secret share the key with nothing more to configure.
    pub fn derive_key(jwt_secret: &str) -> Vec<u8> {
        let mut mac = mac(jwt_secret.as_bytes());
        mac.update(b"switchboard attachment URLs v1");
        mac.finalize().into_bytes().to_vec()
    }

    /// The URL of `variant` of attachment `id`, valid for the TTL from now.
    pub fn url(&self, id: &str, variant: Variant) -> String {
        self.url_for(id, variant, self.ttl_seconds)
    }

    /// Same, valid `ttl_seconds` (webhooks get longer ones).
    pub fn url_for(&self, id: &str, variant: Variant, ttl_seconds: u64) -> String {
        let expires = now_ms() / 1000 + ttl_seconds as i64;
        let path = match variant {
            Variant::File => format!("/api/attachments/{id}"),
            Variant::Thumbnail => format!("/api/attachments/{id}/thumbnail"),
        };
        format!(
            "{}{path}?expires={expires}&signature={}",
            self.base,
            self.signature(id, variant, expires)
        )
    }

    /// Whether `signature` is this server's for `(id, variant, expires)`
    /// and `expires` has not passed. Constant time in the signature.
    pub fn verify(&self, id: &str, variant: Variant, expires: i64, signature: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac = mac(&self.key);
        mac.update(&message(id, variant, expires));
        // `verify_slice` compares in constant time.
        mac.verify_slice(&given).is_ok() && expires >= now_ms() / 1000
    }

    fn signature(&self, id: &str, variant: Variant, expires: i64) -> String {
        let mut mac = mac(&self.key);
        mac.update(&message(id, variant, expires));
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

fn message(id: &str, variant: Variant, expires: i64) -> Vec<u8> {
    format!("{id}\n{}\n{expires}", variant.as_str()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (i64, String) {
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse().unwrap_or_default(),
                Some(("signature", v)) => signature = v.to_string(),
                _ => {}
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_signature_holds_for_its_id_variant_and_expiry_only() {
        let signer = Signer::new(Signer::derive_key("k".repeat(40).as_str()), 60, None);
        let url = signer.url("a1", Variant::File);
        assert!(url.starts_with("/api/attachments/a1?expires="));
        let (expires, signature) = parts(&url);
        assert!(signer.verify("a1", Variant::File, expires, &signature));
        assert!(!signer.verify("a2", Variant::File, expires, &signature));
        assert!(!signer.verify("a1", Variant::Thumbnail, expires, &signature));
        assert!(!signer.verify("a1", Variant::File, expires + 1, &signature));
        assert!(!signer.verify("a1", Variant::File, expires, "bm90IGl0"));
        assert!(!signer.verify("a1", Variant::File, expires, "%%%"));
        let other = Signer::new(Signer::derive_key("j".repeat(40).as_str()), 60, None);
        assert!(!other.verify("a1", Variant::File, expires, &signature));
    }

    #[test]
    fn an_expired_signature_fails() {
        let signer = Signer::new(vec![7; 32], 60, None);
        let past = now_ms() / 1000 - 1;
        let signature = signer.signature("a1", Variant::File, past);
        assert!(!signer.verify("a1", Variant::File, past, &signature));
    }

    #[test]
    fn a_public_url_makes_them_absolute() {
        let signer = Signer::new(vec![7; 32], 60, Some("https://chat.example.com/"));
        let url = signer.url("a1", Variant::Thumbnail);
        assert!(url.starts_with("https://chat.example.com/api/attachments/a1/thumbnail?expires="));
    }
}
