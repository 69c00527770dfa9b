//! The full-text port in memory: the reference the FTS5 adapter is compared with, for tests and examples.
//!
//! Words are folded as the directory folds names ([`ent_core::directory::names::fold`]: lowercase, no
//! diacritics, ligatures spelled out), so matching is case- and accent-insensitive as on SQLite. Postings
//! are kept per (collection, partition): a search walks only its partition, as the port requires.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ent_core::Result;
use ent_core::directory::names::fold;
use ent_core::storage::Tuple;
use ent_core::storage::fulltext::FullText;

/// A full-text index held in memory. Clones share the same index.
///
/// ```
/// # futures::executor::block_on(async {
/// use ent_core::storage::fulltext::FullText;
/// use ent_storage::memory::MemoryFullText;
///
/// let fts = MemoryFullText::new();
/// fts.index("messagerie.messages", &("m1",).into(), &("alice",).into(), "Réunion parents-professeurs").await?;
/// assert_eq!(fts.search("messagerie.messages", &("alice",).into(), "REUNION prof*", 10).await?, vec![("m1",).into()]);
/// assert!(fts.search("messagerie.messages", &("bob",).into(), "reunion", 10).await?.is_empty());
/// # Ok::<(), ent_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryFullText {
    inner: Arc<Mutex<Inner>>,
}

/// A collection and an encoded key (a document's or a partition's).
type Key = (String, Vec<u8>);

/// An indexed document: its encoded partition and its folded words.
type Doc = (Vec<u8>, BTreeSet<String>);

#[derive(Debug, Default)]
struct Inner {
    /// (collection, encoded doc) -> the document.
    docs: HashMap<Key, Doc>,
    /// (collection, encoded partition) -> encoded docs, in key order.
    partitions: HashMap<Key, BTreeSet<Vec<u8>>>,
}

impl MemoryFullText {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }
}

fn words(text: &str) -> BTreeSet<String> {
    fold(text).split(' ').filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// A query word: folded, and whether it matches as a prefix (`math*`).
fn query_words(query: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for raw in query.split(|c: char| !(c.is_alphanumeric() || c == '*')) {
        let prefix = raw.ends_with('*');
        // A word folds to one or more words ("Jean-Pierre" never gets here: '-' split it already; "Œ" -> "oe").
        let folded = fold(&raw.replace('*', ""));
        let parts: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
        let n = parts.len();
        for (i, w) in parts.into_iter().enumerate() {
            out.push((w.to_owned(), prefix && i + 1 == n));
        }
    }
    out
}

impl Inner {
    fn remove(&mut self, collection: &str, doc: &[u8]) -> bool {
        let Some((partition, _)) = self.docs.remove(&(collection.to_owned(), doc.to_vec())) else { return false };
        let key = (collection.to_owned(), partition);
        if let Some(set) = self.partitions.get_mut(&key) {
            set.remove(doc);
            if set.is_empty() {
                self.partitions.remove(&key);
            }
        }
        true
    }
}

#[async_trait]
impl FullText for MemoryFullText {
    async fn index(&self, collection: &str, doc: &Tuple, partition: &Tuple, text: &str) -> Result<()> {
        let (doc, partition) = (doc.encode()?, partition.encode()?);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.remove(collection, &doc);
        inner.partitions.entry((collection.to_owned(), partition.clone())).or_default().insert(doc.clone());
        inner.docs.insert((collection.to_owned(), doc), (partition, words(text)));
        Ok(())
    }

    async fn remove(&self, collection: &str, doc: &Tuple) -> Result<bool> {
        let doc = doc.encode()?;
        Ok(self.inner.lock().unwrap_or_else(|e| e.into_inner()).remove(collection, &doc))
    }

    async fn search(&self, collection: &str, partition: &Tuple, query: &str, limit: usize) -> Result<Vec<Tuple>> {
        let wanted = query_words(query);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let partition = partition.encode()?;
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(docs) = inner.partitions.get(&(collection.to_owned(), partition)) else { return Ok(Vec::new()) };
        // Rank: the number of matching words (more is better), then the newest key first (ids are UUID v7).
        let mut hits: BTreeMap<(std::cmp::Reverse<usize>, std::cmp::Reverse<Vec<u8>>), ()> = BTreeMap::new();
        for doc in docs {
            let Some((_, words)) = inner.docs.get(&(collection.to_owned(), doc.clone())) else { continue };
            let mut score = 0;
            let all = wanted.iter().all(|(w, prefix)| {
                let n = if *prefix {
                    words.range(w.clone()..).take_while(|x| x.starts_with(w.as_str())).count()
                } else {
                    usize::from(words.contains(w))
                };
                score += n;
                n > 0
            });
            if all {
                hits.insert((std::cmp::Reverse(score), std::cmp::Reverse(doc.clone())), ());
            }
        }
        hits.into_keys().take(limit).map(|(_, std::cmp::Reverse(doc))| Tuple::decode(&doc)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_words_are_folded_and_keep_their_prefix_mark() {
        assert_eq!(query_words("Élève math*"), vec![("eleve".into(), false), ("math".into(), true)]);
        assert!(query_words(" \"( ").is_empty());
    }

    #[tokio::test]
    async fn matching_is_accent_insensitive_and_partitioned() {
        let fts = MemoryFullText::new();
        let p1: Tuple = ("p1",).into();
        fts.index("c", &("a",).into(), &p1, "Les élèves de 3e").await.unwrap();
        fts.index("c", &("b",).into(), &("p2",).into(), "eleves").await.unwrap();
        assert_eq!(fts.search("c", &p1, "ELEVES", 10).await.unwrap(), vec![("a",).into()]);
        assert_eq!(fts.search("c", &p1, "elev*", 10).await.unwrap(), vec![("a",).into()]);
        assert!(fts.search("c", &p1, "elev", 10).await.unwrap().is_empty());
        assert!(fts.search("other", &p1, "eleves", 10).await.unwrap().is_empty());
        // Indexing again replaces, in another partition.
        fts.index("c", &("a",).into(), &("p2",).into(), "rien").await.unwrap();
        assert!(fts.search("c", &p1, "eleves", 10).await.unwrap().is_empty());
        assert!(fts.remove("c", &("a",).into()).await.unwrap());
        assert!(!fts.remove("c", &("a",).into()).await.unwrap());
    }
}
