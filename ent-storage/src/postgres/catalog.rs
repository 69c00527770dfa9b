//! The declared collections, as the adapter caches them: names to the integer ids of the tables' rows.
//!
//! The catalog is read once at open and after every declaration. Each transaction reads
//! `catalog_generation` in its snapshot, in the same round trip as its `BEGIN`: a declaration by another
//! process is noticed by the next transaction that starts, which reloads the catalog.

use std::collections::HashMap;
use std::sync::Arc;

use ent_core::storage::schema::diff_declaration;
use ent_core::storage::{CollectionDef, DeclareReport};
use ent_core::{Error, Result};
use tokio_postgres::Client;

use super::error::{ADAPTER, Context};

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

/// Parses the stored generation.
pub(crate) fn parse_generation(value: &str) -> Result<i64> {
    value.parse().map_err(|_| Error::storage(ADAPTER, "corrupted catalog_generation", false))
}

/// Reads the catalog (in the client's current transaction, if any).
pub(crate) async fn load(client: &Client) -> Result<Catalog> {
    let value: String = client
        .query_one("SELECT value FROM ent_meta WHERE key = 'catalog_generation'", &[])
        .await
        .doing("reading the catalog generation")?
        .get(0);
    let generation = parse_generation(&value)?;
    let mut collections: HashMap<i64, CollectionInfo> = HashMap::new();
    for row in client.query("SELECT cid, name, def FROM ent_collection", &[]).await.doing("reading the catalog")? {
        let (cid, name, def): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
        let def: CollectionDef =
            serde_json::from_str(&def).map_err(|e| Error::serialization(format!("the declaration of {name}"), e))?;
        collections.insert(cid, CollectionInfo { cid, def, indexes: HashMap::new() });
    }
    for row in
        client.query("SELECT xid, cid, name, is_unique FROM ent_index", &[]).await.doing("reading the catalog")?
    {
        let (xid, cid, name, unique): (i64, i64, String, bool) = (row.get(0), row.get(1), row.get(2), row.get(3));
        if let Some(info) = collections.get_mut(&cid) {
            info.indexes.insert(name, IndexInfo { xid, unique });
        }
    }
    let collections = collections.into_values().map(|info| (info.def.name.clone(), Arc::new(info))).collect();
    Ok(Catalog { generation, collections })
}

/// The advisory lock that serializes declarations of every process on the database.
const DECLARE_LOCK: i64 = 0x656E_7432;

/// Applies declarations in a transaction of its own, all or nothing; the caller reloads the catalog.
pub(crate) async fn declare(client: &Client, defs: &[CollectionDef]) -> Result<DeclareReport> {
    for def in defs {
        def.validate()?;
    }
    client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED").await.doing("starting a declaration")?;
    let result = async {
        client.execute("SELECT pg_advisory_xact_lock($1)", &[&DECLARE_LOCK]).await.doing("declaring")?;
        let catalog = load(client).await?;
        apply(client, &catalog, defs).await
    }
    .await;
    match result {
        Ok(report) => {
            client.batch_execute("COMMIT").await.doing("committing a declaration")?;
            Ok(report)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn apply(client: &Client, catalog: &Catalog, defs: &[CollectionDef]) -> Result<DeclareReport> {
    let mut report = DeclareReport::default();
    let mut current: HashMap<String, (i64, CollectionDef)> =
        catalog.collections.iter().map(|(name, info)| (name.clone(), (info.cid, info.def.clone()))).collect();
    let mut changed = false;
    for def in defs {
        let json = serde_json::to_string(def).map_err(|e| Error::serialization("a collection declaration", e))?;
        match current.get(&def.name).cloned() {
            None => {
                let cid: i64 = client
                    .query_one(
                        "INSERT INTO ent_collection (name, def) VALUES ($1, $2) RETURNING cid",
                        &[&def.name, &json],
                    )
                    .await
                    .doing("declaring a collection")?
                    .get(0);
                report.created.push(def.name.clone());
                for index in &def.indexes {
                    add_index(client, cid, &index.name, index.unique).await?;
                }
                changed = true;
                current.insert(def.name.clone(), (cid, def.clone()));
            }
            Some((cid, old)) => {
                let (added, dropped) = diff_declaration(&old, def)?;
                for name in &added {
                    let unique = def.find_index(name)?.unique;
                    add_index(client, cid, name, unique).await?;
                    report.new_indexes.push((def.name.clone(), name.clone()));
                }
                for name in &dropped {
                    drop_index(client, cid, name).await?;
                    report.dropped_indexes.push((def.name.clone(), name.clone()));
                }
                if old != *def {
                    client
                        .execute("UPDATE ent_collection SET def = $1 WHERE cid = $2", &[&json, &cid])
                        .await
                        .doing("declaring a collection")?;
                    changed = true;
                }
                current.insert(def.name.clone(), (cid, def.clone()));
            }
        }
    }
    if changed {
        client
            .execute("UPDATE ent_meta SET value = (value::bigint + 1)::text WHERE key = 'catalog_generation'", &[])
            .await
            .doing("bumping the catalog generation")?;
    }
    Ok(report)
}

async fn add_index(client: &Client, cid: i64, name: &str, unique: bool) -> Result<()> {
    client
        .execute("INSERT INTO ent_index (cid, name, is_unique) VALUES ($1, $2, $3)", &[&cid, &name, &unique])
        .await
        .doing("declaring an index")?;
    Ok(())
}

async fn drop_index(client: &Client, cid: i64, name: &str) -> Result<()> {
    let row = client
        .query_opt("DELETE FROM ent_index WHERE cid = $1 AND name = $2 RETURNING xid", &[&cid, &name])
        .await
        .doing("dropping an index")?;
    if let Some(row) = row {
        let xid: i64 = row.get(0);
        client.execute("DELETE FROM ent_entry WHERE xid = $1", &[&xid]).await.doing("dropping an index")?;
        client.execute("DELETE FROM ent_unique_entry WHERE xid = $1", &[&xid]).await.doing("dropping an index")?;
    }
    Ok(())
}
