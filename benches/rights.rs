//! Criterion benchmarks of the rights engine: a check on a warm session, and compiling a teacher's and a
//! central administrator's rights at académie scale.
//!
//! `cargo bench --bench rights`; figures in `docs/benchmarks.md`.
//!
//! Académie scale is built directly in the memory store rather than through the demo feed (1.8 million
//! accounts would take minutes and gigabytes to apply): 1,000 structures, each with 3 classes, 60 pupils
//! with their memberships, 2 roles granted (to a profile and to a function) and one withdrawn default; 40
//! declared rights; a teacher with 6 classes × 2 subjects in one structure; a central administrator.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_main};
use ent::core::authorize::Authorizer;
use ent::core::clock::ManualClock;
use ent::core::directory::*;
use ent::core::module::{Handlers, Manifest, ServiceModule};
use ent::core::rights::guard::{self, PupilFacts};
use ent::core::rights::{Grant, Grantee, RightsEngine, Role, Withdrawal, version};
use ent::core::storage::{Store, TxExt, TxMode};
use ent::core::{Caller, ClassId, Ent, RoleId, StructureId, SubjectId, UserId};
use ent::storage::memory::MemoryStore;
use tokio::runtime::Runtime;

const YEAR: SchoolYear = SchoolYear(2026);
const STRUCTURES: usize = 1_000;
const PUPILS: usize = 60;

struct Rights40;

impl ServiceModule for Rights40 {
    fn manifest(&self) -> Manifest {
        use Profile::*;
        let mut m = Manifest::new("bench", "1.0.0");
        for i in 0..40 {
            let defaults: Vec<Profile> = match i % 4 {
                0 => vec![Eleve, Responsable, Enseignant, Direction],
                1 => vec![Enseignant, Direction, AdminLocal, AdminCentral],
                2 => vec![Direction, VieScolaire, AdminCentral],
                _ => vec![],
            };
            m = m.right(format!("bench.right{i}"), "a right", defaults);
        }
        m
    }
    fn handlers(&self) -> Handlers {
        Handlers::new()
    }
}

fn person(structure: StructureId, profile: Profile, functions: Vec<Function>, login: String) -> User {
    User {
        id: UserId::new(),
        login,
        given_name: "Prénom".into(),
        family_name: "Nom".into(),
        birth_date: None,
        email: None,
        affiliations: vec![Affiliation { structure, profile, functions }],
        adult: false,
        state: AccountState::Active,
        sources: vec![],
        attributes: Default::default(),
    }
}

struct Academie {
    store: MemoryStore,
    ent: Ent,
    engine: Arc<RightsEngine>,
    structures: Vec<StructureId>,
    teacher: UserId,
    admin: UserId,
    pupil: PupilFacts,
    subject: SubjectId,
}

fn academie(rt: &Runtime) -> Academie {
    rt.block_on(async {
        let store = MemoryStore::new();
        let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap());
        let engine = RightsEngine::new(Arc::new(store.clone()), Arc::new(clock.clone()));
        let ent = Ent::builder(Arc::new(store.clone()))
            .clock(Arc::new(clock))
            .authorizer(engine.clone())
            .module(Rights40)
            .build()
            .await
            .unwrap();
        let role_a = Role {
            id: RoleId::new(),
            structure: None,
            name: "a".into(),
            description: String::new(),
            rights: (0..5).map(|i| format!("bench.right{}", i * 4 + 3)).collect(),
        };
        let role_b = Role {
            id: RoleId::new(),
            structure: None,
            name: "b".into(),
            description: String::new(),
            rights: vec!["bench.right7".into(), "bench.right11".into()],
        };
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        tx.insert_record(&role_a).await.unwrap();
        tx.insert_record(&role_b).await.unwrap();
        tx.commit().await.unwrap();
        let admin_caller = Caller::system("bench", ent::core::SystemScope::rights(["*"]));
        let mut structures = Vec::new();
        let (mut teacher, mut admin, mut pupil, mut subject) = (None, None, None, None);
        for s in 0..STRUCTURES {
            let id = StructureId::new();
            structures.push(id);
            let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
            tx.insert_record(&Structure {
                id,
                uai: None,
                name: format!("Collège {s}"),
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
            let classes: Vec<ClassId> = (0..6).map(|_| ClassId::new()).collect();
            for (c, class) in classes.iter().enumerate() {
                tx.insert_record(&Class {
                    id: *class,
                    structure: id,
                    year: YEAR,
                    name: format!("{c}A"),
                    level: None,
                    source: None,
                })
                .await
                .unwrap();
            }
            for p in 0..PUPILS {
                let u = person(id, Profile::Eleve, vec![], format!("eleve.{s}.{p}"));
                let m = Membership {
                    unit: Unit::Class(classes[p % 6]),
                    year: YEAR,
                    user: u.id,
                    structure: id,
                    sort_name: format!("nom {p}"),
                };
                tx.insert_record(&u).await.unwrap();
                tx.insert_record(&m).await.unwrap();
                if s == 0 && p == 0 {
                    pupil = Some(PupilFacts { pupil: u.id, structures: vec![id], units: vec![m.unit] });
                }
            }
            for (role, grantee) in [
                (role_a.id, Grantee::Profile(Profile::Enseignant)),
                (role_b.id, Grantee::Function(Function::ProfesseurPrincipal)),
            ] {
                tx.insert_record(&Grant {
                    structure: id,
                    role,
                    grantee,
                    granted_by: admin_caller.clone(),
                    at: Utc::now(),
                })
                .await
                .unwrap();
            }
            tx.insert_record(&Withdrawal {
                structure: id,
                right: "bench.right0".into(),
                profile: Profile::Eleve,
                by: admin_caller.clone(),
                at: Utc::now(),
            })
            .await
            .unwrap();
            if s == 0 {
                let t = person(id, Profile::Enseignant, vec![Function::ProfesseurPrincipal], "prof".into());
                let subjects = [SubjectId::new(), SubjectId::new()];
                for class in &classes {
                    for sub in subjects {
                        tx.insert_record(&Teaching {
                            teacher: t.id,
                            unit: Unit::Class(*class),
                            subject: sub,
                            year: YEAR,
                            structure: id,
                            principal: false,
                        })
                        .await
                        .unwrap();
                    }
                }
                let a = person(id, Profile::AdminCentral, vec![], "admin".into());
                tx.insert_record(&t).await.unwrap();
                tx.insert_record(&a).await.unwrap();
                teacher = Some(t.id);
                admin = Some(a.id);
                subject = Some(subjects[1]);
            }
            tx.commit().await.unwrap();
        }
        Academie {
            store,
            ent,
            engine,
            structures,
            teacher: teacher.unwrap(),
            admin: admin.unwrap(),
            pupil: pupil.unwrap(),
            subject: subject.unwrap(),
        }
    })
}

fn bump(rt: &Runtime, store: &MemoryStore, user: UserId) {
    rt.block_on(async {
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        version::bump_user(&mut *tx, user).await.unwrap();
        tx.commit().await.unwrap();
    });
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let a = academie(&rt);
    let registry = a.ent.registry();
    let home = a.structures[0];
    let warm = rt.block_on(a.engine.rights(registry, a.teacher, home)).unwrap();
    assert!(warm.holds(home, "bench.right3"));
    assert!(guard::can_read_pupil_subject(&warm, &a.pupil, a.subject));

    let mut g = c.benchmark_group("rights");
    g.bench_function("check on a warm session (holds)", |b| {
        b.iter(|| std::hint::black_box(warm.holds(std::hint::black_box(home), std::hint::black_box("bench.right7"))))
    });
    g.bench_function("guard on a warm session (teacher reads a pupil in a subject)", |b| {
        b.iter(|| std::hint::black_box(guard::can_read_pupil_subject(&warm, &a.pupil, a.subject)))
    });
    let caller = Caller::user(a.teacher, home, [Profile::Enseignant]);
    g.bench_function("engine authorize, warm (reads the two rights versions)", |b| {
        b.to_async(&rt).iter(|| async { a.engine.authorize(registry, &caller, "bench.right7").await.unwrap() })
    });
    g.bench_function("compile a teacher (6 classes x 2 subjects) at academie scale", |b| {
        b.iter_batched(
            || bump(&rt, &a.store, a.teacher),
            |()| rt.block_on(a.engine.rights(registry, a.teacher, home)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("compile a central administrator, one structure", |b| {
        b.iter_batched(
            || bump(&rt, &a.store, a.admin),
            |()| rt.block_on(a.engine.rights(registry, a.admin, home)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.sample_size(10);
    g.bench_function("compile a central administrator in all 1,000 structures", |b| {
        b.iter_batched(
            || bump(&rt, &a.store, a.admin),
            |()| {
                rt.block_on(async {
                    for s in &a.structures {
                        a.engine.rights(registry, a.admin, *s).await.unwrap();
                    }
                })
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
