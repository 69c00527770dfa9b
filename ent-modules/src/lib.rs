//! The bundled service modules of **ent**, each behind a cargo feature of its name.
//!
//! - `notes`: evaluations, grades and the averaging engine ([`notes`]).
//! - `messagerie`: internal mail, the communication rules, search ([`messagerie`]).

#![forbid(unsafe_code)]

#[cfg(feature = "messagerie")]
pub mod messagerie;
#[cfg(feature = "notes")]
pub mod notes;
