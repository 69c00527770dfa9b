//! `ent-core`: the contract crate of **ent**, an embeddable Espace Numérique de Travail.
//!
//! It holds the identifiers, the error type, the clock, the storage ports that adapters implement and
//! modules use, and (as it grows) the directory, rights, authentication and the module SDK. It has no SQL
//! and no HTTP: a module author depends on this crate alone.

pub mod account;
pub mod clock;
pub mod directory;
pub mod error;
pub mod id;
pub mod storage;

pub use error::{Error, ErrorKind, Result};
pub use id::{ClassId, EventId, GroupId, JobId, SessionId, StructureId, SubjectId, UserId};

#[doc(hidden)]
pub use uuid;
