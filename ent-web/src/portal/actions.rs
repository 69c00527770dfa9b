//! The portal's actions: the directory as each person may see it.
//!
//! Relationship rules (checked here, on top of the workflow right): a pupil sees their own classes and the
//! members of their classes; a parent sees the children they hold authority over and their classes; a
//! teacher sees the classes they teach and their members; staff and administrators of a structure see its
//! classes, its members and its figures.

use std::collections::BTreeMap;

use async_trait::async_trait;
use ent_core::directory::query::{self, Responsables};
use ent_core::directory::{Class, Group, ParentLink, Profile, SchoolYear, Structure, Subject, Unit, User};
use ent_core::module::{Action, Context};
use ent_core::storage::{Record, Scan, Transaction, TxExt};
use ent_core::{ClassId, Error, GroupId, Result, StructureId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DIRECTORY_READ;

/// Staff profiles that see their whole structure's directory.
const STAFF: [Profile; 6] = [
    Profile::Direction,
    Profile::VieScolaire,
    Profile::Administratif,
    Profile::Documentaliste,
    Profile::AdminLocal,
    Profile::AdminCentral,
];

fn me(ctx: &Context<'_>) -> Result<UserId> {
    ctx.caller().user_id().ok_or_else(|| Error::forbidden(DIRECTORY_READ))
}

fn year(ctx: &Context<'_>) -> SchoolYear {
    SchoolYear::containing(ctx.now().date_naive())
}

fn is_staff(ctx: &Context<'_>) -> bool {
    STAFF.iter().any(|p| ctx.caller().has_profile(*p))
}

/// A class or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A class (division).
    Class,
    /// A group.
    Group,
}

/// A class or group, as a list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UnitView {
    /// Class or group.
    pub kind: UnitKind,
    /// Its id.
    pub id: uuid::Uuid,
    /// Its name (`3A`).
    pub name: String,
    /// For a teacher: the subjects they teach there.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// For a teacher: whether they are its professeur principal.
    #[serde(default)]
    pub principal: bool,
}

fn unit_of(kind: UnitKind, id: uuid::Uuid) -> Unit {
    match kind {
        UnitKind::Class => Unit::Class(ClassId(id)),
        UnitKind::Group => Unit::Group(GroupId(id)),
    }
}

/// A unit's name and structure.
async fn unit_info(tx: &mut dyn Transaction, unit: Unit) -> Result<(String, StructureId)> {
    match unit {
        Unit::Class(c) => {
            let c = tx.get_record::<Class>(c).await?.ok_or_else(|| Error::not_found("class", c))?.value;
            Ok((c.name, c.structure))
        }
        Unit::Group(g) => {
            let g = tx.get_record::<Group>(g).await?.ok_or_else(|| Error::not_found("group", g))?.value;
            Ok((g.name, g.structure))
        }
    }
}

/// The classes and groups of a person for a year: memberships (pupils) and teachings (teachers).
async fn units(tx: &mut dyn Transaction, who: UserId, year: SchoolYear) -> Result<Vec<UnitView>> {
    let mut out: BTreeMap<uuid::Uuid, UnitView> = BTreeMap::new();
    for m in query::units_of(tx, who, year).await? {
        let (name, _) = unit_info(tx, m.unit).await?;
        let kind = if matches!(m.unit, Unit::Class(_)) { UnitKind::Class } else { UnitKind::Group };
        out.insert(m.unit.uuid(), UnitView { kind, id: m.unit.uuid(), name, subjects: vec![], principal: false });
    }
    for t in query::teachings_of(tx, who, year).await? {
        if let std::collections::btree_map::Entry::Vacant(e) = out.entry(t.unit.uuid()) {
            let (name, _) = unit_info(tx, t.unit).await?;
            let kind = if matches!(t.unit, Unit::Class(_)) { UnitKind::Class } else { UnitKind::Group };
            e.insert(UnitView { kind, id: t.unit.uuid(), name, subjects: vec![], principal: false });
        }
        let subject = tx.get_record::<Subject>(t.subject).await?.map(|s| s.value.label).unwrap_or_default();
        if let Some(v) = out.get_mut(&t.unit.uuid()) {
            if !subject.is_empty() && !v.subjects.contains(&subject) {
                v.subjects.push(subject);
            }
            v.principal |= t.principal;
        }
    }
    let mut list: Vec<UnitView> = out.into_values().collect();
    list.sort_by(|a, b| (a.kind == UnitKind::Group, &a.name).cmp(&(b.kind == UnitKind::Group, &b.name)));
    Ok(list)
}

/// Whether `parent` holds authority over `child`.
async fn has_authority(tx: &mut dyn Transaction, parent: UserId, child: UserId) -> Result<bool> {
    Ok(tx.get_record::<ParentLink>((parent.0, child.0)).await?.is_some_and(|l| l.value.acts_for_child()))
}

/// Input of [`MyClasses`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MyClassesInput {
    /// For a parent: the child whose classes to list (one they hold authority over).
    #[serde(default)]
    pub child: Option<uuid::Uuid>,
}

/// Output of [`MyClasses`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MyClassesOutput {
    /// Classes first, then groups, by name.
    pub units: Vec<UnitView>,
}

/// The classes of a structure for a year, by name (what staff see in the directory).
async fn classes_of_structure(
    tx: &mut dyn Transaction,
    structure: StructureId,
    year: SchoolYear,
) -> Result<Vec<UnitView>> {
    let scan = Scan::index(Class::COLLECTION, "by_structure").prefix((structure.0, i64::from(year.0))).limit(1000);
    Ok(tx
        .scan_records::<Class>(&scan)
        .await?
        .0
        .into_iter()
        .map(|c| UnitView {
            kind: UnitKind::Class,
            id: c.value.id.0,
            name: c.value.name,
            subjects: vec![],
            principal: false,
        })
        .collect())
}

/// `portal.my_classes`: the caller's classes and groups this year (taught or attended), or a child's; for
/// staff with none of their own, the classes of their structure.
#[derive(Debug)]
pub struct MyClasses;

#[async_trait]
impl Action for MyClasses {
    type Input = MyClassesInput;
    type Output = MyClassesOutput;
    const NAME: &'static str = "portal.my_classes";
    const RIGHT: &'static str = DIRECTORY_READ;
    const DESCRIPTION: &'static str =
        "The caller's classes and groups this school year, or those of a child; for staff, their structure's";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: MyClassesInput) -> Result<MyClassesOutput> {
        let me = me(ctx)?;
        let year = year(ctx);
        let who = match input.child {
            Some(child) if !has_authority(ctx.tx(), me, UserId(child)).await? => {
                return Err(Error::forbidden(DIRECTORY_READ));
            }
            Some(child) => UserId(child),
            None => me,
        };
        let staff_structure = if is_staff(ctx) && input.child.is_none() { ctx.caller().structure() } else { None };
        let mut list = units(ctx.tx(), who, year).await?;
        if list.is_empty()
            && let Some(structure) = staff_structure
        {
            list = classes_of_structure(ctx.tx(), structure, year).await?;
        }
        Ok(MyClassesOutput { units: list })
    }
}

/// Input of [`UnitMembers`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitMembersInput {
    /// Class or group.
    pub kind: UnitKind,
    /// Its id.
    pub id: uuid::Uuid,
}

/// A person as the directory shows them: a name, no personal details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PersonView {
    /// Their id.
    pub id: uuid::Uuid,
    /// Given name, then family name.
    pub display_name: String,
}

/// A teacher of the unit and their subjects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TeacherView {
    /// The teacher.
    pub person: PersonView,
    /// The subjects they teach there.
    pub subjects: Vec<String>,
    /// Professeur principal.
    pub principal: bool,
}

/// Output of [`UnitMembers`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UnitMembersOutput {
    /// The unit's name.
    pub name: String,
    /// Its pupils, in name order.
    pub members: Vec<PersonView>,
    /// Its teachers.
    pub teachers: Vec<TeacherView>,
}

fn person(u: &User) -> PersonView {
    PersonView { id: u.id.0, display_name: u.display_name() }
}

/// `portal.unit_members`: the pupils and teachers of a class or group the caller belongs to, teaches, has a
/// child in, or oversees as staff of its structure.
#[derive(Debug)]
pub struct UnitMembers;

#[async_trait]
impl Action for UnitMembers {
    type Input = UnitMembersInput;
    type Output = UnitMembersOutput;
    const NAME: &'static str = "portal.unit_members";
    const RIGHT: &'static str = DIRECTORY_READ;
    const DESCRIPTION: &'static str = "The pupils and teachers of a class or group the caller is related to";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: UnitMembersInput) -> Result<UnitMembersOutput> {
        let me = me(ctx)?;
        let year = year(ctx);
        let unit = unit_of(input.kind, input.id);
        let staff = is_staff(ctx);
        let caller_structure = ctx.caller().structure();
        let central = ctx.caller().has_profile(Profile::AdminCentral);
        let tx = ctx.tx();
        let (name, structure) = unit_info(tx, unit).await?;
        let members = query::members(tx, unit, year, 500, None).await?.items;
        let teachings = query::teachers_of(tx, unit, year, None).await?;
        let related = central
            || (staff && caller_structure == Some(structure))
            || members.iter().any(|m| m.id == me)
            || teachings.iter().any(|t| t.teacher == me)
            || {
                let children = query::children_of(tx, me, Responsables::WithAuthority).await?;
                children.iter().any(|(_, c)| members.iter().any(|m| m.id == c.id))
            };
        if !related {
            // Not "forbidden": whether a unit exists is not the caller's business either.
            return Err(Error::not_found("class", input.id));
        }
        let mut by_teacher: BTreeMap<uuid::Uuid, (Vec<String>, bool)> = BTreeMap::new();
        for t in &teachings {
            let subject = tx.get_record::<Subject>(t.subject).await?.map(|s| s.value.label).unwrap_or_default();
            let e = by_teacher.entry(t.teacher.0).or_default();
            if !subject.is_empty() && !e.0.contains(&subject) {
                e.0.push(subject);
            }
            e.1 |= t.principal;
        }
        let ids: Vec<UserId> = by_teacher.keys().map(|u| UserId(*u)).collect();
        let teachers = query::users(tx, &ids).await?;
        let mut teachers: Vec<TeacherView> = teachers
            .iter()
            .map(|u| {
                let (subjects, principal) = by_teacher.remove(&u.id.0).unwrap_or_default();
                TeacherView { person: person(u), subjects, principal }
            })
            .collect();
        teachers.sort_by(|a, b| a.subjects.cmp(&b.subjects));
        Ok(UnitMembersOutput { name, members: members.iter().map(person).collect(), teachers })
    }
}

/// A child, with their classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChildView {
    /// The child.
    pub person: PersonView,
    /// Their classes and groups this year.
    pub units: Vec<UnitView>,
}

/// Output of [`Children`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChildrenOutput {
    /// The children the caller holds parental authority over.
    pub children: Vec<ChildView>,
}

/// `portal.children`: a parent's children (those they hold authority over) and their classes.
#[derive(Debug)]
pub struct Children;

#[async_trait]
impl Action for Children {
    type Input = MyClassesInput;
    type Output = ChildrenOutput;
    const NAME: &'static str = "portal.children";
    const RIGHT: &'static str = DIRECTORY_READ;
    const DESCRIPTION: &'static str = "The caller's children (with parental authority) and their classes";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, _input: MyClassesInput) -> Result<ChildrenOutput> {
        let me = me(ctx)?;
        let year = year(ctx);
        let tx = ctx.tx();
        let mut children = Vec::new();
        for (_, child) in query::children_of(tx, me, Responsables::WithAuthority).await? {
            children.push(ChildView { person: person(&child), units: units(tx, child.id, year).await? });
        }
        Ok(ChildrenOutput { children })
    }
}

/// How many people of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileCount {
    /// The profile.
    pub profile: Profile,
    /// How many accounts hold it in the structure.
    pub count: u64,
}

/// Output of [`StructureCard`].
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StructureCardOutput {
    /// Its name.
    pub name: String,
    /// Its UAI.
    pub uai: Option<String>,
    /// Its académie.
    pub academie: String,
    /// Accounts per profile.
    pub people: Vec<ProfileCount>,
}

/// `portal.structure_card`: the caller's structure and its accounts per profile (staff only).
#[derive(Debug)]
pub struct StructureCard;

#[async_trait]
impl Action for StructureCard {
    type Input = MyClassesInput;
    type Output = StructureCardOutput;
    const NAME: &'static str = "portal.structure_card";
    const RIGHT: &'static str = DIRECTORY_READ;
    const DESCRIPTION: &'static str = "The caller's structure and how many accounts of each profile it has (staff)";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, _input: MyClassesInput) -> Result<StructureCardOutput> {
        if !is_staff(ctx) {
            return Err(Error::forbidden(DIRECTORY_READ));
        }
        let structure = ctx.caller().structure().ok_or_else(|| Error::forbidden(DIRECTORY_READ))?;
        let tx = ctx.tx();
        let s = tx.get_record::<Structure>(structure).await?.ok_or_else(|| Error::not_found("structure", structure))?;
        let mut people = Vec::new();
        for profile in
            [Profile::Eleve, Profile::Responsable, Profile::Enseignant, Profile::Direction, Profile::VieScolaire]
        {
            let scan = Scan::index(User::COLLECTION, "by_structure").prefix((structure.0, profile.as_str()));
            people.push(ProfileCount { profile, count: tx.count(&scan).await? });
        }
        Ok(StructureCardOutput {
            name: s.value.name,
            uai: s.value.uai.map(|u| u.as_str().to_owned()),
            academie: s.value.academie,
            people,
        })
    }
}
