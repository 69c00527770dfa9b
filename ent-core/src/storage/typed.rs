//! The typed layer over the port: a module declares its records as Rust types, the layer serializes
//! them, extracts their index entries and upgrades old schema versions on read.
//!
//! ```
//! use ent_core::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Note { id: uuid::Uuid, title: String, tags: Vec<String> }
//!
//! impl Record for Note {
//!     const COLLECTION: &'static str = "example.notes";
//!     fn collection() -> CollectionDef {
//!         CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
//!             .index(IndexDef::new("by_tag", [KeyKind::Str]))
//!     }
//!     fn id(&self) -> Tuple { self.id.into() }
//!     fn index_entries(&self) -> Vec<IndexEntry> {
//!         // Several entries per record: one per tag.
//!         self.tags.iter().map(|t| IndexEntry { index: "by_tag".into(), key: (t.as_str(),).into() }).collect()
//!     }
//! }
//! ```

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::key::Tuple;
use super::port::{Cursor, IndexEntry, NewRecord, RawRecord, Scan, Store, Transaction, TxMode};
use super::schema::CollectionDef;
use crate::{Error, Result};

/// A record type stored in a collection.
pub trait Record: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The collection's name (`module.name`).
    const COLLECTION: &'static str;
    /// The version of this type's layout; bump it when the stored JSON changes shape, and teach
    /// [`Record::upgrade`] to read the old one.
    const SCHEMA_VERSION: u32 = 1;

    /// The collection's declaration (primary key kinds, indexes).
    fn collection() -> CollectionDef;

    /// The primary key.
    fn id(&self) -> Tuple;

    /// The index entries of this record: zero, one or several per index.
    fn index_entries(&self) -> Vec<IndexEntry> {
        Vec::new()
    }

    /// Turns stored JSON of an older `from_version` into the current layout. The default refuses.
    fn upgrade(from_version: u32, data: serde_json::Value) -> Result<serde_json::Value> {
        let _ = data;
        Err(Error::SchemaMismatch {
            what: Self::COLLECTION.to_owned(),
            reason: format!("no upgrade from schema version {from_version} to {}", Self::SCHEMA_VERSION),
        })
    }
}

/// A record with the version it was read at (pass it back to update it).
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The stored version.
    pub version: u64,
    /// The record.
    pub value: T,
}

/// Serializes a record and extracts its index entries.
pub fn to_new_record<T: Record>(value: &T) -> Result<NewRecord> {
    let mut record = NewRecord::from_value(value.id(), T::SCHEMA_VERSION, value)?;
    record.index_entries = value.index_entries();
    Ok(record)
}

/// Deserializes a stored record, upgrading it from an older schema version, refusing a newer one.
pub fn from_raw<T: Record>(raw: &RawRecord) -> Result<Versioned<T>> {
    let value = match raw.schema_version.cmp(&T::SCHEMA_VERSION) {
        std::cmp::Ordering::Equal => serde_json::from_str(raw.data.get())
            .map_err(|e| Error::serialization(format!("{} {}", T::COLLECTION, raw.id), e))?,
        std::cmp::Ordering::Greater => {
            return Err(Error::SchemaTooNew {
                what: format!("record {} of {}", raw.id, T::COLLECTION),
                stored: raw.schema_version,
                supported: T::SCHEMA_VERSION,
            });
        }
        std::cmp::Ordering::Less => {
            let old: serde_json::Value = serde_json::from_str(raw.data.get())
                .map_err(|e| Error::serialization(format!("{} {}", T::COLLECTION, raw.id), e))?;
            let new = T::upgrade(raw.schema_version, old)?;
            serde_json::from_value(new).map_err(|e| Error::serialization(format!("{} {}", T::COLLECTION, raw.id), e))?
        }
    };
    Ok(Versioned { version: raw.version, value })
}

/// Typed operations on any transaction.
#[async_trait]
pub trait TxExt: Transaction {
    /// Reads a record.
    async fn get_record<T: Record>(&mut self, id: impl Into<Tuple> + Send) -> Result<Option<Versioned<T>>> {
        match self.get(T::COLLECTION, &id.into()).await? {
            Some(raw) => Ok(Some(from_raw(&raw)?)),
            None => Ok(None),
        }
    }

    /// Reads a record that must exist ([`Error::NotFound`] otherwise).
    async fn fetch_record<T: Record>(&mut self, id: impl Into<Tuple> + Send) -> Result<Versioned<T>> {
        let id = id.into();
        match self.get(T::COLLECTION, &id).await? {
            Some(raw) => from_raw(&raw),
            None => Err(Error::not_found(T::COLLECTION, id)),
        }
    }

    /// Inserts a record; returns its version (1).
    async fn insert_record<T: Record>(&mut self, value: &T) -> Result<u64> {
        let record = to_new_record(value)?;
        self.insert(T::COLLECTION, record).await
    }

    /// Updates a record read at `expected_version`; returns the new version.
    async fn update_record<T: Record>(&mut self, expected_version: u64, value: &T) -> Result<u64> {
        let record = to_new_record(value)?;
        self.update(T::COLLECTION, expected_version, record).await
    }

    /// Deletes a record.
    async fn delete_record<T: Record>(
        &mut self,
        id: impl Into<Tuple> + Send,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        self.delete(T::COLLECTION, &id.into(), expected_version).await
    }

    /// A page of records (the scan's collection must be `T`'s).
    async fn scan_records<T: Record>(&mut self, scan: &Scan) -> Result<(Vec<Versioned<T>>, Option<Cursor>)> {
        if scan.collection != T::COLLECTION {
            return Err(Error::invalid(
                "scan.collection",
                format!("expected {}, got {}", T::COLLECTION, scan.collection),
            ));
        }
        let mut scan = scan.clone();
        scan.index_only = false;
        let page = self.scan(&scan).await?;
        let mut out = Vec::with_capacity(page.entries.len());
        for entry in &page.entries {
            if let Some(raw) = &entry.record {
                out.push(from_raw(raw)?);
            }
        }
        Ok((out, page.next))
    }
}

impl<X: Transaction + ?Sized> TxExt for X {}

/// Rewrites every record of `T`'s collection in pages of `page` records, one transaction each: fills an
/// index added to a collection that already held records, and stores old schema versions in the current
/// one. Returns how many records were rewritten.
pub async fn reindex<T: Record>(store: &dyn Store, page: usize) -> Result<u64> {
    let mut cursor = None;
    let mut total = 0;
    loop {
        let mut tx = store.begin(TxMode::ReadWrite).await?;
        let scan = Scan::primary(T::COLLECTION).limit(page).after(cursor.clone());
        let (records, next) = tx.scan_records::<T>(&scan).await?;
        for record in &records {
            tx.update_record(record.version, &record.value).await?;
        }
        tx.commit().await?;
        total += records.len() as u64;
        match next {
            Some(n) => cursor = Some(n),
            None => return Ok(total),
        }
    }
}
