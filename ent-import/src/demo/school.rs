//! One structure of the demo population.

use chrono::NaiveDate;
use ent_core::directory::{Contract, Function, PeriodKind, Profile, Uai};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::DemoConfig;
use super::names::{BOYS, FAMILIES, GIRLS};
use crate::feed::{
    Batch, ClassIn, GroupIn, Mode, ParentIn, PersonIn, PersonRef, StructureIn, SubjectIn, TeachingIn, UnitRef,
};

/// The kinds of structure the demo makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ecole,
    College,
    Lycee,
}

/// The départements of the demo académie, for UAIs.
const DEPARTEMENTS: &[u32] = &[18, 28, 36, 37, 41, 45];

/// Subjects: (key, code in the national nomenclature's format, label, classes one teacher takes).
const SUBJECTS: &[(&str, &str, &str, usize)] = &[
    ("fra", "020700", "FRANCAIS", 4),
    ("mat", "061300", "MATHEMATIQUES", 4),
    ("hg", "040000", "HISTOIRE-GEOGRAPHIE", 5),
    ("ang", "030201", "ANGLAIS LV1", 5),
    ("svt", "062900", "SCIENCES VIE & TERRE", 7),
    ("pc", "061800", "PHYSIQUE-CHIMIE", 7),
    ("eps", "100100", "EDUCATION PHYSIQUE ET SPORTIVE", 6),
    ("esp", "030602", "ESPAGNOL LV2", 6),
    ("all", "030102", "ALLEMAND LV2", 8),
    ("lat", "021500", "LATIN", 8),
];

struct Gen<'c> {
    rng: ChaCha8Rng,
    config: &'c DemoConfig,
    uai: String,
    people: Vec<PersonIn>,
    next: u32,
}

fn structure_seed(seed: u64, index: u32) -> u64 {
    // SplitMix64 of (seed, index): independent streams per structure, so any structure can be generated
    // alone, in any order.
    let mut z = seed ^ (u64::from(index).wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn uai_of(index: u32) -> String {
    let dep = DEPARTEMENTS[index as usize % DEPARTEMENTS.len()];
    let digits = format!("0{dep:02}{:04}", 1000 + index / DEPARTEMENTS.len() as u32);
    let letter = Uai::check_letter(&digits).unwrap_or('A');
    format!("{digits}{letter}")
}

fn kind_of(config: &DemoConfig, index: u32) -> Kind {
    // Interleave kinds so that any prefix of the académie is a mix.
    let total = config.total().max(1);
    let (e, c) = (config.ecoles, config.colleges);
    let slot = (u64::from(index) * 7919 % u64::from(total)) as u32;
    if slot < e {
        Kind::Ecole
    } else if slot < e + c {
        Kind::College
    } else {
        Kind::Lycee
    }
}

impl Gen<'_> {
    fn key(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{}-{prefix}{:05}", self.uai, self.next)
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.rng.random_range(0..list.len())]
    }

    fn given(&mut self) -> &'static str {
        if self.rng.random_bool(0.5) { self.pick(GIRLS) } else { self.pick(BOYS) }
    }

    fn birth(&mut self, age: i32) -> Option<NaiveDate> {
        let year = self.config.year.0 - age;
        NaiveDate::from_ymd_opt(year, 1, 1)
            .and_then(|d| d.checked_add_days(chrono::Days::new(self.rng.random_range(0..365))))
    }

    fn adult(&self, key: String, given: &str, family: &str, profile: Profile, functions: Vec<Function>) -> PersonIn {
        PersonIn {
            key,
            given_name: given.into(),
            family_name: family.into(),
            birth_date: None,
            email: None,
            affiliations: vec![PersonRef { structure: self.uai.clone(), profile, functions }],
            adult: false,
            disabled: false,
            units: vec![],
            teachings: vec![],
            parents: vec![],
            kept_parents: vec![],
            extra: Default::default(),
        }
    }
}

/// Classes of a structure: (name, level, age of its pupils, pupils).
fn classes_of(kind: Kind, rng: &mut ChaCha8Rng) -> Vec<(String, String, i32, usize)> {
    let mut out = Vec::new();
    match kind {
        Kind::Ecole => {
            for (level, age) in [("CP", 6), ("CE1", 7), ("CE2", 8), ("CM1", 9), ("CM2", 10)] {
                let n = rng.random_range(1..=2);
                for i in 0..n {
                    out.push((
                        format!("{level}-{}", (b'A' + i) as char),
                        level.to_owned(),
                        age,
                        rng.random_range(20..=26),
                    ));
                }
            }
        }
        Kind::College => {
            for (level, age, mef) in [("6", 11, "6EME"), ("5", 12, "5EME"), ("4", 13, "4EME"), ("3", 14, "3EME")] {
                let n = rng.random_range(5..=7);
                for i in 0..n {
                    out.push((
                        format!("{level}{}", (b'A' + i) as char),
                        mef.to_owned(),
                        age,
                        rng.random_range(23..=28),
                    ));
                }
            }
        }
        Kind::Lycee => {
            for (level, age, mef) in [("2NDE", 15, "2NDE GT"), ("1G", 16, "1ERE G"), ("TG", 17, "TLE G")] {
                let n = rng.random_range(10..=12);
                for i in 1..=n {
                    out.push((format!("{level}{i}"), mef.to_owned(), age, rng.random_range(30..=35)));
                }
            }
        }
    }
    out
}

/// The batch of structure `index`.
pub(crate) fn generate(config: &DemoConfig, index: u32) -> Batch {
    let kind = kind_of(config, index);
    let uai = uai_of(index);
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(structure_seed(config.seed, index)),
        config,
        uai: uai.clone(),
        people: vec![],
        next: 0,
    };
    let town = g.pick(&["Tours", "Orléans", "Blois", "Chartres", "Bourges", "Châteauroux", "Amboise", "Vierzon"]);
    let (label, structure_kind) = match kind {
        Kind::Ecole => ("École", ent_core::directory::StructureKind::Ecole),
        Kind::College => ("Collège", ent_core::directory::StructureKind::College),
        Kind::Lycee => ("Lycée", ent_core::directory::StructureKind::Lycee),
    };
    let patron = g.pick(&[
        "Jean Moulin",
        "Marie Curie",
        "Victor Hugo",
        "Honoré de Balzac",
        "George Sand",
        "Jules Ferry",
        "Rabelais",
        "Descartes",
    ]);
    let structure = StructureIn {
        key: uai.clone(),
        uai: uai.clone(),
        name: format!("{label} {patron} — {town}"),
        kind: Some(structure_kind),
        contract: Some(if g.rng.random_bool(0.15) { Contract::PriveSousContrat } else { Contract::Public }),
        academie: Some(config.academie.clone()),
        time_zone: Some("Europe/Paris".into()),
        periods: Some(if kind == Kind::Lycee && g.rng.random_bool(0.5) {
            PeriodKind::Semestres
        } else {
            PeriodKind::Trimestres
        }),
        extra: Default::default(),
    };

    let year = config.year.0;
    let classes = classes_of(kind, &mut g.rng);
    let class_ins: Vec<ClassIn> = classes
        .iter()
        .map(|(name, level, _, _)| ClassIn {
            key: format!("{uai}-{year}-{name}"),
            structure: uai.clone(),
            name: name.clone(),
            level: Some(level.clone()),
        })
        .collect();
    let subjects: Vec<SubjectIn> = SUBJECTS
        .iter()
        .filter(|(k, ..)| kind != Kind::Ecole || *k == "fra")
        .map(|(k, code, label, _)| SubjectIn {
            key: format!("{uai}-{k}"),
            structure: uai.clone(),
            code: (*code).into(),
            label: (*label).into(),
        })
        .collect();

    // Option groups (collège, lycée) and split groups.
    let mut groups = Vec::new();
    if kind != Kind::Ecole {
        for (name, _) in [("LATIN", "lat"), ("ESPAGNOL LV2", "esp"), ("ALLEMAND LV2", "all")] {
            groups.push(GroupIn { key: format!("{uai}-{year}-{name}"), structure: uai.clone(), name: name.into() });
        }
        for c in class_ins.iter().take(2) {
            for half in ["GR1", "GR2"] {
                groups.push(GroupIn {
                    key: format!("{}-{half}", c.key),
                    structure: uai.clone(),
                    name: format!("{} {half}", c.name),
                });
            }
        }
    }

    // Pupils, by families: a family's children share its parents, across classes of different levels.
    let mut pupils_left: Vec<(usize, usize)> = classes.iter().enumerate().map(|(i, c)| (i, c.3)).collect();
    let mut family_count = 0;
    let mut teacher_child: Option<String> = None;
    while pupils_left.iter().any(|(_, n)| *n > 0) {
        family_count += 1;
        let family = g.pick(FAMILIES);
        let children = match g.rng.random_range(0..10) {
            0..=5 => 1,
            6..=8 => 2,
            _ => 3,
        };
        // Parents.
        let separated = g.rng.random_bool(0.12);
        let single = !separated && g.rng.random_bool(0.15);
        let mother_family = if separated { g.pick(FAMILIES) } else { family };
        let mut parents = Vec::new();
        let mother_key = g.key("p");
        let mother_given = g.pick(GIRLS);
        g.people.push(g.adult(mother_key.clone(), mother_given, mother_family, Profile::Responsable, vec![]));
        parents.push(ParentIn { parent: mother_key, legal: true, authority: true, priority: 1, financial: true });
        if !single {
            let father_key = g.key("p");
            let father_given = g.pick(BOYS);
            g.people.push(g.adult(father_key.clone(), father_given, family, Profile::Responsable, vec![]));
            // A few legal parents have lost parental authority.
            let authority = !g.rng.random_bool(0.03);
            parents.push(ParentIn { parent: father_key, legal: true, authority, priority: 2, financial: !separated });
        }
        if g.rng.random_bool(0.08) {
            let key = g.key("p");
            let given = g.pick(GIRLS);
            g.people.push(g.adult(key.clone(), given, family, Profile::Responsable, vec![]));
            parents.push(ParentIn { parent: key, legal: false, authority: false, priority: 3, financial: false });
        }
        for _ in 0..children {
            let open: Vec<usize> = pupils_left.iter().filter(|(_, n)| *n > 0).map(|(i, _)| *i).collect();
            if open.is_empty() {
                break;
            }
            let ci = open[g.rng.random_range(0..open.len())];
            pupils_left[ci].1 -= 1;
            let (_, _, age, _) = &classes[ci];
            let key = g.key("e");
            let given = g.given();
            let adult = kind == Kind::Lycee && *age == 17 && g.rng.random_bool(0.1);
            let mut units = vec![UnitRef::Class(class_ins[ci].key.clone())];
            if kind != Kind::Ecole && g.rng.random_bool(0.3) {
                let gi = g.rng.random_range(0..3);
                units.push(UnitRef::Group(groups[gi].key.clone()));
            }
            let half = if g.rng.random_bool(0.5) { "GR1" } else { "GR2" };
            let split = format!("{}-{half}", class_ins[ci].key);
            if groups.iter().any(|gr| gr.key == split) {
                units.push(UnitRef::Group(split));
            }
            let birth_date = g.birth(if adult { 18 } else { *age });
            if teacher_child.is_none() && family_count > 3 {
                teacher_child = Some(parents[0].parent.clone());
            }
            g.people.push(PersonIn {
                key,
                given_name: given.into(),
                family_name: family.into(),
                birth_date,
                email: None,
                affiliations: vec![PersonRef { structure: uai.clone(), profile: Profile::Eleve, functions: vec![] }],
                adult,
                disabled: false,
                units,
                teachings: vec![],
                parents: parents.clone(),
                kept_parents: vec![],
                extra: Default::default(),
            });
        }
    }

    // Teachers: per subject, enough for every class; the first teacher of French or the class's only
    // teacher is its professeur principal.
    let mut principal_done = vec![false; class_ins.len()];
    for (skey, _, _, per_teacher) in SUBJECTS.iter().filter(|(k, ..)| kind != Kind::Ecole || *k == "fra") {
        let per_teacher = if kind == Kind::Ecole { 1 } else { *per_teacher };
        let units: Vec<UnitRef> = match *skey {
            "lat" => groups.iter().filter(|gr| gr.name == "LATIN").map(|gr| UnitRef::Group(gr.key.clone())).collect(),
            "esp" => {
                groups.iter().filter(|gr| gr.name == "ESPAGNOL LV2").map(|gr| UnitRef::Group(gr.key.clone())).collect()
            }
            "all" => {
                groups.iter().filter(|gr| gr.name == "ALLEMAND LV2").map(|gr| UnitRef::Group(gr.key.clone())).collect()
            }
            _ => class_ins.iter().map(|c| UnitRef::Class(c.key.clone())).collect(),
        };
        for chunk in units.chunks(per_teacher) {
            let key = g.key("t");
            let given = g.given();
            let family = g.pick(FAMILIES);
            let mut teachings = Vec::new();
            let mut functions = Vec::new();
            for u in chunk {
                let mut principal = false;
                if let UnitRef::Class(ck) = u
                    && let Some(ci) = class_ins.iter().position(|c| &c.key == ck)
                    && !principal_done[ci]
                {
                    principal_done[ci] = true;
                    principal = true;
                    if !functions.contains(&Function::ProfesseurPrincipal) {
                        functions.push(Function::ProfesseurPrincipal);
                    }
                }
                teachings.push(TeachingIn { unit: u.clone(), subject: format!("{uai}-{skey}"), principal });
            }
            let mut t = g.adult(key, given, family, Profile::Enseignant, functions);
            t.teachings = teachings;
            g.people.push(t);
        }
    }
    // The teacher who is also a parent: the national feed sends a second record, as a responsable.
    if let Some(parent_key) = teacher_child
        && let Some(parent) = g.people.iter().find(|p| p.key == parent_key).cloned()
    {
        let key = g.key("t");
        let mut t = g.adult(key, &parent.given_name, &parent.family_name, Profile::Enseignant, vec![]);
        t.teachings = vec![TeachingIn {
            unit: UnitRef::Class(class_ins[0].key.clone()),
            subject: format!("{uai}-fra"),
            principal: false,
        }];
        g.people.push(t);
    }
    // A teacher shared with the next structure (complément de service): same key, same name in both feeds.
    if config.total() > 1 && kind != Kind::Ecole {
        let owner = index;
        for (shared_index, this_is_owner) in
            [(owner, true), (if owner == 0 { config.total() - 1 } else { owner - 1 }, false)]
        {
            let mut srng = ChaCha8Rng::seed_from_u64(structure_seed(config.seed ^ 0x5EED, shared_index));
            let given = BOYS[srng.random_range(0..BOYS.len())];
            let family = FAMILIES[srng.random_range(0..FAMILIES.len())];
            let key = format!("shared-{}-t", uai_of(shared_index));
            let mut t = g.adult(key, given, family, Profile::Enseignant, vec![]);
            t.teachings = vec![TeachingIn {
                unit: UnitRef::Class(class_ins[class_ins.len() - 1 - usize::from(!this_is_owner)].key.clone()),
                subject: format!("{uai}-eps"),
                principal: false,
            }];
            g.people.push(t);
        }
    }
    // Staff.
    let staff: &[(Profile, Option<Function>, usize)] = match kind {
        Kind::Ecole => &[(Profile::Direction, Some(Function::ChefEtablissement), 1)],
        _ => &[
            (Profile::Direction, Some(Function::ChefEtablissement), 1),
            (Profile::Direction, Some(Function::Adjoint), 1),
            (Profile::VieScolaire, Some(Function::Cpe), 2),
            (Profile::VieScolaire, Some(Function::AssistantEducation), 4),
            (Profile::Documentaliste, None, 1),
            (Profile::Administratif, Some(Function::Gestionnaire), 1),
            (Profile::Administratif, Some(Function::Secretariat), 2),
        ],
    };
    for (profile, function, n) in staff {
        for _ in 0..*n {
            let key = g.key("s");
            let given = g.given();
            let family = g.pick(FAMILIES);
            let person = g.adult(key, given, family, *profile, function.iter().cloned().collect());
            g.people.push(person);
        }
    }

    Batch {
        source: "demo".into(),
        mode: Mode::Full { structures: vec![uai] },
        year: config.year,
        structures: vec![structure],
        subjects,
        classes: class_ins,
        groups,
        people: std::mem::take(&mut g.people),
        deleted_people: vec![],
        refused_people: vec![],
        changes: vec![],
        deleted_units: vec![],
        states_units: true,
    }
}
