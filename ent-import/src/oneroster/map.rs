//! From OneRoster rows to the normalized batch.

use std::collections::{BTreeMap, HashMap, HashSet};

use ent_core::directory::{Profile, SchoolYear, StructureKind, Uai};
use ent_core::{Error, Result};

use super::table::{Row, Status, Table};
use crate::feed::{
    Batch, ClassIn, GroupIn, Mode, ParentIn, PersonIn, PersonRef, StructureIn, SubjectIn, TeachingIn, UnitRef,
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
    &["sourcedId", "status", "dateLastModified", "givenName", "familyName", "email", "agentSourcedIds"];

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
    rejected: Vec<Rejection>,
    locations: HashMap<(&'static str, String), Location>,
    structures: Vec<StructureIn>,
    schools: HashSet<String>,
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
}

impl Builder {
    pub(crate) fn new(source: &str, year: Option<SchoolYear>, rejected: Vec<Rejection>) -> Self {
        Builder {
            source: source.to_owned(),
            year,
            file: String::new(),
            rejected,
            locations: HashMap::new(),
            structures: vec![],
            schools: HashSet::new(),
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

    pub(crate) fn table(&mut self, file: &str, table: Table) {
        self.file = file.to_owned();
        for (row, status) in table.rows {
            let key = row.get("sourcedId").to_owned();
            if status == Status::ToBeDeleted {
                if file == "users.csv" {
                    self.locations
                        .insert(("person", key.clone()), Location { file: self.file.clone(), line: row.line });
                    self.deleted.push(key);
                } else {
                    self.reject("row", &key, row.line, "deletions of this file are not applied: send it in bulk");
                }
                continue;
            }
            let result = match file {
                "academicSessions.csv" => self.session(&row),
                "orgs.csv" => self.org(&row),
                "courses.csv" => {
                    let code = [row.get("courseCode"), row.list("subjectCodes").first().map_or("", |s| s.as_str())]
                        .into_iter()
                        .find(|c| !c.is_empty())
                        .unwrap_or(&key)
                        .to_owned();
                    self.courses.insert(key.clone(), (code, row.get("title").to_owned()));
                    Ok(())
                }
                "classes.csv" => self.class(&row),
                "users.csv" => self.user(&row),
                "demographics.csv" => self.demographics(&row),
                "roles.csv" => self.role(&row),
                _ => self.enrollment(&row),
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
            // OneRoster does not say: ent's defaults, until the structure or the AAF says otherwise.
            kind: StructureKind::Autre,
            contract: ent_core::directory::Contract::Public,
            academie: String::new(),
            time_zone: "Europe/Paris".into(),
            // Nor does it say trimestres or semestres: the structure's choice stays.
            periods: None,
        });
        Ok(())
    }

    fn year(&self) -> SchoolYear {
        self.year.unwrap_or(SchoolYear(0))
    }

    fn class(&mut self, row: &Row) -> Result<(), String> {
        let key = row.get("sourcedId").to_owned();
        let school = row.get("schoolSourcedId").to_owned();
        if !self.schools.contains(&school) {
            return Err(format!("unknown school `{school}`"));
        }
        let class = match row.get("classType") {
            "homeroom" => true,
            "scheduled" => false,
            other => return Err(format!("`classType` `{other}` is neither homeroom nor scheduled")),
        };
        let name =
            [row.get("classCode"), row.get("title")].into_iter().find(|s| !s.is_empty()).unwrap_or(&key).to_owned();
        // A class's key names one class of one school year.
        let unit_key = format!("{}${}", self.year().0, key);
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
        let mut extra = BTreeMap::new();
        for c in super::table::columns("users.csv").unwrap_or_default() {
            let v = row.get(c.0);
            if !USER_MAPPED.contains(&c.0) && !v.is_empty() && c.0 != "password" {
                extra.insert(c.0.to_owned(), vec![v.to_owned()]);
            }
        }
        for (k, v) in &row.extra {
            if !v.trim().is_empty() {
                extra.insert(k.clone(), vec![v.trim().to_owned()]);
            }
        }
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
            units: vec![],
            teachings: vec![],
            parents: vec![],
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

    fn role(&mut self, row: &Row) -> Result<(), String> {
        row.date("beginDate")?;
        row.date("endDate")?;
        let role = row.get("role");
        let profile = profile_of(role).ok_or_else(|| format!("unknown role `{role}`"))?;
        let org = row.get("orgSourcedId").to_owned();
        if !self.schools.contains(&org) {
            return Err(format!("`orgSourcedId` `{org}` is not a school of the bundle"));
        }
        let user = row.get("userSourcedId").to_owned();
        let p = self.person(&user)?;
        if !p.affiliations.iter().any(|a| a.structure == org && a.profile == profile) {
            p.affiliations.push(PersonRef { structure: org, profile, functions: vec![] });
        }
        self.roles.entry(user).or_default().push(role.to_owned());
        Ok(())
    }

    fn enrollment(&mut self, row: &Row) -> Result<(), String> {
        row.date("beginDate")?;
        row.date("endDate")?;
        let class = row.get("classSourcedId");
        let c = self.classes.get(class).ok_or_else(|| format!("unknown class `{class}`"))?;
        let (unit_key, school, course, is_class) = (c.key.clone(), c.school.clone(), c.course.clone(), c.class);
        let unit = if is_class { UnitRef::Class(unit_key) } else { UnitRef::Group(unit_key) };
        match row.get("role") {
            "student" => {
                let p = self.person(row.get("userSourcedId"))?;
                if !p.units.contains(&unit) {
                    p.units.push(unit);
                }
            }
            "teacher" => {
                let (code, label) =
                    self.courses.get(&course).cloned().ok_or_else(|| format!("unknown course `{course}`"))?;
                let subject = format!("{school}${course}");
                self.subjects.entry(subject.clone()).or_insert_with(|| SubjectIn {
                    key: subject.clone(),
                    structure: school.clone(),
                    code,
                    label,
                });
                let principal = row.get("primary") == "true";
                let p = self.person(row.get("userSourcedId"))?;
                p.teachings.push(TeachingIn { unit, subject, principal });
            }
            // Administrators, proctors and aides of a class: the directory has no such link.
            _ => {}
        }
        Ok(())
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
            for agent in agents {
                let roles = self.roles.get(&agent).cloned().unwrap_or_default();
                let legal = roles.iter().any(|r| r == "parent" || r == "guardian");
                if !legal && !roles.iter().any(|r| r == "relative") {
                    continue;
                }
                let priority = u8::try_from(links.len() + 1).unwrap_or(u8::MAX);
                links.push(ParentIn { parent: agent, legal, authority: legal, priority, financial: false });
            }
            self.people[i].parents = links;
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
            refused_people: self.rejected.iter().filter(|r| r.kind == "person").map(|r| r.key.clone()).collect(),
        };
        Ok(Parsed { batch, rejected: self.rejected, locations: self.locations })
    }
}
