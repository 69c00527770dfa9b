//! The OneRoster 1.2 CSV reader on hand-written bundles (invented people): a bulk bundle with local dates
//! and bad rows, misspelled headers, a delta, and the same bundle as a zip.

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
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
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
