//! The full-text port on FTS5.
//!
//! One contentless FTS5 table (`ent_fts`) for every collection, tokenized by `unicode61 remove_diacritics 2`
//! (case- and accent-insensitive). Each document's row carries a `scope` token, a hash of its collection
//! and partition, so that a search walks only its partition's postings; `ent_fts_doc` maps each document to
//! its row and holds the exact collection and partition, checked again on every hit, so that a hash
//! collision could never show a document of another partition.

use std::sync::Arc;

use async_trait::async_trait;
use ent_core::storage::Tuple;
use ent_core::storage::blob::BlobId;
use ent_core::storage::fulltext::FullText;
use ent_core::{Error, Result};
use rusqlite::{Connection, OptionalExtension};

use super::SqliteStore;
use super::error::Context;
use super::store::Shared;

/// The full-text index of a [`SqliteStore`], in the same file.
///
/// ```
/// use ent_core::storage::fulltext::FullText;
/// use ent_storage::sqlite::SqliteStore;
/// # async fn demo() -> ent_core::Result<()> {
/// let store = SqliteStore::in_memory()?;
/// let fts = store.full_text();
/// fts.index("messagerie.messages", &("m1",).into(), &("alice",).into(), "Réunion parents-professeurs").await?;
/// let hits = fts.search("messagerie.messages", &("alice",).into(), "reunion", 10).await?;
/// assert_eq!(hits, vec![("m1",).into()]);
/// assert!(fts.search("messagerie.messages", &("bob",).into(), "reunion", 10).await?.is_empty());
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteFullText {
    shared: Arc<Shared>,
}

impl SqliteStore {
    /// The full-text port over this store's file.
    pub fn full_text(&self) -> SqliteFullText {
        SqliteFullText { shared: self.shared.clone() }
    }
}

/// The token that stands for a (collection, partition) pair.
fn scope(collection: &str, partition: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(collection.len() + 1 + partition.len());
    bytes.extend_from_slice(collection.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(partition);
    format!("p{}", &BlobId::of(&bytes).to_hex()[..32])
}

/// The FTS5 expression of a user's query, or `None` if it has no word. Every word is quoted, so nothing the
/// user types is FTS5 syntax.
fn expression(scope: &str, query: &str) -> Option<String> {
    let mut words = Vec::new();
    for raw in query.split(|c: char| !(c.is_alphanumeric() || c == '*')) {
        let prefix = raw.ends_with('*');
        let word: String = raw.chars().filter(|c| c.is_alphanumeric()).collect();
        if !word.is_empty() {
            words.push(format!("\"{word}\"{}", if prefix { "*" } else { "" }));
        }
    }
    if words.is_empty() {
        return None;
    }
    Some(format!("scope : \"{scope}\" AND body : ({})", words.join(" AND ")))
}

fn doc_row(conn: &Connection, collection: &str, doc: &[u8]) -> Result<Option<i64>> {
    conn.prepare_cached("SELECT rowid FROM ent_fts_doc WHERE collection = ?1 AND doc = ?2")
        .and_then(|mut s| s.query_row((collection, doc), |r| r.get(0)).optional())
        .doing("reading the full-text index")
}

fn remove_row(conn: &Connection, row: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM ent_fts WHERE rowid = ?1")
        .and_then(|mut s| s.execute([row]))
        .doing("removing from the full-text index")?;
    Ok(())
}

/// Indexes one document in the caller's write transaction, replacing what was indexed for it.
fn index_in(conn: &Connection, collection: &str, doc: &[u8], partition: &[u8], text: &str) -> Result<()> {
    let scope = scope(collection, partition);
    let row = match doc_row(conn, collection, doc)? {
        Some(row) => {
            remove_row(conn, row)?;
            conn.prepare_cached("UPDATE ent_fts_doc SET partition = ?2 WHERE rowid = ?1")
                .and_then(|mut s| s.execute((row, partition)))
                .doing("indexing a document")?;
            row
        }
        None => {
            conn.prepare_cached("INSERT INTO ent_fts_doc (collection, doc, partition) VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute((collection, doc, partition)))
                .doing("indexing a document")?;
            conn.last_insert_rowid()
        }
    };
    conn.prepare_cached("INSERT INTO ent_fts (rowid, scope, body) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute((row, &scope, text)))
        .doing("indexing a document")?;
    Ok(())
}

#[async_trait]
impl FullText for SqliteFullText {
    async fn index(&self, collection: &str, doc: &Tuple, partition: &Tuple, text: &str) -> Result<()> {
        let (doc, partition) = (doc.encode()?, partition.encode()?);
        self.shared.write(|conn| index_in(conn, collection, &doc, &partition, text)).await
    }

    async fn index_many(&self, collection: &str, docs: &[(Tuple, Tuple)], text: &str) -> Result<()> {
        let encoded =
            docs.iter().map(|(d, p)| Ok((d.encode()?, p.encode()?))).collect::<Result<Vec<(Vec<u8>, Vec<u8>)>>>()?;
        self.shared
            .write(|conn| {
                for (doc, partition) in &encoded {
                    index_in(conn, collection, doc, partition, text)?;
                }
                Ok(())
            })
            .await
    }

    async fn remove(&self, collection: &str, doc: &Tuple) -> Result<bool> {
        let doc = doc.encode()?;
        self.shared
            .write(|conn| {
                let Some(row) = doc_row(conn, collection, &doc)? else { return Ok(false) };
                remove_row(conn, row)?;
                conn.prepare_cached("DELETE FROM ent_fts_doc WHERE rowid = ?1")
                    .and_then(|mut s| s.execute([row]))
                    .doing("removing from the full-text index")?;
                Ok(true)
            })
            .await
    }

    async fn search(&self, collection: &str, partition: &Tuple, query: &str, limit: usize) -> Result<Vec<Tuple>> {
        let partition = partition.encode()?;
        let Some(expr) = expression(&scope(collection, &partition), query) else { return Ok(Vec::new()) };
        let limit = i64::try_from(limit).map_err(|_| Error::invalid("limit", "too large"))?;
        self.shared
            .read(|conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT d.doc FROM (SELECT rowid, rank FROM ent_fts WHERE ent_fts MATCH ?1 \
                         ORDER BY rank LIMIT ?4) AS f JOIN ent_fts_doc AS d ON d.rowid = f.rowid \
                         WHERE d.collection = ?2 AND d.partition = ?3 ORDER BY f.rank",
                    )
                    .doing("searching")?;
                let rows = stmt
                    .query_map((&expr, collection, &partition, limit), |r| r.get::<_, Vec<u8>>(0))
                    .doing("searching")?;
                let mut out = Vec::new();
                for row in rows {
                    out.push(Tuple::decode(&row.doing("searching")?)?);
                }
                Ok(out)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use ent_core::storage::fulltext::FullText;

    use super::expression;
    use crate::sqlite::SqliteStore;

    #[tokio::test]
    async fn index_many_indexes_each_document_in_its_partition() {
        let fts = SqliteStore::in_memory().unwrap().full_text();
        let docs: Vec<_> = ["a", "b", "c"].iter().map(|p| ((*p, 1).into(), (*p,).into())).collect();
        fts.index("c", &("a", 1).into(), &("a",).into(), "ancien texte").await.unwrap();
        fts.index_many("c", &docs, "Conseil de classe du 2e trimestre").await.unwrap();
        for p in ["a", "b", "c"] {
            assert_eq!(fts.search("c", &(p,).into(), "conseil", 10).await.unwrap(), vec![(p, 1).into()]);
        }
        assert!(fts.search("c", &("a",).into(), "ancien", 10).await.unwrap().is_empty(), "replaced");
        assert!(fts.search("c", &("d",).into(), "conseil", 10).await.unwrap().is_empty());
    }

    #[test]
    fn user_input_never_forms_fts5_syntax() {
        assert_eq!(expression("s", "  "), None);
        assert_eq!(expression("s", "\"OR NEAR("), Some("scope : \"s\" AND body : (\"OR\" AND \"NEAR\")".into()));
        assert_eq!(expression("s", "math* élève"), Some("scope : \"s\" AND body : (\"math\"* AND \"élève\")".into()));
    }
}
