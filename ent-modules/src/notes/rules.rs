//! The averaging engine: pure functions, no I/O, exact arithmetic. The rules are those of DOMAIN.md
//! section 2 and are documented with worked examples in `docs/modules/notes.md`.
//!
//! Every value is exact: grades and coefficients are [`Hundredths`], sums of products are integers, and an
//! average is a rational number ([`Exact`], a big rational: no overflow, no binary float). Rounding happens
//! only in [`round`], for display; the general average is computed from the exact subject averages.
//!
//! The hot path (a class's period: thousands of grades) stays in integers: per subject, grades are summed
//! as `Σ C·N` per scale (C and N in hundredths) and only the final division builds a rational.
//!
//! ```
//! use ent_modules::notes::rules::*;
//! use ent_modules::notes::Hundredths;
//! let grade = |n: u32, d: u32| Entry::new(d, Hundredths::units(1), Kind::Normal, Mark::Value(Hundredths::units(n)));
//! // 15/20 and 6/10 rescaled to 20: (15 + 12) / 2 = 13.5.
//! let avg = subject_average(&[grade(15, 20), grade(6, 10)], SubjectMode::Rescaled, OptionalRule::NeverLower);
//! assert_eq!(round(avg.value.as_ref().unwrap(), Rounding::default()), "13.50");
//! ```

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, ToPrimitive, Zero};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::hundredths::Hundredths;

/// An exact rational number: every average and mean.
pub type Exact = BigRational;

/// A status given instead of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum Status {
    /// `Abs`: absent; left out of averages.
    #[serde(rename = "Abs")]
    Absent,
    /// `Disp`: dispensé (exempt); left out.
    #[serde(rename = "Disp")]
    Exempt,
    /// `NN`: non noté (not graded); left out.
    #[serde(rename = "NN")]
    NotGraded,
    /// `Inap`: inapte (unfit, physical education); left out.
    #[serde(rename = "Inap")]
    Unfit,
    /// `NR`: non rendu (not handed in); left out.
    #[serde(rename = "NR")]
    NotHandedIn,
    /// `AbsZ`: absent, counted as 0.
    #[serde(rename = "AbsZ")]
    AbsentZero,
    /// `NRZ`: not handed in, counted as 0.
    #[serde(rename = "NRZ")]
    NotHandedInZero,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 7] = [
        Status::Absent,
        Status::Exempt,
        Status::NotGraded,
        Status::Unfit,
        Status::NotHandedIn,
        Status::AbsentZero,
        Status::NotHandedInZero,
    ];

    /// Its code, as teachers type it (`Abs`, `AbsZ`...).
    pub fn code(self) -> &'static str {
        match self {
            Status::Absent => "Abs",
            Status::Exempt => "Disp",
            Status::NotGraded => "NN",
            Status::Unfit => "Inap",
            Status::NotHandedIn => "NR",
            Status::AbsentZero => "AbsZ",
            Status::NotHandedInZero => "NRZ",
        }
    }

    /// Whether it counts as a 0 (`AbsZ`, `NRZ`); every other status is left out of averages.
    pub fn counts_as_zero(self) -> bool {
        matches!(self, Status::AbsentZero | Status::NotHandedInZero)
    }
}

/// What a pupil got: a value on the scale, or a status. Stored as one string, `"12.5"` or `"Abs"`: a
/// class's 30 grades are decoded on every read of its period, so the record stays flat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mark {
    /// A value, between 0 and the scale.
    Value(Hundredths),
    /// A status.
    Status(Status),
}

impl std::str::FromStr for Mark {
    type Err = ent_core::Error;

    fn from_str(text: &str) -> ent_core::Result<Mark> {
        if text.starts_with(|c: char| c.is_ascii_digit()) {
            return text.parse().map(Mark::Value);
        }
        Status::ALL.iter().find(|s| s.code() == text).map(|s| Mark::Status(*s)).ok_or_else(|| {
            ent_core::Error::invalid(
                "mark",
                format!("`{text}` is neither a value nor a status (Abs, Disp, NN, Inap, NR, AbsZ, NRZ)"),
            )
        })
    }
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mark::Value(v) => write!(f, "{v}"),
            Mark::Status(s) => f.write_str(s.code()),
        }
    }
}

impl Serialize for Mark {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mark {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Mark;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value (\"12.5\") or a status code (\"Abs\")")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Mark, E> {
                v.parse().map_err(|e: ent_core::Error| E::custom(e.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for Mark {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Mark".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A value with at most two decimals (`\"12.5\"`) or a status code (`\"Abs\"`, `\"AbsZ\"`...)",
            "type": "string"
        })
    }
}

impl Mark {
    /// The value that counts, in hundredths on the evaluation's scale: the value, 0 for `AbsZ`/`NRZ`,
    /// nothing for the statuses left out.
    pub fn counted(self) -> Option<u32> {
        match self {
            Mark::Value(v) => Some(v.0),
            Mark::Status(s) if s.counts_as_zero() => Some(0),
            Mark::Status(_) => None,
        }
    }
}

/// How an evaluation counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An ordinary evaluation.
    #[default]
    Normal,
    /// Optional (facultative) *as a grade*: counted only under the structure's [`OptionalRule`].
    Optional,
    /// Optional *as a bonus*: only the points above half the scale count, added to the numerator.
    Bonus,
}

/// How a subject's average weighs its evaluations (a setting per subject).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectMode {
    /// Every grade rescaled to 20, weighted by its coefficient: `Σ(c·20·n/d) / Σc` (the default).
    #[default]
    Rescaled,
    /// Points: `20 · Σ(c·n) / Σ(c·d)`: a test's weight grows with its scale.
    Points,
}

/// Which optional grades count (a structure setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptionalRule {
    /// Optional grades taken from the best down, each counted only if it raises the running average: an
    /// optional grade never lowers an average (the default).
    #[default]
    NeverLower,
    /// Pronote's rule: an optional grade counts when it is above the average of the non-optional grades,
    /// which can lower the final average when several count.
    Pronote,
}

/// One evaluation's grade for a pupil, as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The scale (noté sur), 1 to 100.
    pub scale: u32,
    /// The evaluation's coefficient.
    pub coefficient: Hundredths,
    /// How it counts.
    pub kind: Kind,
    /// What the pupil got.
    pub mark: Mark,
}

impl Entry {
    /// An entry.
    pub fn new(scale: u32, coefficient: Hundredths, kind: Kind, mark: Mark) -> Entry {
        Entry { scale, coefficient, kind, mark }
    }

    /// The counted value rescaled to 20, if the mark counts.
    pub fn on_20(&self) -> Option<Exact> {
        self.mark.counted().map(|n| ratio(i128::from(n), 5 * i128::from(self.scale.max(1))))
    }
}

/// A subject average and which entries it counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectAverage {
    /// The average on 20, exact; `None` when nothing counts (no countable grade, or a total coefficient of
    /// 0): no average, never 0.
    pub value: Option<Exact>,
    /// Per entry, in the order given: whether it counted (an optional grade left out, a status left out, a
    /// bonus with no points above half the scale are `false`).
    pub counted: Vec<bool>,
}

fn ratio(n: i128, d: i128) -> Exact {
    Exact::new(BigInt::from(n), BigInt::from(d))
}

/// An average while it is being computed: a fraction of `i128`s whenever it fits (with realistic scales and
/// coefficients, always), a big rational otherwise. Comparisons cross-multiply, falling back to big
/// rationals on overflow; only the final value becomes an [`Exact`].
#[derive(Debug, Clone)]
enum Frac {
    /// numerator, denominator (> 0).
    Small(i128, i128),
    Big(Exact),
}

impl Frac {
    fn exact(&self) -> Exact {
        match self {
            Frac::Small(n, d) => ratio(*n, *d),
            Frac::Big(e) => e.clone(),
        }
    }

    fn cmp(&self, other: &Frac) -> std::cmp::Ordering {
        if let (Frac::Small(a, b), Frac::Small(c, d)) = (self, other)
            && let (Some(x), Some(y)) = (a.checked_mul(*d), c.checked_mul(*b))
        {
            return x.cmp(&y);
        }
        self.exact().cmp(&other.exact())
    }

    fn gt(&self, other: &Frac) -> bool {
        self.cmp(other) == std::cmp::Ordering::Greater
    }
}

const TWENTY: Frac = Frac::Small(20, 1);

/// A counted mark rescaled to 20: `N / (5·d)`.
fn on_20(n: u32, scale: u32) -> Frac {
    Frac::Small(i128::from(n), 5 * i128::from(scale.max(1)))
}

fn lcm(a: i128, b: i128) -> Option<i128> {
    (a / num_integer::Integer::gcd(&a, &b)).checked_mul(b)
}

/// `(n, d)` of an exact value when both fit in `i128`.
fn small(value: &Exact) -> Option<(i128, i128)> {
    Some((value.numer().to_i128()?, value.denom().to_i128()?))
}

/// `Σ w·v / Σ w`, exactly: over the least common multiple of the denominators in `i128` when it fits (one
/// reduction at the end), in big rationals otherwise. `None` when the weights sum to 0.
fn weighted_mean(items: &[(i128, &Exact)]) -> Option<Exact> {
    let weight: i128 = items.iter().map(|(w, _)| *w).sum();
    if weight == 0 {
        return None;
    }
    let fast = || -> Option<Exact> {
        let mut l: i128 = 1;
        for (_, v) in items {
            l = lcm(l, small(v)?.1)?;
        }
        let mut numerator: i128 = 0;
        for (w, v) in items {
            let (n, d) = small(v)?;
            numerator = numerator.checked_add(w.checked_mul(n)?.checked_mul(l / d)?)?;
        }
        Some(ratio(numerator, weight.checked_mul(l)?))
    };
    Some(fast().unwrap_or_else(|| {
        let sum = items.iter().fold(Exact::zero(), |acc, (w, v)| acc + *v * Exact::from_integer(BigInt::from(*w)));
        sum / Exact::from_integer(BigInt::from(weight))
    }))
}

/// The sums of a subject average, in integers. With C the coefficient and N the value in hundredths and d
/// the scale:
/// - rescaled: `avg = Σ(C·N/d) / (5·ΣC)`, kept as `Σ C·N` per scale and `ΣC`;
/// - points: `avg = Σ(C·N) / (5·Σ(C·d))`.
///
/// (From `Σ(c·20·n/d)/Σc` and `20·Σ(c·n)/Σ(c·d)` with `c = C/100`, `n = N/100`.)
#[derive(Debug, Clone, Default)]
struct Sums {
    points_mode: bool,
    /// Rescaled: `Σ C·N` per scale, in scale order. Points: one entry, scale 1, holding `Σ C·N`.
    by_scale: Vec<(u32, i128)>,
    /// Rescaled: `ΣC`; points: `Σ C·d`.
    weight: i128,
}

impl Sums {
    fn new(mode: SubjectMode) -> Sums {
        Sums { points_mode: mode == SubjectMode::Points, by_scale: Vec::new(), weight: 0 }
    }

    fn add_numerator(&mut self, scale: u32, amount: i128) {
        let scale = if self.points_mode { 1 } else { scale.max(1) };
        match self.by_scale.binary_search_by_key(&scale, |(d, _)| *d) {
            Ok(i) => self.by_scale[i].1 += amount,
            Err(i) => self.by_scale.insert(i, (scale, amount)),
        }
    }

    fn add_grade(&mut self, scale: u32, coefficient: Hundredths, value: u32) {
        let c = i128::from(coefficient.0);
        self.add_numerator(scale, c * i128::from(value));
        self.weight += if self.points_mode { c * i128::from(scale) } else { c };
    }

    /// A bonus: `C·(N − 50·d)` (its points above half the scale), numerator only.
    fn add_bonus(&mut self, scale: u32, coefficient: Hundredths, excess: u32) {
        self.add_numerator(scale, i128::from(coefficient.0) * i128::from(excess));
    }

    fn average(&self) -> Option<Frac> {
        if self.weight == 0 {
            return None;
        }
        // Over the least common multiple L of the scales: avg = Σ S_d·(L/d) / (5·W·L).
        let small = || -> Option<Frac> {
            let mut l: i128 = 1;
            for (d, _) in &self.by_scale {
                l = lcm(l, i128::from(*d))?;
            }
            let mut numerator: i128 = 0;
            for (d, s) in &self.by_scale {
                numerator = numerator.checked_add(s.checked_mul(l / i128::from(*d))?)?;
            }
            Some(Frac::Small(numerator, self.weight.checked_mul(5)?.checked_mul(l)?))
        };
        Some(small().unwrap_or_else(|| {
            let numerator = self.by_scale.iter().fold(Exact::zero(), |acc, (d, s)| acc + ratio(*s, i128::from(*d)));
            Frac::Big(numerator / Exact::from_integer(BigInt::from(5 * self.weight)))
        }))
    }
}

/// A pupil's average in one subject for a period, from the entries of the subject's evaluations.
///
/// 1. Ordinary grades: values and `AbsZ`/`NRZ` (as 0) count, other statuses are left out; weighted by
///    coefficient, rescaled to 20 or in points per `mode`.
/// 2. Optional grades, per `rule` (see [`OptionalRule`]).
/// 3. Bonuses: the points above half the scale, times the coefficient, on the numerator only (rescaled to
///    20 in rescaled mode, as points in points mode); only when steps 1–2 gave an average (a bonus alone
///    gives none); the result is capped at 20.
///
/// A total coefficient of 0 gives no average. The order of the entries changes nothing.
pub fn subject_average(entries: &[Entry], mode: SubjectMode, rule: OptionalRule) -> SubjectAverage {
    let mut sums = Sums::new(mode);
    let mut counted = vec![false; entries.len()];
    let mut optional: Vec<usize> = Vec::new();
    let mut bonuses: Vec<usize> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        match e.kind {
            Kind::Normal => {
                if let Some(n) = e.mark.counted() {
                    sums.add_grade(e.scale, e.coefficient, n);
                    counted[i] = true;
                }
            }
            Kind::Optional if e.mark.counted().is_some() => optional.push(i),
            Kind::Optional => {}
            Kind::Bonus => {
                let half = 50 * e.scale;
                if let Some(n) = e.mark.counted()
                    && n > half
                    && !e.coefficient.is_zero()
                {
                    bonuses.push(i);
                }
            }
        }
    }
    // The average with the bonuses added and the cap applied: what the pupil is shown.
    let finish = |sums: &Sums| -> Option<Frac> {
        sums.average()?;
        let mut with_bonus = sums.clone();
        for &i in &bonuses {
            let e = &entries[i];
            with_bonus.add_bonus(e.scale, e.coefficient, e.mark.counted().unwrap_or(0) - 50 * e.scale);
        }
        let value = with_bonus.average()?;
        Some(if value.gt(&TWENTY) { TWENTY } else { value })
    };
    match rule {
        _ if optional.is_empty() => {}
        OptionalRule::Pronote => {
            // Compared with the average of the ordinary grades alone, before any optional one counts.
            let base = sums.average();
            for &i in &optional {
                let e = &entries[i];
                let above = match &base {
                    None => true,
                    Some(b) => on_20(e.mark.counted().unwrap_or(0), e.scale).gt(b),
                };
                if above {
                    sums.add_grade(e.scale, e.coefficient, e.mark.counted().unwrap_or(0));
                    counted[i] = true;
                }
            }
        }
        OptionalRule::NeverLower => {
            // Best first; ties by coefficient (largest first), then scale, then position, so that the order
            // of entry never changes the average.
            let mut keyed: Vec<(usize, Frac)> = optional
                .iter()
                .map(|&i| (i, on_20(entries[i].mark.counted().unwrap_or(0), entries[i].scale)))
                .collect();
            keyed.sort_by(|(a, va), (b, vb)| {
                vb.cmp(va)
                    .then_with(|| entries[*b].coefficient.cmp(&entries[*a].coefficient))
                    .then_with(|| entries[*a].scale.cmp(&entries[*b].scale))
                    .then_with(|| a.cmp(b))
            });
            // "Raises" is judged on the average as shown (bonuses and cap included), so that an optional
            // grade never lowers what the pupil sees.
            let mut current = finish(&sums);
            for (i, _) in keyed {
                let e = &entries[i];
                let mut trial = sums.clone();
                trial.add_grade(e.scale, e.coefficient, e.mark.counted().unwrap_or(0));
                let after = finish(&trial);
                let raises = match (&current, &after) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(before), Some(after)) => after.gt(before),
                };
                if raises {
                    sums = trial;
                    current = after;
                    counted[i] = true;
                }
            }
        }
    }
    let value = finish(&sums).map(|v| v.exact());
    if value.is_some() {
        for &i in &bonuses {
            counted[i] = true;
        }
    }
    SubjectAverage { value, counted }
}

/// The general average: subject averages weighted by the subject coefficients of the class and period;
/// subjects without an average are skipped; a total coefficient of 0 gives none. Computed from the exact
/// subject averages, never from rounded ones.
pub fn general_average<'a>(subjects: impl IntoIterator<Item = (Hundredths, Option<&'a Exact>)>) -> Option<Exact> {
    let items: Vec<(i128, &Exact)> =
        subjects.into_iter().filter_map(|(c, v)| v.filter(|_| !c.is_zero()).map(|v| (i128::from(c.0), v))).collect();
    weighted_mean(&items)
}

/// Class statistics: the mean of the values, the lowest and the highest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The mean of the values.
    pub mean: Exact,
    /// The lowest.
    pub min: Exact,
    /// The highest.
    pub max: Exact,
    /// How many values.
    pub count: usize,
}

/// The statistics of some values (pupils' averages, or grades on an evaluation's scale); `None` when there
/// are none.
pub fn stats<'a>(values: impl IntoIterator<Item = &'a Exact>) -> Option<Stats> {
    let items: Vec<(i128, &Exact)> = values.into_iter().map(|v| (1, v)).collect();
    let mean = weighted_mean(&items)?;
    let (mut min, mut max) = (items[0].1, items[0].1);
    for (_, v) in &items[1..] {
        if *v < min {
            min = v;
        }
        if *v > max {
            max = v;
        }
    }
    Some(Stats { mean, min: min.clone(), max: max.clone(), count: items.len() })
}

/// The statistics of the counted marks of an evaluation, on its own scale (`AbsZ`/`NRZ` count as 0, the
/// other statuses are left out).
pub fn evaluation_stats(marks: impl IntoIterator<Item = Mark>) -> Option<Stats> {
    // In integer hundredths: one rational for the mean, none for the rest.
    let (mut sum, mut min, mut max, mut count) = (0u64, u32::MAX, 0u32, 0usize);
    for n in marks.into_iter().filter_map(Mark::counted) {
        sum += u64::from(n);
        min = min.min(n);
        max = max.max(n);
        count += 1;
    }
    (count > 0).then(|| Stats {
        mean: Exact::new(BigInt::from(sum), BigInt::from(100 * count as u64)),
        min: ratio(i128::from(min), 100),
        max: ratio(i128::from(max), 100),
        count,
    })
}

/// Ranks, highest first, ties sharing a rank and the next rank skipped (1, 2, 2, 4); `None` for no value.
pub fn ranks(values: &[Option<&Exact>]) -> Vec<Option<u32>> {
    let mut order: Vec<(usize, &Exact)> = values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
    order.sort_by(|(_, a), (_, b)| b.cmp(a));
    let mut out = vec![None; values.len()];
    let mut rank = 0u32;
    let mut previous: Option<&Exact> = None;
    for (position, (i, v)) in order.into_iter().enumerate() {
        if previous != Some(v) {
            rank = position as u32 + 1;
            previous = Some(v);
        }
        out[i] = Some(rank);
    }
    out
}

/// The rounding step for display (a structure setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum Step {
    /// To the hundredth: `12.35`.
    #[default]
    #[serde(rename = "0.01")]
    Hundredth,
    /// To the tenth: `12.4`.
    #[serde(rename = "0.1")]
    Tenth,
    /// To the half point: `12.5`.
    #[serde(rename = "0.5")]
    Half,
    /// To the point: `12`.
    #[serde(rename = "1")]
    Unit,
}

impl Step {
    fn hundredths(self) -> u32 {
        match self {
            Step::Hundredth => 1,
            Step::Tenth => 10,
            Step::Half => 50,
            Step::Unit => 100,
        }
    }

    fn decimals(self) -> u8 {
        match self {
            Step::Hundredth => 2,
            Step::Tenth | Step::Half => 1,
            Step::Unit => 0,
        }
    }
}

/// Which way to round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// To the nearest step, a half going up (12.345 to the hundredth is 12.35).
    #[default]
    Nearest,
    /// Up to the next step (12.301 to the tenth is 12.4).
    Up,
}

/// How averages are shown (a structure setting): applied only for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rounding {
    /// The step.
    pub step: Step,
    /// The direction.
    pub direction: Direction,
}

/// Rounds an exact non-negative value for display, as text with the step's decimals (`"12.35"`, `"12.5"`,
/// `"12"`). Exact: 12.345 to the hundredth is `"12.35"`, whatever the arithmetic that produced it.
pub fn round(value: &Exact, rounding: Rounding) -> String {
    round_hundredths(value, rounding).fixed(rounding.step.decimals())
}

/// Rounds to the step, as hundredths.
pub fn round_hundredths(value: &Exact, rounding: Rounding) -> Hundredths {
    let step = i128::from(rounding.step.hundredths());
    // In steps, value·100/step = 100·n / (step·d); nearest (half up): ⌊(200·n + step·d) / (2·step·d)⌋;
    // up: ⌈100·n / (step·d)⌉. Values are never negative.
    let fast = || -> Option<i128> {
        let (n, d) = small(value)?;
        let sd = step.checked_mul(d)?;
        Some(match rounding.direction {
            Direction::Nearest => n.checked_mul(200)?.checked_add(sd)? / sd.checked_mul(2)?,
            Direction::Up => (n.checked_mul(100)?.checked_add(sd - 1)?) / sd,
        })
    };
    let steps = fast().unwrap_or_else(|| {
        let scaled = value * Exact::new(BigInt::from(100), BigInt::from(step));
        let steps = match rounding.direction {
            Direction::Nearest => (scaled + Exact::new(BigInt::one(), BigInt::from(2))).floor(),
            Direction::Up => scaled.ceil(),
        };
        steps.to_integer().to_i128().unwrap_or(i128::MAX / step)
    });
    let steps = steps.max(0);
    Hundredths(u32::try_from(steps.saturating_mul(step)).unwrap_or(u32::MAX))
}

/// An exact value as a reduced fraction (`"247/20"`, `"13"`), for auditing and tests.
pub fn fraction(value: &Exact) -> String {
    if value.denom().is_one() { value.numer().to_string() } else { format!("{}/{}", value.numer(), value.denom()) }
}

#[cfg(test)]
mod tests;
