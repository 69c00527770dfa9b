//! The full-text port on `tsvector`.
//!
//! One table (`ent_fts_doc`) for every collection: a row per document with its collection, partition
//! and `tsvector`, a GIN index on the vectors and a B-tree on `(collection, partition)`. Text is folded in
//! Rust before PostgreSQL sees it, with the same folding as the directory's name search
//! (`ent_core::directory::names::fold`: lowercase, no diacritics, ligatures spelled out, punctuation to
//! spaces), then parsed by the `simple` configuration (no stemming, no stop words): the result does not
//! depend on the server's extensions (`unaccent`) or its locale, and matches what the SQLite adapter finds.
//! A query's words are folded the same way and joined with `&`; a word ending in `*` is a prefix (`:*`).
//! Nothing the user types reaches `to_tsquery` but letters, digits and the operators the adapter writes.

use std::sync::Arc;

use async_trait::async_trait;
use ent_core::directory::names::fold;
use ent_core::storage::Tuple;
use ent_core::storage::fulltext::FullText;
use ent_core::{Error, Result};

use super::PostgresStore;
use super::error::Context;
use super::store::Shared;

/// The full-text index of a [`PostgresStore`], in the same database.
#[derive(Debug, Clone)]
pub struct PostgresFullText {
    shared: Arc<Shared>,
}

impl PostgresStore {
    /// The full-text port over this store's database.
    pub fn full_text(&self) -> PostgresFullText {
        PostgresFullText { shared: self.shared.clone() }
    }
}

/// The `to_tsquery` text of a user's query, or `None` if it has no word.
pub(crate) fn expression(query: &str) -> Option<String> {
    let mut terms = Vec::new();
    for raw in query.split(|c: char| !(c.is_alphanumeric() || c == '*')) {
        let prefix = raw.ends_with('*');
        let folded = fold(&raw.replace('*', " "));
        let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
        for (i, word) in words.iter().enumerate() {
            let last = i + 1 == words.len();
            terms.push(if prefix && last { format!("{word}:*") } else { (*word).to_owned() });
        }
    }
    if terms.is_empty() { None } else { Some(terms.join(" & ")) }
}

#[async_trait]
impl FullText for PostgresFullText {
    async fn index(&self, collection: &str, doc: &Tuple, partition: &Tuple, text: &str) -> Result<()> {
        let doc = doc.encode()?;
        let partition = partition.encode()?;
        let body = fold(text);
        let collection = collection.to_owned();
        self.shared
            .with_conn(async move |conn| {
                let stmt = conn
                    .prepare(
                        "INSERT INTO ent_fts_doc (collection, doc, partition, body) \
                         VALUES ($1, $2, $3, to_tsvector('simple', $4)) \
                         ON CONFLICT (collection, doc) DO UPDATE SET partition = excluded.partition, body = excluded.body",
                    )
                    .await
                    .doing("indexing a document")?;
                conn.client.execute(&stmt, &[&collection, &doc, &partition, &body]).await.doing("indexing a document")?;
                Ok(())
            })
            .await
    }

    async fn remove(&self, collection: &str, doc: &Tuple) -> Result<bool> {
        let doc = doc.encode()?;
        let collection = collection.to_owned();
        self.shared
            .with_conn(async move |conn| {
                let stmt = conn
                    .prepare("DELETE FROM ent_fts_doc WHERE collection = $1 AND doc = $2")
                    .await
                    .doing("removing from the full-text index")?;
                let n = conn
                    .client
                    .execute(&stmt, &[&collection, &doc])
                    .await
                    .doing("removing from the full-text index")?;
                Ok(n > 0)
            })
            .await
    }

    async fn search(&self, collection: &str, partition: &Tuple, query: &str, limit: usize) -> Result<Vec<Tuple>> {
        let partition = partition.encode()?;
        let Some(expr) = expression(query) else { return Ok(Vec::new()) };
        let limit = i64::try_from(limit).map_err(|_| Error::invalid("limit", "too large"))?;
        let collection = collection.to_owned();
        self.shared
            .with_conn(async move |conn| {
                let stmt = conn
                    .prepare(
                        "SELECT doc FROM ent_fts_doc, to_tsquery('simple', $3) AS q \
                         WHERE collection = $1 AND partition = $2 AND body @@ q \
                         ORDER BY ts_rank(body, q) DESC, doc LIMIT $4",
                    )
                    .await
                    .doing("searching")?;
                let rows =
                    conn.client.query(&stmt, &[&collection, &partition, &expr, &limit]).await.doing("searching")?;
                rows.iter().map(|r| Tuple::decode(r.get::<_, &[u8]>(0))).collect()
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::expression;

    #[test]
    fn user_input_never_forms_tsquery_syntax() {
        assert_eq!(expression("  "), None);
        assert_eq!(expression("\"OR & | ! ( ) <-> :"), Some("or".into()));
        assert_eq!(expression("math* Élève"), Some("math:* & eleve".into()));
        assert_eq!(expression("l'école*"), Some("l & ecole:*".into()));
        assert_eq!(expression("***"), None);
    }
}
