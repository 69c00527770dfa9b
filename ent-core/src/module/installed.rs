//! What the store remembers of each module: the version that last ran on it and the schema version of each
//! of its collections, so that an older binary refuses to start on data a newer one wrote.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::storage::{CollectionDef, KeyKind, Record, Tuple};

/// The collection of installed modules.
pub const MODULES: &str = "ent.modules";

/// A module as the store last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledModule {
    /// The module's id.
    pub id: String,
    /// The version that last started on this store.
    pub version: String,
    /// The schema version of each of its collections.
    pub collections: BTreeMap<String, u32>,
}

impl Record for InstalledModule {
    const COLLECTION: &'static str = MODULES;
    fn collection() -> CollectionDef {
        CollectionDef::new(MODULES, [KeyKind::Str])
    }
    fn id(&self) -> Tuple {
        (self.id.as_str(),).into()
    }
}
