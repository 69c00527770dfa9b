//! Blobs in the database file: one file to back up, the same durability as the records.
//!
//! A blob's bytes are rows of `ent_blob_chunk` (1 MiB each) under its SHA-256; `ent_blob` holds its size and
//! date. A writer streams: it hashes and buffers up to one chunk, then appends the chunk to
//! `ent_blob_upload` in a short write transaction of its own, so an upload of minutes never holds the write
//! lock for more than one chunk; `finish` moves the chunks under the blob's id in one transaction (or
//! drops them if the same bytes are already stored). Uploads abandoned by a crash are removed at the next
//! open, a day later.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use ent_core::clock::{Clock, SystemClock};
use ent_core::storage::blob::{BlobDigest, BlobId, BlobMeta, BlobStore, BlobStream, BlobWriter};
use ent_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension};

use super::SqliteStore;
use super::error::{ADAPTER, Context};
use super::store::Shared;

/// Bytes per stored chunk and per streamed read.
const CHUNK: usize = 1 << 20;

/// How old an unfinished upload is when the next open removes it.
const ABANDONED_AFTER_MICROS: i64 = 24 * 3600 * 1_000_000;

/// A blob store in a [`SqliteStore`]'s file.
///
/// ```
/// use ent_core::storage::blob::{put_bytes, read_all, BlobStore};
/// use ent_storage::sqlite::SqliteStore;
/// # async fn demo() -> ent_core::Result<()> {
/// let store = SqliteStore::in_memory()?;
/// let blobs = store.blob_store(10 << 20);
/// let meta = put_bytes(&blobs, b"bulletin du 1er trimestre").await?;
/// assert_eq!(read_all(&blobs, &meta.id).await?, b"bulletin du 1er trimestre");
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteBlobStore {
    shared: Arc<Shared>,
    max_bytes: u64,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    /// A blob store in this store's file, refusing blobs over `max_bytes`.
    pub fn blob_store(&self, max_bytes: u64) -> SqliteBlobStore {
        SqliteBlobStore { shared: self.shared.clone(), max_bytes, clock: Arc::new(SystemClock) }
    }
}

impl SqliteBlobStore {
    /// Dates blobs with `clock` (garbage collection spares young blobs).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn instant(micros: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_micros(micros).single().ok_or_else(|| Error::storage(ADAPTER, "corrupted blob date", false))
}

fn meta_of(conn: &Connection, id: &BlobId) -> Result<Option<BlobMeta>> {
    let row: Option<(i64, i64)> = conn
        .prepare_cached("SELECT size, created FROM ent_blob WHERE id = ?1")
        .and_then(|mut s| s.query_row([&id.0[..]], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .doing("reading a blob")?;
    row.map(|(size, created)| Ok(BlobMeta { id: *id, size: size as u64, created: instant(created)? })).transpose()
}

/// Removes uploads abandoned long ago (a crash, a writer dropped without `finish`).
pub(crate) fn remove_abandoned_uploads(conn: &Connection, now: DateTime<Utc>) -> Result<()> {
    conn.execute("DELETE FROM ent_blob_upload WHERE started < ?1", [micros(now) - ABANDONED_AFTER_MICROS])
        .doing("removing abandoned uploads")?;
    Ok(())
}

struct Writer {
    store: SqliteBlobStore,
    digest: BlobDigest,
    buffer: Vec<u8>,
    /// The upload's id in `ent_blob_upload`, once a chunk was flushed.
    upload: Option<i64>,
    chunks: i64,
    started: DateTime<Utc>,
}

impl Writer {
    async fn flush(&mut self) -> Result<()> {
        let bytes = std::mem::take(&mut self.buffer);
        let (upload, seq, started) = (self.upload, self.chunks, micros(self.started));
        let id = self
            .store
            .shared
            .write(|conn| {
                let upload = match upload {
                    Some(u) => u,
                    None => conn
                        .query_row("SELECT coalesce(max(upload), 0) + 1 FROM ent_blob_upload", [], |r| r.get(0))
                        .doing("starting an upload")?,
                };
                conn.prepare_cached(
                    "INSERT INTO ent_blob_upload (upload, seq, bytes, started) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| s.execute((upload, seq, &bytes, started)))
                .doing("writing a blob chunk")?;
                Ok(upload)
            })
            .await?;
        self.upload = Some(id);
        self.chunks += 1;
        Ok(())
    }

    async fn discard(&mut self) {
        self.buffer = Vec::new();
        if let Some(upload) = self.upload.take() {
            let _ = self
                .store
                .shared
                .write(|conn| {
                    conn.execute("DELETE FROM ent_blob_upload WHERE upload = ?1", [upload])
                        .doing("discarding an upload")
                })
                .await;
        }
    }
}

#[async_trait]
impl BlobWriter for Writer {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if let Err(e) = self.digest.update(chunk, self.store.max_bytes) {
            self.discard().await;
            return Err(e);
        }
        let mut rest = chunk;
        while !rest.is_empty() {
            let take = (CHUNK - self.buffer.len()).min(rest.len());
            self.buffer.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buffer.len() == CHUNK {
                self.flush().await?;
            }
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<BlobMeta> {
        let (id, size) = self.digest.clone().finish();
        // Stored to the microsecond: the date handed back is the one `stat` will read.
        let created = instant(micros(self.store.clock.now()))?;
        let (upload, chunks, last) = (self.upload, self.chunks, std::mem::take(&mut self.buffer));
        self.store
            .shared
            .write(|conn| {
                let meta = match meta_of(conn, &id)? {
                    Some(meta) => meta,
                    None => {
                        if let Some(upload) = upload {
                            conn.execute(
                                "INSERT INTO ent_blob_chunk (id, seq, bytes) \
                                 SELECT ?1, seq, bytes FROM ent_blob_upload WHERE upload = ?2 ORDER BY seq",
                                (&id.0[..], upload),
                            )
                            .doing("storing a blob")?;
                        }
                        if !last.is_empty() {
                            conn.execute(
                                "INSERT INTO ent_blob_chunk (id, seq, bytes) VALUES (?1, ?2, ?3)",
                                (&id.0[..], chunks, &last),
                            )
                            .doing("storing a blob")?;
                        }
                        conn.execute(
                            "INSERT INTO ent_blob (id, size, created) VALUES (?1, ?2, ?3)",
                            (&id.0[..], size as i64, micros(created)),
                        )
                        .doing("storing a blob")?;
                        BlobMeta { id, size, created }
                    }
                };
                if let Some(upload) = upload {
                    conn.execute("DELETE FROM ent_blob_upload WHERE upload = ?1", [upload]).doing("storing a blob")?;
                }
                Ok(meta)
            })
            .await
    }
}

#[async_trait]
impl BlobStore for SqliteBlobStore {
    fn max_blob_bytes(&self) -> u64 {
        self.max_bytes
    }

    async fn writer(&self) -> Result<Box<dyn BlobWriter>> {
        Ok(Box::new(Writer {
            store: self.clone(),
            digest: BlobDigest::default(),
            buffer: Vec::new(),
            upload: None,
            chunks: 0,
            started: self.clock.now(),
        }))
    }

    async fn read(&self, id: &BlobId) -> Result<BlobStream> {
        let id = *id;
        let meta = self.stat(&id).await?.ok_or_else(|| Error::not_found("blob", id))?;
        let shared = self.shared.clone();
        let stream = futures::stream::try_unfold((0i64, meta.size), move |(seq, left)| {
            let shared = shared.clone();
            async move {
                if left == 0 {
                    return Ok(None);
                }
                let bytes: Option<Vec<u8>> = shared
                    .read(|conn| {
                        conn.prepare_cached("SELECT bytes FROM ent_blob_chunk WHERE id = ?1 AND seq = ?2")
                            .and_then(|mut s| s.query_row((&id.0[..], seq), |r| r.get(0)).optional())
                            .doing("reading a blob")
                    })
                    .await?;
                let bytes = bytes.ok_or_else(|| Error::not_found("blob", id))?;
                let left = left.saturating_sub(bytes.len() as u64);
                Ok(Some((bytes, (seq + 1, left))))
            }
        });
        Ok(Box::pin(stream))
    }

    async fn stat(&self, id: &BlobId) -> Result<Option<BlobMeta>> {
        self.shared.read(|conn| meta_of(conn, id)).await
    }

    async fn remove(&self, id: &BlobId) -> Result<bool> {
        self.shared
            .write(|conn| {
                conn.execute("DELETE FROM ent_blob_chunk WHERE id = ?1", [&id.0[..]]).doing("removing a blob")?;
                let n = conn.execute("DELETE FROM ent_blob WHERE id = ?1", [&id.0[..]]).doing("removing a blob")?;
                Ok(n > 0)
            })
            .await
    }

    async fn list(&self, after: Option<BlobId>, limit: usize) -> Result<Vec<BlobMeta>> {
        let after = after.map_or_else(Vec::new, |a| a.0.to_vec());
        self.shared
            .read(|conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT id, size, created FROM ent_blob WHERE id > ?1 ORDER BY id LIMIT ?2")
                    .doing("listing blobs")?;
                let rows = stmt
                    .query_map((&after, limit as i64), |r| {
                        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    })
                    .doing("listing blobs")?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, size, created) = row.doing("listing blobs")?;
                    let id: [u8; 32] =
                        id.try_into().map_err(|_| Error::storage(ADAPTER, "corrupted blob id", false))?;
                    out.push(BlobMeta { id: BlobId(id), size: size as u64, created: instant(created)? });
                }
                Ok(out)
            })
            .await
    }
}
