//! Criterion benchmarks of the storage port's operations on the memory adapter.
//!
//! `cargo bench --bench storage`; figures in `docs/benchmarks.md`.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_main};
use ent::core::storage::{CollectionDef, IndexDef, KeyKind, NewRecord, Scan, Store, TxMode, WriteOp};
use ent::storage::memory::MemoryStore;
use serde_json::json;
use tokio::runtime::Runtime;

const COLLECTION: &str = "bench.pupils";

fn record(i: i64) -> NewRecord {
    let data = json!({ "n": i, "name": format!("Élève {i}"), "class": format!("{}", i % 40) });
    NewRecord::from_value((i,), 1, &data).unwrap().with_entry("by_class", (i % 40, i))
}

/// A store with `n` records, 40 classes.
fn seeded(rt: &Runtime, n: i64) -> Arc<dyn Store> {
    rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let def = CollectionDef::new(COLLECTION, [KeyKind::Int])
            .index(IndexDef::new("by_class", [KeyKind::Int, KeyKind::Int]));
        store.declare(&[def]).await.unwrap();
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        let ops = (0..n).map(|i| WriteOp::Insert { collection: COLLECTION.into(), record: record(i) }).collect();
        tx.write_batch(ops).await.unwrap();
        tx.commit().await.unwrap();
        store
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let n = 100_000;
    let store = seeded(&rt, n);
    let mut g = c.benchmark_group("memory");

    let mut i = 0;
    g.bench_function("point_read", |b| {
        b.iter(|| {
            rt.block_on(async {
                i = (i + 7919) % n;
                let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
                tx.get(COLLECTION, &(i,).into()).await.unwrap().unwrap();
            })
        })
    });

    let mut next = n;
    g.bench_function("insert_tx", |b| {
        b.iter(|| {
            rt.block_on(async {
                next += 1;
                let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
                tx.insert(COLLECTION, record(next)).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
    });

    g.bench_function("update_tx", |b| {
        b.iter(|| {
            rt.block_on(async {
                i = (i + 7919) % n;
                let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
                let r = tx.get(COLLECTION, &(i,).into()).await.unwrap().unwrap();
                tx.update(COLLECTION, r.version, record(i)).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
    });

    g.bench_function("index_scan_50", |b| {
        b.iter(|| {
            rt.block_on(async {
                i = (i + 1) % 40;
                let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
                let page = tx.scan(&Scan::index(COLLECTION, "by_class").prefix((i,)).limit(50)).await.unwrap();
                assert_eq!(page.entries.len(), 50);
            })
        })
    });

    g.bench_function("tx_1000_inserts_batched", |b| {
        b.iter_batched(
            || {
                let first = next + 1;
                next += 1000;
                (first..=next).map(|i| WriteOp::Insert { collection: COLLECTION.into(), record: record(i) }).collect()
            },
            |ops: Vec<WriteOp>| {
                rt.block_on(async {
                    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
                    tx.write_batch(ops).await.unwrap();
                    tx.commit().await.unwrap();
                })
            },
            BatchSize::SmallInput,
        )
    });

    g.bench_function("counter_increment_tx", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
                tx.counter_add(COLLECTION, &("unread", 42i64).into(), 1).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
    });
    g.finish();
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
