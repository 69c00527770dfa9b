//! The blob port and its reference counts: content addressing, limits, paging, garbage collection.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ent_core::storage::blob::{
    BlobId, BlobMeta, BlobStore, BlobStream, BlobWriter, acquire, collect_garbage, put_bytes, read_all, references,
    release,
};
use futures::StreamExt;

use super::prelude::*;
use crate::testkit::Failure;

type Blobs = Arc<dyn BlobStore>;

/// Bytes that differ for each seed, compress badly and have no period.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn later(meta: &BlobMeta) -> DateTime<Utc> {
    meta.created + chrono::Duration::seconds(1)
}

async fn refs(s: &Arc<dyn Store>, id: &BlobId) -> Result<i64, Failure> {
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    Ok(references(&mut *tx, id).await?)
}

async fn acquire_committed(s: &Arc<dyn Store>, b: &Blobs, id: &BlobId) -> Outcome {
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    acquire(&mut *tx, &**b, id).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn put_read_stat(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    let _ = s;
    let data = b"Bulletin du premier trimestre".to_vec();
    let meta = put_bytes(&*b, &data).await?;
    ensure_eq!(meta.id, BlobId::of(&data), "the id is the SHA-256 of the bytes");
    ensure_eq!(meta.size, data.len() as u64, "size");
    ensure_eq!(read_all(&*b, &meta.id).await?, data, "bytes read back");
    ensure_eq!(b.stat(&meta.id).await?, Some(meta.clone()), "stat");
    Ok(())
}

pub(crate) async fn same_bytes_stored_once(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    let _ = s;
    let data = bytes(1, 1000);
    let first = put_bytes(&*b, &data).await?;
    let second = put_bytes(&*b, &data).await?;
    ensure_eq!(second.id, first.id, "same id");
    ensure_eq!(second.created, first.created, "the first copy is kept, with its date");
    ensure_eq!(b.list(None, 10).await?, vec![first], "one blob");
    Ok(())
}

pub(crate) async fn empty_blob(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    let _ = s;
    let meta = put_bytes(&*b, &[]).await?;
    ensure_eq!((meta.id, meta.size), (BlobId::of(&[]), 0), "the empty blob");
    ensure_eq!(read_all(&*b, &meta.id).await?, Vec::<u8>::new(), "reads as nothing");
    Ok(())
}

pub(crate) async fn chunked_write_and_streamed_read(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    let _ = s;
    let len = (300 * 1024).min(b.max_blob_bytes() as usize);
    let data = bytes(2, len);
    let mut w = b.writer().await?;
    for chunk in [&data[..10], &[][..], &data[10..len / 2], &data[len / 2..]] {
        w.write(chunk).await?;
    }
    let meta = w.finish().await?;
    ensure_eq!((meta.id, meta.size), (BlobId::of(&data), len as u64), "id and size of a chunked write");
    let mut stream = b.read(&meta.id).await?;
    let mut back = Vec::new();
    while let Some(chunk) = stream.next().await {
        back.extend_from_slice(&chunk?);
    }
    ensure!(back == data, "the stream gives the bytes back in order");
    Ok(())
}

pub(crate) async fn too_large_leaves_nothing(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    let _ = s;
    let max = b.max_blob_bytes();
    let mut w = b.writer().await?;
    let chunk = bytes(3, 64 * 1024);
    let mut written = 0u64;
    let mut failure = None;
    while written <= max {
        let n = (chunk.len() as u64).min(max + 1 - written) as usize;
        match w.write(&chunk[..n]).await {
            Ok(()) => written += n as u64,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let e = match failure {
        Some(e) => e,
        None => expect_err!(w.finish().await, Error::TooLarge { .. }),
    };
    ensure!(
        matches!(&e, Error::TooLarge { what, limit, .. } if what == "blob" && *limit == max),
        "TooLarge blob: {e:?}"
    );
    ensure_eq!(b.list(None, 10).await?, Vec::<BlobMeta>::new(), "nothing stored");
    Ok(())
}

pub(crate) async fn at_the_limit(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    let _ = s;
    let max = b.max_blob_bytes() as usize;
    let chunk = bytes(4, 64 * 1024);
    let mut w = b.writer().await?;
    let mut written = 0;
    while written < max {
        let n = chunk.len().min(max - written);
        w.write(&chunk[..n]).await?;
        written += n;
    }
    let meta = w.finish().await?;
    ensure_eq!(meta.size, max as u64, "a blob of exactly max_blob_bytes is stored");
    ensure!(b.stat(&meta.id).await?.is_some(), "and listed");
    Ok(())
}

pub(crate) async fn missing_blob(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    let _ = s;
    let id = BlobId::of(b"never stored");
    expect_err!(b.read(&id).await.map(|_| ()), Error::NotFound { .. });
    ensure_eq!(b.stat(&id).await?, None, "stat");
    ensure!(!b.remove(&id).await?, "removing nothing reports false");
    Ok(())
}

pub(crate) async fn remove_blob(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    let _ = s;
    let keep = put_bytes(&*b, b"keep").await?;
    let gone = put_bytes(&*b, b"gone").await?;
    ensure!(b.remove(&gone.id).await?, "removed");
    expect_err!(b.read(&gone.id).await.map(|_| ()), Error::NotFound { .. });
    ensure_eq!(b.list(None, 10).await?, vec![keep], "the other blob stays");
    Ok(())
}

pub(crate) async fn list_pages_in_id_order(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    let _ = s;
    let mut metas = Vec::new();
    for i in 0..5 {
        metas.push(put_bytes(&*b, &bytes(10 + i, 50)).await?);
    }
    metas.sort_by_key(|m| m.id);
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = b.list(after, 2).await?;
        ensure!(page.len() <= 2, "a page holds at most the limit");
        let Some(last) = page.last() else { break };
        ensure!(after != Some(last.id) && seen.len() < 1000, "list paging never ends");
        after = Some(last.id);
        seen.extend(page);
    }
    ensure_eq!(seen, metas, "every blob once, in id order");
    ensure_eq!(b.list(Some(metas[2].id), 100).await?, metas[3..].to_vec(), "strictly after an id");
    Ok(())
}

pub(crate) async fn reference_counts(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    setup(&*s).await?;
    let meta = put_bytes(&*b, b"attachment").await?;
    ensure_eq!(refs(&s, &meta.id).await?, 0, "no reference yet");
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    acquire(&mut *tx, &*b, &meta.id).await?;
    acquire(&mut *tx, &*b, &meta.id).await?;
    ensure_eq!(references(&mut *tx, &meta.id).await?, 2, "own acquisitions visible");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    release(&mut *tx, &meta.id).await?;
    tx.commit().await?;
    ensure_eq!(refs(&s, &meta.id).await?, 1, "2 - 1");
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    acquire(&mut *tx, &*b, &meta.id).await?;
    tx.rollback().await?;
    ensure_eq!(refs(&s, &meta.id).await?, 1, "a rolled back acquisition does not count");
    Ok(())
}

pub(crate) async fn gc_removes_only_unreferenced(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    setup(&*s).await?;
    let kept = put_bytes(&*b, b"kept").await?;
    let orphan = put_bytes(&*b, b"orphan").await?;
    acquire_committed(&s, &b, &kept.id).await?;
    let cutoff = later(&kept).max(later(&orphan));
    let removed = collect_garbage(&*s, &*b, cutoff).await?;
    ensure_eq!(removed, vec![orphan.id], "only the unreferenced blob");
    ensure!(b.stat(&kept.id).await?.is_some(), "the referenced blob stays");
    ensure_eq!(read_all(&*b, &kept.id).await?, b"kept".to_vec(), "and reads");
    ensure!(b.stat(&orphan.id).await?.is_none(), "the orphan's bytes are gone");
    ensure_eq!(collect_garbage(&*s, &*b, cutoff).await?, Vec::<BlobId>::new(), "a second pass removes nothing");
    Ok(())
}

pub(crate) async fn gc_spares_young_blobs(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    setup(&*s).await?;
    let young = put_bytes(&*b, b"just uploaded").await?;
    ensure_eq!(collect_garbage(&*s, &*b, young.created).await?, Vec::<BlobId>::new(), "created == cutoff is young");
    ensure!(b.stat(&young.id).await?.is_some(), "still there");
    Ok(())
}

pub(crate) async fn gc_after_last_release(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    setup(&*s).await?;
    let meta = put_bytes(&*b, b"erased with its owner").await?;
    acquire_committed(&s, &b, &meta.id).await?;
    acquire_committed(&s, &b, &meta.id).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    release(&mut *tx, &meta.id).await?;
    tx.commit().await?;
    ensure_eq!(collect_garbage(&*s, &*b, later(&meta)).await?, Vec::<BlobId>::new(), "one reference left");
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    release(&mut *tx, &meta.id).await?;
    tx.commit().await?;
    ensure_eq!(collect_garbage(&*s, &*b, later(&meta)).await?, vec![meta.id], "no reference left");
    expect_err!(b.read(&meta.id).await.map(|_| ()), Error::NotFound { .. });
    Ok(())
}

pub(crate) async fn store_again_after_collection(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    setup(&*s).await?;
    let meta = put_bytes(&*b, b"comes back").await?;
    ensure_eq!(collect_garbage(&*s, &*b, later(&meta)).await?, vec![meta.id], "collected");
    let again = put_bytes(&*b, b"comes back").await?;
    ensure_eq!(again.id, meta.id, "same id");
    acquire_committed(&s, &b, &again.id).await?;
    ensure_eq!(refs(&s, &again.id).await?, 1, "referenced again");
    ensure_eq!(collect_garbage(&*s, &*b, later(&again)).await?, Vec::<BlobId>::new(), "and kept");
    ensure_eq!(read_all(&*b, &again.id).await?, b"comes back".to_vec(), "readable");
    Ok(())
}

pub(crate) async fn acquire_after_collection_fails(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    setup(&*s).await?;
    let meta = put_bytes(&*b, b"collected for good").await?;
    ensure_eq!(collect_garbage(&*s, &*b, later(&meta)).await?, vec![meta.id], "collected");
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    expect_err!(acquire(&mut *tx, &*b, &meta.id).await, Error::NotFound { .. });
    ensure_eq!(references(&mut *tx, &meta.id).await?, 0, "a failed acquisition counts nothing");
    Ok(())
}

pub(crate) async fn acquire_of_unknown_bytes_fails(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    setup(&*s).await?;
    let id = BlobId::of(b"never stored");
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    expect_err!(acquire(&mut *tx, &*b, &id).await, Error::NotFound { .. });
    Ok(())
}

/// What a hook does when the collector reaches it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hook {
    /// Before the first `list`: a reference is taken and committed.
    AcquireBeforeList,
    /// Before `remove`: a reference is attempted once the collector has claimed the blob.
    AcquireBeforeRemove,
}

/// A blob store that runs an acquisition at a chosen point of a garbage collection.
#[derive(Debug)]
struct Hooked {
    inner: Blobs,
    store: Arc<dyn Store>,
    target: BlobId,
    hook: Hook,
    result: Mutex<Option<ent_core::Result<()>>>,
}

impl Hooked {
    async fn fire(&self, at: Hook) {
        if self.hook != at || self.result.lock().map(|r| r.is_some()).unwrap_or(true) {
            return;
        }
        let result = async {
            let mut tx = self.store.begin(TxMode::ReadWrite).await?;
            acquire(&mut *tx, &*self.inner, &self.target).await?;
            tx.commit().await
        }
        .await;
        if let Ok(mut slot) = self.result.lock() {
            *slot = Some(result);
        }
    }

    fn outcome(&self) -> Option<ent_core::Result<()>> {
        self.result.lock().ok().and_then(|r| r.clone())
    }
}

#[async_trait]
impl BlobStore for Hooked {
    fn max_blob_bytes(&self) -> u64 {
        self.inner.max_blob_bytes()
    }
    async fn writer(&self) -> ent_core::Result<Box<dyn BlobWriter>> {
        self.inner.writer().await
    }
    async fn read(&self, id: &BlobId) -> ent_core::Result<BlobStream> {
        self.inner.read(id).await
    }
    async fn stat(&self, id: &BlobId) -> ent_core::Result<Option<BlobMeta>> {
        self.inner.stat(id).await
    }
    async fn remove(&self, id: &BlobId) -> ent_core::Result<bool> {
        self.fire(Hook::AcquireBeforeRemove).await;
        self.inner.remove(id).await
    }
    async fn list(&self, after: Option<BlobId>, limit: usize) -> ent_core::Result<Vec<BlobMeta>> {
        self.fire(Hook::AcquireBeforeList).await;
        self.inner.list(after, limit).await
    }
}

pub(crate) async fn gc_never_removes_a_blob_referenced_meanwhile(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    setup(&*s).await?;
    let meta = put_bytes(&*b, b"linked while collecting").await?;
    let hooked = Hooked {
        inner: b.clone(),
        store: s.clone(),
        target: meta.id,
        hook: Hook::AcquireBeforeList,
        result: Mutex::new(None),
    };
    let removed = collect_garbage(&*s, &hooked, later(&meta)).await?;
    ensure!(matches!(hooked.outcome(), Some(Ok(()))), "the acquisition committed: {:?}", hooked.outcome());
    ensure_eq!(removed, Vec::<BlobId>::new(), "a blob referenced before the collector looked is kept");
    ensure!(b.stat(&meta.id).await?.is_some(), "bytes kept");
    ensure_eq!(refs(&s, &meta.id).await?, 1, "reference kept");
    Ok(())
}

pub(crate) async fn acquire_during_collection_fails(s: Arc<dyn Store>, b: Blobs) -> Outcome {
    setup(&*s).await?;
    let meta = put_bytes(&*b, b"claimed").await?;
    let hooked = Hooked {
        inner: b.clone(),
        store: s.clone(),
        target: meta.id,
        hook: Hook::AcquireBeforeRemove,
        result: Mutex::new(None),
    };
    let removed = collect_garbage(&*s, &hooked, later(&meta)).await?;
    let outcome = hooked.outcome();
    ensure!(
        matches!(outcome, Some(Err(Error::NotFound { .. }))),
        "an acquisition of a blob the collector claimed fails with NotFound: {outcome:?}"
    );
    ensure_eq!(removed, vec![meta.id], "the claimed blob is removed");
    ensure_eq!(refs(&s, &meta.id).await?, 0, "the failed acquisition left no reference");
    Ok(())
}
