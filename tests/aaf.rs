//! The AAF reader on hand-written feeds (invented people): a full feed with its messy parts, a delta, a
//! broken export, and the demo population written as AAF and read back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, TimeZone, Utc};
use ent::core::clock::ManualClock;
use ent::core::directory::query::{self, Responsables};
use ent::core::directory::*;
use ent::core::storage::{self, Record, Scan, Store, TxExt, TxMode};
use ent::import::aaf::{AafOptions, Feed, WriteOptions, write_batch};
use ent::import::demo::{Demo, DemoConfig};
use ent::import::*;
use ent::storage::memory::MemoryStore;

fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aaf").join(name)
}

async fn setup() -> (MemoryStore, ManualClock) {
    let store = MemoryStore::new();
    store.declare(&storage::core_collections()).await.unwrap();
    (store, ManualClock::at(Utc.with_ymd_and_hms(2026, 8, 28, 6, 0, 0).unwrap()))
}

async fn user(store: &MemoryStore, source: &str, key: &str) -> User {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let scan = Scan::index(User::COLLECTION, "by_source").prefix((source, key)).limit(1);
    tx.scan_records::<User>(&scan).await.unwrap().0.remove(0).value
}

fn feed(name: &str) -> Feed {
    let feeds = Feed::in_dir(&fixtures(name)).unwrap();
    assert_eq!(feeds.len(), 1, "{feeds:?}");
    feeds.into_iter().next().unwrap()
}

fn where_(r: &Rejection) -> (String, u64) {
    let l = r.location.as_ref().unwrap_or_else(|| panic!("no location: {r}"));
    (l.file.clone(), l.line)
}

#[tokio::test]
async fn a_full_feed_with_its_messy_parts_is_read_and_applied() {
    let (store, clock) = setup().await;
    let feed = feed("full");
    assert!(feed.full);
    assert_eq!(feed.files.len(), 7, "the DTD is not a feed file");
    let parsed = feed.parse(&AafOptions::default()).unwrap();
    assert_eq!(parsed.batch.year, SchoolYear(2026), "from the date in the names");
    assert_eq!(parsed.batch.mode, Mode::Full { structures: vec!["9001".into(), "9002".into()] });
    let report = parsed.apply(&store, &clock, &ApplyOptions::default()).await.unwrap();

    // Two bad records, each with its file, line and reason; the rest is applied.
    let rejected: Vec<(String, u64, String)> = report
        .rejected
        .iter()
        .map(|r| (where_(r).0, where_(r).1, format!("{} {}: {}", r.kind, r.key, r.reason)))
        .collect();
    let file = "ENT_0370884K_Complet_20260828_Eleve_0001.xml".to_owned();
    assert_eq!(
        rejected,
        [
            (file.clone(), 11, "person 1004: mismatched closing tag </attr> for <value>".to_owned()),
            (file.clone(), 22, "person 1005: mandatory attribute `givenName` has no value".to_owned()),
        ],
        "{report:#?}"
    );
    assert_eq!(parsed.batch.refused_people, ["1004", "1005"]);
    // 2 structures, 3 subjects used in 9001 (+1 in 9002), 3 classes, 1 group, 4 staff + 4 responsables + 4 pupils.
    assert_eq!(report.created, 2 + 4 + 3 + 1 + 12, "{report:#?}");

    // ISO-8859-15 bytes decoded: é, œ, and € in an attribute kept for later.
    let helene = user(&store, "aaf", "1003").await;
    assert_eq!((helene.given_name.as_str(), helene.family_name.as_str()), ("Hélène", "Dubœuf"));
    assert_eq!(helene.birth_date, NaiveDate::from_ymd_opt(2012, 1, 30));
    assert_eq!(user(&store, "aaf", "7001").await.family_name, "Lefèvre");
    let claire = parsed.batch.people.iter().find(|p| p.key == "5001").unwrap();
    assert_eq!(claire.extra["ENTPersonAdresse"], ["12 rue de l'Œuvre, cotisation 15 €"]);
    let lucas_in = parsed.batch.people.iter().find(|p| p.key == "1001").unwrap();
    assert_eq!(lucas_in.extra["ENTEleveStructRattachId"], ["551001"]);
    // Stored with the account and the structure, in the feed's part.
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let (structures, _) = tx.scan_records::<Structure>(&Scan::primary(Structure::COLLECTION)).await.unwrap();
    drop(tx);
    let balzac = &structures.iter().find(|s| s.value.source.as_ref().is_some_and(|k| k.key == "9001")).unwrap().value;
    assert_eq!(
        balzac.attributes["aaf"],
        BTreeMap::from([
            ("street".to_owned(), vec!["1 rue Émile Zola".to_owned()]),
            ("telephoneNumber".to_owned(), vec!["+33 2 47 00 00 00".to_owned(), "+33 2 47 00 00 01".to_owned()]),
        ]),
        "the mapped attributes and the SIREN without value are not kept"
    );
    let claire_stored = user(&store, "aaf", "5001").await;
    assert_eq!(claire_stored.attributes["aaf"]["ENTPersonAdresse"], ["12 rue de l'Œuvre, cotisation 15 €"]);
    assert_eq!(user(&store, "aaf", "1001").await.attributes["aaf"]["ENTEleveStructRattachId"], ["551001"]);

    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    // Siblings share their parents; the father has no parental authority.
    let lucas = user(&store, "aaf", "1001").await;
    let emma = user(&store, "aaf", "1002").await;
    let all = query::parents_of(&mut *tx, lucas.id, Responsables::All).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|(l, u)| (u.given_name.as_str(), l.legal, l.authority, l.priority, l.financial))
            .collect::<Vec<_>>(),
        [("Claire", true, true, 1, true), ("Marc", true, false, 2, true)]
    );
    let with = query::parents_of(&mut *tx, emma.id, Responsables::WithAuthority).await.unwrap();
    assert_eq!(with.len(), 1);
    let mother = user(&store, "aaf", "5001").await;
    assert_eq!(
        query::children_of(&mut *tx, mother.id, Responsables::All).await.unwrap().len(),
        3,
        "two children and a contact"
    );
    // Without ENTEleveAutoriteParentale, both responsables légaux have authority; a contact (0) has none.
    let noe = user(&store, "aaf", "1006").await;
    let links = query::parents_of(&mut *tx, noe.id, Responsables::All).await.unwrap();
    assert_eq!(
        links.iter().map(|(l, _)| (l.legal, l.authority, l.priority)).collect::<Vec<_>>(),
        [(true, true, 1), (true, true, 2), (false, false, 3)]
    );
    assert!(!links[1].0.financial);

    // Classes of the year, with their level from the MEF nomenclature, and their members.
    let (classes, _) = tx.scan_records::<Class>(&Scan::primary(Class::COLLECTION)).await.unwrap();
    let names: BTreeMap<String, Option<String>> =
        classes.iter().map(|c| (c.value.name.clone(), c.value.level.clone())).collect();
    assert_eq!(names["3A"].as_deref(), Some("3EME"));
    assert_eq!(names["2NDE1"].as_deref(), Some("2NDE GENERALE ET TECHNOLOGIQUE"));
    let units = query::units_of(&mut *tx, lucas.id, SchoolYear(2026)).await.unwrap();
    assert_eq!(units.len(), 2, "3A and the latin group");

    // A teacher in two structures, professeur principal of 3A.
    let pierre = user(&store, "aaf", "7001").await;
    assert_eq!(pierre.structures().len(), 2);
    assert_eq!(pierre.email.as_deref(), Some("pierre.lefevre@ac-test.invalid"));
    let t = query::teachings_of(&mut *tx, pierre.id, SchoolYear(2026)).await.unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t.iter().filter(|t| t.principal).count(), 1);
    assert!(pierre.affiliations.iter().any(|a| a.functions.contains(&Function::ProfesseurPrincipal)));
    // A teacher who is also a parent: two accounts, as the feed sends two records.
    let teacher_claire = user(&store, "aaf", "7002").await;
    assert_ne!(teacher_claire.id, mother.id);
    assert_eq!(query::teachings_of(&mut *tx, teacher_claire.id, SchoolYear(2026)).await.unwrap().len(), 2);
    // Staff functions.
    assert_eq!(user(&store, "aaf", "7003").await.affiliations[0].functions, [Function::ChefEtablissement]);
    let cpe = user(&store, "aaf", "7004").await;
    assert_eq!(
        (cpe.affiliations[0].profile, cpe.affiliations[0].functions.clone()),
        (Profile::VieScolaire, vec![Function::Cpe])
    );
    drop(tx);

    // Reading and applying the same feed again changes nothing.
    let again =
        feed.parse(&AafOptions::default()).unwrap().apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    assert_eq!((again.created, again.updated, again.moved, again.deactivated), (0, 0, 0, 0), "{again:#?}");
    assert_eq!(again.rejected.len(), 2);
}

#[tokio::test]
async fn a_delta_moves_adds_and_deletes() {
    let (store, clock) = setup().await;
    feed("full").parse(&AafOptions::default()).unwrap().apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    let delta = feed("delta");
    assert!(!delta.full);
    let parsed = delta.parse(&AafOptions::default()).unwrap();
    assert_eq!(parsed.batch.mode, Mode::Delta);
    assert!(parsed.batch.classes.is_empty(), "a delta without structures declares no class: they exist");
    let report = parsed.apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    assert!(report.rejected.is_empty(), "{report:#?}");
    assert_eq!((report.moved, report.created, report.deactivated), (1, 1, 1), "{report:#?}");
    let emma = user(&store, "aaf", "1002").await;
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let units = query::units_of(&mut *tx, emma.id, SchoolYear(2026)).await.unwrap();
    let (classes, _) = tx.scan_records::<Class>(&Scan::primary(Class::COLLECTION)).await.unwrap();
    let a3 = classes.iter().find(|c| c.value.name == "3A").unwrap().value.id;
    assert_eq!(units.iter().map(|u| u.unit).collect::<Vec<_>>(), [Unit::Class(a3)]);
    assert!(matches!(user(&store, "aaf", "1003").await.state, AccountState::Disabled { .. }));
    assert_eq!(user(&store, "aaf", "1007").await.given_name, "Léo");
}

#[tokio::test]
async fn unreadable_files_are_rejected_whole_and_a_full_feed_becomes_a_delta() {
    let parsed = feed("broken").parse(&AafOptions::default()).unwrap();
    let reasons: Vec<String> = parsed.rejected.iter().map(|r| r.to_string()).collect();
    assert!(reasons[0].starts_with("ENT_0370884K_Complet_20260828_EtabEducNat_0000.xml:1: file"), "{reasons:#?}");
    assert!(reasons[0].contains("nothing could be read: not an XML file"), "{reasons:#?}");
    assert!(
        reasons.iter().any(|r| r.contains("PersRelEleve_0000.xml") && r.contains(":8: person `5009`: broken encoding")),
        "{reasons:#?}"
    );
    assert!(reasons.iter().any(|r| r.contains("applied as a delta")), "{reasons:#?}");
    assert_eq!(parsed.batch.mode, Mode::Delta);
    assert!(parsed.batch.people.is_empty());
}

/// What a directory holds, without internal ids, logins or codes: comparable across sources, and between
/// a merged apply and separate ones (`import.rs`).
pub(crate) async fn snapshot(store: &MemoryStore) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let (structures, _) = tx.scan_records::<Structure>(&Scan::primary(Structure::COLLECTION)).await.unwrap();
    let uai: BTreeMap<_, _> =
        structures.iter().map(|s| (s.value.id, s.value.uai.clone().unwrap().as_str().to_owned())).collect();
    for s in &structures {
        let s = &s.value;
        out.insert(format!("structure {} {} {:?} {:?} {}", uai[&s.id], s.name, s.kind, s.contract, s.academie));
    }
    let (classes, _) = tx.scan_records::<Class>(&Scan::primary(Class::COLLECTION).limit(10_000)).await.unwrap();
    let (groups, _) = tx.scan_records::<Group>(&Scan::primary(Group::COLLECTION).limit(10_000)).await.unwrap();
    let (subjects, _) = tx.scan_records::<Subject>(&Scan::primary(Subject::COLLECTION).limit(10_000)).await.unwrap();
    let mut unit_name = std::collections::HashMap::new();
    for c in &classes {
        let c = &c.value;
        unit_name.insert(Unit::Class(c.id), format!("class {} {}", uai[&c.structure], c.name));
        out.insert(format!("class {} {} {:?} {}", uai[&c.structure], c.name, c.level, c.year.0));
    }
    for g in &groups {
        let g = &g.value;
        unit_name.insert(Unit::Group(g.id), format!("group {} {}", uai[&g.structure], g.name));
        out.insert(format!("group {} {} {}", uai[&g.structure], g.name, g.year.0));
    }
    let subject_code: BTreeMap<_, _> = subjects.iter().map(|s| (s.value.id, s.value.code.clone())).collect();
    for s in &subjects {
        out.insert(format!("subject {} {} {}", uai[&s.value.structure], s.value.code, s.value.label));
    }
    let (users, _) = tx.scan_records::<User>(&Scan::primary(User::COLLECTION).limit(10_000)).await.unwrap();
    let key: BTreeMap<_, _> = users.iter().map(|u| (u.value.id, u.value.sources[0].key.clone())).collect();
    for u in &users {
        let u = &u.value;
        let mut affiliations: Vec<String> = u
            .affiliations
            .iter()
            .map(|a| {
                let mut f: Vec<String> = a.functions.iter().map(|f| format!("{f:?}")).collect();
                f.sort();
                format!("{}:{}:{}", uai[&a.structure], a.profile, f.join("+"))
            })
            .collect();
        affiliations.sort();
        out.insert(format!(
            "user {} {} {} {:?} {:?} {} {:?} [{}]",
            key[&u.id],
            u.given_name,
            u.family_name,
            u.birth_date,
            u.email,
            u.adult,
            u.state,
            affiliations.join(" ")
        ));
        for m in query::units_of(&mut *tx, u.id, SchoolYear(2026)).await.unwrap() {
            out.insert(format!("member {} {}", key[&u.id], unit_name[&m.unit]));
        }
        for t in query::teachings_of(&mut *tx, u.id, SchoolYear(2026)).await.unwrap() {
            out.insert(format!(
                "teaches {} {} {} {}",
                key[&u.id], unit_name[&t.unit], subject_code[&t.subject], t.principal
            ));
        }
        // Contact priority: the AAF carries an order, not numbers; compare the order.
        let links = query::parents_of(&mut *tx, u.id, Responsables::All).await.unwrap();
        for (rank, (l, p)) in links.iter().enumerate() {
            out.insert(format!(
                "link {} {} {} {} {} {}",
                key[&u.id], key[&p.id], l.legal, l.authority, l.financial, rank
            ));
        }
    }
    out
}

#[tokio::test]
async fn the_demo_written_as_aaf_reads_back_to_the_same_directory() {
    let config = DemoConfig::structures(2);
    let demo = Demo::new(config);
    let dir = std::env::temp_dir().join(format!("ent-aaf-roundtrip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let date = NaiveDate::from_ymd_opt(2026, 8, 28).unwrap();
    let (direct, clock) = setup().await;
    let (through_aaf, _) = setup().await;
    for batch in demo.batches() {
        let r = apply(&direct, &clock, &batch, &ApplyOptions::default()).await.unwrap();
        assert!(r.rejected.is_empty());
        // Small parts, so that person files are split as the ministry's are.
        let files =
            write_batch(&batch, &dir, &WriteOptions { records_per_part: 400, ..WriteOptions::on(date) }).unwrap();
        assert!(files.iter().any(|f| f.to_string_lossy().ends_with("_Eleve_0001.xml")));
    }
    let feeds = Feed::in_dir(&dir).unwrap();
    assert_eq!(feeds.len(), 2, "one feed per structure");
    for feed in &feeds {
        let parsed = feed.parse(&AafOptions::default()).unwrap();
        assert!(parsed.rejected.is_empty(), "{:#?}", parsed.rejected);
        let r = parsed.apply(&through_aaf, &clock, &ApplyOptions::default()).await.unwrap();
        assert!(r.rejected.is_empty(), "{:#?}", r.rejected);
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let (a, b) = (snapshot(&direct).await, snapshot(&through_aaf).await);
    let only_direct: Vec<_> = a.difference(&b).take(10).collect();
    let only_aaf: Vec<_> = b.difference(&a).take(10).collect();
    assert!(only_direct.is_empty() && only_aaf.is_empty(), "direct only: {only_direct:#?}\nAAF only: {only_aaf:#?}");
    assert!(a.len() > 3000, "{}", a.len());
}

/// A delta that changes a responsable alone (the AAF gives a responsable no structure: theirs are their
/// children's) updates them where they are; one who is unknown is rejected.
#[tokio::test]
async fn a_delta_changing_a_responsable_alone_updates_them() {
    let (store, clock) = setup().await;
    feed("full").parse(&AafOptions::default()).unwrap().apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    let before = user(&store, "aaf", "5001").await;
    let dir = std::env::temp_dir().join(format!("ent-aaf-parent-alone-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let record = |op: &str, id: &str, given: &str| {
        let (open, close, item) = match op {
            "modifyRequest" => ("<modifications>", "</modifications>", "modification"),
            _ => ("<attributes>", "</attributes>", "attr"),
        };
        format!(
            "<{op}>\n<operationalAttributes><attr name=\"categoriePersonne\"><value>PersRelEleve</value></attr>\
             </operationalAttributes>\n<identifier><id>{id}</id></identifier>\n{open}\n\
             <{item} name=\"ENTPersonJointure\"><value>{id}</value></{item}>\n\
             <{item} name=\"sn\"><value>Martin</value></{item}>\n\
             <{item} name=\"givenName\"><value>{given}</value></{item}>\n\
             <{item} name=\"mail\"><value>claire.martin@example.org</value></{item}>\n{close}\n</{op}>\n"
        )
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ficAlimMENESR>\n{}{}</ficAlimMENESR>\n",
        record("modifyRequest", "5001", "Claire-Hélène"),
        record("addRequest", "5999", "Inconnue"),
    );
    std::fs::write(dir.join("ENT_0370884K_Delta_20260916_PersRelEleve_0000.xml"), xml).unwrap();
    let parsed = Feed::in_dir(&dir).unwrap().remove(0).parse(&AafOptions::default()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(parsed.rejected.is_empty(), "{:#?}", parsed.rejected);
    let report = parsed.apply(&store, &clock, &ApplyOptions::default()).await.unwrap();
    assert_eq!((report.created, report.updated), (0, 1), "{report:#?}");
    let rejected: Vec<(&str, &str)> = report.rejected.iter().map(|r| (r.key.as_str(), r.reason.as_str())).collect();
    assert_eq!(rejected, [("5999", "missing mandatory attribute: profile (a new person needs one)")]);
    let after = user(&store, "aaf", "5001").await;
    assert_eq!(
        (after.given_name.as_str(), after.email.as_deref()),
        ("Claire-Hélène", Some("claire.martin@example.org"))
    );
    assert_eq!(after.affiliations, before.affiliations, "still the responsable of their children's structure");
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let children = query::children_of(&mut *tx, after.id, Responsables::All).await.unwrap();
    assert!(!children.is_empty(), "the links stay");
}

/// `aaf::apply_feeds`, as `ent import aaf` runs it: the full feeds of different structures merged and
/// applied as one, the delta after them, one report; the same directory as feed by feed.
#[tokio::test]
async fn feeds_applied_together_give_the_directory_of_feeds_applied_one_by_one() {
    let dir = std::env::temp_dir().join(format!("ent-aaf-together-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let date = NaiveDate::from_ymd_opt(2026, 8, 28).unwrap();
    for batch in Demo::new(DemoConfig::structures(2)).batches() {
        write_batch(&batch, &dir, &WriteOptions::on(date)).unwrap();
    }
    for fixture in ["full", "delta"] {
        for f in std::fs::read_dir(fixtures(fixture)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    let feeds = Feed::in_dir(&dir).unwrap();
    assert_eq!(feeds.iter().map(|f| f.full).collect::<Vec<_>>(), [true, true, true, false]);

    let (one_by_one, clock) = setup().await;
    let mut expected = Report::default();
    for feed in &feeds {
        expected.absorb(
            feed.parse(&AafOptions::default())
                .unwrap()
                .apply(&one_by_one, &clock, &ApplyOptions::default())
                .await
                .unwrap(),
        );
    }
    let (together, _) = setup().await;
    let mut applied = Vec::new();
    let report = aaf::apply_feeds(&together, &clock, &feeds, &AafOptions::default(), &ApplyOptions::default(), |f| {
        applied.push(f.clone())
    })
    .await
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(applied, feeds, "each feed reported once, in order");
    assert_eq!(
        (report.created, report.moved, report.deactivated, report.codes.len()),
        (expected.created, expected.moved, expected.deactivated, expected.codes.len())
    );
    // The teacher the two demo structures share is created with both profiles, not created then updated.
    assert!(report.updated < expected.updated, "{} {}", report.updated, expected.updated);
    let where_rejected = |r: &Report| {
        let mut v: Vec<String> = r.rejected.iter().map(|r| r.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(where_rejected(&report), where_rejected(&expected), "rejections keep their file and line");
    assert_eq!(snapshot(&together).await, snapshot(&one_by_one).await);
}

/// A feed that cannot be read stops `apply_feeds` with its error, after the feeds before it are applied
/// (even those waiting to be merged with it).
#[tokio::test]
async fn a_feed_that_cannot_be_read_stops_the_import_after_the_feeds_before_it() {
    let (store, clock) = setup().await;
    let mut undated: Vec<PathBuf> = std::fs::read_dir(fixtures("full")).unwrap().map(|f| f.unwrap().path()).collect();
    undated.sort();
    // No date in its names and no year given: the school year of its memberships is unknown.
    let feeds = vec![feed("full"), Feed::of_files(undated, true)];
    let mut applied = Vec::new();
    let error = aaf::apply_feeds(&store, &clock, &feeds, &AafOptions::default(), &ApplyOptions::default(), |f| {
        applied.push(f.clone())
    })
    .await
    .unwrap_err();
    assert!(error.to_string().contains("year"), "{error}");
    assert_eq!(applied, feeds[..1]);
    assert_eq!(user(&store, "aaf", "1002").await.given_name, "Emma");
}
