//! The storage port: a transactional store of typed collections with declared secondary indexes.
//!
//! Adapters (memory, SQLite, PostgreSQL, or a third party's) implement [`Store`] and [`Transaction`];
//! modules use them through the typed layer ([`super::typed`]) and never see an adapter's types.
//!
//! # Contract
//!
//! - **Isolation** is serializable: the result of concurrent transactions equals some serial order of the
//!   ones that committed. A transaction that would break that fails, at an operation or at commit, with a
//!   retryable [`Error::Conflict`]; [`super::retry`] runs a closure again on such errors.
//! - **A failed operation has no effect**: an insert that hits a duplicate key, an update with a stale
//!   version, a record over the size limit, a key of the wrong type... return their typed error and leave
//!   the transaction as it was before the call, still usable. A failed [`Transaction::write_batch`] applies
//!   none of its operations. A failed commit applies nothing.
//! - **Nothing is visible outside a transaction before it commits**, and a transaction dropped without
//!   commit is rolled back.
//! - **Counters** ([`Transaction::counter_add`]) are blind increments that never conflict with each other;
//!   a transaction that *reads* a counter conflicts with concurrent increments of it.
//! - **Versions**: a record's version is 1 after insert and grows by one at each update.
//! - **Scans** return entries in key order (then record id order, for non-unique index keys), with a
//!   cursor that resumes strictly after the last entry returned, whatever was inserted or deleted since.

use std::fmt::Debug;
use std::ops::Bound;

use async_trait::async_trait;
use serde_json::value::RawValue;

use super::key::{AFTER_ALL_EXTENSIONS, Tuple};
use super::schema::{CollectionDef, DeclareReport, PRIMARY};
use crate::{Error, Result};

/// A stored record as the port carries it: JSON text plus its envelope.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// The primary key.
    pub id: Tuple,
    /// 1 after insert, +1 at each update.
    pub version: u64,
    /// The owner's schema version of `data` when it was written.
    pub schema_version: u32,
    /// The record, as JSON.
    pub data: Box<RawValue>,
}

impl PartialEq for RawRecord {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.version == other.version
            && self.schema_version == other.schema_version
            && self.data.get() == other.data.get()
    }
}

/// A record to write, with the index entries its owner extracted from it.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// The primary key.
    pub id: Tuple,
    /// The owner's schema version of `data`.
    pub schema_version: u32,
    /// The record, as JSON.
    pub data: Box<RawValue>,
    /// Index entries: zero, one or several per index. Identical entries count once.
    pub index_entries: Vec<IndexEntry>,
}

impl NewRecord {
    /// A record with no index entry yet.
    pub fn new(id: impl Into<Tuple>, schema_version: u32, data: Box<RawValue>) -> Self {
        NewRecord { id: id.into(), schema_version, data, index_entries: Vec::new() }
    }

    /// Builds a record from a serializable value.
    pub fn from_value<T: serde::Serialize + ?Sized>(
        id: impl Into<Tuple>,
        schema_version: u32,
        value: &T,
    ) -> Result<Self> {
        let data = serde_json::value::to_raw_value(value).map_err(|e| Error::serialization("record", e))?;
        Ok(NewRecord::new(id, schema_version, data))
    }

    /// Adds an index entry.
    pub fn with_entry(mut self, index: impl Into<String>, key: impl Into<Tuple>) -> Self {
        self.index_entries.push(IndexEntry { index: index.into(), key: key.into() });
        self
    }
}

/// One entry of a secondary index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    /// The index name.
    pub index: String,
    /// The key, with exactly the index's fields.
    pub key: Tuple,
}

/// Read-write or read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxMode {
    /// May write.
    ReadWrite,
    /// Refuses every write with [`Error::ReadOnly`]; never conflicts; a replica may serve it.
    ReadOnly,
}

/// Scan direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Ascending key order.
    #[default]
    Forward,
    /// Descending key order.
    Backward,
}

/// A range scan over the primary key or a secondary index.
///
/// The scanned keys are those that start with `prefix`, then lie between `start` and `end`, bounds that are
/// tuples appended to the prefix. A bound tuple *covers* every key that starts with it: `Included(t)` as a
/// start begins at the first key covered by `t`, `Excluded(t)` just after the last one; `Included(t)` as an
/// end stops after the last key covered by `t`, `Excluded(t)` before the first.
///
/// ```
/// use std::ops::Bound;
/// use ent_core::storage::Scan;
/// // The 20 most recent messages of a mailbox folder, newest first.
/// let scan = Scan::index("messagerie.entries", "by_folder")
///     .prefix(("inbox",))
///     .backward()
///     .limit(20);
/// assert_eq!(scan.limit, 20);
/// // Evaluations of a class between two dates, end excluded.
/// let from: chrono::DateTime<chrono::Utc> = "2026-09-01T00:00:00Z".parse().unwrap();
/// let to: chrono::DateTime<chrono::Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
/// let scan = Scan::index("notes.evaluations", "by_class")
///     .prefix(("3A",))
///     .range(Bound::Included((from,).into()), Bound::Excluded((to,).into()));
/// # let _ = scan;
/// ```
#[derive(Debug, Clone)]
pub struct Scan {
    /// The collection.
    pub collection: String,
    /// The index, or `None` for the primary key.
    pub index: Option<String>,
    /// Every scanned key starts with this.
    pub prefix: Tuple,
    /// Lower bound after the prefix.
    pub start: Bound<Tuple>,
    /// Upper bound after the prefix.
    pub end: Bound<Tuple>,
    /// Order of the entries.
    pub direction: Direction,
    /// How many entries at most (1 to [`Limits::max_scan_limit`]); [`Transaction::count`] and
    /// [`Transaction::delete_range`] ignore it.
    pub limit: usize,
    /// Resume after the last entry of a previous page of the same scan.
    pub cursor: Option<Cursor>,
    /// Return the keys and ids without loading the records.
    pub index_only: bool,
    /// Keep only keys whose element right after the prefix is a string starting with this text (name
    /// search, autocompletion). Cannot be combined with `start` or `end`.
    pub text_prefix: Option<String>,
}

impl Scan {
    /// Default page size.
    pub const DEFAULT_LIMIT: usize = 100;

    /// A scan of the collection in primary key order.
    pub fn primary(collection: impl Into<String>) -> Self {
        Scan {
            collection: collection.into(),
            index: None,
            prefix: Tuple::empty(),
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            direction: Direction::Forward,
            limit: Self::DEFAULT_LIMIT,
            cursor: None,
            index_only: false,
            text_prefix: None,
        }
    }

    /// A scan of a secondary index.
    pub fn index(collection: impl Into<String>, index: impl Into<String>) -> Self {
        Scan { index: Some(index.into()), ..Scan::primary(collection) }
    }

    /// Sets the prefix.
    pub fn prefix(mut self, prefix: impl Into<Tuple>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the bounds after the prefix.
    pub fn range(mut self, start: Bound<Tuple>, end: Bound<Tuple>) -> Self {
        self.start = start;
        self.end = end;
        self
    }

    /// Descending order.
    pub fn backward(mut self) -> Self {
        self.direction = Direction::Backward;
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Resumes after a previous page.
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }

    /// Keeps the keys whose element after the prefix is a string starting with `text`.
    ///
    /// ```
    /// use ent_core::storage::Scan;
    /// // Everyone in a structure with a name token starting with "pi" ("pierre", "pia"...).
    /// let structure = uuid::Uuid::now_v7();
    /// let scan = Scan::index("ent.users", "by_name_token").prefix((structure,)).starting_with("pi");
    /// # let _ = scan;
    /// ```
    pub fn starting_with(mut self, text: impl Into<String>) -> Self {
        self.text_prefix = Some(text.into());
        self
    }

    /// Returns keys and ids only.
    pub fn keys_only(mut self) -> Self {
        self.index_only = true;
        self
    }

    /// The index name for messages (`primary` for the primary key).
    pub fn index_name(&self) -> &str {
        self.index.as_deref().unwrap_or(PRIMARY)
    }

    /// Validates the scan against its collection and computes the byte range every adapter scans: the
    /// shared logic of all adapters, so that they agree to the byte.
    pub fn plan(&self, def: &CollectionDef, limits: &Limits, paged: bool) -> Result<ScanPlan> {
        let index = self.index.as_deref();
        def.check_prefix(index, &self.prefix, 0)?;
        let bound_tuple = |b: &Bound<Tuple>| match b {
            Bound::Included(t) | Bound::Excluded(t) => Some(t.clone()),
            Bound::Unbounded => None,
        };
        for t in [bound_tuple(&self.start), bound_tuple(&self.end)].into_iter().flatten() {
            def.check_prefix(index, &t, self.prefix.len())?;
        }
        if paged && (self.limit == 0 || self.limit > limits.max_scan_limit) {
            return Err(Error::invalid(
                "scan.limit",
                format!("must be between 1 and {}, {} given", limits.max_scan_limit, self.limit),
            ));
        }
        let prefix = self.prefix.encode()?;
        let with = |t: &Tuple| -> Result<Vec<u8>> {
            let mut v = prefix.clone();
            v.extend_from_slice(&t.encode()?);
            Ok(v)
        };
        let after_all = |mut v: Vec<u8>| {
            v.push(AFTER_ALL_EXTENSIONS);
            v
        };
        if let Some(text) = &self.text_prefix {
            if !matches!((&self.start, &self.end), (Bound::Unbounded, Bound::Unbounded)) {
                return Err(Error::invalid("scan.text_prefix", "cannot be combined with a start or end bound"));
            }
            def.check_prefix(index, &Tuple::from((text.as_str(),)), self.prefix.len())?;
            // The encoding of a string starting with `text` is the encoding of `text` without its terminator,
            // followed by more bytes, none of them 0xFF (UTF-8 never has it; escapes put it after a 0).
            let mut lo = prefix.clone();
            lo.extend_from_slice(&Tuple::from((text.as_str(),)).encode()?);
            lo.pop();
            let hi = after_all(lo.clone());
            let resume = match (&self.cursor, paged) {
                (Some(cursor), true) => Some(cursor.decode_for(self)?),
                _ => None,
            };
            return Ok(ScanPlan { lo, hi, resume, direction: self.direction });
        }
        let lo = match &self.start {
            Bound::Unbounded => prefix.clone(),
            Bound::Included(t) => with(t)?,
            Bound::Excluded(t) => after_all(with(t)?),
        };
        let hi = match &self.end {
            Bound::Unbounded => after_all(prefix.clone()),
            Bound::Included(t) => after_all(with(t)?),
            Bound::Excluded(t) => with(t)?,
        };
        let resume = match (&self.cursor, paged) {
            (Some(cursor), true) => Some(cursor.decode_for(self)?),
            _ => None,
        };
        Ok(ScanPlan { lo, hi, resume, direction: self.direction })
    }
}

/// The byte range of a scan, computed by [`Scan::plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPlan {
    /// Inclusive lower bound of the encoded key.
    pub lo: Vec<u8>,
    /// Exclusive upper bound of the encoded key.
    pub hi: Vec<u8>,
    /// Where a cursor resumes: the `(key, id)` of the last entry returned; the scan continues strictly after
    /// it in its direction (comparing the key, then the id).
    pub resume: Option<(Vec<u8>, Vec<u8>)>,
    /// The direction.
    pub direction: Direction,
}

impl ScanPlan {
    /// Whether an entry lies in the range and after the resume point.
    pub fn admits(&self, key: &[u8], id: &[u8]) -> bool {
        if key < self.lo.as_slice() || key >= self.hi.as_slice() {
            return false;
        }
        match (&self.resume, self.direction) {
            (None, _) => true,
            (Some((k, i)), Direction::Forward) => (key, id) > (k.as_slice(), i.as_slice()),
            (Some((k, i)), Direction::Backward) => (key, id) < (k.as_slice(), i.as_slice()),
        }
    }

    /// Whether the range is empty (lower bound not below upper bound).
    pub fn is_empty(&self) -> bool {
        self.lo >= self.hi
    }
}

/// An opaque position in a scan: pass it back in [`Scan::cursor`] to get the next page. It names its
/// collection, index and direction, and is refused by any other scan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

const CURSOR_FORMAT: u8 = 1;

impl Cursor {
    /// The cursor after the entry `(key, id)` (both encoded) of `scan`.
    pub fn after_entry(scan: &Scan, key: &[u8], id: &[u8]) -> Cursor {
        let mut out = vec![CURSOR_FORMAT, matches!(scan.direction, Direction::Backward) as u8];
        for part in [scan.collection.as_bytes(), scan.index_name().as_bytes(), key] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
        out.extend_from_slice(id);
        Cursor(hex::encode(out))
    }

    /// The cursor as text (URL-safe).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A cursor from text received from a client. It is only checked when used.
    pub fn from_string(s: impl Into<String>) -> Cursor {
        Cursor(s.into())
    }

    fn decode_for(&self, scan: &Scan) -> Result<(Vec<u8>, Vec<u8>)> {
        let bad = |reason: &str| Error::InvalidCursor { reason: reason.to_owned() };
        let bytes = hex::decode(&self.0).map_err(|_| bad("not a cursor"))?;
        let (head, mut rest) = bytes.split_at_checked(2).ok_or_else(|| bad("truncated"))?;
        if head[0] != CURSOR_FORMAT {
            return Err(bad("unknown cursor format"));
        }
        let mut parts = Vec::with_capacity(3);
        for _ in 0..3 {
            let (len, tail) = rest.split_at_checked(4).ok_or_else(|| bad("truncated"))?;
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let (part, tail) = tail.split_at_checked(len).ok_or_else(|| bad("truncated"))?;
            parts.push(part);
            rest = tail;
        }
        if parts[0] != scan.collection.as_bytes() || parts[1] != scan.index_name().as_bytes() {
            return Err(bad(&format!(
                "this cursor belongs to {}.{}, not to {}.{}",
                String::from_utf8_lossy(parts[0]),
                String::from_utf8_lossy(parts[1]),
                scan.collection,
                scan.index_name()
            )));
        }
        if head[1] != matches!(scan.direction, Direction::Backward) as u8 {
            return Err(bad("this cursor belongs to a scan in the other direction"));
        }
        Tuple::decode(parts[2]).map_err(|_| bad("corrupted key"))?;
        Tuple::decode(rest).map_err(|_| bad("corrupted id"))?;
        Ok((parts[2].to_vec(), rest.to_vec()))
    }
}

/// One entry of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanEntry {
    /// The index key (for a primary scan, the record id).
    pub key: Tuple,
    /// The record id.
    pub id: Tuple,
    /// The record, unless the scan was index-only.
    pub record: Option<RawRecord>,
}

/// A page of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The entries, in scan order.
    pub entries: Vec<ScanEntry>,
    /// Where the next page starts: `Some` exactly when more entries existed when the page was read.
    pub next: Option<Cursor>,
}

/// One operation of a [`Transaction::write_batch`].
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// [`Transaction::insert`].
    Insert {
        /// The collection.
        collection: String,
        /// The record.
        record: NewRecord,
    },
    /// [`Transaction::update`].
    Update {
        /// The collection.
        collection: String,
        /// The version the caller read.
        expected_version: u64,
        /// The new content (its id names the record).
        record: NewRecord,
    },
    /// [`Transaction::delete`].
    Delete {
        /// The collection.
        collection: String,
        /// The record id.
        id: Tuple,
        /// The version the caller read, if the delete must be conditional.
        expected_version: Option<u64>,
    },
    /// [`Transaction::counter_add`].
    CounterAdd {
        /// The collection that owns the counter.
        collection: String,
        /// The counter's key.
        key: Tuple,
        /// The increment (negative to decrement).
        delta: i64,
    },
}

/// What one [`WriteOp`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The record's new version.
    Written {
        /// The version.
        version: u64,
    },
    /// A delete: whether the record existed.
    Deleted {
        /// Whether it existed.
        existed: bool,
    },
    /// A counter increment.
    Counted,
}

/// Limits an adapter enforces; every adapter starts from [`Limits::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest record (its JSON text), in bytes.
    pub max_record_bytes: usize,
    /// Largest encoded key (primary or index), in bytes.
    pub max_key_bytes: usize,
    /// Largest page of a scan.
    pub max_scan_limit: usize,
    /// Most operations in one [`Transaction::write_batch`].
    pub max_batch_ops: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_record_bytes: 1 << 20, max_key_bytes: 1024, max_scan_limit: 10_000, max_batch_ops: 100_000 }
    }
}

impl Limits {
    /// Checks the sizes of a record to write; returns the encoded id and index keys.
    pub fn check_record(&self, def: &CollectionDef, record: &NewRecord) -> Result<CheckedRecord> {
        def.check_key(None, &record.id)?;
        let size = record.data.get().len();
        if size > self.max_record_bytes {
            return Err(Error::TooLarge {
                what: "record".into(),
                size: size as u64,
                limit: self.max_record_bytes as u64,
            });
        }
        let id = self.check_key_size(record.id.encode()?)?;
        let mut entries: Vec<(String, Vec<u8>)> = Vec::with_capacity(record.index_entries.len());
        for entry in &record.index_entries {
            def.check_key(Some(&entry.index), &entry.key)?;
            let key = self.check_key_size(entry.key.encode()?)?;
            if !entries.iter().any(|(i, k)| *i == entry.index && *k == key) {
                entries.push((entry.index.clone(), key));
            }
        }
        Ok(CheckedRecord { id, entries })
    }

    /// Checks an encoded key's size.
    pub fn check_key_size(&self, key: Vec<u8>) -> Result<Vec<u8>> {
        if key.len() > self.max_key_bytes {
            return Err(Error::TooLarge {
                what: "key".into(),
                size: key.len() as u64,
                limit: self.max_key_bytes as u64,
            });
        }
        Ok(key)
    }
}

/// A record whose keys were checked and encoded by [`Limits::check_record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRecord {
    /// The encoded primary key.
    pub id: Vec<u8>,
    /// `(index, encoded key)`, without duplicates.
    pub entries: Vec<(String, Vec<u8>)>,
}

/// A store: the entry point of an adapter.
#[async_trait]
pub trait Store: Send + Sync + Debug + 'static {
    /// The adapter's name (`memory`, `sqlite`, `postgres`...), for messages.
    fn adapter(&self) -> &'static str;

    /// The limits this store enforces.
    fn limits(&self) -> &Limits;

    /// Creates or updates collections (idempotent). See [`super::schema::diff_declaration`] for what may
    /// change.
    async fn declare(&self, collections: &[CollectionDef]) -> Result<DeclareReport>;

    /// The collections the store holds.
    async fn collections(&self) -> Result<Vec<CollectionDef>>;

    /// Starts a transaction.
    async fn begin(&self, mode: TxMode) -> Result<Box<dyn Transaction>>;
}

/// A transaction. Dropping it without [`Transaction::commit`] rolls it back.
#[async_trait]
pub trait Transaction: Send {
    /// Read-write or read-only.
    fn mode(&self) -> TxMode;

    /// Reads a record.
    async fn get(&mut self, collection: &str, id: &Tuple) -> Result<Option<RawRecord>>;

    /// Reads several records in one call, in the order of `ids`.
    async fn get_many(&mut self, collection: &str, ids: &[Tuple]) -> Result<Vec<Option<RawRecord>>>;

    /// Inserts a record. [`Error::Duplicate`] if the id or a unique index key is taken. Returns the version
    /// (1).
    async fn insert(&mut self, collection: &str, record: NewRecord) -> Result<u64>;

    /// Replaces a record if its version is still `expected_version` ([`Error::Conflict`] otherwise,
    /// [`Error::NotFound`] if it is gone). Its index entries are replaced by the new ones. Returns the new
    /// version.
    async fn update(&mut self, collection: &str, expected_version: u64, record: NewRecord) -> Result<u64>;

    /// Deletes a record and its index entries. With `expected_version`, only at that version
    /// ([`Error::Conflict`] otherwise, [`Error::NotFound`] if absent). Returns whether it existed.
    async fn delete(&mut self, collection: &str, id: &Tuple, expected_version: Option<u64>) -> Result<bool>;

    /// Deletes every record whose key (primary or index) lies in the scan's range. Returns how many.
    async fn delete_range(&mut self, scan: &Scan) -> Result<u64>;

    /// A page of a scan.
    async fn scan(&mut self, scan: &Scan) -> Result<Page>;

    /// How many entries lie in the scan's range (its limit and cursor are ignored).
    async fn count(&mut self, scan: &Scan) -> Result<u64>;

    /// Adds `delta` to a counter of the collection (a missing counter is 0). Never conflicts with other
    /// increments.
    async fn counter_add(&mut self, collection: &str, key: &Tuple, delta: i64) -> Result<()>;

    /// Reads a counter (0 if never written), including this transaction's own increments.
    async fn counter_get(&mut self, collection: &str, key: &Tuple) -> Result<i64>;

    /// Applies operations in one call (one round trip on a networked adapter), all or nothing.
    async fn write_batch(&mut self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>>;

    /// Commits. On error nothing was applied; a retryable error means the transaction may be run again.
    async fn commit(self: Box<Self>) -> Result<()>;

    /// Rolls back explicitly.
    async fn rollback(self: Box<Self>) -> Result<()>;
}
