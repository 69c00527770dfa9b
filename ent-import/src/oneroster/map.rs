//! From OneRoster rows to the normalized batch.

use std::collections::{BTreeMap, HashMap, HashSet};

use ent_core::directory::{Profile, SchoolYear, Uai};
use ent_core::{Error, Result};

use super::table::{Row, Status, Table};
use crate::feed::{
    Batch, Change, ChangeIn, ClassIn, GroupIn, Mode, ParentIn, PersonIn, PersonRef, StructureIn, SubjectIn, TeachingIn,
    UnitRef,
};
use crate::parsed::Parsed;
use crate::report::{Location, Rejection};

/// The profile of a OneRoster role (roles.csv `role`).
pub(crate) fn profile_of(role: &str) -> Option<Profile> {
    Some(match role {
        "student" => Profile::Eleve,
        "parent" | "guardian" | "relative" => Profile::Responsable,
        "teacher" => Profile::Enseignant,
        "administrator" | "principal" | "siteAdministrator" => Profile::Direction,
        "aide" | "proctor" | "counselor" => Profile::VieScolaire,
        "districtAdministrator" => Profile::Collectivite,
        "systemAdministrator" => Profile::Administratif,
        _ => return None,
    })
}

const USER_MAPPED: &[&str] =
    &["sourcedId", "status", "dateLastModified", "enabledUser", "givenName", "familyName", "email", "agentSourcedIds"];

/// The columns of `orgs.csv` read into the model.
const ORG_MAPPED: &[&str] = &["sourcedId", "status", "dateLastModified", "name", "type", "identifier"];

/// The non-empty fields of a row that the model does not hold, standard columns and the bundle's own
/// alike, kept with the record; a password is never kept.
fn unmapped(file: &str, mapped: &[&str], row: &Row) -> BTreeMap<String, Vec<String>> {
    let mut extra = BTreeMap::new();
    for (column, _) in super::table::columns(file).unwrap_or_default() {
        let v = row.get(column);
        if !mapped.contains(&column) && !v.is_empty() && column != "password" {
            extra.insert(column.to_owned(), vec![v.to_owned()]);
        }
    }
    for (k, v) in &row.extra {
        if !v.trim().is_empty() {
            extra.insert(k.clone(), vec![v.trim().to_owned()]);
        }
    }
    extra
}

struct ClassRow {
    key: String,
    school: String,
    course: String,
    class: bool,
}

pub(crate) struct Builder {
    source: String,
    year: Option<SchoolYear>,
    file: String,
    /// Whether the file being read is a delta.
    delta: bool,
    /// Whether roles.csv was read in bulk (then it holds every role of the bundle's users).
    roles_bulk: bool,
    /// Whether enrollments.csv was read in bulk (then it holds every enrollment of the bundle's users).
    enrollments_bulk: bool,
    rejected: Vec<Rejection>,
    locations: HashMap<(&'static str, String), Location>,
    structures: Vec<StructureIn>,
    schools: HashSet<String>,
    /// Orgs of the bundle that are not schools (districts...): no role nor class may hang there.
    other_orgs: HashSet<String>,
    courses: HashMap<String, (String, String)>,
    classes: HashMap<String, ClassRow>,
    class_ins: Vec<ClassIn>,
    group_ins: Vec<GroupIn>,
    subjects: BTreeMap<String, SubjectIn>,
    people: Vec<PersonIn>,
    person_index: HashMap<String, usize>,
    roles: HashMap<String, Vec<String>>,
    agents: HashMap<String, Vec<String>>,
    deleted: Vec<String>,
    changes: Vec<ChangeIn>,
    deleted_units: Vec<String>,
}

impl Builder {
    pub(crate) fn new(source: &str, year: Option<SchoolYear>, rejected: Vec<Rejection>) -> Self {
        Builder {
            source: source.to_owned(),
            year,
            file: String::new(),
            delta: false,
            roles_bulk: false,
            enrollments_bulk: false,
            rejected,
            locations: HashMap::new(),
            structures: vec![],
            schools: HashSet::new(),
            other_orgs: HashSet::new(),
            courses: HashMap::new(),
            classes: HashMap::new(),
            class_ins: vec![],
            group_ins: vec![],
            subjects: BTreeMap::new(),
            people: vec![],
            person_index: HashMap::new(),
            roles: HashMap::new(),
            agents: HashMap::new(),
            deleted: vec![],
            changes: vec![],
            deleted_units: vec![],
        }
    }

    fn reject(&mut self, kind: &'static str, key: &str, line: u64, reason: impl Into<String>) {
        self.rejected.push(Rejection {
            kind,
            key: key.to_owned(),
            reason: reason.into(),
            location: Some(Location { file: self.file.clone(), line }),
        });
    }

    pub(crate) fn table(&mut self, file: &str, table: Table, delta: bool) {
        self.file = file.to_owned();
        self.delta = delta;
        self.roles_bulk |= file == "roles.csv" && !delta;
        self.enrollments_bulk |= file == "enrollments.csv" && !delta;
        for (row, status) in table.rows {
            let key = row.get("sourcedId").to_owned();
            let deleted = status == Status::ToBeDeleted;
            let result = match (file, deleted) {
                ("users.csv", true) => {
                    self.locations
                        .insert(("person", key.clone()), Location { file: self.file.clone(), line: row.line });
                    self.deleted.push(key.clone());
                    Ok(())
                }
                ("users.csv", false) => self.user(&row),
                ("classes.csv", true) => {
                    // The class stays with its history; its members and teachers of the year leave it.
                    let unit_key = self.unit_key(&key);
                    for kind in ["class", "group"] {
                        self.locations
                            .insert((kind, unit_key.clone()), Location { file: self.file.clone(), line: row.line });
                    }
                    self.deleted_units.push(unit_key);
                    Ok(())
                }
                ("classes.csv", false) => self.class(&row),
                ("roles.csv", _) => self.role(&row, deleted),
                ("enrollments.csv", _) => self.enrollment(&row, deleted),
                ("orgs.csv", true) => {
                    Err("deletions of schools are not applied: an administrator decides (as for the AAF)".into())
                }
                (_, true) => Err("deletions of this file are not applied".into()),
                ("academicSessions.csv", false) => self.session(&row),
                ("orgs.csv", false) => self.org(&row),
                ("courses.csv", false) => {
                    let code = [row.get("courseCode"), row.list("subjectCodes").first().map_or("", |s| s.as_str())]
                        .into_iter()
                        .find(|c| !c.is_empty())
                        .unwrap_or(&key)
                        .to_owned();
                    self.courses.insert(key.clone(), (code, row.get("title").to_owned()));
                    Ok(())
                }
                ("demographics.csv", false) => self.demographics(&row),
                _ => Ok(()),
            };
            if let Err(reason) = result {
                let kind = if file == "users.csv" { "person" } else { "row" };
                self.reject(kind, &key, row.line, reason);
            }
        }
    }

    fn session(&mut self, row: &Row) -> Result<(), String> {
        let start = row.date("startDate")?;
        row.date("endDate")?;
        if row.get("type") == "schoolYear"
            && self.year.is_none()
            && let Some(start) = start
        {
            self.year = Some(SchoolYear::containing(start));
        }
        Ok(())
    }

    fn org(&mut self, row: &Row) -> Result<(), String> {
        if row.get("type") != "school" {
            self.other_orgs.insert(row.get("sourcedId").to_owned());
            return Ok(());
        }
        let key = row.get("sourcedId").to_owned();
        let uai: Uai =
            row.get("identifier").parse().map_err(|e| format!("a school's `identifier` must be its UAI: {e}"))?;
        self.schools.insert(key.clone());
        self.structures.push(StructureIn {
            key,
            uai: uai.as_str().to_owned(),
            name: row.get("name").to_owned(),
            // OneRoster does not say: what the directory holds stays (an AAF import of the same UAI, an
            // administrator), and a new structure gets the defaults.
            kind: None,
            contract: None,
            academie: None,
            time_zone: None,
            periods: None,
            extra: unmapped("orgs.csv", ORG_MAPPED, row),
        });
        Ok(())
    }

    fn year(&self) -> SchoolYear {
        self.year.unwrap_or(SchoolYear(0))
    }

    /// The key of a class of the year: the one of the bundle, else the one imported earlier.
    fn unit_key(&self, class: &str) -> String {
        self.classes.get(class).map_or_else(|| format!("{}${}", self.year().0, class), |c| c.key.clone())
    }

    /// Checks that an org may hold classes and roles: a school of the bundle, or — in a delta, which need
    /// not carry its orgs — any org but one of the bundle's that is not a school (the apply then finds the
    /// school imported earlier, or rejects the row).
    fn check_school(&self, org: &str, column: &str) -> Result<(), String> {
        if self.schools.contains(org) || (self.delta && !self.other_orgs.contains(org)) {
            return Ok(());
        }
        if self.other_orgs.contains(org) {
            return Err(format!("`{column}` `{org}` is not a school of the bundle"));
        }
        Err(format!("unknown school `{org}`"))
    }

    fn class(&mut self, row: &Row) -> Result<(), String> {
        let key = row.get("sourcedId").to_owned();
        let school = row.get("schoolSourcedId").to_owned();
        self.check_school(&school, "schoolSourcedId")?;
        let class = match row.get("classType") {
            "homeroom" => true,
            "scheduled" => false,
            other => return Err(format!("`classType` `{other}` is neither homeroom nor scheduled")),
        };
        let name =
            [row.get("classCode"), row.get("title")].into_iter().find(|s| !s.is_empty()).unwrap_or(&key).to_owned();
        // A class's key names one class of one school year.
        let unit_key = format!("{}${}", self.year().0, key);
        // The apply may still refuse it (a delta's school that is not in the directory either).
        let kind = if class { "class" } else { "group" };
        self.locations.insert((kind, unit_key.clone()), Location { file: self.file.clone(), line: row.line });
        if class {
            self.class_ins.push(ClassIn {
                key: unit_key.clone(),
                structure: school.clone(),
                name,
                level: row.list("grades").first().cloned(),
            });
        } else {
            self.group_ins.push(GroupIn { key: unit_key.clone(), structure: school.clone(), name });
        }
        self.classes
            .insert(key, ClassRow { key: unit_key, school, course: row.get("courseSourcedId").to_owned(), class });
        Ok(())
    }

    fn user(&mut self, row: &Row) -> Result<(), String> {
        let key = row.get("sourcedId").to_owned();
        if self.person_index.contains_key(&key) {
            return Err("the same user appears twice".into());
        }
        let disabled = match row.get("enabledUser") {
            "true" => false,
            "false" => true,
            other => return Err(format!("`enabledUser` `{other}` is neither true nor false")),
        };
        let extra = unmapped("users.csv", USER_MAPPED, row);
        self.agents.insert(key.clone(), row.list("agentSourcedIds"));
        self.locations.insert(("person", key.clone()), Location { file: self.file.clone(), line: row.line });
        self.locations.insert(("link", key.clone()), Location { file: self.file.clone(), line: row.line });
        self.person_index.insert(key.clone(), self.people.len());
        self.people.push(PersonIn {
            key,
            given_name: row.get("givenName").to_owned(),
            family_name: row.get("familyName").to_owned(),
            birth_date: None,
            email: Some(row.get("email").to_owned()).filter(|e| !e.is_empty()),
            affiliations: vec![],
            adult: false,
            disabled,
            units: vec![],
            teachings: vec![],
            parents: vec![],
            kept_parents: vec![],
            extra,
        });
        Ok(())
    }

    fn person(&mut self, key: &str) -> Result<&mut PersonIn, String> {
        let i = *self.person_index.get(key).ok_or_else(|| format!("unknown user `{key}`"))?;
        Ok(&mut self.people[i])
    }

    fn demographics(&mut self, row: &Row) -> Result<(), String> {
        let birth = row.date("birthDate")?;
        self.person(row.get("sourcedId"))?.birth_date = birth;
        Ok(())
    }

    /// Records a change of a delta, with the line it comes from.
    fn change(&mut self, kind: &'static str, key: &str, person: &str, change: Change, line: u64) {
        self.locations.insert((kind, key.to_owned()), Location { file: self.file.clone(), line });
        self.changes.push(ChangeIn { key: key.to_owned(), person: person.to_owned(), change });
    }

    fn role(&mut self, row: &Row, deleted: bool) -> Result<(), String> {
        row.date("beginDate")?;
        row.date("endDate")?;
        let role = row.get("role");
        let profile = profile_of(role).ok_or_else(|| format!("unknown role `{role}`"))?;
        let org = row.get("orgSourcedId").to_owned();
        self.check_school(&org, "orgSourcedId")
            .map_err(|_| format!("`orgSourcedId` `{org}` is not a school of the bundle"))?;
        let user = row.get("userSourcedId").to_owned();
        if self.delta {
            // One role added or removed, the user's others as they are.
            let change = match deleted {
                true => Change::RemoveAffiliation { structure: org, profile },
                false => Change::AddAffiliation(PersonRef { structure: org, profile, functions: vec![] }),
            };
            self.change("affiliation", row.get("sourcedId"), &user, change, row.line);
        } else {
            let p = self.person(&user)?;
            if !p.affiliations.iter().any(|a| a.structure == org && a.profile == profile) {
                p.affiliations.push(PersonRef { structure: org, profile, functions: vec![] });
            }
        }
        if !deleted {
            self.roles.entry(user).or_default().push(role.to_owned());
        }
        Ok(())
    }

    fn enrollment(&mut self, row: &Row, deleted: bool) -> Result<(), String> {
        row.date("beginDate")?;
        row.date("endDate")?;
        let class = row.get("classSourcedId");
        let known = self.classes.get(class).map(|c| (c.key.clone(), c.school.clone(), c.course.clone(), c.class));
        let (unit_key, school, course, is_class) = match known {
            Some(k) => k,
            // A delta may enroll in a class imported earlier: the apply finds it (class or group) by its key.
            None if self.delta => (self.unit_key(class), row.get("schoolSourcedId").to_owned(), String::new(), true),
            None => return Err(format!("unknown class `{class}`")),
        };
        let user = row.get("userSourcedId").to_owned();
        let key = row.get("sourcedId").to_owned();
        match row.get("role") {
            "student" if self.delta => {
                let change = match deleted {
                    true => Change::Leave { unit: unit_key },
                    false => Change::Join { unit: unit_key },
                };
                self.change("membership", &key, &user, change, row.line);
            }
            "student" => {
                let unit = if is_class { UnitRef::Class(unit_key) } else { UnitRef::Group(unit_key) };
                let p = self.person(&user)?;
                if !p.units.contains(&unit) {
                    p.units.push(unit);
                }
            }
            "teacher" => {
                let principal = row.get("primary") == "true";
                // The class's course gives the subject, when the bundle carries the class.
                let subject = match course.is_empty() {
                    true => None,
                    false => Some(self.subject(&school, &course, row.line)?),
                };
                if self.delta {
                    let change = match deleted {
                        true => Change::StopTeaching { unit: unit_key, subject },
                        false => Change::Teach { unit: unit_key, subject, principal },
                    };
                    self.change("teaching", &key, &user, change, row.line);
                } else {
                    let unit = if is_class { UnitRef::Class(unit_key) } else { UnitRef::Group(unit_key) };
                    let subject = subject.ok_or_else(|| format!("class `{class}` has no course"))?;
                    let p = self.person(&user)?;
                    p.teachings.push(TeachingIn { unit, subject, principal });
                }
            }
            // Administrators, proctors and aides of a class: the directory has no such link.
            _ => {}
        }
        Ok(())
    }

    /// The subject of a course in a school: the course of the bundle, else (in a delta) the subject imported
    /// earlier with that key.
    fn subject(&mut self, school: &str, course: &str, line: u64) -> Result<String, String> {
        let subject = format!("{school}${course}");
        match self.courses.get(course).cloned() {
            Some((code, label)) => {
                // The apply may still refuse it (a school unknown to the directory): the first enrollment
                // that needs it says where.
                let at = Location { file: self.file.clone(), line };
                self.locations.entry(("subject", subject.clone())).or_insert(at);
                self.subjects.entry(subject.clone()).or_insert_with(|| SubjectIn {
                    key: subject.clone(),
                    structure: school.to_owned(),
                    code,
                    label,
                });
            }
            None if self.delta => {}
            None => return Err(format!("unknown course `{course}`")),
        }
        Ok(subject)
    }

    pub(crate) fn finish(mut self, full: bool) -> Result<Parsed> {
        let year = self.year.ok_or_else(|| {
            Error::invalid("year", "the school year is neither given nor in academicSessions.csv (type schoolYear)")
        })?;
        // Parents of a student: its agents that are parents or guardians (responsables légaux), or relatives.
        for i in 0..self.people.len() {
            let key = self.people[i].key.clone();
            let agents = self.agents.get(&key).cloned().unwrap_or_default();
            let mut links = Vec::new();
            let mut kept = Vec::new();
            for agent in agents {
                let roles = self.roles.get(&agent).cloned().unwrap_or_default();
                let legal = roles.iter().any(|r| r == "parent" || r == "guardian");
                if !legal && !roles.iter().any(|r| r == "relative") {
                    // A bulk roles.csv holds every role: this agent is no responsable. A delta's holds only
                    // the roles that changed: the link the directory holds, if any, stays as it is.
                    if !self.roles_bulk {
                        kept.push(agent);
                    }
                    continue;
                }
                let priority = u8::try_from(links.len() + 1).unwrap_or(u8::MAX);
                links.push(ParentIn { parent: agent, legal, authority: legal, priority, financial: false });
            }
            self.people[i].parents = links;
            self.people[i].kept_parents = kept;
        }
        let whole_file_rejected = self.rejected.iter().any(|r| r.kind == "file");
        let mode = if full && !whole_file_rejected {
            Mode::Full { structures: self.structures.iter().map(|s| s.key.clone()).collect() }
        } else {
            Mode::Delta
        };
        let batch = Batch {
            source: self.source,
            mode,
            year,
            structures: self.structures,
            subjects: self.subjects.into_values().collect(),
            classes: self.class_ins,
            groups: self.group_ins,
            people: self.people,
            deleted_people: self.deleted,
            changes: self.changes,
            deleted_units: self.deleted_units,
            // Without a bulk enrollments.csv the bundle does not say who is in which class: memberships
            // and assignments stay as the directory holds them, but for the delta's changes.
            states_units: self.enrollments_bulk,
            refused_people: self.rejected.iter().filter(|r| r.kind == "person").map(|r| r.key.clone()).collect(),
        };
        Ok(Parsed { batch, rejected: self.rejected, locations: self.locations })
    }
}
