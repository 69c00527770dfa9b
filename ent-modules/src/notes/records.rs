//! What the notes module stores, and how it is indexed.
//!
//! **One record per evaluation, holding every grade of it** (a class's 30 grades are one record): a
//! class's period — the few hundred evaluations of every subject — is one index scan, not thousands of
//! point reads. Evaluations are indexed by the classes they concern (a group's evaluation once per class
//! of its graded pupils), by their class or group and subject, and by teacher.

use chrono::{DateTime, NaiveDate, Utc};
use ent_core::directory::{SchoolYear, Unit};
use ent_core::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};
use ent_core::{ClassId, StructureId, SubjectId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::hundredths::Hundredths;
use super::rules::{Kind, Mark, SubjectMode};

ent_core::typed_id!(
    /// An evaluation (devoir).
    EvaluationId
);

/// One pupil's grade in an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Grade {
    /// The pupil.
    pub pupil: UserId,
    /// A value on the scale, or a status.
    pub mark: Mark,
    /// The teacher's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// An evaluation (devoir) of a class or group in a subject and period, with all its grades.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Its id.
    pub id: EvaluationId,
    /// The structure.
    pub structure: StructureId,
    /// The school year.
    pub year: SchoolYear,
    /// The period (1, 2 or 3).
    pub period: u8,
    /// The class or group evaluated.
    pub unit: Unit,
    /// The subject.
    pub subject: SubjectId,
    /// The teacher who created it.
    pub teacher: UserId,
    /// The day it took place.
    pub date: NaiveDate,
    /// Its title.
    pub title: String,
    /// Noté sur: 1 to 100.
    pub scale: u32,
    /// Coefficient: 0 to 100, decimals allowed.
    pub coefficient: Hundredths,
    /// Ordinary, optional or bonus.
    pub kind: Kind,
    /// From when pupils and parents see it.
    pub publish_at: DateTime<Utc>,
    /// Set by the publication (the `notes.publish` job, or at once when the date has passed): pupils and
    /// parents see the evaluation only then.
    pub published: bool,
    /// The classes it concerns: its class, or for a group the classes of its graded pupils.
    pub classes: Vec<ClassId>,
    /// The grades, ordered by pupil id (one per pupil at most).
    pub grades: Vec<Grade>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
}

impl Evaluation {
    /// The grade of a pupil, if any.
    pub fn grade_of(&self, pupil: UserId) -> Option<&Grade> {
        self.grades.binary_search_by_key(&pupil, |g| g.pupil).ok().map(|i| &self.grades[i])
    }
}

impl Record for Evaluation {
    const COLLECTION: &'static str = "notes.evaluations";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
            // (class, year, period, id): a class's period, group evaluations included.
            .index(IndexDef::new("by_class", [KeyKind::Uuid, KeyKind::Int, KeyKind::Int, KeyKind::Uuid]))
            // (unit, year, period, subject, id): a teacher's grid.
            .index(IndexDef::new("by_unit", [KeyKind::Uuid, KeyKind::Int, KeyKind::Int, KeyKind::Uuid, KeyKind::Uuid]))
            // (teacher, year, period, id): a teacher's evaluations.
            .index(IndexDef::new("by_teacher", [KeyKind::Uuid, KeyKind::Int, KeyKind::Int, KeyKind::Uuid]))
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        let (year, period) = (i64::from(self.year.0), i64::from(self.period));
        let mut out: Vec<IndexEntry> = self
            .classes
            .iter()
            .map(|c| IndexEntry { index: "by_class".into(), key: (c.0, year, period, self.id.0).into() })
            .collect();
        out.push(IndexEntry {
            index: "by_unit".into(),
            key: (self.unit.uuid(), year, period, self.subject.0, self.id.0).into(),
        });
        out.push(IndexEntry { index: "by_teacher".into(), key: (self.teacher.0, year, period, self.id.0).into() });
        out
    }
}

/// A subject's coefficient (for the general average) and averaging mode, for a class and period. A
/// subject without one has coefficient 1 and the rescaled mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubjectOptions {
    /// The class.
    pub class: ClassId,
    /// The structure.
    pub structure: StructureId,
    /// The school year (2026 for 2026–2027).
    #[schemars(with = "i32")]
    pub year: SchoolYear,
    /// The period.
    pub period: u8,
    /// The subject.
    pub subject: SubjectId,
    /// Its coefficient in the general average, 0 to 100.
    pub coefficient: Hundredths,
    /// Rescaled to 20 or points.
    pub mode: SubjectMode,
}

impl SubjectOptions {
    /// The options of a subject nobody set: coefficient 1, rescaled.
    pub fn default_for(
        class: ClassId,
        structure: StructureId,
        year: SchoolYear,
        period: u8,
        subject: SubjectId,
    ) -> Self {
        SubjectOptions {
            class,
            structure,
            year,
            period,
            subject,
            coefficient: Hundredths::units(1),
            mode: SubjectMode::Rescaled,
        }
    }
}

impl Record for SubjectOptions {
    const COLLECTION: &'static str = "notes.subject_options";

    /// Keyed `(class, year, period, subject)`: a class's period is one prefix scan.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Int, KeyKind::Int, KeyKind::Uuid])
    }

    fn id(&self) -> Tuple {
        (self.class.0, i64::from(self.year.0), i64::from(self.period), self.subject.0).into()
    }
}
