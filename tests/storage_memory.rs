//! The storage conformance testkit on the memory adapter: one `#[test]` per case.

use std::sync::Arc;

use ent::core::clock::SystemClock;
use ent::storage::memory::{MemoryBlobStore, MemoryStore};

ent::storage::conformance_tests!(|| async { MemoryStore::new() });

ent::storage::blob_conformance_tests!(|| async { MemoryStore::new() }, || async {
    MemoryBlobStore::new(1 << 20, Arc::new(SystemClock))
},);

/// The one-call form gives the same verdict.
#[test]
fn run_all_reports_every_case() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let report = rt.block_on(ent::storage::testkit::run_all(
        || async { MemoryStore::new() },
        Some(|| async { MemoryBlobStore::new(1 << 20, Arc::new(SystemClock)) }),
    ));
    assert_eq!(report.cases.len(), ent::storage::testkit::cases().len());
    assert!(report.cases.len() >= 100);
}
