//! The directory: structures, people, classes, groups and the links between them.
//!
//! This is the start of the directory model (issue "Directory 1/2"): the identifiers of structures and
//! the name folding that search relies on.

pub mod names;
mod uai;

pub use uai::Uai;
