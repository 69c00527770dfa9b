//! School years and their periods.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A school year, named by the calendar year it starts in: `SchoolYear(2026)` is 2026–2027.
///
/// ```
/// use chrono::NaiveDate;
/// use ent_core::directory::SchoolYear;
/// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
/// assert_eq!(SchoolYear::containing(d(2026, 11, 29)), SchoolYear(2026));
/// assert_eq!(SchoolYear::containing(d(2027, 6, 30)), SchoolYear(2026));
/// assert_eq!(SchoolYear::containing(d(2027, 8, 1)), SchoolYear(2027));
/// assert_eq!(SchoolYear(2026).to_string(), "2026-2027");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SchoolYear(pub i32);

impl SchoolYear {
    /// The school year a date belongs to. A year starts on August 1st: the feeds and the set-up of the new
    /// year begin in August, before the rentrée, while last year stays readable under its own number.
    pub fn containing(date: NaiveDate) -> SchoolYear {
        if date.month() >= 8 { SchoolYear(date.year()) } else { SchoolYear(date.year() - 1) }
    }

    /// The year after.
    pub fn next(self) -> SchoolYear {
        SchoolYear(self.0 + 1)
    }
}

impl fmt::Display for SchoolYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.0 + 1)
    }
}

/// How a structure divides its year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    /// Three trimestres (the most common).
    #[default]
    Trimestres,
    /// Two semestres.
    Semestres,
}

impl PeriodKind {
    /// How many periods a year has.
    pub fn count(self) -> u8 {
        match self {
            PeriodKind::Trimestres => 3,
            PeriodKind::Semestres => 2,
        }
    }
}
