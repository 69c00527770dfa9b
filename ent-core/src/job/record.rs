//! How a job is stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::caller::SystemScope;
use crate::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};
use crate::{JobId, StructureId};

/// The collection of jobs.
pub const JOBS: &str = "ent.jobs";

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its due time (or running, under a lease).
    Pending,
    /// Given up after its last attempt; kept for operators.
    Failed,
}

/// A job, as stored in `ent.jobs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Its id.
    pub id: JobId,
    /// Its kind.
    pub kind: String,
    /// Its payload.
    pub payload: Value,
    /// When the current occurrence is due (a periodic job's next period starts from here).
    pub scheduled_for: DateTime<Utc>,
    /// When a process may next take it: `scheduled_for`, or the end of a lease, or a retry time.
    pub due_at: DateTime<Utc>,
    /// For a periodic job, its period.
    pub every_seconds: Option<u64>,
    /// Its unique key.
    pub key: Option<String>,
    /// Attempts of the current occurrence so far.
    pub attempts: u32,
    /// Attempts before it is given up.
    pub max_attempts: u32,
    /// Where it stands.
    pub state: JobState,
    /// The process that last claimed it.
    pub lease_owner: Option<String>,
    /// The last failure.
    pub last_error: Option<String>,
    /// The rights its caller may use.
    pub scope: SystemScope,
    /// The structure it acts for.
    pub structure: Option<StructureId>,
}

impl Record for JobRecord {
    const COLLECTION: &'static str = JOBS;

    fn collection() -> CollectionDef {
        CollectionDef::new(JOBS, [KeyKind::Uuid])
            .index(IndexDef::new("due", [KeyKind::Timestamp]))
            .index(IndexDef::new("failed", [KeyKind::Timestamp]))
            .index(IndexDef::new("key", [KeyKind::Str]).unique())
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut entries = Vec::with_capacity(2);
        match self.state {
            JobState::Pending => entries.push(IndexEntry { index: "due".into(), key: (self.due_at,).into() }),
            JobState::Failed => entries.push(IndexEntry { index: "failed".into(), key: (self.due_at,).into() }),
        }
        if let Some(key) = &self.key {
            entries.push(IndexEntry { index: "key".into(), key: (key.as_str(),).into() });
        }
        entries
    }
}
