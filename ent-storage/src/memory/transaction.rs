//! A memory transaction: a private copy-on-write view of the committed state, the list of what it read,
//! and what it wrote.

use std::sync::Arc;

use async_trait::async_trait;
use ent_core::storage::{
    CheckedRecord, CollectionDef, Direction, Limits, NewRecord, Page, RawRecord, Scan, ScanEntry, Transaction, Tuple,
    TxMode, WriteOp, WriteOutcome, port::Cursor,
};
use ent_core::{Error, Result};

use super::keyspace::{self, Map, StoredRecord, Val};
use super::store::{Catalog, MemoryStore};

pub(crate) struct MemoryTransaction {
    store: MemoryStore,
    mode: TxMode,
    snapshot: u64,
    catalog: Catalog,
    limits: Arc<Limits>,
    state: State,
    /// Ranges read, `[lo, hi)`, validated at commit.
    reads: Vec<(Vec<u8>, Vec<u8>)>,
    finished: bool,
}

/// What a failed operation must leave untouched: all O(1) to clone (persistent maps).
#[derive(Clone)]
struct State {
    /// The committed state at begin, with this transaction's record and index writes applied.
    working: Map,
    /// Keys this transaction wrote (records and index entries).
    dirty: imbl::OrdSet<Vec<u8>>,
    /// Counter increments, applied at commit to whatever is committed then.
    deltas: imbl::OrdMap<Vec<u8>, i64>,
}

impl MemoryTransaction {
    pub(crate) fn new(
        store: MemoryStore,
        mode: TxMode,
        snapshot: u64,
        working: Map,
        catalog: Catalog,
        limits: Arc<Limits>,
    ) -> Self {
        MemoryTransaction {
            store,
            mode,
            snapshot,
            catalog,
            limits,
            state: State { working, dirty: imbl::OrdSet::new(), deltas: imbl::OrdMap::new() },
            reads: Vec::new(),
            finished: false,
        }
    }

    fn live(&self) -> Result<()> {
        if self.finished { Err(Error::TransactionFinished) } else { Ok(()) }
    }

    fn writable(&self) -> Result<()> {
        self.live()?;
        match self.mode {
            TxMode::ReadWrite => Ok(()),
            TxMode::ReadOnly => Err(Error::ReadOnly),
        }
    }

    fn def(&self, collection: &str) -> Result<Arc<CollectionDef>> {
        self.catalog
            .get(collection)
            .cloned()
            .ok_or_else(|| Error::UnknownCollection { collection: collection.to_owned() })
    }

    fn read_point(&mut self, key: &[u8]) {
        if self.mode == TxMode::ReadWrite {
            self.reads.push((key.to_vec(), keyspace::point_end(key)));
        }
    }

    fn read_range(&mut self, lo: Vec<u8>, hi: Vec<u8>) {
        if self.mode == TxMode::ReadWrite && lo < hi {
            self.reads.push((lo, hi));
        }
    }

    fn put(&mut self, key: Vec<u8>, val: Val) {
        self.state.dirty.insert(key.clone());
        self.state.working.insert(key, val);
    }

    fn remove(&mut self, key: Vec<u8>) {
        self.state.working.remove(&key);
        self.state.dirty.insert(key);
    }

    fn stored(&mut self, collection: &str, id: &[u8]) -> Option<Arc<StoredRecord>> {
        let key = keyspace::join(&keyspace::records(collection), &[id]);
        self.read_point(&key);
        match self.state.working.get(&key) {
            Some(Val::Record(r)) => Some(r.clone()),
            _ => None,
        }
    }

    fn raw(id: Tuple, r: &StoredRecord) -> RawRecord {
        RawRecord { id, version: r.version, schema_version: r.schema_version, data: r.data.clone() }
    }

    /// Runs `f`; if it fails, puts the state back as it was (a failed operation has no effect).
    fn atomically<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let saved = self.state.clone();
        let result = f(self);
        if result.is_err() {
            self.state = saved;
        }
        result
    }

    /// Checks that no other record holds a unique key this record wants.
    fn check_unique(&mut self, def: &CollectionDef, id: &[u8], checked: &CheckedRecord) -> Result<()> {
        for (index, key) in &checked.entries {
            if !def.find_index(index)?.unique {
                continue;
            }
            let prefix = keyspace::join(&keyspace::index(&def.name, index), &[key]);
            let mut end = prefix.clone();
            end.push(ent_core::storage::key::AFTER_ALL_EXTENSIONS);
            self.read_range(prefix.clone(), end.clone());
            let taken = self.state.working.range(prefix.clone()..end).any(|(k, _)| &k[prefix.len()..] != id);
            if taken {
                return Err(Error::Duplicate {
                    collection: def.name.clone(),
                    index: index.clone(),
                    key: Tuple::decode(key).map(|t| t.to_string()).unwrap_or_default(),
                });
            }
        }
        Ok(())
    }

    fn write_entries(&mut self, collection: &str, id: &[u8], entries: &[(String, Vec<u8>)]) {
        for (index, key) in entries {
            let k = keyspace::join(&keyspace::index(collection, index), &[key, id]);
            self.put(k, Val::Entry { key_len: key.len() });
        }
    }

    fn remove_entries(&mut self, collection: &str, id: &[u8], entries: &[(String, Vec<u8>)]) {
        for (index, key) in entries {
            self.remove(keyspace::join(&keyspace::index(collection, index), &[key, id]));
        }
    }

    fn do_insert(&mut self, collection: &str, record: NewRecord) -> Result<u64> {
        let def = self.def(collection)?;
        let checked = self.limits.check_record(&def, &record)?;
        if self.stored(collection, &checked.id).is_some() {
            return Err(Error::Duplicate {
                collection: collection.to_owned(),
                index: ent_core::storage::PRIMARY.to_owned(),
                key: record.id.to_string(),
            });
        }
        self.check_unique(&def, &checked.id, &checked)?;
        self.write_entries(collection, &checked.id, &checked.entries);
        let stored = StoredRecord {
            version: 1,
            schema_version: record.schema_version,
            data: record.data,
            entries: checked.entries,
        };
        self.put(keyspace::join(&keyspace::records(collection), &[&checked.id]), Val::Record(Arc::new(stored)));
        Ok(1)
    }

    fn do_update(&mut self, collection: &str, expected: u64, record: NewRecord) -> Result<u64> {
        let def = self.def(collection)?;
        let checked = self.limits.check_record(&def, &record)?;
        let Some(old) = self.stored(collection, &checked.id) else {
            return Err(Error::not_found(collection, &record.id));
        };
        if old.version != expected {
            return Err(Error::Conflict {
                what: format!("{collection} {}", record.id),
                expected: Some(expected),
                found: Some(old.version),
                retryable: false,
            });
        }
        self.remove_entries(collection, &checked.id, &old.entries);
        self.check_unique(&def, &checked.id, &checked)?;
        self.write_entries(collection, &checked.id, &checked.entries);
        let version = old.version + 1;
        let stored = StoredRecord {
            version,
            schema_version: record.schema_version,
            data: record.data,
            entries: checked.entries,
        };
        self.put(keyspace::join(&keyspace::records(collection), &[&checked.id]), Val::Record(Arc::new(stored)));
        Ok(version)
    }

    fn do_delete(&mut self, collection: &str, id: &Tuple, expected: Option<u64>) -> Result<bool> {
        let def = self.def(collection)?;
        def.check_key(None, id)?;
        let id_bytes = id.encode()?;
        let Some(old) = self.stored(collection, &id_bytes) else {
            return match expected {
                Some(_) => Err(Error::not_found(collection, id)),
                None => Ok(false),
            };
        };
        if let Some(expected) = expected
            && old.version != expected
        {
            return Err(Error::Conflict {
                what: format!("{collection} {id}"),
                expected: Some(expected),
                found: Some(old.version),
                retryable: false,
            });
        }
        self.remove_entries(collection, &id_bytes, &old.entries);
        self.remove(keyspace::join(&keyspace::records(collection), &[&id_bytes]));
        Ok(true)
    }

    fn counter_key(&self, collection: &str, key: &Tuple) -> Result<Vec<u8>> {
        self.def(collection)?;
        let key = self.limits.check_key_size(key.encode()?)?;
        Ok(keyspace::join(&keyspace::counters(collection), &[&key]))
    }

    fn do_counter_add(&mut self, collection: &str, key: &Tuple, delta: i64) -> Result<()> {
        let k = self.counter_key(collection, key)?;
        let current = self.state.deltas.get(&k).copied().unwrap_or(0);
        let sum = current
            .checked_add(delta)
            .ok_or_else(|| Error::invalid("counter", format!("increment {delta} overflows a 64-bit counter")))?;
        self.state.deltas.insert(k, sum);
        Ok(())
    }

    /// The entries of a scan's range, in order, after its cursor; at most `limit` when given.
    /// Returns `(map key, value, suffix offset)` and records the observed range as read.
    fn collect(&mut self, scan: &Scan, limit: Option<usize>) -> Result<Vec<(Vec<u8>, Val, usize)>> {
        let def = self.def(&scan.collection)?;
        let plan = scan.plan(&def, &self.limits, limit.is_some())?;
        let space = match &scan.index {
            None => keyspace::records(&scan.collection),
            Some(index) => keyspace::index(&scan.collection, index),
        };
        if plan.is_empty() {
            return Ok(Vec::new());
        }
        let lo = keyspace::join(&space, &[&plan.lo]);
        let hi = keyspace::join(&space, &[&plan.hi]);
        // Entries are stored as `space ++ key ++ id`: the resume point is that concatenation too.
        // (A primary scan's key is the id itself: its entries are `space ++ id`.)
        let resume = plan.resume.as_ref().map(|(k, i)| match scan.index {
            Some(_) => keyspace::join(&space, &[k, i]),
            None => keyspace::join(&space, &[k]),
        });
        let n = space.len();
        let mut out = Vec::new();
        let take = limit.map_or(usize::MAX, |l| l + 1);
        match plan.direction {
            Direction::Forward => {
                let start = match &resume {
                    Some(r) if *r >= lo => keyspace::point_end(r),
                    _ => lo.clone(),
                };
                if start < hi {
                    for (k, v) in self.state.working.range(start..hi.clone()).take(take) {
                        out.push((k.clone(), v.clone(), n));
                    }
                }
                let observed_hi = match (limit, out.last()) {
                    (Some(l), Some((k, _, _))) if out.len() > l => keyspace::point_end(k),
                    _ => hi,
                };
                self.read_range(lo, observed_hi);
            }
            Direction::Backward => {
                let end = match &resume {
                    Some(r) if *r < hi => r.clone(),
                    _ => hi.clone(),
                };
                if lo < end {
                    for (k, v) in self.state.working.range(lo.clone()..end).rev().take(take) {
                        out.push((k.clone(), v.clone(), n));
                    }
                }
                let observed_lo = match (limit, out.last()) {
                    (Some(l), Some((k, _, _))) if out.len() > l => k.clone(),
                    _ => lo,
                };
                self.read_range(observed_lo, hi);
            }
        }
        Ok(out)
    }

    fn do_scan(&mut self, scan: &Scan) -> Result<Page> {
        let mut found = self.collect(scan, Some(scan.limit))?;
        let more = found.len() > scan.limit;
        found.truncate(scan.limit);
        let mut entries = Vec::with_capacity(found.len());
        let mut last = None;
        for (k, v, n) in found {
            let suffix = &k[n..];
            let (key, id) = match &v {
                Val::Entry { key_len } => (&suffix[..*key_len], &suffix[*key_len..]),
                _ => (suffix, suffix),
            };
            let record = match (&v, scan.index_only) {
                (_, true) => None,
                (Val::Record(r), false) => Some(Self::raw(Tuple::decode(id)?, r)),
                (_, false) => {
                    let r = self.stored(&scan.collection, id).ok_or_else(|| {
                        Error::storage("memory", format!("index entry without record in {}", scan.collection), false)
                    })?;
                    Some(Self::raw(Tuple::decode(id)?, &r))
                }
            };
            entries.push(ScanEntry { key: Tuple::decode(key)?, id: Tuple::decode(id)?, record });
            last = Some((key.to_vec(), id.to_vec()));
        }
        let next = match (more, last) {
            (true, Some((k, i))) => Some(Cursor::after_entry(scan, &k, &i)),
            _ => None,
        };
        Ok(Page { entries, next })
    }

    fn apply(&mut self, op: WriteOp) -> Result<WriteOutcome> {
        match op {
            WriteOp::Insert { collection, record } => {
                self.do_insert(&collection, record).map(|version| WriteOutcome::Written { version })
            }
            WriteOp::Update { collection, expected_version, record } => {
                self.do_update(&collection, expected_version, record).map(|version| WriteOutcome::Written { version })
            }
            WriteOp::Delete { collection, id, expected_version } => {
                self.do_delete(&collection, &id, expected_version).map(|existed| WriteOutcome::Deleted { existed })
            }
            WriteOp::CounterAdd { collection, key, delta } => {
                self.do_counter_add(&collection, &key, delta).map(|()| WriteOutcome::Counted)
            }
        }
    }

    fn end(&mut self) {
        if !self.finished {
            self.finished = true;
            self.store.lock().close(self.snapshot);
        }
    }
}

impl Drop for MemoryTransaction {
    fn drop(&mut self) {
        self.end();
    }
}

#[async_trait]
impl Transaction for MemoryTransaction {
    fn mode(&self) -> TxMode {
        self.mode
    }

    async fn get(&mut self, collection: &str, id: &Tuple) -> Result<Option<RawRecord>> {
        self.live()?;
        let def = self.def(collection)?;
        def.check_key(None, id)?;
        let id_bytes = id.encode()?;
        Ok(self.stored(collection, &id_bytes).map(|r| Self::raw(id.clone(), &r)))
    }

    async fn get_many(&mut self, collection: &str, ids: &[Tuple]) -> Result<Vec<Option<RawRecord>>> {
        self.live()?;
        let def = self.def(collection)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            def.check_key(None, id)?;
            let id_bytes = id.encode()?;
            out.push(self.stored(collection, &id_bytes).map(|r| Self::raw(id.clone(), &r)));
        }
        Ok(out)
    }

    async fn insert(&mut self, collection: &str, record: NewRecord) -> Result<u64> {
        self.writable()?;
        self.atomically(|tx| tx.do_insert(collection, record))
    }

    async fn update(&mut self, collection: &str, expected_version: u64, record: NewRecord) -> Result<u64> {
        self.writable()?;
        self.atomically(|tx| tx.do_update(collection, expected_version, record))
    }

    async fn delete(&mut self, collection: &str, id: &Tuple, expected_version: Option<u64>) -> Result<bool> {
        self.writable()?;
        self.atomically(|tx| tx.do_delete(collection, id, expected_version))
    }

    async fn delete_range(&mut self, scan: &Scan) -> Result<u64> {
        self.writable()?;
        self.atomically(|tx| {
            let found = tx.collect(scan, None)?;
            let mut ids: Vec<Vec<u8>> = found
                .into_iter()
                .map(|(k, v, n)| match v {
                    Val::Entry { key_len } => k[n + key_len..].to_vec(),
                    _ => k[n..].to_vec(),
                })
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let mut count = 0;
            for id in ids {
                if tx.do_delete(&scan.collection, &Tuple::decode(&id)?, None)? {
                    count += 1;
                }
            }
            Ok(count)
        })
    }

    async fn scan(&mut self, scan: &Scan) -> Result<Page> {
        self.live()?;
        self.do_scan(scan)
    }

    async fn count(&mut self, scan: &Scan) -> Result<u64> {
        self.live()?;
        Ok(self.collect(scan, None)?.len() as u64)
    }

    async fn counter_add(&mut self, collection: &str, key: &Tuple, delta: i64) -> Result<()> {
        self.writable()?;
        self.do_counter_add(collection, key, delta)
    }

    async fn counter_get(&mut self, collection: &str, key: &Tuple) -> Result<i64> {
        self.live()?;
        let k = self.counter_key(collection, key)?;
        self.read_point(&k);
        let base = match self.state.working.get(&k) {
            Some(Val::Counter(c)) => *c,
            _ => 0,
        };
        let delta = self.state.deltas.get(&k).copied().unwrap_or(0);
        base.checked_add(delta).ok_or_else(|| Error::invalid("counter", "the counter overflows 64 bits"))
    }

    async fn write_batch(&mut self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>> {
        self.writable()?;
        if ops.len() > self.limits.max_batch_ops {
            return Err(Error::TooLarge {
                what: "batch".into(),
                size: ops.len() as u64,
                limit: self.limits.max_batch_ops as u64,
            });
        }
        self.atomically(|tx| ops.into_iter().map(|op| tx.apply(op)).collect())
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.live()?;
        let result = if self.mode == TxMode::ReadOnly || (self.state.dirty.is_empty() && self.state.deltas.is_empty()) {
            Ok(())
        } else {
            let mut shared = self.store.lock();
            shared.commit(self.snapshot, &self.reads, &self.state.working, &self.state.dirty, &self.state.deltas)
        };
        self.end();
        result
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        self.live()?;
        self.end();
        Ok(())
    }
}
