//! The engine's cases, one per rule and per combination that matters. Every expected value is worked out
//! by hand in the case's comment; `exact` is the reduced fraction, `shown` the display at the default
//! rounding (to 0.01, half up).

use proptest::prelude::*;

use super::*;

fn h(text: &str) -> Hundredths {
    text.parse().unwrap()
}

/// An entry: `value` is a decimal or a status code, `on` the scale, `c` the coefficient.
fn e(value: &str, on: u32, c: &str, kind: Kind) -> Entry {
    let mark = match Status::ALL.iter().find(|s| s.code() == value) {
        Some(s) => Mark::Status(*s),
        None => Mark::Value(h(value)),
    };
    Entry::new(on, h(c), kind, mark)
}

fn n(value: &str, on: u32, c: &str) -> Entry {
    e(value, on, c, Kind::Normal)
}

fn opt(value: &str, on: u32, c: &str) -> Entry {
    e(value, on, c, Kind::Optional)
}

fn bonus(value: &str, on: u32, c: &str) -> Entry {
    e(value, on, c, Kind::Bonus)
}

use Kind::*;
use OptionalRule::{NeverLower, Pronote};
use SubjectMode::{Points, Rescaled};

struct Case {
    name: &'static str,
    entries: Vec<Entry>,
    mode: SubjectMode,
    rule: OptionalRule,
    /// The exact average as a reduced fraction, or `None` for no average.
    exact: Option<&'static str>,
    /// Shown at the default rounding.
    shown: Option<&'static str>,
    /// Which entries counted.
    counted: Option<Vec<bool>>,
}

fn case(
    name: &'static str,
    entries: Vec<Entry>,
    mode: SubjectMode,
    rule: OptionalRule,
    exact: Option<&'static str>,
) -> Case {
    Case { name, entries, mode, rule, exact, shown: None, counted: None }
}

impl Case {
    fn shown(mut self, shown: &'static str) -> Case {
        self.shown = Some(shown);
        self
    }
    fn counted(mut self, counted: &[bool]) -> Case {
        self.counted = Some(counted.to_vec());
        self
    }
}

fn cases() -> Vec<Case> {
    vec![
        // 15/20, coefficient 1: 1·20·15/20 / 1 = 15.
        case("rescaled, one grade", vec![n("15", 20, "1")], Rescaled, NeverLower, Some("15")).shown("15.00"),
        // 15/20 and 6/10: 20·15/20 = 15 and 20·6/10 = 12; (15 + 12) / 2 = 27/2 = 13.5.
        case("rescaled, two scales", vec![n("15", 20, "1"), n("6", 10, "1")], Rescaled, NeverLower, Some("27/2"))
            .shown("13.50"),
        // 12/20 c2 and 18/20 c1: (2·12 + 1·18) / 3 = 42/3 = 14.
        case("rescaled, coefficients", vec![n("12", 20, "2"), n("18", 20, "1")], Rescaled, NeverLower, Some("14")),
        // 10/20 c0.5 and 16/20 c1.5: (0.5·10 + 1.5·16) / 2 = (5 + 24) / 2 = 29/2 = 14.5.
        case(
            "rescaled, decimal coefficients",
            vec![n("10", 20, "0.5"), n("16", 20, "1.5")],
            Rescaled,
            NeverLower,
            Some("29/2"),
        ),
        // 1/3 and 2/3 rescaled: 20/3 and 40/3; (20/3 + 40/3) / 2 = 10.
        case("rescaled, scale 3", vec![n("1", 3, "1"), n("2", 3, "1")], Rescaled, NeverLower, Some("10")),
        // 1/3 alone: 20/3 = 6.666... shown 6.67.
        case("rescaled, a third", vec![n("1", 3, "1")], Rescaled, NeverLower, Some("20/3")).shown("6.67"),
        // 12.25/20 and 13.5/20: (12.25 + 13.5) / 2 = 12.875 = 103/8, shown 12.88 (half up).
        case("decimal grades", vec![n("12.25", 20, "1"), n("13.5", 20, "1")], Rescaled, NeverLower, Some("103/8"))
            .shown("12.88"),
        // 12.34 and 12.35: mean 12.345 = 2469/200 exactly, shown 12.35. In binary floats (12.34 + 12.35) / 2
        // is 12.344999999999999 and would show 12.34.
        case(
            "12.345 shows 12.35",
            vec![n("12.34", 20, "1"), n("12.35", 20, "1")],
            Rescaled,
            NeverLower,
            Some("2469/200"),
        )
        .shown("12.35"),
        // Points: 15/20 and 6/10: 20·(15 + 6)/(20 + 10) = 20·21/30 = 14 (rescaled would give 13.5).
        case("points, two scales", vec![n("15", 20, "1"), n("6", 10, "1")], Points, NeverLower, Some("14")),
        // Points: 8/10 c2 and 30/40 c1: 20·(2·8 + 30)/(2·10 + 40) = 20·46/60 = 46/3 = 15.333..., shown 15.33.
        case("points, coefficients", vec![n("8", 10, "2"), n("30", 40, "1")], Points, NeverLower, Some("46/3"))
            .shown("15.33"),
        // Points: 15.5/20 c0.5: 20·7.75/10 = 15.5.
        case("points, decimal coefficient", vec![n("15.5", 20, "0.5")], Points, NeverLower, Some("31/2")),
        // Abs, Disp, NN, Inap, NR leave both sums: only 14/20 counts: 14.
        case(
            "excluded statuses",
            vec![
                n("14", 20, "1"),
                n("Abs", 20, "1"),
                n("Disp", 20, "1"),
                n("NN", 20, "1"),
                n("Inap", 20, "1"),
                n("NR", 20, "1"),
            ],
            Rescaled,
            NeverLower,
            Some("14"),
        )
        .counted(&[true, false, false, false, false, false]),
        // AbsZ counts as 0: (14 + 0) / 2 = 7.
        case("AbsZ counts 0", vec![n("14", 20, "1"), n("AbsZ", 20, "1")], Rescaled, NeverLower, Some("7")),
        // NRZ counts as 0, coefficient 3: (14 + 3·0) / 4 = 7/2.
        case("NRZ counts 0", vec![n("14", 20, "1"), n("NRZ", 20, "3")], Rescaled, NeverLower, Some("7/2")),
        // Points with AbsZ on 10: 20·(14 + 0)/(20 + 10) = 280/30 = 28/3.
        case("points, AbsZ", vec![n("14", 20, "1"), n("AbsZ", 10, "1")], Points, NeverLower, Some("28/3")),
        // Only excluded statuses: no average (not 0).
        case("only excluded statuses", vec![n("Abs", 20, "1"), n("Disp", 20, "2")], Rescaled, NeverLower, None),
        // Nothing at all: no average.
        case("no grade", vec![], Rescaled, NeverLower, None),
        // Total coefficient 0: no average, no division by zero.
        case("total coefficient 0", vec![n("15", 20, "0"), n("9", 20, "0")], Rescaled, NeverLower, None),
        case("total coefficient 0, points", vec![n("15", 20, "0")], Points, NeverLower, None),
        // A coefficient 0 grade weighs nothing: 10.
        case("coefficient 0 beside others", vec![n("15", 20, "0"), n("10", 20, "1")], Rescaled, NeverLower, Some("10")),
        // Pronote: ordinary 10; optional 14 > 10 counts: (10 + 14) / 2 = 12.
        case(
            "pronote, optional above counts",
            vec![n("10", 20, "1"), opt("14", 20, "1")],
            Rescaled,
            Pronote,
            Some("12"),
        )
        .counted(&[true, true]),
        // Pronote: ordinary 10; optional 8 < 10 does not count: 10.
        case(
            "pronote, optional below left out",
            vec![n("10", 20, "1"), opt("8", 20, "1")],
            Rescaled,
            Pronote,
            Some("10"),
        )
        .counted(&[true, false]),
        // Pronote: ordinary 12; optional 12 is not above 12: 12.
        case(
            "pronote, optional equal left out",
            vec![n("12", 20, "1"), opt("12", 20, "1")],
            Rescaled,
            Pronote,
            Some("12"),
        ),
        // Pronote lowers: ordinary 10; optional 18 and 11 are both above 10 and both count:
        // (10 + 18 + 11) / 3 = 13, while 18 alone would give (10 + 18) / 2 = 14.
        case(
            "pronote can lower the average",
            vec![n("10", 20, "1"), opt("18", 20, "1"), opt("11", 20, "1")],
            Rescaled,
            Pronote,
            Some("13"),
        )
        .counted(&[true, true, true]),
        // Never lower, same grades: 18 first: (10 + 18)/2 = 14 > 10, counted; then 11: (10 + 18 + 11)/3 = 13 < 14,
        // left out: 14.
        case(
            "never lower keeps only what raises",
            vec![n("10", 20, "1"), opt("11", 20, "1"), opt("18", 20, "1")],
            Rescaled,
            NeverLower,
            Some("14"),
        )
        .counted(&[true, false, true]),
        // Never lower: ordinary 12; optional 12 would leave 12: not a raise, left out.
        case(
            "never lower, equal left out",
            vec![n("12", 20, "1"), opt("12", 20, "1")],
            Rescaled,
            NeverLower,
            Some("12"),
        )
        .counted(&[true, false]),
        // Never lower: ordinary 12; optional 9 would lower: left out: 12.
        case(
            "never lower, lower left out",
            vec![n("12", 20, "1"), opt("9", 20, "1")],
            Rescaled,
            NeverLower,
            Some("12"),
        ),
        // Never lower with a coefficient: ordinary 12 c1; optional 13 c3: (12 + 39)/4 = 51/4 = 12.75 > 12: counted.
        case(
            "never lower, weighted optional",
            vec![n("12", 20, "1"), opt("13", 20, "3")],
            Rescaled,
            NeverLower,
            Some("51/4"),
        ),
        // Optional grades alone, never lower: 15 first (no average before: counted), then 9: (15 + 9)/2 = 12 < 15,
        // left out: 15.
        case(
            "never lower, optional alone",
            vec![opt("9", 20, "1"), opt("15", 20, "1")],
            Rescaled,
            NeverLower,
            Some("15"),
        )
        .counted(&[false, true]),
        // Optional grades alone, Pronote: no ordinary average to be above: both count: (9 + 15)/2 = 12.
        case("pronote, optional alone", vec![opt("9", 20, "1"), opt("15", 20, "1")], Rescaled, Pronote, Some("12")),
        // Never lower in points: ordinary 10/20 (10); optional 35/40: 20·(10 + 35)/(20 + 40) = 15 > 10: counted.
        case("never lower, points", vec![n("10", 20, "1"), opt("35", 40, "1")], Points, NeverLower, Some("15")),
        // Pronote in points: ordinary 10/20 and 4/10 → 20·14/30 = 28/3 ≈ 9.33; optional 9.5/20 (rescaled 9.5 > 9.33)
        // counts: 20·(14 + 9.5)/(30 + 20) = 20·23.5/50 = 47/5 = 9.4.
        case(
            "pronote, points",
            vec![n("10", 20, "1"), n("4", 10, "1"), opt("9.5", 20, "1")],
            Points,
            Pronote,
            Some("47/5"),
        ),
        // An optional AbsZ counts as 0 and never raises: 10. An optional Abs is simply left out.
        case(
            "optional AbsZ, never lower",
            vec![n("10", 20, "1"), opt("AbsZ", 20, "1"), opt("Abs", 20, "1")],
            Rescaled,
            NeverLower,
            Some("10"),
        ),
        // Pronote: an optional AbsZ (0) is not above 10: 10.
        case("optional AbsZ, pronote", vec![n("10", 20, "1"), opt("AbsZ", 20, "1")], Rescaled, Pronote, Some("10")),
        // Bonus: ordinary 12/20; bonus 16/20: 6 points above 10, rescaled to 20: 6, coefficient 1; numerator
        // 12 + 6 = 18, denominator 1: 18.
        case(
            "bonus adds the points above half",
            vec![n("12", 20, "1"), bonus("16", 20, "1")],
            Rescaled,
            NeverLower,
            Some("18"),
        )
        .counted(&[true, true]),
        // Bonus at or below half: nothing: 12.
        case(
            "bonus below half",
            vec![n("12", 20, "1"), bonus("8", 20, "1"), bonus("10", 20, "1")],
            Rescaled,
            NeverLower,
            Some("12"),
        )
        .counted(&[true, false, false]),
        // Bonus on 10, coefficient 2: ordinary 12/20 c2 and 10/20 c1: (24 + 10)/3 = 34/3. Bonus 8/10: 3 points
        // above 5, rescaled to 20: 6, times 2: 12 on the numerator: (34 + 12)/3 = 46/3 = 15.33.
        case(
            "bonus rescaled and weighted",
            vec![n("12", 20, "2"), n("10", 20, "1"), bonus("8", 10, "2")],
            Rescaled,
            NeverLower,
            Some("46/3"),
        )
        .shown("15.33"),
        // Bonus cap: 19 + (20 - 10) = 29, capped at 20.
        case("bonus capped at 20", vec![n("19", 20, "1"), bonus("20", 20, "1")], Rescaled, NeverLower, Some("20"))
            .shown("20.00"),
        // A bonus alone gives no average.
        case("bonus alone", vec![bonus("18", 20, "1")], Rescaled, NeverLower, None).counted(&[false]),
        // A bonus with only excluded statuses beside it: no average.
        case("bonus with only Abs", vec![n("Abs", 20, "1"), bonus("18", 20, "1")], Rescaled, NeverLower, None),
        // A bonus marked Abs adds nothing: 12.
        case("bonus Abs", vec![n("12", 20, "1"), bonus("Abs", 20, "1")], Rescaled, NeverLower, Some("12")),
        // Points with a bonus: 10/20 and 20/40: 20·30/60 = 10. Bonus 14/20: 4 points above 10, on the points
        // sum: 20·(30 + 4)/60 = 34/3 = 11.33 (in rescaled mode the same grades give (10 + 10 + 4)/2 = 12).
        case(
            "points, bonus",
            vec![n("10", 20, "1"), n("20", 40, "1"), bonus("14", 20, "1")],
            Points,
            NeverLower,
            Some("34/3"),
        )
        .shown("11.33"),
        case(
            "rescaled, same bonus",
            vec![n("10", 20, "1"), n("20", 40, "1"), bonus("14", 20, "1")],
            Rescaled,
            NeverLower,
            Some("12"),
        ),
        // Never lower sees the bonus: ordinary 10 with a bonus +10 shows 20 (capped). An optional 12 would give
        // (10 + 12 + 10)/2 = 16 < 20: left out: 20.
        case(
            "never lower judges the average as shown, bonus included",
            vec![n("10", 20, "1"), bonus("20", 20, "1"), opt("12", 20, "1")],
            Rescaled,
            NeverLower,
            Some("20"),
        )
        .counted(&[true, true, false]),
        // Pronote with a bonus: optional 12 > 10 counts: (10 + 12 + 10)/2 = 16.
        case(
            "pronote with a bonus",
            vec![n("10", 20, "1"), bonus("20", 20, "1"), opt("12", 20, "1")],
            Rescaled,
            Pronote,
            Some("16"),
        ),
        // Everything at once: ordinary 8/10 c1 (16 on 20) and 15/20 c2 (2·15 = 30); Abs left out; AbsZ on 20 c1
        // counts 0: numerator 46, Σc 4. Bonus 15/20 c1: 5 points above 10. Average as shown: (46 + 5)/4 = 12.75.
        // Optional 14/20 c1 (best first): (46 + 14 + 5)/5 = 13 > 12.75, counted; optional 12/20:
        // (60 + 12 + 5)/6 = 77/6 ≈ 12.83 < 13, left out. Result 13.
        case(
            "every rule at once",
            vec![
                n("8", 10, "1"),
                n("15", 20, "2"),
                n("Abs", 20, "1"),
                n("AbsZ", 20, "1"),
                opt("14", 20, "1"),
                opt("12", 20, "1"),
                bonus("15", 20, "1"),
            ],
            Rescaled,
            NeverLower,
            Some("13"),
        )
        .counted(&[true, true, false, true, true, false, true]),
    ]
}

#[test]
fn every_rule_by_hand() {
    for c in cases() {
        let got = subject_average(&c.entries, c.mode, c.rule);
        assert_eq!(got.value.as_ref().map(fraction).as_deref(), c.exact, "{}", c.name);
        if let Some(shown) = c.shown {
            assert_eq!(round(got.value.as_ref().unwrap(), Rounding::default()), shown, "{}", c.name);
        }
        if let Some(counted) = &c.counted {
            assert_eq!(&got.counted, counted, "{}", c.name);
        }
    }
}

fn q(text: &str) -> Exact {
    match text.split_once('/') {
        Some((a, b)) => Exact::new(a.parse().unwrap(), b.parse().unwrap()),
        None => Exact::from_integer(text.parse().unwrap()),
    }
}

#[test]
fn rounding_by_hand() {
    let r = |step, direction| Rounding { step, direction };
    use Direction::*;
    use Step::*;
    let cases = [
        // 12.345 to the hundredth, half up: 12.35; up: 12.35.
        ("2469/200", r(Hundredth, Nearest), "12.35"),
        ("2469/200", r(Hundredth, Up), "12.35"),
        // 12.344: nearest 12.34; up 12.35.
        ("1543/125", r(Hundredth, Nearest), "12.34"),
        ("1543/125", r(Hundredth, Up), "12.35"),
        // 12.301 to the tenth: nearest 12.3; up 12.4.
        ("12301/1000", r(Tenth, Nearest), "12.3"),
        ("12301/1000", r(Tenth, Up), "12.4"),
        // 12.25 to the half: 24.5 halves, half up: 25 halves = 12.5; up: 12.5.
        ("49/4", r(Half, Nearest), "12.5"),
        // 12.24: 24.48 halves: nearest 24 = 12.0; up 25 = 12.5.
        ("306/25", r(Half, Nearest), "12.0"),
        ("306/25", r(Half, Up), "12.5"),
        // 12.5 to the point: 13 (half up); 12.49: 12; 12.01 up: 13.
        ("25/2", r(Unit, Nearest), "13"),
        ("1249/100", r(Unit, Nearest), "12"),
        ("1201/100", r(Unit, Up), "13"),
        // Exact values stay: 20 and 0.
        ("20", r(Hundredth, Nearest), "20.00"),
        ("0", r(Hundredth, Up), "0.00"),
        // 2/3: 0.67 nearest, 0.67 up, 0.7 to the tenth.
        ("2/3", r(Hundredth, Nearest), "0.67"),
        ("2/3", r(Tenth, Nearest), "0.7"),
        // 46/3 = 15.333...: 15.33 nearest; 15.34 up; 15.5 to the half up; 15.0 to the half nearest.
        ("46/3", r(Hundredth, Nearest), "15.33"),
        ("46/3", r(Hundredth, Up), "15.34"),
        ("46/3", r(Half, Up), "15.5"),
        ("46/3", r(Half, Nearest), "15.5"),
        ("46/3", r(Unit, Nearest), "15"),
    ];
    for (value, rounding, shown) in cases {
        assert_eq!(round(&q(value), rounding), shown, "{value} {rounding:?}");
    }
}

#[test]
fn general_average_by_hand() {
    let s = |c: &str| h(c);
    // Maths 12 c3, French 15 c2, EPS without an average c1 (skipped): (36 + 30)/5 = 66/5 = 13.2.
    let (maths, french) = (q("12"), q("15"));
    let got = general_average([(s("3"), Some(&maths)), (s("2"), Some(&french)), (s("1"), None)]);
    assert_eq!(got.as_ref().map(fraction).as_deref(), Some("66/5"));
    // From the exact subject averages: 10.005 and 10.004 give 10.0045, shown 10.00; from the rounded ones
    // (10.01 and 10.00) it would be 10.005, shown 10.01.
    let (a, b) = (q("2001/200"), q("2501/250"));
    let got = general_average([(s("1"), Some(&a)), (s("1"), Some(&b))]).unwrap();
    assert_eq!(fraction(&got), "20009/2000");
    assert_eq!(round(&got, Rounding::default()), "10.00");
    // Decimal subject coefficients: 12 c0.5 and 18 c1.5: (6 + 27)/2 = 33/2.
    let (x, y) = (q("12"), q("18"));
    let got = general_average([(s("0.5"), Some(&x)), (s("1.5"), Some(&y))]);
    assert_eq!(got.as_ref().map(fraction).as_deref(), Some("33/2"));
    // A subject of coefficient 0 is skipped: 12.
    let got = general_average([(s("0"), Some(&y)), (s("2"), Some(&x))]);
    assert_eq!(got.as_ref().map(fraction).as_deref(), Some("12"));
    // Every coefficient 0, or no subject average: none.
    assert_eq!(general_average([(s("0"), Some(&x))]), None);
    assert_eq!(general_average([(s("2"), None)]), None);
    assert_eq!(general_average(std::iter::empty()), None);
}

#[test]
fn class_statistics_and_ranks_by_hand() {
    let (a, b, c, d) = (q("12"), q("15"), q("12"), q("9"));
    // Mean (12 + 15 + 12 + 9)/4 = 12, min 9, max 15.
    let s = stats([&a, &b, &c, &d]).unwrap();
    assert_eq!(
        (fraction(&s.mean), fraction(&s.min), fraction(&s.max), s.count),
        ("12".into(), "9".into(), "15".into(), 4)
    );
    assert_eq!(stats(std::iter::empty()), None);
    // 15 first; the two 12s share rank 2; 9 is 4th (rank 3 skipped); no average, no rank.
    assert_eq!(ranks(&[Some(&a), Some(&b), None, Some(&c), Some(&d)]), vec![Some(2), Some(1), None, Some(2), Some(4)]);
    // An evaluation's marks on its own scale: 14, Abs (left out), AbsZ (0), 17.5: (14 + 0 + 17.5)/3 = 10.5.
    let marks =
        [Mark::Value(h("14")), Mark::Status(Status::Absent), Mark::Status(Status::AbsentZero), Mark::Value(h("17.5"))];
    let s = evaluation_stats(marks).unwrap();
    assert_eq!(
        (fraction(&s.mean), fraction(&s.min), fraction(&s.max), s.count),
        ("21/2".into(), "0".into(), "35/2".into(), 3)
    );
}

#[test]
fn status_codes_are_the_national_ones() {
    let codes: Vec<&str> = Status::ALL.iter().map(|s| s.code()).collect();
    assert_eq!(codes, ["Abs", "Disp", "NN", "Inap", "NR", "AbsZ", "NRZ"]);
    for s in Status::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.code()));
    }
    assert!(serde_json::from_value::<Status>(serde_json::json!("Absent")).is_err());
}

fn arb_mark(scale: u32) -> impl Strategy<Value = Mark> {
    prop_oneof![
        4 => (0..=scale * 100).prop_map(|v| Mark::Value(Hundredths(v))),
        1 => proptest::sample::select(Status::ALL.to_vec()).prop_map(Mark::Status),
    ]
}

fn arb_entry(kinds: Vec<Kind>) -> impl Strategy<Value = Entry> {
    (1u32..=100, 0u32..=10_000, proptest::sample::select(kinds)).prop_flat_map(|(scale, c, kind)| {
        arb_mark(scale).prop_map(move |mark| Entry::new(scale, Hundredths(c), kind, mark))
    })
}

fn arb_mode() -> impl Strategy<Value = SubjectMode> {
    prop_oneof![Just(Rescaled), Just(Points)]
}

fn arb_rule() -> impl Strategy<Value = OptionalRule> {
    prop_oneof![Just(NeverLower), Just(Pronote)]
}

proptest! {
    /// Without bonuses, an average lies between the lowest and highest counted grades rescaled to 20.
    #[test]
    fn an_average_lies_between_the_counted_grades(
        entries in proptest::collection::vec(arb_entry(vec![Normal, Optional]), 0..25),
        mode in arb_mode(),
        rule in arb_rule(),
    ) {
        let got = subject_average(&entries, mode, rule);
        let counted: Vec<Exact> = entries.iter().zip(&got.counted).filter(|(_, c)| **c).filter_map(|(e, _)| e.on_20()).collect();
        match got.value {
            Some(v) => {
                let lowest = counted.iter().min().unwrap();
                let highest = counted.iter().max().unwrap();
                prop_assert!(lowest <= &v && &v <= highest, "{v} outside [{lowest}, {highest}]");
            }
            None => {
                // No average only when nothing with a coefficient counted.
                let weighed = entries.iter().zip(&got.counted).any(|(e, c)| *c && !e.coefficient.is_zero());
                prop_assert!(!weighed);
            }
        }
    }

    /// The never-lowering rule never lowers: the average with optional grades is at least the average
    /// without them (bonuses included).
    #[test]
    fn the_never_lowering_rule_never_lowers(
        entries in proptest::collection::vec(arb_entry(vec![Normal, Normal, Optional, Bonus]), 0..25),
        mode in arb_mode(),
    ) {
        let without: Vec<Entry> = entries.iter().copied().filter(|e| e.kind != Optional).collect();
        let base = subject_average(&without, mode, NeverLower).value;
        let with = subject_average(&entries, mode, NeverLower).value;
        if let Some(base) = base {
            let with = with.expect("optional grades never remove an average");
            prop_assert!(with >= base, "{with} < {base}");
        }
    }

    /// The order of entry changes nothing.
    #[test]
    fn entry_order_changes_nothing(
        entries in proptest::collection::vec(arb_entry(vec![Normal, Optional, Bonus]), 0..25),
        mode in arb_mode(),
        rule in arb_rule(),
        seed in any::<u64>(),
    ) {
        let mut shuffled = entries.clone();
        // A Fisher–Yates shuffle driven by the seed (a small LCG: the order only needs to vary).
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let j = (state >> 33) as usize % (i + 1);
            shuffled.swap(i, j);
        }
        prop_assert_eq!(subject_average(&entries, mode, rule).value, subject_average(&shuffled, mode, rule).value);
    }

    /// An average never exceeds 20, even with bonuses, and is never negative.
    #[test]
    fn an_average_stays_within_0_and_20(
        entries in proptest::collection::vec(arb_entry(vec![Normal, Optional, Bonus]), 0..25),
        mode in arb_mode(),
        rule in arb_rule(),
    ) {
        if let Some(v) = subject_average(&entries, mode, rule).value {
            prop_assert!(v >= Exact::zero() && v <= Exact::from_integer(20.into()));
        }
    }
}

/// Twenty-five grades on the twenty-five prime scales below 100: the least common multiple of the scales
/// (about 2.3·10^36) times 5·Σc overflows 128-bit integers, so the engine takes its big-rational path; the
/// result must be the same exact value: 1 point on each scale, rescaled: Σ 20/p, over 25.
#[test]
fn scales_whose_common_multiple_overflows_stay_exact() {
    let primes = [2u32, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97];
    let entries: Vec<Entry> = primes.iter().map(|&p| n("1", p, "1")).collect();
    let expected = primes.iter().fold(Exact::zero(), |acc, &p| acc + Exact::new(20.into(), p.into()))
        / Exact::from_integer(25.into());
    let got = subject_average(&entries, Rescaled, NeverLower).value.unwrap();
    assert_eq!(got, expected);
    // With an optional grade compared on that path: 1/2 rescaled is 10, far above the average: counted.
    let mut with_optional = entries;
    with_optional.push(opt("1", 2, "1"));
    let expected =
        (expected * Exact::from_integer(25.into()) + Exact::from_integer(10.into())) / Exact::from_integer(26.into());
    assert_eq!(subject_average(&with_optional, Rescaled, NeverLower).value.unwrap(), expected);
}

/// Values too large for 128-bit integers round through big rationals, with the same rules: 10 + 10^-39 is
/// 10.00 to the nearest hundredth and 10.01 up.
#[test]
fn rounding_of_huge_fractions() {
    let ten_and_a_bit = Exact::new(BigInt::from(10).pow(40u32) + 1, BigInt::from(10).pow(39u32));
    assert_eq!(round(&ten_and_a_bit, Rounding { step: Step::Hundredth, direction: Direction::Nearest }), "10.00");
    assert_eq!(round(&ten_and_a_bit, Rounding { step: Step::Hundredth, direction: Direction::Up }), "10.01");
    let stats = stats([&ten_and_a_bit, &q("12")]).unwrap();
    assert_eq!(stats.mean, (ten_and_a_bit + q("12")) / q("2"));
}

#[test]
fn marks_are_stored_as_one_string() {
    for (mark, text) in
        [(Mark::Value(h("12.5")), "12.5"), (Mark::Value(h("0")), "0"), (Mark::Status(Status::AbsentZero), "AbsZ")]
    {
        assert_eq!(serde_json::to_value(mark).unwrap(), serde_json::json!(text));
        assert_eq!(serde_json::from_value::<Mark>(serde_json::json!(text)).unwrap(), mark);
    }
    assert!(serde_json::from_value::<Mark>(serde_json::json!("Absent")).is_err());
    assert!(serde_json::from_value::<Mark>(serde_json::json!(12.5)).is_err());
}
