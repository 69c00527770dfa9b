//! The conformance testkit on the PostgreSQL adapter, records and blobs: every case passes.

use async_trait::async_trait;
use ent_core::Result;
use ent_core::storage::blob::{BlobId, BlobMeta, BlobStore, BlobStream, BlobWriter};
use ent_storage::postgres::PostgresBlobStore;
use ent_storage::testkit;

use crate::common::{TestStore, fresh};

/// A blob store in a schema of its own, dropped with it.
#[derive(Debug)]
struct Blobs {
    blobs: PostgresBlobStore,
    _store: TestStore,
}

#[async_trait]
impl BlobStore for Blobs {
    fn max_blob_bytes(&self) -> u64 {
        self.blobs.max_blob_bytes()
    }
    async fn writer(&self) -> Result<Box<dyn BlobWriter>> {
        self.blobs.writer().await
    }
    async fn read(&self, id: &BlobId) -> Result<BlobStream> {
        self.blobs.read(id).await
    }
    async fn stat(&self, id: &BlobId) -> Result<Option<BlobMeta>> {
        self.blobs.stat(id).await
    }
    async fn remove(&self, id: &BlobId) -> Result<bool> {
        self.blobs.remove(id).await
    }
    async fn list(&self, after: Option<BlobId>, limit: usize) -> Result<Vec<BlobMeta>> {
        self.blobs.list(after, limit).await
    }
}

/// Runs every case of the testkit, each on a fresh store in a schema of its own (the cases one after the
/// other, each in its own runtime, as `conformance_tests!` would), and reports every failure at once.
#[test]
fn every_conformance_case_passes() {
    let url = require_postgres!();
    let stores = {
        let url = url.clone();
        move || {
            let url = url.clone();
            async move { fresh(&url, "kit").await }
        }
    };
    let blobs = move || {
        let url = url.clone();
        async move {
            let store = fresh(&url, "kitblobs").await;
            Blobs { blobs: store.blob_store(1 << 20), _store: store }
        }
    };
    let only = std::env::var("ENT_TEST_CASE").ok();
    let mut failed = Vec::new();
    let mut ran = 0;
    for case in testkit::cases() {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        let started = std::time::Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match case.body {
            testkit::Body::Store(_) => testkit::run_store_case(case.name, &stores),
            testkit::Body::Blob(_) => testkit::run_blob_case(case.name, &stores, &blobs),
        }));
        ran += 1;
        eprintln!("{} {} ({:?})", if outcome.is_ok() { "ok" } else { "FAILED" }, case.name, started.elapsed());
        if outcome.is_err() {
            failed.push(case.name);
        }
    }
    assert!(failed.is_empty(), "{} of {ran} cases failed: {failed:?}", failed.len());
    assert!(only.is_some() || ran >= 170, "only {ran} cases ran");
}
