//! HS256 tokens signed with the secret the bench gives the server, with the
//! claims the server reads (`sub`, `role`, `name`, `exp`).

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    role: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a str>,
    exp: u64,
}

/// Mints tokens for one secret; valid for a day.
pub struct Minter {
    key: EncodingKey,
    exp: u64,
}

impl Minter {
    pub fn new(secret: &str) -> Minter {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Minter {
            key: EncodingKey::from_secret(secret.as_bytes()),
            exp: now + 24 * 3600,
        }
    }

    pub fn mint(&self, sub: &str, role: &str) -> anyhow::Result<String> {
        self.mint_in(sub, role, None)
    }

    /// A token of `tenant` (the server's `default` when `None`).
    pub fn mint_in(&self, sub: &str, role: &str, tenant: Option<&str>) -> anyhow::Result<String> {
        let claims = Claims {
            sub,
            role,
            name: sub,
            tenant,
            exp: self.exp,
        };
        Ok(encode(&Header::default(), &claims, &self.key)?)
    }
}
