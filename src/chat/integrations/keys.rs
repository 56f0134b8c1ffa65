//! API keys: created by an admin, shown once, stored as a SHA-256 of the
//! key. A key is looked up by its hash on every request, so a revoked key
//! fails at once on every node.

use std::collections::HashMap;
use std::sync::Mutex;

use sea_orm::{ConnectionTrait, FromQueryResult};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{base64url, random_bytes};
use crate::chat::access::ensure_admin;
use crate::chat::clock::{now_ms, rfc3339};
use crate::chat::input::Fields;
use crate::chat::routing::sql::{all, execute};
use crate::chat::{User, new_id};
use crate::error::{AppError, AppResult};

/// What every key starts with.
pub const PREFIX: &str = "sbk_";
const NAME_MAX: usize = 100;
/// `lastUsedAt` is written at most this often per key.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A tenant's keys, newest first (`$1` the tenant).
pub const LIST_SQL: &str = "SELECT id, tenant, name, key_hash, created_at, last_used_at FROM api_keys \
     WHERE tenant = $1 ORDER BY created_at DESC, id DESC";
/// The key of a hash (`$1`).
pub const BY_HASH_SQL: &str =
    "SELECT id, tenant, name, key_hash, created_at, last_used_at FROM api_keys WHERE key_hash = $1";

/// An API key as listed (never the key itself).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Updated at most once a minute per key and node.
    #[schema(required, format = DateTime)]
    pub last_used_at: Option<String>,
}

/// A new API key: the only time `key` is shown.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub id: String,
    pub name: String,
    /// `sbk_` + base64url of 32 random bytes; the server keeps a hash.
    #[schema(pattern = "^sbk_[A-Za-z0-9_-]+$")]
    pub key: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The key a server API request came with.
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: String,
    pub tenant: String,
    pub name: String,
}

#[derive(FromQueryResult)]
struct Row {
    id: String,
    tenant: String,
    name: String,
    key_hash: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl Row {
    fn view(&self) -> ApiKeyView {
        ApiKeyView {
            id: self.id.clone(),
            name: self.name.clone(),
            created_at: rfc3339(self.created_at),
            last_used_at: self.last_used_at.map(rfc3339),
        }
    }
}

fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Equal strings, in time that depends only on their lengths.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `POST /api/api-keys { name }`: admins.
pub async fn create(
    db: &impl ConnectionTrait,
    admin: &User,
    body: &serde_json::Value,
) -> AppResult<CreatedApiKey> {
    ensure_admin(admin, "API keys")?;
    let name = Fields::of(body)?
        .opt_text("name", NAME_MAX)?
        .ok_or_else(|| AppError::invalid("name is required"))?;
    let key = format!("{PREFIX}{}", base64url(&random_bytes(32)));
    let id = new_id();
    let now = now_ms();
    execute(
        db,
        "INSERT INTO api_keys (id, tenant, name, key_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        vec![id.clone().into(), admin.tenant.clone().into(), name.clone().into(), hash(&key).into(), admin.id.clone().into(), now.into()],
    )
    .await?;
    Ok(CreatedApiKey {
        id,
        name,
        key,
        created_at: rfc3339(now),
    })
}

/// `GET /api/api-keys`: newest first.
pub async fn list(db: &impl ConnectionTrait, admin: &User) -> AppResult<Vec<ApiKeyView>> {
    ensure_admin(admin, "API keys")?;
    let rows: Vec<Row> = all(db, LIST_SQL, vec![admin.tenant.clone().into()]).await?;
    Ok(rows.iter().map(Row::view).collect())
}

/// `DELETE /api/api-keys/{id}`: gone for every node at once.
pub async fn revoke(db: &impl ConnectionTrait, admin: &User, id: &str) -> AppResult<()> {
    ensure_admin(admin, "API keys")?;
    let deleted = execute(
        db,
        "DELETE FROM api_keys WHERE id = $1 AND tenant = $2",
        vec![id.into(), admin.tenant.clone().into()],
    )
    .await?;
    if deleted == 0 {
        return Err(AppError::NotFound("API key not found".into()));
    }
    Ok(())
}

/// Looks keys up and notes when each was last used.
#[derive(Default)]
pub struct KeyCheck {
    /// When this node last wrote each key's `last_used_at`.
    touched: Mutex<HashMap<String, i64>>,
}

impl KeyCheck {
    /// The key `raw` is, or 401.
    pub async fn authenticate(&self, db: &impl ConnectionTrait, raw: &str) -> AppResult<ApiKey> {
        let unauthorized = || AppError::Unauthorized("invalid API key".into());
        if !raw.starts_with(PREFIX) || raw.len() > 200 {
            return Err(unauthorized());
        }
        let digest = hash(raw);
        let rows: Vec<Row> = all(db, BY_HASH_SQL, vec![digest.clone().into()]).await?;
        let row = rows
            .into_iter()
            .find(|row| same(&row.key_hash, &digest))
            .ok_or_else(unauthorized)?;
        self.touch(db, &row.id).await;
        Ok(ApiKey {
            id: row.id,
            tenant: row.tenant,
            name: row.name,
        })
    }

    async fn touch(&self, db: &impl ConnectionTrait, id: &str) {
        let now = now_ms();
        {
            let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
            if touched.get(id).is_some_and(|at| now - at < TOUCH_EVERY_MS) {
                return;
            }
            touched.insert(id.to_string(), now);
        }
        let written = execute(
            db,
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2",
            vec![now.into(), id.into()],
        )
        .await;
        if let Err(err) = written {
            tracing::warn!(error = %err, "could not note an API key's last use");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_hex_sha256_and_compared_exactly() {
        let h = hash("sbk_x");
        assert_eq!(h.len(), 64);
        assert!(same(&h, &hash("sbk_x")));
        assert!(!same(&h, &hash("sbk_y")));
        assert!(!same("ab", "abc"));
    }
}
