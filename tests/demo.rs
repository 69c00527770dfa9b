//! The demo generator through the apply path: a realistic school whose every query answers what the
//! generator put in it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use ent::core::clock::ManualClock;
use ent::core::directory::query::{self, Responsables};
use ent::core::directory::*;
use ent::core::storage::{self, Record, Scan, Store, TxExt, TxMode};
use ent::import::demo::{Demo, DemoConfig};
use ent::import::*;
use ent::storage::memory::MemoryStore;

async fn load(config: DemoConfig) -> (MemoryStore, Vec<Batch>, Vec<Report>) {
    let store = MemoryStore::new();
    store.declare(&storage::core_collections()).await.unwrap();
    let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 8, 28, 6, 0, 0).unwrap());
    let batches: Vec<Batch> = Demo::new(config).batches().collect();
    let mut reports = Vec::new();
    for b in &batches {
        reports.push(apply(&store, &clock, b, &ApplyOptions::default()).await.unwrap());
    }
    (store, batches, reports)
}

async fn by_key(store: &MemoryStore, key: &str) -> User {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let scan = Scan::index(User::COLLECTION, "by_source").prefix(("demo", key)).limit(1);
    tx.scan_records::<User>(&scan).await.unwrap().0.remove(0).value
}

#[tokio::test]
async fn a_generated_college_answers_every_query_as_generated() {
    let (store, batches, reports) = load(DemoConfig::college()).await;
    let (batch, report) = (&batches[0], &reports[0]);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.codes.len(), batch.people.len(), "one account and one code per person");
    let year = batch.year;

    // Members of every class: exactly the pupils the generator put there.
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &batch.people {
        for u in &p.units {
            if let UnitRef::Class(c) = u {
                expected.entry(c.clone()).or_default().insert(p.key.clone());
            }
        }
    }
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let (classes, _) = tx.scan_records::<Class>(&Scan::primary(Class::COLLECTION).limit(1000)).await.unwrap();
    assert_eq!(classes.len(), batch.classes.len());
    for class in &classes {
        let key = &class.value.source.as_ref().unwrap().key;
        let page = query::members(&mut *tx, Unit::Class(class.value.id), year, 100, None).await.unwrap();
        assert!(page.next.is_none());
        let got: BTreeSet<String> = page.items.iter().map(|u| u.sources[0].key.clone()).collect();
        assert_eq!(&got, &expected[key], "class {}", class.value.name);
        let names: Vec<String> = page
            .items
            .iter()
            .map(|u| format!("{} {}", names::fold(&u.family_name), names::fold(&u.given_name)))
            .collect();
        assert!(names.windows(2).all(|w| w[0] <= w[1]), "name order in {}", class.value.name);
    }

    // Parents of every pupil: with authority, and every contact.
    let mut siblings = 0;
    let mut two_homes = 0;
    let mut without_authority = 0;
    for p in batch.people.iter().filter(|p| !p.parents.is_empty()) {
        let pupil = by_key(&store, &p.key).await;
        let all = query::parents_of(&mut *tx, pupil.id, Responsables::All).await.unwrap();
        let got: Vec<String> = all.iter().map(|(_, u)| u.sources[0].key.clone()).collect();
        let mut want: Vec<&ParentIn> = p.parents.iter().collect();
        want.sort_by_key(|l| l.priority);
        assert_eq!(got, want.iter().map(|l| l.parent.clone()).collect::<Vec<_>>());
        let with = query::parents_of(&mut *tx, pupil.id, Responsables::WithAuthority).await.unwrap();
        assert_eq!(with.len(), p.parents.iter().filter(|l| l.legal && l.authority).count());
        without_authority += p.parents.iter().filter(|l| l.legal && !l.authority).count();
        let families: BTreeSet<&str> =
            all.iter().filter(|(l, _)| l.legal).map(|(_, u)| u.family_name.as_str()).collect();
        if families.len() > 1 {
            two_homes += 1;
        }
        let (_, mother) = &all[0];
        if query::children_of(&mut *tx, mother.id, Responsables::All).await.unwrap().len() > 1 {
            siblings += 1;
        }
    }
    assert!(siblings > 50, "families with siblings: {siblings}");
    assert!(two_homes > 10, "separated parents: {two_homes}");
    assert!(without_authority > 0);

    // Teachers of every class by subject, and classes of every teacher.
    for p in batch.people.iter().filter(|p| !p.teachings.is_empty()) {
        let teacher = by_key(&store, &p.key).await;
        let got = query::teachings_of(&mut *tx, teacher.id, year).await.unwrap();
        assert_eq!(got.len(), p.teachings.len(), "{}", p.key);
        assert!(got.iter().filter(|t| t.principal).count() <= got.len());
    }
    let first_class = classes.iter().find(|c| c.value.name == "6A").unwrap();
    let teachers = query::teachers_of(&mut *tx, Unit::Class(first_class.value.id), year, None).await.unwrap();
    assert!(teachers.len() >= 7, "a class has its teachers of each subject");
    assert_eq!(teachers.iter().filter(|t| t.principal).count(), 1, "one professeur principal");

    // A teacher who is also a parent: two records with one name, as the national feed sends them.
    let teachers: Vec<&PersonIn> =
        batch.people.iter().filter(|p| p.affiliations[0].profile == Profile::Enseignant).collect();
    let parents: Vec<&PersonIn> =
        batch.people.iter().filter(|p| p.affiliations[0].profile == Profile::Responsable).collect();
    assert!(teachers.iter().any(|t| {
        parents.iter().any(|p| p.given_name == t.given_name && p.family_name == t.family_name && p.key != t.key)
    }));

    // Staff and a search.
    let staff = query::people(
        &mut *tx,
        by_key(&store, &batch.people[0].key).await.affiliations[0].structure,
        Profile::VieScolaire,
        50,
        None,
    )
    .await
    .unwrap();
    assert_eq!(staff.items.len(), 6, "2 CPE and 4 AED");
    let someone = by_key(&store, &batch.people[10].key).await;
    let found = query::search(&mut *tx, &names::fold(&someone.given_name), Default::default(), 5000).await.unwrap();
    assert!(found.iter().any(|u| u.id == someone.id));
}

#[tokio::test]
async fn re_applying_the_demo_changes_nothing() {
    let (store, batches, _) = load(DemoConfig::college()).await;
    let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 9, 1, 6, 0, 0).unwrap());
    let again = apply(&store, &clock, &batches[0], &ApplyOptions::default()).await.unwrap();
    assert_eq!((again.created, again.updated, again.moved, again.deactivated), (0, 0, 0, 0), "{again:?}");
    assert!(again.rejected.is_empty());
}

#[tokio::test]
async fn a_small_academie_mixes_kinds_shares_teachers_and_has_adult_pupils() {
    let config = DemoConfig::structures(8);
    let (store, batches, reports) = load(config.clone()).await;
    assert!(reports.iter().all(|r| r.rejected.is_empty()));
    let kinds: BTreeSet<String> = batches.iter().map(|b| format!("{:?}", b.structures[0].kind)).collect();
    assert_eq!(kinds.len(), 3, "écoles, collèges and lycées: {kinds:?}");
    assert!(batches.iter().flat_map(|b| &b.people).any(|p| p.adult), "adult pupils in lycées");
    // A teacher shared by two structures has two affiliations.
    let shared = batches.iter().flat_map(|b| &b.people).find(|p| p.key.starts_with("shared-")).unwrap();
    assert_eq!(by_key(&store, &shared.key).await.structures().len(), 2);
    // UAIs are valid and unique.
    let uais: BTreeSet<&str> = batches.iter().map(|b| b.structures[0].uai.as_str()).collect();
    assert_eq!(uais.len(), 8);
    assert!(uais.iter().all(|u| u.parse::<Uai>().is_ok()));
    // Generating one structure alone gives the same batch as in the whole run.
    assert_eq!(Demo::new(config).batch(5), batches[5]);
}
