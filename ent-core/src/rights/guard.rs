//! Relationship guards: the second layer. Once a workflow right says a user may run an action at all, the
//! guard says whether they may run it *on this pupil*: their own data, a child they act for, a class and
//! subject they teach, a structure where they are direction, vie scolaire or administrator, or everywhere
//! for a central administrator. Pure functions of the compiled rights and the facts the module passes in.
//!
//! ```
//! use ent_core::rights::guard::{self, PupilFacts};
//! # fn demo(rights: &ent_core::rights::EffectiveRights, facts: &PupilFacts) {
//! if guard::can_read_pupil(rights, facts) {
//!     // show the grades
//! }
//! # }
//! ```

use serde::Serialize;

use super::compiled::EffectiveRights;
use crate::directory::{Profile, SchoolYear, Unit, User, query};
use crate::storage::{Transaction, TxExt};
use crate::{Result, StructureId, SubjectId, UserId};

/// What a module passes in about the pupil whose data is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PupilFacts {
    /// The pupil.
    pub pupil: UserId,
    /// The structures where they are a pupil.
    pub structures: Vec<StructureId>,
    /// Their class and groups of the year.
    pub units: Vec<Unit>,
}

impl PupilFacts {
    /// Reads a pupil's facts from the directory, in the module's transaction.
    pub async fn load(tx: &mut dyn Transaction, pupil: UserId, year: SchoolYear) -> Result<PupilFacts> {
        let user = tx.fetch_record::<User>(pupil).await?.value;
        let structures =
            user.affiliations.iter().filter(|a| a.profile == Profile::Eleve).map(|a| a.structure).collect();
        let units = query::units_of(tx, pupil, year).await?.into_iter().map(|m| m.unit).collect();
        Ok(PupilFacts { pupil, structures, units })
    }
}

/// Why a user may read a pupil's data: the relation that the guard found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Relation {
    /// The pupil themselves.
    Own,
    /// A legal responsable with parental authority.
    Responsable,
    /// Professeur principal of the pupil's class: every subject.
    PrincipalTeacher {
        /// The class.
        unit: Unit,
    },
    /// A teacher of one of the pupil's classes or groups.
    Teacher {
        /// The class or group.
        unit: Unit,
    },
    /// Direction, vie scolaire or local administrator of the pupil's structure.
    Staff {
        /// The structure.
        structure: StructureId,
        /// The profile that gives it.
        profile: Profile,
    },
    /// A central administrator.
    CentralAdmin,
}

impl Relation {
    /// Whether a read under this relation is a read by staff, which the audit log records (the pupil and
    /// their responsables reading their own data are not).
    pub fn is_staff_read(self) -> bool {
        !matches!(self, Relation::Own | Relation::Responsable)
    }
}

/// The profiles that see a structure's pupils: direction, vie scolaire, local administrators.
pub const OVERSEEING: [Profile; 3] = [Profile::Direction, Profile::VieScolaire, Profile::AdminLocal];

/// The relation that lets `rights` read the pupil's data in `subject` (any subject when `None`), if any.
/// For a subject, a teacher must teach that subject to one of the pupil's units, or be professeur principal
/// of one of them.
pub fn relation(rights: &EffectiveRights, pupil: &PupilFacts, subject: Option<SubjectId>) -> Option<Relation> {
    if !rights.is_active() {
        return None;
    }
    if rights.user() == pupil.pupil {
        return Some(Relation::Own);
    }
    if rights.acts_for(pupil.pupil) {
        return Some(Relation::Responsable);
    }
    for &unit in &pupil.units {
        if rights.is_principal_of(unit) {
            return Some(Relation::PrincipalTeacher { unit });
        }
    }
    for &unit in &pupil.units {
        let teaches = match subject {
            Some(s) => rights.teaches(unit, s),
            None => rights.teaches_unit(unit),
        };
        if teaches {
            return Some(Relation::Teacher { unit });
        }
    }
    for &structure in &pupil.structures {
        for profile in OVERSEEING {
            if rights.has_profile(structure, profile) {
                return Some(Relation::Staff { structure, profile });
            }
        }
    }
    if rights.is_central_admin() {
        return Some(Relation::CentralAdmin);
    }
    None
}

/// Whether `rights` may read the pupil's data (any subject).
pub fn can_read_pupil(rights: &EffectiveRights, pupil: &PupilFacts) -> bool {
    relation(rights, pupil, None).is_some()
}

/// Whether `rights` may read the pupil's data in one subject.
pub fn can_read_pupil_subject(rights: &EffectiveRights, pupil: &PupilFacts, subject: SubjectId) -> bool {
    relation(rights, pupil, Some(subject)).is_some()
}

/// Whether `rights` may act for the pupil where a responsable would (justify an absence, sign a form): a
/// legal responsable with parental authority, or the pupil themselves when an adult.
pub fn can_act_for_pupil(rights: &EffectiveRights, pupil: &PupilFacts) -> bool {
    rights.acts_for(pupil.pupil) || (rights.user() == pupil.pupil && rights.is_adult())
}

/// Whether `rights` may write in `subject` for `unit` (grades, homework): its teacher this year.
pub fn can_teach(rights: &EffectiveRights, unit: Unit, subject: SubjectId) -> bool {
    rights.teaches(unit, subject)
}

/// Whether `rights` oversees `structure`: direction, vie scolaire or administrator there, or central
/// administrator.
pub fn oversees(rights: &EffectiveRights, structure: StructureId) -> bool {
    rights.is_central_admin() || OVERSEEING.into_iter().any(|p| rights.has_profile(structure, p))
}
