//! How cases check: failures with their location, error matching, the whole-store snapshot that proves a
//! failed operation had no effect, and contenders for interleaved transactions.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use ent_core::Error;
use ent_core::storage::{Cursor, Scan, Store, Transaction, TxMode};
use futures::future::BoxFuture;

/// Why a case failed: what was expected, what was found, and where in the testkit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(String);

impl Failure {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Failure(message.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

impl From<Error> for Failure {
    #[track_caller]
    fn from(e: Error) -> Self {
        let at = std::panic::Location::caller();
        Failure(format!("unexpected error at {}:{}: {e} ({e:?})", at.file(), at.line()))
    }
}

/// Fails the case unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::testkit::Failure::new(format!(
                "{} (at {}:{})", format!($($msg)+), file!(), line!()
            )));
        }
    };
}

/// Fails the case unless both sides are equal.
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err($crate::testkit::Failure::new(format!(
                        "{}\n  expected: {:?}\n     found: {:?}\n  (at {}:{})",
                        format!($($msg)+), right, left, file!(), line!()
                    )));
                }
            }
        }
    };
}

/// Evaluates a `Result`, fails the case unless it is an error matching the pattern, and yields the error.
macro_rules! expect_err {
    ($result:expr, $pattern:pat $(if $guard:expr)?) => {
        match $result {
            Err(e @ $pattern) $(if $guard)? => e,
            Err(other) => {
                return Err($crate::testkit::Failure::new(format!(
                    "expected an error matching `{}`, got {other:?} (at {}:{})",
                    stringify!($pattern $(if $guard)?), file!(), line!()
                )))
            }
            Ok(value) => {
                return Err($crate::testkit::Failure::new(format!(
                    "expected an error matching `{}`, got Ok({value:?}) (at {}:{})",
                    stringify!($pattern $(if $guard)?), file!(), line!()
                )))
            }
        }
    };
}

/// Everything a store holds that the port can enumerate: every collection's records (as JSON values, since
/// adapters may reformat the text) and every index's entries, in key order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Snapshot(BTreeMap<String, CollectionSnapshot>);

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct CollectionSnapshot {
    /// `(id, version, schema version, data)`.
    records: Vec<(String, u64, u32, serde_json::Value)>,
    /// Index name to `(key, id)` entries.
    indexes: BTreeMap<String, Vec<(String, String)>>,
}

/// Reads the whole store in a new read-only transaction.
pub(crate) async fn snapshot(store: &dyn Store) -> Result<Snapshot, Failure> {
    let mut tx = store.begin(TxMode::ReadOnly).await?;
    let s = snapshot_in(store, &mut *tx).await?;
    tx.commit().await?;
    Ok(s)
}

/// Reads the whole store as a transaction sees it.
pub(crate) async fn snapshot_in(store: &dyn Store, tx: &mut dyn Transaction) -> Result<Snapshot, Failure> {
    let page = store.limits().max_scan_limit.clamp(1, 500);
    let mut out = BTreeMap::new();
    for def in store.collections().await? {
        let mut c = CollectionSnapshot::default();
        let mut cursor = None;
        loop {
            let p = tx.scan(&Scan::primary(&def.name).limit(page).after(cursor.clone())).await?;
            for e in p.entries {
                let r = e.record.ok_or_else(|| Failure::new("a primary scan returned an entry without record"))?;
                let data = serde_json::from_str(r.data.get())
                    .map_err(|e| Failure::new(format!("stored data is not JSON: {e}")))?;
                c.records.push((r.id.to_string(), r.version, r.schema_version, data));
            }
            if !advance(&mut cursor, p.next, c.records.len())? {
                break;
            }
        }
        for index in &def.indexes {
            let mut entries = Vec::new();
            let mut cursor = None;
            loop {
                let p =
                    tx.scan(&Scan::index(&def.name, &index.name).keys_only().limit(page).after(cursor.clone())).await?;
                entries.extend(p.entries.into_iter().map(|e| (e.key.to_string(), e.id.to_string())));
                if !advance(&mut cursor, p.next, entries.len())? {
                    break;
                }
            }
            c.indexes.insert(index.name.clone(), entries);
        }
        out.insert(def.name.clone(), c);
    }
    Ok(Snapshot(out))
}

/// An operation on a transaction, for [`fails_cleanly`] and [`Contender::run`].
pub(crate) type Op<'a, T> =
    Box<dyn for<'t> FnOnce(&'t mut dyn Transaction) -> BoxFuture<'t, ent_core::Result<T>> + Send + 'a>;

/// Runs `op` in a read-write transaction after a first, successful write (a marker record), and checks the
/// contract of a failed operation: it fails; the transaction sees exactly what it saw before the call and
/// is still usable; after commit the store holds what it held before plus the marker, and nothing else.
/// Returns the error for the case to match.
pub(crate) async fn fails_cleanly<T: fmt::Debug>(store: &dyn Store, op: Op<'_, T>) -> Result<Error, Failure> {
    let before = snapshot(store).await?.without_marks();
    let mut tx = store.begin(TxMode::ReadWrite).await?;
    let (first, first_id) = super::fixtures::mark();
    tx.insert(super::fixtures::MARKS, first).await?;
    let inside = snapshot_in(store, &mut *tx).await?;
    let err = match op(&mut *tx).await {
        Ok(v) => return Err(Failure::new(format!("expected the operation to fail, it returned Ok({v:?})"))),
        Err(e) => e,
    };
    ensure_eq!(snapshot_in(store, &mut *tx).await?, inside, "the failed operation ({err}) changed the transaction");
    let (second, second_id) = super::fixtures::mark();
    tx.insert(super::fixtures::MARKS, second).await?;
    tx.commit().await?;
    ensure_eq!(snapshot(store).await?.without_marks(), before, "the failed operation ({err}) changed the store");
    let mut tx = store.begin(TxMode::ReadOnly).await?;
    let marks = tx.get_many(super::fixtures::MARKS, &[first_id, second_id]).await?;
    ensure!(
        marks.iter().all(Option::is_some),
        "the writes before and after the failed operation ({err}) were not both committed"
    );
    Ok(err)
}

impl Snapshot {
    /// The snapshot without the marker records of [`fails_cleanly`].
    pub(crate) fn without_marks(mut self) -> Self {
        self.0.remove(super::fixtures::MARKS);
        self
    }
}

/// One of several transactions interleaved step by step in one task. A step that fails with a retryable
/// error ends the contender (it lost); any other error fails the case.
pub(crate) struct Contender {
    name: &'static str,
    tx: Option<Box<dyn Transaction>>,
    /// The error that ended it, if it lost.
    pub(crate) lost: Option<Error>,
}

impl Contender {
    pub(crate) async fn begin(store: &Arc<dyn Store>, name: &'static str) -> Result<Self, Failure> {
        Ok(Contender { name, tx: Some(store.begin(TxMode::ReadWrite).await?), lost: None })
    }

    /// Runs a step unless the contender already lost; `Ok(None)` when it did (now or before).
    pub(crate) async fn run<T>(&mut self, op: Op<'_, T>) -> Result<Option<T>, Failure> {
        let Some(tx) = self.tx.as_mut() else { return Ok(None) };
        match op(&mut **tx).await {
            Ok(v) => Ok(Some(v)),
            Err(e) => self.lose(e).map(|()| None),
        }
    }

    /// Commits; whether it did.
    pub(crate) async fn commit(&mut self) -> Result<bool, Failure> {
        let Some(tx) = self.tx.take() else { return Ok(false) };
        match tx.commit().await {
            Ok(()) => Ok(true),
            Err(e) => self.lose(e).map(|()| false),
        }
    }

    fn lose(&mut self, e: Error) -> Result<(), Failure> {
        if !e.is_retryable() {
            return Err(Failure::new(format!(
                "transaction {} failed with a non-retryable error where a retryable conflict was due: {e:?}",
                self.name
            )));
        }
        self.tx = None;
        self.lost = Some(e);
        Ok(())
    }
}

/// Shorthand to box an operation closure: `op(|tx| Box::pin(async move { ... }))`.
pub(crate) fn op<'a, T, F>(f: F) -> Op<'a, T>
where
    F: for<'t> FnOnce(&'t mut dyn Transaction) -> BoxFuture<'t, ent_core::Result<T>> + Send + 'a,
{
    Box::new(f)
}

/// Most entries a case pages through before it concludes that paging never ends.
const MAX_PAGED: usize = 200_000;

/// Moves a paging loop to the next page; `Ok(false)` at the end. Fails when the adapter hands back the
/// cursor it was given, or when paging goes on past any size a case uses: a broken cursor must fail the
/// case, not loop forever.
pub(crate) fn advance(cursor: &mut Option<Cursor>, next: Option<Cursor>, seen: usize) -> Result<bool, Failure> {
    match next {
        None => Ok(false),
        Some(n) if cursor.as_ref() == Some(&n) => Err(Failure::new(format!(
            "the scan returned the cursor it resumed from ({}): paging never ends",
            n.as_str()
        ))),
        Some(_) if seen > MAX_PAGED => Err(Failure::new(format!("paging went on past {MAX_PAGED} entries"))),
        Some(n) => {
            *cursor = Some(n);
            Ok(true)
        }
    }
}
