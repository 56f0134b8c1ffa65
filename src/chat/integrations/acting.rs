//! Who acts when an API key writes (docs/protocol.md §10): the customer a
//! backend opens a session for, the session's customer a gateway relays,
//! or the key's bot; and which sessions a key may reach (its tenant's).

use entities::session;
use sea_orm::ConnectionTrait;
use serde_json::Value;

use super::keys::ApiKey;
use crate::chat::input::Fields;
use crate::chat::{Role, User, sessions, users};
use crate::error::{AppError, AppResult};

/// The longest `customerName` or `senderName`.
pub const NAME_MAX: usize = 100;

/// The session `id` of the key's tenant; another tenant's (or none) is
/// `not_found`.
pub async fn session(
    db: &impl ConnectionTrait,
    key: &ApiKey,
    id: &str,
) -> AppResult<session::Model> {
    let row = sessions::reload(db, id).await?;
    if row.tenant != key.tenant {
        return Err(AppError::session_not_found());
    }
    Ok(row)
}

/// `POST /api/server/sessions`: customer `customerId` of the key's tenant,
/// named `customerName`.
pub fn customer(key: &ApiKey, body: &Value) -> AppResult<User> {
    let fields = Fields::of(body)?;
    Ok(User {
        id: fields.id("customerId")?,
        tenant: key.tenant.clone(),
        role: Role::Customer,
        name: fields.opt_text("customerName", NAME_MAX)?,
        email: None,
    })
}

/// Who a server API message or upload to session `session_id` is from:
/// `customer`, the session's customer (named `name`, else as known), or
/// `bot`, the key's bot (`bot:` + key id, named `name`, else the key's
/// name).
pub async fn sender(
    db: &impl ConnectionTrait,
    key: &ApiKey,
    session_id: &str,
    from: Option<&str>,
    name: Option<String>,
) -> AppResult<User> {
    let row = session(db, key, session_id).await?;
    match from {
        Some("customer") => {
            let known = users::find(db, &key.tenant, &row.customer_id).await?;
            Ok(User {
                id: row.customer_id,
                tenant: key.tenant.clone(),
                role: Role::Customer,
                name: name.or(known.and_then(|u| u.name)),
                email: None,
            })
        }
        Some("bot") => Ok(User {
            id: format!("bot:{}", key.id),
            tenant: key.tenant.clone(),
            role: Role::Bot,
            name: Some(name.unwrap_or_else(|| key.name.clone())),
            email: None,
        }),
        _ => Err(AppError::invalid("from must be 'customer' or 'bot'")),
    }
}
