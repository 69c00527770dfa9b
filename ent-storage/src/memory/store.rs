//! The memory store: the committed state, the catalog, and commit validation.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use ent_core::storage::schema::diff_declaration;
use ent_core::storage::{CollectionDef, DeclareReport, Limits, Store, Transaction, TxMode};
use ent_core::{Error, Result};

use super::keyspace::{self, Map, Val};
use super::transaction::MemoryTransaction;

/// The in-memory adapter. Cheap to clone: clones share the same data.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    pub(crate) shared: Arc<Mutex<Shared>>,
    limits: Arc<Limits>,
}

pub(crate) type Catalog = Arc<HashMap<String, Arc<CollectionDef>>>;

/// What all transactions share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// The committed state.
    pub(crate) committed: Map,
    /// The number of commits so far; a transaction's snapshot is the state after commit `seq`.
    pub(crate) seq: u64,
    /// The write sets (sorted keys) of recent commits, for validation.
    pub(crate) log: VecDeque<(u64, Arc<Vec<Vec<u8>>>)>,
    /// Snapshot sequence numbers of live transactions, with how many use each.
    pub(crate) active: BTreeMap<u64, usize>,
    pub(crate) catalog: Catalog,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store with the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// An empty store with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        MemoryStore { shared: Arc::default(), limits: Arc::new(limits) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock cannot leave the state half-written: every mutation builds a new
        // map and swaps it in at the end, so the state behind a poisoned lock is still consistent.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Shared {
    /// Validates a transaction that began after commit `snapshot` and read `reads`, then applies its writes.
    pub(crate) fn commit(
        &mut self,
        snapshot: u64,
        reads: &[(Vec<u8>, Vec<u8>)],
        working: &Map,
        dirty: &imbl::OrdSet<Vec<u8>>,
        deltas: &imbl::OrdMap<Vec<u8>, i64>,
    ) -> Result<()> {
        for (seq, writes) in &self.log {
            if *seq > snapshot && intersects(reads, writes) {
                return Err(Error::serialization_conflict("transaction"));
            }
        }
        let mut next = self.committed.clone();
        for key in dirty {
            match working.get(key) {
                Some(v) => {
                    next.insert(key.clone(), v.clone());
                }
                None => {
                    next.remove(key);
                }
            }
        }
        for (key, delta) in deltas {
            let current = match next.get(key) {
                Some(Val::Counter(c)) => *c,
                _ => 0,
            };
            let value = current.checked_add(*delta).ok_or_else(|| {
                Error::invalid("counter", format!("adding {delta} to {current} overflows a 64-bit counter"))
            })?;
            next.insert(key.clone(), Val::Counter(value));
        }
        let mut writes: Vec<Vec<u8>> = dirty.iter().cloned().chain(deltas.keys().cloned()).collect();
        writes.sort_unstable();
        self.committed = next;
        self.seq += 1;
        self.log.push_back((self.seq, Arc::new(writes)));
        self.trim();
        Ok(())
    }

    /// Registers a new snapshot user.
    pub(crate) fn open(&mut self) -> u64 {
        *self.active.entry(self.seq).or_default() += 1;
        self.seq
    }

    /// Unregisters a snapshot user.
    pub(crate) fn close(&mut self, snapshot: u64) {
        if let Some(n) = self.active.get_mut(&snapshot) {
            *n -= 1;
            if *n == 0 {
                self.active.remove(&snapshot);
            }
        }
        self.trim();
    }

    /// Forgets write sets that no live transaction can conflict with.
    fn trim(&mut self) {
        let oldest = self.active.keys().next().copied().unwrap_or(self.seq);
        while self.log.front().is_some_and(|(seq, _)| *seq <= oldest) {
            self.log.pop_front();
        }
    }
}

/// Whether any written key lies in any read range.
fn intersects(reads: &[(Vec<u8>, Vec<u8>)], writes: &[Vec<u8>]) -> bool {
    reads.iter().any(|(lo, hi)| {
        let i = writes.partition_point(|w| w < lo);
        writes.get(i).is_some_and(|w| w < hi)
    })
}

#[async_trait]
impl Store for MemoryStore {
    fn adapter(&self) -> &'static str {
        "memory"
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }

    async fn declare(&self, collections: &[CollectionDef]) -> Result<DeclareReport> {
        let mut names = std::collections::HashSet::new();
        for def in collections {
            def.validate()?;
            if !names.insert(&def.name) {
                return Err(Error::invalid("collection.name", format!("`{}` is declared twice", def.name)));
            }
        }
        let mut shared = self.lock();
        // Check everything before changing anything.
        let mut plans = Vec::new();
        for def in collections {
            match shared.catalog.get(&def.name) {
                Some(old) => {
                    let (added, dropped) = diff_declaration(old, def)?;
                    plans.push((def, Some((added, dropped))));
                }
                None => plans.push((def, None)),
            }
        }
        let mut report = DeclareReport::default();
        let mut catalog = (*shared.catalog).clone();
        let mut dropped_spaces = Vec::new();
        for (def, diff) in plans {
            match diff {
                None => report.created.push(def.name.clone()),
                Some((added, dropped)) => {
                    report.new_indexes.extend(added.into_iter().map(|i| (def.name.clone(), i)));
                    for index in dropped {
                        dropped_spaces.push((def.name.clone(), index.clone()));
                        report.dropped_indexes.push((def.name.clone(), index));
                    }
                }
            }
            catalog.insert(def.name.clone(), Arc::new(def.clone()));
        }
        if !dropped_spaces.is_empty() {
            // Dropping an index is a commit: remove its entries and forget them in the stored records.
            let mut next = shared.committed.clone();
            let mut writes = Vec::new();
            for (collection, index) in &dropped_spaces {
                let prefix = keyspace::index(collection, index);
                let keys: Vec<Vec<u8>> = shared
                    .committed
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in keys {
                    next.remove(&k);
                    writes.push(k);
                }
                let rprefix = keyspace::records(collection);
                let records: Vec<(Vec<u8>, Val)> = shared
                    .committed
                    .range(rprefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&rprefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                for (k, v) in records {
                    if let Val::Record(r) = v
                        && r.entries.iter().any(|(i, _)| i == index)
                    {
                        let mut stored = super::keyspace::StoredRecord {
                            version: r.version,
                            schema_version: r.schema_version,
                            data: r.data.clone(),
                            entries: r.entries.clone(),
                        };
                        stored.entries.retain(|(i, _)| i != index);
                        next.insert(k.clone(), Val::Record(Arc::new(stored)));
                        writes.push(k);
                    }
                }
            }
            writes.sort_unstable();
            shared.committed = next;
            shared.seq += 1;
            let seq = shared.seq;
            shared.log.push_back((seq, Arc::new(writes)));
        }
        shared.catalog = Arc::new(catalog);
        Ok(report)
    }

    async fn collections(&self) -> Result<Vec<CollectionDef>> {
        let shared = self.lock();
        let mut defs: Vec<CollectionDef> = shared.catalog.values().map(|d| (**d).clone()).collect();
        defs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(defs)
    }

    async fn begin(&self, mode: TxMode) -> Result<Box<dyn Transaction>> {
        let mut shared = self.lock();
        let snapshot = shared.open();
        let tx = MemoryTransaction::new(
            self.clone(),
            mode,
            snapshot,
            shared.committed.clone(),
            shared.catalog.clone(),
            self.limits.clone(),
        );
        Ok(Box::new(tx))
    }
}
