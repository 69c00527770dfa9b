//! `ent-core`: the contract crate of **ent**, an embeddable Espace Numérique de Travail.
//!
//! It holds the identifiers, the error type, the clock, the storage ports that adapters implement and
//! modules use, the module SDK ([`module`]), callers ([`caller`]), events ([`event`]), jobs ([`job`]),
//! settings ([`settings`]), the directory ([`directory`]), rights and the audit log ([`rights`]) and the
//! assembly ([`Ent`]). It has no SQL and no HTTP: a module author depends on this crate alone.

#![forbid(unsafe_code)]

pub mod account;
pub mod audit;
pub mod authorize;
pub mod caller;
pub mod clock;
pub mod directory;
pub mod ent;
pub mod error;
pub mod event;
pub mod id;
pub mod job;
pub mod module;
pub mod rights;
pub mod settings;
pub mod storage;

pub use caller::{Caller, SystemScope};
pub use ent::{Ent, EntBuilder};
pub use error::{Error, ErrorKind, Result, Violation};
pub use id::{ClassId, EventId, GroupId, JobId, RoleId, SessionId, StructureId, SubjectId, UserId};

#[doc(hidden)]
pub use schemars;
#[doc(hidden)]
pub use uuid;
