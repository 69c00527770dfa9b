//! Events: written with the change, delivered after commit, at least once, in order per source, never for a
//! rolled-back change, never lost by a crash.

use ent::core::directory::Profile;
use ent::core::{Error, StructureId};
use ent::storage::memory::MemoryStore;
use guestbook::{Guestbook, ListInput, Signature, signed_counter};

use crate::fixture::{Probe, Thing, assemble, census, clock, counter, user};
use ent::core::storage::Record;

#[tokio::test]
async fn an_event_is_delivered_after_commit_once() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let structure = StructureId::new();
    let pupil = user(structure, Profile::Eleve);
    Guestbook::sign(&ent, &pupil, "un").await.unwrap();
    Guestbook::sign(&ent, &pupil, "deux").await.unwrap();
    assert_eq!(counter(&store, Signature::COLLECTION, signed_counter(structure)).await, 0, "not before delivery");

    let report = ent.run_pending_events().await.unwrap();
    assert_eq!((report.delivered, report.failed), (2, 0));
    assert_eq!(counter(&store, Signature::COLLECTION, signed_counter(structure)).await, 2);
    assert_eq!(ent.run_pending_events().await.unwrap().delivered, 0, "each event once");
    assert_eq!(Guestbook::list(&ent, &pupil, ListInput { limit: 5 }).await.unwrap().total, 2);
}

#[tokio::test]
async fn a_rolled_back_change_sends_no_event() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let teacher = user(StructureId::new(), Profile::Enseignant);
    let before = census(&store).await;

    // The action wrote a record and emitted, then failed: both roll back.
    let err = ent.call(&teacher, "probe.touch", r#"{"n": 1, "fail": true}"#).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }));
    let err = ent.call(&teacher, "probe.touch", r#"{"n": 2, "panic": true}"#).await.unwrap_err();
    assert!(matches!(err, Error::Panicked { .. }));
    assert_eq!(census(&store).await, before);
    assert_eq!(ent.run_pending_events().await.unwrap().delivered, 0);
    assert!(probe.state.seen.lock().unwrap().is_empty(), "the subscriber never saw them");
}

#[tokio::test]
async fn a_killed_process_delivers_its_committed_events_after_restart() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let structure = StructureId::new();
    let pupil = user(structure, Profile::Eleve);
    {
        let ent = assemble(&store, &clock, &probe).await;
        for message in ["un", "deux", "trois"] {
            Guestbook::sign(&ent, &pupil, message).await.unwrap();
        }
        // The process dies here: no delivery ran.
    }
    assert_eq!(counter(&store, Signature::COLLECTION, signed_counter(structure)).await, 0);

    let ent = assemble(&store, &clock, &probe).await;
    assert_eq!(ent.run_pending_events().await.unwrap().delivered, 3);
    assert_eq!(counter(&store, Signature::COLLECTION, signed_counter(structure)).await, 3);
}

#[tokio::test]
async fn a_failing_subscriber_is_retried_with_backoff_and_keeps_its_source_in_order() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let teacher = user(StructureId::new(), Profile::Enseignant);
    for n in 1..=3 {
        ent.call(&teacher, "probe.touch", &format!(r#"{{"n": {n}, "source": "a"}}"#)).await.unwrap();
    }
    ent.call(&teacher, "probe.touch", r#"{"n": 10, "source": "b"}"#).await.unwrap();

    probe.state.subscriber_failures.store(1, std::sync::atomic::Ordering::SeqCst);
    let report = ent.run_pending_events().await.unwrap();
    // The first event of `a` failed, so `a` waits; `b` is independent.
    assert_eq!((report.delivered, report.failed), (1, 1));
    let delivered = counter(&store, Thing::COLLECTION, ("delivered",).into()).await;
    assert_eq!(delivered, 1, "the failed attempt's write rolled back");
    assert_eq!(ent.run_pending_events().await.unwrap().delivered, 0, "waits for its retry time");

    clock.advance(chrono::Duration::seconds(10));
    assert_eq!(ent.run_pending_events().await.unwrap().delivered, 3);
    let seen = probe.state.seen.lock().unwrap().clone();
    let a: Vec<(i64, u32)> = seen.iter().filter(|(s, ..)| s == "a").map(|(_, seq, n)| (*seq, *n)).collect();
    assert_eq!(a, [(1, 1), (1, 1), (2, 2), (3, 3)], "the failed one again, then in order");
    assert_eq!(counter(&store, Thing::COLLECTION, ("delivered",).into()).await, 4);
}

#[tokio::test]
async fn two_processes_delivering_together_handle_each_event_once() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let first = assemble(&store, &clock, &probe).await;
    let second = assemble(&store, &clock, &probe).await;
    let teacher = user(StructureId::new(), Profile::Enseignant);
    for n in 0..20 {
        let source = format!("s{}", n % 4);
        let ent = if n % 2 == 0 { &first } else { &second };
        ent.call(&teacher, "probe.touch", &format!(r#"{{"n": {n}, "source": "{source}"}}"#)).await.unwrap();
    }
    let (a, b) = tokio::join!(first.run_pending_events(), second.run_pending_events());
    assert_eq!(a.unwrap().delivered + b.unwrap().delivered, 20);
    assert_eq!(counter(&store, Thing::COLLECTION, ("delivered",).into()).await, 20, "each handled once");
    for source in ["s0", "s1", "s2", "s3"] {
        let seen = probe.state.seen.lock().unwrap().clone();
        let mut seqs: Vec<i64> = seen.iter().filter(|(s, ..)| s == source).map(|(_, seq, _)| *seq).collect();
        seqs.dedup();
        assert_eq!(seqs, [1, 2, 3, 4, 5], "source {source} in order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_deliver_in_the_background() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let structure = StructureId::new();
    let pupil = user(structure, Profile::Eleve);
    let workers = ent.spawn_workers(std::time::Duration::from_secs(3600));
    Guestbook::sign(&ent, &pupil, "bonjour").await.unwrap();
    // Woken by the commit, not by the (hour-long) poll: wait for the effect without sleeping.
    let mut waited = 0;
    while counter(&store, Signature::COLLECTION, signed_counter(structure)).await == 0 {
        tokio::task::yield_now().await;
        waited += 1;
        assert!(waited < 1_000_000, "the workers never delivered");
    }
    assert!(workers.last_error().is_none());
    workers.stop().await;
}
