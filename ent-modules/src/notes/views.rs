//! The reading actions: a pupil's period, a parent's children, a teacher's grid, a class's averages.
//! Each reads a class's period in a handful of port operations (the evaluations are one index scan) and
//! computes with the pure engine of [`super::rules`]. Every staff read of a pupil's grades is audited.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use ent_core::directory::{Membership, SchoolYear, Subject, Unit, User, query};
use ent_core::module::{Action, Context};
use ent_core::rights::{PupilFacts, Relation, guard};
use ent_core::storage::{Element, Record, Scan, Tuple, TxExt, typed};
use ent_core::{ClassId, Error, Result, StructureId, SubjectId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::actions::PeriodView;
use super::hundredths::Hundredths;
use super::records::{Evaluation, EvaluationId, SubjectOptions};
use super::rules::{self, Entry, Exact, Kind, Mark, OptionalRule, Rounding, Status, SubjectAverage, SubjectMode};
use super::service::{self, UnitInfo, UnitRef};
use super::{CLASS_READ, READ};

/// A value as shown (rounded by the structure's setting) and exactly (a reduced fraction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Shown {
    /// Rounded for display: `"12.35"`.
    pub shown: String,
    /// Exact: `"2469/200"`.
    pub exact: String,
}

impl Shown {
    fn of(value: &Exact, rounding: Rounding) -> Shown {
        Shown { shown: rules::round(value, rounding), exact: rules::fraction(value) }
    }
}

/// Mean, lowest and highest of a class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatsView {
    /// The mean.
    pub mean: Shown,
    /// The lowest.
    pub min: Shown,
    /// The highest.
    pub max: Shown,
    /// How many values.
    pub count: usize,
}

impl StatsView {
    fn of(stats: Option<rules::Stats>, rounding: Rounding) -> Option<StatsView> {
        stats.map(|s| StatsView {
            mean: Shown::of(&s.mean, rounding),
            min: Shown::of(&s.min, rounding),
            max: Shown::of(&s.max, rounding),
            count: s.count,
        })
    }
}

/// A person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PersonView {
    /// The id.
    pub id: UserId,
    /// Given name then family name.
    pub name: String,
}

/// A subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubjectView {
    /// The id.
    pub id: SubjectId,
    /// The national code.
    pub code: String,
    /// The label.
    pub label: String,
}

/// A class or group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UnitView {
    /// Which.
    pub unit: UnitRef,
    /// Its name (`3A`).
    pub name: String,
}

/// A pupil's grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GradeView {
    /// The value, on the evaluation's scale.
    pub value: Option<Hundredths>,
    /// Or the status.
    pub status: Option<Status>,
    /// The teacher's comment.
    pub comment: Option<String>,
    /// Whether it counts in the average (an optional grade left out, a status left out, a bonus below half
    /// the scale do not).
    pub counted: bool,
}

fn grade_view(mark: Mark, comment: Option<String>, counted: bool) -> GradeView {
    let (value, status) = match mark {
        Mark::Value(v) => (Some(v), None),
        Mark::Status(s) => (None, Some(s)),
    };
    GradeView { value, status, comment, counted }
}

/// An evaluation's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EvaluationView {
    /// The id.
    pub id: EvaluationId,
    /// Its version (for updates).
    pub version: u64,
    /// The class or group.
    pub unit: UnitRef,
    /// The teacher.
    pub teacher: PersonView,
    /// Its day.
    pub date: NaiveDate,
    /// Its title.
    pub title: String,
    /// Noté sur.
    pub scale: u32,
    /// Its coefficient.
    pub coefficient: Hundredths,
    /// Ordinary, optional or bonus.
    pub kind: Kind,
    /// When pupils and parents see it.
    pub publish_at: DateTime<Utc>,
    /// Whether they do.
    pub published: bool,
    /// Statistics of its grades, on its scale (when the reader may see them).
    pub stats: Option<StatsView>,
}

/// What every reading action takes: a period of a school year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodRef {
    /// The school year (2026 for 2026–2027); the current one when absent.
    #[serde(default)]
    pub year: Option<i32>,
    /// The period: 1 to 3.
    #[schemars(range(min = 1, max = 3))]
    pub period: u8,
}

// ---------------------------------------------------------------------------------------------------------
// Reading helpers.

type Loaded = (Vec<Evaluation>, HashMap<EvaluationId, u64>);

async fn scan_evaluations(ctx: &mut Context<'_>, scan: Scan, into: &mut Loaded) -> Result<()> {
    let mut cursor = None;
    loop {
        let (page, next) = ctx.tx().scan_records::<Evaluation>(&scan.clone().limit(1000).after(cursor)).await?;
        for v in page {
            if into.1.insert(v.value.id, v.version).is_none() {
                into.0.push(v.value);
            }
        }
        match next {
            Some(n) => cursor = Some(n),
            None => return Ok(()),
        }
    }
}

/// The evaluations of a class's period (its own and its groups' that graded its pupils): one index scan.
async fn class_evaluations(
    ctx: &mut Context<'_>,
    class: ClassId,
    year: SchoolYear,
    period: u8,
    into: &mut Loaded,
) -> Result<()> {
    let scan = Scan::index(Evaluation::COLLECTION, "by_class").prefix((class.0, i64::from(year.0), i64::from(period)));
    scan_evaluations(ctx, scan, into).await
}

async fn unit_evaluations(
    ctx: &mut Context<'_>,
    unit: Unit,
    year: SchoolYear,
    period: u8,
    subject: Option<SubjectId>,
    into: &mut Loaded,
) -> Result<()> {
    let prefix: Tuple = match subject {
        Some(s) => (unit.uuid(), i64::from(year.0), i64::from(period), s.0).into(),
        None => (unit.uuid(), i64::from(year.0), i64::from(period)).into(),
    };
    scan_evaluations(ctx, Scan::index(Evaluation::COLLECTION, "by_unit").prefix(prefix), into).await
}

/// Names of people, by id; a person whose account was deleted shows as "—" (a class's grades outlive a
/// departed teacher's account).
async fn names(ctx: &mut Context<'_>, ids: impl IntoIterator<Item = UserId>) -> Result<HashMap<UserId, String>> {
    let mut ids: Vec<UserId> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    let keys: Vec<Tuple> = ids.iter().map(|id| (*id).into()).collect();
    let raws = ctx.tx().get_many(User::COLLECTION, &keys).await?;
    let mut out = HashMap::with_capacity(ids.len());
    for (id, raw) in ids.into_iter().zip(raws) {
        let name = match raw {
            Some(raw) => typed::from_raw::<User>(&raw)?.value.display_name(),
            None => "—".to_owned(),
        };
        out.insert(id, name);
    }
    Ok(out)
}

fn person(names: &HashMap<UserId, String>, id: UserId) -> PersonView {
    PersonView { id, name: names.get(&id).cloned().unwrap_or_else(|| "—".to_owned()) }
}

async fn subjects(
    ctx: &mut Context<'_>,
    ids: impl IntoIterator<Item = SubjectId>,
) -> Result<HashMap<SubjectId, SubjectView>> {
    let mut ids: Vec<SubjectId> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    let keys: Vec<Tuple> = ids.iter().map(|id| (*id).into()).collect();
    let raws = ctx.tx().get_many(Subject::COLLECTION, &keys).await?;
    let mut out = HashMap::with_capacity(ids.len());
    for (id, raw) in ids.into_iter().zip(raws) {
        let view = match raw {
            Some(raw) => {
                let s = typed::from_raw::<Subject>(&raw)?.value;
                SubjectView { id, code: s.code, label: s.label }
            }
            None => SubjectView { id, code: String::new(), label: id.to_string() },
        };
        out.insert(id, view);
    }
    Ok(out)
}

async fn subject_options(
    ctx: &mut Context<'_>,
    class: ClassId,
    year: SchoolYear,
    period: u8,
) -> Result<HashMap<SubjectId, SubjectOptions>> {
    let scan =
        Scan::primary(SubjectOptions::COLLECTION).prefix((class.0, i64::from(year.0), i64::from(period))).limit(1000);
    let (page, _) = ctx.tx().scan_records::<SubjectOptions>(&scan).await?;
    Ok(page.into_iter().map(|v| (v.value.subject, v.value)).collect())
}

fn options_of(
    all: &HashMap<SubjectId, SubjectOptions>,
    subject: SubjectId,
    class: Option<ClassId>,
    structure: StructureId,
    year: SchoolYear,
    period: u8,
) -> (Hundredths, SubjectMode) {
    match all.get(&subject) {
        Some(o) => (o.coefficient, o.mode),
        None => {
            let d = SubjectOptions::default_for(
                class.unwrap_or(ClassId(uuid::Uuid::nil())),
                structure,
                year,
                period,
                subject,
            );
            (d.coefficient, d.mode)
        }
    }
}

/// The pupils of a class or group, in name order.
async fn members(ctx: &mut Context<'_>, unit: Unit, year: SchoolYear) -> Result<Vec<User>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = query::members(ctx.tx(), unit, year, 1000, after).await?;
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

/// The ids of a class's pupils (one keys-only scan).
async fn member_ids(ctx: &mut Context<'_>, unit: Unit, year: SchoolYear) -> Result<Vec<UserId>> {
    let scan = Scan::primary(Membership::COLLECTION).prefix((unit.uuid(), i64::from(year.0))).limit(10_000).keys_only();
    let page = ctx.tx().scan(&scan).await?;
    Ok(page
        .entries
        .iter()
        .filter_map(|e| match e.id.elements().get(2) {
            Some(Element::Uuid(u)) => Some(UserId(*u)),
            _ => None,
        })
        .collect())
}

/// A pupil's entries in some evaluations, and the index of the evaluation of each entry.
fn entries_of(evaluations: &[&Evaluation], pupil: UserId) -> (Vec<Entry>, Vec<usize>) {
    let mut entries = Vec::new();
    let mut at = Vec::new();
    for (i, e) in evaluations.iter().enumerate() {
        if let Some(g) = e.grade_of(pupil) {
            entries.push(Entry::new(e.scale, e.coefficient, e.kind, g.mark));
            at.push(i);
        }
    }
    (entries, at)
}

fn average(
    evaluations: &[&Evaluation],
    pupil: UserId,
    mode: SubjectMode,
    rule: OptionalRule,
) -> (SubjectAverage, Vec<usize>) {
    let (entries, at) = entries_of(evaluations, pupil);
    (rules::subject_average(&entries, mode, rule), at)
}

fn evaluation_view(
    e: &Evaluation,
    version: u64,
    teachers: &HashMap<UserId, String>,
    stats: Option<StatsView>,
) -> EvaluationView {
    EvaluationView {
        id: e.id,
        version,
        unit: e.unit.into(),
        teacher: person(teachers, e.teacher),
        date: e.date,
        title: e.title.clone(),
        scale: e.scale,
        coefficient: e.coefficient,
        kind: e.kind,
        publish_at: e.publish_at,
        published: e.published,
        stats,
    }
}

fn sort_evaluations(evaluations: &mut [Evaluation]) {
    evaluations.sort_by_key(|e| (e.date, e.id));
}

// ---------------------------------------------------------------------------------------------------------
// A pupil's period.

/// One subject of a pupil's period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PupilSubject {
    /// The subject.
    pub subject: SubjectView,
    /// Its coefficient in the general average.
    pub coefficient: Hundredths,
    /// How its average is computed.
    pub mode: SubjectMode,
    /// Its evaluations, by date, with the pupil's grade.
    pub evaluations: Vec<PupilEvaluation>,
    /// The pupil's average (none when nothing counts).
    pub average: Option<Shown>,
    /// The class's statistics of the subject's averages (when the reader may see them).
    pub class: Option<StatsView>,
    /// The pupil's rank in the class (when the reader may see it).
    pub rank: Option<u32>,
}

/// An evaluation with the pupil's grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PupilEvaluation {
    /// The evaluation.
    pub evaluation: EvaluationView,
    /// The pupil's grade, if any.
    pub grade: Option<GradeView>,
}

/// A pupil's period: everything a page needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PupilPeriod {
    /// The pupil.
    pub pupil: PersonView,
    /// Their class.
    pub class: UnitView,
    /// The period.
    pub period: PeriodView,
    /// Whether only published evaluations are shown (the pupil and their parents).
    pub published_only: bool,
    /// The rounding applied to shown values.
    pub rounding: Rounding,
    /// The optional-grade rule in force.
    pub optional_rule: OptionalRule,
    /// Subjects, by label.
    pub subjects: Vec<PupilSubject>,
    /// The general average (not shown to a teacher who sees only their subjects).
    pub general: Option<Shown>,
    /// The class's statistics of general averages (when the reader may see them).
    pub general_class: Option<StatsView>,
    /// The pupil's general rank (when the reader may see it).
    pub rank: Option<u32>,
}

/// Input of `notes.pupil_period`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PupilPeriodInput {
    /// The pupil; the caller when absent.
    #[serde(default)]
    pub pupil: Option<UserId>,
    /// The school year; the current one when absent.
    #[serde(default)]
    pub year: Option<i32>,
    /// The period.
    #[schemars(range(min = 1, max = 3))]
    pub period: u8,
}

/// `notes.pupil_period`: a pupil's grades and averages for a period. The pupil and their parents see
/// published evaluations only; a teacher sees the subjects they teach the pupil; direction, vie scolaire
/// and the professeur principal see everything. Staff reads are audited.
pub struct PupilPeriodAction;

#[async_trait]
impl Action for PupilPeriodAction {
    type Input = PupilPeriodInput;
    type Output = PupilPeriod;
    const NAME: &'static str = "notes.pupil_period";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "A pupil's grades and averages for a period";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: PupilPeriodInput) -> Result<PupilPeriod> {
        let pupil = match input.pupil.or(ctx.caller().user_id()) {
            Some(p) => p,
            None => return Err(Error::invalid("pupil", "a system caller names the pupil")),
        };
        let relation = ctx.read_pupil(pupil, None).await?;
        pupil_period(ctx, pupil, relation, PeriodRef { year: input.year, period: input.period }).await
    }
}

async fn pupil_period(
    ctx: &mut Context<'_>,
    pupil: UserId,
    relation: Option<Relation>,
    at: PeriodRef,
) -> Result<PupilPeriod> {
    let year = service::year_or_current(ctx, at.year);
    let units: Vec<Unit> = query::units_of(ctx.tx(), pupil, year).await?.into_iter().map(|m| m.unit).collect();
    let Some(class) = units.iter().find_map(|u| match u {
        Unit::Class(c) => Some(*c),
        Unit::Group(_) => None,
    }) else {
        return Err(Error::not_found("class", format!("of pupil {pupil} in {year}")));
    };
    let info = service::load_unit(ctx, Unit::Class(class)).await?;
    let period = service::load_period(ctx, info.structure, year, at.period).await?;
    let options = service::options(ctx, info.structure).await?;
    let family = matches!(relation, Some(Relation::Own | Relation::Responsable));
    let subject_limited = matches!(relation, Some(Relation::Teacher { .. }));
    let rights = if subject_limited { Some(ctx.rights().await?) } else { None };

    let mut loaded: Loaded = (Vec::new(), HashMap::new());
    class_evaluations(ctx, class, year, at.period, &mut loaded).await?;
    for unit in &units {
        if let Unit::Group(_) = unit {
            unit_evaluations(ctx, *unit, year, at.period, None, &mut loaded).await?;
        }
    }
    let (mut evaluations, versions) = loaded;
    let my_units: HashSet<Unit> = units.iter().copied().collect();
    evaluations.retain(|e| {
        (!family || e.published)
            && rights.as_ref().is_none_or(|r| r.teaches(e.unit, e.subject) || r.teaches(Unit::Class(class), e.subject))
    });
    sort_evaluations(&mut evaluations);
    let stats_allowed = !family || options.class_stats_for_families;
    let rank_allowed = !family || options.show_rank;
    // The classmates' averages are computed only for statistics and ranks the reader may see.
    let classmates =
        if stats_allowed || rank_allowed { member_ids(ctx, Unit::Class(class), year).await? } else { vec![pupil] };
    let all_options = subject_options(ctx, class, year, at.period).await?;
    let subject_views = subjects(ctx, evaluations.iter().map(|e| e.subject)).await?;
    let people = names(ctx, evaluations.iter().map(|e| e.teacher).chain([pupil])).await?;

    let rounding = options.rounding;
    let rule = options.optional_rule;

    let mut by_subject: BTreeMap<SubjectId, Vec<&Evaluation>> = BTreeMap::new();
    for e in &evaluations {
        by_subject.entry(e.subject).or_default().push(e);
    }
    let mut lines = Vec::new();
    // Per classmate: their (coefficient, average) per subject, for the general statistics.
    let mut general_inputs: HashMap<UserId, Vec<(Hundredths, Option<Exact>)>> = HashMap::new();
    for (subject, evals) in &by_subject {
        let (coefficient, mode) = options_of(&all_options, *subject, Some(class), info.structure, year, at.period);
        // The pupil's own evaluations: those of their class and groups.
        let mine: Vec<&Evaluation> = evals.iter().copied().filter(|e| my_units.contains(&e.unit)).collect();
        let (own, at_eval) = average(&mine, pupil, mode, rule);
        let mut class_averages: Vec<(UserId, Option<Exact>)> = Vec::with_capacity(classmates.len());
        for &mate in &classmates {
            let value = if mate == pupil { own.value.clone() } else { average(evals, mate, mode, rule).0.value };
            general_inputs.entry(mate).or_default().push((coefficient, value.clone()));
            class_averages.push((mate, value));
        }
        let mut counted_of: HashMap<usize, bool> = HashMap::new();
        for (k, i) in at_eval.iter().enumerate() {
            counted_of.insert(*i, own.counted[k]);
        }
        let evaluations_view = mine
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let stats = stats_allowed
                    .then(|| StatsView::of(rules::evaluation_stats(e.grades.iter().map(|g| g.mark)), rounding))
                    .flatten();
                PupilEvaluation {
                    evaluation: evaluation_view(e, versions[&e.id], &people, stats),
                    grade: e
                        .grade_of(pupil)
                        .map(|g| grade_view(g.mark, g.comment.clone(), counted_of.get(&i).copied().unwrap_or(false))),
                }
            })
            .collect();
        let values: Vec<Option<&Exact>> = class_averages.iter().map(|(_, v)| v.as_ref()).collect();
        let rank = rank_allowed
            .then(|| {
                let ranks = rules::ranks(&values);
                class_averages.iter().position(|(m, _)| *m == pupil).and_then(|i| ranks[i])
            })
            .flatten();
        let class_stats =
            stats_allowed.then(|| StatsView::of(rules::stats(values.iter().flatten().copied()), rounding)).flatten();
        lines.push(PupilSubject {
            subject: subject_views[subject].clone(),
            coefficient,
            mode,
            evaluations: evaluations_view,
            average: own.value.as_ref().map(|v| Shown::of(v, rounding)),
            class: class_stats,
            rank,
        });
    }
    lines.sort_by(|a, b| (&a.subject.label, a.subject.id).cmp(&(&b.subject.label, b.subject.id)));

    let (mut general, mut general_class, mut rank) = (None, None, None);
    if !subject_limited {
        let generals: Vec<(UserId, Option<Exact>)> = classmates
            .iter()
            .map(|m| {
                let inputs = general_inputs.get(m).map(Vec::as_slice).unwrap_or(&[]);
                (*m, rules::general_average(inputs.iter().map(|(c, v)| (*c, v.as_ref()))))
            })
            .collect();
        let values: Vec<Option<&Exact>> = generals.iter().map(|(_, v)| v.as_ref()).collect();
        let mine = generals.iter().position(|(m, _)| *m == pupil);
        general = mine.and_then(|i| generals[i].1.as_ref()).map(|v| Shown::of(v, rounding));
        if stats_allowed {
            general_class = StatsView::of(rules::stats(values.iter().flatten().copied()), rounding);
        }
        if rank_allowed {
            rank = mine.and_then(|i| rules::ranks(&values)[i]);
        }
    }
    Ok(PupilPeriod {
        pupil: person(&people, pupil),
        class: UnitView { unit: UnitRef::Class(class), name: info.name },
        period: PeriodView::from(&period),
        published_only: family,
        rounding,
        optional_rule: rule,
        subjects: lines,
        general,
        general_class,
        rank,
    })
}

// ---------------------------------------------------------------------------------------------------------
// A parent's children.

/// One child's period, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChildPeriod {
    /// The child.
    pub child: UserId,
    /// Their period, when they have a class and their structure set the period.
    pub period: Option<PupilPeriod>,
    /// Why there is none.
    pub missing: Option<String>,
}

/// `notes.children_period`: a parent's view: each child they hold parental authority for, their period.
pub struct ChildrenPeriod;

#[async_trait]
impl Action for ChildrenPeriod {
    type Input = PeriodRef;
    type Output = Vec<ChildPeriod>;
    const NAME: &'static str = "notes.children_period";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "A parent's children's grades and averages for a period";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: PeriodRef) -> Result<Vec<ChildPeriod>> {
        let rights = ctx.rights().await?;
        let mut children: Vec<UserId> = rights.children().collect();
        children.sort();
        let mut out = Vec::with_capacity(children.len());
        for child in children {
            let relation = ctx.read_pupil(child, None).await?;
            match pupil_period(ctx, child, relation, input).await {
                Ok(period) => out.push(ChildPeriod { child, period: Some(period), missing: None }),
                Err(Error::NotFound { what, key }) => {
                    out.push(ChildPeriod { child, period: None, missing: Some(format!("no {what} {key}")) })
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------------------
// A teacher's grid.

/// Input of `notes.teacher_grid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TeacherGridInput {
    /// The class or group.
    pub unit: UnitRef,
    /// The subject.
    pub subject: SubjectId,
    /// The period.
    #[schemars(range(min = 1, max = 3))]
    pub period: u8,
}

/// A pupil's row of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GridRow {
    /// The pupil.
    pub pupil: PersonView,
    /// Their grade in each evaluation, in the grid's order.
    pub grades: Vec<Option<GradeView>>,
    /// Their average over these evaluations.
    pub average: Option<Shown>,
    /// Their rank.
    pub rank: Option<u32>,
}

/// A teacher's grid: a class or group, a subject, a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TeacherGrid {
    /// The class or group.
    pub unit: UnitView,
    /// The subject.
    pub subject: SubjectView,
    /// The period.
    pub period: PeriodView,
    /// How the averages are computed.
    pub mode: SubjectMode,
    /// The rounding of shown values.
    pub rounding: Rounding,
    /// The evaluations, by date, published or not, with their statistics.
    pub evaluations: Vec<EvaluationView>,
    /// The pupils, in name order.
    pub pupils: Vec<GridRow>,
    /// Statistics of the pupils' averages.
    pub class: Option<StatsView>,
}

/// `notes.teacher_grid`: the grades of a class or group in a subject for a period, for its teachers (and
/// the professeur principal, direction and vie scolaire). Every pupil read is audited.
pub struct TeacherGridAction;

#[async_trait]
impl Action for TeacherGridAction {
    type Input = TeacherGridInput;
    type Output = TeacherGrid;
    const NAME: &'static str = "notes.teacher_grid";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "The grades of a class or group in a subject for a period";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: TeacherGridInput) -> Result<TeacherGrid> {
        let info = service::load_unit(ctx, input.unit.into()).await?;
        if !ctx.caller().is_system() {
            let rights = ctx.rights().await?;
            let allowed = guard::can_teach(&rights, info.unit, input.subject)
                || rights.is_principal_of(info.unit)
                || guard::oversees(&rights, info.structure);
            if !allowed {
                return Err(Error::forbidden(format!("{READ} (teacher of this class or group in this subject)")));
            }
        }
        let period = service::load_period(ctx, info.structure, info.year, input.period).await?;
        let options = service::options(ctx, info.structure).await?;
        let pupils = members(ctx, info.unit, info.year).await?;
        audit_reads(ctx, &info, &pupils, Some(input.subject)).await?;
        let mut loaded: Loaded = (Vec::new(), HashMap::new());
        unit_evaluations(ctx, info.unit, info.year, input.period, Some(input.subject), &mut loaded).await?;
        let (mut evaluations, versions) = loaded;
        sort_evaluations(&mut evaluations);
        let mode = match info.unit {
            Unit::Class(c) => {
                let all = subject_options(ctx, c, info.year, input.period).await?;
                options_of(&all, input.subject, Some(c), info.structure, info.year, input.period).1
            }
            Unit::Group(_) => SubjectMode::Rescaled,
        };
        let subject = subjects(ctx, [input.subject]).await?.remove(&input.subject);
        let teachers = names(ctx, evaluations.iter().map(|e| e.teacher)).await?;
        let rounding = options.rounding;
        let refs: Vec<&Evaluation> = evaluations.iter().collect();
        let mut averages = Vec::with_capacity(pupils.len());
        let mut rows = Vec::with_capacity(pupils.len());
        for p in &pupils {
            let (avg, at) = average(&refs, p.id, mode, options.optional_rule);
            let mut grades: Vec<Option<GradeView>> = vec![None; refs.len()];
            for (k, i) in at.iter().enumerate() {
                let g = refs[*i].grade_of(p.id).expect("an entry comes from a grade");
                grades[*i] = Some(grade_view(g.mark, g.comment.clone(), avg.counted[k]));
            }
            rows.push(GridRow {
                pupil: PersonView { id: p.id, name: p.display_name() },
                grades,
                average: avg.value.as_ref().map(|v| Shown::of(v, rounding)),
                rank: None,
            });
            averages.push(avg.value);
        }
        let values: Vec<Option<&Exact>> = averages.iter().map(Option::as_ref).collect();
        for (row, rank) in rows.iter_mut().zip(rules::ranks(&values)) {
            row.rank = rank;
        }
        Ok(TeacherGrid {
            unit: UnitView { unit: info.unit.into(), name: info.name.clone() },
            subject: subject.unwrap_or(SubjectView {
                id: input.subject,
                code: String::new(),
                label: input.subject.to_string(),
            }),
            period: PeriodView::from(&period),
            mode,
            rounding,
            evaluations: evaluations
                .iter()
                .map(|e| {
                    let stats = StatsView::of(rules::evaluation_stats(e.grades.iter().map(|g| g.mark)), rounding);
                    evaluation_view(e, versions[&e.id], &teachers, stats)
                })
                .collect(),
            pupils: rows,
            class: StatsView::of(rules::stats(values.iter().flatten().copied()), rounding),
        })
    }
}

/// Checks the relation to every pupil of the unit and audits each staff read.
async fn audit_reads(
    ctx: &mut Context<'_>,
    info: &UnitInfo,
    pupils: &[User],
    subject: Option<SubjectId>,
) -> Result<()> {
    let facts: Vec<PupilFacts> = pupils
        .iter()
        .map(|p| PupilFacts { pupil: p.id, structures: vec![info.structure], units: vec![info.unit] })
        .collect();
    ctx.read_pupils(&facts, subject).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// A class's averages.

/// Input of `notes.class_averages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassAveragesInput {
    /// The class.
    pub class: ClassId,
    /// The period.
    #[schemars(range(min = 1, max = 3))]
    pub period: u8,
}

/// A subject column of the class table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClassSubject {
    /// The subject.
    pub subject: SubjectView,
    /// Its coefficient in the general average.
    pub coefficient: Hundredths,
    /// How its averages are computed.
    pub mode: SubjectMode,
    /// How many evaluations it had.
    pub evaluations: usize,
    /// Statistics of the pupils' averages.
    pub class: Option<StatsView>,
}

/// A pupil's row of the class table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClassRow {
    /// The pupil.
    pub pupil: PersonView,
    /// Their average per subject, in the table's order.
    pub averages: Vec<Option<Shown>>,
    /// Their general average.
    pub general: Option<Shown>,
    /// Their rank by general average.
    pub rank: Option<u32>,
}

/// A class's averages for a period: subjects × pupils.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClassAverages {
    /// The class.
    pub class: UnitView,
    /// The period.
    pub period: PeriodView,
    /// The rounding of shown values.
    pub rounding: Rounding,
    /// The subjects, by label.
    pub subjects: Vec<ClassSubject>,
    /// The pupils, in name order.
    pub pupils: Vec<ClassRow>,
    /// Statistics of the general averages.
    pub general: Option<StatsView>,
}

/// `notes.class_averages`: the averages of every pupil of a class in every subject for a period, with the
/// class's statistics: for direction (and the professeur principal). Every pupil read is audited.
pub struct ClassAveragesAction;

#[async_trait]
impl Action for ClassAveragesAction {
    type Input = ClassAveragesInput;
    type Output = ClassAverages;
    const NAME: &'static str = "notes.class_averages";
    const RIGHT: &'static str = CLASS_READ;
    const DESCRIPTION: &'static str = "A class's averages per subject and general for a period";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: ClassAveragesInput) -> Result<ClassAverages> {
        let info = service::load_unit(ctx, Unit::Class(input.class)).await?;
        if !ctx.caller().is_system() {
            let rights = ctx.rights().await?;
            if !(guard::oversees(&rights, info.structure) || rights.is_principal_of(info.unit)) {
                return Err(Error::forbidden(format!(
                    "{CLASS_READ} (direction of the structure or professeur principal)"
                )));
            }
        }
        let period = service::load_period(ctx, info.structure, info.year, input.period).await?;
        let options = service::options(ctx, info.structure).await?;
        let pupils = members(ctx, info.unit, info.year).await?;
        audit_reads(ctx, &info, &pupils, None).await?;
        let mut loaded: Loaded = (Vec::new(), HashMap::new());
        class_evaluations(ctx, input.class, info.year, input.period, &mut loaded).await?;
        let evaluations = loaded.0;
        let all_options = subject_options(ctx, input.class, info.year, input.period).await?;
        let subject_views = subjects(ctx, evaluations.iter().map(|e| e.subject)).await?;
        let computed = compute_class(
            &evaluations,
            &pupils.iter().map(|p| p.id).collect::<Vec<_>>(),
            |s| options_of(&all_options, s, Some(input.class), info.structure, info.year, input.period),
            options.optional_rule,
        );
        let rounding = options.rounding;
        let mut order: Vec<usize> = (0..computed.subjects.len()).collect();
        order.sort_by(|a, b| {
            let (sa, sb) = (&subject_views[&computed.subjects[*a].0], &subject_views[&computed.subjects[*b].0]);
            (&sa.label, sa.id).cmp(&(&sb.label, sb.id))
        });
        let subjects_out = order
            .iter()
            .map(|&i| {
                let (s, coefficient, mode, count) = computed.subjects[i];
                let values = computed.averages.iter().filter_map(|row| row[i].as_ref());
                ClassSubject {
                    subject: subject_views[&s].clone(),
                    coefficient,
                    mode,
                    evaluations: count,
                    class: StatsView::of(rules::stats(values), rounding),
                }
            })
            .collect();
        let generals: Vec<Option<&Exact>> = computed.generals.iter().map(Option::as_ref).collect();
        let ranks = rules::ranks(&generals);
        let rows = pupils
            .iter()
            .enumerate()
            .map(|(p, u)| ClassRow {
                pupil: PersonView { id: u.id, name: u.display_name() },
                averages: order
                    .iter()
                    .map(|&i| computed.averages[p][i].as_ref().map(|v| Shown::of(v, rounding)))
                    .collect(),
                general: computed.generals[p].as_ref().map(|v| Shown::of(v, rounding)),
                rank: ranks[p],
            })
            .collect();
        Ok(ClassAverages {
            class: UnitView { unit: UnitRef::Class(input.class), name: info.name.clone() },
            period: PeriodView::from(&period),
            rounding,
            subjects: subjects_out,
            pupils: rows,
            general: StatsView::of(rules::stats(generals.iter().flatten().copied()), rounding),
        })
    }
}

/// A class's exact averages: per subject (coefficient, mode, evaluation count), per pupil and subject,
/// and per pupil in general.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassComputation {
    /// The subjects: id, coefficient, mode, number of evaluations.
    pub subjects: Vec<(SubjectId, Hundredths, SubjectMode, usize)>,
    /// Per pupil (in the order given), per subject (in `subjects` order).
    pub averages: Vec<Vec<Option<Exact>>>,
    /// Per pupil, the general average.
    pub generals: Vec<Option<Exact>>,
}

/// Computes a class's averages from its evaluations (pure: what `notes.class_averages` and the benchmark
/// run after reading).
pub fn compute_class(
    evaluations: &[Evaluation],
    pupils: &[UserId],
    options: impl Fn(SubjectId) -> (Hundredths, SubjectMode),
    rule: OptionalRule,
) -> ClassComputation {
    let mut by_subject: BTreeMap<SubjectId, Vec<&Evaluation>> = BTreeMap::new();
    for e in evaluations {
        by_subject.entry(e.subject).or_default().push(e);
    }
    let subjects: Vec<(SubjectId, Hundredths, SubjectMode, usize)> = by_subject
        .iter()
        .map(|(s, evals)| {
            let (c, m) = options(*s);
            (*s, c, m, evals.len())
        })
        .collect();
    let mut averages = vec![Vec::with_capacity(subjects.len()); pupils.len()];
    let mut entries = Vec::new();
    for ((_, evals), (_, _, mode, _)) in by_subject.iter().zip(&subjects) {
        for (p, pupil) in pupils.iter().enumerate() {
            entries.clear();
            for e in evals {
                if let Some(g) = e.grade_of(*pupil) {
                    entries.push(Entry::new(e.scale, e.coefficient, e.kind, g.mark));
                }
            }
            averages[p].push(rules::subject_average(&entries, *mode, rule).value);
        }
    }
    let generals = averages
        .iter()
        .map(|row| rules::general_average(subjects.iter().zip(row).map(|((_, c, _, _), v)| (*c, v.as_ref()))))
        .collect();
    ClassComputation { subjects, averages, generals }
}

// ---------------------------------------------------------------------------------------------------------
// A teacher's classes.

/// Input of `notes.my_teachings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MyTeachingsInput {
    /// The school year; the current one when absent.
    #[serde(default)]
    pub year: Option<i32>,
}

/// A class or group and subject the caller teaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TeachingView {
    /// The class or group.
    pub unit: UnitView,
    /// The subject.
    pub subject: SubjectView,
    /// Professeur principal of the class.
    pub principal: bool,
}

/// `notes.my_teachings`: the classes and groups, with subjects, that the caller teaches in a year (what a
/// teacher's grade book opens on), by class name then subject label.
pub struct MyTeachings;

#[async_trait]
impl Action for MyTeachings {
    type Input = MyTeachingsInput;
    type Output = Vec<TeachingView>;
    const NAME: &'static str = "notes.my_teachings";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "The classes, groups and subjects the caller teaches";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: MyTeachingsInput) -> Result<Vec<TeachingView>> {
        let teacher = ctx.caller().user_id().ok_or_else(|| Error::invalid("caller", "a user's own teachings"))?;
        let year = service::year_or_current(ctx, input.year);
        let teachings = query::teachings_of(ctx.tx(), teacher, year).await?;
        let subject_views = subjects(ctx, teachings.iter().map(|t| t.subject)).await?;
        let mut units: Vec<Unit> = teachings.iter().map(|t| t.unit).collect();
        units.sort_by_key(|u| u.uuid());
        units.dedup();
        let mut unit_names: HashMap<Unit, String> = HashMap::with_capacity(units.len());
        for unit in units {
            let info = service::load_unit(ctx, unit).await?;
            unit_names.insert(unit, info.name);
        }
        let mut out: Vec<TeachingView> = teachings
            .iter()
            .map(|t| TeachingView {
                unit: UnitView { unit: t.unit.into(), name: unit_names[&t.unit].clone() },
                subject: subject_views[&t.subject].clone(),
                principal: t.principal,
            })
            .collect();
        out.sort_by(|a, b| (&a.unit.name, &a.subject.label).cmp(&(&b.unit.name, &b.subject.label)));
        Ok(out)
    }
}
