//! The storage ports: records ([`Store`], [`Transaction`]), keys ([`Tuple`]), blobs ([`blob`]).
//!
//! See [`port`] for the contract every adapter keeps.

pub mod blob;
pub mod fulltext;
pub mod key;
pub mod port;
pub mod retry;
pub mod schema;
pub mod typed;

pub use key::{Element, KeyKind, Tuple};
pub use port::{
    CheckedRecord, Cursor, Direction, IndexEntry, Limits, NewRecord, Page, RawRecord, Scan, ScanEntry, ScanPlan, Store,
    Transaction, TxMode, WriteOp, WriteOutcome,
};
pub use schema::{CollectionDef, DeclareReport, IndexDef, PRIMARY};
pub use typed::{Record, TxExt, Versioned};

/// The collections `ent-core` itself owns; every store declares them at assembly.
pub fn core_collections() -> Vec<CollectionDef> {
    let mut all = vec![blob::blob_refs_collection()];
    all.extend(crate::directory::records::collections());
    all.push(<crate::account::ActivationCode as Record>::collection());
    all
}
