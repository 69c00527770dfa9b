//! Point reads: `get` and `get_many`.

use super::prelude::*;

pub(crate) async fn get_missing_is_none(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure!(tx.get(ITEMS, &t("nobody")).await?.is_none(), "a missing record reads as None");
    Ok(())
}

pub(crate) async fn get_returns_the_envelope(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let data = json!({"name": "Zoé", "grades": [12.5, 14], "nested": {"a": null}});
    let r = NewRecord::from_value(("z",), 7, &data)?;
    seed(&*s, ITEMS, vec![r]).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let got = tx.get(ITEMS, &t("z")).await?.ok_or_else(|| crate::testkit::Failure::new("record missing"))?;
    ensure_eq!(got.id, t("z"), "id");
    ensure_eq!(got.version, 1, "version after insert");
    ensure_eq!(got.schema_version, 7, "schema version as written");
    let back: serde_json::Value =
        serde_json::from_str(got.data.get()).map_err(|e| crate::testkit::Failure::new(e.to_string()))?;
    ensure_eq!(back, data, "data round trip");
    Ok(())
}

pub(crate) async fn get_many_keeps_order_missing_and_duplicates(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1), item("b", 2), item("c", 3)]).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let got = tx.get_many(ITEMS, &ts(&["c", "x", "a", "c", "b"])).await?;
    let ns: Vec<Option<i64>> =
        got.iter().map(|r| r.as_ref().map(|r| n_of(&r.data)).transpose()).collect::<Result<_, _>>()?;
    ensure_eq!(ns, vec![Some(3), None, Some(1), Some(3), Some(2)], "one answer per id, in the order asked");
    let got_ids: Vec<Option<Tuple>> = got.into_iter().map(|r| r.map(|r| r.id)).collect();
    ensure_eq!(got_ids, vec![Some(t("c")), None, Some(t("a")), Some(t("c")), Some(t("b"))], "ids");
    Ok(())
}

pub(crate) async fn get_many_empty(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.get_many(ITEMS, &[]).await?.len(), 0, "no id, no answer");
    Ok(())
}

pub(crate) async fn get_wrong_key_type(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let e = expect_err!(tx.get(ITEMS, &Tuple::from((42i64,))).await, Error::KeyType { .. });
    ensure!(
        matches!(&e, Error::KeyType { index, position: 0, .. } if index == "primary"),
        "the error names the primary key and position 0: {e:?}"
    );
    expect_err!(tx.get(PAIRS, &Tuple::from((1i64, "a"))).await, Error::KeyType { position: 0, .. });
    expect_err!(tx.get(PAIRS, &Tuple::from(("a", "b"))).await, Error::KeyType { position: 1, .. });
    Ok(())
}

pub(crate) async fn get_wrong_key_arity(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    expect_err!(tx.get(ITEMS, &Tuple::from(("a", "b"))).await, Error::Invalid { .. });
    expect_err!(tx.get(PAIRS, &t("a")).await, Error::Invalid { .. });
    expect_err!(tx.get(ITEMS, &Tuple::empty()).await, Error::Invalid { .. });
    expect_err!(tx.get_many(ITEMS, &[t("a"), Tuple::from(("a", 1i64))]).await, Error::Invalid { .. });
    expect_err!(tx.get_many(ITEMS, &[t("a"), Tuple::from((1i64,))]).await, Error::KeyType { .. });
    Ok(())
}

pub(crate) async fn get_sees_committed_data_of_others(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1)]).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let r = tx.get(ITEMS, &t("a")).await?;
    ensure_eq!(r.map(|r| r.version), Some(1), "a transaction begun after a commit sees it");
    Ok(())
}
