//! The OneRoster 1.2 CSV reader on hand-written bundles (invented people): a bulk bundle with local dates
//! and bad rows, misspelled headers, deltas of users, roles, classes and enrollments (one link at a time),
//! `enabledUser`, a structure the AAF described first, and the same bundle as a zip.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone, Utc};
use ent::core::clock::ManualClock;
use ent::core::directory::query::{self, Responsables};
use ent::core::directory::*;
use ent::core::storage::{self, Record, Scan, Store, TxExt, TxMode};
use ent::import::oneroster::{Bundle, OneRosterOptions};
use ent::import::*;
use ent::storage::memory::MemoryStore;

fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oneroster").join(name)
}

async fn setup() -> (MemoryStore, ManualClock) {
    let store = MemoryStore::new();
    store.declare(&storage::core_collections()).await.unwrap();
    (store, ManualClock::at(Utc.with_ymd_and_hms(2026, 8, 28, 6, 0, 0).unwrap()))
}

async fn user(store: &MemoryStore, key: &str) -> User {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let scan = Scan::index(User::COLLECTION, "by_source").prefix(("oneroster", key)).limit(1);
    tx.scan_records::<User>(&scan).await.unwrap().0.remove(0).value
}

fn listed(report: &Report) -> Vec<String> {
    report.rejected.iter().map(|r| r.to_string()).collect()
}

async fn check_bulk(bundle: Bundle) {
    let (store, clock) = setup().await;
    let parsed = bundle.parse(&OneRosterOptions::default()).unwrap();
    assert_eq!(parsed.batch.year, SchoolYear(2026), "from the schoolYear session's start");
    assert_eq!(parsed.batch.mode, Mode::Full { structures: vec!["sch1".into(), "sch2".into()] });
    let report = parsed.apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    assert_eq!(
        listed(&report),
        [
            "orgs.csv:5: row `sch3`: a school's `identifier` must be its UAI: invalid uai: `123` must be 7 digits and a letter",
            "demographics.csv:3: row `s2`: `birthDate` `31/12/2013` is not an ISO 8601 date (YYYY-MM-DD)",
            "roles.csv:4: row `r3`: `beginDate` `01/09/2026` is not an ISO 8601 date (YYYY-MM-DD)",
            "roles.csv:13: row `r12`: unknown role `wizard`",
            "enrollments.csv:8: row `e7`: `beginDate` `2026-13-45` is not an ISO 8601 date (YYYY-MM-DD)",
            "users.csv:4: person `s3`: missing mandatory attribute: profile",
        ],
        "{report:#?}"
    );
    let lea = user(&store, "s1").await;
    assert_eq!(lea.given_name, "Léa");
    assert_eq!(lea.birth_date, NaiveDate::from_ymd_opt(2012, 3, 14));
    // Columns the model does not hold are kept with the record, in the feed's part (never a password).
    assert_eq!(lea.attributes["oneroster"]["username"], ["léa.moreau"]);
    assert_eq!(lea.attributes["oneroster"]["grades"], ["09"]);
    assert_eq!(lea.attributes.len(), 1);
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let (structures, _) = tx.scan_records::<Structure>(&Scan::primary(Structure::COLLECTION)).await.unwrap();
    let tilleuls = structures.iter().find(|s| s.value.name == "Collège des Tilleuls").unwrap();
    assert_eq!(tilleuls.value.attributes["oneroster"]["parentSourcedId"], ["dist"]);
    // Parents and guardians are responsables légaux; a relative is a contact without authority.
    let links = query::parents_of(&mut *tx, lea.id, Responsables::All).await.unwrap();
    assert_eq!(
        links.iter().map(|(l, u)| (u.given_name.as_str(), l.legal, l.authority, l.priority)).collect::<Vec<_>>(),
        [("Sophie", true, true, 1), ("Karim", true, true, 2), ("Yvette", false, false, 3)]
    );
    let sophie = user(&store, "p1").await;
    assert_eq!(query::children_of(&mut *tx, sophie.id, Responsables::All).await.unwrap().len(), 2, "siblings");
    // A homeroom is a class, a scheduled class a group.
    let units = query::units_of(&mut *tx, lea.id, SchoolYear(2026)).await.unwrap();
    assert_eq!(units.len(), 2);
    assert!(units.iter().any(|u| matches!(u.unit, Unit::Group(_))));
    // A teacher in two structures, primary teacher of 3A; a teacher who is also a parent (one account).
    let paul = user(&store, "t1").await;
    assert_eq!(paul.structures().len(), 2);
    let t = query::teachings_of(&mut *tx, paul.id, SchoolYear(2026)).await.unwrap();
    assert_eq!((t.len(), t.iter().filter(|t| t.principal).count()), (2, 1));
    let nadia = user(&store, "t2").await;
    let mut profiles: Vec<Profile> = nadia.affiliations.iter().map(|a| a.profile).collect();
    profiles.sort();
    assert_eq!(profiles, [Profile::Responsable, Profile::Enseignant]);
    assert_eq!(user(&store, "a1").await.affiliations[0].profile, Profile::Direction);
    drop(tx);

    // Again: nothing changes.
    let again = bundle
        .parse(&OneRosterOptions::default())
        .unwrap()
        .apply(&store, &clock, &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!((again.created, again.updated, again.moved, again.deactivated), (0, 0, 0, 0), "{again:#?}");
}

#[tokio::test]
async fn a_bulk_bundle_is_read_with_its_bad_rows_rejected() {
    check_bulk(Bundle::dir(fixtures("bulk"))).await;
}

#[cfg(feature = "oneroster-zip")]
#[tokio::test]
async fn a_zipped_bundle_reads_as_its_folder() {
    check_bulk(Bundle::zip(fixtures("bulk.zip"))).await;
}

#[tokio::test]
async fn a_misspelled_header_rejects_its_file_and_the_bundle_becomes_a_delta() {
    let parsed = Bundle::dir(fixtures("misspelled")).parse(&OneRosterOptions::default()).unwrap();
    let reasons: Vec<String> = parsed.rejected.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        reasons,
        [
            "users.csv:1: file `users.csv`: unknown column `givnName` (did you mean `givenName`?)",
            "orgs.csv:5: row `sch3`: a school's `identifier` must be its UAI: invalid uai: `123` must be 7 digits and a letter",
        ]
    );
    assert!(parsed.batch.people.is_empty());
    assert_eq!(parsed.batch.mode, Mode::Delta, "a bulk bundle missing a file deactivates nobody");
}

#[tokio::test]
async fn a_delta_needs_status_and_date_and_deletes() {
    let (store, clock) = setup().await;
    Bundle::dir(fixtures("bulk"))
        .parse(&OneRosterOptions::default())
        .unwrap()
        .apply(&store, &clock, &ApplyOptions::default())
        .await
        .unwrap();
    let parsed = Bundle::dir(fixtures("delta")).parse(&OneRosterOptions::default()).unwrap();
    assert_eq!(parsed.batch.mode, Mode::Delta);
    let report = parsed.apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    assert_eq!(
        listed(&report),
        [
            "users.csv:4: row `a3`: `dateLastModified` is required in a delta file",
            "orgs.csv:5: row `sch3`: a school's `identifier` must be its UAI: invalid uai: `123` must be 7 digits and a letter",
            // s3 never got an account (its only role was refused by the bulk bundle).
            "users.csv:2: person `s3`: deleted by the feed but unknown here",
        ]
    );
    assert_eq!(report.created, 1);
    assert_eq!(user(&store, "a2").await.affiliations[0].profile, Profile::VieScolaire, "an aide");
    assert_eq!(parsed.batch.deleted_people, ["s3"]);
}

/// The name of each class or group a person is in this year, sorted.
async fn unit_names(store: &MemoryStore, key: &str) -> Vec<String> {
    let id = user(store, key).await.id;
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let mut names = Vec::new();
    for m in query::units_of(&mut *tx, id, SchoolYear(2026)).await.unwrap() {
        names.push(unit_name(&mut *tx, m.unit).await);
    }
    names.sort();
    names
}

async fn unit_name(tx: &mut dyn storage::Transaction, unit: Unit) -> String {
    match unit {
        Unit::Class(id) => tx.get_record::<Class>(id).await.unwrap().unwrap().value.name,
        Unit::Group(id) => tx.get_record::<Group>(id).await.unwrap().unwrap().value.name,
    }
}

/// A teacher's assignments this year: (unit, subject code, principal), sorted.
async fn teaching_names(store: &MemoryStore, key: &str) -> Vec<(String, String, bool)> {
    let id = user(store, key).await.id;
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let mut out = Vec::new();
    for t in query::teachings_of(&mut *tx, id, SchoolYear(2026)).await.unwrap() {
        let subject = tx.get_record::<Subject>(t.subject).await.unwrap().unwrap().value.code;
        out.push((unit_name(&mut *tx, t.unit).await, subject, t.principal));
    }
    out.sort();
    out
}

fn profiles(u: &User) -> Vec<Profile> {
    let mut p: Vec<Profile> = u.affiliations.iter().map(|a| a.profile).collect();
    p.sort();
    p
}

async fn load(store: &MemoryStore, clock: &ManualClock, name: &str) -> Report {
    Bundle::dir(fixtures(name))
        .parse(&OneRosterOptions::default())
        .unwrap()
        .apply(store, clock, &ApplyOptions::default())
        .await
        .unwrap()
}

/// Everything the store holds, with each record's version, to show that nothing moved.
async fn snapshot(store: &MemoryStore) -> Vec<(String, storage::Tuple, u64, String)> {
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
async fn a_delta_of_enrollments_classes_and_roles_changes_one_link_at_a_time() {
    let (store, clock) = setup().await;
    load(&store, &clock, "bulk").await;
    assert_eq!(unit_names(&store, "s1").await, ["3A", "MATHS-3A"]);
    assert_eq!(teaching_names(&store, "t2").await, [("MATHS-3A".to_owned(), "061300".to_owned(), false)]);

    let parsed = Bundle::dir(fixtures("delta-enrollments")).parse(&OneRosterOptions::default()).unwrap();
    assert_eq!(parsed.batch.mode, Mode::Delta);
    assert!(parsed.batch.people.iter().all(|p| p.affiliations.is_empty() && p.units.is_empty()), "all in changes");
    assert_eq!(parsed.batch.deleted_units, ["2026$k-3b", "2026$k-gone"]);
    // A dry run says what the delta does, and writes nothing.
    let before = snapshot(&store).await;
    let dry = parsed.apply(&store, &clock, &ApplyOptions { dry_run: true, ..Default::default() }).await.unwrap();
    assert_eq!(snapshot(&store).await, before);
    let report = parsed.apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    assert_eq!(Report { codes: vec![], ..report.clone() }, dry);
    assert_eq!(
        listed(&report),
        [
            "users.csv:5: person `g1`: `enabledUser` `maybe` is neither true nor false",
            "enrollments.csv:9: row `e26`: `beginDate` `15/09/2026` is not an ISO 8601 date (YYYY-MM-DD)",
            // A new class at a school that is neither in the bundle nor in the directory, with its subject
            // and its teacher.
            "enrollments.csv:14: subject `sch9$c-latin`: unknown structure `sch9`",
            "classes.csv:6: class `2026$k-far`: unknown structure `sch9`",
            "enrollments.csv:14: teaching `e31`: unknown class or group `2026$k-far`",
            "roles.csv:8: affiliation `r34`: unknown structure `sch9`",
            "roles.csv:6: affiliation `r32`: unknown person `zz`",
            "enrollments.csv:8: membership `e25`: unknown class or group `2026$k-ghost`",
            "enrollments.csv:7: membership `e24`: unknown person `s9`",
            "classes.csv:5: class `2026$k-gone`: deleted by the feed but unknown here",
        ],
        "{report:#?}"
    );
    // Created: the Latin group, class 3C, the Latin subject, Noé and Inès. Updated: Léa, Paul, Nadia, Hugo
    // and class 3B (emptied). Deactivated: Karim (enabledUser false) and Éric (his only role deleted).
    assert_eq!((report.created, report.updated, report.moved, report.deactivated), (5, 5, 1, 2), "{report:#?}");
    assert_eq!(report.codes.iter().map(|c| c.login.as_str()).collect::<Vec<_>>(), ["noe.lambert"], "none for Inès");

    // Léa left 3A for 3C (moved) and joined the new Latin group; her other group stays. Her user row, with
    // a new e-mail, names her agents, whose roles the delta does not carry: her links stay as they were.
    assert_eq!(unit_names(&store, "s1").await, ["3C", "LATIN3", "MATHS-3A"]);
    let lea = user(&store, "s1").await;
    assert_eq!((profiles(&lea), lea.email.as_deref()), (vec![Profile::Eleve], Some("lea.moreau@example.invalid")));
    {
        let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
        let links = query::parents_of(&mut *tx, lea.id, Responsables::All).await.unwrap();
        assert_eq!(
            links.iter().map(|(l, u)| (u.given_name.as_str(), l.legal, l.authority, l.priority)).collect::<Vec<_>>(),
            [("Sophie", true, true, 1), ("Karim", true, true, 2), ("Yvette", false, false, 3)]
        );
    }
    // Hugo joined a group the delta does not carry; class 3B, deleted, has no member left but still exists.
    assert_eq!(unit_names(&store, "s2").await, ["MATHS-3A"]);
    {
        let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
        let scan = Scan::index(Class::COLLECTION, "by_source").prefix(("oneroster", "2026$k-3b")).limit(1);
        let k3b = tx.scan_records::<Class>(&scan).await.unwrap().0.remove(0).value;
        assert_eq!(query::member_count(&mut *tx, Unit::Class(k3b.id), SchoolYear(2026)).await.unwrap(), 0);
    }
    // Paul teaches Latin too (the subject of the new course), and maths in a group whose subject the
    // directory knew from its other teacher; he became a parent as well; his other assignments stay.
    assert_eq!(
        teaching_names(&store, "t1").await,
        [
            ("2NDE1".to_owned(), "061300".to_owned(), false),
            ("3A".to_owned(), "061300".to_owned(), true),
            ("LATIN3".to_owned(), "020700".to_owned(), false),
            ("MATHS-3A".to_owned(), "061300".to_owned(), false),
        ]
    );
    assert_eq!(profiles(&user(&store, "t1").await), [Profile::Responsable, Profile::Enseignant, Profile::Enseignant]);
    // Nadia stopped teaching the maths group and teaches 3A; her parent role went, her teacher role stays.
    assert_eq!(teaching_names(&store, "t2").await, [("3A".to_owned(), "061300".to_owned(), false)]);
    assert_eq!(profiles(&user(&store, "t2").await), [Profile::Enseignant]);
    // Éric lost his only role: disabled. Karim is disabled by enabledUser, his links kept.
    let eric = user(&store, "a1").await;
    assert!(eric.affiliations.is_empty());
    assert!(matches!(eric.state, AccountState::Disabled { .. }));
    let karim = user(&store, "p2").await;
    assert!(matches!(karim.state, AccountState::Disabled { .. }));
    assert_eq!(profiles(&karim), [Profile::Responsable]);
    {
        let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
        assert_eq!(query::children_of(&mut *tx, karim.id, Responsables::All).await.unwrap().len(), 2);
    }
    // Noé is new, a pupil of sch1 (the role at an unknown school is rejected alone), in 3C; Inès is new and
    // disabled. Yvette's row was rejected: she is as she was.
    let noe = user(&store, "n1").await;
    assert_eq!((profiles(&noe), noe.state), (vec![Profile::Eleve], AccountState::Pending));
    assert_eq!(unit_names(&store, "n1").await, ["3C"]);
    assert!(matches!(user(&store, "n2").await.state, AccountState::Disabled { .. }));
    assert_eq!(user(&store, "g1").await.state, AccountState::Pending);
    // Nobody was made of the unknown references.
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    for key in ["s9", "zz"] {
        let scan = Scan::index(User::COLLECTION, "by_source").prefix(("oneroster", key)).limit(1);
        assert!(tx.scan_records::<User>(&scan).await.unwrap().0.is_empty(), "{key}");
    }
    drop(tx);

    // The same delta again: nothing changes, the same rows are rejected.
    let before = snapshot(&store).await;
    let again = load(&store, &clock, "delta-enrollments").await;
    assert_eq!((again.created, again.updated, again.moved, again.deactivated), (0, 0, 0, 0), "{again:#?}");
    assert_eq!(listed(&again), listed(&report));
    assert!(again.codes.is_empty());
    assert_eq!(snapshot(&store).await, before);
}

#[tokio::test]
async fn enabled_user_false_disables_and_true_enables_again() {
    let (store, clock) = setup().await;
    load(&store, &clock, "bulk").await;
    load(&store, &clock, "delta-enrollments").await;
    clock.advance(chrono::Duration::days(5));
    let report = load(&store, &clock, "delta-enable").await;
    assert!(report.rejected.is_empty(), "{report:#?}");
    // Karim and Inès are enabled by their user row, Éric by a role given back (he was disabled for having
    // none). None of them ever set a password: they are pending again, each with a new activation code.
    assert_eq!((report.created, report.updated, report.deactivated), (0, 3, 0), "{report:#?}");
    let mut logins: Vec<&str> = report.codes.iter().map(|c| c.login.as_str()).collect();
    logins.sort();
    assert_eq!(logins, ["eric.blanc", "ines.roux", "karim.moreau"]);
    for key in ["p2", "n2", "a1"] {
        assert_eq!(user(&store, key).await.state, AccountState::Pending, "{key}");
    }
    assert_eq!(profiles(&user(&store, "a1").await), [Profile::Direction]);
    let again = load(&store, &clock, "delta-enable").await;
    assert_eq!((again.created, again.updated, again.deactivated, again.codes.len()), (0, 0, 0, 0), "{again:#?}");

    // A bulk bundle says enabledUser too: false disables an account it names (and does not count it missing).
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures("bulk")).unwrap() {
        let entry = entry.unwrap();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let text = match entry.file_name().to_str() {
            Some("users.csv") => text.replace("t2,,,true,", "t2,,,false,"),
            _ => text,
        };
        std::fs::write(dir.path().join(entry.file_name()), text).unwrap();
    }
    let bulk = Bundle::dir(dir.path()).parse(&OneRosterOptions::default()).unwrap();
    let report = bulk.apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    let nadia = user(&store, "t2").await;
    assert!(matches!(nadia.state, AccountState::Disabled { .. }));
    assert_eq!(report.deactivated, 1, "Nadia; {report:#?}");
    assert!(!teaching_names(&store, "t2").await.is_empty(), "she keeps her assignments");
    assert_eq!(profiles(&nadia), [Profile::Responsable, Profile::Enseignant], "and her profiles");
}

async fn structures(store: &MemoryStore) -> Vec<Structure> {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let all = tx.scan_records::<Structure>(&Scan::primary(Structure::COLLECTION).limit(10)).await.unwrap().0;
    let mut all: Vec<Structure> = all.into_iter().map(|s| s.value).collect();
    all.sort_by_key(|s| s.uai.as_ref().map(|u| u.as_str().to_owned()));
    all
}

#[tokio::test]
async fn a_oneroster_import_keeps_what_the_aaf_said_of_a_structure() {
    let (store, clock) = setup().await;
    let feeds = ent::import::aaf::Feed::in_dir(&fixtures("aaf-first")).unwrap();
    let report = feeds[0]
        .parse(&ent::import::aaf::AafOptions::default())
        .unwrap()
        .apply(&store, &clock, &ApplyOptions::default())
        .await
        .unwrap();
    assert!(report.rejected.is_empty(), "{report:#?}");
    let aaf = structures(&store).await;
    assert_eq!(aaf.len(), 1);

    load(&store, &clock, "bulk").await;
    let after = structures(&store).await;
    assert_eq!(after.len(), 2, "the OneRoster school of the same UAI is the AAF's structure");
    let (tilleuls, ormes) = (&after[1], &after[0]);
    assert_eq!(tilleuls.id, aaf[0].id);
    // What OneRoster says (the name) changes; what it cannot say stays as the AAF gave it.
    assert_eq!(tilleuls.name, "Collège des Tilleuls");
    assert_eq!(
        (tilleuls.kind, tilleuls.contract, tilleuls.academie.as_str(), tilleuls.time_zone.as_str()),
        (StructureKind::College, Contract::PriveSousContrat, "LA-REUNION", "Indian/Reunion")
    );
    // A school new to the directory gets the defaults.
    assert_eq!(
        (ormes.kind, ormes.contract, ormes.academie.as_str(), ormes.time_zone.as_str(), ormes.periods),
        (StructureKind::Autre, Contract::Public, "", "Europe/Paris", PeriodKind::Trimestres)
    );
    // Again, with no change.
    let again = load(&store, &clock, "bulk").await;
    assert_eq!((again.created, again.updated, again.moved, again.deactivated), (0, 0, 0, 0), "{again:#?}");
    assert_eq!(structures(&store).await, after);
}

/// A bundle made of the bulk fixture's files, with some replaced or left out.
fn bundle_from_bulk(replace: &[(&str, &str)], leave_out: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures("bulk")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if leave_out.contains(&name.as_str()) {
            continue;
        }
        let text = match replace.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => (*text).to_owned(),
            None => std::fs::read_to_string(entry.path()).unwrap(),
        };
        std::fs::write(dir.path().join(&name), text).unwrap();
    }
    dir
}

#[tokio::test]
async fn a_bundle_that_does_not_state_enrollments_leaves_memberships_alone() {
    let (store, clock) = setup().await;
    load(&store, &clock, "bulk").await;
    let manifest = std::fs::read_to_string(fixtures("bulk/manifest.csv")).unwrap();

    // Bulk users and roles with a delta of enrollments: Hugo joins the maths group, nothing else moves.
    let enrollments = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,\
                       beginDate,endDate\ne30,active,2026-09-15T08:00:00Z,k-math3a,sch1,s2,student,false,,\n";
    let dir = bundle_from_bulk(
        &[
            ("manifest.csv", &manifest.replace("file.enrollments,bulk", "file.enrollments,delta")),
            ("enrollments.csv", enrollments),
        ],
        &[],
    );
    let parsed = Bundle::dir(dir.path()).parse(&OneRosterOptions::default()).unwrap();
    assert!(!parsed.batch.states_units);
    let report = parsed.apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    assert_eq!((report.created, report.updated, report.moved, report.deactivated), (0, 1, 0, 0), "{report:#?}");
    assert_eq!(unit_names(&store, "s1").await, ["3A", "MATHS-3A"]);
    assert_eq!(unit_names(&store, "s2").await, ["3B", "MATHS-3A"]);
    assert_eq!(teaching_names(&store, "t1").await.len(), 2);

    // A full bundle without enrollments.csv: the people's profiles are its truth, their classes are not.
    let dir = bundle_from_bulk(
        &[("manifest.csv", &manifest.replace("file.enrollments,bulk", "file.enrollments,absent"))],
        &["enrollments.csv"],
    );
    let parsed = Bundle::dir(dir.path()).parse(&OneRosterOptions::default()).unwrap();
    assert!(matches!(parsed.batch.mode, Mode::Full { .. }));
    let report = parsed.apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    assert_eq!((report.created, report.updated, report.moved, report.deactivated), (0, 0, 0, 0), "{report:#?}");
    assert_eq!(unit_names(&store, "s2").await, ["3B", "MATHS-3A"]);
    assert_eq!(teaching_names(&store, "t1").await.len(), 2);
}
