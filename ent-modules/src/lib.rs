//! The bundled service modules of **ent**, each behind a cargo feature of its name.
//!
//! - `notes`: evaluations, grades and the averaging engine ([`notes`]).

#[cfg(feature = "notes")]
pub mod notes;

#[cfg(feature = "messagerie")]
pub mod messagerie;
