//! The declared collections, as the adapter caches them: names to the integer ids of the tables' rows.
//!
//! The catalog is read once at open and after every declaration; each transaction takes the current one at
//! begin and checks `catalog_generation` in its snapshot, so a declaration by another process is seen by
//! the next transaction that starts.

use std::collections::HashMap;
use std::sync::Arc;

use ent_core::storage::schema::diff_declaration;
use ent_core::storage::{CollectionDef, DeclareReport};
use ent_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension};

use super::error::Context;

/// A secondary index as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexInfo {
    /// Its row in `ent_index`.
    pub(crate) xid: i64,
    /// Whether its entries live in `ent_unique_entry`.
    pub(crate) unique: bool,
}

/// A collection as stored.
#[derive(Debug, Clone)]
pub(crate) struct CollectionInfo {
    /// Its row in `ent_collection`.
    pub(crate) cid: i64,
    /// Its declaration.
    pub(crate) def: CollectionDef,
    /// Its indexes by name.
    pub(crate) indexes: HashMap<String, IndexInfo>,
}

impl CollectionInfo {
    /// The stored index of that name ([`Error::UnknownIndex`] otherwise).
    pub(crate) fn index(&self, name: &str) -> Result<IndexInfo> {
        self.indexes
            .get(name)
            .copied()
            .ok_or_else(|| Error::UnknownIndex { collection: self.def.name.clone(), index: name.to_owned() })
    }
}

/// Every collection, at one generation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    /// `ent_meta.catalog_generation` when it was read.
    pub(crate) generation: i64,
    /// Collections by name.
    pub(crate) collections: HashMap<String, Arc<CollectionInfo>>,
}

impl Catalog {
    /// The collection of that name ([`Error::UnknownCollection`] otherwise).
    pub(crate) fn get(&self, name: &str) -> Result<&Arc<CollectionInfo>> {
        self.collections.get(name).ok_or_else(|| Error::UnknownCollection { collection: name.to_owned() })
    }
}

/// The generation in the connection's current snapshot.
pub(crate) fn generation(conn: &Connection) -> Result<i64> {
    let mut stmt = conn
        .prepare_cached("SELECT value FROM ent_meta WHERE key = 'catalog_generation'")
        .doing("reading the catalog generation")?;
    let value: String = stmt.query_row([], |r| r.get(0)).doing("reading the catalog generation")?;
    value.parse().map_err(|_| Error::storage(super::error::ADAPTER, "corrupted catalog_generation", false))
}

/// Reads the catalog.
pub(crate) fn load(conn: &Connection) -> Result<Catalog> {
    let generation = generation(conn)?;
    let mut collections: HashMap<i64, CollectionInfo> = HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT cid, name, def FROM ent_collection").doing("reading the catalog")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .doing("reading the catalog")?;
    for row in rows {
        let (cid, name, def) = row.doing("reading the catalog")?;
        let def: CollectionDef =
            serde_json::from_str(&def).map_err(|e| Error::serialization(format!("the declaration of {name}"), e))?;
        collections.insert(cid, CollectionInfo { cid, def, indexes: HashMap::new() });
    }
    let mut stmt =
        conn.prepare_cached("SELECT xid, cid, name, is_unique FROM ent_index").doing("reading the catalog")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?)))
        .doing("reading the catalog")?;
    for row in rows {
        let (xid, cid, name, unique) = row.doing("reading the catalog")?;
        if let Some(info) = collections.get_mut(&cid) {
            info.indexes.insert(name, IndexInfo { xid, unique });
        }
    }
    let collections = collections.into_values().map(|info| (info.def.name.clone(), Arc::new(info))).collect();
    Ok(Catalog { generation, collections })
}

/// Applies declarations inside the caller's write transaction; the caller commits, then reloads.
pub(crate) fn declare(conn: &Connection, catalog: &Catalog, defs: &[CollectionDef]) -> Result<DeclareReport> {
    let mut report = DeclareReport::default();
    let mut current: HashMap<String, CollectionDef> =
        catalog.collections.iter().map(|(name, info)| (name.clone(), info.def.clone())).collect();
    let mut changed = false;
    for def in defs {
        def.validate()?;
        let json = serde_json::to_string(def).map_err(|e| Error::serialization("a collection declaration", e))?;
        match current.get(&def.name) {
            None => {
                conn.execute("INSERT INTO ent_collection (name, def) VALUES (?1, ?2)", (&def.name, &json))
                    .doing("declaring a collection")?;
                report.created.push(def.name.clone());
                let cid = conn.last_insert_rowid();
                for index in &def.indexes {
                    add_index(conn, cid, &index.name, index.unique)?;
                }
                changed = true;
            }
            Some(old) => {
                let (added, dropped) = diff_declaration(old, def)?;
                let cid: i64 = conn
                    .query_row("SELECT cid FROM ent_collection WHERE name = ?1", [&def.name], |r| r.get(0))
                    .doing("declaring a collection")?;
                for name in &added {
                    let unique = def.find_index(name)?.unique;
                    add_index(conn, cid, name, unique)?;
                    report.new_indexes.push((def.name.clone(), name.clone()));
                }
                for name in &dropped {
                    drop_index(conn, cid, name)?;
                    report.dropped_indexes.push((def.name.clone(), name.clone()));
                }
                if old != def {
                    conn.execute("UPDATE ent_collection SET def = ?1 WHERE cid = ?2", (&json, cid))
                        .doing("declaring a collection")?;
                    changed = true;
                }
            }
        }
        current.insert(def.name.clone(), def.clone());
    }
    if changed {
        conn.execute(
            "UPDATE ent_meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'catalog_generation'",
            [],
        )
        .doing("bumping the catalog generation")?;
    }
    Ok(report)
}

fn add_index(conn: &Connection, cid: i64, name: &str, unique: bool) -> Result<()> {
    conn.execute("INSERT INTO ent_index (cid, name, is_unique) VALUES (?1, ?2, ?3)", (cid, name, unique))
        .doing("declaring an index")?;
    Ok(())
}

fn drop_index(conn: &Connection, cid: i64, name: &str) -> Result<()> {
    let xid: Option<i64> = conn
        .query_row("SELECT xid FROM ent_index WHERE cid = ?1 AND name = ?2", (cid, name), |r| r.get(0))
        .optional()
        .doing("dropping an index")?;
    if let Some(xid) = xid {
        conn.execute("DELETE FROM ent_entry WHERE xid = ?1", [xid]).doing("dropping an index")?;
        conn.execute("DELETE FROM ent_unique_entry WHERE xid = ?1", [xid]).doing("dropping an index")?;
        conn.execute("DELETE FROM ent_index WHERE xid = ?1", [xid]).doing("dropping an index")?;
    }
    Ok(())
}
