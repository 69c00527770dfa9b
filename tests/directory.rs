//! The directory's queries on a hand-written school, on the memory adapter.

use ent::core::directory::query::{self, Responsables, SearchScope};
use ent::core::directory::*;
use ent::core::id::{ClassId, GroupId, StructureId, SubjectId, UserId};
use ent::core::storage::{self, Store, TxExt, TxMode};
use ent::storage::memory::MemoryStore;

const YEAR: SchoolYear = SchoolYear(2026);

struct School {
    store: MemoryStore,
    college: StructureId,
    lycee: StructureId,
    c3a: ClassId,
    latin: GroupId,
    maths: SubjectId,
    french: SubjectId,
    helene: UserId,
    jean_pierre: UserId,
    sean: UserId,
    mother: UserId,
    father: UserId,
    grandmother: UserId,
    teacher: UserId,
    principal: UserId,
}

fn user(given: &str, family: &str, login: &str, affiliations: Vec<Affiliation>) -> User {
    User {
        id: UserId::new(),
        login: login.into(),
        given_name: given.into(),
        family_name: family.into(),
        birth_date: None,
        email: None,
        affiliations,
        adult: false,
        state: AccountState::Active,
        sources: vec![],
        attributes: Default::default(),
    }
}

fn aff(structure: StructureId, profile: Profile) -> Affiliation {
    Affiliation { structure, profile, functions: vec![] }
}

fn membership(unit: Unit, year: SchoolYear, u: &User, structure: StructureId) -> Membership {
    Membership {
        unit,
        year,
        user: u.id,
        structure,
        sort_name: format!("{} {}", names::fold(&u.family_name), names::fold(&u.given_name)),
    }
}

async fn school() -> School {
    let store = MemoryStore::new();
    store.declare(&storage::core_collections()).await.unwrap();
    let structure = |name: &str, uai: &str| Structure {
        id: StructureId::new(),
        uai: Some(uai.parse().unwrap()),
        name: name.into(),
        kind: StructureKind::College,
        contract: Contract::Public,
        academie: "ORLEANS-TOURS".into(),
        time_zone: "Europe/Paris".into(),
        parent: None,
        periods: PeriodKind::Trimestres,
        source: None,
        attributes: Default::default(),
    };
    let college = structure("Collège Balzac", "0370884K");
    let lycee = structure("Lycée Descartes", "0370001A");
    let c3a =
        Class { id: ClassId::new(), structure: college.id, year: YEAR, name: "3A".into(), level: None, source: None };
    let c4a_last_year = Class {
        id: ClassId::new(),
        structure: college.id,
        year: SchoolYear(2025),
        name: "4A".into(),
        level: None,
        source: None,
    };
    let latin = Group {
        id: GroupId::new(),
        structure: college.id,
        year: YEAR,
        name: "Latin 3e".into(),
        kind: GroupKind::Teaching,
        profile: None,
        source: None,
    };
    let subject = |code: &str, label: &str| Subject {
        id: SubjectId::new(),
        structure: college.id,
        code: code.into(),
        label: label.into(),
        source: None,
    };
    let maths = subject("061300", "MATHEMATIQUES");
    let french = subject("030201", "FRANCAIS");

    let helene = user("Hélène", "Martin", "helene.martin", vec![aff(college.id, Profile::Eleve)]);
    let jean_pierre = user("Jean-Pierre", "Dupont", "jean-pierre.dupont", vec![aff(college.id, Profile::Eleve)]);
    let sean = user("Sean", "O'Connor", "sean.oconnor", vec![aff(college.id, Profile::Eleve)]);
    let mother = user("Claire", "Martin", "claire.martin", vec![aff(college.id, Profile::Responsable)]);
    let father = user("Marc", "Martin", "marc.martin", vec![aff(college.id, Profile::Responsable)]);
    let grandmother = user("Odette", "Martin", "odette.martin", vec![aff(college.id, Profile::Responsable)]);
    // A teacher in two structures, who is also a parent.
    let teacher = user(
        "Pierre",
        "Lefèvre",
        "pierre.lefevre",
        vec![
            aff(college.id, Profile::Enseignant),
            aff(lycee.id, Profile::Enseignant),
            aff(college.id, Profile::Responsable),
        ],
    );
    let principal = user("Anne", "Hélène", "anne.helene", vec![aff(college.id, Profile::Direction)]);

    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    for s in [&college, &lycee] {
        tx.insert_record(s).await.unwrap();
    }
    tx.insert_record(&c3a).await.unwrap();
    tx.insert_record(&c4a_last_year).await.unwrap();
    tx.insert_record(&latin).await.unwrap();
    tx.insert_record(&maths).await.unwrap();
    tx.insert_record(&french).await.unwrap();
    for u in [&helene, &jean_pierre, &sean, &mother, &father, &grandmother, &teacher, &principal] {
        tx.insert_record(u).await.unwrap();
    }
    for u in [&helene, &jean_pierre, &sean] {
        tx.insert_record(&membership(Unit::Class(c3a.id), YEAR, u, college.id)).await.unwrap();
    }
    tx.insert_record(&membership(Unit::Group(latin.id), YEAR, &helene, college.id)).await.unwrap();
    // Last year, Hélène was in 4A.
    tx.insert_record(&membership(Unit::Class(c4a_last_year.id), SchoolYear(2025), &helene, college.id)).await.unwrap();
    let link = |parent: &User, child: &User, legal, authority, priority| ParentLink {
        parent: parent.id,
        child: child.id,
        legal,
        authority,
        priority,
        financial: legal,
    };
    tx.insert_record(&link(&mother, &helene, true, true, 1)).await.unwrap();
    tx.insert_record(&link(&father, &helene, true, false, 2)).await.unwrap();
    tx.insert_record(&link(&grandmother, &helene, false, false, 3)).await.unwrap();
    tx.insert_record(&link(&teacher, &sean, true, true, 1)).await.unwrap();
    let teaching = |unit, subject: &Subject, principal| Teaching {
        teacher: teacher.id,
        unit,
        subject: subject.id,
        year: YEAR,
        structure: college.id,
        principal,
    };
    tx.insert_record(&teaching(Unit::Class(c3a.id), &maths, true)).await.unwrap();
    tx.insert_record(&teaching(Unit::Group(latin.id), &french, false)).await.unwrap();
    tx.commit().await.unwrap();

    School {
        store,
        college: college.id,
        lycee: lycee.id,
        c3a: c3a.id,
        latin: latin.id,
        maths: maths.id,
        french: french.id,
        helene: helene.id,
        jean_pierre: jean_pierre.id,
        sean: sean.id,
        mother: mother.id,
        father: father.id,
        grandmother: grandmother.id,
        teacher: teacher.id,
        principal: principal.id,
    }
}

fn ids(users: &[User]) -> Vec<UserId> {
    users.iter().map(|u| u.id).collect()
}

#[tokio::test]
async fn members_of_a_class_in_name_order_by_pages() {
    let s = school().await;
    let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
    let first = query::members(&mut *tx, Unit::Class(s.c3a), YEAR, 2, None).await.unwrap();
    assert_eq!(ids(&first.items), [s.jean_pierre, s.helene], "Dupont, Martin...");
    let second = query::members(&mut *tx, Unit::Class(s.c3a), YEAR, 2, first.next).await.unwrap();
    assert_eq!(ids(&second.items), [s.sean], "...then O'Connor");
    assert!(second.next.is_none());
    assert_eq!(query::member_count(&mut *tx, Unit::Class(s.c3a), YEAR).await.unwrap(), 3);
    let latin = query::members(&mut *tx, Unit::Group(s.latin), YEAR, 10, None).await.unwrap();
    assert_eq!(ids(&latin.items), [s.helene]);
}

#[tokio::test]
async fn last_year_stays_readable() {
    let s = school().await;
    let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
    let now = query::units_of(&mut *tx, s.helene, YEAR).await.unwrap();
    assert_eq!(now.len(), 2, "3A and the latin group");
    let before = query::units_of(&mut *tx, s.helene, SchoolYear(2025)).await.unwrap();
    assert_eq!(before.len(), 1);
    assert!(matches!(before[0].unit, Unit::Class(_)));
    assert_ne!(before[0].unit, Unit::Class(s.c3a));
}

#[tokio::test]
async fn parents_with_authority_or_every_contact() {
    let s = school().await;
    let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
    let with = query::parents_of(&mut *tx, s.helene, Responsables::WithAuthority).await.unwrap();
    assert_eq!(with.iter().map(|(_, u)| u.id).collect::<Vec<_>>(), [s.mother], "the father has no authority");
    let all = query::parents_of(&mut *tx, s.helene, Responsables::All).await.unwrap();
    assert_eq!(all.iter().map(|(_, u)| u.id).collect::<Vec<_>>(), [s.mother, s.father, s.grandmother], "by priority");
    let kids = query::children_of(&mut *tx, s.father, Responsables::WithAuthority).await.unwrap();
    assert!(kids.is_empty());
    let kids = query::children_of(&mut *tx, s.father, Responsables::All).await.unwrap();
    assert_eq!(kids.iter().map(|(_, u)| u.id).collect::<Vec<_>>(), [s.helene]);
    // The teacher who is also a parent.
    let kids = query::children_of(&mut *tx, s.teacher, Responsables::WithAuthority).await.unwrap();
    assert_eq!(kids.iter().map(|(_, u)| u.id).collect::<Vec<_>>(), [s.sean]);
}

#[tokio::test]
async fn teachers_of_a_class_and_classes_of_a_teacher() {
    let s = school().await;
    let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
    let t = query::teachers_of(&mut *tx, Unit::Class(s.c3a), YEAR, None).await.unwrap();
    assert_eq!(t.len(), 1);
    assert!(t[0].principal && t[0].teacher == s.teacher && t[0].subject == s.maths);
    assert!(query::teachers_of(&mut *tx, Unit::Class(s.c3a), YEAR, Some(s.french)).await.unwrap().is_empty());
    let mine = query::teachings_of(&mut *tx, s.teacher, YEAR).await.unwrap();
    let mut units: Vec<Unit> = mine.iter().map(|t| t.unit).collect();
    units.sort_by_key(|u| u.uuid());
    let mut expected = vec![Unit::Class(s.c3a), Unit::Group(s.latin)];
    expected.sort_by_key(|u| u.uuid());
    assert_eq!(units, expected);
    assert!(query::teachings_of(&mut *tx, s.teacher, SchoolYear(2025)).await.unwrap().is_empty());
}

#[tokio::test]
async fn people_of_a_structure_by_profile() {
    let s = school().await;
    let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
    let teachers = query::people(&mut *tx, s.lycee, Profile::Enseignant, 10, None).await.unwrap();
    assert_eq!(ids(&teachers.items), [s.teacher], "a teacher in two structures");
    let parents = query::people(&mut *tx, s.college, Profile::Responsable, 10, None).await.unwrap();
    assert_eq!(
        ids(&parents.items),
        [s.teacher, s.mother, s.father, s.grandmother],
        "Lefèvre, then the Martins by given name"
    );
    let pupils = query::people(&mut *tx, s.college, Profile::Eleve, 10, None).await.unwrap();
    assert_eq!(ids(&pupils.items), [s.jean_pierre, s.helene, s.sean]);
}

#[tokio::test]
async fn search_is_accent_case_and_punctuation_insensitive() {
    let s = school().await;
    let everywhere = SearchScope::default();
    let found = |q: &'static str, scope| {
        let store = s.store.clone();
        async move {
            let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
            ids(&query::search(&mut *tx, q, scope, 10).await.unwrap())
        }
    };
    assert_eq!(found("Helene", everywhere).await, [s.principal, s.helene], "Anne Hélène, Hélène Martin");
    assert_eq!(found("HÉLÈNE mart", everywhere).await, [s.helene]);
    assert_eq!(found("oconnor", everywhere).await, [s.sean]);
    assert_eq!(found("o'connor", everywhere).await, [s.sean]);
    assert_eq!(found("jean pi", everywhere).await, [s.jean_pierre]);
    assert_eq!(found("lefevre", everywhere).await, [s.teacher]);
    assert!(found("jean pa", everywhere).await.is_empty());
    assert!(found("", everywhere).await.is_empty());
    let in_lycee = SearchScope { structure: Some(s.lycee), profile: None };
    assert_eq!(found("pierre", in_lycee).await, [s.teacher], "Jean-Pierre is not in the lycée");
    let pupils = SearchScope { structure: Some(s.college), profile: Some(Profile::Eleve) };
    assert_eq!(found("pierre", pupils).await, [s.jean_pierre], "the teacher Pierre is not a pupil");
    let parents = SearchScope { structure: Some(s.college), profile: Some(Profile::Responsable) };
    assert_eq!(found("martin", parents).await, [s.mother, s.father, s.grandmother]);
}

#[tokio::test]
async fn unique_keys_of_the_directory_hold() {
    let s = school().await;
    let mut tx = s.store.begin(TxMode::ReadWrite).await.unwrap();
    let twin = user("Hélène", "Martin", "helene.martin", vec![aff(s.college, Profile::Eleve)]);
    let err = tx.insert_record(&twin).await.unwrap_err();
    assert!(matches!(err, ent::Error::Duplicate { ref index, .. } if index == "by_login"), "{err}");
    let second_3a =
        Class { id: ClassId::new(), structure: s.college, year: YEAR, name: "3A".into(), level: None, source: None };
    let err = tx.insert_record(&second_3a).await.unwrap_err();
    assert!(matches!(err, ent::Error::Duplicate { ref index, .. } if index == "by_structure"), "{err}");
    // Next year's 3A is another class.
    let next_3a = Class { year: YEAR.next(), ..second_3a };
    tx.insert_record(&next_3a).await.unwrap();
}

#[tokio::test]
async fn profile_groups_are_derived_from_the_directory() {
    use ent::core::directory::query::ProfileGroup;
    let s = school().await;
    let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
    let sorted = |mut v: Vec<UserId>| {
        v.sort();
        v
    };
    let group = |profile, class| ProfileGroup { structure: s.college, profile, class };
    let got = query::profile_group_members(&mut *tx, group(Profile::Responsable, Some(s.c3a)), YEAR).await.unwrap();
    assert_eq!(got, sorted(vec![s.mother, s.father, s.teacher]), "legal responsables only: not the grandmother");
    let got = query::profile_group_members(&mut *tx, group(Profile::Eleve, Some(s.c3a)), YEAR).await.unwrap();
    assert_eq!(got, sorted(vec![s.helene, s.jean_pierre, s.sean]));
    let got = query::profile_group_members(&mut *tx, group(Profile::Enseignant, Some(s.c3a)), YEAR).await.unwrap();
    assert_eq!(got, vec![s.teacher]);
    let got = query::profile_group_members(&mut *tx, group(Profile::Direction, None), YEAR).await.unwrap();
    assert_eq!(got, vec![s.principal]);
    let err = query::profile_group_members(&mut *tx, group(Profile::Direction, Some(s.c3a)), YEAR).await.unwrap_err();
    assert!(matches!(err, ent::Error::Invalid { .. }), "{err}");
    // The group follows the directory: a new pupil is a member at once.
    drop(tx);
    let mut tx = s.store.begin(TxMode::ReadWrite).await.unwrap();
    let newcomer = user("Inès", "Nouvelle", "ines.nouvelle", vec![aff(s.college, Profile::Eleve)]);
    tx.insert_record(&newcomer).await.unwrap();
    tx.insert_record(&membership(Unit::Class(s.c3a), YEAR, &newcomer, s.college)).await.unwrap();
    let got = query::profile_group_members(&mut *tx, group(Profile::Eleve, Some(s.c3a)), YEAR).await.unwrap();
    assert_eq!(got.len(), 4);
}

#[tokio::test]
async fn search_across_structures_by_profile() {
    let s = school().await;
    let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
    let teachers = SearchScope { structure: None, profile: Some(Profile::Enseignant) };
    assert_eq!(ids(&query::search(&mut *tx, "pierre", teachers, 10).await.unwrap()), [s.teacher]);
    let pupils = SearchScope { structure: None, profile: Some(Profile::Eleve) };
    assert_eq!(ids(&query::search(&mut *tx, "pierre", pupils, 10).await.unwrap()), [s.jean_pierre]);
    let first = query::search(&mut *tx, "Helene", SearchScope::default(), 1).await.unwrap();
    assert_eq!(ids(&first), [s.principal], "the limit keeps the first in name order");
}

/// A store written before the users' token index carried the names (`by_token`, `by_name_token`): the
/// assembly fills the new index at start-up, and search finds the people already there.
#[tokio::test]
async fn a_store_of_the_previous_token_indexes_is_reindexed_at_start_up() {
    previous_token_indexes_are_reindexed(std::sync::Arc::new(MemoryStore::new())).await;
}

/// The same on a SQLite file: the old indexes' entries are dropped, the new one filled.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_sqlite_store_of_the_previous_token_indexes_is_reindexed_at_start_up() {
    previous_token_indexes_are_reindexed(std::sync::Arc::new(ent::storage::sqlite::SqliteStore::in_memory().unwrap()))
        .await;
}

async fn previous_token_indexes_are_reindexed(store: std::sync::Arc<dyn Store>) {
    use ent::core::storage::{CollectionDef, IndexDef, KeyKind, NewRecord, Record, Scan};
    let old_users = CollectionDef::new(User::COLLECTION, [KeyKind::Uuid])
        .index(IndexDef::new("by_login", [KeyKind::Str]).unique())
        .index(IndexDef::new("by_source", [KeyKind::Str, KeyKind::Str]).unique())
        .index(IndexDef::new("by_structure", [KeyKind::Uuid, KeyKind::Str, KeyKind::Str, KeyKind::Str]))
        .index(IndexDef::new("by_name_token", [KeyKind::Uuid, KeyKind::Str]))
        .index(IndexDef::new("by_token", [KeyKind::Str]));
    let mut defs: Vec<CollectionDef> =
        storage::core_collections().into_iter().filter(|d| d.name != User::COLLECTION).collect();
    defs.push(old_users);
    store.declare(&defs).await.unwrap();
    let college = StructureId::new();
    let helene = user("Hélène", "Martin", "helene.martin", vec![aff(college, Profile::Eleve)]);
    let mut record = NewRecord::from_value(helene.id, User::SCHEMA_VERSION, &helene)
        .unwrap()
        .with_entry("by_login", ("helene.martin",))
        .with_entry("by_structure", (college.0, "eleve", "martin", "helene"));
    for token in ["helene", "martin"] {
        record = record.with_entry("by_name_token", (college.0, token)).with_entry("by_token", (token,));
    }
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert(User::COLLECTION, record).await.unwrap();
    tx.commit().await.unwrap();

    let ent = ent::core::Ent::builder(store.clone()).build().await.unwrap();
    let mut tx = ent.store().begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(ids(&query::search(&mut *tx, "helene", SearchScope::default(), 10).await.unwrap()), [helene.id]);
    let in_college = SearchScope { structure: Some(college), profile: None };
    assert_eq!(ids(&query::search(&mut *tx, "mart hel", in_college, 10).await.unwrap()), [helene.id]);
    let entries = tx.count(&Scan::index(User::COLLECTION, records::TOKEN_INDEX)).await.unwrap();
    assert_eq!(entries, 2, "one entry per token");
    assert!(tx.count(&Scan::index(User::COLLECTION, "by_token")).await.is_err(), "the old index is gone");
}
