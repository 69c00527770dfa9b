//! The blob stores: in the database and in a folder, with reference counts and garbage collection.

use chrono::{Duration, Utc};
use ent_core::Error;
use ent_core::storage::blob::{self, BlobStore, put_bytes, read_all};
use ent_core::storage::{Store, TxMode, core_collections};
use ent_storage::fs::FsBlobStore;
use ent_storage::sqlite::SqliteStore;

use crate::common::TempDir;

async fn exercise(store: &SqliteStore, blobs: &dyn BlobStore) {
    store.declare(&core_collections()).await.unwrap();
    // Streamed in odd chunks, across the stores' chunk sizes.
    let big: Vec<u8> = (0..3_000_001u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut w = blobs.writer().await.unwrap();
    for piece in big.chunks(300_007) {
        w.write(piece).await.unwrap();
    }
    let meta = w.finish().await.unwrap();
    assert_eq!(meta.size, big.len() as u64);
    assert_eq!(meta.id, blob::BlobId::of(&big));
    assert_eq!(read_all(blobs, &meta.id).await.unwrap(), big);
    // Content-addressed: the same bytes are stored once.
    assert_eq!(put_bytes(blobs, &big).await.unwrap().id, meta.id);
    let empty = put_bytes(blobs, b"").await.unwrap();
    assert_eq!(read_all(blobs, &empty.id).await.unwrap(), b"");
    assert_eq!(blobs.list(None, 10).await.unwrap().len(), 2);

    // Over the limit: refused, nothing kept.
    let mut w = blobs.writer().await.unwrap();
    let err = w.write(&vec![0u8; blobs.max_blob_bytes() as usize + 1]).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    drop(w);
    assert_eq!(blobs.list(None, 10).await.unwrap().len(), 2);

    // A referenced blob survives collection; released, it goes.
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    blob::acquire(&mut *tx, blobs, &meta.id).await.unwrap();
    tx.commit().await.unwrap();
    let later = Utc::now() + Duration::hours(1);
    let removed = blob::collect_garbage(store, blobs, later).await.unwrap();
    assert_eq!(removed, vec![empty.id]);
    assert!(blobs.stat(&meta.id).await.unwrap().is_some());
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    blob::release(&mut *tx, &meta.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(blob::collect_garbage(store, blobs, later).await.unwrap(), vec![meta.id]);
    assert!(blobs.stat(&meta.id).await.unwrap().is_none());
    assert!(matches!(blobs.read(&meta.id).await.err(), Some(Error::NotFound { .. })));
}

#[tokio::test]
async fn the_in_database_store_streams_limits_counts_and_collects() {
    let dir = TempDir::new("dbblobs");
    let store = SqliteStore::open(dir.file("ent.db")).unwrap();
    let blobs = store.blob_store(4 << 20);
    exercise(&store, &blobs).await;
    assert!(store.integrity_check().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_folder_store_streams_limits_counts_and_collects() {
    let dir = TempDir::new("fsblobs");
    let store = SqliteStore::open(dir.file("ent.db")).unwrap();
    let blobs = FsBlobStore::open(dir.file("blobs"), 4 << 20).unwrap();
    exercise(&store, &blobs).await;
    let leftovers = std::fs::read_dir(dir.file("blobs").join("tmp")).unwrap().count();
    assert_eq!(leftovers, 0, "no temporary file is left behind");
}
