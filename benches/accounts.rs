//! The login path beside the bare argon2id hash, and session validation, on the memory and SQLite
//! adapters.
//!
//! `cargo bench --bench accounts --features sqlite`; figures in `docs/benchmarks.md`.

use std::sync::Arc;

use criterion::{Criterion, criterion_main};
use ent::core::account::{AccountPolicy, Accounts, LoginRequest, hash_password, verify_password};
use ent::core::clock::SystemClock;
use ent::core::directory::*;
use ent::core::storage::{self, Store};
use ent::import::*;
use ent::storage::memory::MemoryStore;
use ent::storage::sqlite::SqliteStore;
use tokio::runtime::Runtime;

const PASSWORD: &str = "correct horse battery staple";

/// One activated pupil account in `store`, and an open session's token.
fn setup(rt: &Runtime, store: Arc<dyn Store>) -> (Accounts, String) {
    rt.block_on(async {
        store.declare(&storage::core_collections()).await.unwrap();
        let batch = Batch {
            source: "bench".into(),
            mode: Mode::Delta,
            year: SchoolYear(2026),
            structures: vec![StructureIn {
                key: "s".into(),
                uai: "0370884K".into(),
                name: "Collège".into(),
                kind: Some(StructureKind::College),
                contract: Some(Contract::Public),
                academie: Some("ORLEANS-TOURS".into()),
                time_zone: Some("Europe/Paris".into()),
                periods: Some(PeriodKind::Trimestres),
                extra: Default::default(),
            }],
            subjects: vec![],
            classes: vec![],
            groups: vec![],
            people: vec![PersonIn {
                key: "p".into(),
                given_name: "Lucas".into(),
                family_name: "Martin".into(),
                birth_date: None,
                email: None,
                affiliations: vec![PersonRef { structure: "s".into(), profile: Profile::Eleve, functions: vec![] }],
                adult: false,
                disabled: false,
                units: vec![],
                teachings: vec![],
                parents: vec![],
                kept_parents: vec![],
                extra: Default::default(),
            }],
            deleted_people: vec![],
            refused_people: vec![],
            changes: vec![],
            deleted_units: vec![],
            states_units: true,
        };
        let clock = Arc::new(SystemClock);
        let report = apply(&*store, &*clock, &batch, &ApplyOptions::default()).await.unwrap();
        let accounts = Accounts::new(store, clock, AccountPolicy::default());
        let opened = accounts.activate(&report.codes[0].code, PASSWORD, None, None).await.unwrap();
        (accounts, opened.token.expose().to_owned())
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let hash = hash_password(PASSWORD).unwrap();
    let mut g = c.benchmark_group("accounts");
    g.sample_size(30);
    g.bench_function("argon2id_verify_alone", |b| b.iter(|| assert!(verify_password(&hash, PASSWORD))));

    let dir = std::env::temp_dir().join(format!("ent-bench-accounts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stores: Vec<(&str, Arc<dyn Store>)> = vec![
        ("memory", Arc::new(MemoryStore::new())),
        ("sqlite", Arc::new(SqliteStore::open(dir.join("bench.db")).unwrap())),
    ];
    for (name, store) in stores {
        let (accounts, token) = setup(&rt, store);
        let request = LoginRequest {
            login: "lucas.martin".into(),
            password: PASSWORD.into(),
            address: Some("10.0.0.1".into()),
            ..Default::default()
        };
        g.bench_function(format!("{name}/login_full_path"), |b| {
            b.iter(|| rt.block_on(async { accounts.login(&request).await.unwrap() }))
        });
        g.bench_function(format!("{name}/session_validation"), |b| {
            b.iter(|| rt.block_on(async { accounts.authenticate(&token).await.unwrap() }))
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
