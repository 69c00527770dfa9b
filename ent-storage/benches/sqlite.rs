//! The SQLite adapter against the same work done by hand with the raw driver (`rusqlite`, cached prepared
//! statements) on the same layout and the same kind of file, side by side in one run.
//!
//! `cargo bench -p ent-storage --features sqlite --bench sqlite`; figures in `docs/benchmarks.md`.
//!
//! Both sides hold 100,000 records (about 60 bytes of JSON each) with one secondary index over 40 classes,
//! as the memory adapter's benchmark does. Every figure is a whole transaction: begin, the operation, commit.
//! The write benchmarks run twice: with `synchronous=FULL` (the adapter's default: an fsync per commit,
//! which dominates) and with `synchronous=NORMAL` (no fsync at commit), which shows the adapter's own cost.

use std::path::{Path, PathBuf};

use criterion::{BatchSize, BenchmarkGroup, Criterion, criterion_main, measurement::WallTime};
use ent_core::storage::{CollectionDef, IndexDef, KeyKind, NewRecord, Scan, Store, Tuple, TxMode, WriteOp};
use ent_storage::sqlite::{Durability, SqliteOptions, SqliteStore};
use rusqlite::{Connection, OpenFlags};
use serde_json::json;
use tokio::runtime::Runtime;

const COLLECTION: &str = "bench.pupils";
const N: i64 = 100_000;

fn data(i: i64) -> serde_json::Value {
    json!({ "n": i, "name": format!("Élève {i}"), "class": format!("{}", i % 40) })
}

fn record(i: i64) -> NewRecord {
    NewRecord::from_value((i,), 1, &data(i)).unwrap().with_entry("by_class", (i % 40, i))
}

fn def() -> CollectionDef {
    CollectionDef::new(COLLECTION, [KeyKind::Int]).index(IndexDef::new("by_class", [KeyKind::Int, KeyKind::Int]))
}

/// A database of `N` records written by the adapter.
fn seed(rt: &Runtime, path: &Path) {
    rt.block_on(async {
        let store = SqliteStore::open(path).unwrap();
        store.declare(&[def()]).await.unwrap();
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        let ops = (0..N).map(|i| WriteOp::Insert { collection: COLLECTION.into(), record: record(i) }).collect();
        tx.write_batch(ops).await.unwrap();
        tx.commit().await.unwrap();
    });
}

fn folder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ent-sqlite-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The raw driver on a file of the same layout: a writer and a reader connection, as the adapter has.
struct Raw {
    writer: Connection,
    reader: Connection,
    cid: i64,
    xid: i64,
}

impl Raw {
    fn open(path: &Path, synchronous: &str) -> Raw {
        let writer = Connection::open(path).unwrap();
        writer.pragma_update(None, "synchronous", synchronous).unwrap();
        let reader = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        for c in [&writer, &reader] {
            c.pragma_update(None, "cache_size", -8192).unwrap();
            c.set_prepared_statement_cache_capacity(64);
        }
        let cid =
            writer.query_row("SELECT cid FROM ent_collection WHERE name = ?1", [COLLECTION], |r| r.get(0)).unwrap();
        let xid = writer.query_row("SELECT xid FROM ent_index WHERE cid = ?1", [cid], |r| r.get(0)).unwrap();
        Raw { writer, reader, cid, xid }
    }

    fn exec(c: &Connection, sql: &str) {
        c.prepare_cached(sql).unwrap().execute([]).unwrap();
    }

    /// The entry list the layout keeps in `ent_record.entries`.
    fn entries(&self, key: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + key.len());
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
        out
    }

    fn insert(&self, i: i64) {
        let id = Tuple::from((i,)).encode().unwrap();
        let key = Tuple::from((i % 40, i)).encode().unwrap();
        let json = serde_json::to_string(&data(i)).unwrap();
        self.writer
            .prepare_cached(
                "INSERT INTO ent_record (cid, id, version, schema_version, data, entries) VALUES (?1, ?2, 1, 1, ?3, ?4)",
            )
            .unwrap()
            .execute((self.cid, &id, &json, self.entries(&key)))
            .unwrap();
        self.writer
            .prepare_cached("INSERT INTO ent_entry (xid, key, id) VALUES (?1, ?2, ?3)")
            .unwrap()
            .execute((self.xid, &key, &id))
            .unwrap();
    }

    fn get(&self, c: &Connection, i: i64) -> (i64, String) {
        let id = Tuple::from((i,)).encode().unwrap();
        c.prepare_cached("SELECT version, schema_version, data FROM ent_record WHERE cid = ?1 AND id = ?2")
            .unwrap()
            .query_row((self.cid, &id), |r| Ok((r.get(0)?, r.get(2)?)))
            .unwrap()
    }
}

/// Runs the write benchmarks of one durability on both sides.
fn writes(
    g: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    store: &SqliteStore,
    raw: &Raw,
    label: &str,
    next: &mut i64,
) {
    let mut i = 0;
    g.bench_function(format!("insert_tx/{label}/adapter"), |b| {
        b.iter(|| {
            *next += 1;
            rt.block_on(async {
                let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
                tx.insert(COLLECTION, record(*next)).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
    });
    g.bench_function(format!("insert_tx/{label}/raw"), |b| {
        b.iter(|| {
            *next += 1;
            Raw::exec(&raw.writer, "BEGIN IMMEDIATE");
            raw.insert(*next);
            Raw::exec(&raw.writer, "COMMIT");
        })
    });

    g.bench_function(format!("update_tx/{label}/adapter"), |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            rt.block_on(async {
                let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
                let r = tx.get(COLLECTION, &(i,).into()).await.unwrap().unwrap();
                tx.update(COLLECTION, r.version, record(i)).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
    });
    g.bench_function(format!("update_tx/{label}/raw"), |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            Raw::exec(&raw.writer, "BEGIN IMMEDIATE");
            let (version, _) = raw.get(&raw.writer, i);
            let id = Tuple::from((i,)).encode().unwrap();
            let key = Tuple::from((i % 40, i)).encode().unwrap();
            let json = serde_json::to_string(&data(i)).unwrap();
            let n = raw
                .writer
                .prepare_cached(
                    "UPDATE ent_record SET version = version + 1, schema_version = 1, data = ?3, entries = ?4 \
                     WHERE cid = ?1 AND id = ?2 AND version = ?5",
                )
                .unwrap()
                .execute((raw.cid, &id, &json, raw.entries(&key), version))
                .unwrap();
            assert_eq!(n, 1);
            Raw::exec(&raw.writer, "COMMIT");
        })
    });

    g.bench_function(format!("tx_1000_inserts/{label}/adapter"), |b| {
        b.iter_batched(
            || {
                let first = *next + 1;
                *next += 1000;
                (first..=*next).map(|i| WriteOp::Insert { collection: COLLECTION.into(), record: record(i) }).collect()
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
    g.bench_function(format!("tx_1000_inserts/{label}/raw"), |b| {
        b.iter(|| {
            Raw::exec(&raw.writer, "BEGIN IMMEDIATE");
            for _ in 0..1000 {
                *next += 1;
                raw.insert(*next);
            }
            Raw::exec(&raw.writer, "COMMIT");
        })
    });

    g.bench_function(format!("counter_increment_tx/{label}/adapter"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
                tx.counter_add(COLLECTION, &("unread", 42i64).into(), 1).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
    });
    let key = Tuple::from(("unread", 42i64)).encode().unwrap();
    g.bench_function(format!("counter_increment_tx/{label}/raw"), |b| {
        b.iter(|| {
            Raw::exec(&raw.writer, "BEGIN IMMEDIATE");
            raw.writer
                .prepare_cached(
                    "INSERT INTO ent_counter (cid, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (cid, key) DO UPDATE SET value = value + excluded.value",
                )
                .unwrap()
                .execute((raw.cid, &key, 1))
                .unwrap();
            Raw::exec(&raw.writer, "COMMIT");
        })
    });
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let dir = folder();
    let (adapter_path, raw_path) = (dir.join("adapter.db"), dir.join("raw.db"));
    seed(&rt, &adapter_path);
    seed(&rt, &raw_path);
    let store = SqliteStore::open(&adapter_path).unwrap();
    let raw = Raw::open(&raw_path, "FULL");
    let mut g = c.benchmark_group("sqlite");

    let mut i = 0;
    g.bench_function("point_read/adapter", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            rt.block_on(async {
                let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
                tx.get(COLLECTION, &(i,).into()).await.unwrap().unwrap();
                tx.commit().await.unwrap();
            })
        })
    });
    g.bench_function("point_read/raw", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            Raw::exec(&raw.reader, "BEGIN");
            raw.get(&raw.reader, i);
            Raw::exec(&raw.reader, "COMMIT");
        })
    });

    g.bench_function("index_scan_50/adapter", |b| {
        b.iter(|| {
            i = (i + 1) % 40;
            rt.block_on(async {
                let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
                let page = tx.scan(&Scan::index(COLLECTION, "by_class").prefix((i,)).limit(50)).await.unwrap();
                assert_eq!(page.entries.len(), 50);
                tx.commit().await.unwrap();
            })
        })
    });
    g.bench_function("index_scan_50/raw", |b| {
        b.iter(|| {
            i = (i + 1) % 40;
            let prefix = Tuple::from((i,)).encode().unwrap();
            let mut hi = prefix.clone();
            hi.push(0xFF);
            Raw::exec(&raw.reader, "BEGIN");
            let mut stmt = raw
                .reader
                .prepare_cached(
                    "SELECT e.key, e.id, r.version, r.schema_version, r.data FROM ent_entry AS e \
                     CROSS JOIN ent_record AS r WHERE e.xid = ?1 AND e.key >= ?2 AND e.key < ?3 \
                     AND r.cid = ?4 AND r.id = e.id ORDER BY e.key, e.id LIMIT 51",
                )
                .unwrap();
            let rows = stmt
                .query_map((raw.xid, &prefix, &hi, raw.cid), |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(4)?))
                })
                .unwrap();
            let rows: Vec<_> = rows.take(50).map(Result::unwrap).collect();
            assert_eq!(rows.len(), 50);
            drop(stmt);
            Raw::exec(&raw.reader, "COMMIT");
        })
    });

    // The apply path scans with a different limit at each call (1 for a source key, 1,000 for a user's
    // memberships...): binding another limit must not make SQLite compile the statement again.
    for (name, varying) in [("index_lookup_same_limit/adapter", false), ("index_lookup_varying_limit/adapter", true)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % 40;
                let limit = if varying { 1 + i as usize % 2 } else { 1 };
                rt.block_on(async {
                    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
                    let scan = Scan::index(COLLECTION, "by_class").prefix((i,)).limit(limit).keys_only();
                    assert_eq!(tx.scan(&scan).await.unwrap().entries.len(), limit);
                    tx.commit().await.unwrap();
                })
            })
        });
    }

    let mut next = N;
    // An fsync per commit: fewer samples, or the run takes minutes.
    g.sample_size(10);
    writes(&mut g, &rt, &store, &raw, "full", &mut next);
    g.sample_size(50);
    drop((store, raw));
    let options = SqliteOptions { durability: Durability::Normal, ..SqliteOptions::default() };
    let store = SqliteStore::open_with(&adapter_path, options).unwrap();
    let raw = Raw::open(&raw_path, "NORMAL");
    writes(&mut g, &rt, &store, &raw, "normal", &mut next);
    g.finish();
    drop((store, raw));
    let _ = std::fs::remove_dir_all(&dir);
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
