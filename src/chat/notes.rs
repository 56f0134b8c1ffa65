//! Private notes (docs/protocol.md §11): staff write them on a session for
//! each other. A note is not a message: it has a table of its own, takes
//! no `seq`, and goes out only to the staff who joined the session
//! (`note-added` to `session-staff:{id}`), so no path a customer reads
//! (events, history, catch-up, transcripts) ever carries one.

use entities::note;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Select, Set, TransactionTrait,
};
use serde_json::Value;

use super::clock::now_ms;
use super::input::{Fields, validate_content};
use super::{Change, Changed, NoteView, User, changes, new_id, sessions};
use crate::error::{AppError, AppResult};

/// `add-note` / `POST …/notes`: `{ sessionId?, content }`.
#[derive(Debug, PartialEq)]
pub struct NoteRequest {
    pub session_id: String,
    pub content: String,
}

// The body `NoteRequest::parse_body` reads, as a type for the OpenAPI
// document.

/// `POST /api/chat/sessions/{id}/notes`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct NoteBody {
    /// Trimmed, not empty, at most the message length limit.
    pub content: String,
}

impl NoteRequest {
    pub fn parse(value: &Value) -> AppResult<Self> {
        let session_id = Fields::of(value)?.id("sessionId")?;
        Self::parse_body(session_id, value)
    }

    pub fn parse_body(session_id: String, value: &Value) -> AppResult<Self> {
        let content = Fields::of(value)?
            .opt_str("content")?
            .ok_or_else(|| AppError::invalid("content is required"))?;
        Ok(Self {
            session_id,
            content: content.to_string(),
        })
    }
}

/// Staff of the session's tenant may read and write its notes: a customer
/// is refused (`forbidden` on their own session, `not_found` on any other,
/// so nothing is revealed).
async fn session_for_staff(
    db: &impl ConnectionTrait,
    user: &User,
    session_id: &str,
) -> AppResult<entities::session::Model> {
    let row = sessions::find_hidden(db, user, session_id).await?;
    if !user.role.is_staff() {
        return Err(AppError::Forbidden(
            "only agents and admins see notes".into(),
        ));
    }
    Ok(row)
}

/// Adds a note to a session (any status) as `user` (staff).
pub async fn add(
    db: &DatabaseConnection,
    user: &User,
    req: NoteRequest,
    max_len: usize,
) -> AppResult<Changed<NoteView>> {
    let row = session_for_staff(db, user, &req.session_id).await?;
    let content = validate_content(&req.content, max_len)?;
    let txn = db.begin().await?;
    let stored = note::ActiveModel {
        id: Set(new_id()),
        tenant: Set(row.tenant.clone()),
        session_id: Set(row.id.clone()),
        author_id: Set(user.id.clone()),
        author_role: Set(user.role.as_str().to_string()),
        author_name: Set(user.name.clone()),
        content: Set(content),
        created_at: Set(now_ms()),
    }
    .insert(&txn)
    .await?;
    let view = NoteView::from(&stored);
    let changes = vec![Change::NoteAdded(view.clone())];
    changes::commit(txn, &user.tenant, &changes).await?;
    Ok(Changed::new(&user.tenant, view, changes))
}

/// Every note of a session, oldest first (staff only).
pub async fn list(
    db: &impl ConnectionTrait,
    user: &User,
    session_id: &str,
) -> AppResult<Vec<NoteView>> {
    let row = session_for_staff(db, user, session_id).await?;
    of_session(db, &row.id).await
}

/// Every note of a session, oldest first, for whoever the caller checked.
pub async fn of_session(db: &impl ConnectionTrait, session_id: &str) -> AppResult<Vec<NoteView>> {
    Ok(list_query(session_id)
        .all(db)
        .await?
        .iter()
        .map(NoteView::from)
        .collect())
}

/// The notes of a session in time order (public for the query-plan test).
pub fn list_query(session_id: &str) -> Select<note::Entity> {
    note::Entity::find()
        .filter(note::Column::SessionId.eq(session_id))
        .order_by_asc(note::Column::CreatedAt)
        .order_by_asc(note::Column::Id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_body_is_what_its_parser_reads() {
        let body = NoteBody {
            content: "call back".into(),
        };
        let req = NoteRequest::parse_body("s".into(), &serde_json::to_value(&body).unwrap());
        assert_eq!(req.unwrap().content, body.content);
    }
}
