//! Directory feeds for **ent**.
//!
//! Every feed — the national AAF export, a OneRoster bundle, the demo generator — is turned into one
//! normalized [`Batch`] and goes through one [`apply`] path: the same validation, the same idempotence, the
//! same guard against mass deactivation.

#![forbid(unsafe_code)]

pub mod aaf;
mod apply;
pub mod demo;
mod feed;
mod login;
pub mod oneroster;
mod parsed;
mod report;

pub use apply::{ApplyOptions, FIRST_LOAD_CHUNK, SERVED_CHUNK, apply};
pub use feed::{
    Batch, Change, ChangeIn, ClassIn, GroupIn, Mode, ParentIn, PersonIn, PersonRef, StructureIn, SubjectIn, TeachingIn,
    UnitRef,
};
pub use login::base_login;
pub use parsed::Parsed;
pub use report::{Held, IssuedCode, Location, Rejection, Report};
