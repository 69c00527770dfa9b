//! Rights versions: store counters, one per user and one per structure, bumped in the same transaction as
//! every change that can alter someone's effective rights.
//!
//! - a user's counter: their affiliations, account state, memberships, teaching assignments, and (for a
//!   responsable) their links to children;
//! - a structure's counter: grants, revocations, withdrawn and restored default grants in that structure.
//!
//! Every portal instance compares the counters it compiled a user's rights at with the stored ones before
//! trusting its cache (one read-only transaction, two counter reads), so a change made through any
//! instance takes effect on the next call everywhere. Counters are blind increments: bumping never
//! conflicts with a concurrent bump, so an import touching thousands of users does not serialize with the
//! administrators' changes.
//!
//! ```
//! # async fn demo(tx: &mut dyn ent_core::storage::Transaction, user: ent_core::UserId) -> ent_core::Result<()> {
//! // In the transaction that changes the user's memberships:
//! ent_core::rights::version::bump_user(tx, user).await?;
//! # Ok(()) }
//! ```

use crate::storage::{CollectionDef, KeyKind, Transaction, Tuple, WriteOp};
use crate::{Result, StructureId, UserId};

/// The counters' collection.
pub const VERSIONS: &str = "ent.rights.versions";

/// Its declaration: counters keyed `("user" | "structure", id)`.
pub fn collection() -> CollectionDef {
    CollectionDef::new(VERSIONS, [KeyKind::Str, KeyKind::Uuid])
}

fn user_key(user: UserId) -> Tuple {
    ("user", user.0).into()
}

fn structure_key(structure: StructureId) -> Tuple {
    ("structure", structure.0).into()
}

/// Bumps a user's rights version: call it in the transaction that changes their affiliations, state,
/// memberships, teaching assignments or links to children.
pub async fn bump_user(tx: &mut dyn Transaction, user: UserId) -> Result<()> {
    tx.counter_add(VERSIONS, &user_key(user), 1).await
}

/// The bump of a user's rights version as one operation of a [`Transaction::write_batch`], for code that
/// gathers a transaction's writes and sends them at once (the directory import).
pub fn bump_user_op(user: UserId) -> WriteOp {
    WriteOp::CounterAdd { collection: VERSIONS.into(), key: user_key(user), delta: 1 }
}

/// Bumps a structure's rights version: call it in the transaction that changes its grants.
pub async fn bump_structure(tx: &mut dyn Transaction, structure: StructureId) -> Result<()> {
    tx.counter_add(VERSIONS, &structure_key(structure), 1).await
}

/// A user's rights version (0 before any change).
pub async fn user(tx: &mut dyn Transaction, user: UserId) -> Result<i64> {
    tx.counter_get(VERSIONS, &user_key(user)).await
}

/// A structure's rights version (0 before any change).
pub async fn structure(tx: &mut dyn Transaction, structure: StructureId) -> Result<i64> {
    tx.counter_get(VERSIONS, &structure_key(structure)).await
}
