//! The writing actions: evaluations, grades, subject options and periods. Every check happens before the
//! first write, and a failing call rolls back whole: a bad grade among thirty stores none of them.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use ent_core::directory::{Membership, Period, Structure, Subject, Unit, query};
use ent_core::module::{Action, Context};
use ent_core::rights::guard;
use ent_core::storage::{Record, Scan, Tuple, TxExt};
use ent_core::{ClassId, Error, Result, SubjectId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::hundredths::Hundredths;
use super::publish::{self, GradesPublished};
use super::records::{Evaluation, EvaluationId, Grade, SubjectOptions};
use super::rules::{Kind, Mark, Status, SubjectMode};
use super::service::{self, UnitRef};
use super::{MANAGE, WRITE};

/// The largest coefficient (of an evaluation or a subject).
pub const MAX_COEFFICIENT: Hundredths = Hundredths::units(100);
/// The largest scale.
pub const MAX_SCALE: u32 = 100;
/// The longest comment on a grade, in characters.
pub const MAX_COMMENT: usize = 500;

fn default_scale() -> u32 {
    20
}

fn default_coefficient() -> Hundredths {
    Hundredths::units(1)
}

fn check_scale(scale: u32) -> Result<()> {
    if !(1..=MAX_SCALE).contains(&scale) {
        return Err(Error::invalid("scale", format!("{scale}: a scale is between 1 and {MAX_SCALE}")));
    }
    Ok(())
}

fn check_coefficient(field: &str, c: Hundredths) -> Result<()> {
    if c > MAX_COEFFICIENT {
        return Err(Error::invalid(field, format!("{c}: a coefficient is between 0 and {MAX_COEFFICIENT}")));
    }
    Ok(())
}

fn check_title(title: &str) -> Result<String> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(Error::invalid("title", "a title has 1 to 200 characters"));
    }
    Ok(title.to_owned())
}

/// The caller must teach `subject` to `unit` this year.
async fn check_teaches(ctx: &mut Context<'_>, unit: Unit, subject: SubjectId) -> Result<()> {
    let rights = ctx.rights().await?;
    if !guard::can_teach(&rights, unit, subject) {
        return Err(Error::forbidden(format!("{WRITE} (teacher of this class or group in this subject)")));
    }
    Ok(())
}

/// What a write returns about an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvaluationWritten {
    /// The evaluation.
    pub id: EvaluationId,
    /// Its new version (pass it to `notes.update_evaluation` and `notes.delete_evaluation`).
    pub version: u64,
    /// Whether pupils and parents see it.
    pub published: bool,
    /// When they will (or did).
    pub publish_at: DateTime<Utc>,
}

/// Input of `notes.create_evaluation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEvaluationInput {
    /// The class or group evaluated.
    pub unit: UnitRef,
    /// The subject.
    pub subject: SubjectId,
    /// The period (1 to 3), of the class's school year.
    #[schemars(range(min = 1, max = 3))]
    pub period: u8,
    /// The day it took place (within the period).
    pub date: NaiveDate,
    /// Its title.
    #[schemars(length(min = 1, max = 200))]
    pub title: String,
    /// Noté sur: 1 to 100 (20 by default).
    #[serde(default = "default_scale")]
    pub scale: u32,
    /// Coefficient: 0 to 100, decimals allowed (1 by default).
    #[serde(default = "default_coefficient")]
    pub coefficient: Hundredths,
    /// Ordinary (default), optional or bonus.
    #[serde(default)]
    pub kind: Kind,
    /// From when pupils and parents see it: now when absent.
    #[serde(default)]
    pub publish_at: Option<DateTime<Utc>>,
}

/// `notes.create_evaluation`: a teacher creates an evaluation for a class or group they teach the subject to.
pub struct CreateEvaluation;

#[async_trait]
impl Action for CreateEvaluation {
    type Input = CreateEvaluationInput;
    type Output = EvaluationWritten;
    const NAME: &'static str = "notes.create_evaluation";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Create an evaluation (devoir) for a class or group and subject one teaches";

    async fn run(&self, ctx: &mut Context<'_>, input: CreateEvaluationInput) -> Result<EvaluationWritten> {
        let teacher = ctx.caller().user_id().ok_or_else(|| Error::forbidden(WRITE))?;
        let title = check_title(&input.title)?;
        check_scale(input.scale)?;
        check_coefficient("coefficient", input.coefficient)?;
        let unit = service::load_unit(ctx, input.unit.into()).await?;
        check_teaches(ctx, unit.unit, input.subject).await?;
        let period = service::load_period(ctx, unit.structure, unit.year, input.period).await?;
        service::check_open(&period)?;
        service::check_date(&period, input.date)?;
        let now = ctx.now();
        let mut evaluation = Evaluation {
            id: EvaluationId::new(),
            structure: unit.structure,
            year: unit.year,
            period: input.period,
            unit: unit.unit,
            subject: input.subject,
            teacher,
            date: input.date,
            title,
            scale: input.scale,
            coefficient: input.coefficient,
            kind: input.kind,
            publish_at: input.publish_at.unwrap_or(now),
            published: false,
            classes: match unit.unit {
                Unit::Class(c) => vec![c],
                Unit::Group(_) => Vec::new(),
            },
            grades: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        publish::publish_or_schedule(ctx, &mut evaluation).await?;
        let version = ctx.tx().insert_record(&evaluation).await?;
        Ok(EvaluationWritten {
            id: evaluation.id,
            version,
            published: evaluation.published,
            publish_at: evaluation.publish_at,
        })
    }
}

/// Input of `notes.update_evaluation`: the fields to change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEvaluationInput {
    /// The evaluation.
    pub evaluation: EvaluationId,
    /// The version read: a stale one is refused.
    pub version: u64,
    /// A new title.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub title: Option<String>,
    /// A new date (within the period).
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// A new scale: every grade already given must fit in it.
    #[serde(default)]
    pub scale: Option<u32>,
    /// A new coefficient.
    #[serde(default)]
    pub coefficient: Option<Hundredths>,
    /// A new kind.
    #[serde(default)]
    pub kind: Option<Kind>,
    /// A new publication date (an evaluation already published stays published).
    #[serde(default)]
    pub publish_at: Option<DateTime<Utc>>,
}

/// `notes.update_evaluation`: its teachers change an evaluation.
pub struct UpdateEvaluation;

#[async_trait]
impl Action for UpdateEvaluation {
    type Input = UpdateEvaluationInput;
    type Output = EvaluationWritten;
    const NAME: &'static str = "notes.update_evaluation";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str =
        "Change an evaluation's title, date, scale, coefficient, kind or publication date";

    async fn run(&self, ctx: &mut Context<'_>, input: UpdateEvaluationInput) -> Result<EvaluationWritten> {
        let found = ctx.tx().fetch_record::<Evaluation>(input.evaluation).await?;
        let mut e = found.value;
        check_teaches(ctx, e.unit, e.subject).await?;
        let period = service::load_period(ctx, e.structure, e.year, e.period).await?;
        service::check_open(&period)?;
        if let Some(title) = &input.title {
            e.title = check_title(title)?;
        }
        if let Some(date) = input.date {
            service::check_date(&period, date)?;
            e.date = date;
        }
        if let Some(scale) = input.scale {
            check_scale(scale)?;
            if let Some(g) = e.grades.iter().find(|g| matches!(g.mark, Mark::Value(v) if v > Hundredths::units(scale)))
            {
                return Err(Error::invalid(
                    "scale",
                    format!("pupil {} has a grade above {scale}: change it first", g.pupil),
                ));
            }
            e.scale = scale;
        }
        if let Some(c) = input.coefficient {
            check_coefficient("coefficient", c)?;
            e.coefficient = c;
        }
        if let Some(kind) = input.kind {
            e.kind = kind;
        }
        let moved = input.publish_at.filter(|at| *at != e.publish_at);
        if let Some(at) = moved {
            e.publish_at = at;
        }
        e.updated_at = ctx.now();
        if moved.is_some() {
            publish::publish_or_schedule(ctx, &mut e).await?;
        }
        let version = ctx.tx().update_record(input.version, &e).await?;
        Ok(EvaluationWritten { id: e.id, version, published: e.published, publish_at: e.publish_at })
    }
}

/// Input of `notes.delete_evaluation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteEvaluationInput {
    /// The evaluation.
    pub evaluation: EvaluationId,
    /// The version read: a stale one is refused.
    pub version: u64,
}

/// `notes.delete_evaluation`: its teachers delete an evaluation and its grades.
pub struct DeleteEvaluation;

#[async_trait]
impl Action for DeleteEvaluation {
    type Input = DeleteEvaluationInput;
    type Output = bool;
    const NAME: &'static str = "notes.delete_evaluation";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Delete an evaluation and its grades";

    async fn run(&self, ctx: &mut Context<'_>, input: DeleteEvaluationInput) -> Result<bool> {
        let e = ctx.tx().fetch_record::<Evaluation>(input.evaluation).await?.value;
        check_teaches(ctx, e.unit, e.subject).await?;
        let period = service::load_period(ctx, e.structure, e.year, e.period).await?;
        service::check_open(&period)?;
        ctx.tx().delete_record::<Evaluation>(e.id, Some(input.version)).await
    }
}

/// One grade to write. A value or a status; neither removes the pupil's grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeInput {
    /// The pupil (a member of the evaluation's class or group).
    pub pupil: UserId,
    /// A value between 0 and the scale, at most two decimals.
    #[serde(default)]
    pub value: Option<Hundredths>,
    /// A status instead of a value: `Abs`, `Disp`, `NN`, `Inap`, `NR` (left out of averages), `AbsZ`,
    /// `NRZ` (counted as 0).
    #[serde(default)]
    pub status: Option<Status>,
    /// A comment (500 characters at most).
    #[serde(default)]
    pub comment: Option<String>,
}

/// Input of `notes.record_grades`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordGradesInput {
    /// The evaluation.
    pub evaluation: EvaluationId,
    /// One grade, or the whole class's.
    #[schemars(length(min = 1, max = 1000))]
    pub grades: Vec<GradeInput>,
}

/// Output of `notes.record_grades`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecordGradesOutput {
    /// The evaluation.
    pub evaluation: EvaluationId,
    /// Its new version.
    pub version: u64,
    /// Grades written (new or changed).
    pub written: usize,
    /// Grades removed.
    pub removed: usize,
}

/// `notes.record_grades`: a teacher of the class and subject writes grades, one or the whole class's.
pub struct RecordGrades;

#[async_trait]
impl Action for RecordGrades {
    type Input = RecordGradesInput;
    type Output = RecordGradesOutput;
    const NAME: &'static str = "notes.record_grades";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Write grades of an evaluation: one pupil's or the whole class's, in one call";

    async fn run(&self, ctx: &mut Context<'_>, input: RecordGradesInput) -> Result<RecordGradesOutput> {
        let found = ctx.tx().fetch_record::<Evaluation>(input.evaluation).await?;
        let mut e = found.value;
        check_teaches(ctx, e.unit, e.subject).await?;
        let period = service::load_period(ctx, e.structure, e.year, e.period).await?;
        service::check_open(&period)?;
        // Every input is checked before anything changes.
        let mut marks: Vec<(UserId, Option<Mark>, Option<String>)> = Vec::with_capacity(input.grades.len());
        for (i, g) in input.grades.iter().enumerate() {
            let field = |name: &str| format!("grades/{i}/{name}");
            if input.grades[..i].iter().any(|other| other.pupil == g.pupil) {
                return Err(Error::invalid(field("pupil"), format!("pupil {} appears twice", g.pupil)));
            }
            let mark = match (g.value, g.status) {
                (Some(_), Some(_)) => {
                    return Err(Error::invalid(field("status"), "a grade is a value or a status, not both"));
                }
                (Some(v), None) => {
                    if v > Hundredths::units(e.scale) {
                        return Err(Error::invalid(field("value"), format!("{v} is above the scale ({})", e.scale)));
                    }
                    Some(Mark::Value(v))
                }
                (None, Some(s)) => Some(Mark::Status(s)),
                (None, None) => None,
            };
            let comment = match g.comment.as_deref().map(str::trim) {
                Some("") | None => None,
                Some(c) if c.chars().count() > MAX_COMMENT => {
                    return Err(Error::invalid(field("comment"), format!("{MAX_COMMENT} characters at most")));
                }
                Some(c) => Some(c.to_owned()),
            };
            if mark.is_none() && comment.is_some() {
                return Err(Error::invalid(field("comment"), "a comment goes with a value or a status"));
            }
            marks.push((g.pupil, mark, comment));
        }
        let keys: Vec<Tuple> = marks.iter().map(|(p, _, _)| (e.unit.uuid(), i64::from(e.year.0), p.0).into()).collect();
        let members = ctx.tx().get_many(Membership::COLLECTION, &keys).await?;
        if let Some(i) = members.iter().position(Option::is_none) {
            return Err(Error::invalid(
                format!("grades/{i}/pupil"),
                format!("{} is not a pupil of this class or group in {}", marks[i].0, e.year),
            ));
        }
        let now = ctx.now();
        let (mut written, mut removed, mut shown) = (0, 0, Vec::new());
        for (pupil, mark, comment) in marks {
            let at = e.grades.binary_search_by_key(&pupil, |g| g.pupil);
            match (at, mark) {
                (Ok(i), None) => {
                    e.grades.remove(i);
                    removed += 1;
                }
                (Err(_), None) => {}
                (Ok(i), Some(mark)) => {
                    let g = &mut e.grades[i];
                    if g.mark != mark || g.comment != comment {
                        *g = Grade { pupil, mark, comment };
                        written += 1;
                        shown.push(pupil);
                    }
                }
                (Err(i), Some(mark)) => {
                    e.grades.insert(i, Grade { pupil, mark, comment });
                    written += 1;
                    shown.push(pupil);
                }
            }
        }
        if let Unit::Group(_) = e.unit {
            // A group's evaluation is indexed under the classes of its graded pupils.
            for pupil in &shown {
                for m in query::units_of(ctx.tx(), *pupil, e.year).await? {
                    if let Unit::Class(c) = m.unit
                        && !e.classes.contains(&c)
                    {
                        e.classes.push(c);
                    }
                }
            }
        }
        e.updated_at = now;
        let version = ctx.tx().update_record(found.version, &e).await?;
        if e.published && !shown.is_empty() {
            ctx.emit(&GradesPublished::of(&e, shown)).await?;
        }
        Ok(RecordGradesOutput { evaluation: e.id, version, written, removed })
    }
}

/// Input of `notes.set_subject_options`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSubjectOptionsInput {
    /// The class.
    pub class: ClassId,
    /// The period.
    #[schemars(range(min = 1, max = 3))]
    pub period: u8,
    /// The subject.
    pub subject: SubjectId,
    /// Its coefficient in the general average: 0 to 100.
    pub coefficient: Hundredths,
    /// Rescaled to 20 (default) or points.
    #[serde(default)]
    pub mode: SubjectMode,
}

/// `notes.set_subject_options`: direction sets a subject's coefficient and averaging mode for a class and
/// period.
pub struct SetSubjectOptions;

#[async_trait]
impl Action for SetSubjectOptions {
    type Input = SetSubjectOptionsInput;
    type Output = SubjectOptions;
    const NAME: &'static str = "notes.set_subject_options";
    const RIGHT: &'static str = MANAGE;
    const DESCRIPTION: &'static str = "Set a subject's coefficient and averaging mode for a class and period";

    async fn run(&self, ctx: &mut Context<'_>, input: SetSubjectOptionsInput) -> Result<SubjectOptions> {
        check_coefficient("coefficient", input.coefficient)?;
        let class = service::load_unit(ctx, Unit::Class(input.class)).await?;
        let rights = ctx.rights().await?;
        if !guard::oversees(&rights, class.structure) {
            return Err(Error::forbidden(format!("{MANAGE} (direction of the class's structure)")));
        }
        let subject = ctx.tx().fetch_record::<Subject>(input.subject).await?.value;
        if subject.structure != class.structure {
            return Err(Error::invalid("subject", "a subject of another structure"));
        }
        let period = service::load_period(ctx, class.structure, class.year, input.period).await?;
        service::check_open(&period)?;
        let options = SubjectOptions {
            class: input.class,
            structure: class.structure,
            year: class.year,
            period: input.period,
            subject: input.subject,
            coefficient: input.coefficient,
            mode: input.mode,
        };
        match ctx.tx().get_record::<SubjectOptions>(options.id()).await? {
            Some(old) => ctx.tx().update_record(old.version, &options).await?,
            None => ctx.tx().insert_record(&options).await?,
        };
        Ok(options)
    }
}

/// A period as the actions show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PeriodView {
    /// The school year (2026 is 2026–2027).
    pub year: i32,
    /// 1, 2 or 3.
    pub index: u8,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// The conseil de classe, when planned.
    pub council: Option<NaiveDate>,
    /// Closed: read-only.
    pub closed: bool,
}

impl From<&Period> for PeriodView {
    fn from(p: &Period) -> PeriodView {
        PeriodView { year: p.year.0, index: p.index, start: p.start, end: p.end, council: p.council, closed: p.closed }
    }
}

/// Input of `notes.set_period`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPeriodInput {
    /// The school year; the current one when absent.
    #[serde(default)]
    pub year: Option<i32>,
    /// 1 to 3 (trimestres) or 1 to 2 (semestres), as the structure divides its year.
    #[schemars(range(min = 1, max = 3))]
    pub index: u8,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// The conseil de classe.
    #[serde(default)]
    pub council: Option<NaiveDate>,
    /// Closed: read-only for everyone.
    #[serde(default)]
    pub closed: bool,
}

/// `notes.set_period`: direction sets a period of its structure's year (dates, conseil de classe) and
/// closes or reopens it.
pub struct SetPeriod;

#[async_trait]
impl Action for SetPeriod {
    type Input = SetPeriodInput;
    type Output = PeriodView;
    const NAME: &'static str = "notes.set_period";
    const RIGHT: &'static str = MANAGE;
    const DESCRIPTION: &'static str = "Set, close or reopen a period of the caller's structure";

    async fn run(&self, ctx: &mut Context<'_>, input: SetPeriodInput) -> Result<PeriodView> {
        let structure = ctx.caller().structure().ok_or_else(|| Error::forbidden(MANAGE))?;
        let rights = ctx.rights().await?;
        if !guard::oversees(&rights, structure) {
            return Err(Error::forbidden(format!("{MANAGE} (direction of the structure)")));
        }
        let kind = ctx.tx().fetch_record::<Structure>(structure).await?.value.periods;
        if input.index == 0 || input.index > kind.count() {
            return Err(Error::invalid("index", format!("this structure's year has {} periods", kind.count())));
        }
        if input.start > input.end {
            return Err(Error::invalid("end", "a period ends after it starts"));
        }
        let year = service::year_or_current(ctx, input.year);
        let period = Period {
            structure,
            year,
            index: input.index,
            start: input.start,
            end: input.end,
            council: input.council,
            closed: input.closed,
        };
        match ctx.tx().get_record::<Period>(period.id()).await? {
            Some(old) => ctx.tx().update_record(old.version, &period).await?,
            None => ctx.tx().insert_record(&period).await?,
        };
        Ok(PeriodView::from(&period))
    }
}

/// Input of `notes.periods`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodsInput {
    /// The school year; the current one when absent.
    #[serde(default)]
    pub year: Option<i32>,
}

/// `notes.periods`: the periods of the caller's structure for a year.
pub struct Periods;

#[async_trait]
impl Action for Periods {
    type Input = PeriodsInput;
    type Output = Vec<PeriodView>;
    const NAME: &'static str = "notes.periods";
    const RIGHT: &'static str = super::READ;
    const DESCRIPTION: &'static str = "The periods of the caller's structure for a year";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: PeriodsInput) -> Result<Vec<PeriodView>> {
        let structure = ctx.caller().structure().ok_or_else(|| Error::forbidden(super::READ))?;
        let year = service::year_or_current(ctx, input.year);
        let scan = Scan::primary(Period::COLLECTION).prefix((structure.0, i64::from(year.0))).limit(10);
        let (page, _) = ctx.tx().scan_records::<Period>(&scan).await?;
        Ok(page.iter().map(|p| PeriodView::from(&p.value)).collect())
    }
}
