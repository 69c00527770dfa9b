//! A user's effective rights, compiled once and then answered from memory: the workflow rights they hold
//! in each structure (a hash set per structure), and the directory relations the guards need (children
//! they act for, units and subjects they teach, structures where they are staff, their classes and
//! groups). Every question is a hash lookup.
//!
//! Compiling reads the directory and the structure's grants in one read-only transaction, together with
//! the rights versions it was compiled at, which [`super::RightsEngine`] compares on each call.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use super::roles::{Grant, Grantee, Role, Withdrawal};
use crate::directory::{AccountState, Function, ParentLink, Profile, SchoolYear, Unit, User, query};
use crate::module::Registry;
use crate::storage::{Record, Scan, Transaction, TxExt};
use crate::{Result, RoleId, StructureId, SubjectId, UserId};

/// What a user is in one structure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// Profiles held there.
    pub profiles: Vec<Profile>,
    /// Functions held there.
    pub functions: Vec<Function>,
}

/// The directory facts about a user that rights depend on, for one school year.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub(crate) user: UserId,
    pub(crate) active: bool,
    pub(crate) adult: bool,
    pub(crate) central: bool,
    pub(crate) year: SchoolYear,
    /// The user's rights version these facts were read at.
    pub(crate) version: i64,
    pub(crate) structures: HashMap<StructureId, Standing>,
    /// Children they act for (legal responsable with parental authority).
    pub(crate) children: HashSet<UserId>,
    /// Classes and groups they are a member of, with the unit's structure.
    pub(crate) units: HashMap<Unit, StructureId>,
    pub(crate) taught: HashSet<(Unit, SubjectId)>,
    pub(crate) taught_units: HashSet<Unit>,
    pub(crate) principal_of: HashSet<Unit>,
}

/// The workflow rights held in one structure, and the structure's rights version they were compiled at.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkflowSet {
    pub(crate) version: i64,
    pub(crate) rights: HashSet<Box<str>>,
}

/// A user's effective rights: answers every check from memory.
///
/// Obtained from [`super::RightsEngine::rights`] (which keeps it true across portal instances), or in a
/// handler from [`crate::module::Context::rights`]. A disabled account's rights hold nothing.
#[derive(Debug, Clone)]
pub struct EffectiveRights {
    pub(crate) facts: Arc<Facts>,
    pub(crate) workflow: HashMap<StructureId, Arc<WorkflowSet>>,
}

impl EffectiveRights {
    /// The user.
    pub fn user(&self) -> UserId {
        self.facts.user
    }

    /// Whether the account may be used at all (a disabled account holds nothing).
    pub fn is_active(&self) -> bool {
        self.facts.active
    }

    /// An adult pupil, who acts for themselves where a parent would.
    pub fn is_adult(&self) -> bool {
        self.facts.active && self.facts.adult
    }

    /// A central administrator: every structure.
    pub fn is_central_admin(&self) -> bool {
        self.facts.active && self.facts.central
    }

    /// The school year the relations were compiled for.
    pub fn year(&self) -> SchoolYear {
        self.facts.year
    }

    /// Whether the user holds the workflow right `right` in `structure`. Well under a microsecond: one
    /// lookup of the structure, one of the right.
    pub fn holds(&self, structure: StructureId, right: &str) -> bool {
        self.workflow.get(&structure).is_some_and(|w| w.rights.contains(right))
    }

    /// The workflow rights held in `structure`, if they were compiled (sorted).
    pub fn rights_in(&self, structure: StructureId) -> Vec<&str> {
        let mut out: Vec<&str> =
            self.workflow.get(&structure).map(|w| w.rights.iter().map(|r| &**r).collect()).unwrap_or_default();
        out.sort_unstable();
        out
    }

    /// The structures the user belongs to (a central administrator belongs to every one without being
    /// listed).
    pub fn structures(&self) -> impl Iterator<Item = StructureId> + '_ {
        self.facts.structures.keys().copied()
    }

    /// Whether the user holds `profile` in `structure` (a central administrator holds
    /// [`Profile::AdminCentral`] everywhere).
    pub fn has_profile(&self, structure: StructureId, profile: Profile) -> bool {
        self.facts.active
            && ((profile == Profile::AdminCentral && self.facts.central)
                || self.facts.structures.get(&structure).is_some_and(|s| s.profiles.contains(&profile)))
    }

    /// Whether the user holds `function` in `structure`.
    pub fn has_function(&self, structure: StructureId, function: &Function) -> bool {
        self.facts.active && self.facts.structures.get(&structure).is_some_and(|s| s.functions.contains(function))
    }

    /// Whether the user administers `structure`: a local administrator there, or a central administrator.
    pub fn administers(&self, structure: StructureId) -> bool {
        self.is_central_admin() || self.has_profile(structure, Profile::AdminLocal)
    }

    /// Whether the user acts for `child`: a legal responsable with parental authority.
    pub fn acts_for(&self, child: UserId) -> bool {
        self.facts.active && self.facts.children.contains(&child)
    }

    /// The children the user acts for.
    pub fn children(&self) -> impl Iterator<Item = UserId> + '_ {
        self.facts.children.iter().copied().filter(|_| self.facts.active)
    }

    /// Whether the user is a member of a class or group this year.
    pub fn is_member(&self, unit: Unit) -> bool {
        self.facts.active && self.facts.units.contains_key(&unit)
    }

    /// Whether the user teaches `subject` to `unit` this year.
    pub fn teaches(&self, unit: Unit, subject: SubjectId) -> bool {
        self.facts.active && self.facts.taught.contains(&(unit, subject))
    }

    /// Whether the user teaches anything to `unit` this year.
    pub fn teaches_unit(&self, unit: Unit) -> bool {
        self.facts.active && self.facts.taught_units.contains(&unit)
    }

    /// Whether the user is professeur principal of `unit` this year.
    pub fn is_principal_of(&self, unit: Unit) -> bool {
        self.facts.active && self.facts.principal_of.contains(&unit)
    }
}

/// Why a workflow right is held in a structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A module's manifest grants it to this profile by default, and the structure did not withdraw it.
    Default {
        /// The profile.
        profile: Profile,
    },
    /// A role that contains the right, granted in the structure.
    Role {
        /// The role's id.
        role: RoleId,
        /// The role's name.
        name: String,
        /// The grant's grantee that matched the user.
        grantee: Grantee,
    },
}

/// A structure's grants and withdrawals, as read for compiling or explaining.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    pub(crate) grants: Vec<Grant>,
    pub(crate) roles: HashMap<RoleId, Role>,
    pub(crate) withdrawals: HashSet<(String, Profile)>,
}

pub(crate) async fn load_facts(
    tx: &mut dyn Transaction,
    user: UserId,
    year: SchoolYear,
    version: i64,
) -> Result<Facts> {
    let mut facts = Facts {
        user,
        active: false,
        adult: false,
        central: false,
        year,
        version,
        structures: HashMap::new(),
        children: HashSet::new(),
        units: HashMap::new(),
        taught: HashSet::new(),
        taught_units: HashSet::new(),
        principal_of: HashSet::new(),
    };
    let Some(record) = tx.get_record::<User>(user).await? else { return Ok(facts) };
    let record = record.value;
    if matches!(record.state, AccountState::Disabled { .. }) {
        return Ok(facts);
    }
    facts.active = true;
    facts.adult = record.adult;
    for a in &record.affiliations {
        facts.central |= a.profile == Profile::AdminCentral;
        let standing = facts.structures.entry(a.structure).or_default();
        if !standing.profiles.contains(&a.profile) {
            standing.profiles.push(a.profile);
        }
        for f in &a.functions {
            if !standing.functions.contains(f) {
                standing.functions.push(f.clone());
            }
        }
    }
    for m in query::units_of(tx, user, year).await? {
        facts.units.insert(m.unit, m.structure);
    }
    let scan = Scan::primary(ParentLink::COLLECTION).prefix((user.0,)).limit(1000);
    for link in tx.scan_records::<ParentLink>(&scan).await?.0 {
        if link.value.acts_for_child() {
            facts.children.insert(link.value.child);
        }
    }
    for t in query::teachings_of(tx, user, year).await? {
        facts.taught.insert((t.unit, t.subject));
        facts.taught_units.insert(t.unit);
        if t.principal {
            facts.principal_of.insert(t.unit);
        }
    }
    Ok(facts)
}

pub(crate) async fn load_policy(tx: &mut dyn Transaction, structure: StructureId) -> Result<Policy> {
    let mut policy = Policy::default();
    let mut cursor = None;
    loop {
        let scan = Scan::primary(Grant::COLLECTION).prefix((structure.0,)).limit(1000).after(cursor);
        let (page, next) = tx.scan_records::<Grant>(&scan).await?;
        policy.grants.extend(page.into_iter().map(|g| g.value));
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut ids: Vec<RoleId> = policy.grants.iter().map(|g| g.role).collect();
    ids.sort();
    ids.dedup();
    let keys: Vec<crate::storage::Tuple> = ids.iter().map(|id| (*id).into()).collect();
    for raw in tx.get_many(Role::COLLECTION, &keys).await?.into_iter().flatten() {
        let role = crate::storage::typed::from_raw::<Role>(&raw)?.value;
        policy.roles.insert(role.id, role);
    }
    let scan = Scan::primary(Withdrawal::COLLECTION).prefix((structure.0,)).limit(1000);
    for w in tx.scan_records::<Withdrawal>(&scan).await?.0 {
        policy.withdrawals.insert((w.value.right, w.value.profile));
    }
    Ok(policy)
}

impl Facts {
    /// Whether the user takes part in `structure` at all: affiliated there, or a central administrator.
    pub(crate) fn present_in(&self, structure: StructureId) -> bool {
        self.active && (self.central || self.structures.contains_key(&structure))
    }

    pub(crate) fn profiles_in(&self, structure: StructureId) -> Vec<Profile> {
        let mut out = self.structures.get(&structure).map(|s| s.profiles.clone()).unwrap_or_default();
        if self.central && !out.contains(&Profile::AdminCentral) {
            out.push(Profile::AdminCentral);
        }
        out
    }

    pub(crate) fn matches(&self, structure: StructureId, grantee: &Grantee) -> bool {
        match grantee {
            Grantee::Profile(p) => self.profiles_in(structure).contains(p),
            Grantee::Function(f) => self.structures.get(&structure).is_some_and(|s| s.functions.contains(f)),
            Grantee::Group(g) => self.units.contains_key(&Unit::Group(*g)),
            Grantee::Class(c) => self.units.contains_key(&Unit::Class(*c)),
            Grantee::User(u) => *u == self.user,
        }
    }
}

/// Every (right, source) that gives the user a workflow right in `structure`: the one rule that compiling
/// and explaining share. Rights no module declares any more are skipped.
pub(crate) fn sources(
    registry: &Registry,
    facts: &Facts,
    structure: StructureId,
    policy: &Policy,
) -> Vec<(String, Source)> {
    let mut out = Vec::new();
    if !facts.present_in(structure) {
        return out;
    }
    let profiles = facts.profiles_in(structure);
    for decl in registry.rights() {
        for p in &decl.default_grants {
            if profiles.contains(p) && !policy.withdrawals.contains(&(decl.name.clone(), *p)) {
                out.push((decl.name.clone(), Source::Default { profile: *p }));
            }
        }
    }
    for grant in &policy.grants {
        if !facts.matches(structure, &grant.grantee) {
            continue;
        }
        let Some(role) = policy.roles.get(&grant.role) else { continue };
        for right in &role.rights {
            if registry.right(right).is_some() {
                out.push((
                    right.clone(),
                    Source::Role { role: role.id, name: role.name.clone(), grantee: grant.grantee.clone() },
                ));
            }
        }
    }
    out
}

pub(crate) fn workflow(
    registry: &Registry,
    facts: &Facts,
    structure: StructureId,
    policy: &Policy,
    version: i64,
) -> WorkflowSet {
    let rights = sources(registry, facts, structure, policy).into_iter().map(|(r, _)| r.into_boxed_str()).collect();
    WorkflowSet { version, rights }
}
