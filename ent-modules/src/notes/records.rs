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
    /// The grades, ordered by pupil id (one per pupil at most). Stored as a map from pupil to mark
    /// (`{"<pupil>": "12.5"}`, or `{"<pupil>": {"mark": "12.5", "comment": "..."}}` with a comment): the
    /// class's period decodes 7,500 of them at once.
    #[serde(with = "grade_map")]
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

/// The stored layout of an evaluation's grades: a JSON object from pupil id to mark, or to `{mark, comment}`.
mod grade_map {
    use std::fmt;

    use ent_core::UserId;
    use serde::de::{Deserializer, MapAccess, Visitor};
    use serde::ser::{SerializeMap, Serializer};
    use serde::{Deserialize, Serialize};

    use super::Grade;
    use crate::notes::rules::Mark;

    #[derive(Serialize, Deserialize)]
    struct Commented {
        mark: Mark,
        comment: String,
    }

    /// A mark alone (a string), or a mark with its comment (an object): read without buffering.
    enum Value {
        Mark(Mark),
        Commented(Commented),
    }

    impl<'de> Deserialize<'de> for Value {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Value;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a mark, or {mark, comment}")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
                    v.parse().map(Value::Mark).map_err(|e: ent_core::Error| E::custom(e.to_string()))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
                    Commented::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Value::Commented)
                }
            }
            d.deserialize_any(V)
        }
    }

    pub(super) fn serialize<S: Serializer>(grades: &[Grade], s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(grades.len()))?;
        for g in grades {
            match &g.comment {
                None => map.serialize_entry(&g.pupil, &g.mark)?,
                Some(c) => map.serialize_entry(&g.pupil, &Commented { mark: g.mark, comment: c.clone() })?,
            }
        }
        map.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Grade>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<Grade>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from pupil id to mark")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Grade>, A::Error> {
                let mut out: Vec<Grade> = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some(pupil) = map.next_key::<UserId>()? {
                    let grade = match map.next_value::<Value>()? {
                        Value::Mark(mark) => Grade { pupil, mark, comment: None },
                        Value::Commented(c) => Grade { pupil, mark: c.mark, comment: Some(c.comment) },
                    };
                    out.push(grade);
                }
                // Kept ordered by pupil whatever the stored order.
                if !out.is_sorted_by_key(|g| g.pupil) {
                    out.sort_by_key(|g| g.pupil);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notes::rules::Status;

    #[test]
    fn grades_are_stored_as_a_map_from_pupil_to_mark() {
        let (x, y) = (UserId::new(), UserId::new());
        let (a, b) = (x.min(y), x.max(y));
        let grades = vec![
            Grade { pupil: a, mark: Mark::Value(Hundredths(1250)), comment: None },
            Grade { pupil: b, mark: Mark::Status(Status::Absent), comment: Some("Malade".into()) },
        ];
        #[derive(Serialize, Deserialize)]
        struct Holder {
            #[serde(with = "grade_map")]
            grades: Vec<Grade>,
        }
        let json = serde_json::to_value(Holder { grades: grades.clone() }).unwrap();
        assert_eq!(json["grades"][a.to_string()], "12.5");
        assert_eq!(json["grades"][b.to_string()], serde_json::json!({"mark": "Abs", "comment": "Malade"}));
        let back: Holder = serde_json::from_value(json).unwrap();
        assert_eq!(back.grades, grades);
        // Stored in another order, read back ordered by pupil.
        let text = format!(r#"{{"grades": {{"{b}": "NN", "{a}": "3"}}}}"#);
        let back: Holder = serde_json::from_str(&text).unwrap();
        assert_eq!(back.grades.iter().map(|g| g.pupil).collect::<Vec<_>>(), vec![a, b]);
        assert!(serde_json::from_str::<Holder>(&format!(r#"{{"grades": {{"{a}": "Absent"}}}}"#)).is_err());
    }
}
