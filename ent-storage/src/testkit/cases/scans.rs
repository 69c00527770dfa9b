//! Scans: order, prefixes, the four bounds, direction, limits, cursors, index-only scans, counts.

use super::prelude::*;
use crate::testkit::Failure;

/// Pairs `(a|b|c, 1..=4)`.
async fn seed_pairs(s: &Arc<dyn Store>) -> Outcome {
    setup(&**s).await?;
    let mut records = Vec::new();
    for a in ["c", "a", "b"] {
        for i in [3i64, 1, 4, 2] {
            records.push(record((a, i), json!({ "n": i })));
        }
    }
    seed(&**s, PAIRS, records).await
}

fn p(a: &str, i: i64) -> Tuple {
    Tuple::from((a, i))
}

fn ps(a: &str, v: &[i64]) -> Vec<Tuple> {
    v.iter().map(|i| p(a, *i)).collect()
}

async fn ids_of(s: &Arc<dyn Store>, scan: Scan) -> Result<Vec<Tuple>, Failure> {
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ids(&mut *tx, &scan).await
}

async fn seed_items(s: &Arc<dyn Store>, names: &[&str]) -> Outcome {
    setup(&**s).await?;
    seed(&**s, ITEMS, names.iter().enumerate().map(|(i, n)| item(n, i as i64)).collect()).await
}

fn inc(t: i64) -> Bound<Tuple> {
    Bound::Included((t,).into())
}

fn exc(t: i64) -> Bound<Tuple> {
    Bound::Excluded((t,).into())
}

pub(crate) async fn primary_in_key_order(s: Arc<dyn Store>) -> Outcome {
    seed_items(&s, &["m", "b", "z", "a", "k"]).await?;
    ensure_eq!(ids_of(&s, Scan::primary(ITEMS)).await?, ts(&["a", "b", "k", "m", "z"]), "key order");
    Ok(())
}

pub(crate) async fn primary_keys_are_ids(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let page = tx.scan(&Scan::primary(PAIRS).limit(3)).await?;
    for e in &page.entries {
        ensure_eq!(e.key, e.id, "a primary scan's key is the id");
        ensure_eq!(e.record.as_ref().map(|r| &r.id), Some(&e.id), "and the record's id");
    }
    Ok(())
}

pub(crate) async fn prefix(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    ensure_eq!(ids_of(&s, Scan::primary(PAIRS).prefix(("b",))).await?, ps("b", &[1, 2, 3, 4]), "prefix b");
    ensure_eq!(ids_of(&s, Scan::primary(PAIRS).prefix(("b", 3i64))).await?, ps("b", &[3]), "a full key as prefix");
    Ok(())
}

pub(crate) async fn included_start(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let scan = Scan::primary(PAIRS).prefix(("a",)).range(inc(2), Bound::Unbounded);
    ensure_eq!(ids_of(&s, scan).await?, ps("a", &[2, 3, 4]), "[2, ..)");
    Ok(())
}

pub(crate) async fn excluded_start(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let scan = Scan::primary(PAIRS).prefix(("a",)).range(exc(2), Bound::Unbounded);
    ensure_eq!(ids_of(&s, scan).await?, ps("a", &[3, 4]), "(2, ..)");
    Ok(())
}

pub(crate) async fn included_end(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let scan = Scan::primary(PAIRS).prefix(("a",)).range(Bound::Unbounded, inc(3));
    ensure_eq!(ids_of(&s, scan).await?, ps("a", &[1, 2, 3]), "(.., 3]");
    Ok(())
}

pub(crate) async fn excluded_end(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let scan = Scan::primary(PAIRS).prefix(("a",)).range(Bound::Unbounded, exc(3));
    ensure_eq!(ids_of(&s, scan).await?, ps("a", &[1, 2]), "(.., 3)");
    Ok(())
}

pub(crate) async fn bounds_cover_extensions(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let b = |x: &str| -> Tuple { (x,).into() };
    let scan = Scan::primary(PAIRS).range(Bound::Included(b("a")), Bound::Included(b("b")));
    let mut expected = ps("a", &[1, 2, 3, 4]);
    expected.extend(ps("b", &[1, 2, 3, 4]));
    ensure_eq!(ids_of(&s, scan).await?, expected, "[a, b] covers every key starting with a or b");
    let scan = Scan::primary(PAIRS).range(Bound::Excluded(b("a")), Bound::Excluded(b("c")));
    ensure_eq!(ids_of(&s, scan).await?, ps("b", &[1, 2, 3, 4]), "(a, c) excludes every key starting with a or c");
    Ok(())
}

pub(crate) async fn backward(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    ensure_eq!(ids_of(&s, Scan::primary(PAIRS).prefix(("b",)).backward()).await?, ps("b", &[4, 3, 2, 1]), "descending");
    Ok(())
}

pub(crate) async fn backward_with_bounds(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let scan = Scan::primary(PAIRS).prefix(("c",)).range(exc(1), inc(3)).backward();
    ensure_eq!(ids_of(&s, scan).await?, ps("c", &[3, 2]), "(1, 3] descending");
    let scan = Scan::primary(PAIRS).prefix(("c",)).range(inc(2), exc(4)).backward().limit(1);
    ensure_eq!(ids_of(&s, scan).await?, ps("c", &[3]), "the first of [2, 4) descending");
    Ok(())
}

pub(crate) async fn next_exactly_when_more(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    for (limit, more) in [(3usize, true), (4, false), (5, false), (1, true)] {
        for scan in [Scan::primary(PAIRS).prefix(("a",)), Scan::primary(PAIRS).prefix(("a",)).backward()] {
            let page = tx.scan(&scan.limit(limit)).await?;
            ensure_eq!(page.entries.len(), limit.min(4), "entries with limit {limit}");
            ensure_eq!(page.next.is_some(), more, "next with limit {limit} over 4 entries");
        }
    }
    Ok(())
}

pub(crate) async fn paging_forward(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let mut expected = ps("a", &[1, 2, 3, 4]);
    expected.extend(ps("b", &[1, 2, 3, 4]));
    expected.extend(ps("c", &[1, 2, 3, 4]));
    for page in [1, 2, 5, 6, 11, 12] {
        ensure_eq!(all_ids(&mut *tx, &Scan::primary(PAIRS), page).await?, expected, "pages of {page}");
    }
    Ok(())
}

pub(crate) async fn paging_backward(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let scan = Scan::primary(PAIRS).range(Bound::Excluded(("a",).into()), Bound::Unbounded).backward();
    let mut expected = ps("c", &[4, 3, 2, 1]);
    expected.extend(ps("b", &[4, 3, 2, 1]));
    for page in [1, 3, 7] {
        ensure_eq!(all_ids(&mut *tx, &scan, page).await?, expected, "pages of {page}");
    }
    Ok(())
}

/// Reads a first page of 2 in one transaction, lets `between` commit, reads the rest in another.
async fn resume_after(
    s: &Arc<dyn Store>,
    scan: Scan,
    between: impl for<'t> FnOnce(&'t mut dyn Transaction) -> futures::future::BoxFuture<'t, ent_core::Result<()>>,
) -> Result<(Vec<Tuple>, Vec<Tuple>), Failure> {
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let first = tx.scan(&scan.clone().limit(2)).await?;
    drop(tx);
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    between(&mut *tx).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let mut rest = Vec::new();
    let mut cursor = first.next;
    while cursor.is_some() {
        let page = tx.scan(&scan.clone().limit(2).after(cursor.clone())).await?;
        rest.extend(page.entries.into_iter().map(|e| e.id));
        if !crate::testkit::check::advance(&mut cursor, page.next, rest.len())? {
            break;
        }
    }
    Ok((first.entries.into_iter().map(|e| e.id).collect(), rest))
}

pub(crate) async fn cursor_after_concurrent_inserts(s: Arc<dyn Store>) -> Outcome {
    seed_items(&s, &["b", "d", "f", "h"]).await?;
    let (first, rest) = resume_after(&s, Scan::primary(ITEMS), |tx| {
        Box::pin(async move {
            tx.insert(ITEMS, item("a", 0)).await?; // before the cursor
            tx.insert(ITEMS, item("c", 0)).await?; // before the cursor
            tx.insert(ITEMS, item("e", 0)).await?; // after it
            tx.insert(ITEMS, item("z", 0)).await?; // after it
            Ok(())
        })
    })
    .await?;
    ensure_eq!(first, ts(&["b", "d"]), "first page");
    ensure_eq!(rest, ts(&["e", "f", "h", "z"]), "the rest: strictly after d, including new entries after it");
    Ok(())
}

pub(crate) async fn cursor_after_concurrent_inserts_backward(s: Arc<dyn Store>) -> Outcome {
    seed_items(&s, &["b", "d", "f", "h"]).await?;
    let (first, rest) = resume_after(&s, Scan::primary(ITEMS).backward(), |tx| {
        Box::pin(async move {
            tx.insert(ITEMS, item("g", 0)).await?;
            tx.insert(ITEMS, item("e", 0)).await?;
            tx.insert(ITEMS, item("a", 0)).await?;
            Ok(())
        })
    })
    .await?;
    ensure_eq!(first, ts(&["h", "f"]), "first page");
    ensure_eq!(rest, ts(&["e", "d", "b", "a"]), "strictly before f");
    Ok(())
}

pub(crate) async fn cursor_after_deletion_of_its_entry(s: Arc<dyn Store>) -> Outcome {
    seed_items(&s, &["a", "b", "c", "d", "e"]).await?;
    let (first, rest) = resume_after(&s, Scan::primary(ITEMS), |tx| {
        Box::pin(async move {
            tx.delete(ITEMS, &t("b"), None).await?; // the cursor's own entry
            tx.delete(ITEMS, &t("c"), None).await?; // the next one
            Ok(())
        })
    })
    .await?;
    ensure_eq!(first, ts(&["a", "b"]), "first page");
    ensure_eq!(rest, ts(&["d", "e"]), "resumes after b although b and c are gone");
    Ok(())
}

pub(crate) async fn cursor_after_deletions_on_index(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let recs = ["a", "b", "c", "d"].iter().map(|id| item(id, 0).with_entry("by_tag", ("same",))).collect();
    seed(&*s, ITEMS, recs).await?;
    let (first, rest) = resume_after(&s, Scan::index(ITEMS, "by_tag").prefix(("same",)), |tx| {
        Box::pin(async move {
            tx.delete(ITEMS, &t("b"), None).await?;
            tx.insert(ITEMS, item("a2", 0).with_entry("by_tag", ("same",))).await?;
            tx.insert(ITEMS, item("bb", 0).with_entry("by_tag", ("same",))).await?;
            Ok(())
        })
    })
    .await?;
    ensure_eq!(first, ts(&["a", "b"]), "first page, ties by id");
    ensure_eq!(rest, ts(&["bb", "c", "d"]), "after (same, b), by id");
    Ok(())
}

pub(crate) async fn cursor_pages_through_ties(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let recs = ["e", "a", "d", "b", "c"].iter().map(|id| item(id, 0).with_entry("by_group", ("g", 7i64))).collect();
    seed(&*s, ITEMS, recs).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let scan = Scan::index(ITEMS, "by_group");
    ensure_eq!(all_ids(&mut *tx, &scan, 1).await?, ts(&["a", "b", "c", "d", "e"]), "forward, one by one");
    ensure_eq!(all_ids(&mut *tx, &scan.clone().backward(), 2).await?, ts(&["e", "d", "c", "b", "a"]), "backward");
    Ok(())
}

async fn bad_cursor(s: &Arc<dyn Store>, scan: Scan) -> Outcome {
    let e = fails_cleanly(&**s, op(move |tx| Box::pin(async move { tx.scan(&scan).await }))).await?;
    ensure!(matches!(e, Error::InvalidCursor { .. }), "InvalidCursor: {e:?}");
    Ok(())
}

async fn a_cursor(s: &Arc<dyn Store>, scan: Scan) -> Result<Cursor, Failure> {
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    tx.scan(&scan.limit(1)).await?.next.ok_or_else(|| Failure::new("expected a next page"))
}

async fn seed_for_cursors(s: &Arc<dyn Store>) -> Outcome {
    seed_pairs(s).await?;
    let recs = ["a", "b", "c"]
        .iter()
        .map(|id| item(id, 0).with_entry("by_tag", (*id,)).with_entry("by_code", (*id,)))
        .collect();
    seed(&**s, ITEMS, recs).await
}

pub(crate) async fn cursor_from_another_index(s: Arc<dyn Store>) -> Outcome {
    seed_for_cursors(&s).await?;
    let c = a_cursor(&s, Scan::index(ITEMS, "by_tag")).await?;
    bad_cursor(&s, Scan::index(ITEMS, "by_code").after(Some(c.clone()))).await?;
    bad_cursor(&s, Scan::primary(ITEMS).after(Some(c))).await
}

pub(crate) async fn cursor_from_another_collection(s: Arc<dyn Store>) -> Outcome {
    seed_for_cursors(&s).await?;
    let c = a_cursor(&s, Scan::primary(PAIRS)).await?;
    bad_cursor(&s, Scan::primary(ITEMS).after(Some(c))).await
}

pub(crate) async fn cursor_from_the_other_direction(s: Arc<dyn Store>) -> Outcome {
    seed_for_cursors(&s).await?;
    let c = a_cursor(&s, Scan::primary(ITEMS)).await?;
    bad_cursor(&s, Scan::primary(ITEMS).backward().after(Some(c))).await?;
    let c = a_cursor(&s, Scan::index(ITEMS, "by_tag").backward()).await?;
    bad_cursor(&s, Scan::index(ITEMS, "by_tag").after(Some(c))).await
}

pub(crate) async fn garbage_cursor(s: Arc<dyn Store>) -> Outcome {
    seed_for_cursors(&s).await?;
    let valid = a_cursor(&s, Scan::primary(ITEMS)).await?;
    let truncated = valid.as_str()[..valid.as_str().len() - 4].to_owned();
    for garbage in ["", "zz", "not a cursor", "00", "0100000000", "ffffffffffffffff", truncated.as_str()] {
        bad_cursor(&s, Scan::primary(ITEMS).after(Some(Cursor::from_string(garbage)))).await?;
    }
    Ok(())
}

pub(crate) async fn cursor_survives_serialization(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let c = a_cursor(&s, Scan::primary(PAIRS)).await?;
    let text = serde_json::to_string(&c).map_err(|e| Failure::new(e.to_string()))?;
    let back: Cursor = serde_json::from_str(&text).map_err(|e| Failure::new(e.to_string()))?;
    let again = Cursor::from_string(c.as_str());
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let a = tx.scan(&Scan::primary(PAIRS).limit(1).after(Some(back))).await?;
    let b = tx.scan(&Scan::primary(PAIRS).limit(1).after(Some(again))).await?;
    ensure_eq!(a.entries.first().map(|e| e.id.clone()), Some(p("a", 2)), "resumed from JSON");
    ensure_eq!(b.entries.first().map(|e| e.id.clone()), Some(p("a", 2)), "resumed from text");
    Ok(())
}

pub(crate) async fn limit_zero(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let e = fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.scan(&Scan::primary(PAIRS).limit(0)).await }))).await?;
    ensure!(matches!(e, Error::Invalid { .. }), "Invalid: {e:?}");
    Ok(())
}

pub(crate) async fn limit_above_max(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let max = s.limits().max_scan_limit;
    let e =
        fails_cleanly(&*s, op(move |tx| Box::pin(async move { tx.scan(&Scan::primary(PAIRS).limit(max + 1)).await })))
            .await?;
    ensure!(matches!(e, Error::Invalid { .. }), "Invalid: {e:?}");
    Ok(())
}

pub(crate) async fn limit_at_max(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let page = tx.scan(&Scan::primary(PAIRS).limit(s.limits().max_scan_limit)).await?;
    ensure_eq!((page.entries.len(), page.next.is_none()), (12, true), "the largest page is allowed");
    Ok(())
}

pub(crate) async fn index_only(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_tag", ("x",)), item("b", 2).with_entry("by_tag", ("y",))])
        .await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    for scan in [Scan::index(ITEMS, "by_tag"), Scan::primary(ITEMS)] {
        let page = tx.scan(&scan.clone().keys_only()).await?;
        ensure_eq!(page.entries.len(), 2, "entries of {}", scan.index_name());
        ensure!(page.entries.iter().all(|e| e.record.is_none()), "index-only scans return no record");
        let page = tx.scan(&scan).await?;
        ensure!(page.entries.iter().all(|e| e.record.is_some()), "full scans return records");
    }
    let page = tx.scan(&Scan::index(ITEMS, "by_tag").keys_only()).await?;
    let pairs: Vec<(Tuple, Tuple)> = page.entries.into_iter().map(|e| (e.key, e.id)).collect();
    ensure_eq!(pairs, vec![(t("x"), t("a")), (t("y"), t("b"))], "keys and ids");
    Ok(())
}

pub(crate) async fn empty_collection(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    for scan in [Scan::primary(ITEMS), Scan::index(ITEMS, "by_tag"), Scan::primary(ITEMS).backward()] {
        let page = tx.scan(&scan).await?;
        ensure!(page.entries.is_empty() && page.next.is_none(), "empty page, no next: {page:?}");
        ensure_eq!(tx.count(&scan).await?, 0, "count");
    }
    Ok(())
}

pub(crate) async fn empty_range(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let scans = [
        Scan::primary(PAIRS).prefix(("bb",)),
        Scan::primary(PAIRS).prefix(("b",)).range(exc(4), Bound::Unbounded),
        Scan::primary(PAIRS).prefix(("b",)).range(inc(2), exc(2)),
        Scan::primary(PAIRS).prefix(("b",)).range(Bound::Unbounded, exc(1)),
    ];
    for scan in scans {
        for scan in [scan.clone(), scan.backward()] {
            let page = tx.scan(&scan).await?;
            ensure!(page.entries.is_empty() && page.next.is_none(), "{scan:?} gave {page:?}");
            ensure_eq!(tx.count(&scan).await?, 0, "count of {scan:?}");
        }
    }
    Ok(())
}

pub(crate) async fn start_after_end(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    for scan in [
        Scan::primary(PAIRS).prefix(("a",)).range(inc(3), inc(2)),
        Scan::primary(PAIRS).range(Bound::Included(("c",).into()), Bound::Included(("a",).into())),
    ] {
        for scan in [scan.clone(), scan.backward()] {
            let page = tx.scan(&scan).await?;
            ensure!(page.entries.is_empty() && page.next.is_none(), "start after end is empty: {page:?}");
            ensure_eq!(tx.count(&scan).await?, 0, "count");
        }
    }
    Ok(())
}

pub(crate) async fn multi_entry_record_appears_per_entry(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let a = item("a", 1).with_entry("by_tag", ("x",)).with_entry("by_tag", ("y",)).with_entry("by_tag", ("z",));
    seed(&*s, ITEMS, vec![a, item("b", 2).with_entry("by_tag", ("y",))]).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let page = tx.scan(&Scan::index(ITEMS, "by_tag")).await?;
    let seen: Vec<(Tuple, Tuple, Option<i64>)> = page
        .entries
        .iter()
        .map(|e| Ok((e.key.clone(), e.id.clone(), e.record.as_ref().map(|r| n_of(&r.data)).transpose()?)))
        .collect::<Result<_, Failure>>()?;
    ensure_eq!(
        seen,
        vec![
            (t("x"), t("a"), Some(1)),
            (t("y"), t("a"), Some(1)),
            (t("y"), t("b"), Some(2)),
            (t("z"), t("a"), Some(1))
        ],
        "one entry per (key, record), each with its record"
    );
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_tag")).await?, 4, "count counts entries");
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_tag").prefix(("y",))).await?, 2, "count under a prefix");
    Ok(())
}

pub(crate) async fn ties_ordered_by_id(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let recs = ["c", "a", "b"].iter().map(|id| item(id, 0).with_entry("by_group", ("g", 1i64))).collect();
    seed(&*s, ITEMS, recs).await?;
    seed(
        &*s,
        ITEMS,
        vec![item("0", 0).with_entry("by_group", ("g", 2i64)), item("z", 0).with_entry("by_group", ("g", 0i64))],
    )
    .await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(
        ids(&mut *tx, &Scan::index(ITEMS, "by_group")).await?,
        ts(&["z", "a", "b", "c", "0"]),
        "by key, then id"
    );
    ensure_eq!(
        ids(&mut *tx, &Scan::index(ITEMS, "by_group").backward()).await?,
        ts(&["0", "c", "b", "a", "z"]),
        "backward: by key, then id, both descending"
    );
    Ok(())
}

pub(crate) async fn unknown_index(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let e =
        fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.scan(&Scan::index(ITEMS, "by_nothing")).await }))).await?;
    ensure!(matches!(&e, Error::UnknownIndex { index, .. } if index == "by_nothing"), "UnknownIndex: {e:?}");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    expect_err!(tx.count(&Scan::index(ITEMS, "by_nothing")).await, Error::UnknownIndex { .. });
    Ok(())
}

pub(crate) async fn prefix_wrong_type(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let e =
        fails_cleanly(&*s, op(|tx| Box::pin(async move { tx.scan(&Scan::primary(PAIRS).prefix(("a", "b"))).await })))
            .await?;
    ensure!(matches!(e, Error::KeyType { position: 1, .. }), "KeyType at 1: {e:?}");
    let e = fails_cleanly(
        &*s,
        op(|tx| Box::pin(async move { tx.scan(&Scan::index(ITEMS, "by_group").prefix((1i64,))).await })),
    )
    .await?;
    ensure!(matches!(e, Error::KeyType { position: 0, .. }), "KeyType at 0: {e:?}");
    Ok(())
}

pub(crate) async fn prefix_too_long(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| Box::pin(async move { tx.scan(&Scan::primary(PAIRS).prefix(("a", 1i64, 2i64))).await })),
    )
    .await?;
    ensure!(matches!(e, Error::Invalid { .. }), "Invalid: {e:?}");
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(
                async move { tx.scan(&Scan::primary(PAIRS).prefix(("a", 1i64)).range(inc(1), Bound::Unbounded)).await },
            )
        }),
    )
    .await?;
    ensure!(matches!(e, Error::Invalid { .. }), "a bound past the key's length is Invalid: {e:?}");
    Ok(())
}

pub(crate) async fn bound_wrong_type(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(async move {
                tx.scan(&Scan::primary(PAIRS).prefix(("a",)).range(Bound::Unbounded, Bound::Excluded(("x",).into())))
                    .await
            })
        }),
    )
    .await?;
    ensure!(matches!(e, Error::KeyType { position: 1, .. }), "KeyType at 1: {e:?}");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let bad = Scan::primary(PAIRS).range(Bound::Included((3i64,).into()), Bound::Unbounded);
    expect_err!(tx.count(&bad).await, Error::KeyType { position: 0, .. });
    Ok(())
}

pub(crate) async fn entries_carry_records(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_tag", ("x",))]).await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.update(ITEMS, 1, NewRecord::from_value(("a",), 3, &json!({"n": 5}))?.with_entry("by_tag", ("x",))).await?;
    tx.commit().await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let from_get = tx.get(ITEMS, &t("a")).await?;
    for scan in [Scan::primary(ITEMS), Scan::index(ITEMS, "by_tag")] {
        let page = tx.scan(&scan).await?;
        let r = page.entries.first().and_then(|e| e.record.clone());
        ensure_eq!(
            r.as_ref().map(|r| (r.version, r.schema_version)),
            Some((2, 3)),
            "envelope from {}",
            scan.index_name()
        );
        ensure_eq!(r.map(|r| n_of(&r.data)).transpose()?, Some(5), "data from {}", scan.index_name());
    }
    ensure_eq!(from_get.map(|r| r.version), Some(2), "get agrees");
    Ok(())
}

pub(crate) async fn sees_own_writes(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, ITEMS, vec![item("a", 1).with_entry("by_tag", ("x",)), item("c", 3).with_entry("by_tag", ("x",))])
        .await?;
    let mut tx = s.begin(TxMode::ReadWrite).await?;
    tx.insert(ITEMS, item("b", 2).with_entry("by_tag", ("x",))).await?;
    tx.delete(ITEMS, &t("c"), None).await?;
    tx.update(ITEMS, 1, item("a", 10).with_entry("by_tag", ("w",))).await?;
    ensure_eq!(ids(&mut *tx, &Scan::primary(ITEMS)).await?, ts(&["a", "b"]), "primary");
    ensure_eq!(scan_keys(&mut *tx, &Scan::index(ITEMS, "by_tag")).await?, ts(&["w", "x"]), "index keys");
    ensure_eq!(ids(&mut *tx, &Scan::index(ITEMS, "by_tag").backward()).await?, ts(&["b", "a"]), "index backward");
    ensure_eq!(tx.count(&Scan::index(ITEMS, "by_tag").prefix(("x",))).await?, 1, "count");
    Ok(())
}

pub(crate) async fn count_ignores_limit_and_cursor(s: Arc<dyn Store>) -> Outcome {
    seed_pairs(&s).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let c = tx.scan(&Scan::primary(PAIRS).limit(5)).await?.next;
    ensure_eq!(tx.count(&Scan::primary(PAIRS).limit(1).after(c)).await?, 12, "count of everything");
    ensure_eq!(tx.count(&Scan::primary(PAIRS).limit(0)).await?, 12, "a zero limit does not matter to count");
    ensure_eq!(tx.count(&Scan::primary(PAIRS).prefix(("a",)).range(exc(1), Bound::Unbounded)).await?, 3, "a range");
    Ok(())
}
