//! What the directory stores, and how each record is indexed. Every collection is `ent.*`, owned by
//! `ent-core`.
//!
//! Records are laid out for the queries every module makes at 8:00: the members of a class are one prefix
//! scan of the membership collection; a user's classes, children and teaching assignments are one index
//! scan each.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::names;
use super::profile::{Function, Profile};
use super::uai::Uai;
use super::year::{PeriodKind, SchoolYear};
use crate::id::{ClassId, GroupId, StructureId, SubjectId, UserId};
use crate::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};

/// Where an imported record comes from: its feed and its key there (`("aaf", "2605692")`,
/// `("oneroster", sourcedId)`). Unique per kind of record: a re-import updates rather than duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceKey {
    /// The feed (`aaf`, `oneroster`, `demo`...).
    pub source: String,
    /// The record's key in that feed.
    pub key: String,
}

impl SourceKey {
    /// A source key.
    pub fn new(source: impl Into<String>, key: impl Into<String>) -> Self {
        SourceKey { source: source.into(), key: key.into() }
    }

    fn entry(&self) -> IndexEntry {
        IndexEntry { index: "by_source".into(), key: (self.source.as_str(), self.key.as_str()).into() }
    }
}

/// What feeds say of a record that the directory does not model, by feed (the [`SourceKey::source`]),
/// then by attribute name, with the values in the feed's order: `{"aaf": {"ENTEleveRegime": ["DP"]}}`,
/// `{"oneroster": {"sms": ["+33612345678"]}}`. Each feed's part is what it gave the last time it wrote the
/// record; a feed never touches another's part. Kept for later use (a module, an export, a later version
/// of the model), as the national feed's specification asks of an ENT.
pub type FeedAttributes = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn by_source() -> IndexDef {
    IndexDef::new("by_source", [KeyKind::Str, KeyKind::Str]).unique()
}

/// Classes and groups: one collection each, with the same key and indexes: unique by name within a
/// structure and year, unique by source key.
fn unit_collection(name: &str) -> CollectionDef {
    CollectionDef::new(name, [KeyKind::Uuid])
        .index(IndexDef::new("by_structure", [KeyKind::Uuid, KeyKind::Int, KeyKind::Str]).unique())
        .index(by_source())
}

fn unit_entries(structure: StructureId, year: SchoolYear, name: &str, source: Option<&SourceKey>) -> Vec<IndexEntry> {
    let mut out = vec![IndexEntry { index: "by_structure".into(), key: (structure.0, i64::from(year.0), name).into() }];
    out.extend(source.map(SourceKey::entry));
    out
}

/// The kind of a structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StructureKind {
    /// École maternelle or élémentaire.
    Ecole,
    /// Collège.
    College,
    /// Lycée général et technologique.
    Lycee,
    /// Lycée professionnel.
    LyceeProfessionnel,
    /// Établissement régional d'enseignement adapté, and other kinds.
    Autre,
    /// A collectivité (département, région) that structures hang under.
    Collectivite,
}

/// Public, or private under or outside a contract with the State.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Contract {
    /// Public.
    Public,
    /// Privé sous contrat.
    PriveSousContrat,
    /// Privé hors contrat.
    PriveHorsContrat,
}

/// A structure (établissement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Structure {
    /// Its id.
    pub id: StructureId,
    /// Its UAI (absent for a collectivité).
    pub uai: Option<Uai>,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: StructureKind,
    /// Its contract.
    pub contract: Contract,
    /// Its académie (e.g. `ORLEANS-TOURS`).
    pub academie: String,
    /// Its IANA time zone (`Europe/Paris`, `Indian/Reunion`, `America/Martinique`, `Pacific/Noumea`...).
    pub time_zone: String,
    /// The collectivité it hangs under.
    pub parent: Option<StructureId>,
    /// Trimestres or semestres.
    pub periods: PeriodKind,
    /// Where it was imported from.
    pub source: Option<SourceKey>,
    /// What its feed says of it that the directory does not model (address, telephone...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: FeedAttributes,
}

impl Record for Structure {
    const COLLECTION: &'static str = "ent.structures";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
            .index(IndexDef::new("by_uai", [KeyKind::Str]).unique())
            .index(by_source())
            .index(IndexDef::new("by_parent", [KeyKind::Uuid, KeyKind::Str]))
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut out = Vec::new();
        if let Some(uai) = &self.uai {
            out.push(IndexEntry { index: "by_uai".into(), key: (uai.as_str(),).into() });
        }
        if let Some(s) = &self.source {
            out.push(s.entry());
        }
        if let Some(parent) = self.parent {
            out.push(IndexEntry { index: "by_parent".into(), key: (parent.0, names::fold(&self.name)).into() });
        }
        out
    }
}

/// A class (division), e.g. `3A`, in one structure and one school year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Class {
    /// Its id.
    pub id: ClassId,
    /// Its structure.
    pub structure: StructureId,
    /// Its school year.
    pub year: SchoolYear,
    /// Its code, unique in the structure and year (`3A`).
    pub name: String,
    /// Its level (the MEF code of the national nomenclature, or a label).
    pub level: Option<String>,
    /// Where it was imported from.
    pub source: Option<SourceKey>,
}

impl Record for Class {
    const COLLECTION: &'static str = "ent.classes";

    fn collection() -> CollectionDef {
        unit_collection(Self::COLLECTION)
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        unit_entries(self.structure, self.year, &self.name, self.source.as_ref())
    }
}

/// The kind of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// A teaching group: an option, a split class.
    Teaching,
    /// A group made by staff.
    Manual,
    /// A group derived automatically from a profile (all the teachers of a structure...).
    Profile,
}

/// A group of people in a structure and a school year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Its id.
    pub id: GroupId,
    /// Its structure.
    pub structure: StructureId,
    /// Its school year.
    pub year: SchoolYear,
    /// Its name, unique in the structure and year.
    pub name: String,
    /// Its kind.
    pub kind: GroupKind,
    /// For a profile group, the profile it gathers.
    pub profile: Option<Profile>,
    /// Where it was imported from.
    pub source: Option<SourceKey>,
}

impl Record for Group {
    const COLLECTION: &'static str = "ent.groups";

    fn collection() -> CollectionDef {
        unit_collection(Self::COLLECTION)
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        unit_entries(self.structure, self.year, &self.name, self.source.as_ref())
    }
}

/// A profile held in a structure, with the functions that go with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affiliation {
    /// The structure (for a central administrator, the collectivité or any structure: the profile itself
    /// reaches everywhere).
    pub structure: StructureId,
    /// The profile.
    pub profile: Profile,
    /// Its functions there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<Function>,
}

/// Whether an account may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AccountState {
    /// Imported, not yet activated (no password yet).
    Pending,
    /// In use.
    Active,
    /// Disabled at once (left the feed, or by an administrator); deleted after the retention delay.
    Disabled {
        /// When it was disabled: the retention delay counts from there.
        since: DateTime<Utc>,
    },
}

/// A person's account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// The login, unique (`prenom.nom`, a number on collision).
    pub login: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, where the feed gives it.
    pub birth_date: Option<NaiveDate>,
    /// E-mail, where known.
    pub email: Option<String>,
    /// The profiles held, per structure.
    pub affiliations: Vec<Affiliation>,
    /// An adult pupil (`ENTEleveMajeur`) acts for themselves where a parent would.
    #[serde(default)]
    pub adult: bool,
    /// Whether the account may be used.
    pub state: AccountState,
    /// Where it was imported from: several keys when records of several feeds were linked into one person
    /// (a teacher who is also a parent).
    #[serde(default)]
    pub sources: Vec<SourceKey>,
    /// What the feeds say of the person that the directory does not model (`ENTEleveRegime`,
    /// `ENTPersonAdresse`, OneRoster's `sms`...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: FeedAttributes,
}

impl User {
    /// The full name, given name first.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }

    /// Whether the user holds `profile` in `structure`.
    pub fn has_profile(&self, structure: StructureId, profile: Profile) -> bool {
        self.affiliations.iter().any(|a| a.structure == structure && a.profile == profile)
    }

    /// The structures the user belongs to, without duplicates.
    pub fn structures(&self) -> Vec<StructureId> {
        let mut out: Vec<StructureId> = self.affiliations.iter().map(|a| a.structure).collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The users' index of name tokens with the folded names (it replaced `by_token`, keyed by the token
/// alone, and `by_name_token`, per structure: the search within a structure reads `by_structure`).
pub const TOKEN_INDEX: &str = "by_token_name";

impl Record for User {
    const COLLECTION: &'static str = "ent.users";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
            .index(IndexDef::new("by_login", [KeyKind::Str]).unique())
            .index(by_source())
            // (structure, profile, folded family name, folded given name): a structure's people by profile,
            // in name order; name search within a structure reads its keys alone.
            .index(IndexDef::new("by_structure", [KeyKind::Uuid, KeyKind::Str, KeyKind::Str, KeyKind::Str]))
            // (token, folded family name, folded given name): name search across structures (central
            // administrators), answered from the keys: the names in the key tell whether every word of the
            // query matches, and the order of the results, without reading the records.
            .index(IndexDef::new(TOKEN_INDEX, [KeyKind::Str, KeyKind::Str, KeyKind::Str]))
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut out = vec![IndexEntry { index: "by_login".into(), key: (self.login.as_str(),).into() }];
        out.extend(self.sources.iter().map(SourceKey::entry));
        let family = names::fold(&self.family_name);
        let given = names::fold(&self.given_name);
        let tokens = names::tokens(&[&self.given_name, &self.family_name]);
        for a in &self.affiliations {
            out.push(IndexEntry {
                index: "by_structure".into(),
                key: (a.structure.0, a.profile.as_str(), family.as_str(), given.as_str()).into(),
            });
        }
        out.extend(tokens.iter().map(|t| IndexEntry {
            index: TOKEN_INDEX.into(),
            key: (t.as_str(), family.as_str(), given.as_str()).into(),
        }));
        out
    }
}

/// What a membership is in: a class or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Unit {
    /// A class.
    Class(ClassId),
    /// A group.
    Group(GroupId),
}

impl Unit {
    /// The underlying id.
    pub fn uuid(self) -> uuid::Uuid {
        match self {
            Unit::Class(c) => c.0,
            Unit::Group(g) => g.0,
        }
    }
}

/// A person in a class or group for a school year (pupils; teachers are linked by [`Teaching`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    /// The class or group.
    pub unit: Unit,
    /// The school year.
    pub year: SchoolYear,
    /// The member.
    pub user: UserId,
    /// The structure of the unit.
    pub structure: StructureId,
    /// Folded family and given names, for name-ordered lists.
    pub sort_name: String,
}

impl Record for Membership {
    const COLLECTION: &'static str = "ent.memberships";

    /// Keyed `(unit, year, user)`: the members of a class are one prefix scan.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Int, KeyKind::Uuid])
            .index(IndexDef::new("by_user", [KeyKind::Uuid, KeyKind::Int, KeyKind::Uuid]))
            .index(IndexDef::new("by_name", [KeyKind::Uuid, KeyKind::Int, KeyKind::Str]))
    }

    fn id(&self) -> Tuple {
        (self.unit.uuid(), i64::from(self.year.0), self.user.0).into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![
            IndexEntry { index: "by_user".into(), key: (self.user.0, i64::from(self.year.0), self.unit.uuid()).into() },
            IndexEntry {
                index: "by_name".into(),
                key: (self.unit.uuid(), i64::from(self.year.0), self.sort_name.as_str()).into(),
            },
        ]
    }
}

/// The link between a responsable and a pupil.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentLink {
    /// The adult.
    pub parent: UserId,
    /// The pupil.
    pub child: UserId,
    /// A *responsable légal* (at most two per pupil in SIECLE), as opposed to another contact.
    pub legal: bool,
    /// Holds parental authority: only then does the parent see results and justify absences.
    pub authority: bool,
    /// Contact priority, 1 first.
    pub priority: u8,
    /// Financially responsible.
    #[serde(default)]
    pub financial: bool,
}

impl ParentLink {
    /// Whether this link lets the parent see the child's results and act for them.
    pub fn acts_for_child(&self) -> bool {
        self.legal && self.authority
    }
}

impl Record for ParentLink {
    const COLLECTION: &'static str = "ent.parent_links";

    /// Keyed `(parent, child)`: a parent's children are one prefix scan.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Uuid])
            .index(IndexDef::new("by_child", [KeyKind::Uuid, KeyKind::Int, KeyKind::Uuid]))
    }

    fn id(&self) -> Tuple {
        (self.parent.0, self.child.0).into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: "by_child".into(),
            key: (self.child.0, i64::from(self.priority), self.parent.0).into(),
        }]
    }
}

/// A subject (matière), coded by the national nomenclature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// Its id.
    pub id: SubjectId,
    /// Its structure.
    pub structure: StructureId,
    /// Its code (the national nomenclature's, e.g. `030201`).
    pub code: String,
    /// Its label (`MATHEMATIQUES`).
    pub label: String,
    /// Where it was imported from.
    pub source: Option<SourceKey>,
}

impl Record for Subject {
    const COLLECTION: &'static str = "ent.subjects";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
            .index(IndexDef::new("by_code", [KeyKind::Uuid, KeyKind::Str]).unique())
            .index(by_source())
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut out = vec![IndexEntry { index: "by_code".into(), key: (self.structure.0, self.code.as_str()).into() }];
        out.extend(self.source.as_ref().map(SourceKey::entry));
        out
    }
}

/// A teacher teaching a subject to a class or group for a school year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Teaching {
    /// The teacher.
    pub teacher: UserId,
    /// The class or group.
    pub unit: Unit,
    /// The subject.
    pub subject: SubjectId,
    /// The school year.
    pub year: SchoolYear,
    /// The structure.
    pub structure: StructureId,
    /// Professeur principal of the class.
    #[serde(default)]
    pub principal: bool,
}

impl Record for Teaching {
    const COLLECTION: &'static str = "ent.teachings";

    /// Keyed `(unit, year, subject, teacher)`: a class's teachers by subject are one prefix scan.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Int, KeyKind::Uuid, KeyKind::Uuid])
            .index(IndexDef::new("by_teacher", [KeyKind::Uuid, KeyKind::Int, KeyKind::Uuid, KeyKind::Uuid]))
    }

    fn id(&self) -> Tuple {
        (self.unit.uuid(), i64::from(self.year.0), self.subject.0, self.teacher.0).into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry {
            index: "by_teacher".into(),
            key: (self.teacher.0, i64::from(self.year.0), self.unit.uuid(), self.subject.0).into(),
        }]
    }
}

/// A period (trimestre or semestre) of a structure's school year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    /// The structure.
    pub structure: StructureId,
    /// The school year.
    pub year: SchoolYear,
    /// 1, 2 or 3.
    pub index: u8,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// The conseil de classe, when planned.
    pub council: Option<NaiveDate>,
    /// A closed period is read-only.
    #[serde(default)]
    pub closed: bool,
}

impl Record for Period {
    const COLLECTION: &'static str = "ent.periods";

    /// Keyed `(structure, year, index)`.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Int, KeyKind::Int])
    }

    fn id(&self) -> Tuple {
        (self.structure.0, i64::from(self.year.0), i64::from(self.index)).into()
    }
}

/// Counters of the logins given per base login (`prenom.nom`), keyed `(base,)`: the highest collision
/// number given (the base alone counts as 1). The import numbers a namesake from it with two point reads,
/// where listing every login that starts with the base cost one key per namesake (hundreds for a common
/// name in an académie). A number once given is not given again, even after its account is deleted.
pub const LOGIN_NUMBERS: &str = "ent.login_numbers";

/// The declarations of every directory collection.
pub fn collections() -> Vec<CollectionDef> {
    vec![
        CollectionDef::new(LOGIN_NUMBERS, [KeyKind::Str]),
        Structure::collection(),
        Class::collection(),
        Group::collection(),
        User::collection(),
        Membership::collection(),
        ParentLink::collection(),
        Subject::collection(),
        Teaching::collection(),
        Period::collection(),
    ]
}
