//! The directory: structures, people, classes, groups and the links between them.
//!
//! The records ([`records`]) and the queries every module needs ([`query`]) live here; feeds are applied
//! by `ent-import` through the same records.

pub mod names;
mod profile;
pub mod query;
pub mod records;
mod uai;
mod year;

pub use profile::{Function, Profile};
pub use records::{
    AccountState, Affiliation, Class, Contract, FeedAttributes, Group, GroupKind, Membership, ParentLink, Period,
    SourceKey, Structure, StructureKind, Subject, Teaching, Unit, User,
};
pub use uai::Uai;
pub use year::{PeriodKind, SchoolYear};
