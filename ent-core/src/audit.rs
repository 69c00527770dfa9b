//! The audit trail: who did what, when and from where (the caller carries its origin).
//!
//! Changes are audited in the transaction of the change ([`record`]): settings, jobs, every write a system
//! caller makes through an action, every change of rights. Reads that must be audited (a staff member
//! reading a pupil's data) happen in read-only transactions; they go through the batching
//! [`crate::rights::AuditAppender`] instead, off the request path. Entries are purged after
//! [`RETENTION_DAYS`] by the periodic job [`PURGE_JOB`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::caller::Caller;
use crate::ent::Runtime;
use crate::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Transaction, Tuple, TxExt};
use crate::{Result, StructureId};

/// The collection of audit entries.
pub const AUDIT: &str = "ent.audit";

/// How long audit entries are kept (connection logs: one year).
pub const RETENTION_DAYS: i64 = 365;

/// The periodic job that deletes entries older than [`RETENTION_DAYS`].
pub const PURGE_JOB: &str = "ent.audit_purge";

/// One audited change or read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Time ordered id.
    pub id: uuid::Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Who, with their profiles or scope, session and origin.
    pub actor: Caller,
    /// What kind of change (`settings.set`, `job.run`, `action.run`, `rights.grant`, `pupil.read`...).
    pub action: String,
    /// On what (`guestbook.max_length@<structure>`, `guestbook.sign`, `pupil:<id>`).
    pub target: String,
    /// The structure concerned, when there is one: local administrators read their structures' entries.
    #[serde(default)]
    pub structure: Option<StructureId>,
    /// Details (before and after values...).
    pub details: Value,
}

impl AuditEntry {
    /// A new entry at `at`, with a fresh time-ordered id.
    pub fn new(
        at: DateTime<Utc>,
        actor: &Caller,
        action: &str,
        target: &str,
        structure: Option<StructureId>,
        details: Value,
    ) -> Self {
        AuditEntry {
            id: uuid::Uuid::now_v7(),
            at,
            actor: actor.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            structure,
            details,
        }
    }

    /// Where the request came from, when the caller said.
    pub fn origin(&self) -> Option<&str> {
        self.actor.origin()
    }
}

impl Record for AuditEntry {
    const COLLECTION: &'static str = AUDIT;
    fn collection() -> CollectionDef {
        CollectionDef::new(AUDIT, [KeyKind::Uuid])
            .index(IndexDef::new("by_target", [KeyKind::Str, KeyKind::Timestamp]))
            .index(IndexDef::new("by_time", [KeyKind::Timestamp]))
            .index(IndexDef::new("by_actor", [KeyKind::Uuid, KeyKind::Timestamp]))
            .index(IndexDef::new("by_structure", [KeyKind::Uuid, KeyKind::Timestamp]))
    }
    fn id(&self) -> Tuple {
        self.id.into()
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut out = vec![
            IndexEntry { index: "by_target".into(), key: (self.target.as_str(), self.at).into() },
            IndexEntry { index: "by_time".into(), key: (self.at,).into() },
        ];
        if let Some(user) = self.actor.user_id() {
            out.push(IndexEntry { index: "by_actor".into(), key: (user.0, self.at).into() });
        }
        if let Some(structure) = self.structure {
            out.push(IndexEntry { index: "by_structure".into(), key: (structure.0, self.at).into() });
        }
        out
    }
}

/// Writes an audit entry in `tx`, about the caller's structure.
pub(crate) async fn record(
    rt: &Runtime,
    tx: &mut dyn Transaction,
    actor: &Caller,
    action: &str,
    target: &str,
    details: Value,
) -> Result<()> {
    record_in(rt, tx, actor, action, target, actor.structure(), details).await
}

/// Writes an audit entry in `tx`, about `structure`.
pub(crate) async fn record_in(
    rt: &Runtime,
    tx: &mut dyn Transaction,
    actor: &Caller,
    action: &str,
    target: &str,
    structure: Option<StructureId>,
    details: Value,
) -> Result<()> {
    let entry = AuditEntry::new(rt.clock.now(), actor, action, target, structure, details);
    tx.insert_record(&entry).await?;
    Ok(())
}

/// Entries the purge deletes per run at most; a run that hits it schedules another at once, so one
/// transaction never grows with the size of the log.
const PURGE_BATCH: usize = 5_000;

/// The purge job: deletes entries older than [`RETENTION_DAYS`], oldest first.
pub(crate) struct PurgeAudit;

#[async_trait::async_trait]
impl crate::job::JobHandler for PurgeAudit {
    fn kind(&self) -> &str {
        PURGE_JOB
    }

    async fn run(&self, ctx: &mut crate::module::Context<'_>, _job: &crate::job::JobInfo) -> Result<()> {
        let cutoff = ctx.now() - chrono::Duration::days(RETENTION_DAYS);
        let scan = crate::storage::Scan::index(AUDIT, "by_time")
            .range(std::ops::Bound::Unbounded, std::ops::Bound::Excluded((cutoff,).into()))
            .limit(1000)
            .keys_only();
        let mut deleted = 0;
        let mut cursor = None;
        while deleted < PURGE_BATCH {
            let page = ctx.tx().scan(&scan.clone().after(cursor)).await?;
            for entry in &page.entries {
                ctx.tx().delete(AUDIT, &entry.id, None).await?;
                deleted += 1;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
        // More to delete: another run, now, in its own transaction.
        ctx.schedule(crate::job::JobSpec::new(PURGE_JOB, Value::Null)).await?;
        Ok(())
    }
}
