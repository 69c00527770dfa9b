//! Bad input: a server that is down or does not answer, a connection lost in the middle of a transaction
//! or while pooled, a database of a newer schema, a schema of another application, a URL that is not one.
//! Each is a clear typed error, fast; nothing is half applied; the store recovers once the cause is gone.
//!
//! The tests never stop the shared server: a listener that accepts and never answers stands for a server
//! that hangs, a closed port for one that is down, and `pg_terminate_backend` for a server that restarts
//! (it ends the connections exactly as a restart does).

use std::time::{Duration, Instant};

use ent_core::Error;
use ent_core::storage::{CollectionDef, KeyKind, NewRecord, Scan, Store, Tuple, TxMode};
use ent_storage::postgres::{PostgresOptions, PostgresStore, SCHEMA_VERSION};
use serde_json::json;

use crate::common::{Schema, admin, fresh};

const NOTES: &str = "test.notes";

fn notes() -> CollectionDef {
    CollectionDef::new(NOTES, [KeyKind::Int])
}

fn note(i: i64) -> NewRecord {
    NewRecord::from_value((i,), 1, &json!({ "i": i })).unwrap()
}

fn with_app(url: &str, app: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={app}")
}

async fn terminate(url: &str, app: &str) -> i64 {
    let admin = admin(url).await;
    let rows = admin
        .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", &[&app])
        .await
        .unwrap();
    rows.len() as i64
}

async fn count(store: &dyn Store) -> u64 {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    tx.count(&Scan::primary(NOTES)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_or_silent_is_a_fast_typed_error() {
    let _url = require_postgres!();
    // Nothing listens: refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let err = PostgresStore::connect(&format!("postgres://ent@127.0.0.1:{port}/ent")).await.unwrap_err();
    assert!(
        matches!(&err, Error::Storage { retryable: true, message, .. } if message.contains("127.0.0.1")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Something accepts and never answers: the connect timeout ends the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let options = PostgresOptions { connect_timeout: Duration::from_millis(500), ..PostgresOptions::default() };
    let started = Instant::now();
    let err = PostgresStore::connect_with(&format!("postgres://ent@127.0.0.1:{port}/ent"), options).await.unwrap_err();
    assert!(
        matches!(&err, Error::Storage { retryable: true, message, .. } if message.contains("no answer")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    drop(silent);
    // Not a URL at all.
    let err = PostgresStore::connect("postgres://ent@127.0.0.1:notaport/ent").await.unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_mid_transaction_applies_nothing_and_the_store_recovers() {
    let url = require_postgres!();
    let schema = Schema::new(&url, "lost");
    let app = schema.name.clone();
    let store = PostgresStore::connect_with(&with_app(&url, &app), schema.options()).await.unwrap();
    store.declare(&[notes()]).await.unwrap();
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert(NOTES, note(1)).await.unwrap();
    tx.counter_add(NOTES, &("n",).into(), 1).await.unwrap();
    assert!(terminate(&url, &app).await >= 1);
    // The next operation, or the commit, fails with a typed error; nothing was applied.
    let failed = match tx.insert(NOTES, note(2)).await {
        Err(e) => e,
        Ok(_) => tx.commit().await.unwrap_err(),
    };
    assert!(matches!(&failed, Error::Storage { adapter, .. } if adapter == "postgres"), "{failed:?}");
    assert!(failed.is_retryable(), "{failed:?}");
    // The pool replaces the lost connection: the store works again, and nothing of the transaction is there.
    assert_eq!(count(&store).await, 0);
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.counter_get(NOTES, &("n",).into()).await.unwrap(), 0);
    drop(tx);
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert(NOTES, note(1)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&store).await, 1);
    drop(store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_lost_in_the_pool_are_replaced_without_an_error() {
    let url = require_postgres!();
    let schema = Schema::new(&url, "pool");
    let app = schema.name.clone();
    let store = PostgresStore::connect_with(&with_app(&url, &app), schema.options()).await.unwrap();
    store.declare(&[notes()]).await.unwrap();
    // Several connections in the pool.
    let mut txs = Vec::new();
    for i in 0..3 {
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        tx.insert(NOTES, note(i)).await.unwrap();
        txs.push(tx);
    }
    for tx in txs {
        tx.commit().await.unwrap();
    }
    // The server restarts (every connection of the store ends).
    assert!(terminate(&url, &app).await >= 1);
    for i in 3..8 {
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        tx.insert(NOTES, note(i)).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(count(&store).await, 8);
    drop(store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_a_newer_schema_is_refused() {
    let url = require_postgres!();
    let store = fresh(&url, "newer").await;
    store.declare(&[notes()]).await.unwrap();
    let admin = admin(&url).await;
    let meta = format!("\"{}\".ent_meta", store.schema.name);
    admin
        .execute(
            &format!("UPDATE {meta} SET value = $1 WHERE key = 'schema_version'"),
            &[&(SCHEMA_VERSION + 1).to_string()],
        )
        .await
        .unwrap();
    match PostgresStore::connect_with(&url, store.schema.options()).await {
        Err(Error::SchemaTooNew { stored, supported, .. }) => {
            assert_eq!((stored, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    admin
        .execute(&format!("UPDATE {meta} SET value = $1 WHERE key = 'schema_version'"), &[&SCHEMA_VERSION.to_string()])
        .await
        .unwrap();
    let again = PostgresStore::connect_with(&url, store.schema.options()).await.unwrap();
    let mut tx = again.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert(NOTES, note(1)).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_of_another_application_is_refused_and_left_untouched() {
    let url = require_postgres!();
    let schema = Schema::new(&url, "other");
    let admin = admin(&url).await;
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA \"{0}\"; CREATE TABLE \"{0}\".invoices (id int PRIMARY KEY, amount numeric); \
             INSERT INTO \"{0}\".invoices VALUES (1, 9.5);",
            schema.name
        ))
        .await
        .unwrap();
    match PostgresStore::connect_with(&url, schema.options()).await {
        Err(Error::Storage { message, retryable: false, .. }) => {
            assert!(message.contains("not an ent database"), "{message}");
        }
        other => panic!("expected a storage error, got {other:?}"),
    }
    let tables: i64 =
        admin.query_one("SELECT count(*) FROM pg_tables WHERE schemaname = $1", &[&schema.name]).await.unwrap().get(0);
    assert_eq!(tables, 1, "nothing was created beside the other application's table");
    // A bad schema name is refused before anything is sent.
    let options = PostgresOptions { schema: Some("Robert'); DROP TABLE x;--".into()), ..PostgresOptions::default() };
    assert!(matches!(PostgresStore::connect_with(&url, options).await, Err(Error::Invalid { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_without_commit_leaves_nothing_and_no_lock() {
    let url = require_postgres!();
    let store = fresh(&url, "dropped").await;
    store.declare(&[notes()]).await.unwrap();
    for _ in 0..20 {
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        tx.insert(NOTES, note(1)).await.unwrap();
        drop(tx);
    }
    // The row the dropped transactions wrote is free: a new one takes it without waiting.
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert(NOTES, note(1)).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert!(tx.get(NOTES, &Tuple::from((1i64,))).await.unwrap().is_some());
    assert_eq!(tx.count(&Scan::primary(NOTES)).await.unwrap(), 1);
}
