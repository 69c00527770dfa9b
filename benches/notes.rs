//! The notes module: a class's averages for a period — 30 pupils × 10 subjects × 25 evaluations (7,500
//! grades) — on SQLite (a file, the embedded default) and on the memory adapter: the whole
//! `notes.class_averages` action (rights, reads, engine, audit of 30 staff reads), a pupil's period, and
//! the engine alone on records already read.
//!
//! `cargo bench --bench notes --features sqlite,notes`; figures in `docs/benchmarks.md`.
//!
//! On a shared, loaded machine wall-clock times measure the load as much as the code: with
//! `ENT_BENCH_CPU=1` the benchmark also prints, per action, the CPU time the benchmarking thread spent per
//! call (from `/proc/thread-self/schedstat`, Linux; every call runs on that thread: current-thread runtime,
//! SQLite driven inline).

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use criterion::{Criterion, criterion_main};
use ent::core::clock::{Clock, ManualClock};
use ent::core::directory::*;
use ent::core::rights::RightsEngine;
use ent::core::storage::{Record, Store, TxExt, TxMode};
use ent::core::{Caller, ClassId, Ent, StructureId, SubjectId, UserId};
use ent::modules::notes::rules::{Kind, Mark, OptionalRule, Status, SubjectMode};
use ent::modules::notes::views::compute_class;
use ent::modules::notes::{
    ClassAveragesAction, ClassAveragesInput, Evaluation, EvaluationId, Grade, Hundredths, Notes, PupilPeriodAction,
    PupilPeriodInput,
};
use ent::storage::memory::MemoryStore;
use ent::storage::sqlite::SqliteStore;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PUPILS: usize = 30;
const SUBJECTS: usize = 10;
const EVALUATIONS: usize = 25;
const YEAR: SchoolYear = SchoolYear(2026);

struct Fixture {
    ent: Ent,
    store: Arc<dyn Store>,
    direction: Caller,
    pupil: Caller,
    class: ClassId,
    evaluations: Vec<Evaluation>,
    pupils: Vec<UserId>,
}

fn person(structure: StructureId, i: usize, profile: Profile) -> User {
    User {
        id: UserId::new(),
        login: format!("{}.{i}", profile.as_str()),
        given_name: format!("Prénom{i}"),
        family_name: format!("Nom{i:03}"),
        birth_date: None,
        email: None,
        affiliations: vec![Affiliation { structure, profile, functions: vec![] }],
        adult: false,
        state: AccountState::Active,
        sources: vec![],
        attributes: Default::default(),
    }
}

async fn fixture(store: Arc<dyn Store>) -> Fixture {
    let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap());
    let engine = RightsEngine::new(store.clone(), Arc::new(clock.clone()));
    let ent = Ent::builder(store.clone())
        .clock(Arc::new(clock.clone()))
        .authorizer(engine)
        .module(Notes)
        .build()
        .await
        .unwrap();
    let structure = StructureId::new();
    let class = ClassId::new();
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert_record(&Structure {
        id: structure,
        uai: Some("0370884K".parse().unwrap()),
        name: "Collège".into(),
        kind: StructureKind::College,
        contract: Contract::Public,
        academie: "ORLEANS-TOURS".into(),
        time_zone: "Europe/Paris".into(),
        parent: None,
        periods: PeriodKind::Trimestres,
        source: None,
        attributes: Default::default(),
    })
    .await
    .unwrap();
    tx.insert_record(&Class { id: class, structure, year: YEAR, name: "3A".into(), level: None, source: None })
        .await
        .unwrap();
    let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
    tx.insert_record(&Period {
        structure,
        year: YEAR,
        index: 1,
        start: d(9, 1),
        end: d(11, 30),
        council: None,
        closed: false,
    })
    .await
    .unwrap();
    let direction = person(structure, 0, Profile::Direction);
    tx.insert_record(&direction).await.unwrap();
    let mut pupils = Vec::new();
    for i in 0..PUPILS {
        let p = person(structure, i, Profile::Eleve);
        tx.insert_record(&p).await.unwrap();
        let sort_name = format!("{} {}", p.family_name.to_lowercase(), p.given_name.to_lowercase());
        tx.insert_record(&Membership { unit: Unit::Class(class), year: YEAR, user: p.id, structure, sort_name })
            .await
            .unwrap();
        pupils.push(p.id);
    }
    pupils.sort();
    let now = clock.now();
    let mut evaluations = Vec::new();
    for s in 0..SUBJECTS {
        let subject = SubjectId::new();
        tx.insert_record(&Subject {
            id: subject,
            structure,
            code: format!("{s:06}"),
            label: format!("Matière {s}"),
            source: None,
        })
        .await
        .unwrap();
        let teacher = person(structure, s, Profile::Enseignant);
        tx.insert_record(&teacher).await.unwrap();
        for k in 0..EVALUATIONS {
            let scale = [10, 20, 20, 20, 40][k % 5];
            let kind = match k % 12 {
                5 => Kind::Optional,
                11 => Kind::Bonus,
                _ => Kind::Normal,
            };
            let grades = pupils
                .iter()
                .map(|&pupil| {
                    let mark = match rng.random_range(0..40) {
                        0 => Mark::Status(Status::Absent),
                        1 => Mark::Status(Status::AbsentZero),
                        _ => Mark::Value(Hundredths(rng.random_range(0..=scale * 100) / 25 * 25)),
                    };
                    Grade { pupil, mark, comment: None }
                })
                .collect();
            let e = Evaluation {
                id: EvaluationId::new(),
                structure,
                year: YEAR,
                period: 1,
                unit: Unit::Class(class),
                subject,
                teacher: teacher.id,
                date: d(10, 1 + k as u32),
                title: format!("Devoir {k}"),
                scale,
                coefficient: Hundredths([100, 100, 200, 50, 150][k % 5]),
                kind,
                publish_at: now,
                published: true,
                classes: vec![class],
                grades,
                created_at: now,
                updated_at: now,
            };
            tx.insert_record(&e).await.unwrap();
            evaluations.push(e);
        }
    }
    tx.commit().await.unwrap();
    Fixture {
        ent,
        store,
        direction: Caller::user(direction.id, structure, [Profile::Direction]),
        pupil: Caller::user(pupils[0], structure, [Profile::Eleve]),
        class,
        evaluations,
        pupils,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut g = c.benchmark_group("notes");
    g.sample_size(30);
    let dir = std::env::temp_dir().join(format!("ent-bench-notes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stores: Vec<(&str, Arc<dyn Store>)> = vec![
        ("sqlite", Arc::new(SqliteStore::open(dir.join("bench.db")).unwrap())),
        ("memory", Arc::new(MemoryStore::new())),
    ];
    let mut engine_alone = None;
    for (name, store) in stores {
        let f = rt.block_on(fixture(store));
        let input = ClassAveragesInput { class: f.class, period: 1 };
        // Correctness first: every pupil has a general average.
        let table = rt.block_on(f.ent.run::<ClassAveragesAction>(&f.direction, input.clone())).unwrap();
        assert_eq!(table.pupils.len(), PUPILS);
        assert_eq!(table.subjects.len(), SUBJECTS);
        assert!(table.pupils.iter().all(|p| p.general.is_some()));
        g.bench_function(format!("{name}/class_averages_30x10x25"), |b| {
            b.iter(|| rt.block_on(f.ent.run::<ClassAveragesAction>(&f.direction, input.clone())).unwrap())
        });
        let scan = ent::core::storage::Scan::index(Evaluation::COLLECTION, "by_class")
            .prefix((f.class.0, i64::from(YEAR.0), 1i64))
            .limit(1000);
        g.bench_function(format!("{name}/read_class_period_records"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut tx = f.store.begin(TxMode::ReadOnly).await.unwrap();
                    let (page, _) = tx.scan_records::<Evaluation>(&scan).await.unwrap();
                    assert_eq!(page.len(), SUBJECTS * EVALUATIONS);
                })
            })
        });
        let pupil_input = PupilPeriodInput { pupil: None, year: None, period: 1 };
        g.bench_function(format!("{name}/pupil_period_with_class_stats"), |b| {
            b.iter(|| rt.block_on(f.ent.run::<PupilPeriodAction>(&f.pupil, pupil_input.clone())).unwrap())
        });
        if std::env::var_os("ENT_BENCH_CPU").is_some() {
            let per_call = cpu_per_call(200, || {
                rt.block_on(f.ent.run::<ClassAveragesAction>(&f.direction, input.clone())).unwrap();
            });
            eprintln!("notes/{name}/class_averages_30x10x25: {per_call:.2} ms of CPU per call");
            let per_call = cpu_per_call(200, || {
                rt.block_on(f.ent.run::<PupilPeriodAction>(&f.pupil, pupil_input.clone())).unwrap();
            });
            eprintln!("notes/{name}/pupil_period_with_class_stats: {per_call:.2} ms of CPU per call");
        }
        engine_alone.get_or_insert((f.evaluations, f.pupils));
    }
    let (evaluations, pupils) = engine_alone.unwrap();
    g.bench_function("engine_alone/class_averages_30x10x25", |b| {
        b.iter(|| {
            compute_class(
                &evaluations,
                &pupils,
                |_| (Hundredths::units(1), SubjectMode::Rescaled),
                OptionalRule::NeverLower,
            )
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

/// The CPU time this thread spent on the CPU, in nanoseconds (Linux).
fn thread_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux's /proc/thread-self/schedstat");
    text.split_whitespace().next().and_then(|n| n.parse().ok()).expect("schedstat starts with nanoseconds on CPU")
}

/// Milliseconds of this thread's CPU per call of `f`, over `calls` calls.
fn cpu_per_call(calls: u32, mut f: impl FnMut()) -> f64 {
    let start = thread_cpu_ns();
    for _ in 0..calls {
        f();
    }
    (thread_cpu_ns() - start) as f64 / f64::from(calls) / 1e6
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
