//! From records to the normalized batch: what each AAF attribute becomes. The tables of `docs/import.md`
//! describe the same mapping for administrators.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use ent_core::directory::{Function, Profile, SchoolYear};

use super::codes;
use super::xml::{Op, RawRecord};
use crate::feed::{
    Batch, ClassIn, GroupIn, Mode, ParentIn, PersonIn, PersonRef, StructureIn, SubjectIn, TeachingIn, UnitRef,
};
use crate::report::{Location, Rejection};

/// The key of a class of a structure for a school year: a class code names one class of one year.
pub(crate) fn class_key(structure: &str, year: SchoolYear, code: &str) -> String {
    format!("{structure}${}${code}", year.0)
}

/// The key of a subject of a structure: its national code in the structure.
pub(crate) fn subject_key(structure: &str, code: &str) -> String {
    format!("{structure}${code}")
}

/// What the record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Structure,
    Mef,
    Subject,
    Pupil,
    Responsable,
    Staff,
}

impl Category {
    fn of(value: &str) -> Option<Category> {
        Some(match value {
            "EtabEducNat" => Category::Structure,
            "MefEducNat" => Category::Mef,
            // The category is `MatEducNat`, the file kind `MatiereEducNat`: accept both.
            "MatEducNat" | "MatiereEducNat" => Category::Subject,
            "Eleve" => Category::Pupil,
            "PersRelEleve" => Category::Responsable,
            "PersEducNat" => Category::Staff,
            _ => return None,
        })
    }

    fn kind(self) -> &'static str {
        match self {
            Category::Structure => "structure",
            Category::Mef => "mef",
            Category::Subject => "subject",
            _ => "person",
        }
    }
}

/// A class or group of a structure as the structure record lists it.
struct UnitIn {
    key: String,
    structure: String,
    code: String,
    mef: Option<String>,
}

/// Builds one batch from the records of a feed's files, read in the feed's order (structures and
/// nomenclatures first).
pub(crate) struct Builder {
    source: String,
    year: SchoolYear,
    file: String,
    structures: Vec<StructureIn>,
    structure_keys: HashSet<String>,
    classes: Vec<UnitIn>,
    groups: Vec<UnitIn>,
    unit_keys: HashSet<(bool, String)>,
    mefs: HashMap<String, String>,
    matieres: HashMap<String, String>,
    subjects: Vec<SubjectIn>,
    subject_keys: HashSet<String>,
    people: Vec<PersonIn>,
    responsables: HashSet<String>,
    deleted: Vec<String>,
    refused: Vec<String>,
    pub(crate) rejected: Vec<Rejection>,
    pub(crate) locations: HashMap<(&'static str, String), Location>,
    /// Some record of a person could not be told whose it was: a full feed cannot say who is missing.
    pub(crate) unidentified: bool,
}

/// The values of an attribute, trimmed, without the empty ones.
fn values<'r>(r: &'r RawRecord, name: &str) -> Vec<&'r str> {
    r.attrs.get(name).map(|v| v.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

fn first<'r>(r: &'r RawRecord, name: &str) -> Option<&'r str> {
    values(r, name).into_iter().next()
}

/// A mandatory attribute's first value, or why it is missing.
fn required<'r>(r: &'r RawRecord, name: &str) -> Result<&'r str, String> {
    match r.attrs.get(name) {
        None => Err(format!("missing mandatory attribute `{name}`")),
        Some(_) => first(r, name).ok_or_else(|| format!("mandatory attribute `{name}` has no value")),
    }
}

/// Splits a `structure$code...` value into at least `n` non-empty leading parts.
fn split(value: &str, n: usize) -> Option<Vec<&str>> {
    let parts: Vec<&str> = value.split('$').map(str::trim).collect();
    (parts.len() >= n && parts[..n].iter().all(|p| !p.is_empty())).then_some(parts)
}

/// `dd/mm/yyyy`.
/// A record's attributes that the model does not hold, with their non-blank values, kept with the record.
fn unmapped(r: &RawRecord, mapped: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut extra = BTreeMap::new();
    for (name, vals) in &r.attrs {
        let vals: Vec<String> = vals.iter().map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned).collect();
        if !mapped.contains(&name.as_str()) && !vals.is_empty() {
            extra.insert(name.clone(), vals);
        }
    }
    extra
}

pub(crate) fn parse_date(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%d/%m/%Y").ok()
}

/// Attributes of a structure read into the model; every other one goes to its `extra`.
const STRUCTURE_MAPPED: &[&str] = &[
    "ENTStructureJointure",
    "ENTStructureUAI",
    "ENTStructureNomCourant",
    "ENTEtablissementContrat",
    "ENTServAcAcademie",
    "ENTStructureTypeStruct",
    "ENTStructureClasses",
    "ENTStructureGroupes",
];

/// Attributes read into the model; every other one goes to the person's `extra`.
const PERSON_MAPPED: &[&str] = &[
    "ENTPersonJointure",
    "sn",
    "givenName",
    "ENTPersonDateNaissance",
    "mail",
    "ENTPersonProfils",
    "ENTPersonStructRattach",
    "ENTEleveClasses",
    "ENTEleveGroupes",
    "ENTEleveMajeur",
    "ENTElevePersRelEleve",
    "ENTEleveAutoriteParentale",
    "ENTPersonFonctions",
    "ENTAuxEnsClassesMatieres",
    "ENTAuxEnsGroupesMatieres",
    "ENTAuxEnsClassesPrincipal",
];

impl Builder {
    pub(crate) fn new(source: &str, year: SchoolYear) -> Self {
        Builder {
            source: source.to_owned(),
            year,
            file: String::new(),
            structures: vec![],
            structure_keys: HashSet::new(),
            classes: vec![],
            groups: vec![],
            unit_keys: HashSet::new(),
            mefs: HashMap::new(),
            matieres: HashMap::new(),
            subjects: vec![],
            subject_keys: HashSet::new(),
            people: vec![],
            responsables: HashSet::new(),
            deleted: vec![],
            refused: vec![],
            rejected: vec![],
            locations: HashMap::new(),
            unidentified: false,
        }
    }

    /// The file the next records come from.
    pub(crate) fn file(&mut self, name: &str) {
        self.file = name.to_owned();
    }

    pub(crate) fn reject(&mut self, kind: &'static str, key: &str, line: u64, reason: impl Into<String>) {
        self.rejected.push(Rejection {
            kind,
            key: key.to_owned(),
            reason: reason.into(),
            location: Some(Location { file: self.file.clone(), line }),
        });
    }

    /// Whether a structure reference can be checked and fails: only a feed that carries its structures can
    /// tell (a delta of people refers to structures imported earlier).
    fn unknown_structure(&self, key: &str) -> bool {
        !self.structure_keys.is_empty() && !self.structure_keys.contains(key)
    }

    pub(crate) fn record(&mut self, r: &RawRecord) {
        let category = r.category.as_deref().and_then(Category::of);
        let key = match category {
            Some(Category::Structure) => first(r, "ENTStructureJointure"),
            Some(Category::Mef) => first(r, "ENTMefJointure"),
            Some(Category::Subject) => first(r, "ENTMatJointure"),
            Some(_) => first(r, "ENTPersonJointure"),
            None => None,
        }
        .or(r.id.as_deref().filter(|s| !s.is_empty()))
        .map(str::to_owned);
        let kind = category.map_or("record", Category::kind);
        let Some(key) = key else {
            if kind == "person" || kind == "record" {
                self.unidentified = true;
            }
            let reason = r.problems.first().map_or("a record without identifier", |(_, p)| p.as_str()).to_owned();
            let line = r.problems.first().map_or(r.line, |(l, _)| *l);
            self.reject(kind, "?", line, reason);
            return;
        };
        if let Some((line, problem)) = r.problems.first() {
            let problem = problem.clone();
            if kind == "person" {
                self.refused.push(key.clone());
            }
            self.reject(kind, &key, *line, problem);
            return;
        }
        let Some(category) = category else {
            let reason = match &r.category {
                None => "a record without category (categoriePersonne, categorieStructure...)".to_owned(),
                Some(c) => format!("unknown category `{c}`"),
            };
            self.reject("record", &key, r.line, reason);
            return;
        };
        if kind == "person" {
            self.locations.insert(("person", key.clone()), Location { file: self.file.clone(), line: r.line });
            self.locations.insert(("link", key.clone()), Location { file: self.file.clone(), line: r.line });
        }
        if r.op == Op::Delete {
            if kind == "person" {
                self.deleted.push(key);
            } else {
                self.reject(
                    kind,
                    &key,
                    r.line,
                    "deletions of structures and nomenclatures are not applied: an administrator decides",
                );
            }
            return;
        }
        let result = match category {
            Category::Structure => self.structure(&key, r),
            Category::Mef => {
                let label = first(r, "ENTLibelleMef").unwrap_or(&key).to_owned();
                self.mefs.insert(key.clone(), label);
                Ok(())
            }
            Category::Subject => required(r, "ENTLibelleMatiere").map(|label| {
                self.matieres.insert(key.clone(), label.to_owned());
            }),
            Category::Pupil | Category::Responsable | Category::Staff => self.person(&key, category, r),
        };
        if let Err(reason) = result {
            if kind == "person" {
                self.refused.push(key.clone());
            }
            self.reject(kind, &key, r.line, reason);
        }
    }

    fn structure(&mut self, key: &str, r: &RawRecord) -> Result<(), String> {
        let uai = required(r, "ENTStructureUAI")?;
        let name = required(r, "ENTStructureNomCourant")?;
        let contract = codes::contract(first(r, "ENTEtablissementContrat").unwrap_or(""))?;
        let academie = first(r, "ENTServAcAcademie").unwrap_or("").to_owned();
        if !self.structure_keys.insert(key.to_owned()) {
            return Err("the same structure appears twice in the feed".into());
        }
        self.structures.push(StructureIn {
            key: key.to_owned(),
            uai: uai.to_owned(),
            name: name.to_owned(),
            kind: Some(codes::structure_kind(first(r, "ENTStructureTypeStruct").unwrap_or(""))),
            contract: Some(contract),
            time_zone: Some(codes::time_zone(&academie).to_owned()),
            academie: Some(academie),
            // The AAF does not say: the structure's choice stays (trimestres for a new one).
            periods: None,
            extra: unmapped(r, STRUCTURE_MAPPED),
        });
        for (attr, class) in [("ENTStructureClasses", true), ("ENTStructureGroupes", false)] {
            for v in values(r, attr) {
                match split(v, 1) {
                    Some(parts) => {
                        let mef = parts.get(2).filter(|m| !m.is_empty()).map(|m| (*m).to_owned());
                        self.unit(key, parts[0], class, mef);
                    }
                    None => {
                        let line = r.line;
                        self.reject("structure", key, line, format!("`{attr}` value `{v}` is not `code$label`"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Declares a class or group (once) and returns its key.
    fn unit(&mut self, structure: &str, code: &str, class: bool, mef: Option<String>) -> String {
        let key = class_key(structure, self.year, code);
        if self.unit_keys.insert((class, key.clone())) {
            let u = UnitIn { key: key.clone(), structure: structure.to_owned(), code: code.to_owned(), mef };
            if class { self.classes.push(u) } else { self.groups.push(u) }
        }
        key
    }

    /// The key of a class or group a person refers to as `structure$code`, declaring it when the feed
    /// carries the structure but its record did not list the unit.
    fn unit_ref(&mut self, attr: &str, value: &str, class: bool) -> Result<(String, String), String> {
        let parts = split(value, 2).ok_or_else(|| format!("`{attr}` value `{value}` is not `structure$code`"))?;
        let (structure, code) = (parts[0], parts[1]);
        if self.unknown_structure(structure) {
            return Err(format!("`{attr}` refers to unknown structure `{structure}`"));
        }
        let key = if self.structure_keys.contains(structure) {
            self.unit(structure, code, class, None)
        } else {
            class_key(structure, self.year, code)
        };
        Ok((structure.to_owned(), key))
    }

    fn subject(&mut self, structure: &str, code: &str) -> Result<String, String> {
        let key = subject_key(structure, code);
        if self.matieres.is_empty() || !self.structure_keys.contains(structure) {
            // A delta: the subject was imported with an earlier full feed.
            return Ok(key);
        }
        let Some(label) = self.matieres.get(code) else {
            return Err(format!("unknown subject code `{code}` (not in the feed's MatiereEducNat)"));
        };
        if self.subject_keys.insert(key.clone()) {
            self.subjects.push(SubjectIn {
                key: key.clone(),
                structure: structure.to_owned(),
                code: code.to_owned(),
                label: label.clone(),
            });
        }
        Ok(key)
    }

    fn person(&mut self, key: &str, category: Category, r: &RawRecord) -> Result<(), String> {
        let given_name = required(r, "givenName")?.to_owned();
        let family_name = match required(r, "sn") {
            Ok(sn) => sn.to_owned(),
            Err(e) => first(r, "ENTPersonNomPatro").ok_or(e)?.to_owned(),
        };
        let birth_date = match first(r, "ENTPersonDateNaissance") {
            None => None,
            Some(d) => {
                Some(parse_date(d).ok_or_else(|| format!("ENTPersonDateNaissance `{d}` is not a date (dd/mm/yyyy)"))?)
            }
        };
        let extra = unmapped(r, PERSON_MAPPED);
        let mut p = PersonIn {
            key: key.to_owned(),
            given_name,
            family_name,
            birth_date,
            email: first(r, "mail").map(str::to_owned),
            affiliations: vec![],
            adult: false,
            disabled: false,
            units: vec![],
            teachings: vec![],
            parents: vec![],
            kept_parents: vec![],
            extra,
        };
        match category {
            Category::Pupil => self.pupil(&mut p, r)?,
            Category::Staff => self.staff(&mut p, r)?,
            _ => {
                // A responsable's structures are their children's: known once every pupil is read.
                self.responsables.insert(key.to_owned());
            }
        }
        self.people.push(p);
        Ok(())
    }

    fn pupil(&mut self, p: &mut PersonIn, r: &RawRecord) -> Result<(), String> {
        let structure = required(r, "ENTPersonStructRattach")?;
        if self.unknown_structure(structure) {
            return Err(format!("ENTPersonStructRattach refers to unknown structure `{structure}`"));
        }
        p.affiliations.push(PersonRef { structure: structure.to_owned(), profile: Profile::Eleve, functions: vec![] });
        for (attr, class) in [("ENTEleveClasses", true), ("ENTEleveGroupes", false)] {
            for v in values(r, attr) {
                let (_, key) = self.unit_ref(attr, v, class)?;
                p.units.push(if class { UnitRef::Class(key) } else { UnitRef::Group(key) });
            }
        }
        if let Some(v) = first(r, "ENTEleveMajeur") {
            p.adult = codes::yes_no(v).map_err(|e| format!("ENTEleveMajeur: {e}"))?;
        }
        // `id$lien$financier$responsabilité$contact$paiement`; responsabilité 1 and 2 are the two
        // responsables légaux (SIECLE's RESP_LEGAL), 0 any other contact.
        let with_authority: Vec<&str> = values(r, "ENTEleveAutoriteParentale");
        let mut links: Vec<(u8, ParentIn)> = Vec::new();
        for v in values(r, "ENTElevePersRelEleve") {
            let Some(parts) = split(v, 1).filter(|p| p.len() >= 4) else {
                let line = r.line;
                self.reject(
                    "link",
                    &p.key,
                    line,
                    format!("ENTElevePersRelEleve `{v}` is not `id$lien$financier$responsabilité$contact$paiement`"),
                );
                continue;
            };
            let rank = match parts[3] {
                "1" => 1,
                "2" => 2,
                _ => 3,
            };
            let legal = rank < 3;
            let authority = legal && (with_authority.is_empty() || with_authority.contains(&parts[0]));
            links.push((
                rank,
                ParentIn { parent: parts[0].to_owned(), legal, authority, priority: 0, financial: parts[2] == "1" },
            ));
        }
        links.sort_by_key(|(rank, _)| *rank);
        for (i, (_, mut link)) in links.into_iter().enumerate() {
            if p.parents.iter().any(|l| l.parent == link.parent) {
                continue;
            }
            link.priority = u8::try_from(i + 1).unwrap_or(u8::MAX);
            p.parents.push(link);
        }
        Ok(())
    }

    fn affiliate(p: &mut PersonIn, structure: &str, profile: Profile, functions: Vec<Function>) {
        match p.affiliations.iter_mut().find(|a| a.structure == structure && a.profile == profile) {
            Some(a) => {
                for f in functions {
                    if !a.functions.contains(&f) {
                        a.functions.push(f);
                    }
                }
            }
            None => p.affiliations.push(PersonRef { structure: structure.to_owned(), profile, functions }),
        }
    }

    fn staff(&mut self, p: &mut PersonIn, r: &RawRecord) -> Result<(), String> {
        // References to structures the feed does not carry are dropped: a per-structure feed names the other
        // structures of a teacher who works in several.
        let in_feed = |b: &Builder, s: &str| !b.unknown_structure(s);
        let mut dropped = Vec::new();
        for v in values(r, "ENTPersonFonctions") {
            let Some(parts) = split(v, 2) else {
                return Err(format!("ENTPersonFonctions `{v}` is not `structure$code$label$discipline$label`"));
            };
            if !in_feed(self, parts[0]) {
                dropped.push(v.to_owned());
                continue;
            }
            if let Some(profile) = codes::function_profile(parts[1]) {
                let functions = codes::functions_of(parts[1], parts.get(4).copied().unwrap_or(""));
                Self::affiliate(p, parts[0], profile, functions);
            }
        }
        let principal: HashSet<(String, String)> = values(r, "ENTAuxEnsClassesPrincipal")
            .into_iter()
            .filter_map(|v| split(v, 2).map(|parts| (parts[0].to_owned(), parts[1].to_owned())))
            .collect();
        for (attr, class) in [("ENTAuxEnsClassesMatieres", true), ("ENTAuxEnsGroupesMatieres", false)] {
            for v in values(r, attr) {
                let Some(parts) = split(v, 3) else {
                    // `structure$class` without a subject: no assignment can be made of it.
                    p.extra.entry(attr.to_owned()).or_default().push(v.to_owned());
                    continue;
                };
                if !in_feed(self, parts[0]) {
                    dropped.push(v.to_owned());
                    continue;
                }
                let (structure, unit) = self.unit_ref(attr, v, class)?;
                let subject = match self.subject(&structure, parts[2]) {
                    Ok(s) => s,
                    Err(reason) => {
                        let line = r.line;
                        self.reject("person", &p.key, line, format!("{attr} `{v}` dropped: {reason}"));
                        continue;
                    }
                };
                let is_principal = class && principal.contains(&(parts[0].to_owned(), parts[1].to_owned()));
                if !p.affiliations.iter().any(|a| a.structure == structure && a.profile == Profile::Enseignant) {
                    Self::affiliate(p, &structure, Profile::Enseignant, vec![]);
                }
                p.teachings.push(TeachingIn {
                    unit: if class { UnitRef::Class(unit) } else { UnitRef::Group(unit) },
                    subject,
                    principal: is_principal,
                });
            }
        }
        for (structure, _) in &principal {
            if in_feed(self, structure) {
                Self::affiliate(p, structure, Profile::Enseignant, vec![Function::ProfesseurPrincipal]);
            }
        }
        if p.affiliations.is_empty()
            && let Some(structure) = first(r, "ENTPersonStructRattach").filter(|s| in_feed(self, s))
        {
            let profile = match first(r, "ENTPersonProfils").map(Profile::from_national_code) {
                Some(Ok(p)) => p,
                Some(Err(e)) => return Err(e.to_string()),
                None if codes::yes_no(first(r, "PersEducNatPresenceDevantEleves").unwrap_or("N")) == Ok(true) => {
                    Profile::Enseignant
                }
                None => Profile::Administratif,
            };
            Self::affiliate(p, structure, profile, vec![]);
        }
        if p.affiliations.is_empty() {
            return Err(if dropped.is_empty() {
                "no function in any structure (ENTPersonFonctions, ENTPersonStructRattach)".into()
            } else {
                format!("no function in a structure of the feed (only `{}`)", dropped.join("`, `"))
            });
        }
        if !dropped.is_empty() {
            p.extra.insert("ent.otherStructures".into(), dropped);
        }
        Ok(())
    }

    /// The batch, once every file is read.
    pub(crate) fn finish(mut self, full: bool) -> (Batch, Vec<Rejection>, HashMap<(&'static str, String), Location>) {
        // Responsables: the structures of their children.
        let mut structures_of: HashMap<String, Vec<String>> = HashMap::new();
        for p in &self.people {
            for link in &p.parents {
                let entry = structures_of.entry(link.parent.clone()).or_default();
                for a in &p.affiliations {
                    if !entry.contains(&a.structure) {
                        entry.push(a.structure.clone());
                    }
                }
            }
        }
        let mut orphans = Vec::new();
        for p in self.people.iter_mut().filter(|p| self.responsables.contains(&p.key)) {
            match structures_of.get(&p.key) {
                Some(structures) if !structures.is_empty() => {
                    for s in structures {
                        Self::affiliate(p, s, Profile::Responsable, vec![]);
                    }
                }
                // A delta may change a responsable alone (a new address, a new name): the apply updates
                // them if they are known, with their structures as they are.
                _ if !full => {}
                _ => orphans.push(p.key.clone()),
            }
        }
        for key in &orphans {
            let line = self.locations.get(&("person", key.clone())).map_or(0, |l| l.line);
            let file = self.locations.get(&("person", key.clone())).map(|l| l.file.clone());
            self.rejected.push(Rejection {
                kind: "person",
                key: key.clone(),
                reason: "responsable of no pupil of the feed: their structure is unknown".into(),
                location: file.map(|file| Location { file, line }),
            });
        }
        let orphans: HashSet<String> = orphans.into_iter().collect();
        self.people.retain(|p| !orphans.contains(&p.key));

        let level = |mefs: &HashMap<String, String>, mef: &Option<String>| {
            mef.as_ref().map(|m| mefs.get(m).cloned().unwrap_or_else(|| m.clone()))
        };
        let classes = self
            .classes
            .iter()
            .map(|u| ClassIn {
                key: u.key.clone(),
                structure: u.structure.clone(),
                name: u.code.clone(),
                level: level(&self.mefs, &u.mef),
            })
            .collect();
        let groups = self
            .groups
            .iter()
            .map(|u| GroupIn { key: u.key.clone(), structure: u.structure.clone(), name: u.code.clone() })
            .collect();
        let mode = if full && !self.unidentified {
            Mode::Full { structures: self.structures.iter().map(|s| s.key.clone()).collect() }
        } else {
            Mode::Delta
        };
        let batch = Batch {
            source: self.source,
            mode,
            year: self.year,
            structures: self.structures,
            subjects: self.subjects,
            classes,
            groups,
            people: self.people,
            deleted_people: self.deleted,
            refused_people: self.refused,
            changes: vec![],
            deleted_units: vec![],
            states_units: true,
        };
        (batch, self.rejected, self.locations)
    }
}
