//! The adapter's own checks of the port's contract, beside the conformance testkit.

use std::ops::Bound;

use ent_core::Error;
use ent_core::storage::{NewRecord, Scan, Store, Tuple, TxMode, WriteOp};
use ent_storage::sqlite::SqliteStore;
use serde_json::json;

use crate::common::{TempDir, people};

fn person(id: i64, login: &str, tokens: &[&str]) -> NewRecord {
    let mut r = NewRecord::from_value((id,), 1, &json!({ "id": id, "login": login, "tokens": tokens })).unwrap();
    r = r.with_entry("by_login", (login,));
    for t in tokens {
        r = r.with_entry("by_token", (*t,));
    }
    r
}

async fn store(dir: &TempDir) -> SqliteStore {
    let store = SqliteStore::open(dir.file("ent.db")).unwrap();
    store.declare(&[people()]).await.unwrap();
    store
}

#[tokio::test]
async fn insert_get_update_delete_round_trip() {
    let dir = TempDir::new("crud");
    let store = store(&dir).await;
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    assert_eq!(tx.insert("test.people", person(1, "ada", &["ada", "lovelace"])).await.unwrap(), 1);
    let got = tx.get("test.people", &Tuple::from((1i64,))).await.unwrap().unwrap();
    assert_eq!(got.version, 1);
    assert_eq!(tx.update("test.people", 1, person(1, "ada2", &["ada"])).await.unwrap(), 2);
    tx.commit().await.unwrap();

    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let page = tx.scan(&Scan::index("test.people", "by_token").prefix(("lovelace",))).await.unwrap();
    assert!(page.entries.is_empty(), "the dropped entry is gone");
    let page = tx.scan(&Scan::index("test.people", "by_login").prefix(("ada2",))).await.unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].record.as_ref().unwrap().version, 2);
    assert!(matches!(tx.insert("test.people", person(2, "b", &[])).await, Err(Error::ReadOnly)));
    drop(tx);

    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    assert!(tx.delete("test.people", &Tuple::from((1i64,)), Some(2)).await.unwrap());
    assert!(!tx.delete("test.people", &Tuple::from((1i64,)), None).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.count(&Scan::index("test.people", "by_token")).await.unwrap(), 0);
}

#[tokio::test]
async fn a_failed_operation_leaves_the_transaction_usable_and_unchanged() {
    let dir = TempDir::new("failed-op");
    let store = store(&dir).await;
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert("test.people", person(1, "ada", &["x"])).await.unwrap();
    // Same login, other id: the unique entry fails after the record row was written.
    match tx.insert("test.people", person(2, "ada", &["y"])).await {
        Err(Error::Duplicate { index, .. }) => assert_eq!(index, "by_login"),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert!(tx.get("test.people", &Tuple::from((2i64,))).await.unwrap().is_none());
    assert_eq!(tx.count(&Scan::index("test.people", "by_token").prefix(("y",))).await.unwrap(), 0);
    // A batch that fails at its last op applies nothing.
    let ops = vec![
        WriteOp::Insert { collection: "test.people".into(), record: person(3, "c", &["z"]) },
        WriteOp::CounterAdd { collection: "test.people".into(), key: ("n",).into(), delta: 5 },
        WriteOp::Insert { collection: "test.people".into(), record: person(1, "dup", &[]) },
    ];
    assert!(matches!(tx.write_batch(ops).await, Err(Error::Duplicate { .. })));
    assert!(tx.get("test.people", &Tuple::from((3i64,))).await.unwrap().is_none());
    assert_eq!(tx.counter_get("test.people", &("n",).into()).await.unwrap(), 0);
    // An update whose new unique key is taken changes nothing, not even the entries it dropped first.
    tx.insert("test.people", person(4, "taken", &["w"])).await.unwrap();
    let err = tx.update("test.people", 1, person(1, "taken", &["v"])).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err}");
    let one = tx.get("test.people", &Tuple::from((1i64,))).await.unwrap().unwrap();
    assert_eq!(one.version, 1);
    assert_eq!(tx.count(&Scan::index("test.people", "by_token").prefix(("x",))).await.unwrap(), 1);
    assert_eq!(tx.count(&Scan::index("test.people", "by_login").prefix(("ada",))).await.unwrap(), 1);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn scans_page_forward_and_backward_with_cursors() {
    let dir = TempDir::new("scan");
    let store = store(&dir).await;
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    for i in 0..25i64 {
        tx.insert("test.people", person(i, &format!("u{i:02}"), &["all", if i % 2 == 0 { "even" } else { "odd" }]))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    for backward in [false, true] {
        let mut scan = Scan::index("test.people", "by_token").prefix(("all",)).limit(10);
        if backward {
            scan = scan.backward();
        }
        let mut seen = Vec::new();
        loop {
            let page = tx.scan(&scan).await.unwrap();
            seen.extend(page.entries.iter().map(|e| e.id.clone()));
            match page.next {
                Some(c) => scan = scan.after(Some(c)),
                None => break,
            }
        }
        let mut expected: Vec<Tuple> = (0..25i64).map(|i| Tuple::from((i,))).collect();
        if backward {
            expected.reverse();
        }
        assert_eq!(seen, expected);
    }
    let range = Scan::index("test.people", "by_login")
        .range(Bound::Included(("u05",).into()), Bound::Excluded(("u08",).into()))
        .keys_only();
    let page = tx.scan(&range).await.unwrap();
    assert_eq!(page.entries.len(), 3);
    assert!(page.entries[0].record.is_none());
    assert_eq!(tx.count(&Scan::primary("test.people")).await.unwrap(), 25);
    drop(tx);
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    assert_eq!(tx.delete_range(&Scan::index("test.people", "by_token").prefix(("even",))).await.unwrap(), 13);
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.count(&Scan::index("test.people", "by_token").prefix(("all",))).await.unwrap(), 12);
}

#[tokio::test]
async fn a_read_only_transaction_reads_the_snapshot_of_its_begin() {
    let dir = TempDir::new("snapshot");
    let store = store(&dir).await;
    let mut reader = store.begin(TxMode::ReadOnly).await.unwrap();
    let mut writer = store.begin(TxMode::ReadWrite).await.unwrap();
    writer.insert("test.people", person(1, "a", &[])).await.unwrap();
    writer.counter_add("test.people", &("n",).into(), 3).await.unwrap();
    assert!(reader.get("test.people", &Tuple::from((1i64,))).await.unwrap().is_none());
    writer.commit().await.unwrap();
    assert!(reader.get("test.people", &Tuple::from((1i64,))).await.unwrap().is_none());
    assert_eq!(reader.counter_get("test.people", &("n",).into()).await.unwrap(), 0);
    drop(reader);
    let mut reader = store.begin(TxMode::ReadOnly).await.unwrap();
    assert!(reader.get("test.people", &Tuple::from((1i64,))).await.unwrap().is_some());
    assert_eq!(reader.counter_get("test.people", &("n",).into()).await.unwrap(), 3);
}

#[tokio::test]
async fn data_and_declarations_survive_a_reopen_and_the_in_memory_store_works() {
    let dir = TempDir::new("reopen");
    {
        let store = store(&dir).await;
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        tx.insert("test.people", person(1, "a", &["t"])).await.unwrap();
        tx.commit().await.unwrap();
    }
    let store = SqliteStore::open(dir.file("ent.db")).unwrap();
    assert_eq!(store.collections().await.unwrap(), vec![people()]);
    let report = store.declare(&[people()]).await.unwrap();
    assert!(report.created.is_empty() && report.new_indexes.is_empty());
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.count(&Scan::index("test.people", "by_token")).await.unwrap(), 1);
    drop(tx);
    assert!(store.integrity_check().await.unwrap().is_empty());

    let memory = SqliteStore::in_memory().unwrap();
    let path = memory.path().to_owned();
    memory.declare(&[people()]).await.unwrap();
    let mut tx = memory.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert("test.people", person(1, "a", &["t"])).await.unwrap();
    tx.commit().await.unwrap();
    drop(memory);
    assert!(!path.exists(), "the in-memory store leaves nothing behind");
}
