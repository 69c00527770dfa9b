//! The flat ordered keyspace of the memory adapter: records, index entries and counters of every collection
//! live in one map, under a prefix naming their space, so that conflict detection works on plain byte
//! ranges.
//!
//! - a record: `b'r' ++ collection ++ 0 ++ id`
//! - an index entry: `b'i' ++ collection ++ 0 ++ index ++ 0 ++ key ++ id` (keys of one index all have the
//!   same number of elements, so concatenating key and id sorts as the pair `(key, id)`)
//! - a counter: `b'c' ++ collection ++ 0 ++ key`
//!
//! Collection and index names never contain a 0 byte (the declarations forbid it).

use std::sync::Arc;

use serde_json::value::RawValue;

/// A value of the keyspace.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Record(Arc<StoredRecord>),
    /// An index entry; the id starts after `key_len` bytes of the entry's suffix.
    Entry {
        key_len: usize,
    },
    Counter(i64),
}

/// A record as the adapter keeps it, with the index entries it wrote (to remove them on update).
#[derive(Debug)]
pub(crate) struct StoredRecord {
    pub(crate) version: u64,
    pub(crate) schema_version: u32,
    pub(crate) data: Box<RawValue>,
    pub(crate) entries: Vec<(String, Vec<u8>)>,
}

pub(crate) type Map = imbl::OrdMap<Vec<u8>, Val>;

/// The prefix of a collection's records.
pub(crate) fn records(collection: &str) -> Vec<u8> {
    space(b'r', collection, None)
}

/// The prefix of an index's entries.
pub(crate) fn index(collection: &str, index: &str) -> Vec<u8> {
    space(b'i', collection, Some(index))
}

/// The prefix of a collection's counters.
pub(crate) fn counters(collection: &str) -> Vec<u8> {
    space(b'c', collection, None)
}

fn space(tag: u8, collection: &str, index: Option<&str>) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + collection.len() + index.map_or(0, |i| i.len() + 1) + 32);
    v.push(tag);
    v.extend_from_slice(collection.as_bytes());
    v.push(0);
    if let Some(i) = index {
        v.extend_from_slice(i.as_bytes());
        v.push(0);
    }
    v
}

/// `prefix ++ parts...`
pub(crate) fn join(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::with_capacity(prefix.len() + parts.iter().map(|p| p.len()).sum::<usize>());
    v.extend_from_slice(prefix);
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

/// The smallest key greater than `key` and all its extensions... for point reads: `key ++ [0]` is the
/// smallest key greater than `key` itself.
pub(crate) fn point_end(key: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(key.len() + 1);
    v.extend_from_slice(key);
    v.push(0);
    v
}
