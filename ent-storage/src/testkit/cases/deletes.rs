//! Deletes: unconditional and conditional, index entries removed, absent records.

use super::prelude::*;

pub(crate) async fn removes_record_and_entries(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let a = item("a", 1).with_entry("by_tag", ("x",)).with_entry("by_tag", ("y",)).with_entry("by_code", ("A",));
    seed(&*s, ITEMS, vec![a, item("b", 2).with_entry("by_tag", ("x",))]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure!(tx.delete(ITEMS, &t("a"), None).await?, "delete reports that the record existed");
    ensure!(tx.get(ITEMS, &t("a")).await?.is_none(), "gone inside the transaction");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure!(tx.get(ITEMS, &t("a")).await?.is_none(), "gone after commit");
    ensure_eq!(ids(&mut *tx, &Scan::index(ITEMS, "by_tag")).await?, ts(&["b"]), "its entries are gone");
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_code")).await?, 0, "its unique entry is gone");
    Ok(())
}

pub(crate) async fn absent_is_false(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure!(!tx.delete(ITEMS, &t("nobody"), None).await?, "deleting nothing reports false");
    tx.insert(ITEMS, item("a", 1)).await?;
    ensure!(tx.delete(ITEMS, &t("a"), None).await?, "first delete");
    ensure!(!tx.delete(ITEMS, &t("a"), None).await?, "second delete finds nothing");
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn conditional_at_version(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1)]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.update(ITEMS, 1, item("a", 2)).await?;
    ensure!(tx.delete(ITEMS, &t("a"), Some(2)).await?, "conditional delete at the current version");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure!(tx.get(ITEMS, &t("a")).await?.is_none(), "deleted");
    Ok(())
}

pub(crate) async fn conditional_stale(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_tag", ("x",))]).await?;
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.delete(ITEMS, &t("a"), Some(3)).await }))).await?;
    ensure!(matches!(e, Error::Conflict { expected: Some(3), found: Some(1), retryable: false, .. }), "{e:?}");
    Ok(())
}

pub(crate) async fn conditional_absent(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.delete(ITEMS, &t("nobody"), Some(1)).await }))).await?;
    ensure!(matches!(e, Error::NotFound { .. }), "NotFound: {e:?}");
    Ok(())
}

pub(crate) async fn frees_unique_key(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_code", ("A",))]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.delete(ITEMS, &t("a"), None).await?;
    tx.insert(ITEMS, item("b", 1).with_entry("by_code", ("A",))).await?;
    tx.insert(ITEMS, item("a", 5)).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(ids(&mut *tx, &Scan::index(ITEMS, "by_code")).await?, ts(&["b"]), "the code moved to b");
    ensure_eq!(tx.get(ITEMS, &t("a")).await?.map(|r| r.version), Some(1), "a re-inserted id starts at version 1");
    Ok(())
}

pub(crate) async fn wrong_key_type(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1)]).await?;
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.delete(ITEMS, &Tuple::from((1i64,)), None).await })))
        .await?;
    ensure!(matches!(e, Error::KeyType { .. }), "KeyType: {e:?}");
    let e =
        fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.delete(ITEMS, &Tuple::from(("a", 1i64)), None).await })))
            .await?;
    ensure!(matches!(e, Error::Invalid { .. }), "Invalid: {e:?}");
    Ok(())
}
