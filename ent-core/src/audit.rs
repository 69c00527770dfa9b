//! The audit trail: who did what, written in the transaction of the change. Settings changes, jobs and every
//! write a system caller makes through an action are recorded, with the caller (and so a system caller's
//! scope).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Result;
use crate::caller::Caller;
use crate::ent::Runtime;
use crate::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Transaction, Tuple, TxExt};

/// The collection of audit entries.
pub const AUDIT: &str = "ent.audit";

/// One audited change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Time ordered id.
    pub id: uuid::Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Who, with their profiles or scope.
    pub actor: Caller,
    /// What kind of change (`settings.set`, `job.run`, `action.run`).
    pub action: String,
    /// On what (`guestbook.max_length@<structure>`, `guestbook.sign`).
    pub target: String,
    /// Details (before and after values...).
    pub details: Value,
}

impl Record for AuditEntry {
    const COLLECTION: &'static str = AUDIT;
    fn collection() -> CollectionDef {
        CollectionDef::new(AUDIT, [KeyKind::Uuid]).index(IndexDef::new("by_target", [KeyKind::Str, KeyKind::Timestamp]))
    }
    fn id(&self) -> Tuple {
        self.id.into()
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry { index: "by_target".into(), key: (self.target.as_str(), self.at).into() }]
    }
}

/// Writes an audit entry in `tx`.
pub(crate) async fn record(
    rt: &Runtime,
    tx: &mut dyn Transaction,
    actor: &Caller,
    action: &str,
    target: &str,
    details: Value,
) -> Result<()> {
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7(),
        at: rt.clock.now(),
        actor: actor.clone(),
        action: action.to_owned(),
        target: target.to_owned(),
        details,
    };
    tx.insert_record(&entry).await?;
    Ok(())
}
