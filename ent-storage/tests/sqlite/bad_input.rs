//! Bad input: a file that is not an ent database, one of a newer schema, a read-only file, a full disk, a
//! corrupted page. Each is a clear typed error at open or at commit, damages nothing, and the store recovers
//! once the cause is gone.

use std::path::Path;
use std::process::Command;

use ent_core::Error;
use ent_core::storage::{CollectionDef, KeyKind, NewRecord, Scan, Store, Tuple, TxMode};
use ent_storage::sqlite::{SCHEMA_VERSION, SqliteStore};
use serde_json::json;

use crate::common::TempDir;

const NOTES: &str = "test.notes";

fn notes() -> CollectionDef {
    CollectionDef::new(NOTES, [KeyKind::Int])
}

fn storage_error(result: Result<impl std::fmt::Debug, Error>, needle: &str) -> String {
    match result {
        Err(Error::Storage { adapter, message, retryable }) => {
            assert_eq!(adapter, "sqlite");
            assert!(!retryable, "{message}");
            assert!(message.contains(needle), "`{message}` should say `{needle}`");
            message
        }
        other => panic!("expected a storage error saying `{needle}`, got {other:?}"),
    }
}

async fn filled(path: &Path, n: i64) -> SqliteStore {
    let store = SqliteStore::open(path).unwrap();
    store.declare(&[notes()]).await.unwrap();
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    for i in 0..n {
        tx.insert(NOTES, NewRecord::from_value((i,), 1, &json!({ "i": i, "text": "x".repeat(200) })).unwrap())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    store
}

#[tokio::test]
async fn a_file_that_is_not_an_ent_database_is_refused_and_left_untouched() {
    let dir = TempDir::new("not-ent");
    let path = dir.file("photo.jpg");
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 256) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    storage_error(SqliteStore::open(&path), "not an ent database");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);

    // Another application's SQLite database.
    let other = dir.file("other.sqlite");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch(
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL); INSERT INTO invoices VALUES (1, 9.5);",
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(&other).unwrap();
    storage_error(SqliteStore::open(&other), "not an ent database");
    assert_eq!(std::fs::read(&other).unwrap(), before);

    // Once the cause is gone (the right file in its place), the same path opens.
    std::fs::remove_file(&path).unwrap();
    SqliteStore::open(&path).unwrap();
}

#[tokio::test]
async fn a_database_of_a_newer_schema_is_refused() {
    let dir = TempDir::new("newer");
    let path = dir.file("ent.db");
    drop(filled(&path, 3).await);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    match SqliteStore::open(&path) {
        Err(Error::SchemaTooNew { stored, supported, .. }) => {
            assert_eq!((stored, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION).unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.count(&Scan::primary(NOTES)).await.unwrap(), 3);
}

const READ_ONLY_CHILD: &str = "ENT_SQLITE_READ_ONLY_CHILD";

/// Root writes whatever the permissions say, so when the tests run as root the open is tried by a child
/// process running as `nobody`.
#[tokio::test]
async fn a_read_only_file_is_refused_at_open() {
    if let Ok(path) = std::env::var(READ_ONLY_CHILD) {
        let message = storage_error(SqliteStore::open(&path), "read-only");
        std::io::Write::write_all(&mut std::io::stdout(), message.as_bytes()).unwrap();
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("read-only");
    let path = dir.file("ent.db");
    drop(filled(&path, 3).await);
    let before = std::fs::read(&path).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let root = std::fs::OpenOptions::new().append(true).open(&path).is_ok();
    if root {
        use std::os::unix::process::CommandExt;
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "bad_input::a_read_only_file_is_refused_at_open", "--nocapture", "--test-threads", "1"])
            .env(READ_ONLY_CHILD, &path)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "the child failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("read-only"));
    } else {
        storage_error(SqliteStore::open(&path), "read-only");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.count(&Scan::primary(NOTES)).await.unwrap(), 3);
}

#[tokio::test]
async fn a_full_disk_fails_the_write_keeps_the_data_and_recovers() {
    let dir = TempDir::new("full");
    let path = dir.file("ent.db");
    let store = filled(&path, 10).await;
    let size = std::fs::metadata(&path).unwrap().len() + std::fs::metadata(dir.file("ent.db-wal")).unwrap().len();
    store.set_size_limit(Some(size + 64 * 1024)).await.unwrap();
    let big = "y".repeat(100_000);
    let mut full = None;
    for i in 10..1000i64 {
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        let written = tx.insert(NOTES, NewRecord::from_value((i,), 1, &json!({ "i": i, "text": big })).unwrap()).await;
        let result = match written {
            Ok(_) => tx.commit().await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            full = Some((i, e));
            break;
        }
    }
    let (failed_at, error) = full.expect("the size limit was never reached");
    storage_error(Err::<(), _>(error), "disk full");
    // What was committed is there, what failed is not, and reads go on.
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.count(&Scan::primary(NOTES)).await.unwrap(), failed_at as u64);
    assert!(tx.get(NOTES, &Tuple::from((failed_at,))).await.unwrap().is_none());
    drop(tx);
    // Space comes back: the same store writes again.
    store.set_size_limit(None).await.unwrap();
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert(NOTES, NewRecord::from_value((failed_at,), 1, &json!({ "text": big })).unwrap()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(store.integrity_check().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_corrupted_page_is_a_typed_error_and_the_store_recovers_once_it_is_repaired() {
    let dir = TempDir::new("corrupt");
    let path = dir.file("ent.db");
    drop(filled(&path, 500).await);
    // The root page of the records' B-tree: every record read goes through it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let root: i64 =
        conn.query_row("SELECT rootpage FROM sqlite_schema WHERE name = 'ent_record'", [], |r| r.get(0)).unwrap();
    let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0)).unwrap();
    drop(conn);
    let original = std::fs::read(&path).unwrap();
    let mut corrupted = original.clone();
    let start = ((root - 1) * page_size) as usize;
    for (i, b) in corrupted[start..start + page_size as usize].iter_mut().enumerate() {
        *b = (i * 7 + 13) as u8;
    }
    std::fs::write(&path, &corrupted).unwrap();

    let store = SqliteStore::open(&path).unwrap();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    storage_error(tx.get(NOTES, &Tuple::from((1i64,))).await, "corrupted");
    drop(tx);
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    let insert = tx.insert(NOTES, NewRecord::from_value((9999i64,), 1, &json!({})).unwrap()).await;
    storage_error(insert, "corrupted");
    drop(tx);
    assert!(!store.integrity_check().await.unwrap().is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), corrupted, "nothing was written over the damage");

    // The page is restored (from a backup): the same store reads and writes again.
    std::fs::write(&path, &original).unwrap();
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    assert!(tx.get(NOTES, &Tuple::from((1i64,))).await.unwrap().is_some());
    tx.insert(NOTES, NewRecord::from_value((9999i64,), 1, &json!({})).unwrap()).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.count(&Scan::primary(NOTES)).await.unwrap(), 501);
    drop(tx);
    assert!(store.integrity_check().await.unwrap().is_empty());
}
