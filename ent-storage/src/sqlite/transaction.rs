//! Transactions: the port's operations in SQL over the generic layout (see [`super::schema`]).
//!
//! # Isolation
//!
//! Every transaction has a connection of its own. A read-only one starts a WAL read transaction at its
//! begin and reads that snapshot to its end. A read-write one starts at its first operation:
//!
//! - if that is a write, it takes SQLite's write lock (`BEGIN IMMEDIATE`), waiting for a transaction that
//!   holds it up to `busy_timeout` (on tokio's blocking pool), then fails with a retryable conflict;
//! - if that is a read, it reads a snapshot; its first write then asks SQLite for the write lock, which
//!   SQLite grants only if nothing was committed since the snapshot and no one else holds the lock:
//!   otherwise the write fails at once with a retryable [`Error::Conflict`] (waiting could only end in a
//!   stale snapshot), and the transaction stays usable for reads.
//!
//! So one transaction at a time writes, of this process and of every other on the file, and each writes on
//! the latest state: write transactions are serialized; read-only ones take their place at their begin.
//! **Counters** are the exception that makes blind increments never conflict: `counter_add` only records the
//! increment in the transaction, and commit applies the increments under the write lock, to whatever value
//! the counter has then (`counter_get` adds the transaction's own increments to the value it reads).
//!
//! # Failed operations
//!
//! Every write made of several statements runs inside a `SAVEPOINT` and is rolled back to it on error, so a
//! duplicate key or a full disk leaves the transaction as it was. A write of one statement relies on SQLite's
//! statement rollback. A `write_batch` that is the transaction's first write runs without a savepoint (the
//! savepoint's sub-journal copies every page the batch touches first: 6% of an académie load) and is undone
//! on error by rolling the SQLite transaction back and taking the same snapshot again, or, if another
//! transaction committed in between, by ending this one with a retryable conflict (`undo_first_write`).
//! If SQLite rolls back the whole transaction (it may, on an I/O error), the transaction is marked aborted
//! and every later call, commit included, returns that error: nothing was applied.
//!
//! # Blocking
//!
//! Statements run on the calling task: they take microseconds, well under the cost of handing them to
//! another thread. The calls that may wait (the fsync of a commit, a write lock held by another
//! transaction) run on tokio's blocking pool.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use ent_core::storage::{
    CheckedRecord, Cursor, Direction, NewRecord, Page, RawRecord, Scan, ScanEntry, ScanPlan, Transaction, Tuple,
    TxMode, WriteOp, WriteOutcome,
};
use ent_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension};
use serde_json::value::RawValue;

use super::catalog::{Catalog, CollectionInfo, IndexInfo};
use super::error::{ADAPTER, Context, is_constraint, map};
use super::store::{Pooled, Shared, suspect};

/// Where a transaction stands with SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A read-write transaction before its first operation: no snapshot, no lock.
    Idle,
    /// Reading a snapshot.
    Reading,
    /// Holding the write lock.
    Writing,
}

/// The pending increments of a transaction: `(cid, encoded key)` to `(delta, collection name)`.
type Deltas = BTreeMap<(i64, Vec<u8>), (i64, String)>;

/// Increments checked but not yet pending: the new pending value of each counter they touch.
type StagedDeltas = HashMap<(i64, Vec<u8>), (i64, String)>;

/// A transaction of a [`super::SqliteStore`].
pub(crate) struct SqliteTransaction {
    shared: Arc<Shared>,
    conn: Option<Pooled>,
    mode: TxMode,
    state: State,
    catalog: Arc<Catalog>,
    deltas: Deltas,
    /// Set when SQLite rolled the whole transaction back after an error.
    aborted: Option<Error>,
    /// Set after an error that may have left wrong pages in the connection's cache (see [`suspect`]).
    suspect: bool,
    /// Set when a write found the write lock taken or the snapshot stale (see [`Self::settle`]).
    lost_lock: bool,
    /// Operations written by `write_batch` so far.
    written: usize,
}

/// A batch of this many operations or more is written off the async executor, and so is the commit of a
/// transaction that wrote as many: enough work (milliseconds) that the hop to the blocking pool costs
/// nothing in comparison.
const OFF_EXECUTOR_OPS: usize = 1_000;

impl Drop for SqliteTransaction {
    fn drop(&mut self) {
        // The pooled connection rolls back what is still open.
        if let Some(mut conn) = self.conn.take() {
            conn.discard |= self.suspect;
        }
    }
}

impl SqliteTransaction {
    pub(crate) fn writer(shared: Arc<Shared>, conn: Pooled) -> Self {
        let catalog = shared.catalog();
        SqliteTransaction {
            shared,
            conn: Some(conn),
            mode: TxMode::ReadWrite,
            state: State::Idle,
            catalog,
            deltas: Deltas::new(),
            aborted: None,
            suspect: false,
            lost_lock: false,
            written: 0,
        }
    }

    pub(crate) fn reader(shared: Arc<Shared>, conn: Pooled, catalog: Arc<Catalog>) -> Self {
        SqliteTransaction {
            shared,
            conn: Some(conn),
            mode: TxMode::ReadOnly,
            state: State::Reading,
            catalog,
            deltas: Deltas::new(),
            aborted: None,
            suspect: false,
            lost_lock: false,
            written: 0,
        }
    }

    fn pooled(&self) -> Result<&Pooled> {
        if let Some(e) = &self.aborted {
            return Err(e.clone());
        }
        self.conn.as_ref().ok_or(Error::TransactionFinished)
    }

    fn info(&self, collection: &str) -> Result<Arc<CollectionInfo>> {
        self.catalog.get(collection).cloned()
    }

    fn writable(&self) -> Result<()> {
        match self.mode {
            TxMode::ReadWrite => Ok(()),
            TxMode::ReadOnly => Err(Error::ReadOnly),
        }
    }

    /// Takes the snapshot of an idle transaction.
    fn start_read(&mut self) -> Result<()> {
        if self.state != State::Idle {
            return Ok(());
        }
        let conn = self.pooled()?.conn();
        conn.prepare_cached("BEGIN").and_then(|mut s| s.execute([])).doing("starting a transaction")?;
        let catalog = self.shared.catalog_for(conn);
        self.state = State::Reading;
        self.catalog = catalog?;
        Ok(())
    }

    /// Takes the write lock for an idle transaction (waiting for it if another transaction holds it).
    async fn start_write(&mut self) -> Result<()> {
        if self.state != State::Idle {
            return Ok(());
        }
        self.pooled()?;
        let conn = self.conn.take().ok_or(Error::TransactionFinished)?;
        let (locked, conn) = self.shared.lock(conn).await;
        self.conn = Some(conn);
        locked?;
        self.state = State::Writing;
        self.catalog = self.shared.catalog_for(self.pooled()?.conn())?;
        Ok(())
    }

    /// Runs one operation; with `savepoint`, inside a savepoint rolled back on error. Notices a transaction
    /// that SQLite rolled back, and a write that could not get the write lock.
    fn run<T>(&mut self, savepoint: bool, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.pooled()?.conn();
        let result = atomically(conn, savepoint, || f(conn));
        self.ran(result)
    }

    /// [`Self::run`] on tokio's blocking pool (inline without a tokio runtime), for a batch large enough
    /// to keep a core busy for milliseconds: the task that awaits it can meanwhile do other work, such as an
    /// import planning its next transaction on a reader. The connection goes with the batch and comes back.
    async fn run_off_executor<T: Send + 'static>(
        &mut self,
        savepoint: bool,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.pooled()?;
        let conn = self.conn.take().ok_or(Error::TransactionFinished)?;
        let (result, conn) = crate::blocking::run(move || {
            let result = atomically(conn.conn(), savepoint, || f(conn.conn()));
            (result, conn)
        })
        .await;
        self.conn = Some(conn);
        self.ran(result)
    }

    /// Notices, after an operation, a transaction that SQLite rolled back and a write that could not get the
    /// write lock.
    fn ran<T>(&mut self, result: Result<T>) -> Result<T> {
        let conn = self.pooled()?.conn();
        let lost = conn.is_autocommit();
        let writing = matches!(conn.transaction_state(Some("main")), Ok(rusqlite::TransactionState::Write));
        self.suspect |= suspect(&result);
        if lost {
            let cause = match &result {
                Err(e) => e.to_string(),
                Ok(_) => "an error".to_owned(),
            };
            let aborted = Error::storage(ADAPTER, format!("SQLite rolled the transaction back after: {cause}"), false);
            self.aborted = Some(aborted.clone());
            return Err(result.err().unwrap_or(aborted));
        }
        if writing {
            self.state = State::Writing;
        }
        match result {
            // A write of a transaction that read a snapshot found the write lock taken.
            Err(Error::Storage { retryable: true, message, .. }) if self.state == State::Reading => {
                self.lost_lock = true;
                Err(Error::serialization_conflict(format!("transaction (another transaction writes: {message})")))
            }
            other => other,
        }
    }

    /// After a write that lost the write lock to another transaction: waits (up to `busy_timeout`, off the
    /// executor) until that transaction has ended before returning the conflict, so that the caller's retry
    /// starts after the winner and does not spin against it.
    async fn settle<T>(&mut self, result: Result<T>) -> Result<T> {
        if std::mem::take(&mut self.lost_lock) {
            self.shared.wait_for_writer().await;
        }
        result
    }

    /// The pending increments `adds` would leave, for the counters they touch, refusing an overflow; nothing
    /// changes until [`Self::apply_staged`]. Staged apart rather than on a copy of every pending increment,
    /// which made each increment (and each `write_batch`) cost as much as all the earlier ones (an import
    /// bumps one rights version per person).
    fn stage_deltas(&self, adds: Vec<(Arc<CollectionInfo>, Vec<u8>, i64)>) -> Result<StagedDeltas> {
        let mut staged = StagedDeltas::with_capacity(adds.len());
        for (info, key, delta) in adds {
            let slot = (info.cid, key);
            let base = match staged.get(&slot) {
                Some((v, _)) => *v,
                None => self.deltas.get(&slot).map_or(0, |(v, _)| *v),
            };
            let value = base.checked_add(delta).ok_or_else(|| overflow(&info.def.name, delta))?;
            staged.insert(slot, (value, info.def.name.clone()));
        }
        Ok(staged)
    }

    /// Makes staged increments pending.
    fn apply_staged(&mut self, staged: StagedDeltas) {
        self.deltas.extend(staged);
    }

    /// After the transaction's first write failed without a savepoint: rolls the SQLite transaction back
    /// and takes the state it had before, so that the failed batch leaves the transaction as it was.
    ///
    /// Before it an idle transaction had nothing to keep. A reading one had a snapshot, which the rollback
    /// releases: the new one taken at once is the same state if nobody committed in between, which `PRAGMA
    /// data_version` tells (the write lock, held since the upgrade, kept everyone out until the rollback;
    /// and the upgrade succeeded only because nothing had been committed since the snapshot). If somebody
    /// did, the transaction's reads are stale: it ends with a retryable conflict, as a serializable
    /// transaction may. Returns the batch's error.
    fn undo_first_write(&mut self, before: State, error: Error) -> Error {
        if self.aborted.is_some() {
            return error;
        }
        let Ok(pooled) = self.pooled() else { return error };
        let conn = pooled.conn();
        if !matches!(conn.transaction_state(Some("main")), Ok(rusqlite::TransactionState::Write)) {
            // Nothing was written (the write lock was refused): the transaction is as it was.
            return error;
        }
        let shared = &self.shared;
        // Ok(Some(catalog)): the same snapshot again; Ok(None): nothing to keep; Err: stale or failed.
        let undone = (|| -> Result<Option<Arc<Catalog>>> {
            let version = |c: &Connection| -> Result<i64> {
                c.pragma_query_value(None, "data_version", |r| r.get(0)).doing("reading data_version")
            };
            let seen = version(conn)?;
            conn.execute_batch("ROLLBACK").doing("undoing a failed batch")?;
            if before == State::Idle {
                return Ok(None);
            }
            conn.prepare_cached("BEGIN").and_then(|mut s| s.execute([])).doing("undoing a failed batch")?;
            // Reading takes the snapshot; then its version says whether it is the one the transaction read.
            let catalog = shared.catalog_for(conn)?;
            if version(conn)? != seen {
                return Err(Error::serialization_conflict(
                    "transaction (a failed write was undone and another transaction committed meanwhile)",
                ));
            }
            Ok(Some(catalog))
        })();
        self.state = before;
        match undone {
            Ok(None) => {}
            Ok(Some(catalog)) => self.catalog = catalog,
            Err(e) => {
                self.suspect |= !e.is_retryable();
                self.aborted = Some(e);
            }
        }
        error
    }
}

fn overflow(collection: &str, delta: i64) -> Error {
    Error::invalid(format!("{collection} counter"), format!("adding {delta} overflows a 64-bit integer"))
}

/// Runs the writes of one operation atomically: inside a savepoint when `needed` (several statements, and no
/// enclosing savepoint), relying on SQLite's statement rollback otherwise.
fn atomically<T>(conn: &Connection, needed: bool, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if !needed {
        return f();
    }
    conn.prepare_cached("SAVEPOINT op").and_then(|mut s| s.execute([])).doing("savepoint")?;
    let result = f();
    let end = match &result {
        Ok(_) => conn.prepare_cached("RELEASE op").and_then(|mut s| s.execute([]).map(|_| ())),
        Err(_) => conn
            .prepare_cached("ROLLBACK TO op")
            .and_then(|mut s| s.execute([]))
            .and_then(|_| conn.prepare_cached("RELEASE op").and_then(|mut s| s.execute([]).map(|_| ()))),
    };
    match end {
        Ok(()) => result,
        Err(e) => result.and(Err(map("ending a savepoint", &e))),
    }
}

fn raw(data: String) -> Result<Box<RawValue>> {
    RawValue::from_string(data).map_err(|e| Error::serialization("a stored record", e))
}

fn version_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The index entries of a record, as stored in `ent_record.entries`: per entry, the xid (8 bytes), the key
/// length (4 bytes), the key.
fn encode_entries(entries: &[(IndexInfo, &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|(_, k)| 12 + k.len()).sum());
    for (index, key) in entries {
        out.extend_from_slice(&index.xid.to_be_bytes());
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
    }
    out
}

fn decode_entries(mut bytes: &[u8]) -> Result<Vec<(i64, &[u8])>> {
    let corrupt = || Error::storage(ADAPTER, "corrupted index entry list in ent_record", false);
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (xid, rest) = bytes.split_at_checked(8).ok_or_else(corrupt)?;
        let (len, rest) = rest.split_at_checked(4).ok_or_else(corrupt)?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| corrupt())?) as usize;
        let (key, rest) = rest.split_at_checked(len).ok_or_else(corrupt)?;
        out.push((i64::from_be_bytes(xid.try_into().map_err(|_| corrupt())?), key));
        bytes = rest;
    }
    Ok(out)
}

fn resolve<'a>(info: &CollectionInfo, checked: &'a CheckedRecord) -> Result<Vec<(IndexInfo, &'a [u8])>> {
    checked.entries.iter().map(|(name, key)| Ok((info.index(name)?, key.as_slice()))).collect()
}

fn index_name(info: &CollectionInfo, xid: i64) -> String {
    info.indexes.iter().find(|(_, i)| i.xid == xid).map_or_else(|| format!("#{xid}"), |(n, _)| n.clone())
}

fn show_key(key: &[u8]) -> String {
    Tuple::decode(key).map_or_else(|_| format!("0x{}", hex_of(key)), |t| t.to_string())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn insert_entry(conn: &Connection, info: &CollectionInfo, index: IndexInfo, key: &[u8], id: &[u8]) -> Result<()> {
    let mut stmt = conn.prepare_cached(entry_insert_sql(index.unique)).doing("writing an index entry")?;
    insert_entry_with(&mut stmt, info, index, key, id)
}

fn entry_insert_sql(unique: bool) -> &'static str {
    if unique {
        "INSERT INTO ent_unique_entry (xid, key, id) VALUES (?1, ?2, ?3)"
    } else {
        "INSERT INTO ent_entry (xid, key, id) VALUES (?1, ?2, ?3)"
    }
}

/// Inserts an index entry with the statement of [`entry_insert_sql`] for its index's kind.
fn insert_entry_with(
    stmt: &mut rusqlite::Statement<'_>,
    info: &CollectionInfo,
    index: IndexInfo,
    key: &[u8],
    id: &[u8],
) -> Result<()> {
    match stmt.execute((index.xid, key, id)) {
        Ok(_) => Ok(()),
        Err(e) if is_constraint(&e) => Err(Error::Duplicate {
            collection: info.def.name.clone(),
            index: index_name(info, index.xid),
            key: show_key(key),
        }),
        Err(e) => Err(map("writing an index entry", &e)),
    }
}

fn delete_entry(conn: &Connection, index: IndexInfo, key: &[u8], id: &[u8]) -> Result<()> {
    let sql = if index.unique {
        "DELETE FROM ent_unique_entry WHERE xid = ?1 AND key = ?2 AND id = ?3"
    } else {
        "DELETE FROM ent_entry WHERE xid = ?1 AND key = ?2 AND id = ?3"
    };
    conn.prepare_cached(sql).and_then(|mut s| s.execute((index.xid, key, id))).doing("deleting an index entry")?;
    Ok(())
}

fn stored_index(info: &CollectionInfo, xid: i64) -> Option<IndexInfo> {
    info.indexes.values().find(|i| i.xid == xid).copied()
}

fn get_op(conn: &Connection, info: &CollectionInfo, id: &Tuple) -> Result<Option<RawRecord>> {
    info.def.check_key(None, id)?;
    let key = id.encode()?;
    let mut stmt = conn
        .prepare_cached("SELECT version, schema_version, data FROM ent_record WHERE cid = ?1 AND id = ?2")
        .doing("reading a record")?;
    let row = stmt
        .query_row((info.cid, &key), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))
        .optional()
        .doing("reading a record")?;
    match row {
        None => Ok(None),
        Some((version, schema_version, data)) => Ok(Some(RawRecord {
            id: id.clone(),
            version: version_of(version),
            schema_version: u32::try_from(schema_version).unwrap_or(0),
            data: raw(data)?,
        })),
    }
}

/// Inserts a record; `outer`: an enclosing savepoint already makes the operation atomic.
fn insert_op(
    conn: &Connection,
    info: &CollectionInfo,
    record: &NewRecord,
    checked: &CheckedRecord,
    outer: bool,
) -> Result<u64> {
    let entries = resolve(info, checked)?;
    atomically(conn, !outer && !entries.is_empty(), || insert_rows(conn, info, record, checked, &entries))
}

fn insert_rows(
    conn: &Connection,
    info: &CollectionInfo,
    record: &NewRecord,
    checked: &CheckedRecord,
    entries: &[(IndexInfo, &[u8])],
) -> Result<u64> {
    insert_record_row(conn, info, record, checked, entries)?;
    for (index, key) in entries {
        insert_entry(conn, info, *index, key, &checked.id)?;
    }
    Ok(1)
}

/// The row of a new record in `ent_record` (its index entries apart).
fn insert_record_row(
    conn: &Connection,
    info: &CollectionInfo,
    record: &NewRecord,
    checked: &CheckedRecord,
    entries: &[(IndexInfo, &[u8])],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(RECORD_INSERT_SQL).doing("inserting a record")?;
    insert_record_row_with(&mut stmt, info, record, checked, entries)
}

const RECORD_INSERT_SQL: &str =
    "INSERT INTO ent_record (cid, id, version, schema_version, data, entries) VALUES (?1, ?2, 1, ?3, ?4, ?5)";

/// [`insert_record_row`] with the statement of [`RECORD_INSERT_SQL`].
fn insert_record_row_with(
    stmt: &mut rusqlite::Statement<'_>,
    info: &CollectionInfo,
    record: &NewRecord,
    checked: &CheckedRecord,
    entries: &[(IndexInfo, &[u8])],
) -> Result<()> {
    match stmt.execute((info.cid, &checked.id, record.schema_version, record.data.get(), encode_entries(entries))) {
        Ok(_) => {}
        Err(e) if is_constraint(&e) => {
            return Err(Error::Duplicate {
                collection: info.def.name.clone(),
                index: ent_core::storage::PRIMARY.to_owned(),
                key: record.id.to_string(),
            });
        }
        Err(e) => return Err(map("inserting a record", &e)),
    }
    Ok(())
}

/// Applies the operations of a batch in order, except that each run of inserts (counter increments
/// between them write nothing here) is written in key order: the records sorted by collection and key,
/// then their index entries sorted by index and key. The run's outcome is the same in any order (it fails
/// as a whole on the first duplicate, inside the batch's savepoint); the order makes each B-tree visited
/// left to right once per run, appending where keys grow and touching each leaf page once, instead of
/// splitting pages at random. A message to 2,000 parents written in the recipients' name order spent a
/// quarter of its time rebalancing pages; a directory import, its entries spread over a dozen indexes.
fn apply_all(conn: &Connection, ops: &[Prepared]) -> Result<Vec<WriteOutcome>> {
    let mut out = Vec::with_capacity(ops.len());
    let mut i = 0;
    while i < ops.len() {
        let run = ops[i..].iter().take_while(|op| matches!(op, Prepared::Insert(..) | Prepared::Count(..))).count();
        if run > 1 {
            insert_run(conn, &ops[i..i + run])?;
            out.extend(ops[i..i + run].iter().map(|op| match op {
                Prepared::Count(..) => WriteOutcome::Counted,
                _ => WriteOutcome::Written { version: 1 },
            }));
            i += run;
        } else {
            out.push(apply(conn, &ops[i])?);
            i += 1;
        }
    }
    Ok(out)
}

/// The inserts of a run, in key order (see [`apply_all`]).
fn insert_run(conn: &Connection, ops: &[Prepared]) -> Result<()> {
    let mut records = Vec::with_capacity(ops.len());
    for op in ops {
        if let Prepared::Insert(info, record, checked) = op {
            records.push((&**info, record, checked, resolve(info, checked)?));
        }
    }
    records.sort_unstable_by(|a, b| (a.0.cid, &a.2.id).cmp(&(b.0.cid, &b.2.id)));
    // The run's three statements are taken from the cache once, not once per row: finding a cached
    // statement hashes its SQL, 4% of the apply's thread in an académie load (its reads included).
    let mut insert_record = conn.prepare_cached(RECORD_INSERT_SQL).doing("inserting a record")?;
    let mut entries = Vec::with_capacity(records.iter().map(|r| r.3.len()).sum());
    for (info, record, checked, resolved) in &records {
        insert_record_row_with(&mut insert_record, info, record, checked, resolved)?;
        entries
            .extend(resolved.iter().map(|(index, key)| (index.unique, index.xid, *key, checked.id.as_slice(), *info)));
    }
    entries.sort_unstable_by(|a, b| (a.0, a.1, a.2, a.3).cmp(&(b.0, b.1, b.2, b.3)));
    let mut insert_plain = conn.prepare_cached(entry_insert_sql(false)).doing("writing an index entry")?;
    let mut insert_unique = conn.prepare_cached(entry_insert_sql(true)).doing("writing an index entry")?;
    for (unique, xid, key, id, info) in entries {
        let stmt = if unique { &mut insert_unique } else { &mut insert_plain };
        insert_entry_with(stmt, info, IndexInfo { xid, unique }, key, id)?;
    }
    Ok(())
}

/// The stored version and entry list of a record.
fn current(conn: &Connection, info: &CollectionInfo, id: &[u8]) -> Result<Option<(u64, Vec<u8>)>> {
    let mut stmt = conn
        .prepare_cached("SELECT version, entries FROM ent_record WHERE cid = ?1 AND id = ?2")
        .doing("reading a record")?;
    let row = stmt
        .query_row((info.cid, id), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .optional()
        .doing("reading a record")?;
    Ok(row.map(|(v, e)| (version_of(v), e)))
}

fn conflict(info: &CollectionInfo, id: &Tuple, expected: u64, found: u64) -> Error {
    Error::Conflict {
        what: format!("{} {id}", info.def.name),
        expected: Some(expected),
        found: Some(found),
        retryable: false,
    }
}

fn update_op(
    conn: &Connection,
    info: &CollectionInfo,
    expected: u64,
    record: &NewRecord,
    checked: &CheckedRecord,
    outer: bool,
) -> Result<u64> {
    let new_entries = resolve(info, checked)?;
    let Some((version, old_entries)) = current(conn, info, &checked.id)? else {
        return Err(Error::not_found(info.def.name.clone(), &record.id));
    };
    if version != expected {
        return Err(conflict(info, &record.id, expected, version));
    }
    let next = version + 1;
    let new_blob = encode_entries(&new_entries);
    // The common update keeps its index keys: one statement, no savepoint.
    let same_entries = new_blob == old_entries;
    atomically(conn, !outer && !same_entries, || {
        conn.prepare_cached(
            "UPDATE ent_record SET version = ?3, schema_version = ?4, data = ?5, entries = ?6 \
             WHERE cid = ?1 AND id = ?2",
        )
        .and_then(|mut s| {
            s.execute((info.cid, &checked.id, next as i64, record.schema_version, record.data.get(), &new_blob))
        })
        .doing("updating a record")?;
        if !same_entries {
            replace_entries(conn, info, &checked.id, &old_entries, &new_entries)?;
        }
        Ok(next)
    })
}

fn replace_entries(
    conn: &Connection,
    info: &CollectionInfo,
    id: &[u8],
    old_entries: &[u8],
    new_entries: &[(IndexInfo, &[u8])],
) -> Result<()> {
    let old = decode_entries(old_entries)?;
    let old_set: HashSet<(i64, &[u8])> = old.iter().copied().collect();
    let new_set: HashSet<(i64, &[u8])> = new_entries.iter().map(|(i, k)| (i.xid, *k)).collect();
    for (xid, key) in &old {
        if !new_set.contains(&(*xid, *key))
            && let Some(index) = stored_index(info, *xid)
        {
            delete_entry(conn, index, key, id)?;
        }
    }
    for (index, key) in new_entries {
        if !old_set.contains(&(index.xid, *key)) {
            insert_entry(conn, info, *index, key, id)?;
        }
    }
    Ok(())
}

fn delete_op(
    conn: &Connection,
    info: &CollectionInfo,
    id: &Tuple,
    key: &[u8],
    expected: Option<u64>,
    outer: bool,
) -> Result<bool> {
    let Some((version, entries)) = current(conn, info, key)? else {
        return match expected {
            Some(_) => Err(Error::not_found(info.def.name.clone(), id)),
            None => Ok(false),
        };
    };
    if let Some(expected) = expected
        && expected != version
    {
        return Err(conflict(info, id, expected, version));
    }
    atomically(conn, !outer && !entries.is_empty(), || {
        conn.prepare_cached("DELETE FROM ent_record WHERE cid = ?1 AND id = ?2")
            .and_then(|mut s| s.execute((info.cid, key)))
            .doing("deleting a record")?;
        for (xid, entry) in decode_entries(&entries)? {
            if let Some(index) = stored_index(info, xid) {
                delete_entry(conn, index, entry, key)?;
            }
        }
        Ok(true)
    })
}

/// Where a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Primary,
    Entries(IndexInfo),
}

/// The SQL of a scan. Parameters: ?1 cid or xid, ?2 lower bound, ?3 upper bound, ?4 and ?5 the resume key
/// and id, ?6 the limit, ?7 the cid (for the join to the records).
fn scan_sql(source: Source, direction: Direction, resume: bool, records: bool) -> String {
    let (dir, cmp_strict, cmp) = match direction {
        Direction::Forward => ("ASC", ">", ">="),
        Direction::Backward => ("DESC", "<", "<="),
    };
    match source {
        Source::Primary => {
            let cols = if records { "id, version, schema_version, data" } else { "id" };
            let resume = if resume { format!("AND id {cmp_strict} ?4 AND ?5 IS ?5 ") } else { String::new() };
            format!(
                "SELECT {cols} FROM ent_record WHERE cid = ?1 AND id >= ?2 AND id < ?3 {resume}\
                 AND ?7 IS ?7 ORDER BY id {dir} LIMIT ?6"
            )
        }
        Source::Entries(index) => {
            let table = if index.unique { "ent_unique_entry" } else { "ent_entry" };
            let order = if index.unique { format!("e.key {dir}") } else { format!("e.key {dir}, e.id {dir}") };
            let resume = if resume {
                format!("AND e.key {cmp} ?4 AND (e.key {cmp_strict} ?4 OR e.id {cmp_strict} ?5) ")
            } else {
                String::new()
            };
            if records {
                format!(
                    "SELECT e.key, e.id, r.version, r.schema_version, r.data FROM {table} AS e \
                     CROSS JOIN ent_record AS r \
                     WHERE e.xid = ?1 AND e.key >= ?2 AND e.key < ?3 {resume}AND r.cid = ?7 AND r.id = e.id \
                     ORDER BY {order} LIMIT ?6"
                )
            } else {
                format!(
                    "SELECT e.key, e.id FROM {table} AS e \
                     WHERE e.xid = ?1 AND e.key >= ?2 AND e.key < ?3 {resume}AND ?7 IS ?7 \
                     ORDER BY {order} LIMIT ?6"
                )
            }
        }
    }
}

fn source_of(info: &CollectionInfo, scan: &Scan) -> Result<Source> {
    match &scan.index {
        None => Ok(Source::Primary),
        Some(name) => Ok(Source::Entries(info.index(name)?)),
    }
}

fn owner_id(info: &CollectionInfo, source: Source) -> i64 {
    match source {
        Source::Primary => info.cid,
        Source::Entries(index) => index.xid,
    }
}

fn scan_op(conn: &Connection, info: &CollectionInfo, scan: &Scan, plan: &ScanPlan) -> Result<Page> {
    let source = source_of(info, scan)?;
    if plan.is_empty() {
        return Ok(Page { entries: Vec::new(), next: None });
    }
    let sql = scan_sql(source, plan.direction, plan.resume.is_some(), !scan.index_only);
    let mut stmt = conn.prepare_cached(&sql).doing("scanning")?;
    let empty: &[u8] = &[];
    let (rk, ri) = plan.resume.as_ref().map_or((empty, empty), |(k, i)| (k.as_slice(), i.as_slice()));
    let bind = |stmt: &mut rusqlite::CachedStatement<'_>| -> rusqlite::Result<()> {
        stmt.raw_bind_parameter(1, owner_id(info, source))?;
        stmt.raw_bind_parameter(2, plan.lo.as_slice())?;
        stmt.raw_bind_parameter(3, plan.hi.as_slice())?;
        stmt.raw_bind_parameter(4, rk)?;
        stmt.raw_bind_parameter(5, ri)?;
        stmt.raw_bind_parameter(6, scan.limit as i64 + 1)?;
        stmt.raw_bind_parameter(7, info.cid)?;
        Ok(())
    };
    bind(&mut stmt).doing("scanning")?;
    let mut rows = stmt.raw_query();
    let mut entries = Vec::with_capacity(scan.limit.min(256));
    let mut last: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut more = false;
    while let Some(row) = rows.next().doing("scanning")? {
        if entries.len() == scan.limit {
            more = true;
            break;
        }
        let (key_bytes, id_bytes, rest) = match source {
            Source::Primary => {
                let id: Vec<u8> = row.get(0).doing("scanning")?;
                (id.clone(), id, 1)
            }
            Source::Entries(_) => (row.get(0).doing("scanning")?, row.get(1).doing("scanning")?, 2),
        };
        let id = Tuple::decode(&id_bytes)?;
        let key = if source == Source::Primary { id.clone() } else { Tuple::decode(&key_bytes)? };
        let record = if scan.index_only {
            None
        } else {
            let version: i64 = row.get(rest).doing("scanning")?;
            let schema_version: i64 = row.get(rest + 1).doing("scanning")?;
            let data: String = row.get(rest + 2).doing("scanning")?;
            Some(RawRecord {
                id: id.clone(),
                version: version_of(version),
                schema_version: u32::try_from(schema_version).unwrap_or(0),
                data: raw(data)?,
            })
        };
        entries.push(ScanEntry { key, id, record });
        last = Some((key_bytes, id_bytes));
    }
    let next = match (more, last) {
        (true, Some((k, i))) => Some(Cursor::after_entry(scan, &k, &i)),
        _ => None,
    };
    Ok(Page { entries, next })
}

fn count_op(conn: &Connection, info: &CollectionInfo, scan: &Scan, plan: &ScanPlan) -> Result<u64> {
    let source = source_of(info, scan)?;
    if plan.is_empty() {
        return Ok(0);
    }
    let sql = match source {
        Source::Primary => "SELECT count(*) FROM ent_record WHERE cid = ?1 AND id >= ?2 AND id < ?3",
        Source::Entries(IndexInfo { unique: true, .. }) => {
            "SELECT count(*) FROM ent_unique_entry WHERE xid = ?1 AND key >= ?2 AND key < ?3"
        }
        Source::Entries(_) => "SELECT count(*) FROM ent_entry WHERE xid = ?1 AND key >= ?2 AND key < ?3",
    };
    let n: i64 = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.query_row((owner_id(info, source), &plan.lo, &plan.hi), |r| r.get(0)))
        .doing("counting")?;
    Ok(version_of(n))
}

fn delete_range_op(conn: &Connection, info: &CollectionInfo, scan: &Scan, plan: &ScanPlan) -> Result<u64> {
    let source = source_of(info, scan)?;
    if plan.is_empty() {
        return Ok(0);
    }
    let sql = match source {
        Source::Primary => "SELECT id FROM ent_record WHERE cid = ?1 AND id >= ?2 AND id < ?3",
        Source::Entries(IndexInfo { unique: true, .. }) => {
            "SELECT id FROM ent_unique_entry WHERE xid = ?1 AND key >= ?2 AND key < ?3"
        }
        Source::Entries(_) => "SELECT id FROM ent_entry WHERE xid = ?1 AND key >= ?2 AND key < ?3",
    };
    let mut ids: Vec<Vec<u8>> = {
        let mut stmt = conn.prepare_cached(sql).doing("deleting a range")?;
        let rows = stmt
            .query_map((owner_id(info, source), &plan.lo, &plan.hi), |r| r.get::<_, Vec<u8>>(0))
            .doing("deleting a range")?;
        rows.collect::<rusqlite::Result<_>>().doing("deleting a range")?
    };
    ids.sort_unstable();
    ids.dedup();
    let mut deleted = 0;
    for key in &ids {
        let id = Tuple::decode(key)?;
        if delete_op(conn, info, &id, key, None, true)? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// A [`WriteOp`] with its collection resolved and its keys checked, before anything is written.
enum Prepared {
    Insert(Arc<CollectionInfo>, NewRecord, CheckedRecord),
    Update(Arc<CollectionInfo>, u64, NewRecord, CheckedRecord),
    Delete(Arc<CollectionInfo>, Tuple, Vec<u8>, Option<u64>),
    Count(Arc<CollectionInfo>, Vec<u8>, i64),
}

impl SqliteTransaction {
    fn prepare(&self, op: WriteOp) -> Result<Prepared> {
        let limits = &self.shared.options.limits;
        Ok(match op {
            WriteOp::Insert { collection, record } => {
                let info = self.info(&collection)?;
                let checked = limits.check_record(&info.def, &record)?;
                Prepared::Insert(info, record, checked)
            }
            WriteOp::Update { collection, expected_version, record } => {
                let info = self.info(&collection)?;
                let checked = limits.check_record(&info.def, &record)?;
                Prepared::Update(info, expected_version, record, checked)
            }
            WriteOp::Delete { collection, id, expected_version } => {
                let info = self.info(&collection)?;
                info.def.check_key(None, &id)?;
                let key = id.encode()?;
                Prepared::Delete(info, id, key, expected_version)
            }
            WriteOp::CounterAdd { collection, key, delta } => {
                let info = self.info(&collection)?;
                let key = limits.check_key_size(key.encode()?)?;
                Prepared::Count(info, key, delta)
            }
        })
    }
}

/// Applies a prepared record write (counters are pending increments, applied at commit).
fn apply(conn: &Connection, op: &Prepared) -> Result<WriteOutcome> {
    Ok(match op {
        Prepared::Insert(info, record, checked) => {
            WriteOutcome::Written { version: insert_op(conn, info, record, checked, true)? }
        }
        Prepared::Update(info, expected, record, checked) => {
            WriteOutcome::Written { version: update_op(conn, info, *expected, record, checked, true)? }
        }
        Prepared::Delete(info, id, key, expected) => {
            WriteOutcome::Deleted { existed: delete_op(conn, info, id, key, *expected, true)? }
        }
        Prepared::Count(..) => WriteOutcome::Counted,
    })
}

/// Applies the pending increments under the write lock.
fn apply_deltas(conn: &Connection, deltas: &Deltas) -> Result<()> {
    for ((cid, key), (delta, collection)) in deltas {
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO ent_counter (cid, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (cid, key) DO UPDATE SET value = value + excluded.value",
            )
            .doing("incrementing a counter")?;
        match stmt.execute((cid, key, delta)) {
            Ok(_) => {}
            Err(e) if is_constraint(&e) => return Err(overflow(collection, *delta)),
            Err(e) => return Err(map("incrementing a counter", &e)),
        }
    }
    Ok(())
}

#[async_trait]
impl Transaction for SqliteTransaction {
    fn mode(&self) -> TxMode {
        self.mode
    }

    async fn get(&mut self, collection: &str, id: &Tuple) -> Result<Option<RawRecord>> {
        self.start_read()?;
        let info = self.info(collection)?;
        self.run(false, |conn| get_op(conn, &info, id))
    }

    async fn get_many(&mut self, collection: &str, ids: &[Tuple]) -> Result<Vec<Option<RawRecord>>> {
        self.start_read()?;
        let info = self.info(collection)?;
        self.run(false, |conn| ids.iter().map(|id| get_op(conn, &info, id)).collect())
    }

    async fn insert(&mut self, collection: &str, record: NewRecord) -> Result<u64> {
        self.writable()?;
        self.info(collection)?;
        self.start_write().await?;
        let info = self.info(collection)?;
        let checked = self.shared.options.limits.check_record(&info.def, &record)?;
        let result = self.run(false, |conn| insert_op(conn, &info, &record, &checked, false));
        self.settle(result).await
    }

    async fn update(&mut self, collection: &str, expected_version: u64, record: NewRecord) -> Result<u64> {
        self.writable()?;
        self.info(collection)?;
        self.start_write().await?;
        let info = self.info(collection)?;
        let checked = self.shared.options.limits.check_record(&info.def, &record)?;
        let result = self.run(false, |conn| update_op(conn, &info, expected_version, &record, &checked, false));
        self.settle(result).await
    }

    async fn delete(&mut self, collection: &str, id: &Tuple, expected_version: Option<u64>) -> Result<bool> {
        self.writable()?;
        self.info(collection)?.def.check_key(None, id)?;
        self.start_write().await?;
        let info = self.info(collection)?;
        let key = id.encode()?;
        let result = self.run(false, |conn| delete_op(conn, &info, id, &key, expected_version, false));
        self.settle(result).await
    }

    async fn delete_range(&mut self, scan: &Scan) -> Result<u64> {
        self.writable()?;
        let info = self.info(&scan.collection)?;
        scan.plan(&info.def, &self.shared.options.limits, false)?;
        self.start_write().await?;
        let info = self.info(&scan.collection)?;
        let plan = scan.plan(&info.def, &self.shared.options.limits, false)?;
        let result = self.run(true, |conn| delete_range_op(conn, &info, scan, &plan));
        self.settle(result).await
    }

    async fn scan(&mut self, scan: &Scan) -> Result<Page> {
        self.start_read()?;
        let info = self.info(&scan.collection)?;
        let plan = scan.plan(&info.def, &self.shared.options.limits, true)?;
        self.run(false, |conn| scan_op(conn, &info, scan, &plan))
    }

    async fn count(&mut self, scan: &Scan) -> Result<u64> {
        self.start_read()?;
        let info = self.info(&scan.collection)?;
        let plan = scan.plan(&info.def, &self.shared.options.limits, false)?;
        self.run(false, |conn| count_op(conn, &info, scan, &plan))
    }

    async fn counter_add(&mut self, collection: &str, key: &Tuple, delta: i64) -> Result<()> {
        self.writable()?;
        self.pooled()?;
        let info = self.info(collection)?;
        let key = self.shared.options.limits.check_key_size(key.encode()?)?;
        let staged = self.stage_deltas(vec![(info, key, delta)])?;
        self.apply_staged(staged);
        Ok(())
    }

    async fn counter_get(&mut self, collection: &str, key: &Tuple) -> Result<i64> {
        self.start_read()?;
        let info = self.info(collection)?;
        let key = key.encode()?;
        let pending = self.deltas.get(&(info.cid, key.clone())).map_or(0, |(d, _)| *d);
        let stored = self.run(false, |conn| {
            let value: Option<i64> = conn
                .prepare_cached("SELECT value FROM ent_counter WHERE cid = ?1 AND key = ?2")
                .and_then(|mut s| s.query_row((info.cid, &key), |r| r.get(0)).optional())
                .doing("reading a counter")?;
            Ok(value.unwrap_or(0))
        })?;
        stored.checked_add(pending).ok_or_else(|| overflow(collection, pending))
    }

    async fn write_batch(&mut self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>> {
        self.writable()?;
        self.pooled()?;
        let limit = self.shared.options.limits.max_batch_ops;
        if ops.len() > limit {
            return Err(Error::TooLarge { what: "batch".into(), size: ops.len() as u64, limit: limit as u64 });
        }
        let writes = ops.iter().any(|op| !matches!(op, WriteOp::CounterAdd { .. }));
        let mut prepared = ops.into_iter().map(|op| self.prepare(op)).collect::<Result<Vec<_>>>()?;
        // Where the transaction stood before its first write, if this batch is it (see `undo_first_write`).
        let first = (writes && self.state != State::Writing).then_some(self.state);
        if writes {
            let before = self.catalog.generation;
            self.start_write().await?;
            if self.catalog.generation != before {
                // Another process declared meanwhile: check again against the catalog of the snapshot.
                prepared = prepared.into_iter().map(|op| self.prepare(op.into_op())).collect::<Result<Vec<_>>>()?;
            }
        }
        let counts = prepared
            .iter()
            .filter_map(|op| match op {
                Prepared::Count(info, key, delta) => Some((info.clone(), key.clone(), *delta)),
                _ => None,
            })
            .collect();
        let staged = self.stage_deltas(counts)?;
        let outcomes = if writes {
            // A transaction's first write needs no savepoint (whose sub-journal copies every page the batch
            // touches: 6% of an académie load): on error, the whole SQLite transaction is undone instead.
            let savepoint = first.is_none();
            self.written += prepared.len();
            let result = match prepared.len() >= OFF_EXECUTOR_OPS {
                // The operations come back to be dropped here: freeing a chunk of an import is 5% of the
                // writing thread, which the task awaiting it has time for.
                true => self
                    .run_off_executor(savepoint, move |conn| apply_all(conn, &prepared).map(|out| (out, prepared)))
                    .await
                    .map(|(out, _prepared)| out),
                false => self.run(savepoint, |conn| apply_all(conn, &prepared)),
            };
            let result = match (result, first) {
                (Err(e), Some(before)) => Err(self.undo_first_write(before, e)),
                (result, _) => result,
            };
            self.settle(result).await?
        } else {
            vec![WriteOutcome::Counted; prepared.len()]
        };
        self.apply_staged(staged);
        Ok(outcomes)
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        if let Some(e) = self.aborted.take() {
            // Dropping `self` rolls back and discards the connection.
            return Err(e);
        }
        if self.conn.is_none() {
            return Err(Error::TransactionFinished);
        }
        if !self.deltas.is_empty() {
            if self.state == State::Idle {
                self.start_write().await?;
            }
            let deltas = std::mem::take(&mut self.deltas);
            let result = self.run(false, |conn| apply_deltas(conn, &deltas));
            self.settle(result).await?;
            self.state = State::Writing;
        }
        let Some(conn) = self.conn.take() else { return Err(Error::TransactionFinished) };
        if self.state == State::Idle {
            return Ok(());
        }
        let large = self.written >= OFF_EXECUTOR_OPS;
        let (result, _conn) = self.shared.commit(conn, self.state == State::Writing, large).await;
        result
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        match self.conn.take() {
            None => Err(Error::TransactionFinished),
            Some(conn) => {
                let c = conn.conn();
                if !c.is_autocommit() {
                    c.execute_batch("ROLLBACK").doing("rollback")?;
                }
                Ok(())
            }
        }
    }
}

impl Prepared {
    /// The operation back, to prepare it again.
    fn into_op(self) -> WriteOp {
        match self {
            Prepared::Insert(info, record, _) => WriteOp::Insert { collection: info.def.name.clone(), record },
            Prepared::Update(info, expected_version, record, _) => {
                WriteOp::Update { collection: info.def.name.clone(), expected_version, record }
            }
            Prepared::Delete(info, id, _, expected_version) => {
                WriteOp::Delete { collection: info.def.name.clone(), id, expected_version }
            }
            Prepared::Count(info, key, delta) => WriteOp::CounterAdd {
                collection: info.def.name.clone(),
                key: Tuple::decode(&key).unwrap_or_default(),
                delta,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scan walks an index in order: no temporary B-tree to sort, so a page of 50 costs 50 rows even
    /// in a range of millions.
    #[test]
    fn every_scan_reads_an_index_in_order() {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&conn, "test", super::super::schema::SCHEMA_VERSION).unwrap();
        let index = |unique| Source::Entries(IndexInfo { xid: 1, unique });
        for source in [Source::Primary, index(false), index(true)] {
            for direction in [Direction::Forward, Direction::Backward] {
                for resume in [false, true] {
                    for records in [false, true] {
                        let sql = scan_sql(source, direction, resume, records);
                        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                        let plan: Vec<String> =
                            stmt.query_map([1, 2, 3, 4, 5, 6, 7], |r| r.get(3)).unwrap().map(|r| r.unwrap()).collect();
                        let plan = plan.join(" | ");
                        assert!(!plan.contains("TEMP B-TREE"), "{sql}\n{plan}");
                        assert!(!plan.contains("SCAN"), "{sql}\n{plan}");
                    }
                }
            }
        }
    }
}
