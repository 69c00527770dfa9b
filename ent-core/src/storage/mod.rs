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

/// The collections `ent-core` itself owns; the assembly declares them in every store.
pub fn core_collections() -> Vec<CollectionDef> {
    let mut all = vec![blob::blob_refs_collection()];
    all.extend(crate::directory::records::collections());
    all.extend(crate::account::collections());
    all.extend([
        <crate::module::installed::InstalledModule as Record>::collection(),
        <crate::event::outbox::SourceSeq as Record>::collection(),
        <crate::event::outbox::OutboxEntry as Record>::collection(),
        <crate::job::JobRecord as Record>::collection(),
        <crate::settings::SettingRecord as Record>::collection(),
        <crate::audit::AuditEntry as Record>::collection(),
    ]);
    all.extend(crate::rights::roles::collections());
    all
}
