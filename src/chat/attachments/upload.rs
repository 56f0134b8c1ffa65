//! Receiving an upload (docs/protocol.md §9): the bytes are streamed to the
//! store as they arrive, never held whole (but an image's, up to the
//! limit, for its thumbnail). The type is decided from the first 64 KiB
//! before anything is written; reading stops at the size limit; text is
//! checked to its end. Any refusal aborts the write, so it leaves nothing
//! in the store; the row is written last ([`Received::record`]).

use bytes::Bytes;
use entities::attachment;
use futures_util::{Stream, StreamExt};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use super::kind::{Kind, SNIFF_BYTES, TextCheck, clean_name};
use super::picture::{self, Picture};
use super::{AttachmentView, Attachments, file_key, thumbnail_key};
use crate::chat::clock::now_ms;
use crate::chat::{User, new_id};
use crate::error::{AppError, AppResult};
use crate::storage::{Store, Writer};

/// Bytes stored under a new id, not yet recorded: [`Self::record`] makes
/// it an attachment, [`Self::discard`] deletes the bytes, and so does
/// dropping it (a request cancelled between the two).
#[derive(Debug)]
pub struct Received {
    id: String,
    name: String,
    content_type: &'static str,
    size: u64,
    picture: Option<(u32, u32, &'static str)>,
    /// Set until the upload is recorded or discarded.
    store: Option<Store>,
}

impl Attachments {
    /// Streams `body` (the file part named `raw_name`) into the store.
    pub async fn receive<S>(&self, raw_name: &str, body: S) -> AppResult<Received>
    where
        S: Stream<Item = AppResult<Bytes>> + Unpin,
    {
        let name = clean_name(raw_name);
        let id = new_id();
        let mut writer = self.store.writer(&file_key(&id));
        match self.write(&name, body, &mut writer).await {
            Ok((kind, size, image)) => {
                let picture = match image {
                    Some(bytes) => match self.picture(bytes, kind).await {
                        Ok(picture) => Some(picture),
                        Err(err) => {
                            writer.abort().await;
                            return Err(err);
                        }
                    },
                    None => None,
                };
                writer.finish().await?;
                let received = Received {
                    content_type: kind.content_type(&name),
                    picture: picture
                        .as_ref()
                        .map(|p| (p.width, p.height, p.thumbnail_type)),
                    id,
                    name,
                    size,
                    store: Some(self.store.clone()),
                };
                if let Some(picture) = picture {
                    let key = thumbnail_key(&received.id);
                    if let Err(err) = self.store.put(&key, Bytes::from(picture.thumbnail)).await {
                        received.discard().await;
                        return Err(err);
                    }
                }
                Ok(received)
            }
            Err(err) => {
                writer.abort().await;
                Err(err)
            }
        }
    }

    /// Writes the body, checking it on the way: its kind, its size, and
    /// (for an image) all its bytes to decode.
    async fn write<S>(
        &self,
        name: &str,
        mut body: S,
        writer: &mut Writer,
    ) -> AppResult<(Kind, u64, Option<Vec<u8>>)>
    where
        S: Stream<Item = AppResult<Bytes>> + Unpin,
    {
        let mut head = Vec::new();
        let mut ended = false;
        while head.len() < SNIFF_BYTES {
            match body.next().await.transpose()? {
                Some(chunk) => {
                    self.within_limit(head.len() as u64 + chunk.len() as u64)?;
                    head.extend_from_slice(&chunk);
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let kind = self.kind_of(&head, name)?;
        let mut text = (kind == Kind::Text).then(TextCheck::default);
        let mut image = kind.is_image().then(|| head.clone());
        let mut size = head.len() as u64;
        let not_text = || AppError::UnsupportedMediaType("the file is not a supported type".into());
        if let Some(check) = text.as_mut()
            && !check.feed(&head)
        {
            return Err(not_text());
        }
        writer.write(Bytes::from(head)).await?;
        while !ended && let Some(chunk) = body.next().await.transpose()? {
            size += chunk.len() as u64;
            self.within_limit(size)?;
            if let Some(check) = text.as_mut()
                && !check.feed(&chunk)
            {
                return Err(not_text());
            }
            if let Some(bytes) = image.as_mut() {
                bytes.extend_from_slice(&chunk);
            }
            writer.write(chunk).await?;
        }
        if text.is_some_and(|check| !check.finish()) {
            return Err(not_text());
        }
        Ok((kind, size, image))
    }

    fn within_limit(&self, size: u64) -> AppResult<()> {
        if size > self.max_bytes {
            return Err(AppError::AttachmentTooLarge(self.max_bytes));
        }
        Ok(())
    }

    /// The kind of an upload from its first bytes, if the list allows it.
    fn kind_of(&self, head: &[u8], name: &str) -> AppResult<Kind> {
        let refused =
            |what: &str| AppError::UnsupportedMediaType(format!("{what} files are not accepted"));
        let kind = match Kind::sniff(head) {
            Ok(Some(kind)) => kind,
            Ok(None) => Kind::Text,
            Err(found) => return Err(refused(&found)),
        };
        if !self.allowed.contains(&kind) {
            return Err(refused(kind.content_type(name)));
        }
        Ok(kind)
    }

    /// Decodes an image off the async threads, a few at a time.
    async fn picture(&self, bytes: Vec<u8>, kind: Kind) -> AppResult<Picture> {
        let _turn = self
            .decoding
            .acquire()
            .await
            .map_err(|_| AppError::Unavailable("shutting down".into()))?;
        let max_pixels = self.max_pixels;
        tokio::task::spawn_blocking(move || picture::inspect(&bytes, kind, max_pixels))
            .await
            .map_err(|e| AppError::Internal(format!("image decoder: {e}")))?
    }
}

impl Received {
    /// Records the upload as `user`'s attachment in session `session_id`
    /// (checked by `session_for_upload` before the bytes were read).
    pub async fn record(
        mut self,
        db: &impl ConnectionTrait,
        attachments: &Attachments,
        user: &User,
        session_id: &str,
    ) -> AppResult<AttachmentView> {
        let row = attachment::ActiveModel {
            id: Set(self.id.clone()),
            tenant: Set(user.tenant.clone()),
            session_id: Set(session_id.to_string()),
            uploader_id: Set(user.id.clone()),
            message_id: Set(None),
            position: Set(None),
            name: Set(self.name.clone()),
            content_type: Set(self.content_type.to_string()),
            size: Set(self.size as i64),
            width: Set(self.picture.map(|(w, _, _)| w as i32)),
            height: Set(self.picture.map(|(_, h, _)| h as i32)),
            thumbnail: Set(self.picture.map(|(_, _, t)| t.to_string())),
            created_at: Set(now_ms()),
        };
        match row.insert(db).await {
            Ok(row) => {
                self.store = None;
                Ok(attachments.view(&row))
            }
            Err(err) => {
                self.discard().await;
                Err(err.into())
            }
        }
    }

    /// Deletes the bytes of an upload that will not be recorded.
    pub async fn discard(mut self) {
        if let Some(store) = self.store.take() {
            delete(&store, self.keys()).await;
        }
    }

    fn keys(&self) -> Vec<String> {
        let mut keys = vec![file_key(&self.id)];
        if self.picture.is_some() {
            keys.push(thumbnail_key(&self.id));
        }
        keys
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        if let Some(store) = self.store.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let keys = self.keys();
            runtime.spawn(async move { delete(&store, keys).await });
        }
    }
}

async fn delete(store: &Store, keys: Vec<String>) {
    for key in keys {
        if let Err(err) = store.delete(&key).await {
            tracing::warn!(%err, key, "an unrecorded upload's bytes were not deleted");
        }
    }
}
