//! The notes module through its JSON actions, as every profile: a collège with a 3e class, its teachers,
//! pupils and parents, direction, and another class; forbidden calls included; publication at its date
//! through the job; bad input refused with typed errors and nothing stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use ent::core::clock::{Clock, ManualClock};
use ent::core::directory::*;
use ent::core::event::{EventEnvelope, Subscriber};
use ent::core::module::{Context, Handlers, Manifest};
use ent::core::rights::RightsEngine;
use ent::core::storage::{Record, Scan, Store, TxExt, TxMode};
use ent::core::{Caller, ClassId, Ent, Error, GroupId, StructureId, SubjectId, UserId};
use ent::modules::notes::{Evaluation, Notes};
use ent::storage::memory::MemoryStore;
use serde_json::{Value, json};

use crate::fixture::Custom;

const YEAR: SchoolYear = SchoolYear(2026);

fn day(m: u32, d: u32) -> NaiveDate {
    let y = if m >= 8 { 2026 } else { 2027 };
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Counts `notes.grades_published` events and the pupils they name.
#[derive(Clone, Default)]
struct Seen(Arc<(AtomicUsize, std::sync::Mutex<Vec<Value>>)>);

#[async_trait]
impl Subscriber for Seen {
    fn name(&self) -> &str {
        "notesprobe.seen"
    }
    async fn handle(&self, _ctx: &mut Context<'_>, event: &EventEnvelope) -> ent::Result<()> {
        self.0.0.fetch_add(1, Ordering::SeqCst);
        self.0.1.lock().unwrap().push(event.payload.clone());
        Ok(())
    }
}

struct School {
    store: MemoryStore,
    clock: ManualClock,
    engine: Arc<RightsEngine>,
    ent: Ent,
    seen: Seen,
    structure: StructureId,
    other_structure: StructureId,
    class: ClassId,
    other_class: ClassId,
    group: GroupId,
    maths: SubjectId,
    french: SubjectId,
    latin: SubjectId,
    /// Pupils of 3A, in name order: Alice Bernard, Bruno Colin, Chloé Dubois.
    pupils: [UserId; 3],
    /// A pupil of 4B.
    other_pupil: UserId,
    /// Alice's mother (legal, with authority) and a contact without authority.
    parent: UserId,
    contact: UserId,
    /// Teaches maths to 3A (professeur principal of 3A); teaches French to 3A; teaches maths to 4B only;
    /// teaches Latin to the group.
    maths_teacher: UserId,
    french_teacher: UserId,
    other_teacher: UserId,
    latin_teacher: UserId,
    direction: UserId,
    other_direction: UserId,
    admin: UserId,
}

fn user(given: &str, family: &str, affiliations: Vec<Affiliation>) -> User {
    User {
        id: UserId::new(),
        login: format!("{}.{}", given.to_lowercase(), family.to_lowercase()),
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

fn aff(structure: StructureId, profile: Profile) -> Vec<Affiliation> {
    vec![Affiliation { structure, profile, functions: vec![] }]
}

impl School {
    async fn new() -> School {
        let store = MemoryStore::new();
        let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 10, 5, 8, 0, 0).unwrap());
        let engine = RightsEngine::new(Arc::new(store.clone()), Arc::new(clock.clone()));
        let seen = Seen::default();
        let probe = Custom {
            manifest: Manifest::new("notesprobe", "1.0.0").listens("notesprobe.seen", ["notes.grades_published"]),
            handlers: Handlers::new().subscriber(seen.clone()),
        };
        let ent = Ent::builder(Arc::new(store.clone()))
            .clock(Arc::new(clock.clone()))
            .authorizer(engine.clone())
            .module(Notes)
            .module(probe)
            .build()
            .await
            .unwrap();
        let structure = StructureId::new();
        let other_structure = StructureId::new();
        let mk_structure = |id, uai: &str| Structure {
            id,
            uai: Some(uai.parse().unwrap()),
            name: format!("Collège {uai}"),
            kind: StructureKind::College,
            contract: Contract::Public,
            academie: "ORLEANS-TOURS".into(),
            time_zone: "Europe/Paris".into(),
            parent: None,
            periods: PeriodKind::Trimestres,
            source: None,
            attributes: Default::default(),
        };
        let class = Class { id: ClassId::new(), structure, year: YEAR, name: "3A".into(), level: None, source: None };
        let other_class =
            Class { id: ClassId::new(), structure, year: YEAR, name: "4B".into(), level: None, source: None };
        let group = Group {
            id: GroupId::new(),
            structure,
            year: YEAR,
            name: "Latin 3e".into(),
            kind: GroupKind::Teaching,
            profile: None,
            source: None,
        };
        let subject = |code: &str, label: &str| Subject {
            id: SubjectId::new(),
            structure,
            code: code.into(),
            label: label.into(),
            source: None,
        };
        let (maths, french, latin) =
            (subject("061300", "MATHEMATIQUES"), subject("020700", "FRANCAIS"), subject("021000", "LATIN"));
        let alice = user("Alice", "Bernard", aff(structure, Profile::Eleve));
        let bruno = user("Bruno", "Colin", aff(structure, Profile::Eleve));
        let chloe = user("Chloé", "Dubois", aff(structure, Profile::Eleve));
        let other_pupil = user("Denis", "Martin", aff(structure, Profile::Eleve));
        let parent = user("Anne", "Bernard", aff(structure, Profile::Responsable));
        let contact = user("Paul", "Bernard", aff(structure, Profile::Responsable));
        let maths_teacher = user("Marie", "Curie", aff(structure, Profile::Enseignant));
        let french_teacher = user("Victor", "Hugo", aff(structure, Profile::Enseignant));
        let other_teacher = user("Blaise", "Pascal", aff(structure, Profile::Enseignant));
        let latin_teacher = user("Julia", "Cesar", aff(structure, Profile::Enseignant));
        let direction = user("Jules", "Ferry", aff(structure, Profile::Direction));
        let other_direction = user("Louise", "Michel", aff(other_structure, Profile::Direction));
        let admin = user("Ada", "Admin", aff(structure, Profile::AdminLocal));
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        tx.insert_record(&mk_structure(structure, "0370884K")).await.unwrap();
        tx.insert_record(&mk_structure(other_structure, "0370885L")).await.unwrap();
        for c in [&class, &other_class] {
            tx.insert_record(c).await.unwrap();
        }
        tx.insert_record(&group).await.unwrap();
        for s in [&maths, &french, &latin] {
            tx.insert_record(s).await.unwrap();
        }
        for u in [
            &alice,
            &bruno,
            &chloe,
            &other_pupil,
            &parent,
            &contact,
            &maths_teacher,
            &french_teacher,
            &other_teacher,
            &latin_teacher,
            &direction,
            &other_direction,
            &admin,
        ] {
            tx.insert_record(u).await.unwrap();
        }
        let member = |unit, u: &User| Membership {
            unit,
            year: YEAR,
            user: u.id,
            structure,
            sort_name: format!("{} {}", u.family_name.to_lowercase(), u.given_name.to_lowercase()),
        };
        for p in [&alice, &bruno, &chloe] {
            tx.insert_record(&member(Unit::Class(class.id), p)).await.unwrap();
        }
        // Alice and Chloé take Latin, with Denis of 4B.
        for p in [&alice, &chloe, &other_pupil] {
            tx.insert_record(&member(Unit::Group(group.id), p)).await.unwrap();
        }
        tx.insert_record(&member(Unit::Class(other_class.id), &other_pupil)).await.unwrap();
        let link = |parent: &User, legal, authority| ParentLink {
            parent: parent.id,
            child: alice.id,
            legal,
            authority,
            priority: if authority { 1 } else { 2 },
            financial: false,
        };
        tx.insert_record(&link(&parent, true, true)).await.unwrap();
        tx.insert_record(&link(&contact, false, false)).await.unwrap();
        let teaching = |teacher: &User, unit, subject: &Subject, principal| Teaching {
            teacher: teacher.id,
            unit,
            subject: subject.id,
            year: YEAR,
            structure,
            principal,
        };
        tx.insert_record(&teaching(&maths_teacher, Unit::Class(class.id), &maths, true)).await.unwrap();
        tx.insert_record(&teaching(&french_teacher, Unit::Class(class.id), &french, false)).await.unwrap();
        tx.insert_record(&teaching(&other_teacher, Unit::Class(other_class.id), &maths, false)).await.unwrap();
        tx.insert_record(&teaching(&latin_teacher, Unit::Group(group.id), &latin, false)).await.unwrap();
        let period =
            |index, start, end, closed| Period { structure, year: YEAR, index, start, end, council: None, closed };
        tx.insert_record(&period(1, day(9, 1), day(11, 30), false)).await.unwrap();
        tx.insert_record(&period(2, day(12, 1), day(2, 28), false)).await.unwrap();
        tx.insert_record(&period(3, day(3, 1), day(7, 4), false)).await.unwrap();
        tx.commit().await.unwrap();
        School {
            store,
            clock,
            engine,
            ent,
            seen,
            structure,
            other_structure,
            class: class.id,
            other_class: other_class.id,
            group: group.id,
            maths: maths.id,
            french: french.id,
            latin: latin.id,
            pupils: [alice.id, bruno.id, chloe.id],
            other_pupil: other_pupil.id,
            parent: parent.id,
            contact: contact.id,
            maths_teacher: maths_teacher.id,
            french_teacher: french_teacher.id,
            other_teacher: other_teacher.id,
            latin_teacher: latin_teacher.id,
            direction: direction.id,
            other_direction: other_direction.id,
            admin: admin.id,
        }
    }

    fn as_(&self, user: UserId, profile: Profile) -> Caller {
        let structure = if user == self.other_direction { self.other_structure } else { self.structure };
        Caller::user(user, structure, [profile]).with_origin("10.0.0.7")
    }

    fn pupil(&self, i: usize) -> Caller {
        self.as_(self.pupils[i], Profile::Eleve)
    }

    fn teacher(&self, id: UserId) -> Caller {
        self.as_(id, Profile::Enseignant)
    }

    fn direction(&self) -> Caller {
        self.as_(self.direction, Profile::Direction)
    }

    async fn call(&self, caller: &Caller, action: &str, input: Value) -> ent::Result<Value> {
        self.ent.call_value(caller, action, input).await
    }

    /// Creates a maths evaluation of 3A as its teacher.
    async fn maths_evaluation(&self, extra: Value) -> Value {
        let mut input = json!({
            "unit": {"kind": "class", "id": self.class},
            "subject": self.maths,
            "period": 1,
            "date": "2026-10-02",
            "title": "Fractions",
        });
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        self.call(&self.teacher(self.maths_teacher), "notes.create_evaluation", input).await.unwrap()
    }

    async fn record(&self, teacher: UserId, evaluation: &Value, grades: Value) -> ent::Result<Value> {
        let input = json!({"evaluation": evaluation["id"], "grades": grades});
        self.call(&self.teacher(teacher), "notes.record_grades", input).await
    }

    async fn evaluations(&self) -> Vec<(u64, Evaluation)> {
        let mut tx = self.store.begin(TxMode::ReadOnly).await.unwrap();
        let (page, _) =
            tx.scan_records::<Evaluation>(&Scan::primary(Evaluation::COLLECTION).limit(1000)).await.unwrap();
        page.into_iter().map(|v| (v.version, v.value)).collect()
    }

    async fn pupil_period(&self, caller: &Caller, pupil: Option<UserId>, period: u8) -> ent::Result<Value> {
        let mut input = json!({"period": period});
        if let Some(p) = pupil {
            input["pupil"] = json!(p);
        }
        self.call(caller, "notes.pupil_period", input).await
    }
}

fn subject<'a>(view: &'a Value, label: &str) -> &'a Value {
    view["subjects"].as_array().unwrap().iter().find(|s| s["subject"]["label"] == label).unwrap_or_else(|| {
        panic!("no subject {label} in {view:#}");
    })
}

fn forbidden(result: ent::Result<Value>) {
    match result {
        Err(Error::Forbidden { .. }) => {}
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

fn invalid(result: ent::Result<Value>, field: &str) {
    match result {
        Err(Error::Invalid { field: f, .. }) if f == field => {}
        other => panic!("expected Invalid {{ field: {field} }}, got {other:?}"),
    }
}

fn invalid_input(result: ent::Result<Value>) {
    match result {
        Err(Error::InvalidInput { .. }) => {}
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test]
async fn a_teacher_grades_the_class_and_each_profile_sees_what_it_may() {
    let s = School::new().await;
    let [alice, bruno, chloe] = s.pupils;
    // 15/20, 9.5/20, Abs: one call for the whole class.
    let e1 = s.maths_evaluation(json!({})).await;
    assert_eq!(e1["published"], true, "no publication date: published at once");
    let written = s
        .record(
            s.maths_teacher,
            &e1,
            json!([
                {"pupil": alice, "value": 15, "comment": "Très bien"},
                {"pupil": bruno, "value": "9,5"},
                {"pupil": chloe, "status": "Abs"},
            ]),
        )
        .await
        .unwrap();
    assert_eq!(written["written"], 3);
    // A second evaluation on 10, coefficient 2: Alice 6/10 (12 on 20), Bruno 10/10, Chloé 4/10.
    let e2 =
        s.maths_evaluation(json!({"title": "Géométrie", "scale": 10, "coefficient": 2, "date": "2026-10-03"})).await;
    s.record(
        s.maths_teacher,
        &e2,
        json!([{"pupil": alice, "value": 6}, {"pupil": bruno, "value": 10}, {"pupil": chloe, "value": 4}]),
    )
    .await
    .unwrap();

    // Alice: (15 + 2·12)/3 = 13. Bruno: (9.5 + 2·20)/3 = 49.5/3 = 16.5. Chloé: Abs left out: 2·8/2 = 8.
    let view = s.pupil_period(&s.pupil(0), None, 1).await.unwrap();
    let maths = subject(&view, "MATHEMATIQUES");
    assert_eq!(maths["average"]["shown"], "13.00");
    assert_eq!(maths["average"]["exact"], "13");
    assert_eq!(maths["evaluations"][0]["grade"]["value"], "15");
    assert_eq!(maths["evaluations"][0]["grade"]["comment"], "Très bien");
    assert_eq!(maths["evaluations"][0]["evaluation"]["teacher"]["name"], "Marie Curie");
    // Evaluation 1's class statistics: 15 and 9.5 (Abs left out): mean 12.25, min 9.5, max 15.
    assert_eq!(maths["evaluations"][0]["evaluation"]["stats"]["mean"]["shown"], "12.25");
    assert_eq!(maths["evaluations"][0]["evaluation"]["stats"]["min"]["shown"], "9.50");
    // The class's maths averages: 13, 16.5, 8: mean 37.5/3 = 12.5, min 8, max 16.5.
    assert_eq!(maths["class"]["mean"]["shown"], "12.50");
    assert_eq!(maths["class"]["max"]["shown"], "16.50");
    assert_eq!(maths["rank"], Value::Null, "ranks are hidden from families by default");
    assert_eq!(view["general"]["shown"], "13.00");
    assert_eq!(view["published_only"], true);

    // Her mother sees the same through her children's view; the contact without authority sees nothing.
    let parent = s.as_(s.parent, Profile::Responsable);
    let children = s.call(&parent, "notes.children_period", json!({"period": 1})).await.unwrap();
    assert_eq!(children.as_array().unwrap().len(), 1);
    assert_eq!(subject(&children[0]["period"], "MATHEMATIQUES")["average"]["shown"], "13.00");
    let direct = s.pupil_period(&parent, Some(alice), 1).await.unwrap();
    assert_eq!(direct["general"]["shown"], "13.00");
    let contact = s.as_(s.contact, Profile::Responsable);
    forbidden(s.pupil_period(&contact, Some(alice), 1).await);
    assert_eq!(s.call(&contact, "notes.children_period", json!({"period": 1})).await.unwrap(), json!([]));
    // A pupil does not read a classmate's grades, nor a parent another child's.
    forbidden(s.pupil_period(&s.pupil(0), Some(bruno), 1).await);
    forbidden(s.pupil_period(&parent, Some(bruno), 1).await);

    // The teacher's grade book opens on the classes and subjects they teach.
    let teachings = s.call(&s.teacher(s.maths_teacher), "notes.my_teachings", json!({})).await.unwrap();
    assert_eq!(
        teachings,
        json!([{
            "unit": {"unit": {"kind": "class", "id": s.class}, "name": "3A"},
            "subject": {"id": s.maths, "code": "061300", "label": "MATHEMATIQUES"},
            "principal": true,
        }])
    );
    assert_eq!(s.call(&s.pupil(0), "notes.my_teachings", json!({})).await.unwrap(), json!([]));

    // The teacher's grid: pupils in name order, grades aligned with the evaluations, ranks.
    let grid_input = json!({"unit": {"kind": "class", "id": s.class}, "subject": s.maths, "period": 1});
    let grid = s.call(&s.teacher(s.maths_teacher), "notes.teacher_grid", grid_input.clone()).await.unwrap();
    let names: Vec<&str> =
        grid["pupils"].as_array().unwrap().iter().map(|r| r["pupil"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Alice Bernard", "Bruno Colin", "Chloé Dubois"]);
    assert_eq!(grid["pupils"][1]["average"]["shown"], "16.50");
    assert_eq!(grid["pupils"][1]["rank"], 1);
    assert_eq!(grid["pupils"][2]["grades"][0]["status"], "Abs");
    assert_eq!(grid["pupils"][2]["grades"][0]["counted"], false);
    assert_eq!(grid["evaluations"].as_array().unwrap().len(), 2);
    // Another teacher of the structure, and the French teacher, may not read the maths grid of 3A.
    forbidden(s.call(&s.teacher(s.other_teacher), "notes.teacher_grid", grid_input.clone()).await);
    forbidden(s.call(&s.teacher(s.french_teacher), "notes.teacher_grid", grid_input.clone()).await);
    // Direction may; a pupil may not.
    s.call(&s.direction(), "notes.teacher_grid", grid_input.clone()).await.unwrap();
    forbidden(s.call(&s.pupil(0), "notes.teacher_grid", grid_input).await);

    // A teacher reading a pupil's period sees only the subjects they teach her, without the general average.
    s.call(
        &s.teacher(s.french_teacher),
        "notes.create_evaluation",
        json!({"unit": {"kind": "class", "id": s.class}, "subject": s.french, "period": 1, "date": "2026-10-01", "title": "Dictée"}),
    )
    .await
    .unwrap();
    let seen_by_french = s.pupil_period(&s.teacher(s.french_teacher), Some(alice), 1).await.unwrap();
    let labels: Vec<&str> = seen_by_french["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["subject"]["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["FRANCAIS"]);
    assert_eq!(seen_by_french["general"], Value::Null);
    // A teacher of another class reads nothing of hers.
    forbidden(s.pupil_period(&s.teacher(s.other_teacher), Some(alice), 1).await);

    // Direction's class table: subjects by label, pupils in name order, general averages and ranks.
    let table = s.call(&s.direction(), "notes.class_averages", json!({"class": s.class, "period": 1})).await.unwrap();
    let labels: Vec<&str> =
        table["subjects"].as_array().unwrap().iter().map(|x| x["subject"]["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["FRANCAIS", "MATHEMATIQUES"]);
    assert_eq!(table["pupils"][0]["averages"][0], Value::Null, "an evaluation without grades gives no average");
    assert_eq!(table["pupils"][0]["averages"][1]["shown"], "13.00");
    assert_eq!(table["pupils"][1]["general"]["shown"], "16.50");
    assert_eq!(table["pupils"][1]["rank"], 1);
    assert_eq!(table["pupils"][2]["rank"], 3);
    assert_eq!(table["general"]["mean"]["shown"], "12.50");
    // The professeur principal (the maths teacher) reads it too; other teachers, parents, pupils and another
    // structure's direction do not.
    s.call(&s.teacher(s.maths_teacher), "notes.class_averages", json!({"class": s.class, "period": 1})).await.unwrap();
    for caller in [
        s.teacher(s.french_teacher),
        s.as_(s.parent, Profile::Responsable),
        s.pupil(0),
        s.as_(s.other_direction, Profile::Direction),
    ] {
        forbidden(s.call(&caller, "notes.class_averages", json!({"class": s.class, "period": 1})).await);
    }
    // Pupils and parents never write.
    for caller in [s.pupil(0), parent] {
        let direct = s
            .call(
                &caller,
                "notes.record_grades",
                json!({"evaluation": e1["id"], "grades": [{"pupil": alice, "value": 20}]}),
            )
            .await;
        forbidden(direct);
    }
}

#[tokio::test]
async fn publication_waits_for_its_date_and_the_job() {
    let s = School::new().await;
    let [alice, bruno, _] = s.pupils;
    let at = s.clock.now() + Duration::hours(48);
    let e = s.maths_evaluation(json!({"publish_at": at.to_rfc3339()})).await;
    assert_eq!(e["published"], false);
    s.record(s.maths_teacher, &e, json!([{"pupil": alice, "value": 12}, {"pupil": bruno, "value": 14}])).await.unwrap();
    s.ent.run_pending_events().await.unwrap();
    assert_eq!(s.seen.0.0.load(Ordering::SeqCst), 0, "nothing is announced before the date");

    // Before the date: the pupil and her parent see nothing; the teacher sees the evaluation, unpublished.
    let view = s.pupil_period(&s.pupil(0), None, 1).await.unwrap();
    assert_eq!(view["subjects"], json!([]));
    assert_eq!(view["general"], Value::Null);
    let parent = s.as_(s.parent, Profile::Responsable);
    assert_eq!(s.pupil_period(&parent, Some(alice), 1).await.unwrap()["subjects"], json!([]));
    let grid = s
        .call(
            &s.teacher(s.maths_teacher),
            "notes.teacher_grid",
            json!({"unit": {"kind": "class", "id": s.class}, "subject": s.maths, "period": 1}),
        )
        .await
        .unwrap();
    assert_eq!(grid["evaluations"][0]["published"], false);
    assert_eq!(grid["pupils"][0]["average"]["shown"], "12.00");
    // Running the jobs early publishes nothing.
    assert_eq!(s.ent.run_due_jobs().await.unwrap().completed, 0);

    // At the date, the job publishes and announces it once (the day's audit purge runs too).
    s.clock.set(at + Duration::seconds(1));
    assert!(s.ent.run_due_jobs().await.unwrap().completed >= 1);
    assert!(s.evaluations().await.iter().all(|(_, e)| e.published));
    s.ent.run_pending_events().await.unwrap();
    assert_eq!(s.seen.0.0.load(Ordering::SeqCst), 1);
    let payload = s.seen.0.1.lock().unwrap()[0].clone();
    assert_eq!(payload["evaluation"], e["id"]);
    let mut named: Vec<String> =
        payload["pupils"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();
    named.sort();
    let mut expected = vec![alice.to_string(), bruno.to_string()];
    expected.sort();
    assert_eq!(named, expected);
    let view = s.pupil_period(&s.pupil(0), None, 1).await.unwrap();
    assert_eq!(subject(&view, "MATHEMATIQUES")["average"]["shown"], "12.00");
    s.ent.run_due_jobs().await.unwrap();
    s.ent.run_pending_events().await.unwrap();
    assert_eq!(s.seen.0.0.load(Ordering::SeqCst), 1, "announced once");

    // A grade written after publication is visible at once and announced for that pupil.
    s.record(s.maths_teacher, &e, json!([{"pupil": s.pupils[2], "value": 8}])).await.unwrap();
    s.ent.run_pending_events().await.unwrap();
    assert_eq!(s.seen.0.0.load(Ordering::SeqCst), 2);
    assert_eq!(s.seen.0.1.lock().unwrap()[1]["pupils"], json!([s.pupils[2]]));

    // A publication date moved later: the first job finds it not yet due and leaves it; the second publishes.
    let later = s.clock.now() + Duration::days(3);
    let e2 = s
        .maths_evaluation(json!({"publish_at": (s.clock.now() + Duration::days(1)).to_rfc3339(), "title": "Moved"}))
        .await;
    s.call(
        &s.teacher(s.maths_teacher),
        "notes.update_evaluation",
        json!({"evaluation": e2["id"], "version": e2["version"], "publish_at": later.to_rfc3339()}),
    )
    .await
    .unwrap();
    s.clock.set(s.clock.now() + Duration::days(2));
    s.ent.run_due_jobs().await.unwrap();
    let stored = s.evaluations().await.into_iter().find(|(_, e)| e.title == "Moved").unwrap().1;
    assert!(!stored.published);
    s.clock.set(later);
    s.ent.run_due_jobs().await.unwrap();
    let stored = s.evaluations().await.into_iter().find(|(_, e)| e.title == "Moved").unwrap().1;
    assert!(stored.published);
}

#[tokio::test]
async fn bad_input_is_refused_with_a_typed_error_and_nothing_stored() {
    let s = School::new().await;
    let [alice, bruno, _] = s.pupils;
    let e = s.maths_evaluation(json!({})).await;
    s.record(s.maths_teacher, &e, json!([{"pupil": alice, "value": 11}])).await.unwrap();
    let before = s.evaluations().await;

    // Grades: above the scale, negative, three decimals, both a value and a status, an unknown status, a
    // pupil of another class, the same pupil twice. Each call also carries a good grade: nothing is stored.
    let good = json!({"pupil": bruno, "value": 12});
    invalid(s.record(s.maths_teacher, &e, json!([good, {"pupil": alice, "value": 20.5}])).await, "grades/1/value");
    invalid_input(s.record(s.maths_teacher, &e, json!([good, {"pupil": alice, "value": -1}])).await);
    invalid_input(s.record(s.maths_teacher, &e, json!([good, {"pupil": alice, "value": "12.345"}])).await);
    invalid(
        s.record(s.maths_teacher, &e, json!([good, {"pupil": alice, "value": 3, "status": "Abs"}])).await,
        "grades/1/status",
    );
    invalid_input(s.record(s.maths_teacher, &e, json!([good, {"pupil": alice, "status": "Absent"}])).await);
    invalid(
        s.record(s.maths_teacher, &e, json!([good, {"pupil": s.other_pupil, "value": 10}])).await,
        "grades/1/pupil",
    );
    invalid(s.record(s.maths_teacher, &e, json!([good, {"pupil": bruno, "value": 10}])).await, "grades/1/pupil");
    invalid(
        s.record(s.maths_teacher, &e, json!([good, {"pupil": alice, "comment": "sans note"}])).await,
        "grades/1/comment",
    );
    // A teacher writing into another's subject or class.
    forbidden(s.record(s.french_teacher, &e, json!([good])).await);
    forbidden(s.record(s.other_teacher, &e, json!([good])).await);
    assert_eq!(s.evaluations().await, before, "nothing stored");

    // Evaluations: a coefficient out of range, a scale out of range, a date outside the period, another's
    // subject or class, an unknown class.
    let create = |extra: Value| {
        let mut input = json!({
            "unit": {"kind": "class", "id": s.class}, "subject": s.maths, "period": 1,
            "date": "2026-10-02", "title": "Test",
        });
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        input
    };
    let teacher = s.teacher(s.maths_teacher);
    invalid(s.call(&teacher, "notes.create_evaluation", create(json!({"coefficient": 100.5}))).await, "coefficient");
    invalid(s.call(&teacher, "notes.create_evaluation", create(json!({"scale": 0}))).await, "scale");
    invalid(s.call(&teacher, "notes.create_evaluation", create(json!({"scale": 101}))).await, "scale");
    invalid(s.call(&teacher, "notes.create_evaluation", create(json!({"date": "2026-12-02"}))).await, "date");
    forbidden(s.call(&teacher, "notes.create_evaluation", create(json!({"subject": s.french}))).await);
    forbidden(
        s.call(&teacher, "notes.create_evaluation", create(json!({"unit": {"kind": "class", "id": s.other_class}})))
            .await,
    );
    match s
        .call(&teacher, "notes.create_evaluation", create(json!({"unit": {"kind": "class", "id": ClassId::new()}})))
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    // A scale lowered below a grade already given.
    invalid(
        s.call(
            &teacher,
            "notes.update_evaluation",
            json!({"evaluation": e["id"], "version": before[0].0, "scale": 10}),
        )
        .await,
        "scale",
    );
    // A stale version.
    match s.call(&teacher, "notes.update_evaluation", json!({"evaluation": e["id"], "version": 1, "title": "x"})).await
    {
        Err(Error::Conflict { retryable: false, .. }) => {}
        other => panic!("expected a stale-version Conflict, got {other:?}"),
    }
    assert_eq!(s.evaluations().await, before, "nothing stored");

    // A closed period is read-only: direction closes period 1; grades, evaluations and coefficients are refused.
    let direction = s.direction();
    s.call(
        &direction,
        "notes.set_period",
        json!({"index": 1, "start": "2026-09-01", "end": "2026-11-30", "closed": true}),
    )
    .await
    .unwrap();
    invalid(s.record(s.maths_teacher, &e, json!([good])).await, "period");
    invalid(s.call(&teacher, "notes.create_evaluation", create(json!({}))).await, "period");
    invalid(
        s.call(
            &direction,
            "notes.set_subject_options",
            json!({"class": s.class, "period": 1, "subject": s.maths, "coefficient": 2}),
        )
        .await,
        "period",
    );
    match s.call(&teacher, "notes.delete_evaluation", json!({"evaluation": e["id"], "version": before[0].0})).await {
        Err(Error::Invalid { field, .. }) if field == "period" => {}
        other => panic!("expected a closed period, got {other:?}"),
    }
    assert_eq!(s.evaluations().await, before, "nothing stored");
    // The closed period still reads.
    let view = s.pupil_period(&s.pupil(0), None, 1).await.unwrap();
    assert_eq!(view["period"]["closed"], true);
    assert_eq!(subject(&view, "MATHEMATIQUES")["average"]["shown"], "11.00");
    // Only direction manages periods; an impossible period is refused.
    forbidden(
        s.call(
            &teacher,
            "notes.set_period",
            json!({"index": 1, "start": "2026-09-01", "end": "2026-11-30", "closed": false}),
        )
        .await,
    );
    invalid(
        s.call(&direction, "notes.set_period", json!({"index": 2, "start": "2027-03-01", "end": "2027-01-01"})).await,
        "end",
    );
    let periods = s.call(&teacher, "notes.periods", json!({})).await.unwrap();
    assert_eq!(periods.as_array().unwrap().len(), 3);
    assert_eq!(periods[0]["closed"], true);
}

#[tokio::test]
async fn subject_options_optional_grades_bonuses_and_groups_through_the_actions() {
    let s = School::new().await;
    let [alice, bruno, chloe] = s.pupils;
    let direction = s.direction();
    // Maths in points, coefficient 3; French coefficient 2 (rescaled by default).
    s.call(
        &direction,
        "notes.set_subject_options",
        json!({"class": s.class, "period": 1, "subject": s.maths, "coefficient": 3, "mode": "points"}),
    )
    .await
    .unwrap();
    s.call(
        &direction,
        "notes.set_subject_options",
        json!({"class": s.class, "period": 1, "subject": s.french, "coefficient": 2}),
    )
    .await
    .unwrap();
    // Maths: 15/20 and 6/10; points: 20·(15 + 6)/30 = 14 for Alice. Bruno: 10/20 and 10/10: 20·20/30 = 40/3.
    let m1 = s.maths_evaluation(json!({})).await;
    s.record(s.maths_teacher, &m1, json!([{"pupil": alice, "value": 15}, {"pupil": bruno, "value": 10}]))
        .await
        .unwrap();
    let m2 = s.maths_evaluation(json!({"scale": 10, "title": "Sur 10"})).await;
    s.record(s.maths_teacher, &m2, json!([{"pupil": alice, "value": 6}, {"pupil": bruno, "value": 10}])).await.unwrap();
    // French: ordinary 10 for Alice; optional 18 and 11; a bonus 14/20.
    let french = |title: &str, kind: &str| json!({"unit": {"kind": "class", "id": s.class}, "subject": s.french, "period": 1, "date": "2026-10-01", "title": title, "kind": kind});
    let ft = s.teacher(s.french_teacher);
    let f1 = s.call(&ft, "notes.create_evaluation", french("Rédaction", "normal")).await.unwrap();
    let f2 = s.call(&ft, "notes.create_evaluation", french("Facultatif 1", "optional")).await.unwrap();
    let f3 = s.call(&ft, "notes.create_evaluation", french("Facultatif 2", "optional")).await.unwrap();
    let f4 = s.call(&ft, "notes.create_evaluation", french("Bonus", "bonus")).await.unwrap();
    s.record(s.french_teacher, &f1, json!([{"pupil": alice, "value": 10}, {"pupil": chloe, "value": 12}]))
        .await
        .unwrap();
    s.record(s.french_teacher, &f2, json!([{"pupil": alice, "value": 18}])).await.unwrap();
    s.record(s.french_teacher, &f3, json!([{"pupil": alice, "value": 11}])).await.unwrap();
    s.record(s.french_teacher, &f4, json!([{"pupil": alice, "value": 14}])).await.unwrap();
    // Latin, a group's evaluation: Alice 16, Chloé 12, Denis (4B) 20.
    let lt = s.teacher(s.latin_teacher);
    let l1 = s
        .call(
            &lt,
            "notes.create_evaluation",
            json!({"unit": {"kind": "group", "id": s.group}, "subject": s.latin, "period": 1, "date": "2026-10-01", "title": "Version"}),
        )
        .await
        .unwrap();
    s.record(
        s.latin_teacher,
        &l1,
        json!([{"pupil": alice, "value": 16}, {"pupil": chloe, "value": 12}, {"pupil": s.other_pupil, "value": 20}]),
    )
    .await
    .unwrap();
    // Bruno is not in the Latin group.
    invalid(s.record(s.latin_teacher, &l1, json!([{"pupil": bruno, "value": 10}])).await, "grades/0/pupil");

    // Never lower (the default): 18 first: (10 + 18 + 4)/2 = 16 > 14 (10 + bonus 4), counted; 11 would give
    // (10 + 18 + 11 + 4)/3 = 43/3 < 16: left out. French = 16.
    // General for Alice: maths 14 c3, French 16 c2, Latin 16 c1: (42 + 32 + 16)/6 = 90/6 = 15.
    let view = s.pupil_period(&s.pupil(0), None, 1).await.unwrap();
    assert_eq!(subject(&view, "MATHEMATIQUES")["average"]["exact"], "14");
    assert_eq!(subject(&view, "MATHEMATIQUES")["mode"], "points");
    let fr = subject(&view, "FRANCAIS");
    assert_eq!(fr["average"]["exact"], "16");
    let counted: Vec<&Value> = fr["evaluations"].as_array().unwrap().iter().map(|e| &e["grade"]["counted"]).collect();
    // By date then creation: Rédaction, Facultatif 1, Facultatif 2, Bonus.
    assert_eq!(counted, [&json!(true), &json!(true), &json!(false), &json!(true)]);
    assert_eq!(subject(&view, "LATIN")["average"]["exact"], "16");
    assert_eq!(view["general"]["exact"], "15");
    // The Latin class statistics are over 3A's pupils only: Alice 16 and Chloé 12: mean 14 (Denis is in 4B).
    assert_eq!(subject(&view, "LATIN")["class"]["mean"]["exact"], "14");

    // Pronote's rule, set by the structure's administrator: 18 and 11 are both above 10 and both count:
    // (10 + 18 + 11 + 4)/3 = 43/3 = 14.33; general (42 + 2·43/3 + 16)/6 = (58 + 86/3)/6 = 260/18 = 130/9.
    let admin = s.as_(s.admin, Profile::AdminLocal);
    s.ent
        .set_setting(
            &admin,
            s.structure,
            "notes.options",
            &json!({"optional_rule": "pronote", "show_rank": true, "rounding": {"step": "0.1", "direction": "up"}}),
            None,
        )
        .await
        .unwrap();
    let view = s.pupil_period(&s.pupil(0), None, 1).await.unwrap();
    assert_eq!(subject(&view, "FRANCAIS")["average"]["exact"], "43/3");
    // 14.333... up to the tenth: 14.4.
    assert_eq!(subject(&view, "FRANCAIS")["average"]["shown"], "14.4");
    assert_eq!(view["general"]["exact"], "130/9");
    // Ranks shown to families now: Alice's general 14.44 against Bruno 40/3 = 13.33 (maths only) and Chloé 12
    // (French 12 c2, Latin 12 c1).
    assert_eq!(view["rank"], 1);
    assert_eq!(subject(&view, "MATHEMATIQUES")["rank"], 1);
    // Options for an unknown subject, or out of range, are refused.
    match s
        .call(
            &direction,
            "notes.set_subject_options",
            json!({"class": s.class, "period": 1, "subject": SubjectId::new(), "coefficient": 1}),
        )
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    invalid(
        s.call(
            &direction,
            "notes.set_subject_options",
            json!({"class": s.class, "period": 1, "subject": s.maths, "coefficient": 101}),
        )
        .await,
        "coefficient",
    );
    // A teacher does not set coefficients.
    forbidden(
        s.call(
            &s.teacher(s.maths_teacher),
            "notes.set_subject_options",
            json!({"class": s.class, "period": 1, "subject": s.maths, "coefficient": 1}),
        )
        .await,
    );
    // Without class statistics nor ranks for families, the pupil's own averages are unchanged.
    s.ent
        .set_setting(
            &admin,
            s.structure,
            "notes.options",
            &json!({"optional_rule": "pronote", "class_stats_for_families": false}),
            None,
        )
        .await
        .unwrap();
    let private = s.pupil_period(&s.pupil(0), None, 1).await.unwrap();
    assert_eq!(private["general"]["exact"], "130/9");
    assert_eq!(private["general_class"], Value::Null);
    assert_eq!(private["rank"], Value::Null);
    assert_eq!(subject(&private, "FRANCAIS")["class"], Value::Null);
    assert_eq!(subject(&private, "FRANCAIS")["evaluations"][0]["evaluation"]["stats"], Value::Null);
    // Staff still see them.
    let staff_view = s.pupil_period(&direction, Some(alice), 1).await.unwrap();
    assert_eq!(staff_view["rank"], 1);
    s.ent
        .set_setting(
            &admin,
            s.structure,
            "notes.options",
            &json!({"optional_rule": "pronote", "show_rank": true, "rounding": {"step": "0.1", "direction": "up"}}),
            None,
        )
        .await
        .unwrap();
    // A bad setting value is refused by its schema.
    match s.ent.set_setting(&admin, s.structure, "notes.options", &json!({"optional_rule": "best"}), None).await {
        Err(Error::InvalidSetting { .. }) => {}
        other => panic!("expected InvalidSetting, got {other:?}"),
    }

    // The class table agrees.
    let table = s.call(&direction, "notes.class_averages", json!({"class": s.class, "period": 1})).await.unwrap();
    let labels: Vec<&str> =
        table["subjects"].as_array().unwrap().iter().map(|x| x["subject"]["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["FRANCAIS", "LATIN", "MATHEMATIQUES"]);
    assert_eq!(table["subjects"][2]["coefficient"], "3");
    assert_eq!(table["pupils"][0]["general"]["exact"], "130/9");
    assert_eq!(table["pupils"][1]["general"]["exact"], "40/3");
    assert_eq!(table["pupils"][2]["general"]["exact"], "12");
    let ranks: Vec<&Value> = table["pupils"].as_array().unwrap().iter().map(|r| &r["rank"]).collect();
    assert_eq!(ranks, [&json!(1), &json!(2), &json!(3)]);
    // The Latin teacher's grid: the group's three pupils, whatever their class.
    let grid = s
        .call(
            &lt,
            "notes.teacher_grid",
            json!({"unit": {"kind": "group", "id": s.group}, "subject": s.latin, "period": 1}),
        )
        .await
        .unwrap();
    assert_eq!(grid["pupils"].as_array().unwrap().len(), 3);
    assert_eq!(grid["class"]["mean"]["exact"], "16");
}

#[tokio::test]
async fn staff_reads_of_pupils_grades_are_audited_families_are_not() {
    let s = School::new().await;
    let [alice, bruno, chloe] = s.pupils;
    let e = s.maths_evaluation(json!({})).await;
    s.record(s.maths_teacher, &e, json!([{"pupil": alice, "value": 12}])).await.unwrap();
    let trail = |pupil: UserId| {
        let ent = &s.ent;
        async move { ent.audit_trail(&format!("pupil:{pupil}"), 100).await.unwrap() }
    };
    // The pupil and her parent read: nothing audited.
    s.pupil_period(&s.pupil(0), None, 1).await.unwrap();
    s.pupil_period(&s.as_(s.parent, Profile::Responsable), Some(alice), 1).await.unwrap();
    s.engine.flush().await.unwrap();
    assert!(trail(alice).await.is_empty());
    // The teacher's grid: one entry per pupil of the class.
    s.call(
        &s.teacher(s.maths_teacher),
        "notes.teacher_grid",
        json!({"unit": {"kind": "class", "id": s.class}, "subject": s.maths, "period": 1}),
    )
    .await
    .unwrap();
    // Direction's table and a pupil's period.
    s.call(&s.direction(), "notes.class_averages", json!({"class": s.class, "period": 1})).await.unwrap();
    s.pupil_period(&s.direction(), Some(bruno), 1).await.unwrap();
    s.engine.flush().await.unwrap();
    let (a, b, c) = (trail(alice).await, trail(bruno).await, trail(chloe).await);
    assert_eq!((a.len(), b.len(), c.len()), (2, 3, 2));
    assert!(a.iter().all(|e| e.action == "pupil.read" && e.origin() == Some("10.0.0.7")));
    assert_eq!(a[0].actor.user_id(), Some(s.maths_teacher));
    assert_eq!(a[1].actor.user_id(), Some(s.direction));
    // A refused read audits nothing.
    forbidden(
        s.call(
            &s.teacher(s.other_teacher),
            "notes.teacher_grid",
            json!({"unit": {"kind": "class", "id": s.class}, "subject": s.maths, "period": 1}),
        )
        .await,
    );
    s.engine.flush().await.unwrap();
    assert_eq!(trail(alice).await.len(), 2);
}
