//! The client killed mid-transaction: a child process writes to PostgreSQL under load and is killed
//! (`SIGKILL`) at random points, over and over; after each kill, every acknowledged commit is there, no
//! transaction is half applied, counters equal the sum of the committed increments, and blobs referenced by
//! committed records are whole.
//!
//! The test runs itself as the child: it spawns its own binary with `--exact` on its own name and
//! `ENT_PG_CRASH_CHILD` set, and the child writes instead of supervising. A child acknowledges a commit
//! by appending a line to its log and fsyncing it *after* `commit` returned, so a line in the log is a
//! promise the store must keep (a commit made just before the kill may be missing from the log: that is
//! allowed; the reverse is not).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ent_core::storage::blob::{self, BlobId, BlobStore, read_all};
use ent_core::storage::{CollectionDef, IndexDef, KeyKind, NewRecord, Scan, Store, Tuple, TxMode, core_collections};
use ent_storage::postgres::{PostgresBlobStore, PostgresStore};
use serde_json::{Value, json};

use crate::common::Schema;

/// A folder removed when dropped (for the acknowledgement logs).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const ITEMS: &str = "crash.items";
const HEADS: &str = "crash.heads";
const WORKERS: i64 = 4;
const ITERATIONS: u64 = 30;
const CHILD_ENV: &str = "ENT_PG_CRASH_CHILD";
const GEN_ENV: &str = "ENT_PG_CRASH_GEN";
const TEST_NAME: &str = "crash::acknowledged_commits_survive_sigkill";

fn collections() -> Vec<CollectionDef> {
    let mut all = core_collections();
    // Items: (generation, worker, transaction, j); each transaction writes k of them.
    all.push(
        CollectionDef::new(ITEMS, [KeyKind::Int, KeyKind::Int, KeyKind::Int, KeyKind::Int])
            .index(IndexDef::new("by_tx", [KeyKind::Int, KeyKind::Int, KeyKind::Int])),
    );
    // One head per worker, updated (with its version checked) by every transaction of the worker.
    all.push(CollectionDef::new(HEADS, [KeyKind::Int, KeyKind::Int]));
    all
}

/// xorshift64*: enough randomness for kill points and sizes, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The deterministic bytes of the blob of transaction `(generation, worker, tx)`.
fn blob_bytes(generation: u64, worker: i64, tx: i64) -> Vec<u8> {
    let mut rng = Rng((generation << 40) ^ ((worker as u64) << 32) ^ (tx as u64) ^ 0x9E37_79B9_7F4A_7C15);
    let len = 1 + rng.below(200_000) as usize;
    (0..len).map(|_| rng.next() as u8).collect()
}

const SCHEMA_ENV: &str = "ENT_PG_CRASH_SCHEMA";

async fn open(url: &str, schema: &str) -> (PostgresStore, PostgresBlobStore) {
    let options = ent_storage::postgres::PostgresOptions { schema: Some(schema.to_owned()), ..Default::default() };
    let store = PostgresStore::connect_with(url, options).await.unwrap();
    let blobs = store.blob_store(1 << 20);
    (store, blobs)
}

#[test]
fn acknowledged_commits_survive_sigkill() {
    let url = require_postgres!();
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let generation: u64 = std::env::var(GEN_ENV).unwrap().parse().unwrap();
        // The child's connections carry a name, so that the parent can wait for the server to end them.
        let schema = std::env::var(SCHEMA_ENV).unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        child(&format!("{url}{sep}application_name={schema}"), &schema, Path::new(&dir), generation);
        return;
    }
    let schema = Schema::new(&url, "crash");
    let dir = TempDir(std::env::temp_dir().join(format!("ent-pg-crash-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("crash test seed: {seed}");
    let mut rng = Rng(seed);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let started = Instant::now();
    let mut verified = Verified::default();
    for generation in 0..ITERATIONS {
        let stderr = dir.0.join(format!("child-{generation}.err"));
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, &dir.0)
            .env(GEN_ENV, generation.to_string())
            .env(SCHEMA_ENV, &schema.name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        // Connecting takes a few tens of milliseconds: kill between the start and a second of writing.
        std::thread::sleep(Duration::from_millis(50 + rng.below(400)));
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child exited by itself ({status}): {}", std::fs::read_to_string(&stderr).unwrap());
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        // The server finishes what it received before it notices the client is gone (a COMMIT on its way
        // is applied): wait until the child's sessions have ended before looking.
        runtime.block_on(async {
            let admin = crate::common::admin(&url).await;
            for _ in 0..1000 {
                let n: i64 = admin
                    .query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", &[&schema.name])
                    .await
                    .unwrap()
                    .get(0);
                if n == 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("the killed child's sessions did not end");
        });
        runtime.block_on(verify(&url, &schema.name, &dir.0, generation, &mut verified));
    }
    eprintln!(
        "crash test: {ITERATIONS} kills in {:?}, {} transactions and {} acknowledged commits checked, {} blobs",
        started.elapsed(),
        verified.transactions,
        verified.acknowledged,
        verified.blobs
    );
    assert!(verified.acknowledged > ITERATIONS, "the children acknowledged too few commits to test anything");
    assert!(verified.blobs > 0, "no blob was written");
}

/// A transaction found in the store: its size k, the items seen, its blob (id, store) if it has one.
type Found = (i64, i64, Option<(String, String)>);

/// What the verification of past generations established (their data never changes afterwards).
#[derive(Default)]
struct Verified {
    total: i64,
    transactions: u64,
    acknowledged: u64,
    blobs: u64,
}

async fn verify(url: &str, schema: &str, dir: &Path, generation: u64, verified: &mut Verified) {
    let (store, db_blobs) = open(url, schema).await;
    if store.collections().await.unwrap().iter().all(|c| c.name != ITEMS) {
        return; // killed before its first declaration
    }
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    // Every transaction of this generation found in the store: (worker, tx) -> (k, items seen, blob).
    let mut found: BTreeMap<(i64, i64), Found> = BTreeMap::new();
    let mut scan = Scan::primary(ITEMS).prefix((generation as i64,)).limit(1000);
    loop {
        let page = tx.scan(&scan).await.unwrap();
        for entry in &page.entries {
            let record = entry.record.as_ref().unwrap();
            let data: Value = serde_json::from_str(record.data.get()).unwrap();
            let [_, w, t, _] = entry.id.elements() else { panic!("bad key {}", entry.id) };
            let (ent_core::storage::Element::Int(w), ent_core::storage::Element::Int(t)) = (w, t) else {
                panic!("bad key {}", entry.id)
            };
            let k = data["k"].as_i64().unwrap();
            let blob = data["blob"].as_str().map(|b| (b.to_owned(), data["store"].as_str().unwrap().to_owned()));
            let slot = found.entry((*w, *t)).or_insert((k, 0, blob));
            slot.1 += 1;
        }
        match page.next {
            Some(c) => scan = scan.after(Some(c)),
            None => break,
        }
    }
    // No half-applied transaction.
    for ((w, t), (k, seen, _)) in &found {
        assert_eq!(k, seen, "generation {generation}, worker {w}, transaction {t}: {seen} of {k} records");
    }
    // Every acknowledged commit is there.
    for w in 0..WORKERS {
        let log = dir.join(format!("ack-{generation}-{w}.log"));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        // A line is an acknowledgement once whole (the kill may cut the last one short, before its fsync).
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')).map(str::trim_end) {
            let mut parts = line.split(' ');
            let t: i64 = parts.next().unwrap().parse().unwrap();
            let k: i64 = parts.next().unwrap().parse().unwrap();
            assert_eq!(
                found.get(&(w, t)).map(|f| f.0),
                Some(k),
                "generation {generation}: acknowledged transaction ({w}, {t}) is missing"
            );
            verified.acknowledged += 1;
        }
        // The head was updated by every transaction of the worker, in the same transactions.
        let mine: Vec<i64> = found.keys().filter(|(fw, _)| *fw == w).map(|(_, t)| *t).collect();
        let head = tx.get(HEADS, &Tuple::from((generation as i64, w))).await.unwrap();
        match (head, mine.last()) {
            (None, None) => {}
            (Some(head), Some(last)) => {
                let data: Value = serde_json::from_str(head.data.get()).unwrap();
                assert_eq!(data["t"].as_i64(), Some(*last), "head of worker {w}");
                assert_eq!(head.version, mine.len() as u64, "one head update per transaction of worker {w}");
            }
            (head, last) => panic!("head {head:?} but last transaction {last:?}"),
        }
        let txs = tx.counter_get(ITEMS, &Tuple::from(("txs", generation as i64, w))).await.unwrap();
        assert_eq!(txs, mine.len() as i64, "transaction counter of worker {w}");
    }
    // Counters equal the sum of committed increments.
    let this_generation: i64 = found.values().map(|(k, _, _)| *k).sum();
    let total = tx.counter_get(ITEMS, &Tuple::from(("total",))).await.unwrap();
    assert_eq!(total, verified.total + this_generation, "the total counter after kill {generation}");
    verified.total = total;
    verified.transactions += found.len() as u64;
    // Blobs referenced by committed records are there, whole.
    for ((w, t), (_, _, blob)) in &found {
        let Some((id, kind)) = blob else { continue };
        let id = BlobId::from_hex(id).unwrap();
        assert_eq!(kind, "db");
        let blobs: &dyn BlobStore = &db_blobs;
        let bytes = read_all(blobs, &id).await.unwrap();
        assert_eq!(bytes, blob_bytes(generation, *w, *t), "blob of ({w}, {t})");
        assert!(blob::references(&mut *tx, &id).await.unwrap() >= 1);
        verified.blobs += 1;
    }
}

/// The child: four writers until killed (or ten seconds, should the parent die first).
fn child(url: &str, schema: &str, dir: &Path, generation: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let (store, db_blobs) = open(url, schema).await;
        store.declare(&collections()).await.unwrap();
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            let (store, db_blobs) = (store.clone(), db_blobs.clone());
            let log = dir.join(format!("ack-{generation}-{w}.log"));
            tasks.push(tokio::spawn(async move { writer(store, db_blobs, generation, w, log).await }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

async fn writer(store: PostgresStore, db_blobs: PostgresBlobStore, generation: u64, w: i64, log: PathBuf) {
    let mut rng = Rng(generation.wrapping_mul(31).wrapping_add(w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let g = generation as i64;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut head_version: Option<u64> = None;
    let mut t = 0i64;
    // Serializable transactions may be refused at any statement, not only at their commit (four writers
    // bump the shared total): the transaction is then tried again.
    macro_rules! or_retry {
        ($step:lifetime, $e:expr) => {
            match $e {
                Ok(v) => v,
                Err(e) if e.is_retryable() => continue $step,
                Err(e) => panic!("{e}"),
            }
        };
    }
    'step: while Instant::now() < deadline {
        let k = 1 + rng.below(5) as i64;
        // One transaction in eight carries a blob.
        let blob = if rng.below(8) == 0 {
            let bytes = blob_bytes(generation, w, t);
            let kind = "db";
            let blobs: &dyn BlobStore = &db_blobs;
            let meta = blob::put_bytes(blobs, &bytes).await.unwrap();
            Some((meta.id, kind))
        } else {
            None
        };
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        let mut ops = Vec::new();
        for j in 0..k {
            let mut data = json!({ "k": k, "pad": "x".repeat(rng.below(400) as usize) });
            if let Some((id, kind)) = &blob {
                data["blob"] = json!(id.to_hex());
                data["store"] = json!(kind);
            }
            let record = NewRecord::from_value((g, w, t, j), 1, &data).unwrap().with_entry("by_tx", (g, w, t));
            ops.push(ent_core::storage::WriteOp::Insert { collection: ITEMS.into(), record });
        }
        // Alternate the single-call batch and one call per record.
        if t % 2 == 0 {
            or_retry!('step, tx.write_batch(ops).await);
        } else {
            for op in ops {
                let ent_core::storage::WriteOp::Insert { collection, record } = op else { unreachable!() };
                or_retry!('step, tx.insert(&collection, record).await);
            }
        }
        if let Some((id, _)) = &blob {
            or_retry!('step, blob::acquire(&mut *tx, &db_blobs, id).await);
        }
        or_retry!('step, tx.counter_add(ITEMS, &Tuple::from(("total",)), k).await);
        or_retry!('step, tx.counter_add(ITEMS, &Tuple::from(("txs", g, w)), 1).await);
        let head = NewRecord::from_value((g, w), 1, &json!({ "t": t })).unwrap();
        let version = match head_version {
            None => or_retry!('step, tx.insert(HEADS, head).await),
            Some(v) => or_retry!('step, tx.update(HEADS, v, head).await),
        };
        or_retry!('step, tx.commit().await);
        head_version = Some(version);
        log.write_all(format!("{t} {k}\n").as_bytes()).unwrap();
        log.sync_data().unwrap();
        t += 1;
    }
}
