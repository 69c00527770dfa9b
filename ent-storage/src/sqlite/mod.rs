//! The SQLite adapter: one database file in WAL mode, one writer at a time (SQLite's write lock) and pooled
//! readers, every commit durable ([`Durability::Full`] by default), the generic layout of the design
//! (records as JSON, index entries in their own table), the full-text port on FTS5 and a blob store in the
//! database.
//!
//! - [`SqliteStore`]: the record store ([`ent_core::storage::Store`]); see `transaction.rs` for how
//!   isolation and failed operations are kept, `schema.rs` for the layout and its versions.
//! - [`SqliteFullText`]: the full-text port on FTS5.
//! - [`SqliteBlobStore`]: blobs in the same file.

mod blob;
mod catalog;
mod checkpoint;
mod error;
mod fts;
mod schema;
mod store;
mod transaction;

pub use blob::SqliteBlobStore;
pub use fts::SqliteFullText;
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use store::{Durability, SqliteOptions, SqliteStore};
