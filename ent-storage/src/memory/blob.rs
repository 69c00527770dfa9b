//! Blobs in memory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ent_core::clock::{Clock, SystemClock};
use ent_core::storage::blob::{BlobDigest, BlobId, BlobMeta, BlobStore, BlobStream, BlobWriter};
use ent_core::{Error, Result};

/// Chunk size of [`BlobStore::read`] streams.
const CHUNK: usize = 64 * 1024;

/// The stored blobs, by id.
type Blobs = BTreeMap<BlobId, (BlobMeta, Arc<Vec<u8>>)>;

/// A blob store in memory, for tests and examples.
#[derive(Debug, Clone)]
pub struct MemoryBlobStore {
    blobs: Arc<Mutex<Blobs>>,
    max_bytes: u64,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryBlobStore {
    fn default() -> Self {
        Self::new(64 << 20, Arc::new(SystemClock))
    }
}

impl MemoryBlobStore {
    /// A store refusing blobs over `max_bytes`, dating blobs with `clock`.
    pub fn new(max_bytes: u64, clock: Arc<dyn Clock>) -> Self {
        MemoryBlobStore { blobs: Arc::default(), max_bytes, clock }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Blobs> {
        self.blobs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Writer {
    store: MemoryBlobStore,
    digest: BlobDigest,
    bytes: Vec<u8>,
}

#[async_trait]
impl BlobWriter for Writer {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if let Err(e) = self.digest.update(chunk, self.store.max_bytes) {
            self.bytes = Vec::new();
            return Err(e);
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<BlobMeta> {
        let Writer { store, digest, bytes } = *self;
        let (id, size) = digest.finish();
        let created = store.clock.now();
        let mut blobs = store.lock();
        let entry = blobs.entry(id).or_insert_with(|| (BlobMeta { id, size, created }, Arc::new(bytes)));
        Ok(entry.0.clone())
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    fn max_blob_bytes(&self) -> u64 {
        self.max_bytes
    }

    async fn writer(&self) -> Result<Box<dyn BlobWriter>> {
        Ok(Box::new(Writer { store: self.clone(), digest: BlobDigest::default(), bytes: Vec::new() }))
    }

    async fn read(&self, id: &BlobId) -> Result<BlobStream> {
        let bytes = self.lock().get(id).map(|(_, b)| b.clone()).ok_or_else(|| Error::not_found("blob", id))?;
        let chunks: Vec<Result<Vec<u8>>> = bytes.chunks(CHUNK).map(|c| Ok(c.to_vec())).collect();
        Ok(Box::pin(futures::stream::iter(chunks)))
    }

    async fn stat(&self, id: &BlobId) -> Result<Option<BlobMeta>> {
        Ok(self.lock().get(id).map(|(m, _)| m.clone()))
    }

    async fn remove(&self, id: &BlobId) -> Result<bool> {
        Ok(self.lock().remove(id).is_some())
    }

    async fn list(&self, after: Option<BlobId>, limit: usize) -> Result<Vec<BlobMeta>> {
        let blobs = self.lock();
        let iter: Box<dyn Iterator<Item = (&BlobId, &(BlobMeta, Arc<Vec<u8>>))>> = match after {
            Some(a) => Box::new(blobs.range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))),
            None => Box::new(blobs.iter()),
        };
        Ok(iter.take(limit).map(|(_, (m, _))| m.clone()).collect())
    }
}
