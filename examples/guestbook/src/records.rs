//! What the guest book stores, and how it is indexed.

use ent::core::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};
use ent::core::{StructureId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One signature of a structure's guest book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Signature {
    /// Its id.
    pub id: uuid::Uuid,
    /// The structure whose book it is in.
    pub structure: StructureId,
    /// Who signed.
    pub author: UserId,
    /// What they wrote.
    pub message: String,
    /// When (RFC 3339).
    pub signed_at: String,
}

impl Record for Signature {
    const COLLECTION: &'static str = "guestbook.signatures";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
            .index(IndexDef::new("by_structure", [KeyKind::Uuid, KeyKind::Uuid]))
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        // The id is a UUID v7: ordering by it orders by signing time.
        vec![IndexEntry { index: "by_structure".into(), key: (self.structure, self.id).into() }]
    }
}

/// The counter of signatures of a structure (kept by the `guestbook.counter` subscriber).
pub fn signed_counter(structure: StructureId) -> Tuple {
    ("signed", structure).into()
}
