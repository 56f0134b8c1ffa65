//! The object store attachments live in (docs/protocol.md §9): local disk
//! (`file://DIR`) or any S3-compatible store (`s3://bucket/prefix`),
//! through the `object_store` crate, so both behave alike: writes are
//! streamed and become visible whole or not at all, and reads stream.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{AppError, AppResult};

/// S3 parts are at least 5 MiB (but the last); local files are written in
/// smaller steps, so an upload holds little in memory.
const S3_PART_BYTES: usize = 5 * 1024 * 1024;
const FILE_PART_BYTES: usize = 256 * 1024;

/// S3 parts held in memory at once by every upload of the process
/// together (8 × 5 MiB = 40 MiB).
const S3_PARTS_IN_MEMORY: usize = 8;

#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    part_bytes: usize,
    /// S3: the parts that may be in memory at once, over every upload of
    /// this process (see [`Parts`]); none for local disk.
    budget: Option<Arc<Semaphore>>,
    /// What the logs call it (no credentials: they come from the environment).
    name: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Store {
    /// Opens `file://DIR` (created when missing) or `s3://bucket/prefix`.
    pub fn open(url: &str) -> anyhow::Result<Self> {
        if let Some(dir) = url.strip_prefix("file://") {
            anyhow::ensure!(
                !dir.is_empty(),
                "--attachments-store file:// needs a directory"
            );
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!("cannot create the attachments directory {dir}: {e}")
            })?;
            // fsync: an upload answered 201 survives a crash, as on S3.
            let local = LocalFileSystem::new_with_prefix(dir)?.with_fsync(true);
            return Ok(Self {
                inner: Arc::new(local),
                part_bytes: FILE_PART_BYTES,
                budget: None,
                name: url.to_string(),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            anyhow::ensure!(
                !bucket.is_empty(),
                "--attachments-store s3:// needs a bucket"
            );
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err()
            {
                builder = builder.with_region("us-east-1");
            }
            if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
                builder = builder
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_endpoint(endpoint);
            }
            let s3: Arc<dyn ObjectStore> = Arc::new(builder.build()?);
            let prefix = prefix.trim_matches('/');
            let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
                s3
            } else {
                Arc::new(PrefixStore::new(s3, prefix))
            };
            return Ok(Self {
                inner,
                part_bytes: S3_PART_BYTES,
                budget: Some(Arc::new(Semaphore::new(S3_PARTS_IN_MEMORY))),
                name: url.to_string(),
            });
        }
        anyhow::bail!("--attachments-store must be file://DIR or s3://bucket/prefix, not {url}")
    }

    /// A streamed write of object `key`; nothing is visible until
    /// [`Writer::finish`], and [`Writer::abort`] leaves nothing behind.
    pub fn writer(&self, key: &str) -> Writer {
        let path = Path::from(key);
        match &self.budget {
            Some(budget) => Writer::Parts(Parts {
                store: self.inner.clone(),
                path,
                part_bytes: self.part_bytes,
                budget: budget.clone(),
                buffer: Vec::new(),
                buffered: 0,
                permit: None,
                upload: None,
            }),
            None => Writer::Buffered(Some(
                BufWriter::with_capacity(self.inner.clone(), path, self.part_bytes)
                    .with_max_concurrency(2),
            )),
        }
    }

    /// Writes a small object at once.
    pub async fn put(&self, key: &str, bytes: Bytes) -> AppResult<()> {
        self.inner
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// The object's bytes as a stream, and its size.
    pub async fn get(
        &self,
        key: &str,
    ) -> AppResult<(u64, BoxStream<'static, Result<Bytes, object_store::Error>>)> {
        match self.inner.get(&Path::from(key)).await {
            Ok(found) => Ok((found.meta.size, found.into_stream())),
            Err(object_store::Error::NotFound { .. }) => {
                Err(AppError::NotFound("attachment not found".into()))
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Deletes object `key`; one already gone is no error.
    pub async fn delete(&self, key: &str) -> AppResult<()> {
        match self.inner.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }
}

/// A write in progress. Dropped unfinished, it is aborted in the background.
pub enum Writer {
    /// Local disk: written in small steps as it comes.
    Buffered(Option<BufWriter>),
    /// S3: parts of 5 MiB within the process's budget.
    Parts(Parts),
}

impl Writer {
    pub async fn write(&mut self, bytes: Bytes) -> AppResult<()> {
        match self {
            Writer::Buffered(Some(writer)) => writer.put(bytes).await.map_err(unavailable),
            Writer::Buffered(None) => Err(AppError::Internal("write after finish".into())),
            Writer::Parts(parts) => parts.write(bytes).await,
        }
    }

    /// Makes the object visible, whole.
    pub async fn finish(mut self) -> AppResult<()> {
        match &mut self {
            Writer::Buffered(writer) => match writer.take() {
                Some(mut writer) => writer
                    .shutdown()
                    .await
                    .map_err(|e| AppError::Unavailable(format!("attachment store: {e}"))),
                None => Ok(()),
            },
            Writer::Parts(parts) => parts.finish().await,
        }
    }

    /// Drops what was written.
    pub async fn abort(mut self) {
        let result = match &mut self {
            Writer::Buffered(writer) => match writer.take() {
                Some(mut writer) => writer.abort().await,
                None => Ok(()),
            },
            Writer::Parts(parts) => match parts.upload.take() {
                Some(mut upload) => upload.abort().await,
                None => Ok(()),
            },
        };
        if let Err(err) = result {
            tracing::warn!(%err, "attachment store: an aborted upload was not cleaned up");
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // A request cancelled mid-upload (the client went away).
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        match self {
            Writer::Buffered(writer) => {
                if let Some(mut writer) = writer.take() {
                    runtime.spawn(async move {
                        let _ = writer.abort().await;
                    });
                }
            }
            Writer::Parts(parts) => {
                if let Some(mut upload) = parts.upload.take() {
                    runtime.spawn(async move {
                        let _ = upload.abort().await;
                    });
                }
            }
        }
    }
}

/// An S3 upload in parts. S3 takes parts of at least 5 MiB (but the last),
/// so each upload must hold one part in memory; a budget shared by every
/// upload of the process bounds how many parts are held at once: an
/// upload waits for a turn before it buffers a part, and while it waits it
/// reads no more of its request (TCP holds the client back). So memory
/// stays flat however many clients upload at once. A file smaller than a
/// part goes up in one PUT.
pub struct Parts {
    store: Arc<dyn ObjectStore>,
    path: Path,
    part_bytes: usize,
    budget: Arc<Semaphore>,
    buffer: Vec<Bytes>,
    buffered: usize,
    /// Held while a part is buffered or being sent.
    permit: Option<OwnedSemaphorePermit>,
    upload: Option<Box<dyn MultipartUpload>>,
}

impl Parts {
    async fn write(&mut self, bytes: Bytes) -> AppResult<()> {
        if self.permit.is_none() {
            let permit = self
                .budget
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| AppError::Unavailable("shutting down".into()))?;
            self.permit = Some(permit);
        }
        self.buffered += bytes.len();
        self.buffer.push(bytes);
        if self.buffered >= self.part_bytes {
            self.send_part().await?;
        }
        Ok(())
    }

    /// Sends the buffered part, then gives the turn back.
    async fn send_part(&mut self) -> AppResult<()> {
        let upload = match &mut self.upload {
            Some(upload) => upload,
            None => self.upload.insert(
                self.store
                    .put_multipart(&self.path)
                    .await
                    .map_err(unavailable)?,
            ),
        };
        let part: PutPayload = std::mem::take(&mut self.buffer).into_iter().collect();
        self.buffered = 0;
        upload.put_part(part).await.map_err(unavailable)?;
        self.permit = None;
        Ok(())
    }

    async fn finish(&mut self) -> AppResult<()> {
        if self.upload.is_none() {
            // Smaller than a part: one PUT.
            let whole: PutPayload = std::mem::take(&mut self.buffer).into_iter().collect();
            self.store
                .put(&self.path, whole)
                .await
                .map_err(unavailable)?;
            self.permit = None;
            return Ok(());
        }
        if self.buffered > 0 {
            self.send_part().await?;
        }
        if let Some(mut upload) = self.upload.take() {
            upload.complete().await.map_err(unavailable)?;
        }
        Ok(())
    }
}

fn unavailable(err: object_store::Error) -> AppError {
    AppError::Unavailable(format!("attachment store: {err}"))
}
