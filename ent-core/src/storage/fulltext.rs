//! The full-text port: words in long texts (mail bodies, news, homework), searched within a partition.
//!
//! It is a port of its own rather than an index of every word per recipient (DESIGN.md §4): a message to
//! 2,000 recipients is indexed once, under the partition its owner chooses (a mailbox, a structure), and a
//! search never crosses partitions, so one user never finds another's documents.
//!
//! Matching is case- and accent-insensitive ("eleve" finds "Élève"): every word of the query must appear in
//! the document; a word ending in `*` matches as a prefix ("math*" finds "mathématiques"). Other punctuation
//! is ignored, so user input cannot form a query syntax.
//!
//! Each call is atomic and durable on its own, apart from the record store's transactions: the owner
//! indexes after it commits and removes before (or after) it deletes, and re-indexes from its records if it
//! ever doubts the index (indexing the same document again replaces it).
//!
//! ```
//! use ent_core::storage::fulltext::FullText;
//! use ent_core::storage::Tuple;
//!
//! /// Finds the messages of a mailbox that mention a word.
//! async fn find(ft: &dyn FullText, mailbox: uuid::Uuid, words: &str) -> ent_core::Result<Vec<Tuple>> {
//!     ft.search("messagerie.messages", &(mailbox,).into(), words, 20).await
//! }
//! ```

use async_trait::async_trait;

use super::key::Tuple;
use crate::Result;

/// A full-text index.
#[async_trait]
pub trait FullText: Send + Sync + std::fmt::Debug + 'static {
    /// Indexes a document's text under `partition`, replacing what was indexed for that document before.
    async fn index(&self, collection: &str, doc: &Tuple, partition: &Tuple, text: &str) -> Result<()>;

    /// Indexes one text for several documents, each under its own partition (a message in each mailbox
    /// that holds it), replacing what was indexed for them before. The default calls [`FullText::index`]
    /// for each; an adapter whose writes are durable one by one should do them in one transaction (SQLite
    /// does: a message to 2,000 people is one commit, not 2,000).
    async fn index_many(&self, collection: &str, docs: &[(Tuple, Tuple)], text: &str) -> Result<()> {
        for (doc, partition) in docs {
            self.index(collection, doc, partition, text).await?;
        }
        Ok(())
    }

    /// Removes a document; returns whether it was indexed.
    async fn remove(&self, collection: &str, doc: &Tuple) -> Result<bool>;

    /// The documents of `partition` that match `query`, best first, at most `limit` (an empty query
    /// matches nothing).
    async fn search(&self, collection: &str, partition: &Tuple, query: &str, limit: usize) -> Result<Vec<Tuple>>;
}
