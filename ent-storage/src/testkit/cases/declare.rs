//! Declaring collections: creation, idempotence, added and dropped indexes, refused changes.

use ent_core::storage::DeclareReport;

use super::prelude::*;

fn things() -> CollectionDef {
    CollectionDef::new("kit.things", [KeyKind::Str]).index(IndexDef::new("by_n", [KeyKind::Int]))
}

async fn things_with_one_record(s: &Arc<dyn Store>) -> Outcome {
    s.declare(&[things()]).await?;
    seed(&**s, "kit.things", vec![record(("a",), json!({"n": 1})).with_entry("by_n", (1i64,))]).await
}

pub(crate) async fn creates_and_reports(s: Arc<dyn Store>) -> Outcome {
    let report = s.declare(&[things(), pairs()]).await?;
    let mut created = report.created.clone();
    created.sort();
    ensure_eq!(created, vec![PAIRS.to_owned(), "kit.things".to_owned()], "created collections");
    ensure!(report.new_indexes.is_empty() && report.dropped_indexes.is_empty(), "{report:?}");
    Ok(())
}

pub(crate) async fn collections_lists_declarations(s: Arc<dyn Store>) -> Outcome {
    ensure_eq!(s.collections().await?, Vec::<CollectionDef>::new(), "a fresh store holds no collection");
    s.declare(&[things(), items()]).await?;
    let mut found = s.collections().await?;
    found.sort_by(|a, b| a.name.cmp(&b.name));
    ensure_eq!(found, vec![items(), things()], "the declarations, exactly");
    Ok(())
}

pub(crate) async fn is_idempotent(s: Arc<dyn Store>) -> Outcome {
    things_with_one_record(&s).await?;
    let before = snapshot(&*s).await?;
    let report = s.declare(&[things()]).await?;
    ensure_eq!(report, DeclareReport::default(), "declaring the same thing again changes nothing");
    ensure_eq!(snapshot(&*s).await?, before, "records and entries survive a repeated declaration");
    Ok(())
}

pub(crate) async fn reports_new_index(s: Arc<dyn Store>) -> Outcome {
    things_with_one_record(&s).await?;
    let report = s.declare(&[things().index(IndexDef::new("by_name", [KeyKind::Str]))]).await?;
    ensure_eq!(report.new_indexes, vec![("kit.things".to_owned(), "by_name".to_owned())], "new index");
    ensure!(report.created.is_empty() && report.dropped_indexes.is_empty(), "{report:?}");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.count(&Scan::index("kit.things", "by_name")).await?, 0, "a new index starts empty");
    ensure_eq!(tx.count(&Scan::index("kit.things", "by_n")).await?, 1, "the old index keeps its entries");
    Ok(())
}

pub(crate) async fn reports_dropped_index(s: Arc<dyn Store>) -> Outcome {
    things_with_one_record(&s).await?;
    let report = s.declare(&[CollectionDef::new("kit.things", [KeyKind::Str])]).await?;
    ensure_eq!(report.dropped_indexes, vec![("kit.things".to_owned(), "by_n".to_owned())], "dropped index");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    expect_err!(tx.count(&Scan::index("kit.things", "by_n")).await, Error::UnknownIndex { .. });
    ensure!(tx.get("kit.things", &t("a")).await?.is_some(), "records survive dropping an index");
    drop(tx);
    // Declared again, the index starts empty: its old entries were dropped with it.
    let report = s.declare(&[things()]).await?;
    ensure_eq!(report.new_indexes, vec![("kit.things".to_owned(), "by_n".to_owned())], "re-added index");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.count(&Scan::index("kit.things", "by_n")).await?, 0, "old entries do not come back");
    Ok(())
}

async fn refused_change(s: &Arc<dyn Store>, changed: CollectionDef) -> Outcome {
    things_with_one_record(s).await?;
    let before = snapshot(&**s).await?;
    let defs = s.collections().await?;
    expect_err!(s.declare(&[changed]).await, Error::SchemaMismatch { .. });
    ensure_eq!(s.collections().await?, defs, "a refused declaration changed the catalogue");
    ensure_eq!(snapshot(&**s).await?, before, "a refused declaration changed the data");
    Ok(())
}

pub(crate) async fn refuses_changed_primary_key(s: Arc<dyn Store>) -> Outcome {
    refused_change(&s, CollectionDef::new("kit.things", [KeyKind::Int]).index(IndexDef::new("by_n", [KeyKind::Int])))
        .await
}

pub(crate) async fn refuses_changed_index_fields(s: Arc<dyn Store>) -> Outcome {
    refused_change(&s, CollectionDef::new("kit.things", [KeyKind::Str]).index(IndexDef::new("by_n", [KeyKind::Str])))
        .await
}

pub(crate) async fn refuses_changed_uniqueness(s: Arc<dyn Store>) -> Outcome {
    refused_change(
        &s,
        CollectionDef::new("kit.things", [KeyKind::Str]).index(IndexDef::new("by_n", [KeyKind::Int]).unique()),
    )
    .await
}

pub(crate) async fn refuses_invalid_collection_names(s: Arc<dyn Store>) -> Outcome {
    for name in ["", "nodot", "Kit.things", "kit..things", ".kit", "kit.", "kit.th ings", "kit.thïngs"] {
        let e = expect_err!(s.declare(&[CollectionDef::new(name, [KeyKind::Str])]).await, Error::Invalid { .. });
        ensure!(!e.to_string().is_empty(), "an error says why");
    }
    expect_err!(s.declare(&[CollectionDef::new("kit.nokey", [])]).await, Error::Invalid { .. });
    ensure_eq!(s.collections().await?, Vec::<CollectionDef>::new(), "nothing was declared");
    Ok(())
}

pub(crate) async fn refuses_invalid_index_names(s: Arc<dyn Store>) -> Outcome {
    let bad = [
        IndexDef::new("primary", [KeyKind::Str]),
        IndexDef::new("ByName", [KeyKind::Str]),
        IndexDef::new("", [KeyKind::Str]),
        IndexDef::new("no_fields", []),
    ];
    for index in bad {
        let def = CollectionDef::new("kit.things", [KeyKind::Str]).index(index);
        expect_err!(s.declare(&[def]).await, Error::Invalid { .. });
    }
    let twice = CollectionDef::new("kit.things", [KeyKind::Str])
        .index(IndexDef::new("by_n", [KeyKind::Int]))
        .index(IndexDef::new("by_n", [KeyKind::Int]));
    expect_err!(s.declare(&[twice]).await, Error::Invalid { .. });
    ensure_eq!(s.collections().await?, Vec::<CollectionDef>::new(), "nothing was declared");
    Ok(())
}

pub(crate) async fn all_or_nothing(s: Arc<dyn Store>) -> Outcome {
    things_with_one_record(&s).await?;
    let defs = s.collections().await?;
    let changed = CollectionDef::new("kit.things", [KeyKind::Int]);
    expect_err!(s.declare(&[pairs(), changed]).await, Error::SchemaMismatch { .. });
    ensure_eq!(s.collections().await?, defs, "the valid part of a refused declaration was applied");
    Ok(())
}

pub(crate) async fn unknown_collection_everywhere(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let u = "kit.nowhere";
    expect_err!(tx.get(u, &t("a")).await, Error::UnknownCollection { .. });
    expect_err!(tx.get_many(u, &[t("a")]).await, Error::UnknownCollection { .. });
    expect_err!(tx.update(u, 1, item("a", 1)).await, Error::UnknownCollection { .. });
    expect_err!(tx.delete(u, &t("a"), None).await, Error::UnknownCollection { .. });
    expect_err!(tx.scan(&Scan::primary(u)).await, Error::UnknownCollection { .. });
    expect_err!(tx.count(&Scan::primary(u)).await, Error::UnknownCollection { .. });
    expect_err!(tx.delete_range(&Scan::primary(u)).await, Error::UnknownCollection { .. });
    expect_err!(tx.counter_get(u, &t("a")).await, Error::UnknownCollection { .. });
    drop(tx);
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.insert("kit.nowhere", item("a", 1)).await }))).await?;
    ensure!(matches!(e, Error::UnknownCollection { ref collection } if collection == "kit.nowhere"), "{e:?}");
    Ok(())
}
