//! Jobs: durable, run at their time under a system caller, retried with backoff, repeated, and run once
//! when they fell due while no process ran.

use std::time::Duration;

use ent::core::clock::Clock;
use ent::core::directory::Profile;
use ent::core::job::{JOBS, JobRecord, JobSpec, JobState};
use ent::core::storage::{Record, Scan, Store, TxExt, TxMode};
use ent::core::{Caller, Error, StructureId, SystemScope};
use ent::storage::memory::MemoryStore;
use guestbook::{Guestbook, ListInput, PurgePayload, Signature};

use crate::fixture::{Probe, Thing, assemble, clock, counter, user};

fn purge(structure: StructureId) -> JobSpec {
    JobSpec::new("guestbook.purge", serde_json::to_value(PurgePayload { structure, older_than_days: 30 }).unwrap())
}

async fn jobs(store: &MemoryStore) -> Vec<JobRecord> {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    tx.scan_records::<JobRecord>(&Scan::primary(JOBS)).await.unwrap().0.into_iter().map(|v| v.value).collect()
}

#[tokio::test]
async fn a_job_runs_at_its_time_under_the_system_caller() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let structure = StructureId::new();
    let pupil = user(structure, Profile::Eleve);
    Guestbook::sign(&ent, &pupil, "ancien").await.unwrap();
    clock.advance(chrono::Duration::days(40));
    Guestbook::sign(&ent, &pupil, "récent").await.unwrap();

    ent.schedule(purge(structure).at(clock.now() + chrono::Duration::hours(1))).await.unwrap();
    assert_eq!(ent.run_due_jobs().await.unwrap().completed, 0, "not yet due");
    clock.advance(chrono::Duration::hours(1));
    assert_eq!(ent.run_due_jobs().await.unwrap().completed, 1);

    let left = Guestbook::list(&ent, &pupil, ListInput { limit: 10 }).await.unwrap().signatures;
    assert_eq!(left.iter().map(|s| s.message.as_str()).collect::<Vec<_>>(), ["récent"]);
    assert!(jobs(&store).await.is_empty(), "a one-off job is gone once done");
    let trail = ent.audit_trail("guestbook.purge", 10).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].actor, Caller::system("job:guestbook.purge", SystemScope::module("guestbook")));
}

#[tokio::test]
async fn a_job_due_during_downtime_runs_once_on_restart() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let structure = StructureId::new();
    {
        let ent = assemble(&store, &clock, &probe).await;
        ent.schedule(purge(structure).at(clock.now() + chrono::Duration::hours(1))).await.unwrap();
        ent.schedule(
            JobSpec::new("probe.chore", serde_json::Value::Null)
                .at(clock.now() + chrono::Duration::hours(1))
                .every(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    }
    // Nothing runs for five and a half hours.
    clock.advance(chrono::Duration::minutes(330));

    let ent = assemble(&store, &clock, &probe).await;
    assert_eq!(ent.run_due_jobs().await.unwrap().completed, 2, "each due job once");
    assert_eq!(ent.run_due_jobs().await.unwrap().completed, 0);
    assert_eq!(counter(&store, Signature::COLLECTION, ("purges", structure).into()).await, 1);
    assert_eq!(counter(&store, Thing::COLLECTION, ("chores",).into()).await, 1, "not once per missed hour");

    // The periodic job continues from its next period after now.
    let periodic = jobs(&store).await;
    assert_eq!(periodic.len(), 1);
    assert_eq!(periodic[0].scheduled_for, "2026-09-07T14:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    clock.advance(chrono::Duration::minutes(30));
    assert_eq!(ent.run_due_jobs().await.unwrap().completed, 1);
    assert_eq!(counter(&store, Thing::COLLECTION, ("chores",).into()).await, 2);
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_then_given_up() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    probe.state.job_failures.store(10, std::sync::atomic::Ordering::SeqCst);
    ent.schedule(JobSpec::new("probe.chore", serde_json::Value::Null).max_attempts(2)).await.unwrap();

    let report = ent.run_due_jobs().await.unwrap();
    assert_eq!((report.completed, report.failed, report.given_up), (0, 1, 0));
    assert_eq!(ent.run_due_jobs().await.unwrap().failed, 0, "waits for its backoff");
    assert_eq!(counter(&store, Thing::COLLECTION, ("chores",).into()).await, 0, "a failed run's writes roll back");

    clock.advance(chrono::Duration::seconds(10));
    let report = ent.run_due_jobs().await.unwrap();
    assert_eq!((report.failed, report.given_up), (1, 1));
    let stored = jobs(&store).await;
    assert_eq!(stored[0].state, JobState::Failed);
    assert!(stored[0].last_error.as_deref().unwrap().contains("told to fail"));
    clock.advance(chrono::Duration::days(1));
    assert_eq!(ent.run_due_jobs().await.unwrap(), Default::default(), "given up for good");
}

#[tokio::test]
async fn a_job_whose_process_died_runs_again_after_its_lease() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    ent.schedule(JobSpec::new("probe.chore", serde_json::Value::Null)).await.unwrap();
    // A process claims the job (the lease moves its due time) and dies before completing it.
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    let (claimed, _) = tx.scan_records::<JobRecord>(&Scan::primary(JOBS)).await.unwrap();
    let mut job = claimed.into_iter().next().unwrap();
    job.value.lease_owner = Some("dead-process".into());
    job.value.attempts = 1;
    job.value.due_at = clock.now() + chrono::Duration::minutes(5);
    tx.update_record(job.version, &job.value).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(ent.run_due_jobs().await.unwrap().completed, 0, "leased");
    clock.advance(chrono::Duration::minutes(5));
    assert_eq!(ent.run_due_jobs().await.unwrap().completed, 1);
    assert_eq!(counter(&store, Thing::COLLECTION, ("chores",).into()).await, 1);
}

#[tokio::test]
async fn an_unknown_job_kind_is_refused() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let err = ent.schedule(JobSpec::new("guestbook.nope", serde_json::Value::Null)).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(jobs(&store).await.is_empty());
    let _ = <JobRecord as Record>::COLLECTION;
}
