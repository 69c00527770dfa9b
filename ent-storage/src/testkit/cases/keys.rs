//! Key ordering, identical on every adapter: unicode by code point, mixed kinds, numbers, instants, nulls.

use chrono::{DateTime, TimeZone, Utc};
use ent_core::uuid::Uuid;

use super::prelude::*;
use crate::testkit::Failure;

/// Stores one record per key in `index` (ids `k0`, `k1`...) in the given order, and returns the keys the
/// index scan gives back, forward and backward.
async fn order_of(s: &Arc<dyn Store>, index: &str, keys: Vec<Tuple>) -> Result<(Vec<Tuple>, Vec<Tuple>), Failure> {
    setup(&**s).await?;
    let recs = keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| record((format!("k{i:03}"),), json!({})).with_entry(index, k))
        .collect();
    seed(&**s, KEYS, recs).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let fwd = all_keys(&mut *tx, &Scan::index(KEYS, index)).await?;
    let bwd = all_keys(&mut *tx, &Scan::index(KEYS, index).backward()).await?;
    Ok((fwd, bwd))
}

async fn all_keys(tx: &mut dyn Transaction, scan: &Scan) -> Result<Vec<Tuple>, Failure> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let p = tx.scan(&scan.clone().limit(3).after(cursor.clone())).await?;
        out.extend(p.entries.into_iter().map(|e| e.key));
        if !crate::testkit::check::advance(&mut cursor, p.next, out.len())? {
            return Ok(out);
        }
    }
}

/// Stores `expected` shuffled and checks the scan gives it back in order (and reversed backward).
async fn sorts_as(s: &Arc<dyn Store>, index: &str, expected: Vec<Tuple>) -> Outcome {
    let mut shuffled = expected.clone();
    // A fixed shuffle: reverse, then interleave halves.
    shuffled.reverse();
    let (a, b) = shuffled.split_at(shuffled.len() / 2);
    let mut mixed = Vec::new();
    for i in 0..a.len().max(b.len()) {
        mixed.extend(b.get(i).cloned());
        mixed.extend(a.get(i).cloned());
    }
    let (fwd, bwd) = order_of(s, index, mixed).await?;
    ensure_eq!(fwd, expected, "forward order of {index}");
    let mut reversed = expected;
    reversed.reverse();
    ensure_eq!(bwd, reversed, "backward order of {index}");
    Ok(())
}

fn strs(v: &[&str]) -> Vec<Tuple> {
    v.iter().map(|s| Tuple::from((*s,))).collect()
}

pub(crate) async fn unicode_by_code_point(s: Arc<dyn Store>) -> Outcome {
    // Code point order, no collation: uppercase before lowercase, "ea" before the combining form "e\u{301}",
    // "é" (U+00E9) after "z", CJK (U+4E2D) before U+FFFD before emoji (U+1F600).
    let expected = strs(&[
        "",
        "A",
        "Z",
        "a",
        "e",
        "ea",
        "e\u{301}",
        "z",
        "\u{e9}",
        "\u{153}",
        "\u{4e2d}",
        "\u{fffd}",
        "\u{1f600}",
        "\u{10ffff}",
    ]);
    sorts_as(&s, "by_str", expected).await
}

pub(crate) async fn strings_with_nul_bytes(s: Arc<dyn Store>) -> Outcome {
    sorts_as(&s, "by_str", strs(&["a", "a\0", "a\0\0", "a\0b", "a\u{1}", "ab"])).await
}

pub(crate) async fn unicode_round_trips(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let ids = ["élève", "Ünïcödé", "\u{1f469}\u{200d}\u{1f467}", "a\0b", "日本語", "e\u{301}"];
    let recs = ids.iter().map(|id| record((*id,), json!({ "name": id }))).collect();
    seed(&*s, KEYS, recs).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    for id in ids {
        let r = tx.get(KEYS, &t(id)).await?.ok_or_else(|| Failure::new(format!("{id:?} not found")))?;
        let v: serde_json::Value = serde_json::from_str(r.data.get()).map_err(|e| Failure::new(e.to_string()))?;
        ensure_eq!(v["name"].as_str(), Some(id), "data of {id:?}");
    }
    ensure!(tx.get(KEYS, &t("e\u{e9}")).await?.is_none(), "no normalization: precomposed é is another key");
    ensure!(tx.get(KEYS, &t("\u{e9}l\u{e8}ve")).await?.is_some(), "the same code points find the record");
    Ok(())
}

fn ts_utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, sec: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, sec).single().unwrap_or_default()
}

pub(crate) async fn mixed_kinds_in_any(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    // Kinds sort in the order of KeyKind: null, bytes, string, int, float, bool, uuid, timestamp.
    let expected: Vec<Tuple> = vec![
        Element::Null.into(),
        Element::Bytes(vec![]).into(),
        Element::Bytes(vec![0xff]).into(),
        Element::Str("".into()).into(),
        Element::Str("zzz".into()).into(),
        Element::Int(i64::MIN).into(),
        Element::Int(7).into(),
        Element::Float(f64::NEG_INFINITY).into(),
        Element::Float(-1.0).into(),
        Element::Bool(false).into(),
        Element::Bool(true).into(),
        Element::Uuid(Uuid::nil()).into(),
        Element::Uuid(Uuid::max()).into(),
        Element::Timestamp(ts_utc(1900, 1, 1, 0, 0, 0)).into(),
    ];
    let mut shuffled = expected.clone();
    shuffled.reverse();
    let recs = shuffled.into_iter().map(|k| record(k, json!({}))).collect();
    seed(&*s, KEYS, recs).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(all_ids(&mut *tx, &Scan::primary(KEYS), 4).await?, expected, "kinds sort by kind, then value");
    Ok(())
}

pub(crate) async fn any_prefix_selects_one_kind_range(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let keys: Vec<Tuple> = vec![(1i64,).into(), ("1",).into(), (1.0f64,).into(), (true,).into(), (2i64,).into()];
    seed(&*s, KEYS, keys.into_iter().map(|k| record(k, json!({}))).collect()).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    let ints = Scan::primary(KEYS).range(Bound::Included((i64::MIN,).into()), Bound::Included((i64::MAX,).into()));
    ensure_eq!(ids(&mut *tx, &ints).await?, vec![Tuple::from((1i64,)), Tuple::from((2i64,))], "only integers");
    ensure!(tx.get(KEYS, &Tuple::from((1.0f64,))).await?.is_some(), "1.0 is its own key");
    ensure!(tx.get(KEYS, &Tuple::from(("1",))).await?.is_some(), "\"1\" is its own key");
    Ok(())
}

pub(crate) async fn integers(s: Arc<dyn Store>) -> Outcome {
    let v = [i64::MIN, i64::MIN + 1, -1_000_000, -256, -255, -1, 0, 1, 255, 256, 1 << 40, i64::MAX - 1, i64::MAX];
    sorts_as(&s, "by_int", v.iter().map(|i| Tuple::from((*i,))).collect()).await
}

pub(crate) async fn floats(s: Arc<dyn Store>) -> Outcome {
    let v = [
        f64::NEG_INFINITY,
        f64::MIN,
        -1e10,
        -1.5,
        -f64::MIN_POSITIVE,
        0.0,
        5e-324,
        1e-300,
        1.0,
        2.5,
        f64::MAX,
        f64::INFINITY,
    ];
    sorts_as(&s, "by_float", v.iter().map(|f| Tuple::from((*f,))).collect()).await
}

pub(crate) async fn negative_zero_is_zero(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    seed(&*s, KEYS, vec![record(("z",), json!({})).with_entry("by_float", (0.0f64,))]).await?;
    let e = fails_cleanly(
        &*s,
        op(|tx| {
            Box::pin(
                async move { tx.insert(KEYS, record(("nz",), json!({})).with_entry("by_float", (-0.0f64,))).await },
            )
        }),
    )
    .await?;
    ensure!(matches!(&e, Error::Duplicate { index, .. } if index == "by_float"), "-0.0 and 0.0 are one key: {e:?}");
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(ids(&mut *tx, &Scan::index(KEYS, "by_float").prefix((-0.0f64,))).await?, ts(&["z"]), "-0.0 finds 0.0");
    seed(&*s, KEYS, vec![record((-0.0f64,), json!({}))]).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure!(tx.get(KEYS, &Tuple::from((0.0f64,))).await?.is_some(), "an id of -0.0 is read back as 0.0");
    Ok(())
}

pub(crate) async fn timestamps_before_and_after_1970(s: Arc<dyn Store>) -> Outcome {
    let micro = chrono::Duration::microseconds(1);
    let epoch = ts_utc(1970, 1, 1, 0, 0, 0);
    let v = vec![
        ts_utc(1, 1, 1, 0, 0, 0),
        ts_utc(1789, 7, 14, 10, 0, 0),
        ts_utc(1969, 12, 31, 23, 59, 59),
        epoch - micro,
        epoch,
        epoch + micro,
        ts_utc(2026, 9, 1, 8, 0, 0),
        ts_utc(9999, 12, 31, 23, 59, 59),
    ];
    sorts_as(&s, "by_time", v.into_iter().map(|d| Tuple::from((d,))).collect()).await
}

pub(crate) async fn timestamps_round_trip_to_the_microsecond(s: Arc<dyn Store>) -> Outcome {
    let d = ts_utc(1950, 6, 15, 12, 30, 0) + chrono::Duration::microseconds(123_456);
    let (fwd, _) = order_of(&s, "by_time", vec![Tuple::from((d,))]).await?;
    ensure_eq!(fwd, vec![Tuple::from((d,))], "the instant comes back exactly");
    Ok(())
}

pub(crate) async fn nulls_first(s: Arc<dyn Store>) -> Outcome {
    let v: Vec<Tuple> = vec![Element::Null.into(), ("",).into(), ("a",).into()];
    sorts_as(&s, "by_str", v).await?;
    Ok(())
}

pub(crate) async fn nulls_first_in_composite_keys(s: Arc<dyn Store>) -> Outcome {
    let v: Vec<Tuple> = vec![
        Tuple(vec![Element::Bool(false), Element::Null]),
        Tuple(vec![Element::Bool(false), Element::Int(-5)]),
        Tuple(vec![Element::Bool(true), Element::Null]),
        Tuple(vec![Element::Bool(true), Element::Int(0)]),
    ];
    sorts_as(&s, "by_bool", v).await
}

pub(crate) async fn bytes_bytewise(s: Arc<dyn Store>) -> Outcome {
    let v: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0, 0],
        vec![0, 1],
        vec![0, 0xff],
        vec![1],
        vec![0xfe, 0xff],
        vec![0xff],
        vec![0xff, 0],
    ];
    sorts_as(&s, "by_bytes", v.into_iter().map(|b| Tuple::from((b,))).collect()).await
}

pub(crate) async fn uuids_bytewise(s: Arc<dyn Store>) -> Outcome {
    let mut v: Vec<Uuid> =
        (0..6u128).map(|i| Uuid::from_u128(i.wrapping_mul(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef))).collect();
    v.push(Uuid::max());
    v.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    v.dedup();
    sorts_as(&s, "by_uuid", v.into_iter().map(|u| Tuple::from((u,))).collect()).await
}

pub(crate) async fn composite_prefix_sorts_first(s: Arc<dyn Store>) -> Outcome {
    setup(&*s).await?;
    let keys: Vec<Tuple> =
        vec![("a", -1i64).into(), ("a", 0i64).into(), ("a\0", i64::MIN).into(), ("ab", i64::MIN).into()];
    let mut shuffled = keys.clone();
    shuffled.reverse();
    seed(&*s, PAIRS, shuffled.into_iter().map(|k| record(k, json!({}))).collect()).await?;
    let mut tx = s.begin(TxMode::ReadOnly).await?;
    ensure_eq!(ids(&mut *tx, &Scan::primary(PAIRS)).await?, keys.clone(), "element by element");
    ensure_eq!(
        ids(&mut *tx, &Scan::primary(PAIRS).prefix(("a",))).await?,
        keys[..2].to_vec(),
        "prefix a excludes a\\0 and ab"
    );
    Ok(())
}
