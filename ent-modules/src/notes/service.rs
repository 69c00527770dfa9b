//! What the actions share: the units, periods and settings they read, and the checks every write makes.

use chrono::NaiveDate;
use ent_core::directory::{Class, Group, Period, SchoolYear, Unit};
use ent_core::module::Context;
use ent_core::storage::{Record, TxExt};
use ent_core::{ClassId, Error, GroupId, Result, StructureId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::OPTIONS;
use super::rules::{OptionalRule, Rounding};

/// A class or a group, as actions name it: `{"kind": "class", "id": "..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum UnitRef {
    /// A class.
    Class(ClassId),
    /// A group.
    Group(GroupId),
}

impl From<UnitRef> for Unit {
    fn from(u: UnitRef) -> Unit {
        match u {
            UnitRef::Class(c) => Unit::Class(c),
            UnitRef::Group(g) => Unit::Group(g),
        }
    }
}

impl From<Unit> for UnitRef {
    fn from(u: Unit) -> UnitRef {
        match u {
            Unit::Class(c) => UnitRef::Class(c),
            Unit::Group(g) => UnitRef::Group(g),
        }
    }
}

/// The structure-wide options of the notes module (the setting `notes.options`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotesOptions {
    /// How averages and means are rounded for display (computed exactly, rounded only when shown).
    #[serde(default)]
    pub rounding: Rounding,
    /// Which optional grades count: `never_lower` (the default) or `pronote`.
    #[serde(default)]
    pub optional_rule: OptionalRule,
    /// Whether pupils and parents see ranks (staff always do).
    #[serde(default)]
    pub show_rank: bool,
    /// Whether pupils and parents see class statistics (mean, min, max).
    #[serde(default = "yes")]
    pub class_stats_for_families: bool,
}

fn yes() -> bool {
    true
}

impl Default for NotesOptions {
    fn default() -> Self {
        NotesOptions {
            rounding: Rounding::default(),
            optional_rule: OptionalRule::NeverLower,
            show_rank: false,
            class_stats_for_families: true,
        }
    }
}

/// A class or group as read from the directory.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnitInfo {
    pub(crate) unit: Unit,
    pub(crate) structure: StructureId,
    pub(crate) year: SchoolYear,
    pub(crate) name: String,
}

/// Reads a class or group ([`Error::NotFound`] when it does not exist).
pub(crate) async fn load_unit(ctx: &mut Context<'_>, unit: Unit) -> Result<UnitInfo> {
    Ok(match unit {
        Unit::Class(c) => {
            let class = ctx.tx().fetch_record::<Class>(c).await?.value;
            UnitInfo { unit, structure: class.structure, year: class.year, name: class.name }
        }
        Unit::Group(g) => {
            let group = ctx.tx().fetch_record::<Group>(g).await?.value;
            UnitInfo { unit, structure: group.structure, year: group.year, name: group.name }
        }
    })
}

/// Reads a period of a structure's year ([`Error::NotFound`] when the structure has not set it).
pub(crate) async fn load_period(
    ctx: &mut Context<'_>,
    structure: StructureId,
    year: SchoolYear,
    index: u8,
) -> Result<Period> {
    match ctx.tx().get_record::<Period>((structure.0, i64::from(year.0), i64::from(index))).await? {
        Some(p) => Ok(p.value),
        None => Err(Error::not_found(Period::COLLECTION, format!("period {index} of {year} in structure {structure}"))),
    }
}

/// A closed period is read-only: every write into it is refused.
pub(crate) fn check_open(period: &Period) -> Result<()> {
    if period.closed {
        return Err(Error::invalid(
            "period",
            format!("period {} of {} is closed (période close): it is read-only", period.index, period.year),
        ));
    }
    Ok(())
}

/// An evaluation's date must fall within its period.
pub(crate) fn check_date(period: &Period, date: NaiveDate) -> Result<()> {
    if date < period.start || date > period.end {
        return Err(Error::invalid(
            "date",
            format!("{date} is outside period {} ({} to {})", period.index, period.start, period.end),
        ));
    }
    Ok(())
}

/// The structure's options.
pub(crate) async fn options(ctx: &mut Context<'_>, structure: StructureId) -> Result<NotesOptions> {
    ctx.setting(OPTIONS, structure).await
}

/// The school year asked for, or the current one by the assembly's clock.
pub(crate) fn year_or_current(ctx: &Context<'_>, year: Option<i32>) -> SchoolYear {
    year.map(SchoolYear).unwrap_or_else(|| SchoolYear::containing(ctx.now().date_naive()))
}
