//! What the tests share: the server's URL, schemas of their own, stores in them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ent_core::Result;
use ent_core::storage::{CollectionDef, DeclareReport, IndexDef, KeyKind, Limits, Store, Transaction, TxMode};
use ent_storage::postgres::{PostgresOptions, PostgresStore};

/// The variable that names the test server.
pub(crate) const URL_ENV: &str = "ENT_TEST_POSTGRES_URL";

/// The test server's URL, if the variable is set.
pub(crate) fn url() -> Option<String> {
    std::env::var(URL_ENV).ok().filter(|u| !u.trim().is_empty())
}

/// The server's URL, or returns from the test after saying it was skipped.
macro_rules! require_postgres {
    () => {
        match crate::common::url() {
            Some(url) => url,
            None => {
                eprintln!("skipped: {} is not set", crate::common::URL_ENV);
                return;
            }
        }
    };
}

/// A schema of its own for one test, dropped (with everything in it) when dropped.
#[derive(Debug)]
pub(crate) struct Schema {
    pub(crate) url: String,
    pub(crate) name: String,
}

impl Schema {
    pub(crate) fn new(url: &str, label: &str) -> Schema {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let name = format!("ent_test_{label}_{}_{n}_{nanos}", std::process::id());
        Schema { url: url.to_owned(), name }
    }

    /// Options for a store in this schema: a short lock timeout, so that the isolation cases, which
    /// interleave two transactions in one task, wait a moment rather than 5 s before their conflict.
    pub(crate) fn options(&self) -> PostgresOptions {
        PostgresOptions {
            schema: Some(self.name.clone()),
            lock_timeout: Duration::from_millis(300),
            max_connections: 8,
            ..PostgresOptions::default()
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Off any runtime: the drop may happen inside one, whose worker must not block (the transactions
        // the store ends in the background, which hold locks DROP SCHEMA waits for, run there).
        let run = move || {
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let client = admin(&url).await;
                    client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).await
                })
            })
            .join()
        };
        let dropped = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        };
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop the test schema {}: {e}", self.name);
        }
    }
}

/// A plain connection to the test server, for what the tests do behind the adapter's back.
pub(crate) async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A store in a fresh schema, which drops the schema when dropped.
#[derive(Debug)]
pub(crate) struct TestStore {
    // The store first: its connections close before the schema is dropped.
    pub(crate) store: PostgresStore,
    pub(crate) schema: Schema,
}

impl std::ops::Deref for TestStore {
    type Target = PostgresStore;
    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

pub(crate) async fn fresh(url: &str, label: &str) -> TestStore {
    let schema = Schema::new(url, label);
    let store = PostgresStore::connect_with(url, schema.options()).await.unwrap();
    TestStore { store, schema }
}

#[async_trait]
impl Store for TestStore {
    fn adapter(&self) -> &'static str {
        self.store.adapter()
    }
    fn limits(&self) -> &Limits {
        self.store.limits()
    }
    async fn declare(&self, collections: &[CollectionDef]) -> Result<DeclareReport> {
        self.store.declare(collections).await
    }
    async fn collections(&self) -> Result<Vec<CollectionDef>> {
        self.store.collections().await
    }
    async fn begin(&self, mode: TxMode) -> Result<Box<dyn Transaction>> {
        self.store.begin(mode).await
    }
}

/// People with a non-unique index on tokens and a unique one on login.
pub(crate) fn people() -> CollectionDef {
    CollectionDef::new("test.people", [KeyKind::Int])
        .index(IndexDef::new("by_token", [KeyKind::Str]))
        .index(IndexDef::new("by_login", [KeyKind::Str]).unique())
}
