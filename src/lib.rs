//! **ent**: an embeddable Espace Numérique de Travail core. This facade re-exports the workspace's crates
//! behind features.

pub use ent_core as core;
pub use ent_core::{Error, Result};
pub use ent_modules as modules;
pub use ent_storage as storage;
