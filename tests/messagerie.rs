//! The messagerie through its JSON actions, as each profile: the communication rules (default and
//! tightened), delivery all-or-nothing, folders, threads, recall, search, attachments, drafts, and bad input
//! that leaves the store as it was. The school is built on the memory adapter and, for the search and
//! delivery paths, on SQLite too.

use std::sync::Arc;

use chrono::Duration;
use ent::core::clock::ManualClock;
use ent::core::directory::*;
use ent::core::storage::blob::{BlobId, BlobStore, references};
use ent::core::storage::fulltext::FullText;
use ent::core::storage::{Scan, Store, TxExt, TxMode};
use ent::core::{Caller, ClassId, Ent, Error, GroupId, StructureId, SubjectId, UserId};
use ent::modules::messagerie::{LIMITS, Limits, Messagerie, POLICY};
use ent::storage::memory::{MemoryBlobStore, MemoryFullText, MemoryStore};
use serde_json::{Value, json};

const YEAR: SchoolYear = SchoolYear(2026);

/// A collège with two classes: 3A (Alice, Bruno, Dan whose account is disabled) and 3B (Chloé); their
/// parents; a teacher for each class; a principal; a manual group (the chess club: Alice and Chloé).
pub(crate) struct School {
    pub(crate) ent: Ent,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) clock: ManualClock,
    pub(crate) structure: StructureId,
    pub(crate) class_a: ClassId,
    pub(crate) class_b: ClassId,
    pub(crate) club: GroupId,
    pub(crate) alice: Caller,
    pub(crate) bruno: Caller,
    pub(crate) chloe: Caller,
    pub(crate) dan: UserId,
    pub(crate) parent_a: Caller,
    pub(crate) parent_b: Caller,
    pub(crate) parent_c: Caller,
    pub(crate) teacher_a: Caller,
    pub(crate) teacher_b: Caller,
    pub(crate) principal: Caller,
    pub(crate) admin: Caller,
}

fn person(structure: StructureId, profile: Profile, given: &str, family: &str) -> User {
    User {
        id: UserId::new(),
        login: format!("{}.{}", given.to_lowercase(), family.to_lowercase()),
        given_name: given.into(),
        family_name: family.into(),
        birth_date: None,
        email: None,
        affiliations: vec![Affiliation { structure, profile, functions: vec![] }],
        adult: false,
        state: AccountState::Active,
        sources: vec![],
        attributes: Default::default(),
    }
}

fn caller(u: &User, structure: StructureId) -> Caller {
    Caller::user(u.id, structure, u.affiliations.iter().map(|a| a.profile))
}

/// Monday 30 November 2026, 09:00 in Paris.
fn monday_morning() -> ManualClock {
    ManualClock::at("2026-11-30T08:00:00Z".parse().unwrap())
}

impl School {
    pub(crate) async fn memory() -> School {
        let clock = monday_morning();
        let blobs: Arc<dyn BlobStore> = Arc::new(MemoryBlobStore::new(1 << 20, Arc::new(clock.clone())));
        School::build(Arc::new(MemoryStore::new()), blobs, Arc::new(MemoryFullText::new()), clock).await
    }

    #[cfg(feature = "sqlite")]
    pub(crate) async fn sqlite() -> School {
        let clock = monday_morning();
        let store = ent::storage::sqlite::SqliteStore::in_memory().unwrap();
        let blobs: Arc<dyn BlobStore> = Arc::new(store.blob_store(1 << 20));
        let text: Arc<dyn FullText> = Arc::new(store.full_text());
        School::build(Arc::new(store), blobs, text, clock).await
    }

    async fn build(
        store: Arc<dyn Store>,
        blobs: Arc<dyn BlobStore>,
        text: Arc<dyn FullText>,
        clock: ManualClock,
    ) -> School {
        let ent = Ent::builder(store.clone())
            .clock(Arc::new(clock.clone()))
            .module(Messagerie::new(blobs.clone(), text))
            .build()
            .await
            .unwrap();
        let s = StructureId::new();
        let (class_a, class_b, club) = (ClassId::new(), ClassId::new(), GroupId::new());
        let alice = person(s, Profile::Eleve, "Alice", "Martin");
        let bruno = person(s, Profile::Eleve, "Bruno", "Petit");
        let chloe = person(s, Profile::Eleve, "Chloé", "Durand");
        let mut dan = person(s, Profile::Eleve, "Dan", "Leroy");
        dan.state = AccountState::Disabled { since: "2026-10-01T00:00:00Z".parse().unwrap() };
        let parent_a = person(s, Profile::Responsable, "Anne", "Martin");
        let parent_b = person(s, Profile::Responsable, "Bernard", "Petit");
        let parent_c = person(s, Profile::Responsable, "Claire", "Durand");
        let teacher_a = person(s, Profile::Enseignant, "Thomas", "Lefèvre");
        let teacher_b = person(s, Profile::Enseignant, "Théo", "Bernard");
        let principal = person(s, Profile::Direction, "Paul", "Moreau");
        let admin = person(s, Profile::AdminLocal, "Ada", "Admin");
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        tx.insert_record(&Structure {
            id: s,
            uai: None,
            name: "Collège Jean Moulin".into(),
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
        for (id, name) in [(class_a, "3A"), (class_b, "3B")] {
            tx.insert_record(&Class { id, structure: s, year: YEAR, name: name.into(), level: None, source: None })
                .await
                .unwrap();
        }
        tx.insert_record(&Group {
            id: club,
            structure: s,
            year: YEAR,
            name: "Club d'échecs".into(),
            kind: GroupKind::Manual,
            profile: None,
            source: None,
        })
        .await
        .unwrap();
        for u in
            [&alice, &bruno, &chloe, &dan, &parent_a, &parent_b, &parent_c, &teacher_a, &teacher_b, &principal, &admin]
        {
            tx.insert_record(u).await.unwrap();
        }
        let member = |unit: Unit, u: &User| Membership {
            unit,
            year: YEAR,
            user: u.id,
            structure: s,
            sort_name: names::fold(&format!("{} {}", u.family_name, u.given_name)),
        };
        for m in [
            member(Unit::Class(class_a), &alice),
            member(Unit::Class(class_a), &bruno),
            member(Unit::Class(class_a), &dan),
            member(Unit::Class(class_b), &chloe),
            member(Unit::Group(club), &alice),
            member(Unit::Group(club), &chloe),
        ] {
            tx.insert_record(&m).await.unwrap();
        }
        for (parent, child) in [(&parent_a, &alice), (&parent_b, &bruno), (&parent_c, &chloe)] {
            tx.insert_record(&ParentLink {
                parent: parent.id,
                child: child.id,
                legal: true,
                authority: true,
                priority: 1,
                financial: true,
            })
            .await
            .unwrap();
        }
        let subject = SubjectId::new();
        for (teacher, class) in [(&teacher_a, class_a), (&teacher_b, class_b)] {
            tx.insert_record(&Teaching {
                teacher: teacher.id,
                unit: Unit::Class(class),
                subject,
                year: YEAR,
                structure: s,
                principal: false,
            })
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        School {
            ent,
            store,
            blobs,
            clock,
            structure: s,
            class_a,
            class_b,
            club,
            alice: caller(&alice, s),
            bruno: caller(&bruno, s),
            chloe: caller(&chloe, s),
            dan: dan.id,
            parent_a: caller(&parent_a, s),
            parent_b: caller(&parent_b, s),
            parent_c: caller(&parent_c, s),
            teacher_a: caller(&teacher_a, s),
            teacher_b: caller(&teacher_b, s),
            principal: caller(&principal, s),
            admin: caller(&admin, s),
        }
    }

    pub(crate) async fn call(&self, who: &Caller, action: &str, input: Value) -> Result<Value, Error> {
        self.ent.call_value(who, &format!("messagerie.{action}"), input).await
    }

    pub(crate) async fn ok(&self, who: &Caller, action: &str, input: Value) -> Value {
        match self.call(who, action, input.clone()).await {
            Ok(v) => v,
            Err(e) => panic!("messagerie.{action} {input} failed: {e}"),
        }
    }

    /// Records per collection, and the unread counters of everyone: what "nothing changed" compares.
    pub(crate) async fn census(&self) -> Vec<(String, i64)> {
        let mut tx = self.store.begin(TxMode::ReadOnly).await.unwrap();
        let mut out = Vec::new();
        let mut names: Vec<String> = self.store.collections().await.unwrap().into_iter().map(|c| c.name).collect();
        names.sort();
        for name in names {
            let n = tx.count(&Scan::primary(name.as_str())).await.unwrap();
            out.push((name, n as i64));
        }
        for who in self.everyone() {
            let id = who.user_id().unwrap();
            for folder in ["inbox", "sent", "trash"] {
                let key = ("unread", id.0, folder).into();
                out.push((format!("unread {id} {folder}"), tx.counter_get("messagerie.entries", &key).await.unwrap()));
            }
        }
        out
    }

    fn everyone(&self) -> Vec<&Caller> {
        vec![
            &self.alice,
            &self.bruno,
            &self.chloe,
            &self.parent_a,
            &self.parent_b,
            &self.parent_c,
            &self.teacher_a,
            &self.teacher_b,
            &self.principal,
        ]
    }

    pub(crate) async fn unread(&self, who: &Caller) -> i64 {
        self.ok(who, "unread", json!({})).await["inbox"].as_i64().unwrap()
    }

    pub(crate) async fn inbox(&self, who: &Caller) -> Vec<Value> {
        self.ok(who, "list", json!({"folder": "inbox"})).await["entries"].as_array().unwrap().clone()
    }

    async fn set_policy(&self, policy: Value) {
        self.ent.set_setting(&self.admin, self.structure, POLICY, &policy, None).await.unwrap();
    }
}

fn user(c: &Caller) -> Value {
    json!({"kind": "user", "id": c.user_id().unwrap()})
}

fn ids(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
    out.sort();
    out
}

fn id_of(c: &Caller) -> String {
    c.user_id().unwrap().to_string()
}

fn sorted(list: &[&Caller]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|c| id_of(c)).collect();
    v.sort();
    v
}

fn reasons(preview: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = preview["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or(e["label"].as_str().unwrap()).to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn invalid_field(e: &Error) -> &str {
    match e {
        Error::Invalid { field, .. } => field,
        other => panic!("expected an invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn the_default_table_as_each_profile() {
    let s = School::memory().await;
    let everyone = [
        user(&s.alice),
        user(&s.bruno),
        user(&s.chloe),
        user(&s.parent_a),
        user(&s.parent_b),
        user(&s.parent_c),
        user(&s.teacher_a),
        user(&s.teacher_b),
        user(&s.principal),
    ];
    let preview = |who: &Caller| {
        let to = everyone.to_vec();
        let who = who.clone();
        let s = &s;
        async move { s.ok(&who, "preview", json!({ "to": to })).await }
    };
    // A pupil: their classmate, their own parent, their teacher, staff.
    let p = preview(&s.alice).await;
    assert_eq!(ids(&p["allowed"]), sorted(&[&s.bruno, &s.parent_a, &s.teacher_a, &s.principal]));
    assert_eq!(
        reasons(&p),
        vec![
            ("Bernard Petit".into(), "not_related".into()),
            ("Chloé Durand".into(), "not_related".into()),
            ("Claire Durand".into(), "not_related".into()),
            ("Théo Bernard".into(), "not_related".into()),
        ]
    );
    // A parent: their child, their child's teacher, staff; other parents are closed by default.
    let p = preview(&s.parent_a).await;
    assert_eq!(ids(&p["allowed"]), sorted(&[&s.alice, &s.teacher_a, &s.principal]));
    assert!(reasons(&p).contains(&("Bernard Petit".into(), "parent_parent_closed".into())), "{p}");
    // Claire's daughter is in another class, but in the chess club with Alice: the parents are related
    // through it, and parent-to-parent messages are closed.
    assert!(reasons(&p).contains(&("Claire Durand".into(), "parent_parent_closed".into())), "{p}");
    assert!(reasons(&p).contains(&("Chloé Durand".into(), "not_related".into())));
    // A teacher: the pupils and parents of their class, every teacher, staff.
    let p = preview(&s.teacher_a).await;
    assert_eq!(ids(&p["allowed"]), sorted(&[&s.alice, &s.bruno, &s.parent_a, &s.parent_b, &s.teacher_b, &s.principal]));
    assert_eq!(
        reasons(&p),
        vec![("Chloé Durand".into(), "not_related".into()), ("Claire Durand".into(), "not_related".into())]
    );
    // Staff: everyone in the structure.
    let p = preview(&s.principal).await;
    assert_eq!(p["allowed"].as_array().unwrap().len(), 8);
    assert!(reasons(&p).is_empty());
    assert_eq!(p["blocked"], Value::Null);
}

#[tokio::test]
async fn groups_follow_the_table_and_are_expanded_at_send_time() {
    let s = School::memory().await;
    let class = |id: ClassId, audience: &str| json!({"kind": "class", "id": id, "audience": audience});
    // The teacher of 3A writes to the parents of 3A: both parents, one stored body.
    let sent = s
        .ok(
            &s.teacher_a,
            "send",
            json!({"to": [class(s.class_a, "parents")], "subject": "Sortie", "body": "<p>Bonjour</p>"}),
        )
        .await;
    assert_eq!(sent["recipients"], 2);
    assert_eq!(s.unread(&s.parent_a).await, 1);
    assert_eq!(s.unread(&s.parent_b).await, 1);
    assert_eq!(s.unread(&s.parent_c).await, 0);
    let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.count(&Scan::primary("messagerie.messages")).await.unwrap(), 1, "one body");
    assert_eq!(tx.count(&Scan::primary("messagerie.entries")).await.unwrap(), 3, "two inboxes and the sent copy");
    drop(tx);
    // The pupils of 3A: Dan's account is disabled: skipped, without asking for confirmation.
    let sent = s.ok(&s.teacher_a, "send", json!({"to": [class(s.class_a, "members")], "subject": "Devoir"})).await;
    assert_eq!(sent["recipients"], 2);
    assert_eq!(sent["skipped"][0]["user"], json!(s.dan));
    assert_eq!(sent["skipped"][0]["reason"], "disabled");
    // Not the parents of a class they do not teach: the group is excluded as a whole, without its members.
    let p = s.ok(&s.teacher_a, "preview", json!({"to": [class(s.class_b, "parents")]})).await;
    assert_eq!(p["allowed"], json!([]));
    assert_eq!(p["excluded"][0]["label"], "3B — parents");
    assert_eq!(p["excluded"][0]["user"], Value::Null);
    // A pupil cannot address all the parents of the structure; the principal can.
    let all_parents = json!({"kind": "structure", "profile": "responsable"});
    let p = s.ok(&s.alice, "preview", json!({"to": [all_parents]})).await;
    assert_eq!(p["excluded"][0]["reason"], "not_related");
    let p = s.ok(&s.principal, "preview", json!({"to": [all_parents]})).await;
    assert_eq!(ids(&p["allowed"]), sorted(&[&s.parent_a, &s.parent_b, &s.parent_c]));
    // A pupil writes to the teachers of their class.
    let p = s.ok(&s.alice, "preview", json!({"to": [class(s.class_a, "teachers")]})).await;
    assert_eq!(ids(&p["allowed"]), sorted(&[&s.teacher_a]));
    // A manual group: its members address it, and each member is checked by the table: Alice may not write
    // to Chloé (another class), so the club is Chloé excluded.
    let club = json!({"kind": "group", "id": s.club, "audience": "members"});
    let p = s.ok(&s.alice, "preview", json!({"to": [club]})).await;
    assert_eq!(p["allowed"], json!([]));
    assert_eq!(reasons(&p), vec![("Chloé Durand".into(), "not_related".into())]);
    let p = s.ok(&s.bruno, "preview", json!({"to": [club]})).await;
    assert_eq!(p["excluded"][0]["label"], "Club d'échecs — membres", "a non-member may not address it");
    let p = s.ok(&s.principal, "preview", json!({"to": [club]})).await;
    assert_eq!(ids(&p["allowed"]), sorted(&[&s.alice, &s.chloe]));
}

#[tokio::test]
async fn a_message_is_never_delivered_to_part_of_its_recipients() {
    let s = School::memory().await;
    let before = s.census().await;
    // Alice writes to Bruno (allowed) and Chloé (another class): refused as a whole.
    let input = json!({"to": [user(&s.bruno), user(&s.chloe)], "subject": "Salut", "body": "Coucou"});
    let err = s.call(&s.alice, "send", input.clone()).await.unwrap_err();
    assert_eq!(invalid_field(&err), "to");
    assert!(err.to_string().contains("Chloé Durand"), "{err}");
    assert_eq!(s.census().await, before, "nothing stored");
    // Confirmed: only Bruno receives it, and the output says who was left out.
    let mut confirmed = input;
    confirmed["only_allowed"] = json!(true);
    let sent = s.ok(&s.alice, "send", confirmed).await;
    assert_eq!(sent["recipients"], 1);
    assert_eq!(sent["excluded"][0]["user"], json!(s.chloe.user_id().unwrap()));
    assert_eq!(s.unread(&s.bruno).await, 1);
    assert_eq!(s.unread(&s.chloe).await, 0);
    // Nobody allowed: refused even when confirmed.
    let err = s
        .call(&s.alice, "send", json!({"to": [user(&s.chloe)], "subject": "x", "only_allowed": true}))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "to");
}

#[tokio::test]
async fn stricter_settings_close_pupil_teacher_pupil_pupil_and_hours() {
    let s = School::memory().await;
    s.set_policy(json!({"pupil_teacher": false, "pupil_pupil": false})).await;
    let p = s.ok(&s.alice, "preview", json!({"to": [user(&s.teacher_a), user(&s.bruno), user(&s.principal)]})).await;
    assert_eq!(ids(&p["allowed"]), sorted(&[&s.principal]));
    assert_eq!(
        reasons(&p),
        vec![
            ("Bruno Petit".into(), "pupil_pupil_closed".into()),
            ("Thomas Lefèvre".into(), "pupil_teacher_closed".into())
        ]
    );
    let p =
        s.ok(&s.teacher_a, "preview", json!({"to": [{"kind": "class", "id": s.class_a, "audience": "members"}]})).await;
    assert_eq!(p["excluded"][0]["reason"], "pupil_teacher_closed");
    // Teachers still write to parents.
    s.ok(&s.teacher_a, "send", json!({"to": [user(&s.parent_a)], "subject": "Rendez-vous"})).await;

    // Opening hours: parents and pupils send on weekdays, 07:30 to 19:00, Paris time.
    s.set_policy(json!({"opening_hours": {"days": [1, 2, 3, 4, 5], "from": "07:30", "to": "19:00"}})).await;
    s.ok(&s.parent_a, "send", json!({"to": [user(&s.teacher_a)], "subject": "Absence"})).await;
    s.clock.set("2026-11-30T18:30:00Z".parse().unwrap()); // 19:30 in Paris
    let before = s.census().await;
    let p = s.ok(&s.parent_a, "preview", json!({"to": [user(&s.teacher_a)]})).await;
    assert_eq!(p["blocked"], "outside_opening_hours");
    let err = s.call(&s.parent_a, "send", json!({"to": [user(&s.teacher_a)], "subject": "Absence"})).await.unwrap_err();
    assert_eq!(invalid_field(&err), "opening_hours");
    assert_eq!(s.census().await, before);
    // Staff and teachers are not limited.
    s.ok(&s.teacher_a, "send", json!({"to": [user(&s.parent_a)], "subject": "Réponse"})).await;
    // A malformed setting is refused by its schema.
    let bad = json!({"opening_hours": {"days": [1], "from": "7h30", "to": "19:00"}});
    assert!(matches!(
        s.ent.set_setting(&s.admin, s.structure, POLICY, &bad, None).await.unwrap_err(),
        Error::InvalidSetting { .. }
    ));
}

#[tokio::test]
async fn inbox_read_status_folders_and_trash() {
    let s = School::memory().await;
    let m1 = s.ok(&s.teacher_a, "send", json!({"to": [user(&s.alice)], "subject": "Un"})).await["id"].clone();
    let m2 = s.ok(&s.principal, "send", json!({"to": [user(&s.alice)], "subject": "Deux"})).await["id"].clone();
    let inbox = s.inbox(&s.alice).await;
    assert_eq!(
        inbox.iter().map(|e| e["subject"].as_str().unwrap()).collect::<Vec<_>>(),
        ["Deux", "Un"],
        "newest first"
    );
    assert_eq!(s.unread(&s.alice).await, 2);
    // Opening marks read, once.
    let opened = s.ok(&s.alice, "open", json!({"message": m1})).await;
    assert_eq!(opened["message"]["subject"], "Un");
    assert_eq!(opened["entry"]["unread"], false);
    s.ok(&s.alice, "open", json!({"message": m1})).await;
    assert_eq!(s.unread(&s.alice).await, 1);
    s.ok(&s.alice, "mark", json!({"messages": [m1], "unread": true})).await;
    assert_eq!(s.unread(&s.alice).await, 2);
    // The sender's copy is in sent, never unread.
    let sent = s.ok(&s.teacher_a, "list", json!({"folder": "sent", "with_total": true})).await;
    assert_eq!(sent["total"], 1);
    assert_eq!(sent["entries"][0]["unread"], false);

    // A folder: the unread count moves with the message.
    let folder = s.ok(&s.alice, "create_folder", json!({"name": "Vie scolaire"})).await["id"].clone();
    let err = s.call(&s.alice, "create_folder", json!({"name": "VIE SCOLAIRE"})).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err:?}");
    s.ok(&s.alice, "move", json!({"messages": [m2], "to": folder})).await;
    assert_eq!(s.unread(&s.alice).await, 1);
    let list = s.ok(&s.alice, "list", json!({"folder": folder})).await;
    assert_eq!(list["unread"], 1);
    assert_eq!(list["entries"][0]["subject"], "Deux");
    let folders = s.ok(&s.alice, "folders", json!({})).await;
    assert_eq!(folders["folders"][3]["name"], "Vie scolaire");
    assert_eq!(folders["folders"][3]["total"], 1);
    // Received messages do not go to sent.
    let err = s.call(&s.alice, "move", json!({"messages": [m1], "to": "sent"})).await.unwrap_err();
    assert_eq!(invalid_field(&err), "to");

    // Trash and restore: back to the folder it came from.
    s.ok(&s.alice, "move", json!({"messages": [m2], "to": "trash"})).await;
    assert_eq!(s.ok(&s.alice, "list", json!({"folder": folder})).await["entries"], json!([]));
    s.ok(&s.alice, "restore", json!({"messages": [m2]})).await;
    assert_eq!(s.ok(&s.alice, "list", json!({"folder": folder})).await["entries"].as_array().unwrap().len(), 1);
    // Deleting the folder sends its messages to the trash; restoring then goes to the inbox.
    assert_eq!(s.ok(&s.alice, "delete_folder", json!({"id": folder})).await["changed"], 1);
    s.ok(&s.alice, "restore", json!({"messages": [m2]})).await;
    assert_eq!(s.inbox(&s.alice).await.len(), 2);
    assert_eq!(s.unread(&s.alice).await, 2);

    // Deleting for good needs the trash first; the body goes when the last copy goes.
    let err = s.call(&s.alice, "delete", json!({"messages": [m1]})).await.unwrap_err();
    assert_eq!(invalid_field(&err), "messages");
    s.ok(&s.alice, "move", json!({"messages": [m1], "to": "trash"})).await;
    s.ok(&s.alice, "delete", json!({"messages": [m1]})).await;
    assert_eq!(s.unread(&s.alice).await, 1);
    let message_count = || async {
        let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
        tx.count(&Scan::primary("messagerie.messages")).await.unwrap()
    };
    assert_eq!(message_count().await, 2, "the teacher still has the sent copy");
    s.ok(&s.teacher_a, "move", json!({"messages": [m1], "to": "trash"})).await;
    assert_eq!(s.ok(&s.teacher_a, "empty_trash", json!({})).await["changed"], 1);
    assert_eq!(message_count().await, 1);
    // Someone else's message is not there.
    let err = s.call(&s.bruno, "open", json!({"message": m2})).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
}

#[tokio::test]
async fn threads_replies_and_forwards() {
    let s = School::memory().await;
    let first = s
        .ok(&s.teacher_a, "send", json!({"to": [user(&s.parent_a), user(&s.parent_b)], "subject": "Sortie au musée", "body": "Autorisation à signer"}))
        .await;
    let (m1, thread) = (first["id"].clone(), first["thread"].clone());
    assert_eq!(m1, thread);
    // A reply goes to the sender only, in the thread, with "RE : ".
    let reply = s.ok(&s.parent_a, "send", json!({"reply_to": m1, "body": "Signée"})).await;
    assert_eq!(reply["thread"], thread);
    assert_eq!(reply["recipients"], 1);
    let opened = s.ok(&s.teacher_a, "open", json!({"message": reply["id"]})).await;
    assert_eq!(opened["message"]["subject"], "RE : Sortie au musée");
    assert_eq!(opened["message"]["kind"], "reply");
    // Reply-all reaches the sender and the other recipients; but parents may not write to parents: the
    // preview says so, and the sender confirms.
    let p = s.ok(&s.parent_a, "preview", json!({"reply_to": m1, "reply_all": true})).await;
    assert_eq!(ids(&p["allowed"]), sorted(&[&s.teacher_a]));
    assert_eq!(reasons(&p), vec![("Bernard Petit".into(), "parent_parent_closed".into())]);
    // The teacher's reply-all to their own message reaches both parents.
    let all = s.ok(&s.teacher_a, "send", json!({"reply_to": m1, "reply_all": true, "body": "Merci"})).await;
    assert_eq!(all["recipients"], 2);
    let t = s.ok(&s.parent_a, "thread", json!({"thread": thread})).await;
    let subjects: Vec<&str> =
        t["messages"].as_array().unwrap().iter().map(|m| m["message"]["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, ["Sortie au musée", "RE : Sortie au musée", "RE : Sortie au musée"]);
    // Parent B sees only what their mailbox holds.
    assert_eq!(s.ok(&s.parent_b, "thread", json!({"thread": thread})).await["messages"].as_array().unwrap().len(), 2);
    // A forward quotes the original, to someone the forwarder may reach.
    let fwd = s.ok(&s.teacher_a, "send", json!({"forward_of": reply["id"], "to": [user(&s.principal)]})).await;
    let opened = s.ok(&s.principal, "open", json!({"message": fwd["id"]})).await;
    assert_eq!(opened["message"]["subject"], "TR : RE : Sortie au musée");
    assert!(opened["message"]["body_text"].as_str().unwrap().contains("Signée"));
    // Replying to a message one cannot read: not found, nothing stored.
    let before = s.census().await;
    let err = s.call(&s.parent_c, "send", json!({"reply_to": m1, "body": "?"})).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = s.call(&s.parent_c, "send", json!({"forward_of": m1, "to": [user(&s.principal)]})).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(s.census().await, before);
}

#[tokio::test]
async fn recall_within_the_delay() {
    let s = School::memory().await;
    let m = s
        .ok(&s.principal, "send", json!({"to": [user(&s.parent_a), user(&s.parent_b)], "subject": "Erreur"}))
        .await["id"]
        .clone();
    s.ok(&s.parent_a, "open", json!({"message": m})).await;
    s.ent.run_pending_events().await.unwrap();
    let found = |who: &Caller| {
        let who = who.clone();
        let s = &s;
        async move { s.ok(&who, "search", json!({"query": "erreur"})).await["entries"].as_array().unwrap().len() }
    };
    assert_eq!(found(&s.parent_b).await, 1);
    // Only the sender recalls.
    let err = s.call(&s.parent_b, "recall", json!({"message": m})).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    let receipts = s.ok(&s.principal, "receipts", json!({"message": m})).await;
    let read: Vec<bool> = receipts["receipts"].as_array().unwrap().iter().map(|r| !r["read_at"].is_null()).collect();
    assert_eq!(read.iter().filter(|r| **r).count(), 1);
    s.clock.advance(Duration::minutes(10));
    let out = s.ok(&s.principal, "recall", json!({"message": m})).await;
    assert_eq!(out, json!({"removed": 2, "already_read": 1}));
    assert_eq!(s.inbox(&s.parent_a).await, Vec::<Value>::new());
    assert_eq!(found(&s.parent_b).await, 0, "gone from the search at once, before the index hears of it");
    assert_eq!(s.ent.run_pending_events().await.unwrap().failed, 0);
    assert_eq!(found(&s.parent_b).await, 0);
    assert_eq!(found(&s.principal).await, 1, "the sender keeps their copy");
    assert_eq!(s.unread(&s.parent_b).await, 0);
    let sent = s.ok(&s.principal, "list", json!({"folder": "sent"})).await;
    assert_eq!(sent["entries"][0]["recalled"], true);
    assert!(s.call(&s.principal, "recall", json!({"message": m})).await.is_err(), "once");
    // Past the delay (30 minutes by default, a setting): refused, nothing changes.
    let m = s.ok(&s.principal, "send", json!({"to": [user(&s.parent_a)], "subject": "Trop tard"})).await["id"].clone();
    s.clock.advance(Duration::minutes(31));
    let before = s.census().await;
    let err = s.call(&s.principal, "recall", json!({"message": m})).await.unwrap_err();
    assert_eq!(invalid_field(&err), "message");
    assert_eq!(s.census().await, before);
    let limits = Limits { recall_minutes: 60, ..Limits::default() };
    s.ent.set_setting(&s.admin, s.structure, LIMITS, &limits, None).await.unwrap();
    s.ok(&s.principal, "recall", json!({"message": m})).await;
}

async fn search_in_own_mail(s: School) {
    let m = s
        .ok(&s.teacher_a, "send", json!({"to": [user(&s.parent_a)], "subject": "Réunion parents-professeurs", "body": "<p>Le <b>jeudi</b> à 18 h, salle polyvalente.</p>"}))
        .await["id"]
        .clone();
    s.ok(
        &s.teacher_a,
        "send",
        json!({"to": [user(&s.parent_b)], "subject": "Réunion de l'équipe", "body": "Élèves absents"}),
    )
    .await;
    assert_eq!(s.ent.run_pending_events().await.unwrap().failed, 0);
    let search = |who: &Caller, q: &str| {
        let (who, q) = (who.clone(), q.to_owned());
        let s = &s;
        async move {
            s.ok(&who, "search", json!({"query": q})).await["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["subject"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search(&s.parent_a, "reunion").await, ["Réunion parents-professeurs"]);
    assert_eq!(search(&s.parent_a, "SALLE poly*").await, ["Réunion parents-professeurs"]);
    assert_eq!(search(&s.parent_a, "thomas").await, ["Réunion parents-professeurs"], "the sender's name");
    assert!(search(&s.parent_a, "eleves").await.is_empty(), "another mailbox's message");
    assert_eq!(search(&s.parent_b, "eleves").await, ["Réunion de l'équipe"]);
    assert_eq!(search(&s.teacher_a, "reunion").await.len(), 2, "the sender's copies");
    assert!(search(&s.parent_c, "reunion").await.is_empty());
    // Deleted for good: gone from the search.
    s.ok(&s.parent_a, "move", json!({"messages": [m], "to": "trash"})).await;
    s.ok(&s.parent_a, "delete", json!({"messages": [m]})).await;
    assert_eq!(s.ent.run_pending_events().await.unwrap().failed, 0);
    assert!(search(&s.parent_a, "reunion").await.is_empty());
}

#[tokio::test]
async fn search_finds_one_s_own_mail_only() {
    search_in_own_mail(School::memory().await).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn search_finds_one_s_own_mail_only_on_sqlite() {
    search_in_own_mail(School::sqlite().await).await;
}

async fn attachments_are_shared(s: School) {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let pdf = b"%PDF-1.4 autorisation de sortie".to_vec();
    let up = s.ok(&s.teacher_a, "upload", json!({"data": b64(&pdf)})).await;
    let blob = up["blob"].as_str().unwrap().to_owned();
    assert_eq!(up["size"], pdf.len());
    let attach = json!([{"blob": blob, "name": "autorisation.pdf", "content_type": "application/pdf"}]);
    let m = s
        .ok(&s.teacher_a, "send", json!({"to": [{"kind": "class", "id": s.class_a, "audience": "parents"}], "subject": "Sortie", "attachments": attach}))
        .await["id"]
        .clone();
    let id = BlobId::from_hex(&blob).unwrap();
    let refs = || async {
        let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
        references(&mut *tx, &id).await.unwrap()
    };
    assert_eq!(refs().await, 1, "one reference for every mailbox");
    let got = s.ok(&s.parent_b, "download", json!({"message": m, "index": 0})).await;
    assert_eq!(got["data"], b64(&pdf));
    assert_eq!(got["attachment"]["name"], "autorisation.pdf");
    assert!(matches!(
        s.call(&s.parent_c, "download", json!({"message": m, "index": 0})).await.unwrap_err(),
        Error::NotFound { .. }
    ));
    // A forward carries the file: a second reference.
    let f = s.ok(&s.parent_a, "send", json!({"forward_of": m, "to": [user(&s.principal)]})).await["id"].clone();
    assert_eq!(refs().await, 2);
    assert_eq!(s.ok(&s.principal, "open", json!({"message": f})).await["message"]["attachments"][0]["size"], pdf.len());
    // Too large (the store's limit here is 1 MiB; the structure's default 10 MiB): refused.
    let err = s.call(&s.teacher_a, "upload", json!({"data": b64(&vec![7u8; 2 << 20])})).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    let limits = Limits { max_attachment_bytes: 10, ..Limits::default() };
    s.ent.set_setting(&s.admin, s.structure, LIMITS, &limits, None).await.unwrap();
    let before = s.census().await;
    let err = s.call(&s.teacher_a, "upload", json!({"data": b64(&pdf)})).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    let input = json!({"to": [user(&s.parent_a)], "subject": "x", "attachments": attach});
    let err = s.call(&s.teacher_a, "send", input).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert_eq!(s.census().await, before);
    // An unknown blob.
    s.ent.set_setting(&s.admin, s.structure, LIMITS, &Limits::default(), None).await.unwrap();
    let before = s.census().await;
    let unknown = json!([{"blob": "00".repeat(32), "name": "x", "content_type": "text/plain"}]);
    let input = json!({"to": [user(&s.parent_a)], "subject": "x", "attachments": unknown});
    let err = s.call(&s.teacher_a, "send", input).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(s.census().await, before);
    assert_eq!(refs().await, 2);
    // Every copy deleted: no reference left, so the blob collector frees the bytes.
    for (who, msg) in [(&s.teacher_a, &m), (&s.parent_a, &m), (&s.parent_b, &m), (&s.parent_a, &f), (&s.principal, &f)]
    {
        s.ok(who, "move", json!({"messages": [msg], "to": "trash"})).await;
        s.ok(who, "empty_trash", json!({})).await;
    }
    assert_eq!(refs().await, 0);
}

#[tokio::test]
async fn attachments_are_one_blob_shared_by_every_mailbox() {
    attachments_are_shared(School::memory().await).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn attachments_are_one_blob_shared_by_every_mailbox_on_sqlite() {
    attachments_are_shared(School::sqlite().await).await;
}

#[tokio::test]
async fn drafts_are_saved_then_sent() {
    let s = School::memory().await;
    let d = s.ok(&s.alice, "save_draft", json!({"to": [user(&s.bruno)], "subject": "Expo", "body": "Brouillon"})).await;
    let (id, v) = (d["id"].clone(), d["version"].clone());
    let d2 = s
        .ok(
            &s.alice,
            "save_draft",
            json!({"id": id, "version": v, "to": [user(&s.bruno)], "subject": "Exposé", "body": "Presque"}),
        )
        .await;
    assert_eq!(d2["version"], 2);
    let err = s.call(&s.alice, "save_draft", json!({"id": id, "version": 1, "subject": "vieux"})).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { retryable: false, .. }), "{err:?}");
    assert!(matches!(s.call(&s.bruno, "draft", json!({"id": id})).await.unwrap_err(), Error::NotFound { .. }));
    let drafts = s.ok(&s.alice, "drafts", json!({})).await;
    assert_eq!(drafts["drafts"][0]["draft"]["subject"], "Exposé");
    s.ok(&s.alice, "send", json!({"to": [user(&s.bruno)], "subject": "Exposé", "body": "Fini", "draft": id})).await;
    assert_eq!(s.ok(&s.alice, "drafts", json!({})).await["drafts"], json!([]));
    assert_eq!(s.unread(&s.bruno).await, 1);
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let s = School::memory().await;
    let before = s.census().await;
    // Empty message.
    let err = s
        .call(&s.teacher_a, "send", json!({"to": [user(&s.alice)], "subject": "  ", "body": "<p> </p>"}))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "body");
    // No recipient.
    let err = s.call(&s.teacher_a, "send", json!({"subject": "Seul"})).await.unwrap_err();
    assert_eq!(invalid_field(&err), "to");
    // An unknown person, an unknown class.
    let ghost = json!({"kind": "user", "id": UserId::new()});
    let p = s.ok(&s.teacher_a, "preview", json!({"to": [ghost]})).await;
    assert_eq!(p["excluded"][0]["reason"], "unknown");
    let err = s.call(&s.teacher_a, "send", json!({"to": [ghost, user(&s.alice)], "subject": "x"})).await.unwrap_err();
    assert_eq!(invalid_field(&err), "to");
    let p = s
        .ok(&s.teacher_a, "preview", json!({"to": [{"kind": "class", "id": ClassId::new(), "audience": "members"}]}))
        .await;
    assert_eq!(p["excluded"][0]["reason"], "unknown");
    // Malformed addresses are refused by the schema.
    let err = s.call(&s.teacher_a, "send", json!({"to": [{"kind": "everyone"}], "subject": "x"})).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    // A body over the structure's limit.
    let err =
        s.call(&s.teacher_a, "send", json!({"to": [user(&s.alice)], "body": "x".repeat(200_001)})).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    // A guest may read but not write.
    let guest = Caller::user(UserId::new(), s.structure, [Profile::Invite]);
    let err = s.call(&guest, "send", json!({"to": [user(&s.alice)], "subject": "x"})).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    assert_eq!(s.census().await, before);

    // A script in the body is removed; the rest is kept.
    let m = s
        .ok(&s.teacher_a, "send", json!({"to": [user(&s.alice)], "subject": "Lien", "body": "<p onclick=\"steal()\">Voir <a href=\"javascript:alert(1)\">ici</a></p><script>alert(document.cookie)</script>"}))
        .await["id"]
        .clone();
    let opened = s.ok(&s.alice, "open", json!({"message": m})).await;
    assert_eq!(opened["message"]["body_html"], "<p>Voir <a rel=\"noopener noreferrer\">ici</a></p>");
    assert_eq!(opened["message"]["body_text"], "Voir ici");
}

#[tokio::test]
async fn mass_messages_are_limited_and_traced() {
    let s = School::memory().await;
    let limits = Limits { mass_threshold: 2, ..Limits::default() };
    s.ent.set_setting(&s.admin, s.structure, LIMITS, &limits, None).await.unwrap();
    // The principal writes to every parent: a mass message, traced.
    let parents = json!({"kind": "structure", "profile": "responsable"});
    let p = s.ok(&s.principal, "preview", json!({"to": [parents]})).await;
    assert_eq!(p["mass"], true);
    s.ok(&s.principal, "send", json!({"to": [parents], "subject": "Grève"})).await;
    let mut tx = s.store.begin(TxMode::ReadOnly).await.unwrap();
    assert_eq!(tx.count(&Scan::primary("messagerie.mass_messages")).await.unwrap(), 1);
    drop(tx);
    // A parent may not send one (nor would the rules let them reach that many).
    s.set_policy(json!({"parent_parent": true})).await;
    let err = s
        .call(&s.parent_a, "send", json!({"to": [{"kind": "class", "id": s.class_a, "audience": "parents"}, user(&s.teacher_a), user(&s.principal)], "subject": "x"}))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), "to");
    assert!(err.to_string().contains("recipients"), "{err}");
    let _ = (&s.class_b, &s.chloe, &s.parent_c, &s.teacher_b, &s.blobs);
}
