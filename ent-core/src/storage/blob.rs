//! The blob port: files and attachments, content-addressed (SHA-256), size-limited, streamed, and
//! reference-counted so that erasing a person's data really frees their files.
//!
//! Bytes live in a [`BlobStore`] (a folder, a database table, an object store); reference counts live in the
//! record [`Store`], so that a record and the reference it holds on a blob are written in one transaction:
//! [`acquire`] and [`release`] inside the transaction that adds or removes the record, [`collect_garbage`]
//! from a periodic job.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::key::{KeyKind, Tuple};
use super::port::{NewRecord, Store, Transaction, TxMode};
use super::schema::CollectionDef;
use crate::{Error, Result};

/// The identity of a blob: the SHA-256 of its bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// The id of these bytes.
    pub fn of(bytes: &[u8]) -> BlobId {
        BlobId(Sha256::digest(bytes).into())
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses lowercase or uppercase hex.
    pub fn from_hex(s: &str) -> Result<BlobId> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| Error::invalid("blob id", format!("`{s}` is not 64 hex digits")))?;
        Ok(BlobId(out))
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", self.to_hex())
    }
}

impl From<BlobId> for String {
    fn from(id: BlobId) -> String {
        id.to_hex()
    }
}

impl TryFrom<String> for BlobId {
    type Error = Error;
    fn try_from(s: String) -> Result<BlobId> {
        BlobId::from_hex(&s)
    }
}

/// What a blob store knows of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobMeta {
    /// Its id.
    pub id: BlobId,
    /// Its size in bytes.
    pub size: u64,
    /// When its bytes were first stored (garbage collection spares young blobs).
    pub created: DateTime<Utc>,
}

/// A stream of chunks of a blob.
pub type BlobStream = BoxStream<'static, Result<Vec<u8>>>;

/// Where blob bytes live.
#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug + 'static {
    /// Largest blob accepted, in bytes.
    fn max_blob_bytes(&self) -> u64;

    /// Starts writing a blob; its id is known when it is finished. Writing bytes that are already stored
    /// stores them once.
    async fn writer(&self) -> Result<Box<dyn BlobWriter>>;

    /// Reads a blob as a stream ([`Error::NotFound`] if absent).
    async fn read(&self, id: &BlobId) -> Result<BlobStream>;

    /// What the store knows of a blob.
    async fn stat(&self, id: &BlobId) -> Result<Option<BlobMeta>>;

    /// Removes a blob's bytes; returns whether they were there. Call it through [`collect_garbage`].
    async fn remove(&self, id: &BlobId) -> Result<bool>;

    /// Blobs in id order, after `after`, at most `limit`.
    async fn list(&self, after: Option<BlobId>, limit: usize) -> Result<Vec<BlobMeta>>;
}

/// A blob being written.
#[async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes; [`Error::TooLarge`] past the store's limit (the partial blob is discarded).
    async fn write(&mut self, chunk: &[u8]) -> Result<()>;
    /// Stores the blob and returns what was stored.
    async fn finish(self: Box<Self>) -> Result<BlobMeta>;
}

/// Writes a blob from memory.
pub async fn put_bytes(store: &dyn BlobStore, bytes: &[u8]) -> Result<BlobMeta> {
    let mut writer = store.writer().await?;
    writer.write(bytes).await?;
    writer.finish().await
}

/// Reads a whole blob into memory (for small blobs; stream large ones with [`BlobStore::read`]).
pub async fn read_all(store: &dyn BlobStore, id: &BlobId) -> Result<Vec<u8>> {
    use futures::StreamExt;
    let mut stream = store.read(id).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// A size limiter and hasher for [`BlobWriter`] implementations: every adapter counts and hashes the same way.
#[derive(Debug, Clone, Default)]
pub struct BlobDigest {
    hasher: Sha256,
    size: u64,
}

impl BlobDigest {
    /// Accounts for a chunk; [`Error::TooLarge`] if the total passes `limit`.
    pub fn update(&mut self, chunk: &[u8], limit: u64) -> Result<()> {
        let size = self.size + chunk.len() as u64;
        if size > limit {
            return Err(Error::TooLarge { what: "blob".into(), size, limit });
        }
        self.size = size;
        self.hasher.update(chunk);
        Ok(())
    }

    /// The id and size of what was accounted.
    pub fn finish(self) -> (BlobId, u64) {
        (BlobId(self.hasher.finalize().into()), self.size)
    }
}

/// The collection of `ent-core` that holds blob reference counts (counters keyed by blob id) and the
/// tombstones of blobs being collected (records keyed by blob id).
pub const BLOB_REFS: &str = "ent.blob_refs";

/// The declaration of [`BLOB_REFS`].
pub fn blob_refs_collection() -> CollectionDef {
    CollectionDef::new(BLOB_REFS, [KeyKind::Bytes])
}

fn blob_key(id: &BlobId) -> Tuple {
    Tuple::from((id.0.to_vec(),))
}

/// Takes a reference on a blob, in the transaction that stores the record holding it. Fails with
/// [`Error::NotFound`] if the blob's bytes are not (or no longer) in `blobs`, or if garbage collection is
/// claiming them: store the bytes again, then acquire.
pub async fn acquire(tx: &mut dyn Transaction, blobs: &dyn BlobStore, id: &BlobId) -> Result<()> {
    let key = blob_key(id);
    // The tombstone is read first, in the transaction: a collection that starts after this read conflicts
    // with it at commit, so the bytes checked below cannot disappear before the reference is counted.
    if tx.get(BLOB_REFS, &key).await?.is_some() || blobs.stat(id).await?.is_none() {
        return Err(Error::not_found("blob", id));
    }
    tx.counter_add(BLOB_REFS, &key, 1).await
}

/// Drops a reference on a blob, in the transaction that removes the record holding it.
pub async fn release(tx: &mut dyn Transaction, id: &BlobId) -> Result<()> {
    tx.counter_add(BLOB_REFS, &blob_key(id), -1).await
}

/// How many references a blob has.
pub async fn references(tx: &mut dyn Transaction, id: &BlobId) -> Result<i64> {
    tx.counter_get(BLOB_REFS, &blob_key(id)).await
}

/// Removes the bytes of every blob with no reference that was stored before `older_than` (younger blobs may
/// be on their way into a record). Returns the ids removed.
///
/// Each removal first writes a tombstone in a serializable transaction that read the count as zero, so a
/// concurrent [`acquire`] either commits first (the collector then sees the reference, or conflicts and
/// retries) or fails: a referenced blob is never removed.
pub async fn collect_garbage(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    older_than: DateTime<Utc>,
) -> Result<Vec<BlobId>> {
    let mut removed = Vec::new();
    let mut after = None;
    loop {
        let page = blobs.list(after, 500).await?;
        let Some(last) = page.last() else { return Ok(removed) };
        after = Some(last.id);
        for meta in page.iter().filter(|m| m.created < older_than) {
            let key = blob_key(&meta.id);
            let claimed = super::retry::transact(store, TxMode::ReadWrite, |tx| {
                let key = key.clone();
                Box::pin(async move {
                    if tx.counter_get(BLOB_REFS, &key).await? > 0 {
                        return Ok(false);
                    }
                    if tx.get(BLOB_REFS, &key).await?.is_none() {
                        let tomb = NewRecord::from_value(key.clone(), 1, &serde_json::json!({ "collecting": true }))?;
                        tx.insert(BLOB_REFS, tomb).await?;
                    }
                    Ok(true)
                })
            })
            .await?;
            if claimed {
                blobs.remove(&meta.id).await?;
                super::retry::transact(store, TxMode::ReadWrite, |tx| {
                    let key = key.clone();
                    Box::pin(async move { tx.delete(BLOB_REFS, &key, None).await.map(|_| ()) })
                })
                .await?;
                removed.push(meta.id);
            }
        }
    }
}
