//! Transactions: the port's operations in SQL over the generic layout (see [`super::schema`]).
//!
//! # Isolation
//!
//! A read-write transaction is a PostgreSQL `SERIALIZABLE` transaction (SSI): the server detects the
//! dependencies that would break serializability and fails one transaction with SQLSTATE `40001`, which
//! the adapter reports as a retryable [`Error::Conflict`] (as it does `40P01`, a deadlock, and `55P03`,
//! a row lock held longer than `lock_timeout`). A read-only transaction is `REPEATABLE READ READ ONLY`:
//! one snapshot from its first read to its end, never a conflict, and a hot standby may serve it.
//!
//! **Counters** never conflict with each other: an increment is a row of its own in `ent_counter`,
//! inserted at commit; a read sums the rows.
//!
//! **Commit order.** SSI alone lets a transaction that read data commit after another one changed that
//! data and committed, when ordering the reader first is still serializable; the port asks more: a
//! read-write transaction whose read (a scan, a count, a counter) missed a write committed before its own
//! commit fails. So a read-write transaction that scans or counts a range leaves a marker of the range in
//! `ent_read_range` (one that reads a counter, in `ent_counter_read`), and every committing writer reads the
//! markers that cover the keys it wrote (the increments it applies): the reader and the writer then each
//! depend on the other, and PostgreSQL fails one of them. Markers stay after commit, where they are
//! harmless (visible to every later transaction), and are removed in the background once no transaction
//! that could conflict with them runs.
//!
//! # Round trips
//!
//! `BEGIN` (with the read of the catalog generation) is not sent on its own: it goes in the same round trip
//! as the transaction's first statement. Every operation is one SQL statement (data-modifying CTEs write the
//! record and its index entries together), so one call is one round trip; a [`Transaction::write_batch`] is
//! sent as one pipeline (consecutive inserts into one collection as one multi-row statement); the pending
//! increments, the removal of the markers and `COMMIT` go together too. A read-only transaction's `COMMIT`
//! is sent after the caller has moved on.
//!
//! # Failed operations
//!
//! PostgreSQL aborts a whole transaction at the first error, so the expected failures never raise one:
//! inserts use `ON CONFLICT DO NOTHING` and report what they could not insert; updates and deletes check
//! the version in their `WHERE`. When a single operation fails half-way (a record inserted, then one of its
//! unique keys found taken), a second statement removes what the first wrote, so the transaction is as it
//! was; a batch runs under a savepoint and is rolled back to it. Any other error (a lost connection, a
//! serialization failure) ends the transaction: every later call returns it, and nothing is committed.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ent_core::storage::{
    CheckedRecord, Cursor, Direction, NewRecord, Page, RawRecord, Scan, ScanEntry, ScanPlan, Transaction, Tuple,
    TxMode, WriteOp, WriteOutcome,
};
use ent_core::{Error, Result};
use futures::future::{join, join_all};
use serde_json::value::RawValue;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::catalog::{self, Catalog, CollectionInfo, IndexInfo};
use super::error::{ADAPTER, is_connection_lost, map};
use super::store::{Pooled, Shared};

/// The pending increments of a transaction: `(cid, encoded key)` to `(delta, collection name)`.
type Deltas = BTreeMap<(i64, Vec<u8>), (i64, String)>;

/// Parameters of one statement.
type Params<'a> = Vec<&'a (dyn ToSql + Sync)>;

const BEGIN_RW: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";
const BEGIN_RO: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
/// Read in the snapshot of every transaction, in the round trip of its `BEGIN`.
const GENERATION: &str = "SELECT value FROM ent_meta WHERE key = 'catalog_generation'";

/// A transaction of a [`super::PostgresStore`].
pub(crate) struct PgTransaction {
    shared: Arc<Shared>,
    conn: Option<Pooled>,
    mode: TxMode,
    /// Whether `BEGIN` was sent.
    begun: bool,
    /// Simple statements sent before the next statement, in its round trip (`RELEASE SAVEPOINT`).
    prefix: Vec<&'static str>,
    catalog: Arc<Catalog>,
    deltas: Deltas,
    /// `(owner, key)` written by this transaction (records under their `cid`, index entries under
    /// `-xid`): checked against the markers of concurrent readers at commit.
    written: Vec<(i64, Vec<u8>)>,
    /// `(owner, lo, hi)` of the ranges this read-write transaction scanned or counted: marked at commit.
    ranges: Vec<(i64, Vec<u8>, Vec<u8>)>,
    /// `(cid, key)` of the counters this read-write transaction read: marked at commit.
    counters_read: Vec<(i64, Vec<u8>)>,
    /// Set when PostgreSQL ended the transaction after an error.
    aborted: Option<Error>,
}

impl Drop for PgTransaction {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take()
            && self.begun
        {
            conn.end = Some("ROLLBACK");
        }
    }
}

/// Why a pipeline failed: the driver's error, or no connection at all.
enum Failure {
    Driver(tokio_postgres::Error),
    Port(Error),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Driver(e)
    }
}

impl PgTransaction {
    pub(crate) fn new(shared: Arc<Shared>, conn: Pooled, mode: TxMode) -> Self {
        let catalog = shared.catalog();
        PgTransaction {
            shared,
            conn: Some(conn),
            mode,
            begun: false,
            prefix: Vec::new(),
            catalog,
            deltas: Deltas::new(),
            written: Vec::new(),
            ranges: Vec::new(),
            counters_read: Vec::new(),
            aborted: None,
        }
    }

    fn check_open(&self) -> Result<()> {
        if let Some(e) = &self.aborted {
            return Err(e.clone());
        }
        if self.conn.is_none() {
            return Err(Error::TransactionFinished);
        }
        Ok(())
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

    /// Ends the transaction after an error PostgreSQL raised: it aborted the transaction.
    fn fail(&mut self, doing: &str, err: &tokio_postgres::Error) -> Error {
        let mapped = map(doing, err);
        if let Some(conn) = self.conn.as_mut() {
            conn.saw(err);
        }
        self.aborted = Some(mapped.clone());
        mapped
    }

    /// Sends statements in one round trip (after `BEGIN` if the transaction has not started, and the
    /// pending prefix), then `suffix` if any; returns each statement's rows.
    async fn pipeline(
        &mut self,
        doing: &str,
        statements: &[(&str, Params<'_>)],
        suffix: Option<&'static str>,
    ) -> Result<Vec<Vec<Row>>> {
        self.check_open()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let fresh = !self.begun;
            let result = self.pipeline_once(statements, suffix).await;
            match result {
                Ok((generation, outcomes)) => {
                    self.begun = true;
                    self.prefix.clear();
                    if let Some(generation) = generation
                        && generation != self.catalog.generation
                        && suffix.is_none()
                    {
                        return Err(self.catalog_changed().await);
                    }
                    return Ok(outcomes);
                }
                // A connection found dead at the first statement of a transaction: nothing happened on
                // it, so the transaction starts again on a new connection (once).
                Err(Failure::Port(e)) => {
                    self.aborted = Some(e.clone());
                    return Err(e);
                }
                Err(Failure::Driver(e)) if fresh && attempt == 1 && is_connection_lost(&e) => {
                    let pool = self.shared.pool(self.mode).clone();
                    let Some(conn) = self.conn.as_mut() else { return Err(Error::TransactionFinished) };
                    if let Err(reconnect) = pool.reconnect(conn).await {
                        self.aborted = Some(reconnect.clone());
                        return Err(reconnect);
                    }
                }
                Err(Failure::Driver(e)) => {
                    self.begun = true;
                    return Err(self.fail(doing, &e));
                }
            }
        }
    }

    async fn pipeline_once(
        &mut self,
        statements: &[(&str, Params<'_>)],
        suffix: Option<&'static str>,
    ) -> std::result::Result<(Option<i64>, Vec<Vec<Row>>), Failure> {
        let begin = if self.begun {
            None
        } else {
            Some(match self.mode {
                TxMode::ReadWrite => BEGIN_RW,
                TxMode::ReadOnly => BEGIN_RO,
            })
        };
        let mut prefix: Vec<&str> = begin.into_iter().collect();
        prefix.extend(self.prefix.iter().copied());
        let prefix = prefix.join("; ");
        let Some(pooled) = self.conn.as_mut() else {
            return Err(Failure::Port(Error::TransactionFinished));
        };
        let conn = pooled.conn().map_err(Failure::Port)?;
        let mut prepared = Vec::with_capacity(statements.len());
        for (sql, _) in statements {
            prepared.push(conn.prepare(sql).await?);
        }
        let generation_stmt = match begin {
            Some(_) => Some(conn.prepare(GENERATION).await?),
            None => None,
        };
        let client = &conn.client;
        let head = async {
            if !prefix.is_empty() {
                client.simple_query(&prefix).await?;
            }
            Ok::<(), tokio_postgres::Error>(())
        };
        let generation = async {
            match &generation_stmt {
                Some(stmt) => client.query(stmt, &[]).await.map(Some),
                None => Ok(None),
            }
        };
        let body = join_all(prepared.iter().zip(statements).map(|(stmt, (_, params))| client.query(stmt, params)));
        let tail = async {
            match suffix {
                Some(sql) => client.simple_query(sql).await.map(|_| ()),
                None => Ok(()),
            }
        };
        let (((head, generation), body), tail) = join(join(join(head, generation), body), tail).await;
        head?;
        let generation = generation?;
        let mut outcomes = Vec::with_capacity(body.len());
        for rows in body {
            outcomes.push(rows?);
        }
        tail?;
        let generation = generation
            .and_then(|rows| rows.first().map(|r| r.get::<_, String>(0)))
            .and_then(|v| catalog::parse_generation(&v).ok());
        Ok((generation, outcomes))
    }

    /// Another process declared collections since this process read the catalog: reload it (from this
    /// transaction's snapshot) and fail the transaction retryably, since its statements used the old one.
    async fn catalog_changed(&mut self) -> Error {
        let error = Error::serialization_conflict(
            "transaction: the collections were declared again by another process; run the transaction again",
        );
        if let Some(Ok(conn)) = self.conn.as_mut().map(Pooled::conn)
            && let Ok(catalog) = catalog::load(&conn.client).await
        {
            self.shared.install(Arc::new(catalog));
        }
        self.aborted = Some(error.clone());
        error
    }

    /// One statement, one round trip.
    async fn query(&mut self, doing: &str, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        let mut out = self.pipeline(doing, &[(sql, params)], None).await?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Adds increments to the pending ones, refusing an overflow before changing anything.
    fn add_deltas(&mut self, adds: Vec<(Arc<CollectionInfo>, Vec<u8>, i64)>) -> Result<()> {
        let mut staged: Vec<((i64, Vec<u8>), i64, String)> = Vec::with_capacity(adds.len());
        for (info, key, delta) in adds {
            let slot = (info.cid, key);
            let base = staged
                .iter()
                .rev()
                .find(|(k, _, _)| *k == slot)
                .map(|(_, v, _)| *v)
                .or_else(|| self.deltas.get(&slot).map(|(v, _)| *v))
                .unwrap_or(0);
            let value = base.checked_add(delta).ok_or_else(|| overflow(&info.def.name, delta))?;
            staged.push((slot, value, info.def.name.clone()));
        }
        for (slot, value, name) in staged {
            self.deltas.insert(slot, (value, name));
        }
        Ok(())
    }
}

fn overflow(collection: &str, delta: i64) -> Error {
    Error::invalid(format!("{collection} counter"), format!("adding {delta} overflows a 64-bit integer"))
}

fn raw(data: String) -> Result<Box<RawValue>> {
    RawValue::from_string(data).map_err(|e| Error::serialization("a stored record", e))
}

fn version_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// `(data, data_json)`: the record's JSON for the `jsonb` column, or for the `json` one when it holds a
/// NUL character (`\u0000`), which `jsonb` refuses.
fn json_columns(record: &NewRecord) -> (Option<&str>, Option<&str>) {
    let text = record.data.get();
    if text.contains("\\u0000") { (None, Some(text)) } else { (Some(text), None) }
}

fn show_key(key: &[u8]) -> String {
    Tuple::decode(key).map_or_else(|_| format!("0x{}", hex_of(key)), |t| t.to_string())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn index_name(info: &CollectionInfo, xid: i64) -> String {
    info.indexes.iter().find(|(_, i)| i.xid == xid).map_or_else(|| format!("#{xid}"), |(n, _)| n.clone())
}

/// The entries of a checked record, resolved: `(xids, keys, unique flags)`.
/// Index entries as the statements take them: xids, keys, unique flags.
type EntryArrays = (Vec<i64>, Vec<Vec<u8>>, Vec<bool>);

fn entry_arrays(info: &CollectionInfo, checked: &CheckedRecord) -> Result<EntryArrays> {
    let mut xids = Vec::with_capacity(checked.entries.len());
    let mut keys = Vec::with_capacity(checked.entries.len());
    let mut unique = Vec::with_capacity(checked.entries.len());
    for (name, key) in &checked.entries {
        let index = info.index(name)?;
        xids.push(index.xid);
        keys.push(key.clone());
        unique.push(index.unique);
    }
    Ok((xids, keys, unique))
}

fn conflict(info: &CollectionInfo, id: &Tuple, expected: u64, found: u64) -> Error {
    Error::Conflict {
        what: format!("{} {id}", info.def.name),
        expected: Some(expected),
        found: Some(found),
        retryable: false,
    }
}

fn duplicate(info: &CollectionInfo, xid: i64, key: &[u8]) -> Error {
    Error::Duplicate { collection: info.def.name.clone(), index: index_name(info, xid), key: show_key(key) }
}

fn duplicate_id(info: &CollectionInfo, id: &Tuple) -> Error {
    Error::Duplicate {
        collection: info.def.name.clone(),
        index: ent_core::storage::PRIMARY.to_owned(),
        key: id.to_string(),
    }
}

const GET: &str = "SELECT version, schema_version, coalesce(data::text, data_json::text) \
                   FROM ent_record WHERE cid = $1 AND id = $2";

const GET_MANY: &str = "SELECT id, version, schema_version, coalesce(data::text, data_json::text) \
                        FROM ent_record WHERE cid = $1 AND id = ANY($2)";

/// Inserts records of one collection (`$1`), all or none of each: a record whose id is taken writes
/// nothing; the entries of a record whose unique key is taken are written but reported missing (the
/// caller removes them, or rolls the batch back).
const INSERT: &str = "WITH r AS (\
       SELECT * FROM unnest($2::bytea[], $3::int[], $4::text[], $5::text[]) AS r(id, sv, data, data_json)\
     ), e AS (\
       SELECT * FROM unnest($6::bytea[], $7::bigint[], $8::bytea[], $9::bool[]) WITH ORDINALITY AS e(id, x, k, u, ord)\
     ), ea AS (\
       SELECT id, array_agg(x ORDER BY ord) AS xs, array_agg(k ORDER BY ord) AS ks FROM e GROUP BY id\
     ), rec AS (\
       INSERT INTO ent_record (cid, id, version, schema_version, data, data_json, entry_xids, entry_keys) \
       SELECT $1, r.id, 1, r.sv, r.data::jsonb, r.data_json::json, \
              coalesce(ea.xs, '{}'::bigint[]), coalesce(ea.ks, '{}'::bytea[]) \
       FROM r LEFT JOIN ea ON ea.id = r.id \
       ON CONFLICT DO NOTHING RETURNING id\
     ), ne AS (\
       INSERT INTO ent_entry (xid, key, id) SELECT e.x, e.k, e.id FROM e WHERE NOT e.u \
       AND e.id IN (SELECT id FROM rec) ON CONFLICT DO NOTHING\
     ), ue AS (\
       INSERT INTO ent_unique_entry (xid, key, id) SELECT e.x, e.k, e.id FROM e WHERE e.u \
       AND e.id IN (SELECT id FROM rec) ON CONFLICT DO NOTHING RETURNING xid, key, id\
     ) \
     SELECT ARRAY(SELECT id FROM rec), ARRAY(SELECT xid FROM ue), ARRAY(SELECT key FROM ue), ARRAY(SELECT id FROM ue)";

/// Removes what a failed insert wrote: the record `$2` of `$1` and the unique entries `$3`, `$4`.
const UNDO_INSERT: &str = "WITH d AS (\
       DELETE FROM ent_record WHERE cid = $1 AND id = $2 RETURNING entry_xids, entry_keys\
     ), o AS (SELECT x, k FROM d, unnest(d.entry_xids, d.entry_keys) AS o(x, k)), \
     de AS (DELETE FROM ent_entry e USING o WHERE e.xid = o.x AND e.key = o.k AND e.id = $2) \
     DELETE FROM ent_unique_entry e USING unnest($3::bigint[], $4::bytea[]) AS u(x, k) \
     WHERE e.xid = u.x AND e.key = u.k AND e.id = $2";

/// Updates the record `$2` of `$1` if its version is `$3`, replacing its entries by `$7..$9`: new unique
/// entries first; the rest only if they all went in. Reports the version found, whether the record was
/// written, the unique entries inserted and the ones found taken.
const UPDATE: &str = "WITH cur AS (\
       SELECT version, entry_xids, entry_keys FROM ent_record WHERE cid = $1 AND id = $2\
     ), ok AS (SELECT 1 FROM cur WHERE version = $3), \
     old AS (SELECT x, k FROM cur, unnest(cur.entry_xids, cur.entry_keys) AS o(x, k)), \
     new AS (SELECT * FROM unnest($7::bigint[], $8::bytea[], $9::bool[]) AS n(x, k, u)), \
     added AS (\
       SELECT x, k, u FROM new WHERE EXISTS (SELECT 1 FROM ok) \
       AND NOT EXISTS (SELECT 1 FROM old WHERE old.x = new.x AND old.k = new.k)\
     ), removed AS (\
       SELECT x, k FROM old WHERE EXISTS (SELECT 1 FROM ok) \
       AND NOT EXISTS (SELECT 1 FROM new WHERE new.x = old.x AND new.k = old.k)\
     ), ue AS (\
       INSERT INTO ent_unique_entry (xid, key, id) SELECT x, k, $2 FROM added WHERE u \
       ON CONFLICT DO NOTHING RETURNING xid, key\
     ), go AS (\
       SELECT 1 WHERE (SELECT count(*) FROM ue) = (SELECT count(*) FROM added WHERE u)\
     ), upd AS (\
       UPDATE ent_record SET version = version + 1, schema_version = $4, data = $5::text::jsonb, \
       data_json = $6::text::json, entry_xids = $7, entry_keys = $8 \
       WHERE cid = $1 AND id = $2 AND version = $3 AND EXISTS (SELECT 1 FROM go) RETURNING version\
     ), ne AS (\
       INSERT INTO ent_entry (xid, key, id) SELECT x, k, $2 FROM added WHERE NOT u \
       AND EXISTS (SELECT 1 FROM go) ON CONFLICT DO NOTHING\
     ), de AS (\
       DELETE FROM ent_entry e USING removed r WHERE e.xid = r.x AND e.key = r.k AND e.id = $2 \
       AND EXISTS (SELECT 1 FROM go)\
     ), due AS (\
       DELETE FROM ent_unique_entry e USING removed r WHERE e.xid = r.x AND e.key = r.k AND e.id = $2 \
       AND EXISTS (SELECT 1 FROM go)\
     ) \
     SELECT (SELECT version FROM cur), (SELECT version FROM upd), \
       ARRAY(SELECT xid FROM ue), ARRAY(SELECT key FROM ue), \
       ARRAY(SELECT x FROM added a WHERE u AND NOT EXISTS (SELECT 1 FROM ue WHERE ue.xid = a.x AND ue.key = a.k)), \
       ARRAY(SELECT k FROM added a WHERE u AND NOT EXISTS (SELECT 1 FROM ue WHERE ue.xid = a.x AND ue.key = a.k))";

/// Removes unique entries `$2`, `$3` of the record `$1` (what a failed update inserted).
const UNDO_UNIQUE: &str = "DELETE FROM ent_unique_entry e USING unnest($2::bigint[], $3::bytea[]) AS u(x, k) \
                           WHERE e.xid = u.x AND e.key = u.k AND e.id = $1";

/// Deletes the record `$2` of `$1` (at version `$3` if not null) and its entries; reports the version
/// found and whether it was deleted.
const DELETE: &str = "WITH cur AS (SELECT version FROM ent_record WHERE cid = $1 AND id = $2), \
     d AS (\
       DELETE FROM ent_record WHERE cid = $1 AND id = $2 AND ($3::bigint IS NULL OR version = $3) \
       RETURNING entry_xids, entry_keys\
     ), o AS (SELECT x, k FROM d, unnest(d.entry_xids, d.entry_keys) AS o(x, k)), \
     de AS (DELETE FROM ent_entry e USING o WHERE e.xid = o.x AND e.key = o.k AND e.id = $2), \
     due AS (DELETE FROM ent_unique_entry e USING o WHERE e.xid = o.x AND e.key = o.k AND e.id = $2) \
     SELECT (SELECT version FROM cur), (SELECT count(*) FROM d)";

/// The tail of a range deletion: `d` holds the deleted records.
const DELETE_TAIL: &str = "o AS (SELECT d.id, x, k FROM d, unnest(d.entry_xids, d.entry_keys) AS o(x, k)), \
     de AS (DELETE FROM ent_entry e USING o WHERE e.xid = o.x AND e.key = o.k AND e.id = o.id), \
     due AS (DELETE FROM ent_unique_entry e USING o WHERE e.xid = o.x AND e.key = o.k AND e.id = o.id) \
     SELECT count(*) FROM d";

const COUNTER_RO: &str = "SELECT coalesce(sum(value), 0)::text, count(*) FROM ent_counter WHERE cid = $1 AND key = $2";

/// Folds the increments of a counter into one row.
const COUNTER_FOLD: &str = "WITH d AS (DELETE FROM ent_counter WHERE cid = $1 AND key = $2 RETURNING value) \
     INSERT INTO ent_counter (cid, key, value) SELECT $1, $2, sum(value)::bigint FROM d HAVING count(*) > 0";

/// A counter read by a read-write transaction with more increment rows than this is folded into one row.
const FOLD_AFTER: i64 = 16;

const COUNTER_APPLY: &str = "INSERT INTO ent_counter (cid, key, value) \
     SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[])";

/// Reads the markers of the counters incremented: the dependency that makes a concurrent reader fail.
const COUNTER_MARKERS: &str = "SELECT count(*) FROM unnest($1::bigint[], $2::bytea[]) AS u(c, k) \
     WHERE EXISTS (SELECT 1 FROM ent_counter_read r WHERE r.cid = u.c AND r.key = u.k)";

/// Reads the markers of the ranges that cover the keys written: the dependency that makes a concurrent
/// scanner fail.
const RANGE_MARKERS: &str = "SELECT count(*) FROM unnest($1::bigint[], $2::bytea[]) AS u(o, k) \
     WHERE EXISTS (SELECT 1 FROM ent_read_range r WHERE r.owner = u.o AND r.lo <= u.k AND r.hi > u.k)";

/// Removes the markers that no running transaction can conflict with any more.
pub(crate) const CLEAN_MARKERS: &str = "DELETE FROM ent_read_range WHERE xid < txid_snapshot_xmin(txid_current_snapshot()); \
     DELETE FROM ent_counter_read WHERE xid < txid_snapshot_xmin(txid_current_snapshot())";

/// Leaves the markers of the ranges a committing transaction read.
const RANGE_MARK: &str = "INSERT INTO ent_read_range (owner, lo, hi) \
     SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])";

/// Leaves the markers of the counters a committing transaction read.
const COUNTER_MARK: &str = "INSERT INTO ent_counter_read (cid, key) SELECT * FROM unnest($1::bigint[], $2::bytea[])";

/// Where a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Primary,
    Entries(IndexInfo),
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

/// The SQL of a scan. Parameters: $1 cid or xid, $2 lower bound, $3 upper bound, $4 the limit, then $5 the
/// cid (for the join to the records), then the resume key and id.
fn scan_sql(source: Source, direction: Direction, resume: bool, records: bool) -> String {
    let (dir, cmp_strict, cmp) = match direction {
        Direction::Forward => ("ASC", ">", ">="),
        Direction::Backward => ("DESC", "<", "<="),
    };
    let data = "r.version, r.schema_version, coalesce(r.data::text, r.data_json::text)";
    match source {
        Source::Primary => {
            let cols = if records { data } else { "r.id" };
            let cols = if records { format!("r.id, {cols}") } else { cols.to_owned() };
            let resume =
                if resume { format!("AND r.id {cmp_strict} $6 AND $7::bytea IS NOT NULL ") } else { String::new() };
            format!(
                "SELECT {cols} FROM ent_record r WHERE r.cid = $1 AND r.id >= $2 AND r.id < $3 {resume}\
                 AND $5::bigint IS NOT NULL ORDER BY r.id {dir} LIMIT $4"
            )
        }
        Source::Entries(index) => {
            let table = if index.unique { "ent_unique_entry" } else { "ent_entry" };
            let order = if index.unique { format!("e.key {dir}") } else { format!("e.key {dir}, e.id {dir}") };
            let resume = if resume {
                format!("AND e.key {cmp} $6 AND (e.key {cmp_strict} $6 OR e.id {cmp_strict} $7) ")
            } else {
                String::new()
            };
            if records {
                format!(
                    "SELECT e.key, e.id, {data} FROM {table} AS e JOIN ent_record AS r ON r.cid = $5 AND r.id = e.id \
                     WHERE e.xid = $1 AND e.key >= $2 AND e.key < $3 {resume}ORDER BY {order} LIMIT $4"
                )
            } else {
                format!(
                    "SELECT e.key, e.id FROM {table} AS e \
                     WHERE e.xid = $1 AND e.key >= $2 AND e.key < $3 {resume}AND $5::bigint IS NOT NULL \
                     ORDER BY {order} LIMIT $4"
                )
            }
        }
    }
}

fn count_sql(source: Source) -> &'static str {
    match source {
        Source::Primary => "SELECT count(*) FROM ent_record WHERE cid = $1 AND id >= $2 AND id < $3",
        Source::Entries(IndexInfo { unique: true, .. }) => {
            "SELECT count(*) FROM ent_unique_entry WHERE xid = $1 AND key >= $2 AND key < $3"
        }
        Source::Entries(_) => "SELECT count(*) FROM ent_entry WHERE xid = $1 AND key >= $2 AND key < $3",
    }
}

fn delete_range_sql(source: Source) -> String {
    let d = match source {
        Source::Primary => {
            "d AS (DELETE FROM ent_record WHERE cid = $1 AND id >= $2 AND id < $3 AND $4::bigint IS NOT NULL \
             RETURNING id, entry_xids, entry_keys)"
                .to_owned()
        }
        Source::Entries(index) => {
            let table = if index.unique { "ent_unique_entry" } else { "ent_entry" };
            format!(
                "d AS (DELETE FROM ent_record WHERE cid = $4 AND id IN \
                 (SELECT id FROM {table} WHERE xid = $1 AND key >= $2 AND key < $3) \
                 RETURNING id, entry_xids, entry_keys)"
            )
        }
    };
    format!("WITH {d}, {DELETE_TAIL}")
}

/// A [`WriteOp`] with its collection resolved and its keys checked, before anything is written.
enum Prepared {
    Insert(Arc<CollectionInfo>, NewRecord, CheckedRecord),
    Update(Arc<CollectionInfo>, u64, NewRecord, CheckedRecord),
    Delete(Arc<CollectionInfo>, Tuple, Vec<u8>, Option<u64>),
    Count(Arc<CollectionInfo>, Vec<u8>, i64),
}

/// The parameters of an insert of records of one collection.
struct InsertParams {
    cid: i64,
    ids: Vec<Vec<u8>>,
    schema_versions: Vec<i32>,
    data: Vec<Option<String>>,
    data_json: Vec<Option<String>>,
    entry_ids: Vec<Vec<u8>>,
    entry_xids: Vec<i64>,
    entry_keys: Vec<Vec<u8>>,
    entry_unique: Vec<bool>,
}

impl InsertParams {
    fn new(cid: i64) -> Self {
        InsertParams {
            cid,
            ids: Vec::new(),
            schema_versions: Vec::new(),
            data: Vec::new(),
            data_json: Vec::new(),
            entry_ids: Vec::new(),
            entry_xids: Vec::new(),
            entry_keys: Vec::new(),
            entry_unique: Vec::new(),
        }
    }

    fn push(&mut self, info: &CollectionInfo, record: &NewRecord, checked: &CheckedRecord) -> Result<()> {
        let (xids, keys, unique) = entry_arrays(info, checked)?;
        let (data, data_json) = json_columns(record);
        self.ids.push(checked.id.clone());
        self.schema_versions.push(record.schema_version as i32);
        self.data.push(data.map(str::to_owned));
        self.data_json.push(data_json.map(str::to_owned));
        for _ in 0..xids.len() {
            self.entry_ids.push(checked.id.clone());
        }
        self.entry_xids.extend(xids);
        self.entry_keys.extend(keys);
        self.entry_unique.extend(unique);
        Ok(())
    }

    fn params(&self) -> Params<'_> {
        vec![
            &self.cid,
            &self.ids,
            &self.schema_versions,
            &self.data,
            &self.data_json,
            &self.entry_ids,
            &self.entry_xids,
            &self.entry_keys,
            &self.entry_unique,
        ]
    }
}

/// What an insert statement reports: ids inserted, unique entries inserted.
struct InsertReport {
    inserted: Vec<Vec<u8>>,
    unique_xids: Vec<i64>,
    unique_keys: Vec<Vec<u8>>,
    unique_ids: Vec<Vec<u8>>,
}

impl InsertReport {
    fn of(rows: &[Row]) -> Result<InsertReport> {
        let row = rows.first().ok_or_else(|| Error::storage(ADAPTER, "an insert returned no row", false))?;
        Ok(InsertReport {
            inserted: row.get(0),
            unique_xids: row.get(1),
            unique_keys: row.get(2),
            unique_ids: row.get(3),
        })
    }

    /// The first failure, in the order of the records: a taken id, or a taken unique key.
    fn failure(&self, info: &CollectionInfo, params: &InsertParams, records: &[&NewRecord]) -> Option<Error> {
        let inserted: std::collections::HashSet<&[u8]> = self.inserted.iter().map(Vec::as_slice).collect();
        let unique: std::collections::HashSet<(i64, &[u8], &[u8])> = self
            .unique_xids
            .iter()
            .zip(&self.unique_keys)
            .zip(&self.unique_ids)
            .map(|((x, k), i)| (*x, k.as_slice(), i.as_slice()))
            .collect();
        let mut seen = std::collections::HashSet::new();
        for (i, id) in params.ids.iter().enumerate() {
            // A second record with the same id in one statement is skipped by ON CONFLICT: a duplicate.
            if !inserted.contains(id.as_slice()) || !seen.insert(id.as_slice()) {
                return Some(duplicate_id(info, &records[i].id));
            }
            for j in 0..params.entry_ids.len() {
                if params.entry_unique[j]
                    && params.entry_ids[j] == *id
                    && !unique.contains(&(params.entry_xids[j], params.entry_keys[j].as_slice(), id.as_slice()))
                {
                    return Some(duplicate(info, params.entry_xids[j], &params.entry_keys[j]));
                }
            }
        }
        None
    }
}

/// The parameters of an update.
struct UpdateParams {
    cid: i64,
    id: Vec<u8>,
    expected: i64,
    schema_version: i32,
    data: Option<String>,
    data_json: Option<String>,
    xids: Vec<i64>,
    keys: Vec<Vec<u8>>,
    unique: Vec<bool>,
}

impl UpdateParams {
    fn new(info: &CollectionInfo, expected: u64, record: &NewRecord, checked: &CheckedRecord) -> Result<Self> {
        let (xids, keys, unique) = entry_arrays(info, checked)?;
        let (data, data_json) = json_columns(record);
        Ok(UpdateParams {
            cid: info.cid,
            id: checked.id.clone(),
            expected: i64::try_from(expected).unwrap_or(i64::MAX),
            schema_version: record.schema_version as i32,
            data: data.map(str::to_owned),
            data_json: data_json.map(str::to_owned),
            xids,
            keys,
            unique,
        })
    }

    fn params(&self) -> Params<'_> {
        vec![
            &self.cid,
            &self.id,
            &self.expected,
            &self.schema_version,
            &self.data,
            &self.data_json,
            &self.xids,
            &self.keys,
            &self.unique,
        ]
    }
}

/// What an update statement reports.
struct UpdateReport {
    found: Option<i64>,
    written: Option<i64>,
    unique_xids: Vec<i64>,
    unique_keys: Vec<Vec<u8>>,
    taken_xids: Vec<i64>,
    taken_keys: Vec<Vec<u8>>,
}

impl UpdateReport {
    fn of(rows: &[Row]) -> Result<UpdateReport> {
        let row = rows.first().ok_or_else(|| Error::storage(ADAPTER, "an update returned no row", false))?;
        Ok(UpdateReport {
            found: row.get(0),
            written: row.get(1),
            unique_xids: row.get(2),
            unique_keys: row.get(3),
            taken_xids: row.get(4),
            taken_keys: row.get(5),
        })
    }

    /// The new version, or the error (and whether unique entries must be removed).
    fn outcome(&self, info: &CollectionInfo, expected: u64, id: &Tuple) -> Result<u64> {
        let Some(found) = self.found else { return Err(Error::not_found(info.def.name.clone(), id)) };
        if version_of(found) != expected {
            return Err(conflict(info, id, expected, version_of(found)));
        }
        match self.written {
            Some(v) => Ok(version_of(v)),
            None => match (self.taken_xids.first(), self.taken_keys.first()) {
                (Some(xid), Some(key)) => Err(duplicate(info, *xid, key)),
                _ => Err(Error::storage(ADAPTER, "an update wrote nothing and gave no reason", false)),
            },
        }
    }
}

/// The parameters of a delete.
struct DeleteParams {
    cid: i64,
    id: Vec<u8>,
    expected: Option<i64>,
}

impl DeleteParams {
    fn params(&self) -> Params<'_> {
        vec![&self.cid, &self.id, &self.expected]
    }

    fn outcome(rows: &[Row], info: &CollectionInfo, id: &Tuple, expected: Option<u64>) -> Result<bool> {
        let row = rows.first().ok_or_else(|| Error::storage(ADAPTER, "a delete returned no row", false))?;
        let found: Option<i64> = row.get(0);
        let deleted: i64 = row.get(1);
        match (found, expected) {
            (None, Some(_)) => Err(Error::not_found(info.def.name.clone(), id)),
            (None, None) => Ok(false),
            (Some(v), Some(e)) if version_of(v) != e => Err(conflict(info, id, e, version_of(v))),
            (Some(_), _) => Ok(deleted > 0),
        }
    }
}

fn record_of(id: Tuple, row: &Row, at: usize) -> Result<RawRecord> {
    let version: i64 = row.get(at);
    let schema_version: i32 = row.get(at + 1);
    let data: String = row.get(at + 2);
    Ok(RawRecord {
        id,
        version: version_of(version),
        schema_version: u32::try_from(schema_version).unwrap_or(0),
        data: raw(data)?,
    })
}

impl PgTransaction {
    /// Notes a range a read-write transaction read, to mark it at commit.
    fn note_read(&mut self, info: &CollectionInfo, source: Source, plan: &ScanPlan) {
        if self.mode == TxMode::ReadWrite {
            let owner = match source {
                Source::Primary => info.cid,
                Source::Entries(index) => -index.xid,
            };
            self.ranges.push((owner, plan.lo.clone(), plan.hi.clone()));
        }
    }

    /// Notes the keys a record write touches, for the check against concurrent readers at commit.
    fn note_written(&mut self, info: &CollectionInfo, checked: &CheckedRecord) {
        self.written.push((info.cid, checked.id.clone()));
        for (name, key) in &checked.entries {
            if let Some(index) = info.indexes.get(name) {
                self.written.push((-index.xid, key.clone()));
            }
        }
    }

    fn prepare_op(&self, op: WriteOp) -> Result<Prepared> {
        let limits = &self.shared.options.limits;
        Ok(match op {
            WriteOp::Insert { collection, record } => {
                let info = self.info(&collection)?;
                let checked = limits.check_record(&info.def, &record)?;
                entry_arrays(&info, &checked)?;
                Prepared::Insert(info, record, checked)
            }
            WriteOp::Update { collection, expected_version, record } => {
                let info = self.info(&collection)?;
                let checked = limits.check_record(&info.def, &record)?;
                entry_arrays(&info, &checked)?;
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

    /// Runs the record writes of a batch under a savepoint, in one pipeline; on any failure rolls back to
    /// the savepoint and returns the first failure in the order of the operations.
    async fn apply_batch(&mut self, prepared: &[Prepared]) -> Result<Vec<WriteOutcome>> {
        // Group consecutive inserts into one collection into one statement.
        enum Step {
            Inserts(Arc<CollectionInfo>, Vec<usize>, InsertParams),
            Update(usize, UpdateParams),
            Delete(usize, DeleteParams),
        }
        let mut steps: Vec<Step> = Vec::new();
        for (i, op) in prepared.iter().enumerate() {
            match op {
                Prepared::Insert(info, record, checked) => {
                    if let Some(Step::Inserts(last, members, params)) = steps.last_mut()
                        && last.cid == info.cid
                    {
                        params.push(info, record, checked)?;
                        members.push(i);
                        continue;
                    }
                    let mut params = InsertParams::new(info.cid);
                    params.push(info, record, checked)?;
                    steps.push(Step::Inserts(info.clone(), vec![i], params));
                }
                Prepared::Update(info, expected, record, checked) => {
                    steps.push(Step::Update(i, UpdateParams::new(info, *expected, record, checked)?));
                }
                Prepared::Delete(info, _, key, expected) => steps.push(Step::Delete(
                    i,
                    DeleteParams {
                        cid: info.cid,
                        id: key.clone(),
                        expected: expected.map(|e| i64::try_from(e).unwrap_or(i64::MAX)),
                    },
                )),
                Prepared::Count(..) => {}
            }
        }
        let statements: Vec<(&str, Params<'_>)> = steps
            .iter()
            .map(|step| match step {
                Step::Inserts(_, _, p) => (INSERT, p.params()),
                Step::Update(_, p) => (UPDATE, p.params()),
                Step::Delete(_, p) => (DELETE, p.params()),
            })
            .collect();
        self.prefix.push("SAVEPOINT ent_batch");
        let results = self.pipeline("writing a batch", &statements, None).await?;
        let mut outcomes = vec![WriteOutcome::Counted; prepared.len()];
        let mut failure: Option<(usize, Error)> = None;
        for (step, rows) in steps.iter().zip(&results) {
            let (at, result): (usize, Result<()>) = match step {
                Step::Inserts(info, members, params) => {
                    let records: Vec<&NewRecord> = members
                        .iter()
                        .filter_map(|i| match &prepared[*i] {
                            Prepared::Insert(_, record, _) => Some(record),
                            _ => None,
                        })
                        .collect();
                    let report = InsertReport::of(rows)?;
                    match report.failure(info, params, &records) {
                        Some(e) => {
                            // The first member whose id or unique key failed.
                            let inserted: std::collections::HashSet<&[u8]> =
                                report.inserted.iter().map(Vec::as_slice).collect();
                            let at = members
                                .iter()
                                .zip(&params.ids)
                                .find(|(_, id)| !inserted.contains(id.as_slice()))
                                .map_or(members[0], |(i, _)| *i);
                            (at, Err(e))
                        }
                        None => {
                            for i in members {
                                outcomes[*i] = WriteOutcome::Written { version: 1 };
                            }
                            (members[0], Ok(()))
                        }
                    }
                }
                Step::Update(i, _) => {
                    let Prepared::Update(info, expected, record, _) = &prepared[*i] else { continue };
                    match UpdateReport::of(rows)?.outcome(info, *expected, &record.id) {
                        Ok(version) => {
                            outcomes[*i] = WriteOutcome::Written { version };
                            (*i, Ok(()))
                        }
                        Err(e) => (*i, Err(e)),
                    }
                }
                Step::Delete(i, _) => {
                    let Prepared::Delete(info, id, _, expected) = &prepared[*i] else { continue };
                    match DeleteParams::outcome(rows, info, id, *expected) {
                        Ok(existed) => {
                            outcomes[*i] = WriteOutcome::Deleted { existed };
                            (*i, Ok(()))
                        }
                        Err(e) => (*i, Err(e)),
                    }
                }
            };
            if let Err(e) = result
                && failure.as_ref().is_none_or(|(f, _)| at < *f)
            {
                failure = Some((at, e));
            }
        }
        match failure {
            None => {
                self.prefix.push("RELEASE SAVEPOINT ent_batch");
                Ok(outcomes)
            }
            Some((_, e)) => {
                self.prefix.push("ROLLBACK TO SAVEPOINT ent_batch");
                self.prefix.push("RELEASE SAVEPOINT ent_batch");
                Err(e)
            }
        }
    }

    /// Applies the pending increments, removes the markers and commits, in one round trip.
    async fn finish(&mut self) -> Result<()> {
        let deltas = std::mem::take(&mut self.deltas);
        let (cids, keys, values): (Vec<i64>, Vec<Vec<u8>>, Vec<i64>) = {
            let mut c = Vec::new();
            let mut k = Vec::new();
            let mut v = Vec::new();
            for ((cid, key), (delta, _)) in &deltas {
                if *delta != 0 {
                    c.push(*cid);
                    k.push(key.clone());
                    v.push(*delta);
                }
            }
            (c, k, v)
        };
        let written = std::mem::take(&mut self.written);
        let owners: Vec<i64> = written.iter().map(|(o, _)| *o).collect();
        let written_keys: Vec<Vec<u8>> = written.into_iter().map(|(_, k)| k).collect();
        let wrote = !cids.is_empty() || !owners.is_empty();
        let ranges = std::mem::take(&mut self.ranges);
        let range_owners: Vec<i64> = ranges.iter().map(|(o, _, _)| *o).collect();
        let range_los: Vec<Vec<u8>> = ranges.iter().map(|(_, lo, _)| lo.clone()).collect();
        let range_his: Vec<Vec<u8>> = ranges.into_iter().map(|(_, _, hi)| hi).collect();
        let counters_read = std::mem::take(&mut self.counters_read);
        let read_cids: Vec<i64> = counters_read.iter().map(|(c, _)| *c).collect();
        let read_keys: Vec<Vec<u8>> = counters_read.into_iter().map(|(_, k)| k).collect();
        let mut statements: Vec<(&str, Params<'_>)> = Vec::new();
        // A transaction that wrote leaves the marks of what it read: a concurrent writer of that data
        // that committed first (and read the marks' place) makes this commit fail, and one that commits
        // later fails itself.
        if wrote && !range_owners.is_empty() {
            statements.push((RANGE_MARK, vec![&range_owners, &range_los, &range_his]));
        }
        if wrote && !read_cids.is_empty() {
            statements.push((COUNTER_MARK, vec![&read_cids, &read_keys]));
        }
        if !cids.is_empty() {
            statements.push((COUNTER_APPLY, vec![&cids, &keys, &values]));
            statements.push((COUNTER_MARKERS, vec![&cids, &keys]));
        }
        if !owners.is_empty() {
            statements.push((RANGE_MARKERS, vec![&owners, &written_keys]));
        }
        if statements.is_empty() && !self.begun {
            return Ok(());
        }
        let result = self.pipeline("commit", &statements, Some("COMMIT")).await;
        match result {
            Ok(_) => {
                if let Some(conn) = self.conn.as_mut() {
                    conn.end = None;
                }
                self.begun = false;
                self.shared.committed();
                Ok(())
            }
            Err(Error::Storage { message, retryable: true, .. }) if self.conn.as_ref().is_some_and(|c| c.discard) => {
                // The connection broke while COMMIT was on its way: the server may have committed.
                Err(Error::storage(
                    ADAPTER,
                    format!(
                        "{message}; the connection was lost during commit, so the transaction may or may not have been applied"
                    ),
                    false,
                ))
            }
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Transaction for PgTransaction {
    fn mode(&self) -> TxMode {
        self.mode
    }

    async fn get(&mut self, collection: &str, id: &Tuple) -> Result<Option<RawRecord>> {
        self.check_open()?;
        let info = self.info(collection)?;
        info.def.check_key(None, id)?;
        let key = id.encode()?;
        let rows = self.query("reading a record", GET, vec![&info.cid, &key]).await?;
        rows.first().map(|row| record_of(id.clone(), row, 0)).transpose()
    }

    async fn get_many(&mut self, collection: &str, ids: &[Tuple]) -> Result<Vec<Option<RawRecord>>> {
        self.check_open()?;
        let info = self.info(collection)?;
        let mut keys = Vec::with_capacity(ids.len());
        for id in ids {
            info.def.check_key(None, id)?;
            keys.push(id.encode()?);
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.query("reading records", GET_MANY, vec![&info.cid, &keys]).await?;
        let mut found: std::collections::HashMap<Vec<u8>, &Row> = std::collections::HashMap::new();
        for row in &rows {
            found.insert(row.get(0), row);
        }
        ids.iter()
            .zip(&keys)
            .map(|(id, key)| found.get(key).map(|row| record_of(id.clone(), row, 1)).transpose())
            .collect()
    }

    async fn insert(&mut self, collection: &str, record: NewRecord) -> Result<u64> {
        self.writable()?;
        self.check_open()?;
        let info = self.info(collection)?;
        let checked = self.shared.options.limits.check_record(&info.def, &record)?;
        let mut params = InsertParams::new(info.cid);
        params.push(&info, &record, &checked)?;
        self.note_written(&info, &checked);
        let rows = self.query("inserting a record", INSERT, params.params()).await?;
        let report = InsertReport::of(&rows)?;
        match report.failure(&info, &params, &[&record]) {
            None => Ok(1),
            Some(e) => {
                if !report.inserted.is_empty() {
                    // The record went in, one of its unique keys did not: remove what was written.
                    self.query(
                        "undoing an insert",
                        UNDO_INSERT,
                        vec![&info.cid, &checked.id, &report.unique_xids, &report.unique_keys],
                    )
                    .await?;
                }
                Err(e)
            }
        }
    }

    async fn update(&mut self, collection: &str, expected_version: u64, record: NewRecord) -> Result<u64> {
        self.writable()?;
        self.check_open()?;
        let info = self.info(collection)?;
        let checked = self.shared.options.limits.check_record(&info.def, &record)?;
        let params = UpdateParams::new(&info, expected_version, &record, &checked)?;
        self.note_written(&info, &checked);
        let rows = self.query("updating a record", UPDATE, params.params()).await?;
        let report = UpdateReport::of(&rows)?;
        let outcome = report.outcome(&info, expected_version, &record.id);
        if outcome.is_err() && !report.unique_xids.is_empty() {
            self.query("undoing an update", UNDO_UNIQUE, vec![&checked.id, &report.unique_xids, &report.unique_keys])
                .await?;
        }
        outcome
    }

    async fn delete(&mut self, collection: &str, id: &Tuple, expected_version: Option<u64>) -> Result<bool> {
        self.writable()?;
        self.check_open()?;
        let info = self.info(collection)?;
        info.def.check_key(None, id)?;
        let params = DeleteParams {
            cid: info.cid,
            id: id.encode()?,
            expected: expected_version.map(|e| i64::try_from(e).unwrap_or(i64::MAX)),
        };
        self.written.push((info.cid, params.id.clone()));
        let rows = self.query("deleting a record", DELETE, params.params()).await?;
        DeleteParams::outcome(&rows, &info, id, expected_version)
    }

    async fn delete_range(&mut self, scan: &Scan) -> Result<u64> {
        self.writable()?;
        self.check_open()?;
        let info = self.info(&scan.collection)?;
        let plan = scan.plan(&info.def, &self.shared.options.limits, false)?;
        let source = source_of(&info, scan)?;
        if plan.is_empty() {
            return Ok(0);
        }
        let sql = delete_range_sql(source);
        let owner = owner_id(&info, source);
        let rows = self.query("deleting a range", &sql, vec![&owner, &plan.lo, &plan.hi, &info.cid]).await?;
        Ok(rows.first().map_or(0, |r| version_of(r.get(0))))
    }

    async fn scan(&mut self, scan: &Scan) -> Result<Page> {
        self.check_open()?;
        let info = self.info(&scan.collection)?;
        let plan = scan.plan(&info.def, &self.shared.options.limits, true)?;
        let source = source_of(&info, scan)?;
        scan_op(self, &info, scan, &plan, source).await
    }

    async fn count(&mut self, scan: &Scan) -> Result<u64> {
        self.check_open()?;
        let info = self.info(&scan.collection)?;
        let plan = scan.plan(&info.def, &self.shared.options.limits, false)?;
        let source = source_of(&info, scan)?;
        if plan.is_empty() {
            return Ok(0);
        }
        let owner = owner_id(&info, source);
        self.note_read(&info, source, &plan);
        let rows = self.query("counting", count_sql(source), vec![&owner, &plan.lo, &plan.hi]).await?;
        Ok(rows.first().map_or(0, |r| version_of(r.get(0))))
    }

    async fn counter_add(&mut self, collection: &str, key: &Tuple, delta: i64) -> Result<()> {
        self.writable()?;
        self.check_open()?;
        let info = self.info(collection)?;
        let key = self.shared.options.limits.check_key_size(key.encode()?)?;
        self.add_deltas(vec![(info, key, delta)])
    }

    async fn counter_get(&mut self, collection: &str, key: &Tuple) -> Result<i64> {
        self.check_open()?;
        let info = self.info(collection)?;
        let key = key.encode()?;
        let pending = self.deltas.get(&(info.cid, key.clone())).map_or(0, |(d, _)| *d);
        if self.mode == TxMode::ReadWrite && !self.counters_read.iter().any(|(c, k)| *c == info.cid && *k == key) {
            self.counters_read.push((info.cid, key.clone()));
        }
        let rows = self.query("reading a counter", COUNTER_RO, vec![&info.cid, &key]).await?;
        let (sum, rows_count): (String, i64) = rows.first().map_or(("0".into(), 0), |r| (r.get(0), r.get(1)));
        let stored: i64 = sum.parse::<i128>().ok().and_then(|v| i64::try_from(v).ok()).ok_or_else(|| {
            Error::invalid(format!("{collection} counter"), format!("its value {sum} overflows a 64-bit integer"))
        })?;
        if self.mode == TxMode::ReadWrite && rows_count > FOLD_AFTER {
            // This transaction read every increment: folding them adds no dependency it does not have.
            self.query("folding a counter", COUNTER_FOLD, vec![&info.cid, &key]).await?;
        }
        stored.checked_add(pending).ok_or_else(|| overflow(collection, pending))
    }

    async fn write_batch(&mut self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>> {
        self.writable()?;
        self.check_open()?;
        let limit = self.shared.options.limits.max_batch_ops;
        if ops.len() > limit {
            return Err(Error::TooLarge { what: "batch".into(), size: ops.len() as u64, limit: limit as u64 });
        }
        let prepared = ops.into_iter().map(|op| self.prepare_op(op)).collect::<Result<Vec<_>>>()?;
        for op in &prepared {
            match op {
                Prepared::Insert(info, _, checked) | Prepared::Update(info, _, _, checked) => {
                    self.note_written(info, checked)
                }
                Prepared::Delete(info, _, key, _) => self.written.push((info.cid, key.clone())),
                Prepared::Count(..) => {}
            }
        }
        let mut merged = self.deltas.clone();
        for op in &prepared {
            if let Prepared::Count(info, key, delta) = op {
                let slot = merged.entry((info.cid, key.clone())).or_insert((0, info.def.name.clone()));
                slot.0 = slot.0.checked_add(*delta).ok_or_else(|| overflow(&info.def.name, *delta))?;
            }
        }
        let writes = prepared.iter().any(|op| !matches!(op, Prepared::Count(..)));
        let outcomes =
            if writes { self.apply_batch(&prepared).await? } else { vec![WriteOutcome::Counted; prepared.len()] };
        self.deltas = merged;
        Ok(outcomes)
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.check_open()?;
        if self.mode == TxMode::ReadOnly {
            // Nothing to make durable: the transaction ends off the caller's path.
            if let Some(mut conn) = self.conn.take()
                && self.begun
            {
                conn.end = Some("COMMIT");
            }
            self.begun = false;
            return Ok(());
        }
        let result = self.finish().await;
        self.begun = false;
        // Returned to the pool (or discarded) when dropped.
        self.conn.take();
        result
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        match self.conn.take() {
            None => Err(Error::TransactionFinished),
            Some(mut conn) => {
                if self.begun {
                    conn.end = Some("ROLLBACK");
                }
                self.begun = false;
                Ok(())
            }
        }
    }
}

async fn scan_op(
    tx: &mut PgTransaction,
    info: &CollectionInfo,
    scan: &Scan,
    plan: &ScanPlan,
    source: Source,
) -> Result<Page> {
    if plan.is_empty() {
        return Ok(Page { entries: Vec::new(), next: None });
    }
    let sql = scan_sql(source, plan.direction, plan.resume.is_some(), !scan.index_only);
    tx.note_read(info, source, plan);
    let owner = owner_id(info, source);
    let limit = scan.limit as i64 + 1;
    let (rk, ri) = plan.resume.clone().unwrap_or_default();
    let mut params: Params<'_> = vec![&owner, &plan.lo, &plan.hi, &limit, &info.cid];
    if plan.resume.is_some() {
        params.push(&rk);
        params.push(&ri);
    }
    let rows = tx.query("scanning", &sql, params).await?;
    let mut entries = Vec::with_capacity(rows.len().min(scan.limit));
    let mut last: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut more = false;
    for row in &rows {
        if entries.len() == scan.limit {
            more = true;
            break;
        }
        let (key_bytes, id_bytes, rest): (Vec<u8>, Vec<u8>, usize) = match source {
            Source::Primary => {
                let id: Vec<u8> = row.get(0);
                (id.clone(), id, 1)
            }
            Source::Entries(_) => (row.get(0), row.get(1), 2),
        };
        let id = Tuple::decode(&id_bytes)?;
        let key = if source == Source::Primary { id.clone() } else { Tuple::decode(&key_bytes)? };
        let record = if scan.index_only { None } else { Some(record_of(id.clone(), row, rest)?) };
        entries.push(ScanEntry { key, id, record });
        last = Some((key_bytes, id_bytes));
    }
    let next = match (more, last) {
        (true, Some((k, i))) => Some(Cursor::after_entry(scan, &k, &i)),
        _ => None,
    };
    Ok(Page { entries, next })
}
