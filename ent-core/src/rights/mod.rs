//! Rights: the three layers of DESIGN.md, checked in one place, and the audit log.
//!
//! 1. **Workflow rights** ([`roles`], [`compiled`]): may this user run this action at all? Rights are
//!    declared by modules with default grants to profiles; administrators bundle rights into roles, grant
//!    roles to profiles, functions, groups, classes or users within a structure, and withdraw a default
//!    grant in their structure ([`admin`]).
//! 2. **Relationship guards** ([`guard`]): may they act on *this pupil*: their own data, a child they act
//!    for, a class and subject they teach, a structure they oversee; central administrators everywhere.
//! 3. **Sharing** ([`share`]): user-created resources shared with users, groups or classes at a level.
//!
//! A user's effective rights are compiled into an [`EffectiveRights`] that answers from memory, cached by
//! the [`RightsEngine`] and checked against the rights versions ([`version`]) on every call, so a change
//! takes effect on the next call on every portal instance. Staff reads of pupils' data are audited in
//! batches off the request path ([`audit_log`]). The guide is `docs/rights.md`.

pub mod admin;
pub mod audit_log;
pub mod compiled;
pub mod engine;
pub mod guard;
pub mod roles;
pub mod share;
pub mod version;

pub use admin::{AUDIT_READ, AdminRequest, AuditQuery, Holders, MANAGE, RightsAdmin};
pub use audit_log::AuditAppender;
pub use compiled::{EffectiveRights, Source, Standing};
pub use engine::{Denial, Explanation, PupilDenial, PupilExplanation, RightsEngine};
pub use guard::{PupilFacts, Relation};
pub use roles::{Grant, Grantee, Role, Withdrawal};
pub use share::{Share, ShareLevel, ShareWith};
