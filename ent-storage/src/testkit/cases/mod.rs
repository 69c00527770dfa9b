//! The cases, one file per category.

pub(crate) mod batches;
pub(crate) mod blobs;
pub(crate) mod counters;
pub(crate) mod declare;
pub(crate) mod deletes;
pub(crate) mod inserts;
pub(crate) mod keys;
pub(crate) mod ranges;
pub(crate) mod reads;
pub(crate) mod scans;
pub(crate) mod transactions;
pub(crate) mod typed;
pub(crate) mod updates;

/// What every case file uses.
mod prelude {
    pub(crate) use std::ops::Bound;
    pub(crate) use std::sync::Arc;

    pub(crate) use ent_core::Error;
    pub(crate) use ent_core::storage::{
        CollectionDef, Cursor, Element, IndexDef, KeyKind, NewRecord, Scan, Store, Transaction, Tuple, TxMode, WriteOp,
        WriteOutcome,
    };
    pub(crate) use serde_json::json;

    pub(crate) use crate::testkit::Outcome;
    pub(crate) use crate::testkit::check::{Contender, fails_cleanly, op, snapshot};
    pub(crate) use crate::testkit::fixtures::*;
}
