//! Blobs in the database: one database to back up and replicate, the same durability as the records.
//!
//! A blob's bytes are rows of `ent_blob_chunk` (1 MiB each, stored uncompressed) under its SHA-256;
//! `ent_blob` holds its size and date. A writer streams: it hashes and buffers up to one chunk, then
//! appends the chunk to `ent_blob_upload` in a statement of its own, so an upload of minutes holds no
//! transaction open; `finish` moves the chunks under the blob's id in one transaction (or drops them if
//! the same bytes are already stored). Uploads abandoned by a crash are removed when a store connects, a
//! day later.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use ent_core::clock::{Clock, SystemClock};
use ent_core::storage::blob::{BlobDigest, BlobId, BlobMeta, BlobStore, BlobStream, BlobWriter};
use ent_core::{Error, Result};
use tokio_postgres::Client;

use super::PostgresStore;
use super::error::{ADAPTER, Context};
use super::store::Shared;

/// Bytes per stored chunk and per streamed read.
const CHUNK: usize = 1 << 20;

/// How old an unfinished upload is when it is removed.
const ABANDONED_AFTER_MICROS: i64 = 24 * 3600 * 1_000_000;

/// A blob store in a [`PostgresStore`]'s database.
#[derive(Debug, Clone)]
pub struct PostgresBlobStore {
    shared: Arc<Shared>,
    max_bytes: u64,
    clock: Arc<dyn Clock>,
}

impl PostgresStore {
    /// A blob store in this store's database, refusing blobs over `max_bytes`.
    pub fn blob_store(&self, max_bytes: u64) -> PostgresBlobStore {
        PostgresBlobStore { shared: self.shared.clone(), max_bytes, clock: Arc::new(SystemClock) }
    }
}

impl PostgresBlobStore {
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

async fn meta_of(client: &Client, id: &BlobId) -> Result<Option<BlobMeta>> {
    let row = client
        .query_opt("SELECT size, created FROM ent_blob WHERE id = $1", &[&&id.0[..]])
        .await
        .doing("reading a blob")?;
    row.map(|r| Ok(BlobMeta { id: *id, size: r.get::<_, i64>(0) as u64, created: instant(r.get(1))? })).transpose()
}

/// Removes uploads abandoned long ago (a crash, a writer dropped without `finish`).
pub(crate) async fn remove_abandoned_uploads(client: &Client, now: DateTime<Utc>) -> Result<()> {
    client
        .execute("DELETE FROM ent_blob_upload WHERE started < $1", &[&(micros(now) - ABANDONED_AFTER_MICROS)])
        .await
        .doing("removing abandoned uploads")?;
    Ok(())
}

struct Writer {
    store: PostgresBlobStore,
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
            .with_conn(async move |conn| {
                let upload: i64 = match upload {
                    Some(u) => u,
                    None => conn
                        .client
                        .query_one("SELECT nextval('ent_blob_upload_id')", &[])
                        .await
                        .doing("starting an upload")?
                        .get(0),
                };
                conn.client
                    .execute(
                        "INSERT INTO ent_blob_upload (upload, seq, bytes, started) VALUES ($1, $2, $3, $4)",
                        &[&upload, &seq, &bytes, &started],
                    )
                    .await
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
                .with_conn(async move |conn| {
                    conn.client
                        .execute("DELETE FROM ent_blob_upload WHERE upload = $1", &[&upload])
                        .await
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
            .with_conn(async move |conn| {
                let client = &conn.client;
                client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED").await.doing("storing a blob")?;
                let result = async {
                    // Two writers of the same bytes: the second waits here for the first, then finds it.
                    client
                        .execute("SELECT pg_advisory_xact_lock(hashtextextended(encode($1, 'hex'), 0))", &[&&id.0[..]])
                        .await
                        .doing("storing a blob")?;
                    let meta = match meta_of(client, &id).await? {
                        Some(meta) => meta,
                        None => {
                            if let Some(upload) = upload {
                                client
                                    .execute(
                                        "INSERT INTO ent_blob_chunk (id, seq, bytes) \
                                         SELECT $1, seq, bytes FROM ent_blob_upload WHERE upload = $2",
                                        &[&&id.0[..], &upload],
                                    )
                                    .await
                                    .doing("storing a blob")?;
                            }
                            if !last.is_empty() {
                                client
                                    .execute(
                                        "INSERT INTO ent_blob_chunk (id, seq, bytes) VALUES ($1, $2, $3)",
                                        &[&&id.0[..], &chunks, &last],
                                    )
                                    .await
                                    .doing("storing a blob")?;
                            }
                            client
                                .execute(
                                    "INSERT INTO ent_blob (id, size, created) VALUES ($1, $2, $3)",
                                    &[&&id.0[..], &(size as i64), &micros(created)],
                                )
                                .await
                                .doing("storing a blob")?;
                            BlobMeta { id, size, created }
                        }
                    };
                    if let Some(upload) = upload {
                        client
                            .execute("DELETE FROM ent_blob_upload WHERE upload = $1", &[&upload])
                            .await
                            .doing("storing a blob")?;
                    }
                    Ok(meta)
                }
                .await;
                match result {
                    Ok(meta) => {
                        client.batch_execute("COMMIT").await.doing("storing a blob")?;
                        Ok(meta)
                    }
                    Err(e) => {
                        let _ = client.batch_execute("ROLLBACK").await;
                        Err(e)
                    }
                }
            })
            .await
    }
}

#[async_trait]
impl BlobStore for PostgresBlobStore {
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
                    .with_conn(async move |conn| {
                        let row = conn
                            .client
                            .query_opt(
                                "SELECT bytes FROM ent_blob_chunk WHERE id = $1 AND seq = $2",
                                &[&&id.0[..], &seq],
                            )
                            .await
                            .doing("reading a blob")?;
                        Ok(row.map(|r| r.get(0)))
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
        let id = *id;
        self.shared.with_conn(async move |conn| meta_of(&conn.client, &id).await).await
    }

    async fn remove(&self, id: &BlobId) -> Result<bool> {
        let id = *id;
        self.shared
            .with_conn(async move |conn| {
                let row = conn
                    .client
                    .query_one(
                        "WITH c AS (DELETE FROM ent_blob_chunk WHERE id = $1), \
                         b AS (DELETE FROM ent_blob WHERE id = $1 RETURNING 1) SELECT count(*) FROM b",
                        &[&&id.0[..]],
                    )
                    .await
                    .doing("removing a blob")?;
                Ok(row.get::<_, i64>(0) > 0)
            })
            .await
    }

    async fn list(&self, after: Option<BlobId>, limit: usize) -> Result<Vec<BlobMeta>> {
        let after = after.map_or_else(Vec::new, |a| a.0.to_vec());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.shared
            .with_conn(async move |conn| {
                let rows = conn
                    .client
                    .query(
                        "SELECT id, size, created FROM ent_blob WHERE id > $1 ORDER BY id LIMIT $2",
                        &[&after, &limit],
                    )
                    .await
                    .doing("listing blobs")?;
                rows.iter()
                    .map(|r| {
                        let id: Vec<u8> = r.get(0);
                        let id: [u8; 32] =
                            id.try_into().map_err(|_| Error::storage(ADAPTER, "corrupted blob id", false))?;
                        Ok(BlobMeta { id: BlobId(id), size: r.get::<_, i64>(1) as u64, created: instant(r.get(2))? })
                    })
                    .collect()
            })
            .await
    }
}
