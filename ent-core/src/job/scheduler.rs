//! Finding due jobs, claiming them with a lease, running them, retrying or rescheduling them.

use std::ops::Bound;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::record::{JOBS, JobRecord, JobState};
use super::{Backoff, JobInfo};
use crate::audit;
use crate::caller::Caller;
use crate::ent::Runtime;
use crate::module::Context;
use crate::module::context::guard;
use crate::storage::{Element, Scan, Tuple, TxExt, TxMode};
use crate::{Error, Result};

const PAGE: usize = 64;

/// What a round of jobs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Occurrences that ran and completed.
    pub completed: usize,
    /// Attempts that failed (and were rescheduled with backoff, or given up).
    pub failed: usize,
    /// One-off jobs given up after their last attempt.
    pub given_up: usize,
}

/// Runs every job due now, until none is left. A job that fails is rescheduled later, so this ends.
pub(crate) async fn run_due(rt: &Arc<Runtime>) -> Result<JobReport> {
    let mut report = JobReport::default();
    loop {
        let now = rt.clock.now();
        let ids: Vec<Tuple> = {
            let mut tx = rt.store.begin(TxMode::ReadOnly).await?;
            let scan = Scan::index(JOBS, "due")
                .range(Bound::Unbounded, Bound::Included((now,).into()))
                .limit(PAGE)
                .keys_only();
            tx.scan(&scan).await?.entries.into_iter().map(|e| e.id).collect()
        };
        if ids.is_empty() {
            return Ok(report);
        }
        let mut claimed_any = false;
        for id in ids {
            if let Some((job, version)) = claim(rt, id, now).await? {
                claimed_any = true;
                run_one(rt, job, version, &mut report).await?;
            }
        }
        if !claimed_any {
            return Ok(report);
        }
    }
}

/// Takes a due job: moves its due time to the end of a lease and counts the attempt. Returns the job and
/// its new version, or `None` if another process took it first.
async fn claim(rt: &Arc<Runtime>, id: Tuple, now: DateTime<Utc>) -> Result<Option<(JobRecord, u64)>> {
    let rt2 = rt.clone();
    rt.retry
        .run(&*rt.store, TxMode::ReadWrite, move |tx| {
            let (rt, id) = (rt2.clone(), id.clone());
            Box::pin(async move {
                let Some(mut job) = tx.get_record::<JobRecord>(id).await? else { return Ok(None) };
                if job.value.state != JobState::Pending || job.value.due_at > now {
                    return Ok(None);
                }
                if rt.registry.job(&job.value.kind).is_none() {
                    // Its module is not in this assembly: look again later rather than block the queue.
                    job.value.due_at = now + chrono::Duration::hours(1);
                    job.value.last_error = Some(format!("no handler for job kind `{}`", job.value.kind));
                    tx.update_record(job.version, &job.value).await?;
                    return Ok(None);
                }
                job.value.attempts += 1;
                job.value.lease_owner = Some(rt.worker.clone());
                job.value.due_at = now + chrono::Duration::from_std(rt.lease).unwrap_or(chrono::Duration::MAX);
                let version = tx.update_record(job.version, &job.value).await?;
                Ok(Some((job.value, version)))
            })
        })
        .await
}

/// The first period boundary after `now`.
fn next_slot(scheduled_for: DateTime<Utc>, every_seconds: u64, now: DateTime<Utc>) -> DateTime<Utc> {
    let every = every_seconds.max(1) as i64;
    let elapsed = (now - scheduled_for).num_seconds().max(0);
    scheduled_for + chrono::Duration::seconds((elapsed / every + 1) * every)
}

async fn run_one(rt: &Arc<Runtime>, job: JobRecord, version: u64, report: &mut JobReport) -> Result<()> {
    let Some(entry) = rt.registry.job(&job.kind).cloned() else { return Ok(()) };
    let job = Arc::new(job);
    let (rt2, job2) = (rt.clone(), job.clone());
    let result = rt
        .retry
        .run(&*rt.store, TxMode::ReadWrite, move |tx| {
            let (rt, job, entry) = (rt2.clone(), job2.clone(), entry.clone());
            Box::pin(async move {
                let mut caller = Caller::system(format!("job:{}", job.kind), job.scope.clone());
                if let Some(structure) = job.structure {
                    caller = caller.in_structure(structure);
                }
                let info = JobInfo {
                    id: job.id,
                    kind: job.kind.clone(),
                    payload: job.payload.clone(),
                    scheduled_for: job.scheduled_for,
                    attempt: job.attempts,
                };
                let what = format!("job {}", job.kind);
                let mut ctx = Context { rt: &rt, caller: &caller, module: &entry.module, tx: &mut *tx };
                guard(&what, entry.handler.run(&mut ctx, &info)).await?;
                audit::record(
                    &rt,
                    &mut *tx,
                    &caller,
                    "job.run",
                    &job.kind,
                    json!({ "job": job.id, "attempt": job.attempts }),
                )
                .await?;
                // Completing is a version-checked write: if the lease expired and another process took the
                // job, this fails and the handler's writes roll back with it.
                match job.every_seconds {
                    Some(every) => {
                        let next = next_slot(job.scheduled_for, every, rt.clock.now());
                        let done = JobRecord {
                            scheduled_for: next,
                            due_at: next,
                            attempts: 0,
                            lease_owner: None,
                            last_error: None,
                            ..(*job).clone()
                        };
                        tx.update_record(version, &done).await?;
                    }
                    None => {
                        tx.delete_record::<JobRecord>(job.id, Some(version)).await?;
                    }
                }
                Ok(())
            })
        })
        .await;
    match result {
        Ok(()) => report.completed += 1,
        Err(error) => {
            report.failed += 1;
            if record_failure(rt, &job, version, &error).await? {
                report.given_up += 1;
            }
        }
    }
    Ok(())
}

/// Reschedules a failed attempt with backoff, or gives a one-off job up after its last attempt (a periodic
/// job moves on to its next period instead). Returns whether the job was given up.
async fn record_failure(rt: &Runtime, job: &JobRecord, version: u64, error: &Error) -> Result<bool> {
    let now = rt.clock.now();
    let mut next = job.clone();
    next.lease_owner = None;
    next.last_error = Some(error.to_string());
    let mut given_up = false;
    if job.attempts >= job.max_attempts {
        match job.every_seconds {
            Some(every) => {
                next.scheduled_for = next_slot(job.scheduled_for, every, now);
                next.due_at = next.scheduled_for;
                next.attempts = 0;
            }
            None => {
                next.state = JobState::Failed;
                given_up = true;
            }
        }
    } else {
        next.due_at = now + Backoff::default().delay(job.attempts);
    }
    let mut tx = rt.store.begin(TxMode::ReadWrite).await?;
    let written = match tx.update_record(version, &next).await {
        Ok(_) => tx.commit().await,
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => Ok(given_up),
        // The lease was lost to another process (or the job is gone): that process owns it now.
        Err(Error::Conflict { .. } | Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Makes sure each periodic job kind of the assembly has one scheduled instance, keyed by its kind.
pub(crate) async fn ensure_periodic(rt: &Arc<Runtime>) -> Result<()> {
    let periodic: Vec<(String, u64)> =
        rt.registry.jobs().filter_map(|(kind, e)| e.every_seconds.map(|s| (kind.clone(), s))).collect();
    for (kind, every) in periodic {
        ensure_scheduled(rt, &kind, every).await?;
    }
    Ok(())
}

/// Makes sure one instance of the periodic job `kind` is scheduled, keyed by its kind.
pub(crate) async fn ensure_scheduled(rt: &Arc<Runtime>, kind: &str, every: u64) -> Result<()> {
    let mut tx = rt.store.begin(TxMode::ReadWrite).await?;
    let exists = tx.count(&Scan::index(JOBS, "key").prefix(Tuple::from(vec![Element::Str(kind.to_owned())]))).await?;
    if exists > 0 {
        return Ok(());
    }
    let first = rt.clock.now() + chrono::Duration::seconds(every as i64);
    let spec = super::JobSpec::new(kind, serde_json::Value::Null)
        .at(first)
        .every(std::time::Duration::from_secs(every))
        .key(kind);
    let scheduled = match super::schedule(rt, &mut *tx, spec).await {
        Ok(_) => tx.commit().await,
        Err(e) => Err(e),
    };
    match scheduled {
        // Another process scheduled it at the same moment.
        Err(Error::Duplicate { .. } | Error::Conflict { .. }) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}
