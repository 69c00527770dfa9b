//! What a module declares about its data: collections, their primary key, their secondary indexes.
//! Adapters create their tables from these declarations; no SQL lives in modules.

use serde::{Deserialize, Serialize};

use super::key::{KeyKind, Tuple};
use crate::{Error, Result};

/// The name under which errors and scans refer to a collection's primary key.
pub const PRIMARY: &str = "primary";

/// A collection of records, declared by its owner (a module, or `ent-core` itself for `ent.*` collections).
///
/// ```
/// use ent_core::storage::{CollectionDef, IndexDef, KeyKind};
/// let grades = CollectionDef::new("notes.evaluations", [KeyKind::Uuid])
///     .index(IndexDef::new("by_class", [KeyKind::Uuid, KeyKind::Timestamp]))
///     .index(IndexDef::new("by_source", [KeyKind::Str, KeyKind::Str]).unique());
/// assert!(grades.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CollectionDef {
    /// `module.name`: lowercase ASCII letters, digits, `_` and one or more dots.
    pub name: String,
    /// The kinds of the primary key's elements.
    pub key: Vec<KeyKind>,
    /// The secondary indexes.
    pub indexes: Vec<IndexDef>,
}

/// A secondary index. Its entries are extracted from each record by the owner's code: zero, one or several
/// entries per record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IndexDef {
    /// Unique within its collection; lowercase ASCII letters, digits and `_`.
    pub name: String,
    /// The kinds of the key's elements; every entry has exactly this many elements.
    pub fields: Vec<KeyKind>,
    /// Whether two records may share a key.
    pub unique: bool,
}

impl CollectionDef {
    /// A collection whose primary key has the given element kinds.
    pub fn new(name: impl Into<String>, key: impl IntoIterator<Item = KeyKind>) -> Self {
        CollectionDef { name: name.into(), key: key.into_iter().collect(), indexes: Vec::new() }
    }

    /// Adds an index.
    pub fn index(mut self, index: IndexDef) -> Self {
        self.indexes.push(index);
        self
    }

    /// The index with that name.
    pub fn find_index(&self, name: &str) -> Result<&IndexDef> {
        self.indexes
            .iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::UnknownIndex { collection: self.name.clone(), index: name.to_owned() })
    }

    /// The kinds of a key position space: the primary key (`None`) or an index.
    pub fn fields(&self, index: Option<&str>) -> Result<&[KeyKind]> {
        match index {
            None => Ok(&self.key),
            Some(name) => Ok(&self.find_index(name)?.fields),
        }
    }

    /// Checks the names and shapes.
    pub fn validate(&self) -> Result<()> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self.name.contains('.')
            && !self.name.starts_with('.')
            && !self.name.ends_with('.')
            && !self.name.contains("..")
            && self.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if !name_ok {
            return Err(Error::invalid(
                "collection.name",
                format!("`{}` must look like `module.name` (lowercase ASCII, digits, `_`, dots)", self.name),
            ));
        }
        if self.key.is_empty() {
            return Err(Error::invalid("collection.key", format!("`{}` has an empty primary key", self.name)));
        }
        let mut seen = std::collections::HashSet::new();
        for index in &self.indexes {
            let ok = !index.name.is_empty()
                && index.name.len() <= 64
                && index.name != PRIMARY
                && index.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(Error::invalid(
                    "index.name",
                    format!("`{}.{}`: lowercase ASCII, digits and `_`, not `primary`", self.name, index.name),
                ));
            }
            if index.fields.is_empty() {
                return Err(Error::invalid("index.fields", format!("`{}.{}` has no field", self.name, index.name)));
            }
            if !seen.insert(&index.name) {
                return Err(Error::invalid("index.name", format!("`{}.{}` is declared twice", self.name, index.name)));
            }
        }
        Ok(())
    }

    /// Checks that `key` is a full key of the primary key (`index` = `None`) or of an index.
    pub fn check_key(&self, index: Option<&str>, key: &Tuple) -> Result<()> {
        let fields = self.fields(index)?;
        if key.len() != fields.len() {
            return Err(Error::invalid(
                format!("{}.{}", self.name, index.unwrap_or(PRIMARY)),
                format!("a key has {} elements, {} given", fields.len(), key.len()),
            ));
        }
        self.check_prefix(index, key, 0)
    }

    /// Checks that `tuple` may stand at `offset` in a key of the primary key or of an index (a prefix, or a
    /// range bound after a prefix).
    pub fn check_prefix(&self, index: Option<&str>, tuple: &Tuple, offset: usize) -> Result<()> {
        let fields = self.fields(index)?;
        if offset + tuple.len() > fields.len() {
            return Err(Error::invalid(
                format!("{}.{}", self.name, index.unwrap_or(PRIMARY)),
                format!("a key has {} elements, {} given", fields.len(), offset + tuple.len()),
            ));
        }
        for (i, (element, kind)) in tuple.elements().iter().zip(&fields[offset..]).enumerate() {
            if let Some(found) = element.kind()
                && *kind != KeyKind::Any
                && found != *kind
            {
                return Err(Error::KeyType {
                    collection: self.name.clone(),
                    index: index.unwrap_or(PRIMARY).to_owned(),
                    position: offset + i,
                    expected: kind.to_string(),
                    found: found.to_string(),
                });
            }
        }
        Ok(())
    }
}

impl IndexDef {
    /// A non-unique index.
    pub fn new(name: impl Into<String>, fields: impl IntoIterator<Item = KeyKind>) -> Self {
        IndexDef { name: name.into(), fields: fields.into_iter().collect(), unique: false }
    }

    /// Makes the index unique.
    pub fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
}

/// What [`Store::declare`](super::Store::declare) changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclareReport {
    /// Collections created by this call.
    pub created: Vec<String>,
    /// `(collection, index)` added to a collection that already existed: its existing records have no entry
    /// in it yet, so the owner must rewrite them (see [`crate::storage::typed::reindex`]).
    pub new_indexes: Vec<(String, String)>,
    /// `(collection, index)` that existed in the store and are no longer declared: their entries were
    /// dropped.
    pub dropped_indexes: Vec<(String, String)>,
}

/// Compares a new declaration with the one the store holds; the rules every adapter follows.
///
/// The primary key may not change; an index may not change its fields or uniqueness (declare a new index
/// under a new name instead); indexes may be added or dropped.
pub fn diff_declaration(old: &CollectionDef, new: &CollectionDef) -> Result<(Vec<String>, Vec<String>)> {
    if old.key != new.key {
        return Err(Error::SchemaMismatch {
            what: new.name.clone(),
            reason: format!("the primary key changed from {:?} to {:?}", old.key, new.key),
        });
    }
    let mut added = Vec::new();
    for index in &new.indexes {
        match old.indexes.iter().find(|i| i.name == index.name) {
            Some(existing) if existing != index => {
                return Err(Error::SchemaMismatch {
                    what: format!("{}.{}", new.name, index.name),
                    reason: "an index may not change its fields or uniqueness; declare a new index".into(),
                });
            }
            Some(_) => {}
            None => added.push(index.name.clone()),
        }
    }
    let dropped =
        old.indexes.iter().filter(|i| !new.indexes.iter().any(|n| n.name == i.name)).map(|i| i.name.clone()).collect();
    Ok((added, dropped))
}
