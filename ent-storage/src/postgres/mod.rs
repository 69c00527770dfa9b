//! The PostgreSQL adapter: a pool of `tokio-postgres` connections, serializable transactions (SSI) whose
//! serialization failures are retryable conflicts, the generic layout of the design (records as `jsonb`,
//! index entries as `bytea` keys in their own tables), the full-text port on `tsvector`, a blob store in
//! the database, and read-only transactions that a replica may serve. See `docs/postgres.md`.
//!
//! - [`PostgresStore`]: the record store ([`ent_core::storage::Store`]); see `transaction.rs` for how
//!   isolation, counters, round trips and failed operations work, `schema.rs` for the layout.
//! - [`PostgresFullText`]: the full-text port.
//! - [`PostgresBlobStore`]: blobs in the same database.

mod blob;
mod catalog;
mod error;
mod fts;
mod schema;
mod store;
mod transaction;

pub use blob::PostgresBlobStore;
#[cfg(feature = "sqlite")]
pub(crate) use error::map as map_error;
pub use fts::PostgresFullText;
pub use schema::{APPLICATION, SCHEMA_VERSION};
pub use store::{PostgresOptions, PostgresStore};
