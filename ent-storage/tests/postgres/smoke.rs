//! The adapter's own checks beside the conformance testkit: the layout as people and BI tools see it,
//! records `jsonb` cannot hold, read-only transactions on a replica, declarations seen by another process.

use ent_core::Error;
use ent_core::storage::{NewRecord, Scan, Store, Tuple, TxMode};
use ent_storage::postgres::{PostgresOptions, PostgresStore};
use serde_json::json;

use crate::common::{admin, fresh, people};

fn person(id: i64, login: &str, tokens: &[&str]) -> NewRecord {
    let mut r = NewRecord::from_value((id,), 1, &json!({ "id": id, "login": login, "tokens": tokens })).unwrap();
    r = r.with_entry("by_login", (login,));
    for t in tokens {
        r = r.with_entry("by_token", (*t,));
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_jsonb_and_the_views_name_collections_and_indexes() {
    let url = require_postgres!();
    let store = fresh(&url, "views").await;
    store.declare(&[people()]).await.unwrap();
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert("test.people", person(1, "ada", &["ada", "lovelace"])).await.unwrap();
    // A NUL character in a string: jsonb refuses it, the record is kept as json, whole.
    let nul =
        NewRecord::from_value((2i64,), 1, &json!({ "login": "a\u{0}b" })).unwrap().with_entry("by_login", ("nul",));
    tx.insert("test.people", nul).await.unwrap();
    tx.counter_add("test.people", &("n",).into(), 3).await.unwrap();
    tx.commit().await.unwrap();

    let admin = admin(&url).await;
    let schema = &store.schema.name;
    let row = admin
        .query_one(
            &format!(
                "SELECT data->>'login', version FROM \"{schema}\".records \
                 WHERE collection = 'test.people' AND data->>'id' = '1'"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, String>(0), row.get::<_, i64>(1)), ("ada".to_owned(), 1));
    let entries: i64 = admin
        .query_one(&format!("SELECT count(*) FROM \"{schema}\".index_entries WHERE collection = 'test.people'"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(entries, 4);
    let jsonb: i64 = admin
        .query_one(&format!("SELECT count(*) FROM \"{schema}\".ent_record WHERE data IS NOT NULL"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(jsonb, 1, "the NUL record is the one stored as json");

    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let two = tx.get("test.people", &Tuple::from((2i64,))).await.unwrap().unwrap();
    let value: serde_json::Value = serde_json::from_str(two.data.get()).unwrap();
    assert_eq!(value["login"], "a\u{0}b");
    assert_eq!(tx.counter_get("test.people", &("n",).into()).await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_serves_read_only_transactions_and_refuses_writes() {
    let url = require_postgres!();
    let store = fresh(&url, "replica").await;
    store.declare(&[people()]).await.unwrap();
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert("test.people", person(1, "ada", &["ada"])).await.unwrap();
    tx.commit().await.unwrap();
    // The test server stands in for a replica: read-only transactions go to the replica's pool.
    let options = PostgresOptions { replica_url: Some(url.clone()), ..store.schema.options() };
    let replicated = PostgresStore::connect_with(&url, options).await.unwrap();
    let mut tx = replicated.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.count(&Scan::index("test.people", "by_token")).await.unwrap(), 1);
    assert!(matches!(tx.insert("test.people", person(2, "b", &[])).await, Err(Error::ReadOnly)));
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declaration_by_another_process_is_seen_by_the_next_transaction() {
    let url = require_postgres!();
    let store = fresh(&url, "declare").await;
    let other = PostgresStore::connect_with(&url, store.schema.options()).await.unwrap();
    other.declare(&[people()]).await.unwrap();
    // This store's catalog is stale: its first transaction notices, fails retryably, and the next works.
    let attempt = async {
        let mut tx = store.begin(TxMode::ReadWrite).await?;
        tx.count(&Scan::primary("test.people")).await
    };
    match attempt.await {
        Err(e) => assert!(e.is_retryable() || matches!(e, Error::UnknownCollection { .. }), "{e:?}"),
        Ok(n) => assert_eq!(n, 0),
    }
    assert_eq!(store.collections().await.unwrap(), vec![people()]);
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert("test.people", person(1, "ada", &[])).await.unwrap();
    tx.commit().await.unwrap();
}
