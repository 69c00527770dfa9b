//! The collections and records the cases work on.

use std::sync::atomic::{AtomicU64, Ordering};

use ent_core::storage::{CollectionDef, IndexDef, KeyKind, NewRecord, Scan, Store, Transaction, Tuple, TxMode};
use serde_json::json;

use super::check::Failure;

/// Items: a string id, a non-unique composite index, a multi-entry tag index, a unique code index.
pub(crate) const ITEMS: &str = "kit.items";
/// Pairs: a composite primary key `(string, integer)`.
pub(crate) const PAIRS: &str = "kit.pairs";
/// Keys: a heterogeneous primary key and indexes of every kind, for ordering cases.
pub(crate) const KEYS: &str = "kit.keys";
/// Doctors on call, for write skew.
pub(crate) const DOCTORS: &str = "kit.doctors";
/// Marker records written by [`super::check::fails_cleanly`].
pub(crate) const MARKS: &str = "kit.marks";

pub(crate) fn items() -> CollectionDef {
    CollectionDef::new(ITEMS, [KeyKind::Str])
        .index(IndexDef::new("by_group", [KeyKind::Str, KeyKind::Int]))
        .index(IndexDef::new("by_tag", [KeyKind::Str]))
        .index(IndexDef::new("by_code", [KeyKind::Str]).unique())
}

pub(crate) fn pairs() -> CollectionDef {
    CollectionDef::new(PAIRS, [KeyKind::Str, KeyKind::Int])
}

pub(crate) fn keys() -> CollectionDef {
    CollectionDef::new(KEYS, [KeyKind::Any])
        .index(IndexDef::new("by_str", [KeyKind::Str]))
        .index(IndexDef::new("by_int", [KeyKind::Int]))
        .index(IndexDef::new("by_float", [KeyKind::Float]).unique())
        .index(IndexDef::new("by_time", [KeyKind::Timestamp]))
        .index(IndexDef::new("by_bytes", [KeyKind::Bytes]))
        .index(IndexDef::new("by_uuid", [KeyKind::Uuid]))
        .index(IndexDef::new("by_bool", [KeyKind::Bool, KeyKind::Int]))
}

pub(crate) fn doctors() -> CollectionDef {
    CollectionDef::new(DOCTORS, [KeyKind::Str]).index(IndexDef::new("on_call", [KeyKind::Bool]))
}

pub(crate) fn marks() -> CollectionDef {
    CollectionDef::new(MARKS, [KeyKind::Str, KeyKind::Int])
}

/// Declares every fixture collection (and `ent-core`'s own).
pub(crate) async fn setup(store: &dyn Store) -> Result<(), Failure> {
    let mut defs = vec![items(), pairs(), keys(), doctors(), marks()];
    defs.extend(ent_core::storage::core_collections());
    store.declare(&defs).await?;
    Ok(())
}

/// An item `{"n": n}` with no index entry.
pub(crate) fn item(id: &str, n: i64) -> NewRecord {
    record((id,), json!({ "id": id, "n": n }))
}

/// A record of schema version 1.
// By value: cases pass `json!` literals, which read best without a `&`.
#[allow(clippy::needless_pass_by_value)]
pub(crate) fn record(id: impl Into<Tuple>, data: serde_json::Value) -> NewRecord {
    NewRecord::from_value(id, 1, &data).unwrap_or_else(|e| panic!("a JSON value always serializes: {e}"))
}

/// A fresh marker record and its id.
pub(crate) fn mark() -> (NewRecord, Tuple) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) as i64;
    let id = Tuple::from(("mark", n));
    (record(id.clone(), json!({ "mark": n })), id)
}

/// The `n` field of a record's JSON.
pub(crate) fn n_of(data: &serde_json::value::RawValue) -> Result<i64, Failure> {
    let v: serde_json::Value =
        serde_json::from_str(data.get()).map_err(|e| Failure::new(format!("stored data is not JSON: {e}")))?;
    v["n"].as_i64().ok_or_else(|| Failure::new(format!("no integer `n` in {v}")))
}

/// Commits the given records in one transaction.
pub(crate) async fn seed(store: &dyn Store, collection: &str, records: Vec<NewRecord>) -> Result<(), Failure> {
    let mut tx = store.begin(TxMode::ReadWrite).await?;
    for r in records {
        tx.insert(collection, r).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The ids of a scan's first page, as display strings.
pub(crate) async fn ids(tx: &mut dyn Transaction, scan: &Scan) -> Result<Vec<Tuple>, Failure> {
    Ok(tx.scan(scan).await?.entries.into_iter().map(|e| e.id).collect())
}

/// The keys of a scan's first page.
pub(crate) async fn scan_keys(tx: &mut dyn Transaction, scan: &Scan) -> Result<Vec<Tuple>, Failure> {
    Ok(tx.scan(scan).await?.entries.into_iter().map(|e| e.key).collect())
}

/// Every id of a scan, following cursors, with pages of `page`.
pub(crate) async fn all_ids(tx: &mut dyn Transaction, scan: &Scan, page: usize) -> Result<Vec<Tuple>, Failure> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let p = tx.scan(&scan.clone().limit(page).after(cursor.clone())).await?;
        out.extend(p.entries.into_iter().map(|e| e.id));
        if !super::check::advance(&mut cursor, p.next, out.len())? {
            return Ok(out);
        }
    }
}

/// `("a",)`-style one-string tuples.
pub(crate) fn t(s: &str) -> Tuple {
    Tuple::from((s,))
}

/// Several one-string tuples.
pub(crate) fn ts(v: &[&str]) -> Vec<Tuple> {
    v.iter().map(|s| t(s)).collect()
}
