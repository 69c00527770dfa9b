//! Updates: version checks, index entries replaced, unique keys moved.

use super::prelude::*;

pub(crate) async fn bumps_version(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1)]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure_eq!(tx.update(ITEMS, 1, item("a", 2)).await?, 2, "first update");
    ensure_eq!(tx.update(ITEMS, 2, item("a", 3)).await?, 3, "second update in the same transaction");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let r = tx.get(ITEMS, &t("a")).await?.ok_or_else(|| crate::testkit::Failure::new("record lost"))?;
    ensure_eq!((r.version, n_of(&r.data)?), (3, 3), "version and data after commit");
    ensure_eq!(tx.update(ITEMS, 3, item("a", 4)).await?, 4, "update in a later transaction");
    Ok(())
}

pub(crate) async fn stale_version(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_tag", ("old",))]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.update(ITEMS, 1, item("a", 2).with_entry("by_tag", ("old",))).await?;
    tx.commit().await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| Box::pin(async move { tx.update(ITEMS, 1, item("a", 9).with_entry("by_tag", ("new",))).await })),
    )
    .await?;
    ensure!(
        matches!(e, Error::Conflict { expected: Some(1), found: Some(2), retryable: false, .. }),
        "Conflict {{ expected: Some(1), found: Some(2), retryable: false }}: {e:?}"
    );
    Ok(())
}

pub(crate) async fn future_version(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1)]).await?;
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.update(ITEMS, 5, item("a", 9)).await }))).await?;
    ensure!(matches!(e, Error::Conflict { expected: Some(5), found: Some(1), retryable: false, .. }), "{e:?}");
    Ok(())
}

pub(crate) async fn missing_record(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.update(ITEMS, 1, item("ghost", 1)).await }))).await?;
    ensure!(matches!(e, Error::NotFound { .. }), "NotFound: {e:?}");
    Ok(())
}

pub(crate) async fn replaces_index_entries(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_tag", ("x",)).with_entry("by_tag", ("y",))]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.update(ITEMS, 1, item("a", 2).with_entry("by_tag", ("y",)).with_entry("by_tag", ("z",))).await?;
    ensure_eq!(scan_keys(&mut *tx, &Scan::index(ITEMS, "by_tag")).await?, ts(&["y", "z"]), "inside the transaction");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(scan_keys(&mut *tx, &Scan::index(ITEMS, "by_tag")).await?, ts(&["y", "z"]), "after commit");
    Ok(())
}

pub(crate) async fn removes_all_entries(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_tag", ("x",)).with_entry("by_code", ("C",))]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.update(ITEMS, 1, item("a", 2)).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_tag")).await?, 0, "by_tag emptied");
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_code")).await?, 0, "by_code emptied");
    Ok(())
}

pub(crate) async fn moves_unique_key_between_records(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_code", ("K",)), item("b", 1)]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.update(ITEMS, 1, item("a", 2)).await?;
    tx.update(ITEMS, 1, item("b", 2).with_entry("by_code", ("K",))).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(ids(&mut *tx, &Scan::index(ITEMS, "by_code").prefix(("K",))).await?, vec![t("b")], "K moved to b");
    Ok(())
}

pub(crate) async fn swaps_unique_keys_through_a_third(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_code", ("A",)), item("b", 1).with_entry("by_code", ("B",))])
        .await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    expect_err!(tx.update(ITEMS, 1, item("a", 2).with_entry("by_code", ("B",))).await, Error::Duplicate { .. });
    tx.update(ITEMS, 1, item("a", 2).with_entry("by_code", ("tmp",))).await?;
    tx.update(ITEMS, 1, item("b", 2).with_entry("by_code", ("A",))).await?;
    tx.update(ITEMS, 2, item("a", 3).with_entry("by_code", ("B",))).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let page = tx.scan(&Scan::index(ITEMS, "by_code").keys_only()).await?;
    let pairs: Vec<(Tuple, Tuple)> = page.entries.into_iter().map(|e| (e.key, e.id)).collect();
    ensure_eq!(pairs, vec![(t("A"), t("b")), (t("B"), t("a"))], "codes swapped");
    Ok(())
}

pub(crate) async fn to_taken_unique_key(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_code", ("A",)), item("b", 1).with_entry("by_code", ("B",))])
        .await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| Box::pin(async move { tx.update(ITEMS, 1, item("b", 2).with_entry("by_code", ("A",))).await })),
    )
    .await?;
    ensure!(matches!(&e, Error::Duplicate { index, .. } if index == "by_code"), "Duplicate on by_code: {e:?}");
    Ok(())
}

pub(crate) async fn keeps_own_unique_key(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_code", ("A",))]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure_eq!(tx.update(ITEMS, 1, item("a", 2).with_entry("by_code", ("A",))).await?, 2, "own key is no duplicate");
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn over_limit(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1)]).await?;
    let limit = s.limits().max_record_bytes;
    let e = fails_cleanly(
        &*s,
        op(move |tx| {
            Box::pin(async move { tx.update(ITEMS, 1, super::inserts::record_of_size("a", limit + 1)).await })
        }),
    )
    .await?;
    ensure!(matches!(&e, Error::TooLarge { what, .. } if what == "record"), "TooLarge: {e:?}");
    Ok(())
}

pub(crate) async fn wrong_entry_type(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_tag", ("x",))]).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| Box::pin(async move { tx.update(ITEMS, 1, item("a", 2).with_entry("by_tag", (3i64,))).await })),
    )
    .await?;
    ensure!(matches!(&e, Error::KeyType { index, .. } if index == "by_tag"), "KeyType: {e:?}");
    Ok(())
}

pub(crate) async fn stores_new_schema_version(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1)]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.update(ITEMS, 1, NewRecord::from_value(("a",), 4, &json!({"n": 2}))?).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.get(ITEMS, &t("a")).await?.map(|r| r.schema_version), Some(4), "schema version replaced");
    Ok(())
}

pub(crate) async fn record_inserted_in_same_transaction(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.insert(ITEMS, item("a", 1)).await?;
    ensure_eq!(tx.update(ITEMS, 1, item("a", 2)).await?, 2, "update of an uncommitted insert");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.get(ITEMS, &t("a")).await?.map(|r| r.version), Some(2), "committed at version 2");
    Ok(())
}
