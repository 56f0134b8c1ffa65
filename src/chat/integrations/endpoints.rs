//! Webhook endpoints: registered by an admin with the event types they
//! want; the secret that signs their deliveries is shown once.
//! Whether the URL's address may be called is `crate::webhooks`' to say
//! (it needs DNS); here the URL's shape is checked.

use base64::Engine;
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, TransactionTrait};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::events::{EventType, join_list, parse_list};
use super::random_bytes;
use crate::chat::access::ensure_admin;
use crate::chat::clock::{now_ms, rfc3339};
use crate::chat::input::Fields;
use crate::chat::routing::sql::{all, execute};
use crate::chat::{User, new_id};
use crate::error::{AppError, AppResult};

const URL_MAX: usize = 2000;
const DESCRIPTION_MAX: usize = 500;

/// A tenant's endpoints, newest first (`$1` the tenant).
pub const LIST_SQL: &str = "SELECT id, url, events, description, created_at FROM webhook_endpoints \
     WHERE tenant = $1 ORDER BY created_at DESC, id DESC";

/// A webhook endpoint as listed (never its secret).
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<EventType>,
    #[schema(required)]
    pub description: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A webhook just registered: the only time `secret` is shown.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_` + base64 of 32 random bytes (Standard Webhooks).
    #[schema(pattern = "^whsec_[A-Za-z0-9+/=]+$")]
    pub secret: String,
}

/// `POST /api/webhooks`, checked and ready to store.
pub struct NewWebhook {
    pub url: url::Url,
    pub events: Vec<EventType>,
    pub description: Option<String>,
}

#[derive(FromQueryResult)]
struct Row {
    id: String,
    url: String,
    events: String,
    description: Option<String>,
    created_at: i64,
}

impl Row {
    fn view(&self) -> WebhookView {
        WebhookView {
            id: self.id.clone(),
            url: self.url.clone(),
            events: parse_list(&self.events),
            description: self.description.clone(),
            created_at: rfc3339(self.created_at),
        }
    }
}

impl NewWebhook {
    /// `{ url, events, description? }`: an http(s) URL with a host and no
    /// credentials, at least one known event type.
    pub fn parse(admin: &User, body: &Value) -> AppResult<Self> {
        ensure_admin(admin, "webhooks")?;
        let fields = Fields::of(body)?;
        let raw = fields
            .opt_str("url")?
            .ok_or_else(|| AppError::invalid("url is required"))?;
        if raw.len() > URL_MAX {
            return Err(AppError::invalid(format!(
                "url is longer than {URL_MAX} characters"
            )));
        }
        let url = url::Url::parse(raw.trim())
            .map_err(|e| AppError::invalid(format!("url is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(AppError::invalid("url must be http or https"));
        }
        if url.host().is_none() {
            return Err(AppError::invalid("url has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(AppError::invalid("url must not carry credentials"));
        }
        let names = body
            .get("events")
            .and_then(Value::as_array)
            .ok_or_else(|| AppError::invalid("events must be an array of event types"))?;
        let mut events = Vec::new();
        for name in names {
            let t = name
                .as_str()
                .and_then(EventType::parse)
                .ok_or_else(|| AppError::invalid(format!("unknown event type {name}")))?;
            if !events.contains(&t) {
                events.push(t);
            }
        }
        if events.is_empty() {
            return Err(AppError::invalid(
                "events must name at least one event type",
            ));
        }
        let description = fields.opt_text("description", DESCRIPTION_MAX)?;
        Ok(Self {
            url,
            events,
            description,
        })
    }
}

/// Stores a checked webhook for the admin's tenant.
pub async fn create(
    db: &impl ConnectionTrait,
    admin: &User,
    new: NewWebhook,
) -> AppResult<CreatedWebhook> {
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(random_bytes(32))
    );
    let row = Row {
        id: new_id(),
        url: new.url.to_string(),
        events: join_list(&new.events),
        description: new.description,
        created_at: now_ms(),
    };
    execute(
        db,
        "INSERT INTO webhook_endpoints (id, tenant, url, events, description, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vec![
            row.id.clone().into(),
            admin.tenant.clone().into(),
            row.url.clone().into(),
            row.events.clone().into(),
            row.description.clone().into(),
            secret.clone().into(),
            row.created_at.into(),
        ],
    )
    .await?;
    Ok(CreatedWebhook {
        webhook: row.view(),
        secret,
    })
}

/// `GET /api/webhooks`: newest first, without secrets.
pub async fn list(db: &impl ConnectionTrait, admin: &User) -> AppResult<Vec<WebhookView>> {
    ensure_admin(admin, "webhooks")?;
    let rows: Vec<Row> = all(db, LIST_SQL, vec![admin.tenant.clone().into()]).await?;
    Ok(rows.iter().map(Row::view).collect())
}

/// The admin's webhook `id`, or `not_found`.
pub async fn find(db: &impl ConnectionTrait, admin: &User, id: &str) -> AppResult<WebhookView> {
    ensure_admin(admin, "webhooks")?;
    let rows: Vec<Row> = all(
        db,
        "SELECT id, url, events, description, created_at FROM webhook_endpoints WHERE id = $1 AND tenant = $2",
        vec![id.into(), admin.tenant.clone().into()],
    )
    .await?;
    rows.first()
        .map(Row::view)
        .ok_or_else(|| AppError::NotFound("webhook not found".into()))
}

/// `DELETE /api/webhooks/{id}`: the endpoint and its deliveries.
pub async fn delete(db: &DatabaseConnection, admin: &User, id: &str) -> AppResult<()> {
    ensure_admin(admin, "webhooks")?;
    let txn = db.begin().await?;
    let deleted = execute(
        &txn,
        "DELETE FROM webhook_endpoints WHERE id = $1 AND tenant = $2",
        vec![id.into(), admin.tenant.clone().into()],
    )
    .await?;
    if deleted == 0 {
        return Err(AppError::NotFound("webhook not found".into()));
    }
    execute(
        &txn,
        "DELETE FROM webhook_deliveries WHERE endpoint_id = $1",
        vec![id.into()],
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
