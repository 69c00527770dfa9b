//! Jobs: a durable scheduler in the store. A job runs at a time, optionally repeats, is retried with
//! backoff when it fails, and runs under a system caller whose scope is the scheduling module's rights
//! unless given explicitly.
//!
//! Guarantees, on every adapter:
//! - **at least once**: a job is claimed with a lease (a record update in a serializable transaction), and
//!   its handler's writes commit in the same transaction that completes it; a process that dies mid-run
//!   leaves the lease to expire and the job runs again, so handlers are idempotent for effects outside the
//!   store;
//! - two processes never both complete one occurrence: the completion is a version-checked update;
//! - a job that fell due while no process ran runs when one comes back, **once**: a periodic job then
//!   continues from its next period after now, it does not run once per missed period.
//!
//! ```
//! use ent_core::job::JobSpec;
//! use std::time::Duration;
//! let nightly = JobSpec::new("guestbook.digest", serde_json::json!({}))
//!     .every(Duration::from_secs(24 * 3600))
//!     .key("guestbook.digest");
//! assert_eq!(nightly.kind, "guestbook.digest");
//! ```

pub mod record;
pub mod scheduler;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::caller::SystemScope;
use crate::ent::Runtime;
use crate::module::Context;
use crate::storage::{Transaction, TxExt};
use crate::{Error, JobId, Result, StructureId};

pub use record::{JOBS, JobRecord, JobState};
pub use scheduler::JobReport;

/// A job to schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// The kind (`module.job_name`), declared in the module's manifest.
    pub kind: String,
    /// What the handler receives.
    pub payload: Value,
    /// When it is due; now if `None`.
    pub at: Option<DateTime<Utc>>,
    /// For a periodic job, its period.
    pub every: Option<Duration>,
    /// A unique key: scheduling a second job with the same key fails with [`Error::Duplicate`].
    pub key: Option<String>,
    /// Attempts before a one-off job is given up (its record stays, in state `failed`).
    pub max_attempts: u32,
    /// The rights the job's system caller may use; the module's own rights if `None`.
    pub scope: Option<SystemScope>,
    /// The structure it acts for, if one.
    pub structure: Option<StructureId>,
}

impl JobSpec {
    /// A job of `kind`, due now, one-off, five attempts.
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        JobSpec {
            kind: kind.into(),
            payload,
            at: None,
            every: None,
            key: None,
            max_attempts: 5,
            scope: None,
            structure: None,
        }
    }

    /// Due at `at`.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }

    /// Repeats every `period`.
    pub fn every(mut self, period: Duration) -> Self {
        self.every = Some(period);
        self
    }

    /// Sets a unique key.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the number of attempts.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the system caller's scope explicitly.
    pub fn scope(mut self, scope: SystemScope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Limits the job to a structure.
    pub fn structure(mut self, structure: StructureId) -> Self {
        self.structure = Some(structure);
        self
    }
}

/// What a job handler receives.
#[derive(Debug, Clone, PartialEq)]
pub struct JobInfo {
    /// The job's id.
    pub id: JobId,
    /// Its kind.
    pub kind: String,
    /// Its payload.
    pub payload: Value,
    /// The instant this occurrence was due.
    pub scheduled_for: DateTime<Utc>,
    /// 1 for the first attempt of this occurrence.
    pub attempt: u32,
}

/// Runs jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The kind, as declared in the manifest's `jobs`.
    fn kind(&self) -> &str;

    /// Runs one occurrence, in a transaction that also completes it. An error rolls back and the job is
    /// retried with backoff.
    async fn run(&self, ctx: &mut Context<'_>, job: &JobInfo) -> Result<()>;
}

/// Exponential backoff: `base`, then doubling, up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_secs(10), max: Duration::from_secs(3600) }
    }
}

impl Backoff {
    /// The delay after the `attempts`-th failure (1 for the first).
    ///
    /// ```
    /// use ent_core::job::Backoff;
    /// let b = Backoff::default();
    /// assert_eq!(b.delay(1).num_seconds(), 10);
    /// assert_eq!(b.delay(2).num_seconds(), 20);
    /// assert_eq!(b.delay(30).num_seconds(), 3600);
    /// ```
    pub fn delay(&self, attempts: u32) -> chrono::Duration {
        let d = self.base.saturating_mul(1 << attempts.saturating_sub(1).min(20)).min(self.max);
        chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
    }
}

/// Schedules a job in `tx`.
pub(crate) async fn schedule(rt: &Runtime, tx: &mut dyn Transaction, spec: JobSpec) -> Result<JobId> {
    let Some(entry) = rt.registry.job(&spec.kind) else {
        return Err(Error::not_found("job kind", &spec.kind));
    };
    let now = rt.clock.now();
    let due = spec.at.unwrap_or(now);
    let record = JobRecord {
        id: JobId::new(),
        kind: spec.kind,
        payload: spec.payload,
        scheduled_for: due,
        due_at: due,
        every_seconds: spec.every.map(|d| d.as_secs().max(1)),
        key: spec.key,
        attempts: 0,
        max_attempts: spec.max_attempts,
        state: JobState::Pending,
        lease_owner: None,
        last_error: None,
        scope: spec.scope.unwrap_or_else(|| SystemScope::module(&entry.module)),
        structure: spec.structure,
    };
    tx.insert_record(&record).await?;
    Ok(record.id)
}
