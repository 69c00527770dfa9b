//! The apply path of directory feeds: creation, idempotence, moves, deactivation, the held mass
//! deactivation, and bad records rejected alone.

use chrono::{TimeZone, Utc};
use ent::core::account::{ActivationCode, ActivationSecret};
use ent::core::clock::{Clock, ManualClock};
use ent::core::directory::query::{self, Responsables};
use ent::core::directory::*;
use ent::core::storage::{self, Record, Scan, Store, Tuple, TxExt, TxMode};
use ent::import::*;
use ent::storage::memory::MemoryStore;

const YEAR: SchoolYear = SchoolYear(2026);

pub(crate) fn structure(key: &str, uai: &str) -> StructureIn {
    StructureIn {
        key: key.into(),
        uai: uai.into(),
        name: format!("Collège {key}"),
        kind: Some(StructureKind::College),
        contract: Some(Contract::Public),
        academie: Some("ORLEANS-TOURS".into()),
        time_zone: Some("Europe/Paris".into()),
        periods: Some(PeriodKind::Trimestres),
        extra: Default::default(),
    }
}

pub(crate) fn class(key: &str, structure: &str, name: &str) -> ClassIn {
    ClassIn { key: key.into(), structure: structure.into(), name: name.into(), level: None }
}

fn person(key: &str, given: &str, family: &str, structure: &str, profile: Profile) -> PersonIn {
    PersonIn {
        key: key.into(),
        given_name: given.into(),
        family_name: family.into(),
        birth_date: None,
        email: None,
        affiliations: vec![PersonRef { structure: structure.into(), profile, functions: vec![] }],
        adult: false,
        disabled: false,
        units: vec![],
        teachings: vec![],
        parents: vec![],
        kept_parents: vec![],
        extra: Default::default(),
    }
}

pub(crate) fn pupil(key: &str, given: &str, family: &str, class: &str) -> PersonIn {
    PersonIn { units: vec![UnitRef::Class(class.into())], ..person(key, given, family, "balzac", Profile::Eleve) }
}

fn parent_link(parent: &str, legal: bool, authority: bool, priority: u8) -> ParentIn {
    ParentIn { parent: parent.into(), legal, authority, priority, financial: legal }
}

/// A collège with two classes, ten pupils, their parents, and a teacher who also teaches in a lycée.
pub(crate) fn feed() -> Batch {
    let mut people = vec![
        PersonIn {
            parents: vec![parent_link("p-mother", true, true, 1), parent_link("p-father", true, false, 2)],
            ..pupil("e-1", "Lucas", "Martin", "c-3a")
        },
        PersonIn { parents: vec![parent_link("p-mother", true, true, 1)], ..pupil("e-2", "Emma", "Martin", "c-3a") },
        pupil("e-3", "Lucas", "Martin", "c-3b"),
        pupil("e-4", "Hélène", "Dubœuf", "c-3b"),
        person("p-mother", "Claire", "Martin", "balzac", Profile::Responsable),
        person("p-father", "Marc", "Martin", "balzac", Profile::Responsable),
        PersonIn {
            affiliations: vec![
                PersonRef { structure: "balzac".into(), profile: Profile::Enseignant, functions: vec![] },
                PersonRef { structure: "descartes".into(), profile: Profile::Enseignant, functions: vec![] },
            ],
            teachings: vec![TeachingIn {
                unit: UnitRef::Class("c-3a".into()),
                subject: "maths".into(),
                principal: true,
            }],
            ..person("t-1", "Pierre", "Lefèvre", "balzac", Profile::Enseignant)
        },
    ];
    for i in 5..=10 {
        people.push(pupil(&format!("e-{i}"), "Élève", &format!("Numéro{i}"), "c-3b"));
    }
    Batch {
        source: "test".into(),
        mode: Mode::Full { structures: vec!["balzac".into()] },
        year: YEAR,
        structures: vec![structure("balzac", "0370884K"), structure("descartes", "0370001A")],
        subjects: vec![SubjectIn {
            key: "maths".into(),
            structure: "balzac".into(),
            code: "061300".into(),
            label: "MATHEMATIQUES".into(),
        }],
        classes: vec![class("c-3a", "balzac", "3A"), class("c-3b", "balzac", "3B")],
        groups: vec![],
        people,
        deleted_people: vec![],
        refused_people: vec![],
        changes: vec![],
        deleted_units: vec![],
        states_units: true,
    }
}

async fn setup() -> (MemoryStore, ManualClock) {
    let store = MemoryStore::new();
    store.declare(&storage::core_collections()).await.unwrap();
    (store, ManualClock::at(Utc.with_ymd_and_hms(2026, 8, 28, 6, 0, 0).unwrap()))
}

async fn user_by_source(store: &MemoryStore, key: &str) -> User {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let scan = Scan::index(User::COLLECTION, "by_source").prefix(("test", key)).limit(1);
    tx.scan_records::<User>(&scan).await.unwrap().0.remove(0).value
}

async fn class_id(store: &MemoryStore, name: &str) -> ent::core::id::ClassId {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let (classes, _) = tx.scan_records::<Class>(&Scan::primary(Class::COLLECTION)).await.unwrap();
    classes.into_iter().find(|c| c.value.name == name).unwrap().value.id
}

/// Everything the store holds, to compare before and after.
async fn dump(store: &MemoryStore) -> Vec<(String, Tuple, u64, String)> {
    let mut out = Vec::new();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    for def in store.collections().await.unwrap() {
        let mut cursor = None;
        loop {
            let page = tx.scan(&Scan::primary(&def.name).limit(1000).after(cursor)).await.unwrap();
            for e in page.entries {
                let r = e.record.unwrap();
                out.push((def.name.clone(), r.id, r.version, r.data.get().to_owned()));
            }
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
    }
    out
}

#[tokio::test]
async fn a_first_feed_creates_everyone_with_logins_and_activation_codes() {
    let (store, clock) = setup().await;
    let report = apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    // 2 structures, 1 subject, 2 classes, 13 people.
    assert_eq!(report.created, 2 + 1 + 2 + 13);
    assert_eq!(report.codes.len(), 13);

    let lucas = user_by_source(&store, "e-1").await;
    let other_lucas = user_by_source(&store, "e-3").await;
    assert_eq!(lucas.login, "lucas.martin");
    assert_eq!(other_lucas.login, "lucas.martin2", "a number on collision");
    assert_eq!(user_by_source(&store, "e-4").await.login, "helene.duboeuf", "accents and ligatures folded");
    assert_eq!(lucas.state, AccountState::Pending);

    // The code is shown once and stored only as its hash.
    let issued = report.codes.iter().find(|c| c.user == lucas.id).unwrap();
    let secret = ActivationSecret::parse(&issued.code).unwrap();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let stored = tx.fetch_record::<ActivationCode>((hex(&secret.hash()).as_str(),)).await.unwrap();
    assert_eq!(stored.value.user, lucas.id);
    assert!(!format!("{:?}", report.codes).contains(&issued.code), "codes never appear in debug output");

    // Links in the second pass: the mother has authority, the father does not.
    let with = query::parents_of(&mut *tx, lucas.id, Responsables::WithAuthority).await.unwrap();
    assert_eq!(with.iter().map(|(_, u)| u.given_name.as_str()).collect::<Vec<_>>(), ["Claire"]);
    let all = query::parents_of(&mut *tx, lucas.id, Responsables::All).await.unwrap();
    assert_eq!(all.len(), 2);
    let mother = user_by_source(&store, "p-mother").await;
    let kids = query::children_of(&mut *tx, mother.id, Responsables::WithAuthority).await.unwrap();
    assert_eq!(kids.len(), 2, "siblings");

    // The teacher of two structures.
    let teacher = user_by_source(&store, "t-1").await;
    assert_eq!(teacher.structures().len(), 2);
    let t = query::teachings_of(&mut *tx, teacher.id, YEAR).await.unwrap();
    assert_eq!(t.len(), 1);
    assert!(t[0].principal);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn applying_the_same_feed_twice_changes_nothing() {
    let (store, clock) = setup().await;
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    let before = dump(&store).await;
    let again = apply(&store, &clock, &feed(), &ApplyOptions { chunk: 3, ..Default::default() }).await.unwrap();
    assert_eq!((again.created, again.updated, again.moved, again.deactivated), (0, 0, 0, 0), "{again:?}");
    assert_eq!(again.unchanged, 2 + 1 + 2 + 13);
    assert!(again.codes.is_empty());
    assert_eq!(dump(&store).await, before, "not a single version moved");
}

#[tokio::test]
async fn a_pupil_who_changes_class_is_moved() {
    let (store, clock) = setup().await;
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    let mut next = feed();
    next.people.iter_mut().find(|p| p.key == "e-2").unwrap().units = vec![UnitRef::Class("c-3b".into())];
    let report = apply(&store, &clock, &next, &ApplyOptions::default()).await.unwrap();
    assert_eq!((report.moved, report.updated, report.created), (1, 1, 0), "{report:?}");
    let emma = user_by_source(&store, "e-2").await;
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let units = query::units_of(&mut *tx, emma.id, YEAR).await.unwrap();
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].unit, Unit::Class(class_id(&store, "3B").await));
    assert_eq!(query::member_count(&mut *tx, Unit::Class(class_id(&store, "3A").await), YEAR).await.unwrap(), 1);
}

/// Rights versions move with what changes someone's rights, and only then: a first import leaves them at 0
/// (nobody has had a session, so no rights are compiled anywhere), a later link to a known responsable or a
/// move bumps the person concerned, a re-import bumps nobody.
#[tokio::test]
async fn rights_versions_move_only_for_people_already_known() {
    use ent::core::rights::version;
    let (store, clock) = setup().await;
    async fn versions(store: &MemoryStore, keys: &[&str]) -> Vec<i64> {
        let mut out = Vec::new();
        for key in keys {
            let id = user_by_source(store, key).await.id;
            let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
            out.push(version::user(&mut *tx, id).await.unwrap());
        }
        out
    }
    let keys = ["p-mother", "p-father", "e-1", "e-2", "e-3"];
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    assert_eq!(versions(&store, &keys).await, [0, 0, 0, 0, 0]);
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    assert_eq!(versions(&store, &keys).await, [0, 0, 0, 0, 0], "a re-import changes nobody's rights");
    // The father, known since the first import, becomes a responsable of Emma too; Lucas (e-3) changes class.
    let mut next = feed();
    next.people.iter_mut().find(|p| p.key == "e-2").unwrap().parents.push(parent_link("p-father", true, true, 2));
    next.people.iter_mut().find(|p| p.key == "e-3").unwrap().units = vec![UnitRef::Class("c-3a".into())];
    apply(&store, &clock, &next, &ApplyOptions::default()).await.unwrap();
    assert_eq!(versions(&store, &keys).await, [0, 1, 0, 0, 1]);
}

#[tokio::test]
async fn a_deleted_person_is_disabled_not_erased() {
    let (store, clock) = setup().await;
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    let delta = Batch {
        mode: Mode::Delta,
        deleted_people: vec!["e-4".into(), "nobody".into()],
        structures: vec![],
        subjects: vec![],
        classes: vec![],
        people: vec![],
        ..feed()
    };
    clock.advance(chrono::Duration::days(3));
    let report = apply(&store, &clock, &delta, &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.deactivated, 1);
    assert_eq!(report.rejected.len(), 1, "an unknown deletion is reported");
    let helene = user_by_source(&store, "e-4").await;
    assert_eq!(helene.state, AccountState::Disabled { since: clock.now() });
    // Her membership stays readable (deletion comes after the retention delay, by a job).
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(query::units_of(&mut *tx, helene.id, YEAR).await.unwrap().len(), 1);
    drop(tx);
    // Back in the feed, she comes back: pending, as she never chose a password, with a new activation code
    // (the first may have expired meanwhile).
    let report = apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.updated, 1, "{report:?}");
    assert_eq!(user_by_source(&store, "e-4").await.state, AccountState::Pending);
    assert_eq!(report.codes.iter().map(|c| c.user).collect::<Vec<_>>(), [helene.id]);
    // Once she has a password, an account disabled and back is in use again at once, with no new code.
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    let credential = ent::core::account::Credential {
        password_hash: Some("$argon2id$placeholder".into()),
        ..ent::core::account::Credential::empty(helene.id)
    };
    tx.insert_record(&credential).await.unwrap();
    tx.commit().await.unwrap();
    apply(&store, &clock, &delta, &ApplyOptions::default()).await.unwrap();
    let report = apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    assert_eq!(user_by_source(&store, "e-4").await.state, AccountState::Active);
    assert!(report.codes.is_empty());
}

#[tokio::test]
async fn a_full_feed_deactivates_who_is_missing() {
    let (store, clock) = setup().await;
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    let mut next = feed();
    next.people.retain(|p| p.key != "e-10");
    let report = apply(&store, &clock, &next, &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.deactivated, 1, "{report:?}");
    assert!(report.held.is_empty());
    assert!(matches!(user_by_source(&store, "e-10").await.state, AccountState::Disabled { .. }));
}

#[tokio::test]
async fn a_mass_deactivation_is_held_until_confirmed() {
    let (store, clock) = setup().await;
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    let before = dump(&store).await;
    // The rentrée feed is incomplete: most pupils are missing.
    let mut partial = feed();
    partial.people.retain(|p| !p.key.starts_with("e-") || p.key == "e-1" || p.key == "e-2");
    let report = apply(&store, &clock, &partial, &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.deactivated, 0);
    assert_eq!(report.held.len(), 1);
    assert_eq!((report.held[0].would_deactivate, report.held[0].of), (8, 13));
    assert_eq!(dump(&store).await, before, "nothing was applied");

    let confirmed = ApplyOptions { confirm_mass_deactivation: true, ..Default::default() };
    let report = apply(&store, &clock, &partial, &confirmed).await.unwrap();
    assert_eq!(report.deactivated, 8);
    assert!(report.held.is_empty());
}

#[tokio::test]
async fn the_share_of_a_mass_deactivation_counts_only_accounts_left_enabled() {
    let (store, clock) = setup().await;
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    // The feed keeps two pupils, one of them disabled by the source: of the 13 accounts, 12 stay enabled.
    let mut partial = feed();
    partial.people.retain(|p| !p.key.starts_with("e-") || p.key == "e-1" || p.key == "e-2");
    partial.people.iter_mut().filter(|p| p.key == "e-1").for_each(|p| p.disabled = true);
    let report = apply(&store, &clock, &partial, &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.held.len(), 1);
    assert_eq!((report.held[0].would_deactivate, report.held[0].of), (8, 12));
    // The same when a later phase could disable someone too (a change in the batch): every record is read.
    let mut with_change = partial.clone();
    with_change.changes.push(ChangeIn {
        key: "change-1".into(),
        person: "e-2".into(),
        change: Change::AddAffiliation(PersonRef {
            structure: "balzac".into(),
            profile: Profile::Eleve,
            functions: vec![],
        }),
    });
    let report = apply(&store, &clock, &with_change, &ApplyOptions::default()).await.unwrap();
    assert_eq!((report.held[0].would_deactivate, report.held[0].of), (8, 12));
}

#[tokio::test]
async fn a_person_with_two_profiles_in_a_structure_counts_once_in_a_mass_deactivation() {
    let (store, clock) = setup().await;
    // The mother also teaches in the collège: two profiles there, two keys in its people index.
    let dual = |mut b: Batch| {
        let mother = b.people.iter_mut().find(|p| p.key == "p-mother").unwrap();
        mother.affiliations.push(PersonRef {
            structure: "balzac".into(),
            profile: Profile::Enseignant,
            functions: vec![],
        });
        b
    };
    apply(&store, &clock, &dual(feed()), &ApplyOptions::default()).await.unwrap();
    let mut partial = dual(feed());
    partial.people.retain(|p| !p.key.starts_with("e-") || p.key == "e-1" || p.key == "e-2");
    let report = apply(&store, &clock, &partial, &ApplyOptions::default()).await.unwrap();
    assert_eq!((report.held[0].would_deactivate, report.held[0].of), (8, 13), "13 people, not 14 keys");
    // Missing herself: one more account to disable, not two.
    partial.people.retain(|p| p.key != "p-mother");
    let report = apply(&store, &clock, &partial, &ApplyOptions::default()).await.unwrap();
    assert_eq!((report.held[0].would_deactivate, report.held[0].of), (9, 13));
}

#[tokio::test]
async fn a_teacher_leaving_one_structure_keeps_the_other() {
    let (store, clock) = setup().await;
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    // The lycée's full feed, without the teacher.
    let lycee = Batch {
        mode: Mode::Full { structures: vec!["descartes".into()] },
        structures: vec![structure("descartes", "0370001A")],
        subjects: vec![],
        classes: vec![],
        people: vec![],
        ..feed()
    };
    let report = apply(&store, &clock, &lycee, &ApplyOptions { confirm_mass_deactivation: true, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(report.deactivated, 0, "{report:?}");
    let teacher = user_by_source(&store, "t-1").await;
    assert_eq!(teacher.state, AccountState::Pending);
    assert_eq!(teacher.structures().len(), 1, "only the collège remains");
}

#[tokio::test]
async fn bad_records_are_rejected_with_their_reason_and_the_rest_applied() {
    let (store, clock) = setup().await;
    let mut bad = feed();
    bad.structures.push(structure("broken", "0370884A"));
    bad.classes.push(class("c-ghost", "nowhere", "5C"));
    bad.people.push(pupil("e-lost", "Jules", "Perdu", "c-unknown"));
    bad.people.push(pupil("e-1", "Lucas", "Doublon", "c-3a"));
    bad.people.push(PersonIn { given_name: " ".into(), ..pupil("e-noname", "", "Sansnom", "c-3a") });
    bad.people.push(PersonIn {
        parents: vec![parent_link("e-self", true, true, 1)],
        ..pupil("e-self", "Moi", "Même", "c-3a")
    });
    let report = apply(&store, &clock, &bad, &ApplyOptions::default()).await.unwrap();
    let reasons: Vec<(String, String)> = report.rejected.iter().map(|r| (r.key.clone(), r.reason.clone())).collect();
    let has = |key: &str, text: &str| reasons.iter().any(|(k, r)| k == key && r.contains(text));
    assert!(has("broken", "check letter should be K"), "{reasons:?}");
    assert!(has("c-ghost", "unknown structure `nowhere`"), "{reasons:?}");
    assert!(has("e-lost", "unknown class `c-unknown`"), "{reasons:?}");
    assert!(has("e-1", "appears twice"), "{reasons:?}");
    assert!(has("e-noname", "given name"), "{reasons:?}");
    assert!(has("e-self", "themselves"), "{reasons:?}");
    assert_eq!(reasons.len(), 6);
    // The rest was applied: everyone of the good feed, and e-self without the bad link.
    assert_eq!(report.codes.len(), 13 + 1);
    let me = user_by_source(&store, "e-self").await;
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    assert!(query::parents_of(&mut *tx, me.id, Responsables::All).await.unwrap().is_empty());
    let scan = Scan::index(Structure::COLLECTION, "by_uai").prefix(("0370884A",));
    assert_eq!(tx.count(&scan).await.unwrap(), 0);
}

#[tokio::test]
async fn a_batch_without_source_is_refused() {
    let (store, clock) = setup().await;
    let err =
        apply(&store, &clock, &Batch { source: String::new(), ..feed() }, &ApplyOptions::default()).await.unwrap_err();
    assert!(matches!(err, ent::Error::Invalid { ref field, .. } if field == "batch.source"), "{err}");
    assert!(dump(&store).await.is_empty());
}

#[tokio::test]
async fn a_dry_run_reports_what_a_run_would_do_and_writes_nothing() {
    let (store, clock) = setup().await;
    let dry = ApplyOptions { dry_run: true, ..Default::default() };
    let report = apply(&store, &clock, &feed(), &dry).await.unwrap();
    assert!(dump(&store).await.is_empty(), "nothing written");
    assert!(report.codes.is_empty(), "no code for accounts that do not exist");
    let real = apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    assert_eq!((report.created, report.updated, report.unchanged), (real.created, real.updated, real.unchanged));
    // On a populated directory: a move and a mass deactivation held, as they would be.
    let before = dump(&store).await;
    let mut next = feed();
    next.people.iter_mut().find(|p| p.key == "e-2").unwrap().units = vec![UnitRef::Class("c-3b".into())];
    next.people.retain(|p| p.key != "e-10");
    let report = apply(&store, &clock, &next, &dry).await.unwrap();
    assert_eq!((report.moved, report.deactivated), (1, 1), "{report:?}");
    assert_eq!(dump(&store).await, before);
}

/// The AAF and OneRoster do not say trimestres or semestres: a structure's choice survives their imports.
fn attrs(pairs: &[(&str, &[&str])]) -> std::collections::BTreeMap<String, Vec<String>> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect())).collect()
}

#[tokio::test]
async fn what_the_model_does_not_hold_is_kept_per_feed_and_follows_the_feed() {
    let (store, clock) = setup().await;
    let with = |regime: &[&str], phone: &[&str]| {
        let mut b = feed();
        let helene = b.people.iter_mut().find(|p| p.key == "e-4").unwrap();
        helene.extra = attrs(&[("ENTEleveRegime", regime), ("ENTPersonAdresse", &["1 rue de l'Œuvre"])]);
        b.structures[0].extra = attrs(&[("telephoneNumber", phone)]);
        b
    };
    apply(&store, &clock, &with(&["DP"], &["02 47 00 00 00"]), &ApplyOptions::default()).await.unwrap();
    let helene = user_by_source(&store, "e-4").await;
    assert_eq!(helene.attributes["test"]["ENTEleveRegime"], ["DP"]);
    assert_eq!(helene.attributes["test"]["ENTPersonAdresse"], ["1 rue de l'Œuvre"]);
    assert!(user_by_source(&store, "e-3").await.attributes.is_empty(), "nothing to keep: no part at all");
    let structure = |structures: &[storage::Versioned<Structure>], uai: &str| {
        structures.iter().find(|s| s.value.uai.as_ref().is_some_and(|u| u.as_str() == uai)).unwrap().clone()
    };
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let (structures, _) = tx.scan_records::<Structure>(&Scan::primary(Structure::COLLECTION)).await.unwrap();
    drop(tx);
    assert_eq!(structure(&structures, "0370884K").value.attributes["test"]["telephoneNumber"], ["02 47 00 00 00"]);

    // The same values again: nothing changes.
    let again = apply(&store, &clock, &with(&["DP"], &["02 47 00 00 00"]), &ApplyOptions::default()).await.unwrap();
    assert_eq!((again.created, again.updated), (0, 0), "{again:?}");

    // Another feed's part (written here by hand) is not the test feed's to change.
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    let scan = Scan::index(User::COLLECTION, "by_source").prefix(("test", "e-4")).limit(1);
    let stored = tx.scan_records::<User>(&scan).await.unwrap().0.remove(0);
    let mut linked = stored.value.clone();
    linked.attributes.insert("oneroster".into(), attrs(&[("sms", &["+33612345678"])]));
    tx.update_record(stored.version, &linked).await.unwrap();
    tx.commit().await.unwrap();

    // A new value replaces the feed's part; the feed's structure changes too.
    let changed = apply(&store, &clock, &with(&["INT"], &["02 47 11 11 11"]), &ApplyOptions::default()).await.unwrap();
    assert_eq!(changed.updated, 2, "the pupil and the structure: {changed:?}");
    let helene = user_by_source(&store, "e-4").await;
    assert_eq!(helene.attributes["test"]["ENTEleveRegime"], ["INT"]);
    assert_eq!(helene.attributes["oneroster"]["sms"], ["+33612345678"], "another feed's part stays");

    // A feed that no longer gives anything removes its part, and only its part.
    let silent = apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    assert_eq!(silent.updated, 2, "{silent:?}");
    let helene = user_by_source(&store, "e-4").await;
    assert_eq!(helene.attributes.keys().collect::<Vec<_>>(), ["oneroster"]);
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let (structures, _) = tx.scan_records::<Structure>(&Scan::primary(Structure::COLLECTION)).await.unwrap();
    assert!(structure(&structures, "0370884K").value.attributes.is_empty());
}

#[tokio::test]
async fn a_feed_that_does_not_say_keeps_the_structure_s_periods() {
    let (store, clock) = setup().await;
    let mut first = feed();
    first.structures[0].periods = Some(PeriodKind::Semestres);
    apply(&store, &clock, &first, &ApplyOptions::default()).await.unwrap();
    let mut silent = feed();
    for s in &mut silent.structures {
        s.periods = None;
    }
    let again = apply(&store, &clock, &silent, &ApplyOptions::default()).await.unwrap();
    assert_eq!((again.created, again.updated), (0, 0), "{again:?}");
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let (structures, _) = tx.scan_records::<Structure>(&Scan::primary(Structure::COLLECTION)).await.unwrap();
    let periods = |uai: &str| {
        structures.iter().find(|s| s.value.uai.as_ref().is_some_and(|u| u.as_str() == uai)).unwrap().value.periods
    };
    assert_eq!(periods("0370884K"), PeriodKind::Semestres, "chosen, kept");
    assert_eq!(periods("0370001A"), PeriodKind::Trimestres, "never chosen: trimestres");
}

#[tokio::test]
async fn incremental_changes_add_and_remove_one_thing_and_leave_the_rest() {
    let (store, clock) = setup().await;
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    let change = |key: &str, person: &str, change: Change| ChangeIn { key: key.into(), person: person.into(), change };
    let delta = Batch {
        mode: Mode::Delta,
        structures: vec![],
        subjects: vec![],
        classes: vec![],
        people: vec![],
        changes: vec![
            change("c1", "t-1", Change::Teach { unit: "c-3b".into(), subject: Some("maths".into()), principal: false }),
            change("c2", "t-1", Change::Teach { unit: "c-3a".into(), subject: Some("maths".into()), principal: false }),
            change(
                "c3",
                "t-1",
                Change::AddAffiliation(PersonRef {
                    structure: "balzac".into(),
                    profile: Profile::Direction,
                    functions: vec![],
                }),
            ),
            change("c4", "e-1", Change::Leave { unit: "c-3a".into() }),
            change("c5", "e-1", Change::Join { unit: "c-3b".into() }),
            change("c6", "e-2", Change::Join { unit: "nope".into() }),
            change("c7", "t-1", Change::StopTeaching { unit: "c-3b".into(), subject: Some("latin".into()) }),
            change("c8", "nobody", Change::Leave { unit: "c-3a".into() }),
        ],
        ..feed()
    };
    let report = apply(&store, &clock, &delta, &ApplyOptions::default()).await.unwrap();
    let rejected: Vec<String> = report.rejected.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        rejected,
        [
            "teaching `c7`: unknown subject `latin`",
            "membership `c6`: unknown class or group `nope`",
            "membership `c8`: unknown person `nobody`",
        ]
    );
    // Pierre and Lucas changed, Emma's only change was rejected: counted unchanged.
    assert_eq!((report.created, report.updated, report.moved, report.unchanged), (0, 2, 1, 1), "{report:?}");
    let pierre = user_by_source(&store, "t-1").await;
    assert_eq!(pierre.affiliations.len(), 3, "the profile was added to the others");
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let mut t: Vec<(ent::core::id::ClassId, bool)> = query::teachings_of(&mut *tx, pierre.id, YEAR)
        .await
        .unwrap()
        .into_iter()
        .map(|t| match t.unit {
            Unit::Class(c) => (c, t.principal),
            Unit::Group(_) => unreachable!(),
        })
        .collect();
    t.sort();
    let mut expected = vec![(class_id(&store, "3A").await, false), (class_id(&store, "3B").await, false)];
    expected.sort();
    assert_eq!(t, expected, "3B added, 3A kept with its principal flag changed");
    let lucas = user_by_source(&store, "e-1").await;
    let units = query::units_of(&mut *tx, lucas.id, YEAR).await.unwrap();
    assert_eq!(units.iter().map(|m| m.unit).collect::<Vec<_>>(), [Unit::Class(class_id(&store, "3B").await)]);
    drop(tx);

    // Again: nothing changes.
    let before = dump(&store).await;
    let again = apply(&store, &clock, &delta, &ApplyOptions::default()).await.unwrap();
    assert_eq!((again.created, again.updated, again.moved, again.deactivated), (0, 0, 0, 0), "{again:?}");
    assert_eq!(dump(&store).await, before, "not a single record version moved");
}

/// Each user's source key and login.
async fn logins(store: &MemoryStore) -> Vec<(String, String)> {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let scan = Scan::primary(User::COLLECTION).limit(10_000);
    let (users, _) = tx.scan_records::<User>(&scan).await.unwrap();
    let mut out: Vec<_> = users.into_iter().map(|u| (u.value.sources[0].key.clone(), u.value.login)).collect();
    out.sort();
    out
}

#[tokio::test]
async fn merged_batches_give_the_directory_their_separate_applies_give() {
    use ent::import::demo::{Demo, DemoConfig};
    // Two collèges share a teacher: one person in both batches.
    let demo = Demo::new(DemoConfig { colleges: 2, ..DemoConfig::college() });
    let (separate, clock) = setup().await;
    for batch in demo.batches() {
        let report = apply(&separate, &clock, &batch, &ApplyOptions::default()).await.unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    }
    let mut merged_batch = demo.batch(0);
    merged_batch.merge(demo.batch(1)).unwrap();
    assert_eq!(merged_batch.structures.len(), 2);
    let shared: Vec<&PersonIn> = merged_batch.people.iter().filter(|p| p.affiliations.len() == 2).collect();
    assert!(!shared.is_empty(), "the shared teacher is one person with both profiles");

    let (merged, _) = setup().await;
    let report = apply(&merged, &clock, &merged_batch, &ApplyOptions::default()).await.unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(crate::aaf::snapshot(&merged).await, crate::aaf::snapshot(&separate).await);
    assert_eq!(logins(&merged).await, logins(&separate).await);

    // The merged batch again changes nothing, and neither do the separate ones on the merged directory.
    let before = dump(&merged).await;
    apply(&merged, &clock, &merged_batch, &ApplyOptions::default()).await.unwrap();
    for batch in demo.batches() {
        apply(&merged, &clock, &batch, &ApplyOptions::default()).await.unwrap();
    }
    assert_eq!(dump(&merged).await, before);
}

#[tokio::test]
async fn batches_that_cannot_be_one_are_not_merged() {
    let mut full = feed();
    let mut delta = Batch { mode: Mode::Delta, ..feed() };
    assert!(full.merge(delta.clone()).unwrap_err().contains("delta"));
    assert!(delta.merge(Batch { source: "other".into(), mode: Mode::Delta, ..feed() }).is_err());
    assert!(delta.merge(Batch { year: SchoolYear(2027), mode: Mode::Delta, ..feed() }).is_err());
    assert_eq!(full, feed(), "a refused merge leaves the batch as it was");
}

#[tokio::test]
async fn namesakes_are_numbered_from_a_counter_that_catches_up_and_never_gives_a_number_twice() {
    let (store, clock) = setup().await;
    apply(&store, &clock, &feed(), &ApplyOptions::default()).await.unwrap();
    assert_eq!(user_by_source(&store, "e-3").await.login, "lucas.martin2");
    // A directory filled before the counter existed: it says no number was given.
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    let key: Tuple = ("lucas.martin",).into();
    let given = tx.counter_get(records::LOGIN_NUMBERS, &key).await.unwrap();
    assert_eq!(given, 2);
    tx.counter_add(records::LOGIN_NUMBERS, &key, -given).await.unwrap();
    tx.commit().await.unwrap();

    let newcomer =
        |key: &str| Batch { mode: Mode::Delta, people: vec![pupil(key, "Lucas", "Martin", "c-3a")], ..feed() };
    apply(&store, &clock, &newcomer("e-90"), &ApplyOptions::default()).await.unwrap();
    assert_eq!(user_by_source(&store, "e-90").await.login, "lucas.martin3", "the taken numbers are skipped");
    // The account numbered 3 leaves: its number is not given again.
    let gone = Batch { mode: Mode::Delta, people: vec![], deleted_people: vec!["e-90".into()], ..feed() };
    apply(&store, &clock, &gone, &ApplyOptions::default()).await.unwrap();
    apply(&store, &clock, &newcomer("e-91"), &ApplyOptions::default()).await.unwrap();
    assert_eq!(user_by_source(&store, "e-91").await.login, "lucas.martin4");
    // Two namesakes in one batch.
    let two = Batch {
        mode: Mode::Delta,
        people: vec![pupil("e-92", "Lucas", "Martin", "c-3a"), pupil("e-93", "Lùcas", "Mârtin", "c-3a")],
        ..feed()
    };
    apply(&store, &clock, &two, &ApplyOptions::default()).await.unwrap();
    assert_eq!(user_by_source(&store, "e-92").await.login, "lucas.martin5");
    assert_eq!(user_by_source(&store, "e-93").await.login, "lucas.martin6");
}
