//! `delete_range` over the primary key and over indexes.

use super::prelude::*;

async fn seed_pairs(s: &Arc<dyn Store>) -> Outcome {
    setup(&**s).await?;
    let mut records = Vec::new();
    for a in ["a", "b", "c"] {
        for i in 1..=4i64 {
            records.push(record((a, i), json!({ "n": i })));
        }
    }
    seed(&**s, PAIRS, records).await
}

async fn remaining(s: &Arc<dyn Store>) -> Result<Vec<Tuple>, crate::testkit::Failure> {
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    all_ids(&mut *tx, &Scan::primary(PAIRS), 100).await
}

fn p(a: &str, i: i64) -> Tuple {
    Tuple::from((a, i))
}

pub(crate) async fn primary_prefix(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure_eq!(tx.delete_range(&Scan::primary(PAIRS).prefix(("b",))).await?, 4, "deleted count");
    ensure_eq!(tx.count(&Scan::primary(PAIRS).prefix(("b",))).await?, 0, "gone inside the transaction");
    tx.commit().await?;
    let left = remaining(&s).await?;
    ensure_eq!(left.len(), 8, "the other prefixes stay");
    ensure!(left.iter().all(|id| id.elements()[0] != Element::Str("b".into())), "{left:?}");
    Ok(())
}

pub(crate) async fn primary_bounds(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let scan =
        Scan::primary(PAIRS).prefix(("a",)).range(Bound::Excluded((1i64,).into()), Bound::Included((3i64,).into()));
    ensure_eq!(tx.delete_range(&scan).await?, 2, "(1, 3] holds 2 and 3");
    let scan = Scan::primary(PAIRS).range(Bound::Included(("c", 4i64).into()), Bound::Unbounded);
    ensure_eq!(tx.delete_range(&scan).await?, 1, "from (c, 4) to the end");
    tx.commit().await?;
    let left = remaining(&s).await?;
    ensure_eq!(left[..2].to_vec(), vec![p("a", 1), p("a", 4)], "a keeps 1 and 4");
    ensure_eq!(left.len(), 9, "12 - 3");
    ensure_eq!(left.last().cloned(), Some(p("c", 3)), "c keeps 1..3");
    Ok(())
}

pub(crate) async fn whole_collection(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("x", 1)]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure_eq!(tx.delete_range(&Scan::primary(PAIRS)).await?, 12, "every pair");
    tx.commit().await?;
    ensure_eq!(remaining(&s).await?, Vec::<Tuple>::new(), "empty");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(tx.count(&Scan::primary(ITEMS)).await?, 1, "another collection is untouched");
    Ok(())
}

pub(crate) async fn index_range(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(
        &*s,
        ITEMS,
        vec![
            item("a", 1)
                .with_entry("by_group", ("g", 1i64))
                .with_entry("by_group", ("g", 2i64))
                .with_entry("by_tag", ("t",)),
            item("b", 2).with_entry("by_group", ("g", 2i64)),
            item("c", 3).with_entry("by_group", ("g", 3i64)),
            item("d", 4).with_entry("by_group", ("h", 1i64)),
        ],
    )
    .await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    let scan = Scan::index(ITEMS, "by_group").prefix(("g",)).range(Bound::Unbounded, Bound::Included((2i64,).into()));
    ensure_eq!(tx.delete_range(&scan).await?, 2, "a (two entries in range) counts once, and b");
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(all_ids(&mut *tx, &Scan::primary(ITEMS), 10).await?, ts(&["c", "d"]), "records left");
    ensure_eq!(
        tx.count(&Scan::index(ITEMS, "by_tag")).await?,
        0,
        "entries of deleted records in other indexes are gone"
    );
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_group")).await?, 2, "entries left");
    Ok(())
}

pub(crate) async fn empty_range(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure_eq!(tx.delete_range(&Scan::primary(PAIRS).prefix(("zz",))).await?, 0, "nothing under zz");
    let backwards = Scan::primary(PAIRS).range(Bound::Included(("c",).into()), Bound::Excluded(("a",).into()));
    ensure_eq!(tx.delete_range(&backwards).await?, 0, "start after end deletes nothing");
    tx.commit().await?;
    ensure_eq!(remaining(&s).await?.len(), 12, "all there");
    Ok(())
}

pub(crate) async fn ignores_limit(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    ensure_eq!(tx.delete_range(&Scan::primary(PAIRS).limit(1)).await?, 12, "the limit does not apply");
    tx.commit().await?;
    ensure_eq!(remaining(&s).await?.len(), 0, "all gone");
    Ok(())
}

pub(crate) async fn wrong_bound_type(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(async move {
                tx.delete_range(
                    &Scan::primary(PAIRS).prefix(("a",)).range(Bound::Included(("x",).into()), Bound::Unbounded),
                )
                .await
            })
        }),
    )
    .await?;
    ensure!(matches!(e, Error::KeyType { position: 1, .. }), "KeyType at position 1: {e:?}");
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.delete_range(&Scan::index(PAIRS, "nope")).await })))
        .await?;
    ensure!(matches!(e, Error::UnknownIndex { .. }), "UnknownIndex: {e:?}");
    Ok(())
}
