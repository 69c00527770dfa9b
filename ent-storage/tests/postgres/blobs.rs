//! The blob store in the database, with reference counts and garbage collection.

use chrono::{Duration, Utc};
use ent_core::Error;
use ent_core::storage::blob::{self, BlobStore, put_bytes, read_all};
use ent_core::storage::{Store, TxMode, core_collections};

use crate::common::fresh;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_database_store_streams_limits_counts_and_collects() {
    let url = require_postgres!();
    let store = fresh(&url, "blobs").await;
    let blobs = store.blob_store(4 << 20);
    let blobs: &dyn BlobStore = &blobs;
    store.declare(&core_collections()).await.unwrap();
    // Streamed in odd chunks, across the store's chunk size.
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

    // Over the limit: refused, nothing kept, no upload left behind.
    let mut w = blobs.writer().await.unwrap();
    w.write(&vec![1u8; 2 << 20]).await.unwrap();
    let err = w.write(&vec![0u8; 3 << 20]).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    drop(w);
    assert_eq!(blobs.list(None, 10).await.unwrap().len(), 2);
    let admin = crate::common::admin(&url).await;
    let uploads: i64 = admin
        .query_one(&format!("SELECT count(*) FROM \"{}\".ent_blob_upload", store.schema.name), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(uploads, 0);

    // A referenced blob survives collection; released, it goes.
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    blob::acquire(&mut *tx, blobs, &meta.id).await.unwrap();
    tx.commit().await.unwrap();
    let later = Utc::now() + Duration::hours(1);
    let removed = blob::collect_garbage(&*store, blobs, later).await.unwrap();
    assert_eq!(removed, vec![empty.id]);
    assert!(blobs.stat(&meta.id).await.unwrap().is_some());
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    blob::release(&mut *tx, &meta.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(blob::collect_garbage(&*store, blobs, later).await.unwrap(), vec![meta.id]);
    assert!(blobs.stat(&meta.id).await.unwrap().is_none());
    assert!(matches!(blobs.read(&meta.id).await.err(), Some(Error::NotFound { .. })));
}
