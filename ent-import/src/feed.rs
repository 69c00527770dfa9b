//! The normalized batch a feed is turned into. Everything is referenced by its key in the feed (its source
//! key), never by an internal id: the apply path resolves keys.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ent_core::directory::{Contract, Function, PeriodKind, Profile, SchoolYear, StructureKind};
use serde::{Deserialize, Serialize};

/// A batch of directory changes from one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// The feed (`aaf`, `oneroster`, `demo`): source keys are unique per source.
    pub source: String,
    /// Full or delta.
    pub mode: Mode,
    /// The school year of the memberships and teaching assignments in the batch.
    pub year: SchoolYear,
    /// Structures first.
    #[serde(default)]
    pub structures: Vec<StructureIn>,
    /// Subjects.
    #[serde(default)]
    pub subjects: Vec<SubjectIn>,
    /// Classes.
    #[serde(default)]
    pub classes: Vec<ClassIn>,
    /// Groups.
    #[serde(default)]
    pub groups: Vec<GroupIn>,
    /// People, with their memberships, assignments and (applied in a second pass) links to responsables.
    #[serde(default)]
    pub people: Vec<PersonIn>,
    /// People the feed deletes (a delta's `deleteRequest`): deactivated at once, deleted after the retention
    /// delay.
    #[serde(default)]
    pub deleted_people: Vec<String>,
    /// People the feed names but whose record a parser refused (broken encoding, a missing mandatory
    /// attribute...): a full batch leaves them as they are instead of deactivating them as missing.
    #[serde(default)]
    pub refused_people: Vec<String>,
    /// One membership, teaching assignment or affiliation added or removed at a time, without restating
    /// the person's others (a OneRoster delta of `enrollments.csv` and `roles.csv`): applied after
    /// [`Batch::people`], to people of the batch or imported earlier from the same source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangeIn>,
    /// Classes and groups the feed deletes (a OneRoster delta's `classes.csv` row `tobedeleted`), by key:
    /// emptied of their memberships and teaching assignments of their year, and kept with what belongs to
    /// them (grades, the cahier de textes), as a full feed leaves a class it no longer names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_units: Vec<String>,
    /// Whether each person's [`PersonIn::units`] and [`PersonIn::teachings`] are all their memberships and
    /// assignments of the year in the structures the batch names for them (the AAF; a OneRoster bundle
    /// with a bulk `enrollments.csv`): `true` by default. `false` when the feed does not state them (a
    /// OneRoster bundle without `enrollments.csv`, or with a delta one, whose rows are
    /// [`Batch::changes`]): the directory's memberships and assignments then stay as they are.
    #[serde(default = "stated")]
    pub states_units: bool,
}

fn stated() -> bool {
    true
}

impl Batch {
    /// Whether [`Batch::merge`] would take `other`, and why not.
    pub fn mergeable(&self, other: &Batch) -> Result<(), String> {
        if other.source != self.source || other.year != self.year || other.states_units != self.states_units {
            return Err(format!(
                "batches of different sources, years or kinds (`{}` {} and `{}` {})",
                self.source, self.year.0, other.source, other.year.0
            ));
        }
        match (&self.mode, &other.mode) {
            (Mode::Full { .. }, Mode::Full { .. }) | (Mode::Delta, Mode::Delta) => Ok(()),
            _ => Err("a full batch and a delta cannot be merged".into()),
        }
    }

    /// Whether `other` can join this batch ([`Batch::mergeable`]) without the two holding more than
    /// `max_people` people.
    pub(crate) fn fits(&self, other: &Batch, max_people: usize) -> bool {
        self.people.len() + other.people.len() <= max_people && self.mergeable(other).is_ok()
    }

    /// Adds `other`, a batch of the same source, year and kind (both full, or both deltas), to this one, so
    /// that both are applied as one: fewer, larger transactions (loading an académie structure by structure
    /// writes each page of the académie-wide indexes once per structure). A person in both (a teacher
    /// shared by two structures) becomes one person with the affiliations, memberships, assignments and
    /// links of both. Refused, with `other` left out, when the two cannot be one batch.
    pub fn merge(&mut self, other: Batch) -> Result<(), String> {
        self.mergeable(&other)?;
        if let (Mode::Full { structures }, Mode::Full { structures: more }) = (&mut self.mode, other.mode) {
            union(structures, more);
        }
        fn extend_by_key<T>(into: &mut Vec<T>, more: Vec<T>, key: impl Fn(&T) -> &str) {
            let known: std::collections::HashSet<String> = into.iter().map(|x| key(x).to_owned()).collect();
            into.extend(more.into_iter().filter(|x| !known.contains(key(x))));
        }
        extend_by_key(&mut self.structures, other.structures, |s| &s.key);
        extend_by_key(&mut self.subjects, other.subjects, |s| &s.key);
        extend_by_key(&mut self.classes, other.classes, |c| &c.key);
        extend_by_key(&mut self.groups, other.groups, |g| &g.key);
        // Indexed by `other`'s keys: the smaller side when batches are merged one after the other.
        let mut theirs: Vec<Option<PersonIn>> = other.people.into_iter().map(Some).collect();
        let at: std::collections::HashMap<String, usize> =
            theirs.iter().enumerate().filter_map(|(i, p)| Some((p.as_ref()?.key.clone(), i))).collect();
        for p in &mut self.people {
            if let Some(same) = at.get(&p.key).and_then(|&i| theirs[i].take()) {
                p.absorb(same);
            }
        }
        self.people.extend(theirs.into_iter().flatten());
        union(&mut self.deleted_people, other.deleted_people);
        union(&mut self.refused_people, other.refused_people);
        union(&mut self.deleted_units, other.deleted_units);
        self.changes.extend(other.changes);
        Ok(())
    }
}

/// Adds to `into` the items of `more` it does not hold yet, in their order (lists merged by [`Batch::merge`]:
/// short, so a scan beats a set).
fn union<T: PartialEq>(into: &mut Vec<T>, more: Vec<T>) {
    for x in more {
        if !into.contains(&x) {
            into.push(x);
        }
    }
}

/// Whether the batch is the whole truth about its structures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Everything about these structures (by source key): people of them missing from the batch lose their
    /// affiliation there, and their account is deactivated when no affiliation remains.
    Full {
        /// The structures the batch covers.
        structures: Vec<String>,
    },
    /// Only changes.
    Delta,
}

/// A structure. The attributes a feed may not give (OneRoster has no kind, contract, académie, time zone
/// nor period kind) are options: `None` keeps what the directory holds, and a new structure gets the
/// default (autre, public, no académie, `Europe/Paris`, trimestres).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructureIn {
    /// Its key in the feed.
    pub key: String,
    /// Its UAI (validated with its check letter).
    pub uai: String,
    /// Its name.
    pub name: String,
    /// Its kind, when the feed says.
    #[serde(default)]
    pub kind: Option<StructureKind>,
    /// Its contract, when the feed says.
    #[serde(default)]
    pub contract: Option<Contract>,
    /// Its académie, when the feed says.
    #[serde(default)]
    pub academie: Option<String>,
    /// Its IANA time zone, when the feed says.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Trimestres or semestres, when the feed says (the AAF does not): `None` keeps what the structure chose
    /// (trimestres for a new structure).
    #[serde(default)]
    pub periods: Option<PeriodKind>,
    /// The feed's attributes that the directory does not model, by name: stored with the structure, in
    /// the feed's part of [`Structure::attributes`](ent_core::directory::Structure::attributes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// A subject of a structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectIn {
    /// Its key in the feed.
    pub key: String,
    /// Its structure's key.
    pub structure: String,
    /// Its national code.
    pub code: String,
    /// Its label.
    pub label: String,
}

/// A class of a structure. Its key names one class of one school year: next year's `3A` is another class,
/// with another key (the AAF and OneRoster parsers build keys that include the year).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassIn {
    /// Its key in the feed.
    pub key: String,
    /// Its structure's key.
    pub structure: String,
    /// Its code (`3A`).
    pub name: String,
    /// Its level.
    pub level: Option<String>,
}

/// A teaching group of a structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupIn {
    /// Its key in the feed.
    pub key: String,
    /// Its structure's key.
    pub structure: String,
    /// Its name.
    pub name: String,
}

/// A class or group, by key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitRef {
    /// A class key.
    Class(String),
    /// A group key.
    Group(String),
}

/// A profile in a structure, by key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRef {
    /// The structure's key.
    pub structure: String,
    /// The profile.
    pub profile: Profile,
    /// Functions there.
    #[serde(default)]
    pub functions: Vec<Function>,
}

/// A teaching assignment, by keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeachingIn {
    /// The class or group.
    pub unit: UnitRef,
    /// The subject's key.
    pub subject: String,
    /// Professeur principal.
    #[serde(default)]
    pub principal: bool,
}

/// A link from a pupil to one of their responsables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentIn {
    /// The responsable's key.
    pub parent: String,
    /// Responsable légal.
    pub legal: bool,
    /// Parental authority.
    pub authority: bool,
    /// Contact priority, 1 first.
    pub priority: u8,
    /// Financially responsible.
    #[serde(default)]
    pub financial: bool,
}

/// A person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonIn {
    /// Their key in the feed (`ENTPersonJointure`, `sourcedId`).
    pub key: String,
    /// Given name (mandatory).
    pub given_name: String,
    /// Family name (mandatory).
    pub family_name: String,
    /// Date of birth.
    pub birth_date: Option<NaiveDate>,
    /// E-mail.
    pub email: Option<String>,
    /// Profiles per structure (at least one).
    pub affiliations: Vec<PersonRef>,
    /// An adult pupil.
    #[serde(default)]
    pub adult: bool,
    /// The source disables the account (OneRoster `enabledUser` = `false`): it stays in the directory with
    /// its profiles, memberships and links, and cannot be used. A batch that names the person with `false`
    /// here enables it again, as it does any disabled account of a person it names with a profile.
    #[serde(default)]
    pub disabled: bool,
    /// Classes and groups of the batch's year (for pupils); replaces what the directory holds for that year.
    #[serde(default)]
    pub units: Vec<UnitRef>,
    /// Teaching assignments of the batch's year (for teachers); replaces what the directory holds.
    #[serde(default)]
    pub teachings: Vec<TeachingIn>,
    /// Responsables (for pupils), applied after every person of the batch exists; replaces what the
    /// directory holds.
    #[serde(default)]
    pub parents: Vec<ParentIn>,
    /// Responsables the feed names without saying what they are to the pupil (a OneRoster delta names a
    /// student's agents, whose roles it may not carry), by key: their stored link stays as it is, where
    /// [`PersonIn::parents`] would remove it; no link is created for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_parents: Vec<String>,
    /// The feed's attributes that the directory does not model, by name: AAF attributes such as
    /// `ENTEleveRegime`, OneRoster columns such as `sms`. Stored with the account, in the feed's part of
    /// [`User::attributes`](ent_core::directory::User::attributes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

impl PersonIn {
    /// Takes in what another batch says of the same person (see [`Batch::merge`]): its profiles,
    /// memberships, assignments and links are added to these; the names, birth date and e-mail of the
    /// first batch stay (both come from one source, which gives them once per person).
    fn absorb(&mut self, other: PersonIn) {
        union(&mut self.affiliations, other.affiliations);
        union(&mut self.units, other.units);
        union(&mut self.teachings, other.teachings);
        union(&mut self.parents, other.parents);
        union(&mut self.kept_parents, other.kept_parents);
        self.adult |= other.adult;
        self.disabled &= other.disabled;
        self.birth_date = self.birth_date.or(other.birth_date);
        if self.email.is_none() {
            self.email = other.email;
        }
        for (k, v) in other.extra {
            self.extra.entry(k).or_insert(v);
        }
    }
}

/// One change to a person that leaves the rest of what they hold as it is (see [`Batch::changes`]).
/// Applying the same change twice changes nothing the second time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeIn {
    /// The change's own key in the feed (a OneRoster enrollment's or role's `sourcedId`), for the report.
    pub key: String,
    /// The person's key: a person of the batch, or one imported earlier from the same source.
    pub person: String,
    /// What changes.
    pub change: Change,
}

/// What a [`ChangeIn`] adds or removes. Classes and groups are named by their key alone (a class's key,
/// else a group's): a delta may name a unit it does not carry, whose kind only the directory knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A profile in a structure. A person new to the directory is created with the affiliations the
    /// batch's changes add; an account disabled because it had no affiliation left is enabled again.
    AddAffiliation(PersonRef),
    /// The profile in the structure goes (its functions with it); an account left without any affiliation
    /// is disabled, as a full feed disables the people it no longer names.
    RemoveAffiliation {
        /// The structure's key.
        structure: String,
        /// The profile.
        profile: Profile,
    },
    /// A membership of the class or group, for the batch's year.
    Join {
        /// The class's or group's key.
        unit: String,
    },
    /// The membership of the class or group of the batch's year goes.
    Leave {
        /// The class's or group's key.
        unit: String,
    },
    /// A teaching assignment of the batch's year.
    Teach {
        /// The class's or group's key.
        unit: String,
        /// The subject's key; `None`: the subject this source's other assignments of the unit have (a
        /// OneRoster class is a section of one course, so its teachers share its subject).
        subject: Option<String>,
        /// Professeur principal.
        #[serde(default)]
        principal: bool,
    },
    /// The teaching assignments of the unit go: of that subject, or (`None`) all of the person's there.
    StopTeaching {
        /// The class's or group's key.
        unit: String,
        /// The subject's key, or all.
        subject: Option<String>,
    },
}
