//! Canned responses (docs/protocol.md §11): saved answers of a tenant,
//! found by a shortcut unique in the tenant (the unique index decides a
//! race: `conflict`). Staff read them; admins change them. Placeholders
//! (`{{customer.name}}`, `{{agent.name}}`) are kept as written: the client
//! fills them in.

use entities::canned_response;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Select, Set,
};
use serde::Serialize;
use serde_json::Value;

use super::access::ensure_admin;
use super::clock::{now_ms, rfc3339};
use super::input::{optional_body, validate_content};
use super::{User, new_id};
use crate::error::{AppError, AppResult};

pub const MAX_SHORTCUT_CHARS: usize = 32;
pub const MAX_TITLE_CHARS: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CannedResponse {
    pub id: String,
    #[schema(pattern = "^[a-z0-9_-]{1,32}$")]
    pub shortcut: String,
    #[schema(required)]
    pub title: Option<String>,
    pub content: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&canned_response::Model> for CannedResponse {
    fn from(row: &canned_response::Model) -> Self {
        Self {
            id: row.id.clone(),
            shortcut: row.shortcut.clone(),
            title: row.title.clone(),
            content: row.content.clone(),
            updated_at: rfc3339(row.updated_at),
        }
    }
}

// The bodies `parse` reads, as types for the OpenAPI document.

/// `POST /api/canned-responses`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreateCannedBody {
    #[schema(pattern = "^[a-z0-9_-]{1,32}$")]
    pub shortcut: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub title: Option<String>,
    /// Placeholders `{{customer.name}}`, `{{agent.name}}` are kept as written.
    pub content: String,
}

/// `PATCH /api/canned-responses/{id}`: any of the fields; `title: null`
/// clears the title.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct UpdateCannedBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, pattern = "^[a-z0-9_-]{1,32}$")]
    pub shortcut: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub title: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub content: Option<String>,
}

/// The fields a create or a change sets (each checked).
#[derive(Debug, Default)]
struct Fields {
    shortcut: Option<String>,
    /// `Some(None)`: the title cleared.
    title: Option<Option<String>>,
    content: Option<String>,
}

fn parse(value: &Value, max_len: usize) -> AppResult<Fields> {
    let body = optional_body(value)?;
    for key in ["shortcut", "content"] {
        if value.get(key).is_some_and(Value::is_null) {
            return Err(AppError::invalid(format!("{key} cannot be null")));
        }
    }
    let shortcut = body
        .opt_str("shortcut")?
        .map(|s| {
            let valid = !s.is_empty()
                && s.len() <= MAX_SHORTCUT_CHARS
                && s.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if valid {
                Ok(s.to_string())
            } else {
                Err(AppError::invalid(
                    "shortcut must be 1 to 32 of a-z, 0-9, _ and -",
                ))
            }
        })
        .transpose()?;
    let title = match value.get("title") {
        None => None,
        Some(_) => Some(body.opt_text("title", MAX_TITLE_CHARS)?),
    };
    let content = body
        .opt_str("content")?
        .map(|c| validate_content(c, max_len))
        .transpose()?;
    Ok(Fields {
        shortcut,
        title,
        content,
    })
}

/// The tenant's canned responses by shortcut (staff).
pub async fn list(db: &impl ConnectionTrait, user: &User) -> AppResult<Vec<CannedResponse>> {
    if !user.role.is_staff() {
        return Err(AppError::Forbidden(
            "canned responses are for agents and admins".into(),
        ));
    }
    Ok(list_query(&user.tenant)
        .all(db)
        .await?
        .iter()
        .map(CannedResponse::from)
        .collect())
}

/// A tenant's canned responses in shortcut order (public for the
/// query-plan test).
pub fn list_query(tenant: &str) -> Select<canned_response::Entity> {
    canned_response::Entity::find()
        .filter(canned_response::Column::Tenant.eq(tenant))
        .order_by_asc(canned_response::Column::Shortcut)
}

/// `POST /api/canned-responses` (admin).
pub async fn create(
    db: &impl ConnectionTrait,
    user: &User,
    body: &Value,
    max_len: usize,
) -> AppResult<CannedResponse> {
    ensure_admin(user, "changes to canned responses")?;
    let fields = parse(body, max_len)?;
    let (Some(shortcut), Some(content)) = (fields.shortcut, fields.content) else {
        return Err(AppError::invalid("shortcut and content are required"));
    };
    let now = now_ms();
    let row = canned_response::ActiveModel {
        id: Set(new_id()),
        tenant: Set(user.tenant.clone()),
        shortcut: Set(shortcut),
        title: Set(fields.title.flatten()),
        content: Set(content),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(taken)?;
    Ok(CannedResponse::from(&row))
}

/// `PATCH /api/canned-responses/{id}` (admin): the fields given.
pub async fn update(
    db: &impl ConnectionTrait,
    user: &User,
    id: &str,
    body: &Value,
    max_len: usize,
) -> AppResult<CannedResponse> {
    ensure_admin(user, "changes to canned responses")?;
    let fields = parse(body, max_len)?;
    let row = find(db, user, id).await?;
    if fields.shortcut.is_none() && fields.title.is_none() && fields.content.is_none() {
        return Ok(CannedResponse::from(&row));
    }
    let mut active = row.into_active_model();
    if let Some(shortcut) = fields.shortcut {
        active.shortcut = Set(shortcut);
    }
    if let Some(title) = fields.title {
        active.title = Set(title);
    }
    if let Some(content) = fields.content {
        active.content = Set(content);
    }
    active.updated_at = Set(now_ms());
    let row = active.update(db).await.map_err(taken)?;
    Ok(CannedResponse::from(&row))
}

/// `DELETE /api/canned-responses/{id}` (admin).
pub async fn delete(db: &impl ConnectionTrait, user: &User, id: &str) -> AppResult<()> {
    ensure_admin(user, "changes to canned responses")?;
    let row = find(db, user, id).await?;
    canned_response::Entity::delete_by_id(row.id)
        .exec(db)
        .await?;
    Ok(())
}

async fn find(
    db: &impl ConnectionTrait,
    user: &User,
    id: &str,
) -> AppResult<canned_response::Model> {
    canned_response::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .filter(|row| row.tenant == user.tenant)
        .ok_or_else(|| AppError::NotFound("canned response not found".into()))
}

/// The unique `(tenant, shortcut)` index refused the write.
fn taken(err: sea_orm::DbErr) -> AppError {
    match AppError::from(err) {
        AppError::Conflict(_) => AppError::Conflict("that shortcut is taken".into()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_bodies_are_what_their_parser_reads() {
        let create = CreateCannedBody {
            shortcut: "hello".into(),
            title: Some("Greeting".into()),
            content: "Hi {{customer.name}}".into(),
        };
        let fields = parse(&serde_json::to_value(&create).unwrap(), 4000).unwrap();
        assert_eq!(fields.shortcut.as_deref(), Some("hello"));
        assert_eq!(fields.title, Some(create.title));
        assert_eq!(fields.content.as_deref(), Some("Hi {{customer.name}}"));

        let clear = UpdateCannedBody {
            title: Some(None),
            ..Default::default()
        };
        let fields = parse(&serde_json::to_value(&clear).unwrap(), 4000).unwrap();
        assert_eq!(fields.title, Some(None));
        assert_eq!(fields.shortcut, None);
    }
}
