//! Attachments (docs/protocol.md §9): uploads checked on their bytes and
//! streamed to the object store ([`upload`]), taken by a message in the
//! message's own transaction ([`link`]), read back with URLs signed afresh
//! each time a message goes out ([`Signer`]), and the uploads no message
//! took deleted a day later ([`sweep`]).

pub mod config;
pub mod kind;
pub mod picture;
pub mod sign;
pub mod upload;

use std::collections::HashMap;
use std::sync::Arc;

use entities::{attachment, message};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use serde::Serialize;
use tokio::sync::Semaphore;

pub use config::{AttachmentConfig, Kind};
pub use sign::{Signer, Variant};

use super::access;
use super::clock::now_ms;
use super::{MessageView, Role, User, sessions};
use crate::error::{AppError, AppResult};
use crate::storage::Store;

/// An attachment as it goes out (docs/protocol.md §3 `Attachment`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Attachment)]
pub struct AttachmentView {
    pub id: String,
    pub name: String,
    pub content_type: String,
    /// Bytes.
    #[schema(minimum = 0)]
    pub size: i64,
    /// Images only.
    #[schema(required)]
    pub width: Option<i32>,
    #[schema(required)]
    pub height: Option<i32>,
    /// Signed and expiring: fetch it without a token.
    pub url: String,
    /// Images only.
    #[schema(required)]
    pub thumbnail_url: Option<String>,
}

/// The store, the URL signer and the limits: what every attachment path
/// needs.
impl AttachmentView {
    /// The row without links (`url` empty, `thumbnailUrl` empty when
    /// there is a thumbnail): what the webhook outbox stores, whose
    /// deliveries sign the links at each attempt.
    pub fn unlinked(row: &attachment::Model) -> Self {
        Self {
            id: row.id.clone(),
            name: row.name.clone(),
            content_type: row.content_type.clone(),
            size: row.size,
            width: row.width,
            height: row.height,
            url: String::new(),
            thumbnail_url: row.thumbnail.as_ref().map(|_| String::new()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Attachments {
    pub store: Store,
    pub signer: Signer,
    pub max_bytes: u64,
    pub max_pixels: u64,
    pub allowed: Vec<Kind>,
    /// Images are decoded this many at a time (each may take ~160 MB).
    pub decoding: Arc<Semaphore>,
}

impl Attachments {
    pub fn new(config: &AttachmentConfig, store: Store, signer: Signer) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            store,
            signer,
            max_bytes: config.attachment_max_bytes,
            max_pixels: config.attachment_max_pixels,
            allowed: config.attachment_types.clone(),
            decoding: Arc::new(Semaphore::new(cpus)),
        }
    }

    /// The row as it goes out now, URLs signed from now.
    pub fn view(&self, row: &attachment::Model) -> AttachmentView {
        AttachmentView {
            url: self.signer.url(&row.id, Variant::File),
            thumbnail_url: row
                .thumbnail
                .as_ref()
                .map(|_| self.signer.url(&row.id, Variant::Thumbnail)),
            ..AttachmentView::unlinked(row)
        }
    }

    /// The messages as they go out, with their attachments: one query for
    /// those that have some, none when no message has any.
    pub async fn messages(
        &self,
        db: &impl ConnectionTrait,
        rows: &[message::Model],
    ) -> AppResult<Vec<MessageView>> {
        let mut views: Vec<MessageView> = rows.iter().map(MessageView::from).collect();
        let with: Vec<&str> = rows
            .iter()
            .filter(|m| m.attachments > 0)
            .map(|m| m.id.as_str())
            .collect();
        if with.is_empty() {
            return Ok(views);
        }
        let mut by_message: HashMap<String, Vec<attachment::Model>> = HashMap::new();
        for chunk in with.chunks(500) {
            for row in of_messages_query(chunk).all(db).await? {
                let key = row.message_id.clone().unwrap_or_default();
                by_message.entry(key).or_default().push(row);
            }
        }
        for view in &mut views {
            if let Some(mut rows) = by_message.remove(&view.id) {
                rows.sort_by_key(|r| r.position);
                view.attachments = rows.iter().map(|r| self.view(r)).collect();
            }
        }
        Ok(views)
    }

    /// One message as it goes out.
    pub async fn message(
        &self,
        db: &impl ConnectionTrait,
        row: &message::Model,
    ) -> AppResult<MessageView> {
        let mut views = self.messages(db, std::slice::from_ref(row)).await?;
        Ok(views.remove(0))
    }
}

/// The attachments of messages `ids` (public for the query-plan test).
pub fn of_messages_query(ids: &[&str]) -> Select<attachment::Entity> {
    attachment::Entity::find().filter(attachment::Column::MessageId.is_in(ids.iter().copied()))
}

/// The oldest `batch` uploads no message took, made before `before`
/// (public for the query-plan test).
pub fn unsent_query(before: i64, batch: u64) -> Select<attachment::Entity> {
    attachment::Entity::find()
        .filter(attachment::Column::MessageId.is_null())
        .filter(attachment::Column::CreatedAt.lt(before))
        .order_by_asc(attachment::Column::CreatedAt)
        .limit(batch)
}

/// Gives attachments `ids` (in this order) to message `message_id` of
/// session `session_id`, inside the message's transaction: each must be an
/// upload of `user` to that session that no message has taken, else
/// `invalid_payload` and the caller rolls back. Each is taken by a
/// conditional UPDATE, so two messages (on any nodes) cannot both take
/// one, and the sweep (conditional too) cannot delete one taken.
pub async fn link(
    txn: &impl ConnectionTrait,
    user: &User,
    session_id: &str,
    message_id: &str,
    ids: &[String],
) -> AppResult<Vec<attachment::Model>> {
    for (position, id) in ids.iter().enumerate() {
        let taken = attachment::Entity::update_many()
            .col_expr(attachment::Column::MessageId, Expr::value(message_id))
            .col_expr(attachment::Column::Position, Expr::value(position as i32))
            .filter(attachment::Column::Id.eq(id))
            .filter(attachment::Column::Tenant.eq(&user.tenant))
            .filter(attachment::Column::SessionId.eq(session_id))
            .filter(attachment::Column::UploaderId.eq(&user.id))
            .filter(attachment::Column::MessageId.is_null())
            .exec(txn)
            .await?;
        if taken.rows_affected != 1 {
            return Err(AppError::invalid(format!(
                "attachment {id} is not an unsent upload of yours to this session"
            )));
        }
    }
    let mut rows = attachment::Entity::find()
        .filter(attachment::Column::MessageId.eq(message_id))
        .all(txn)
        .await?;
    rows.sort_by_key(|r| r.position);
    Ok(rows)
}

/// The attachment `id` for a user with a token: the session's customer,
/// its uploader, or staff of its tenant; anyone else (another tenant, an
/// other customer) gets `not_found`, as for an unknown id.
pub async fn find_for(
    db: &impl ConnectionTrait,
    user: &User,
    id: &str,
) -> AppResult<attachment::Model> {
    let row = find(db, id).await?;
    let not_found = || AppError::NotFound("attachment not found".into());
    if row.tenant != user.tenant {
        return Err(not_found());
    }
    if user.role == Role::Customer && row.uploader_id != user.id {
        sessions::find(db, user, &row.session_id)
            .await
            .map_err(|_| not_found())?;
    }
    Ok(row)
}

/// The attachment `id`, whoever asks (a signed URL was checked).
pub async fn find(db: &impl ConnectionTrait, id: &str) -> AppResult<attachment::Model> {
    attachment::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound("attachment not found".into()))
}

/// The session an upload goes to: one the user may send in, and open.
pub async fn session_for_upload(
    db: &impl ConnectionTrait,
    user: &User,
    session_id: &str,
) -> AppResult<entities::session::Model> {
    let row = sessions::find_participant(db, user, session_id).await?;
    access::ensure_open(&row)?;
    Ok(row)
}

/// The object store keys of an attachment: its bytes, its thumbnail.
pub fn file_key(id: &str) -> String {
    id.to_string()
}

pub fn thumbnail_key(id: &str) -> String {
    format!("{id}.thumbnail")
}

/// Deletes the uploads no message took within `unsent_ms` of their
/// upload, oldest first, at most `batch` of them: each row first, by a
/// DELETE that holds only while it is still unsent (so a message taking it
/// at the same moment keeps it), then its bytes. Returns how many went.
pub async fn sweep(
    db: &DatabaseConnection,
    store: &Store,
    unsent_ms: i64,
    batch: u64,
) -> AppResult<u64> {
    let stale = unsent_query(now_ms() - unsent_ms, batch).all(db).await?;
    let mut deleted = 0;
    for row in stale {
        let gone = attachment::Entity::delete_many()
            .filter(attachment::Column::Id.eq(&row.id))
            .filter(attachment::Column::MessageId.is_null())
            .exec(db)
            .await?;
        if gone.rows_affected == 0 {
            continue; // a message took it meanwhile
        }
        deleted += 1;
        let mut keys = vec![file_key(&row.id)];
        keys.extend(row.thumbnail.as_ref().map(|_| thumbnail_key(&row.id)));
        for key in keys {
            // The row is gone: the bytes are unreachable whatever happens.
            if let Err(err) = store.delete(&key).await {
                tracing::warn!(key, %err, "a swept upload's bytes stay in the store");
            }
        }
    }
    Ok(deleted)
}
