//! The typed layer over the adapter: records as Rust types, schema upgrades, reindexing.

use ent_core::storage::IndexEntry;
use ent_core::storage::typed::{self, Record, TxExt, Versioned};
use serde::{Deserialize, Serialize};

use super::prelude::*;
use crate::testkit::Failure;

const PUPILS: &str = "kit.pupils";

/// The current layout (schema version 2): a full name and the groups of the pupil.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pupil {
    id: String,
    name: String,
    groups: Vec<String>,
}

impl Record for Pupil {
    const COLLECTION: &'static str = PUPILS;
    const SCHEMA_VERSION: u32 = 2;

    fn collection() -> CollectionDef {
        CollectionDef::new(PUPILS, [KeyKind::Str])
            .index(IndexDef::new("by_group", [KeyKind::Str]))
            .index(IndexDef::new("by_name", [KeyKind::Str]).unique())
    }

    fn id(&self) -> Tuple {
        (self.id.as_str(),).into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut v: Vec<IndexEntry> =
            self.groups.iter().map(|g| IndexEntry { index: "by_group".into(), key: (g.as_str(),).into() }).collect();
        v.push(IndexEntry { index: "by_name".into(), key: (self.name.as_str(),).into() });
        v
    }

    /// Version 1 stored `first` and `last` and no groups.
    fn upgrade(from_version: u32, data: serde_json::Value) -> ent_core::Result<serde_json::Value> {
        match from_version {
            1 => Ok(json!({
                "id": data["id"],
                "name": format!("{} {}", data["first"].as_str().unwrap_or(""), data["last"].as_str().unwrap_or("")),
                "groups": [],
            })),
            v => Err(Error::SchemaMismatch { what: PUPILS.into(), reason: format!("no upgrade from {v}") }),
        }
    }
}

fn pupil(id: &str, name: &str, groups: &[&str]) -> Pupil {
    Pupil { id: id.into(), name: name.into(), groups: groups.iter().map(|g| (*g).to_owned()).collect() }
}

async fn declared(s: &Arc<dyn Store>) -> Outcome {
    s.declare(&[Pupil::collection(), marks()]).await?;
    Ok(())
}

pub(crate) async fn insert_get_update(s: Arc<dyn Store>) -> Outcome {
    declared(&s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let zoe = pupil("p1", "Zoé Martin", &["3A", "latin"]);
    ensure_eq!(tx.insert_record(&zoe).await?, 1, "version");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let got: Versioned<Pupil> = tx.fetch_record("p1").await?;
    ensure_eq!(got, Versioned { version: 1, value: zoe.clone() }, "read back");
    let moved = pupil("p1", "Zoé Martin", &["3B"]);
    ensure_eq!(tx.update_record(got.version, &moved).await?, 2, "updated");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(ids(&mut *tx, &Scan::index(PUPILS, "by_group")).await?, ts(&["p1"]), "one group entry left");
    ensure_eq!(scan_keys(&mut *tx, &Scan::index(PUPILS, "by_group")).await?, ts(&["3B"]), "the new group");
    Ok(())
}

pub(crate) async fn missing_and_duplicates(s: Arc<dyn Store>) -> Outcome {
    declared(&s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure!(tx.get_record::<Pupil>("nobody").await?.is_none(), "get_record of a missing id");
    expect_err!(tx.fetch_record::<Pupil>("nobody").await, Error::NotFound { .. });
    tx.insert_record(&pupil("p1", "Ana", &[])).await?;
    let e = expect_err!(tx.insert_record(&pupil("p2", "Ana", &[])).await, Error::Duplicate { .. });
    ensure!(
        matches!(&e, Error::Duplicate { index, .. } if index == "by_name"),
        "unique index of a typed record: {e:?}"
    );
    ensure!(tx.delete_record::<Pupil>("p1", Some(1)).await?, "typed delete");
    Ok(())
}

pub(crate) async fn scan_records(s: Arc<dyn Store>) -> Outcome {
    declared(&s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    for (id, name, groups) in [("p1", "A", &["3A"][..]), ("p2", "B", &["3A", "3B"][..]), ("p3", "C", &["3B"][..])] {
        tx.insert_record(&pupil(id, name, groups)).await?;
    }
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let scan = Scan::index(PUPILS, "by_group").prefix(("3B",)).keys_only().limit(1);
    let (first, next) = tx.scan_records::<Pupil>(&scan).await?;
    ensure_eq!(first.iter().map(|p| p.value.id.as_str()).collect::<Vec<_>>(), vec!["p2"], "first page loads records");
    let (second, next) = tx.scan_records::<Pupil>(&scan.clone().after(next)).await?;
    ensure_eq!(second.iter().map(|p| p.value.id.as_str()).collect::<Vec<_>>(), vec!["p3"], "second page");
    ensure!(next.is_none(), "no third page");
    expect_err!(tx.scan_records::<Pupil>(&Scan::primary(ITEMS)).await, Error::Invalid { .. });
    Ok(())
}

pub(crate) async fn upgrades_old_schema_versions(s: Arc<dyn Store>) -> Outcome {
    declared(&s).await?;
    let old = NewRecord::from_value(("p1",), 1, &json!({"id": "p1", "first": "Léa", "last": "Petit"}))?;
    seed(&*s, PUPILS, vec![old]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let got: Versioned<Pupil> = tx.fetch_record("p1").await?;
    ensure_eq!(got.value, pupil("p1", "Léa Petit", &[]), "upgraded on read");
    tx.update_record(got.version, &got.value).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let raw = tx.get(PUPILS, &t("p1")).await?.ok_or_else(|| Failure::new("p1 missing"))?;
    ensure_eq!((raw.schema_version, raw.version), (2, 2), "stored in the current version once written back");
    Ok(())
}

pub(crate) async fn refuses_newer_schema_versions(s: Arc<dyn Store>) -> Outcome {
    declared(&s).await?;
    let newer = NewRecord::from_value(("p9",), 3, &json!({"id": "p9", "name": "Future", "groups": [], "extra": 1}))?;
    seed(&*s, PUPILS, vec![newer]).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let e = expect_err!(tx.get_record::<Pupil>("p9").await, Error::SchemaTooNew { .. });
    ensure!(matches!(e, Error::SchemaTooNew { stored: 3, supported: 2, .. }), "stored 3, supported 2: {e:?}");
    expect_err!(tx.scan_records::<Pupil>(&Scan::primary(PUPILS)).await, Error::SchemaTooNew { .. });
    Ok(())
}

pub(crate) async fn reindex_fills_a_new_index(s: Arc<dyn Store>) -> Outcome {
    // The collection first existed without `by_group`.
    let old_def = CollectionDef::new(PUPILS, [KeyKind::Str]).index(IndexDef::new("by_name", [KeyKind::Str]).unique());
    s.declare(&[old_def]).await?;
    let recs = (0..7)
        .map(|i| {
            NewRecord::from_value((format!("p{i}"),), 2, &pupil(&format!("p{i}"), &format!("N{i}"), &["3A"]))
                .map(|r| r.with_entry("by_name", (format!("N{i}"),)))
        })
        .collect::<ent_core::Result<Vec<_>>>()?;
    seed(&*s, PUPILS, recs).await?;
    let report = s.declare(&[Pupil::collection()]).await?;
    ensure_eq!(report.new_indexes, vec![(PUPILS.to_owned(), "by_group".to_owned())], "the new index is reported");
    ensure_eq!(typed::reindex::<Pupil>(&*s, 3).await?, 7, "every record rewritten, in pages of 3");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.count(&Scan::index(PUPILS, "by_group").prefix(("3A",))).await?, 7, "the new index is filled");
    ensure_eq!(tx.count(&Scan::index(PUPILS, "by_name")).await?, 7, "the unique index is intact");
    Ok(())
}
