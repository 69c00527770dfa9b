//! The PostgreSQL adapter against the same work done by hand with the raw driver (`tokio-postgres`,
//! prepared statements, one statement per round trip as one writes it by hand) on the same layout, side by
//! side in one run, over loopback.
//!
//! `ENT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p ent-storage --features postgres --bench postgres`;
//! without the variable it says so and measures nothing. Each side works in a schema of its own, dropped at
//! the end. Figures in `docs/benchmarks.md`.
//!
//! Both sides hold 20,000 records (about 60 bytes of JSON each) with one secondary index over 40 classes.
//! Every figure is a whole transaction: begin, the operation, commit (durable: `synchronous_commit` is the
//! server's, on by default).

use criterion::{BatchSize, Criterion, criterion_main};
use ent_core::storage::{CollectionDef, IndexDef, KeyKind, NewRecord, Scan, Store, Tuple, TxMode, WriteOp};
use ent_storage::postgres::{PostgresOptions, PostgresStore};
use serde_json::json;
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls, Statement};

const COLLECTION: &str = "bench.pupils";
const N: i64 = 20_000;

fn data(i: i64) -> serde_json::Value {
    json!({ "n": i, "name": format!("Élève {i}"), "class": format!("{}", i % 40) })
}

fn record(i: i64) -> NewRecord {
    NewRecord::from_value((i,), 1, &data(i)).unwrap().with_entry("by_class", (i % 40, i))
}

fn def() -> CollectionDef {
    CollectionDef::new(COLLECTION, [KeyKind::Int]).index(IndexDef::new("by_class", [KeyKind::Int, KeyKind::Int]))
}

async fn store(url: &str, schema: &str) -> PostgresStore {
    let options = PostgresOptions { schema: Some(schema.to_owned()), ..PostgresOptions::default() };
    let store = PostgresStore::connect_with(url, options).await.unwrap();
    store.declare(&[def()]).await.unwrap();
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    let ops = (0..N).map(|i| WriteOp::Insert { collection: COLLECTION.into(), record: record(i) }).collect();
    tx.write_batch(ops).await.unwrap();
    tx.commit().await.unwrap();
    store
}

async fn client(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// The raw driver on a schema of the same layout.
struct Raw {
    client: Client,
    cid: i64,
    xid: i64,
    get: Statement,
    insert: Statement,
    entry: Statement,
    update: Statement,
    scan: Statement,
    counter: Statement,
}

impl Raw {
    async fn open(url: &str, schema: &str) -> Raw {
        let client = client(url).await;
        client.batch_execute(&format!("SET search_path = \"{schema}\"")).await.unwrap();
        let cid: i64 =
            client.query_one("SELECT cid FROM ent_collection WHERE name = $1", &[&COLLECTION]).await.unwrap().get(0);
        let xid: i64 = client.query_one("SELECT xid FROM ent_index WHERE cid = $1", &[&cid]).await.unwrap().get(0);
        let get = client
            .prepare("SELECT version, schema_version, data::text FROM ent_record WHERE cid = $1 AND id = $2")
            .await
            .unwrap();
        let insert = client
            .prepare(
                "INSERT INTO ent_record (cid, id, version, schema_version, data, entry_xids, entry_keys) \
                 VALUES ($1, $2, 1, 1, $3::text::jsonb, $4, $5)",
            )
            .await
            .unwrap();
        let entry = client.prepare("INSERT INTO ent_entry (xid, key, id) VALUES ($1, $2, $3)").await.unwrap();
        let update = client
            .prepare(
                "UPDATE ent_record SET version = version + 1, data = $3::text::jsonb \
                 WHERE cid = $1 AND id = $2 AND version = $4",
            )
            .await
            .unwrap();
        let scan = client
            .prepare(
                "SELECT e.key, e.id, r.version, r.schema_version, r.data::text FROM ent_entry AS e \
                 JOIN ent_record AS r ON r.cid = $4 AND r.id = e.id \
                 WHERE e.xid = $1 AND e.key >= $2 AND e.key < $3 ORDER BY e.key, e.id LIMIT 51",
            )
            .await
            .unwrap();
        let counter = client.prepare("INSERT INTO ent_counter (cid, key, value) VALUES ($1, $2, $3)").await.unwrap();
        Raw { client, cid, xid, get, insert, entry, update, scan, counter }
    }

    async fn insert(&self, i: i64) {
        let id = Tuple::from((i,)).encode().unwrap();
        let key = Tuple::from((i % 40, i)).encode().unwrap();
        let json = serde_json::to_string(&data(i)).unwrap();
        self.client.execute(&self.insert, &[&self.cid, &id, &json, &vec![self.xid], &vec![key.clone()]]).await.unwrap();
        self.client.execute(&self.entry, &[&self.xid, &key, &id]).await.unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let Some(url) = std::env::var("ENT_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("ENT_TEST_POSTGRES_URL is not set: no PostgreSQL benchmark");
        return;
    };
    let rt: Runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (a_schema, r_schema) =
        (format!("ent_bench_adapter_{}", std::process::id()), format!("ent_bench_raw_{}", std::process::id()));
    let store = rt.block_on(store(&url, &a_schema));
    rt.block_on(async { drop(store_again(&url, &r_schema).await) });
    let raw = rt.block_on(Raw::open(&url, &r_schema));
    let mut g = c.benchmark_group("postgres");
    g.sample_size(30);

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
            rt.block_on(async {
                let id = Tuple::from((i,)).encode().unwrap();
                raw.client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.unwrap();
                raw.client.query_one(&raw.get, &[&raw.cid, &id]).await.unwrap();
                raw.client.batch_execute("COMMIT").await.unwrap();
            })
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
            rt.block_on(async {
                let prefix = Tuple::from((i,)).encode().unwrap();
                let mut hi = prefix.clone();
                hi.push(0xFF);
                raw.client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.unwrap();
                let rows = raw.client.query(&raw.scan, &[&raw.xid, &prefix, &hi, &raw.cid]).await.unwrap();
                assert!(rows.len() >= 50);
                raw.client.batch_execute("COMMIT").await.unwrap();
            })
        })
    });

    let mut next = N;
    g.bench_function("insert_tx/adapter", |b| {
        b.iter(|| {
            next += 1;
            rt.block_on(async {
                let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
                tx.insert(COLLECTION, record(next)).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
    });
    g.bench_function("insert_tx/raw", |b| {
        b.iter(|| {
            next += 1;
            rt.block_on(async {
                raw.client.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE").await.unwrap();
                raw.insert(next).await;
                raw.client.batch_execute("COMMIT").await.unwrap();
            })
        })
    });

    g.bench_function("update_tx/adapter", |b| {
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
    g.bench_function("update_tx/raw", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            rt.block_on(async {
                let id = Tuple::from((i,)).encode().unwrap();
                let json = serde_json::to_string(&data(i)).unwrap();
                raw.client.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE").await.unwrap();
                let version: i64 = raw.client.query_one(&raw.get, &[&raw.cid, &id]).await.unwrap().get(0);
                let n = raw.client.execute(&raw.update, &[&raw.cid, &id, &json, &version]).await.unwrap();
                assert_eq!(n, 1);
                raw.client.batch_execute("COMMIT").await.unwrap();
            })
        })
    });

    g.sample_size(10);
    g.bench_function("tx_1000_inserts/adapter", |b| {
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
    g.bench_function("tx_1000_inserts/raw", |b| {
        b.iter(|| {
            rt.block_on(async {
                raw.client.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE").await.unwrap();
                for _ in 0..1000 {
                    next += 1;
                    raw.insert(next).await;
                }
                raw.client.batch_execute("COMMIT").await.unwrap();
            })
        })
    });
    g.sample_size(30);

    g.bench_function("counter_increment_tx/adapter", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
                tx.counter_add(COLLECTION, &("unread", 42i64).into(), 1).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
    });
    let key = Tuple::from(("unread", 42i64)).encode().unwrap();
    g.bench_function("counter_increment_tx/raw", |b| {
        b.iter(|| {
            rt.block_on(async {
                raw.client.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE").await.unwrap();
                raw.client.execute(&raw.counter, &[&raw.cid, &key, &1i64]).await.unwrap();
                raw.client.batch_execute("COMMIT").await.unwrap();
            })
        })
    });
    g.finish();
    drop(store);
    rt.block_on(async {
        let admin = client(&url).await;
        admin
            .batch_execute(&format!("DROP SCHEMA \"{a_schema}\" CASCADE; DROP SCHEMA \"{r_schema}\" CASCADE"))
            .await
            .unwrap();
    });
}

/// The raw side's schema, laid out and seeded by the adapter (the same layout, the same data).
async fn store_again(url: &str, schema: &str) -> PostgresStore {
    store(url, schema).await
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
