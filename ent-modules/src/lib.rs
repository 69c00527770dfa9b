//! The bundled service modules of **ent**, each behind a cargo feature of its name.

#[cfg(feature = "messagerie")]
pub mod messagerie;
