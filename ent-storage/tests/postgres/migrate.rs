//! `sqlite_to_postgres`: a whole ENT copied, verified, and refused into a target that is not empty.

use ent_core::Error;
use ent_core::storage::blob::{self, put_bytes, read_all};
use ent_core::storage::fulltext::FullText;
use ent_core::storage::{CollectionDef, IndexDef, KeyKind, NewRecord, Scan, Store, Tuple, TxMode, core_collections};
use ent_storage::migrate::sqlite_to_postgres;
use ent_storage::postgres::PostgresStore;
use ent_storage::sqlite::SqliteStore;
use serde_json::json;

use crate::common::Schema;

const NOTES: &str = "test.notes";

fn notes() -> CollectionDef {
    CollectionDef::new(NOTES, [KeyKind::Str, KeyKind::Int])
        .index(IndexDef::new("by_class", [KeyKind::Str, KeyKind::Float]))
        .index(IndexDef::new("by_code", [KeyKind::Str]).unique())
}

fn note(class: &str, n: i64, grade: f64) -> NewRecord {
    NewRecord::from_value((class, n), 2, &json!({ "class": class, "n": n, "grade": grade, "z": [1, {"b": 2, "a": 1}] }))
        .unwrap()
        .with_entry("by_class", (class, grade))
        .with_entry("by_code", (format!("{class}-{n}"),))
}

async fn all(store: &dyn Store, scan: Scan) -> Vec<(Tuple, Tuple, Option<(u64, u32, serde_json::Value)>)> {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let mut out = Vec::new();
    let mut scan = scan.limit(100);
    loop {
        let page = tx.scan(&scan).await.unwrap();
        for e in page.entries {
            let record = e.record.map(|r| (r.version, r.schema_version, serde_json::from_str(r.data.get()).unwrap()));
            out.push((e.key, e.id, record));
        }
        match page.next {
            Some(c) => scan = scan.after(Some(c)),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_ent_is_copied_verified_and_a_full_target_refused() {
    let url = require_postgres!();
    let dir = std::env::temp_dir().join(format!("ent-migrate-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ent.db");
    let source = SqliteStore::open(&path).unwrap();
    let mut defs = core_collections();
    defs.push(notes());
    source.declare(&defs).await.unwrap();
    let blobs = source.blob_store(4 << 20);
    let big: Vec<u8> = (0..2_500_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let meta = put_bytes(&blobs, &big).await.unwrap();
    let mut tx = source.begin(TxMode::ReadWrite).await.unwrap();
    for n in 0..1500i64 {
        let class = if n % 3 == 0 { "3A" } else { "4B" };
        tx.insert(NOTES, note(class, n, (n % 20) as f64 / 2.0)).await.unwrap();
    }
    // Versions beyond 1, a record jsonb cannot hold, counters, a blob reference.
    tx.update(NOTES, 1, note("3A", 0, 19.5)).await.unwrap();
    tx.update(NOTES, 2, note("3A", 0, 18.0)).await.unwrap();
    tx.insert(NOTES, NewRecord::from_value(("nul", 1i64), 1, &json!({ "text": "a\u{0}b" })).unwrap()).await.unwrap();
    tx.counter_add(NOTES, &("3A",).into(), 500).await.unwrap();
    tx.counter_add(NOTES, &("4B",).into(), -7).await.unwrap();
    blob::acquire(&mut *tx, &blobs, &meta.id).await.unwrap();
    tx.commit().await.unwrap();
    source.full_text().index("messagerie.messages", &(1i64,).into(), &("a",).into(), "bonjour").await.unwrap();
    drop(source);

    let schema = Schema::new(&url, "migrate");
    let target = PostgresStore::connect_with(&url, schema.options()).await.unwrap();
    let report = sqlite_to_postgres(&path, &target).await.unwrap();
    assert_eq!(report.records, 1501);
    assert_eq!(report.collections as usize, defs.len());
    assert_eq!(report.index_entries, 3000);
    assert_eq!(report.counters, 3);
    assert_eq!((report.blobs, report.blob_bytes), (1, big.len() as u64));
    assert_eq!(report.fulltext_documents, 1);
    assert_eq!(report.checksum.len(), 64);

    // Both sides read the same through the port: records with versions, every index, counters, blobs.
    let source = SqliteStore::open(&path).unwrap();
    assert_eq!(target.collections().await.unwrap(), source.collections().await.unwrap());
    for scan in [Scan::primary(NOTES), Scan::index(NOTES, "by_class"), Scan::index(NOTES, "by_code").backward()] {
        let (a, b) = (all(&source, scan.clone()).await, all(&target, scan).await);
        assert_eq!(a.len(), b.len());
        assert!(a == b, "the scan differs");
    }
    let mut tx = target.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.get(NOTES, &Tuple::from(("3A", 0i64))).await.unwrap().unwrap().version, 3);
    assert_eq!(tx.counter_get(NOTES, &("3A",).into()).await.unwrap(), 500);
    assert_eq!(tx.counter_get(NOTES, &("4B",).into()).await.unwrap(), -7);
    assert_eq!(blob::references(&mut *tx, &meta.id).await.unwrap(), 1);
    drop(tx);
    assert_eq!(read_all(&target.blob_store(4 << 20), &meta.id).await.unwrap(), big);

    // The copy is a working store: unique keys hold, writes go on.
    let mut tx = target.begin(TxMode::ReadWrite).await.unwrap();
    assert!(matches!(
        tx.insert(NOTES, note("3A", 9999, 1.0).with_entry("by_code", ("3A-3",))).await,
        Err(Error::Duplicate { .. })
    ));
    tx.update(NOTES, 3, note("3A", 0, 1.0)).await.unwrap();
    tx.commit().await.unwrap();

    // A target that is not empty is refused, and left as it was.
    let before = all(&target, Scan::primary(NOTES)).await;
    match sqlite_to_postgres(&path, &target).await {
        Err(Error::Invalid { field, reason }) => {
            assert_eq!(field, "target");
            assert!(reason.contains("not empty"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(all(&target, Scan::primary(NOTES)).await == before);
    drop(target);
    std::fs::remove_dir_all(&dir).unwrap();
}
