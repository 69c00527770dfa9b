//! The conformance testkit on the SQLite adapter, on a file and in memory, and on both blob stores.

use std::time::Duration;

use async_trait::async_trait;
use ent_core::Result;
use ent_core::storage::blob::{BlobId, BlobMeta, BlobStore, BlobStream, BlobWriter};
use ent_core::storage::{CollectionDef, DeclareReport, Limits, Store, Transaction, TxMode};
use ent_storage::fs::FsBlobStore;
use ent_storage::sqlite::{SqliteBlobStore, SqliteOptions, SqliteStore};
use ent_storage::testkit::{self, Report};

use crate::common::TempDir;

/// The isolation cases interleave transactions in one task: a transaction whose first write finds the lock
/// taken by another of the same task waits `busy_timeout` before its retryable conflict. Shorter than the
/// default 5 s, so the suite runs in seconds.
pub(crate) fn options() -> SqliteOptions {
    SqliteOptions { busy_timeout: Duration::from_millis(300), ..SqliteOptions::default() }
}

/// A store on a fresh database file, which removes its folder when dropped.
#[derive(Debug)]
pub(crate) struct OnFile {
    store: SqliteStore,
    _dir: TempDir,
}

pub(crate) fn on_file() -> OnFile {
    let dir = TempDir::new("conformance");
    OnFile { store: SqliteStore::open_with(dir.file("ent.db"), options()).unwrap(), _dir: dir }
}

#[async_trait]
impl Store for OnFile {
    fn adapter(&self) -> &'static str {
        self.store.adapter()
    }
    fn limits(&self) -> &Limits {
        self.store.limits()
    }
    async fn declare(&self, collections: &[CollectionDef]) -> Result<DeclareReport> {
        self.store.declare(collections).await
    }
    async fn collections(&self) -> Result<Vec<CollectionDef>> {
        self.store.collections().await
    }
    async fn begin(&self, mode: TxMode) -> Result<Box<dyn Transaction>> {
        self.store.begin(mode).await
    }
}

/// A blob store in a database file of its own, or in a folder, removed when dropped.
#[derive(Debug)]
pub(crate) struct Blobs<B> {
    blobs: B,
    _dir: TempDir,
}

pub(crate) fn blobs_in_file() -> Blobs<SqliteBlobStore> {
    let dir = TempDir::new("conformance-blobs");
    let blobs = SqliteStore::open_with(dir.file("ent.db"), options()).unwrap().blob_store(1 << 20);
    Blobs { blobs, _dir: dir }
}

pub(crate) fn blobs_in_folder() -> Blobs<FsBlobStore> {
    let dir = TempDir::new("conformance-folder");
    let blobs = FsBlobStore::open(dir.file("blobs"), 1 << 20).unwrap();
    Blobs { blobs, _dir: dir }
}

#[async_trait]
impl<B: BlobStore> BlobStore for Blobs<B> {
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

/// Every case passes.
fn check(report: &Report) {
    let failed: Vec<&str> = report.failures().map(|c| c.name).collect();
    assert!(failed.is_empty(), "{report}");
    assert!(report.cases.len() >= 170, "{report}");
}

fn run(report: impl std::future::Future<Output = Report>) -> Report {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(report)
}

type NoBlobs = fn() -> std::future::Ready<Blobs<FsBlobStore>>;

#[test]
fn conformance_on_a_file() {
    check(&run(testkit::run_all(|| async { on_file() }, None::<NoBlobs>)));
}

#[test]
fn conformance_in_memory() {
    check(&run(testkit::run_all(|| async { SqliteStore::in_memory_with(options()).unwrap() }, None::<NoBlobs>)));
}

mod in_database {
    ent_storage::blob_conformance_tests!(|| async { crate::conformance::on_file() }, || async {
        crate::conformance::blobs_in_file()
    });
}

mod in_folder {
    ent_storage::blob_conformance_tests!(|| async { crate::conformance::on_file() }, || async {
        crate::conformance::blobs_in_folder()
    });
}
