//! The people phase of the apply path plans each transaction on a snapshot while the previous one is
//! written: namesakes numbered across transactions, and a plan made stale by another writer, on the memory
//! store and on SQLite.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use ent::core::Result;
use ent::core::clock::ManualClock;
use ent::core::directory::records::LOGIN_NUMBERS;
use ent::core::directory::*;
use ent::core::id::UserId;
use ent::core::storage::Tuple;
use ent::core::storage::{
    self, CollectionDef, DeclareReport, Limits, NewRecord, Page, RawRecord, Record, Scan, Store, Transaction, TxExt,
    TxMode, WriteOp, WriteOutcome,
};
use ent::import::*;
use ent::storage::memory::MemoryStore;

use super::import::{class, feed, pupil, structure};

#[derive(Debug)]
/// A store that, the first time a transaction writes the login `login`, has an administrator create an
/// account with that login first, in a transaction of its own: the writer's plan is then stale.
struct Interfering {
    inner: Arc<dyn Store>,
    login: &'static str,
    armed: Arc<AtomicBool>,
}

#[async_trait]
impl Store for Interfering {
    fn adapter(&self) -> &'static str {
        self.inner.adapter()
    }
    fn limits(&self) -> &Limits {
        self.inner.limits()
    }
    async fn declare(&self, collections: &[CollectionDef]) -> Result<DeclareReport> {
        self.inner.declare(collections).await
    }
    async fn collections(&self) -> Result<Vec<CollectionDef>> {
        self.inner.collections().await
    }
    async fn begin(&self, mode: TxMode) -> Result<Box<dyn Transaction>> {
        let tx = self.inner.begin(mode).await?;
        Ok(Box::new(InterferingTx { tx, store: self.inner.clone(), login: self.login, armed: self.armed.clone() }))
    }
}

struct InterferingTx {
    tx: Box<dyn Transaction>,
    store: Arc<dyn Store>,
    login: &'static str,
    armed: Arc<AtomicBool>,
}

/// An account created by hand (no source) with `login`.
async fn create_by_hand(store: &dyn Store, login: &str) -> Result<()> {
    let mut tx = store.begin(TxMode::ReadWrite).await?;
    let user = User {
        id: UserId::new(),
        login: login.into(),
        given_name: "Jean".into(),
        family_name: "Martin".into(),
        birth_date: None,
        email: None,
        affiliations: vec![],
        adult: false,
        state: AccountState::Active,
        sources: vec![],
        attributes: Default::default(),
    };
    tx.insert_record(&user).await?;
    tx.commit().await
}

impl std::fmt::Debug for InterferingTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterferingTx").field("login", &self.login).finish_non_exhaustive()
    }
}

#[async_trait]
impl Transaction for InterferingTx {
    fn mode(&self) -> TxMode {
        self.tx.mode()
    }
    async fn get(&mut self, collection: &str, id: &Tuple) -> Result<Option<RawRecord>> {
        self.tx.get(collection, id).await
    }
    async fn get_many(&mut self, collection: &str, ids: &[Tuple]) -> Result<Vec<Option<RawRecord>>> {
        self.tx.get_many(collection, ids).await
    }
    async fn insert(&mut self, collection: &str, record: NewRecord) -> Result<u64> {
        self.tx.insert(collection, record).await
    }
    async fn update(&mut self, collection: &str, expected_version: u64, record: NewRecord) -> Result<u64> {
        self.tx.update(collection, expected_version, record).await
    }
    async fn delete(&mut self, collection: &str, id: &Tuple, expected_version: Option<u64>) -> Result<bool> {
        self.tx.delete(collection, id, expected_version).await
    }
    async fn delete_range(&mut self, scan: &Scan) -> Result<u64> {
        self.tx.delete_range(scan).await
    }
    async fn scan(&mut self, scan: &Scan) -> Result<Page> {
        self.tx.scan(scan).await
    }
    async fn count(&mut self, scan: &Scan) -> Result<u64> {
        self.tx.count(scan).await
    }
    async fn counter_add(&mut self, collection: &str, key: &Tuple, delta: i64) -> Result<()> {
        self.tx.counter_add(collection, key, delta).await
    }
    async fn counter_get(&mut self, collection: &str, key: &Tuple) -> Result<i64> {
        self.tx.counter_get(collection, key).await
    }
    async fn write_batch(&mut self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>> {
        let writes_login = ops.iter().any(|op| match op {
            WriteOp::Insert { collection, record } => {
                collection == User::COLLECTION && record.data.get().contains(&format!("\"login\":\"{}\"", self.login))
            }
            _ => false,
        });
        if writes_login && self.armed.swap(false, Ordering::SeqCst) {
            create_by_hand(&*self.store, self.login).await?;
        }
        self.tx.write_batch(ops).await
    }
    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await
    }
    async fn rollback(self: Box<Self>) -> Result<()> {
        self.tx.rollback().await
    }
}

/// A collège, its class, and seven pupils named Jean Martin (plus a Léa Durand between them).
fn namesakes() -> Batch {
    let mut people: Vec<PersonIn> = (1..=7).map(|i| pupil(&format!("jm-{i}"), "Jean", "Martin", "c-3a")).collect();
    people.insert(3, pupil("ld-1", "Léa", "Durand", "c-3a"));
    Batch {
        structures: vec![structure("balzac", "0370884K")],
        subjects: vec![],
        classes: vec![class("c-3a", "balzac", "3A")],
        people,
        ..feed()
    }
}

fn clock() -> ManualClock {
    ManualClock::at(Utc.with_ymd_and_hms(2026, 8, 28, 6, 0, 0).unwrap())
}

/// Every login, by the person's key (`-` for an account made by hand), sorted by login.
async fn logins(store: &dyn Store) -> Vec<(String, String)> {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let (users, _) = tx.scan_records::<User>(&Scan::primary(User::COLLECTION)).await.unwrap();
    let mut out: Vec<(String, String)> = users
        .into_iter()
        .map(|u| (u.value.login.clone(), u.value.sources.first().map_or("-".into(), |s| s.key.clone())))
        .collect();
    out.sort_by_key(|(login, _)| (login.len(), login.clone()));
    out
}

async fn counter(store: &dyn Store, base: &str) -> i64 {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    tx.counter_get(LOGIN_NUMBERS, &(base,).into()).await.unwrap()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(l, k)| ((*l).to_owned(), (*k).to_owned())).collect()
}

async fn namesakes_numbered_across_transactions(store: Arc<dyn Store>) {
    store.declare(&storage::core_collections()).await.unwrap();
    // Two people per transaction: the namesakes of one transaction are planned while the one before commits.
    let options = ApplyOptions { chunk: 2, ..Default::default() };
    let report = apply(&*store, &clock(), &namesakes(), &options).await.unwrap();
    assert_eq!(report.created, 1 + 1 + 8, "{report:?}");
    assert_eq!(
        logins(&*store).await,
        pairs(&[
            ("lea.durand", "ld-1"),
            ("jean.martin", "jm-1"),
            ("jean.martin2", "jm-2"),
            ("jean.martin3", "jm-3"),
            ("jean.martin4", "jm-4"),
            ("jean.martin5", "jm-5"),
            ("jean.martin6", "jm-6"),
            ("jean.martin7", "jm-7"),
        ])
    );
    assert_eq!(counter(&*store, "jean.martin").await, 7, "the counter stands at the last number given");
    let again = apply(&*store, &clock(), &namesakes(), &options).await.unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 10), "{again:?}");
}

async fn stale_plan_applied_again(inner: Arc<dyn Store>) {
    inner.declare(&storage::core_collections()).await.unwrap();
    let armed = Arc::new(AtomicBool::new(true));
    let store = Interfering { inner: inner.clone(), login: "jean.martin3", armed: armed.clone() };
    let options = ApplyOptions { chunk: 2, ..Default::default() };
    let report = apply(&store, &clock(), &namesakes(), &options).await.unwrap();
    assert!(!armed.load(Ordering::SeqCst), "the administrator took jean.martin3 while the import planned it");
    assert_eq!(report.created, 1 + 1 + 8, "{report:?}");
    assert!(report.rejected.is_empty(), "{report:?}");
    // The transaction that planned jean.martin3 is planned again and skips it; the next one, planned after
    // the stale one, is planned again too.
    assert_eq!(
        logins(&*inner).await,
        pairs(&[
            ("lea.durand", "ld-1"),
            ("jean.martin", "jm-1"),
            ("jean.martin2", "jm-2"),
            ("jean.martin3", "-"),
            ("jean.martin4", "jm-3"),
            ("jean.martin5", "jm-4"),
            ("jean.martin6", "jm-5"),
            ("jean.martin7", "jm-6"),
            ("jean.martin8", "jm-7"),
        ])
    );
    assert_eq!(counter(&*inner, "jean.martin").await, 8);
    // Each pupil is in the class once, with its one account.
    let mut tx = inner.begin(TxMode::ReadOnly).await.unwrap();
    let (members, _) = tx.scan_records::<Membership>(&Scan::primary(Membership::COLLECTION)).await.unwrap();
    assert_eq!(members.len(), 8);
    drop(tx);
    let again = apply(&*inner, &clock(), &namesakes(), &options).await.unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 10), "{again:?}");
}

#[tokio::test]
async fn namesakes_are_numbered_across_pipelined_transactions_in_memory() {
    namesakes_numbered_across_transactions(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn a_plan_made_stale_by_another_writer_is_applied_again_in_memory() {
    stale_plan_applied_again(Arc::new(MemoryStore::new())).await;
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use ent::storage::sqlite::{SqliteOptions, SqliteStore};

    fn store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
        // As `ent` opens a file for an import: batches written off the executor, commits not synced.
        Arc::new(SqliteStore::open_with(dir.path().join("ent.db"), SqliteOptions::for_import(2)).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn namesakes_are_numbered_across_pipelined_transactions_in_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        namesakes_numbered_across_transactions(store(&dir)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_plan_made_stale_by_another_writer_is_applied_again_in_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        stale_plan_applied_again(store(&dir)).await;
    }
}
