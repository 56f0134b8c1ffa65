//! Per-tenant settings (docs/protocol.md §3 `TenantSettings`, §7): stored
//! as the keys the tenant's admins set, over the server's defaults, so a
//! tenant that never set a key follows the server's flag for it.

use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, Statement, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::hours::BusinessHours;
use crate::chat::changes::{self, Change};
use crate::chat::clock::now_ms;
use crate::chat::{Changed, Role, User};
use crate::error::{AppError, AppResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[derive(utoipa::ToSchema)]
pub enum RoutingMode {
    /// Agents take sessions themselves (v1.2 behaviour).
    Manual,
    /// The server assigns sessions to routable agents with room.
    Auto,
}

/// The server's defaults, from its flags.
#[derive(Clone, Debug)]
pub struct Defaults {
    pub routing: RoutingMode,
    pub default_max_chats: u16,
    pub reassign_after_offline_seconds: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSettings {
    pub routing: RoutingMode,
    #[schema(minimum = 1, maximum = 100)]
    pub default_max_chats: u16,
    /// null: never.
    #[schema(required, maximum = 86400)]
    pub reassign_after_offline_seconds: Option<u32>,
    /// null: always open.
    #[schema(required)]
    pub business_hours: Option<BusinessHours>,
    #[schema(required, max_length = 1000)]
    pub offline_message: Option<String>,
    pub ratings_enabled: bool,
}

// The body `TenantSettings::set` reads key by key, as a type for the
// OpenAPI document.

/// `PATCH /api/settings`: any subset of the `TenantSettings`; an unknown
/// key or a bad value is `invalid_payload` and changes nothing.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct SettingsPatchBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub routing: Option<RoutingMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1, maximum = 100)]
    pub default_max_chats: Option<u16>,
    /// null: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u32>, maximum = 86400)]
    pub reassign_after_offline_seconds: Option<Option<u32>>,
    /// null: always open.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BusinessHours>)]
    pub business_hours: Option<Option<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub offline_message: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ratings_enabled: Option<bool>,
}

pub const MAX_OFFLINE_MESSAGE_CHARS: usize = 1000;

impl TenantSettings {
    /// `stored` (already validated keys) over `defaults`.
    fn from_stored(defaults: &Defaults, stored: &Map<String, Value>) -> Self {
        let mut settings = Self {
            routing: defaults.routing,
            default_max_chats: defaults.default_max_chats,
            reassign_after_offline_seconds: defaults.reassign_after_offline_seconds,
            business_hours: None,
            offline_message: None,
            ratings_enabled: true,
        };
        for (key, value) in stored {
            // Stored values were checked when set; a value that no longer
            // parses (a time zone removed from the database) is skipped.
            if let Err(err) = settings.set(key, value) {
                tracing::warn!(key, %err, "stored setting ignored");
            }
        }
        settings
    }

    /// Sets one key from its JSON value, checking it.
    fn set(&mut self, key: &str, value: &Value) -> AppResult<()> {
        let bad = |what: &str| AppError::invalid(format!("{key} must be {what}"));
        match key {
            "routing" => {
                self.routing =
                    serde_json::from_value(value.clone()).map_err(|_| bad("'manual' or 'auto'"))?;
            }
            "defaultMaxChats" => {
                self.default_max_chats = value
                    .as_u64()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| bad("an integer from 1 to 100"))?
                    as u16;
            }
            "reassignAfterOfflineSeconds" => {
                self.reassign_after_offline_seconds = match value {
                    Value::Null => None,
                    _ => Some(
                        value
                            .as_u64()
                            .filter(|n| *n <= 86_400)
                            .ok_or_else(|| bad("an integer from 0 to 86400, or null"))?
                            as u32,
                    ),
                };
            }
            "businessHours" => {
                self.business_hours = match value {
                    Value::Null => None,
                    _ => Some(BusinessHours::parse(value)?),
                };
            }
            "offlineMessage" => {
                self.offline_message = match value {
                    Value::Null => None,
                    Value::String(text) if text.chars().count() <= MAX_OFFLINE_MESSAGE_CHARS => {
                        Some(text.clone())
                    }
                    _ => return Err(bad("a string of at most 1000 characters, or null")),
                };
            }
            "ratingsEnabled" => {
                self.ratings_enabled = value.as_bool().ok_or_else(|| bad("true or false"))?;
            }
            _ => return Err(AppError::invalid(format!("unknown setting '{key}'"))),
        }
        Ok(())
    }
}

#[derive(FromQueryResult)]
struct Stored {
    settings: String,
}

async fn stored(db: &impl ConnectionTrait, tenant: &str) -> AppResult<Map<String, Value>> {
    let row = Stored::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT settings FROM tenant_settings WHERE tenant = $1",
        [tenant.into()],
    ))
    .one(db)
    .await?;
    Ok(row
        .and_then(|row| serde_json::from_str(&row.settings).ok())
        .unwrap_or_default())
}

/// The tenant's settings now.
pub async fn load(
    db: &impl ConnectionTrait,
    defaults: &Defaults,
    tenant: &str,
) -> AppResult<TenantSettings> {
    Ok(TenantSettings::from_stored(
        defaults,
        &stored(db, tenant).await?,
    ))
}

/// `GET /api/settings`: staff only.
pub async fn get(
    db: &impl ConnectionTrait,
    defaults: &Defaults,
    user: &User,
) -> AppResult<TenantSettings> {
    if !user.role.is_staff() {
        return Err(AppError::Forbidden(
            "only agents and admins see the settings".into(),
        ));
    }
    load(db, defaults, &user.tenant).await
}

/// `PATCH /api/settings`: an admin sets any subset of the keys. Every key
/// is checked before anything is stored: one bad value changes nothing.
pub async fn update(
    db: &DatabaseConnection,
    defaults: &Defaults,
    user: &User,
    patch: &Value,
) -> AppResult<Changed<TenantSettings>> {
    if user.role != Role::Admin {
        return Err(AppError::Forbidden(
            "only admins change the settings".into(),
        ));
    }
    let empty = Map::new();
    let patch = match patch {
        Value::Null => &empty,
        other => other
            .as_object()
            .ok_or_else(|| AppError::invalid("the body must be an object of settings"))?,
    };
    let mut check = TenantSettings::from_stored(defaults, &Map::new());
    for (key, value) in patch {
        check.set(key, value)?;
    }
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    // Touch the row first: it locks it (PostgreSQL) or takes the write lock
    // (SQLite), so two admins' patches of different keys both survive.
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        "INSERT INTO tenant_settings (tenant, settings, updated_at) VALUES ($1, '{}', $2) \
         ON CONFLICT (tenant) DO UPDATE SET updated_at = excluded.updated_at",
        [user.tenant.clone().into(), now_ms().into()],
    ))
    .await?;
    let mut keys = stored(&txn, &user.tenant).await?;
    let before = TenantSettings::from_stored(defaults, &keys);
    for (key, value) in patch {
        keys.insert(key.clone(), value.clone());
    }
    let after = TenantSettings::from_stored(defaults, &keys);
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        "UPDATE tenant_settings SET settings = $2 WHERE tenant = $1",
        [
            user.tenant.clone().into(),
            Value::Object(keys).to_string().into(),
        ],
    ))
    .await?;
    let changed = if after != before {
        vec![Change::SettingsChanged(after.clone())]
    } else {
        Vec::new()
    };
    changes::commit(txn, &user.tenant, &changed).await?;
    Ok(Changed::new(&user.tenant, after, changed))
}

/// Tenants whose settings have business hours (the sweep watches their
/// opening and closing).
pub async fn tenants_with_hours(db: &impl ConnectionTrait) -> AppResult<Vec<String>> {
    #[derive(FromQueryResult)]
    struct Row {
        tenant: String,
        settings: String,
    }
    let rows = Row::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT tenant, settings FROM tenant_settings",
    ))
    .all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|row| {
            serde_json::from_str::<Map<String, Value>>(&row.settings)
                .is_ok_and(|keys| keys.get("businessHours").is_some_and(|h| !h.is_null()))
        })
        .map(|row| row.tenant)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> Defaults {
        Defaults {
            routing: RoutingMode::Manual,
            default_max_chats: 5,
            reassign_after_offline_seconds: Some(300),
        }
    }

    #[test]
    fn unset_keys_follow_the_defaults() {
        let stored = json!({ "routing": "auto", "offlineMessage": "Back at 9" });
        let settings = TenantSettings::from_stored(&defaults(), stored.as_object().unwrap());
        assert_eq!(
            serde_json::to_value(&settings).unwrap(),
            json!({
                "routing": "auto", "defaultMaxChats": 5, "reassignAfterOfflineSeconds": 300,
                "businessHours": null, "offlineMessage": "Back at 9", "ratingsEnabled": true
            })
        );
    }

    #[test]
    fn a_settings_patch_body_is_what_its_parser_reads() {
        let body = SettingsPatchBody {
            routing: Some(RoutingMode::Auto),
            default_max_chats: Some(3),
            reassign_after_offline_seconds: Some(None),
            business_hours: Some(Some(json!({
                "timezone": "Europe/Madrid", "weekly": { "mon": [["09:00", "17:00"]] }
            }))),
            offline_message: Some(Some("Back at 9".into())),
            ratings_enabled: Some(false),
        };
        let wire = serde_json::to_value(&body).unwrap();
        let mut s = TenantSettings::from_stored(&defaults(), &Map::new());
        for (key, value) in wire.as_object().unwrap() {
            s.set(key, value).unwrap();
        }
        assert_eq!(wire.as_object().unwrap().len(), 6);
        let back = serde_json::to_value(&s).unwrap();
        for key in wire.as_object().unwrap().keys() {
            assert_eq!(back[key], wire[key], "{key}");
        }
    }

    #[test]
    fn every_bad_value_is_refused() {
        let mut s = TenantSettings::from_stored(&defaults(), &Map::new());
        for (key, value) in [
            ("routing", json!("round-robin")),
            ("defaultMaxChats", json!(0)),
            ("defaultMaxChats", json!(101)),
            ("defaultMaxChats", json!(2.5)),
            ("defaultMaxChats", json!("5")),
            ("reassignAfterOfflineSeconds", json!(86_401)),
            ("reassignAfterOfflineSeconds", json!(-1)),
            ("offlineMessage", json!("x".repeat(1001))),
            ("offlineMessage", json!(5)),
            ("ratingsEnabled", json!("yes")),
            (
                "businessHours",
                json!({ "timezone": "Nowhere/Else", "weekly": {} }),
            ),
            ("colour", json!("blue")),
        ] {
            assert!(s.set(key, &value).is_err(), "{key} = {value} was accepted");
        }
        assert_eq!(s, TenantSettings::from_stored(&defaults(), &Map::new()));
        s.set("reassignAfterOfflineSeconds", &Value::Null).unwrap();
        assert_eq!(s.reassign_after_offline_seconds, None);
    }
}
