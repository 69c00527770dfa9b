//! Inserts: versions, duplicates, unique indexes, key types and arities, limits.

use super::prelude::*;

pub(crate) async fn returns_version_1(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure_eq!(tx.insert(ITEMS, item("a", 1)).await?, 1, "insert returns version 1");
    ensure_eq!(tx.get(ITEMS, &t("a")).await?.map(|r| r.version), Some(1), "read back in the transaction");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.get(ITEMS, &t("a")).await?.map(|r| r.version), Some(1), "read back after commit");
    Ok(())
}

pub(crate) async fn duplicate_id(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_tag", ("x",))]).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| Box::pin(async move { tx.insert(ITEMS, item("a", 2).with_entry("by_tag", ("y",))).await })),
    )
    .await?;
    ensure!(
        matches!(&e, Error::Duplicate { collection, index, .. } if collection == ITEMS && index == "primary"),
        "Duplicate on the primary key: {e:?}"
    );
    Ok(())
}

pub(crate) async fn duplicate_id_within_transaction(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.insert(ITEMS, item("a", 1)).await?;
    expect_err!(tx.insert(ITEMS, item("a", 2)).await, Error::Duplicate { .. });
    let r = tx.get(ITEMS, &t("a")).await?.ok_or_else(|| crate::testkit::Failure::new("first insert lost"))?;
    ensure_eq!(n_of(&r.data)?, 1, "the first insert stands");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let r = tx.get(ITEMS, &t("a")).await?.ok_or_else(|| crate::testkit::Failure::new("record missing"))?;
    ensure_eq!((r.version, n_of(&r.data)?), (1, 1), "the first insert was committed alone");
    Ok(())
}

pub(crate) async fn duplicate_unique_key(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_code", ("A-1",))]).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(async move {
                tx.insert(ITEMS, item("b", 2).with_entry("by_tag", ("t",)).with_entry("by_code", ("A-1",))).await
            })
        }),
    )
    .await?;
    ensure!(matches!(&e, Error::Duplicate { index, .. } if index == "by_code"), "Duplicate on by_code: {e:?}");
    Ok(())
}

pub(crate) async fn duplicate_unique_key_within_transaction(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.insert(ITEMS, item("a", 1).with_entry("by_code", ("A",))).await?;
    expect_err!(tx.insert(ITEMS, item("b", 2).with_entry("by_code", ("A",))).await, Error::Duplicate { .. });
    ensure!(tx.get(ITEMS, &t("b")).await?.is_none(), "the refused record is absent");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(ids(&mut *tx, &Scan::index(ITEMS, "by_code")).await?, vec![t("a")], "one owner of the code");
    Ok(())
}

pub(crate) async fn same_unique_key_twice_in_one_record(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let r = item("a", 1).with_entry("by_code", ("A",)).with_entry("by_code", ("A",));
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure_eq!(tx.insert(ITEMS, r).await?, 1, "identical entries of one record count once");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_code")).await?, 1, "one entry stored");
    Ok(())
}

pub(crate) async fn shared_non_unique_key(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(
        &*s,
        ITEMS,
        vec![item("a", 1).with_entry("by_group", ("g", 1i64)), item("b", 2).with_entry("by_group", ("g", 1i64))],
    )
    .await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(ids(&mut *tx, &Scan::index(ITEMS, "by_group").prefix(("g", 1i64))).await?, ts(&["a", "b"]), "both");
    Ok(())
}

pub(crate) async fn id_wrong_type(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.insert(ITEMS, record((5i64,), json!({}))).await })))
        .await?;
    ensure!(
        matches!(&e, Error::KeyType { index, position: 0, .. } if index == "primary"),
        "KeyType on primary position 0: {e:?}"
    );
    Ok(())
}

pub(crate) async fn id_wrong_arity(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e =
        fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.insert(PAIRS, record(("a",), json!({}))).await }))).await?;
    ensure!(matches!(e, Error::Invalid { .. }), "Invalid for a short id: {e:?}");
    let e = fails_cleanly(
        &*s,
        op(|tx| Box::pin(async move { tx.insert(PAIRS, record(("a", 1i64, 2i64), json!({}))).await })),
    )
    .await?;
    ensure!(matches!(e, Error::Invalid { .. }), "Invalid for a long id: {e:?}");
    Ok(())
}

pub(crate) async fn entry_wrong_type(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(async move { tx.insert(ITEMS, item("a", 1).with_entry("by_group", ("g", "not an int"))).await })
        }),
    )
    .await?;
    ensure!(
        matches!(&e, Error::KeyType { index, position: 1, expected, found, .. }
            if index == "by_group" && expected == "integer" && found == "string"),
        "KeyType naming by_group, position 1, integer and string: {e:?}"
    );
    Ok(())
}

pub(crate) async fn entry_wrong_arity(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| Box::pin(async move { tx.insert(ITEMS, item("a", 1).with_entry("by_group", ("g",))).await })),
    )
    .await?;
    ensure!(matches!(e, Error::Invalid { .. }), "Invalid for a short index key: {e:?}");
    Ok(())
}

pub(crate) async fn unknown_index(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| Box::pin(async move { tx.insert(ITEMS, item("a", 1).with_entry("by_nothing", ("g",))).await })),
    )
    .await?;
    ensure!(
        matches!(&e, Error::UnknownIndex { collection, index } if collection == ITEMS && index == "by_nothing"),
        "UnknownIndex: {e:?}"
    );
    Ok(())
}

/// A record whose JSON text is exactly `size` bytes.
pub(crate) fn record_of_size(id: &str, size: usize) -> NewRecord {
    let overhead = r#"{"pad":""}"#.len();
    record((id,), json!({ "pad": "x".repeat(size.saturating_sub(overhead)) }))
}

pub(crate) async fn record_over_limit(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let limit = s.limits().max_record_bytes;
    let e = fails_cleanly(
        &*s,
        op(move |tx| Box::pin(async move { tx.insert(ITEMS, record_of_size("big", limit + 1)).await })),
    )
    .await?;
    ensure!(
        matches!(&e, Error::TooLarge { what, size, limit: l } if what == "record" && *size == limit as u64 + 1 && *l == limit as u64),
        "TooLarge record with size and limit: {e:?}"
    );
    Ok(())
}

pub(crate) async fn record_at_limit(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let limit = s.limits().max_record_bytes;
    let r = record_of_size("big", limit);
    ensure_eq!(r.data.get().len(), limit, "fixture size");
    let expected: serde_json::Value =
        serde_json::from_str(r.data.get()).map_err(|e| crate::testkit::Failure::new(e.to_string()))?;
    seed(&*s, ITEMS, vec![r]).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let got =
        tx.get(ITEMS, &t("big")).await?.ok_or_else(|| crate::testkit::Failure::new("record at the limit lost"))?;
    let got: serde_json::Value =
        serde_json::from_str(got.data.get()).map_err(|e| crate::testkit::Failure::new(e.to_string()))?;
    ensure!(got == expected, "a record of exactly max_record_bytes round-trips");
    Ok(())
}

pub(crate) async fn id_over_key_limit(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let long = "k".repeat(s.limits().max_key_bytes);
    let e = fails_cleanly(&*s, op(move |tx| Box::pin(async move { tx.insert(ITEMS, item(&long, 1)).await }))).await?;
    ensure!(matches!(&e, Error::TooLarge { what, .. } if what == "key"), "TooLarge key: {e:?}");
    Ok(())
}

pub(crate) async fn index_key_over_limit(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let long = "k".repeat(s.limits().max_key_bytes);
    let e = fails_cleanly(
        &*s,
        op(move |tx| Box::pin(async move { tx.insert(ITEMS, item("a", 1).with_entry("by_tag", (long,))).await })),
    )
    .await?;
    ensure!(matches!(&e, Error::TooLarge { what, .. } if what == "key"), "TooLarge key: {e:?}");
    Ok(())
}

pub(crate) async fn key_at_limit(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    // A string element encodes as a tag, its bytes and a terminator.
    let id = "k".repeat(s.limits().max_key_bytes - 2);
    ensure_eq!(t(&id).encode()?.len(), s.limits().max_key_bytes, "fixture size");
    seed(&*s, ITEMS, vec![item(&id, 1).with_entry("by_tag", (id.as_str(),))]).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure!(tx.get(ITEMS, &t(&id)).await?.is_some(), "a key of exactly max_key_bytes is accepted");
    ensure_eq!(ids(&mut *tx, &Scan::index(ITEMS, "by_tag")).await?, vec![t(&id)], "and indexed");
    Ok(())
}

pub(crate) async fn nan_in_key(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.insert(KEYS, record((f64::NAN,), json!({}))).await })))
        .await?;
    ensure!(matches!(e, Error::Invalid { .. }), "NaN key refused as Invalid: {e:?}");
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(
                async move { tx.insert(KEYS, record(("n",), json!({})).with_entry("by_float", (f64::NAN,))).await },
            )
        }),
    )
    .await?;
    ensure!(matches!(e, Error::Invalid { .. }), "NaN index key refused as Invalid: {e:?}");
    Ok(())
}

pub(crate) async fn zero_one_or_many_entries(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let many = item("m", 1).with_entry("by_tag", ("x",)).with_entry("by_tag", ("y",)).with_entry("by_tag", ("z",));
    seed(&*s, ITEMS, vec![item("none", 0), item("one", 1).with_entry("by_tag", ("x",)), many]).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_tag")).await?, 4, "entries in all");
    ensure_eq!(tx.count(&Scan::primary(ITEMS)).await?, 3, "records in all");
    Ok(())
}
