//! Writes a batch as AAF files, in the layout and attribute formats the reader reads: to benchmark the
//! importer on an académie-sized feed made from the demo population, and to test the reader against the
//! writer.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use encoding_rs::Encoding;
use ent_core::directory::{Function, Profile};
use quick_xml::escape::escape;

use super::codes;
use crate::feed::{Batch, Mode, PersonIn, UnitRef};

/// How to write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// The export's day, in the file names.
    pub date: NaiveDate,
    /// The emitter in the file names; by default the UAI of the batch's first structure.
    pub emitter: Option<String>,
    /// The encoding declared and used: ISO-8859-15 by default, as the ministry writes them.
    pub encoding: &'static Encoding,
    /// Records per file part (`_0000`, `_0001`...).
    pub records_per_part: usize,
}

impl WriteOptions {
    /// Options for an export of that day.
    pub fn on(date: NaiveDate) -> Self {
        WriteOptions { date, emitter: None, encoding: encoding_rs::ISO_8859_15, records_per_part: 5000 }
    }
}

/// One record to write.
struct Rec {
    op: &'static str,
    category: (&'static str, &'static str),
    id: String,
    attrs: Vec<(&'static str, Vec<String>)>,
}

/// The files of one kind, written part after part.
struct KindWriter<'o> {
    dir: &'o Path,
    prefix: String,
    kind: &'static str,
    options: &'o WriteOptions,
    part: u32,
    in_part: usize,
    out: Option<BufWriter<File>>,
    written: Vec<PathBuf>,
}

impl<'o> KindWriter<'o> {
    fn new(dir: &'o Path, prefix: &str, kind: &'static str, options: &'o WriteOptions) -> Self {
        KindWriter { dir, prefix: prefix.to_owned(), kind, options, part: 0, in_part: 0, out: None, written: vec![] }
    }

    fn put(&mut self, text: &str) -> io::Result<()> {
        let Some(out) = self.out.as_mut() else { return Ok(()) };
        let (bytes, _, _) = self.options.encoding.encode(text);
        out.write_all(&bytes)
    }

    fn open(&mut self) -> io::Result<()> {
        let path = self.dir.join(format!("{}_{}_{:04}.xml", self.prefix, self.kind, self.part));
        self.out = Some(BufWriter::new(File::create(&path)?));
        self.written.push(path);
        let head = format!(
            "<?xml version=\"1.0\" encoding=\"{}\"?>\r\n<!DOCTYPE ficAlimMENESR SYSTEM \"ficAlimMENESR.dtd\">\r\n<!-- AAF-VE1711, written by ent -->\r\n<ficAlimMENESR>\r\n",
            self.options.encoding.name()
        );
        self.put(&head)
    }

    fn close(&mut self) -> io::Result<()> {
        if self.out.is_some() {
            self.put("</ficAlimMENESR>\r\n")?;
            if let Some(mut out) = self.out.take() {
                out.flush()?;
            }
            self.part += 1;
            self.in_part = 0;
        }
        Ok(())
    }

    fn record(&mut self, r: &Rec) -> io::Result<()> {
        if self.out.is_none() {
            self.open()?;
        }
        let mut s = format!(
            "<{op}>\r\n<operationalAttributes><attr name=\"{}\"><value>{}</value></attr></operationalAttributes>\r\n<identifier><id>{}</id></identifier>\r\n",
            r.category.0,
            r.category.1,
            escape(r.id.as_str()),
            op = r.op
        );
        if r.op != "deleteRequest" {
            s.push_str("<attributes>\r\n");
            for (name, values) in &r.attrs {
                s.push_str(&format!("<attr name=\"{name}\">"));
                for v in values {
                    s.push_str(&format!("<value>{}</value>", escape(v.as_str())));
                }
                s.push_str("</attr>\r\n");
            }
            s.push_str("</attributes>\r\n");
        }
        s.push_str(&format!("</{}>\r\n", r.op));
        self.put(&s)?;
        self.in_part += 1;
        if self.in_part >= self.options.records_per_part.max(1) {
            self.close()?;
        }
        Ok(())
    }
}

fn person_attrs(p: &PersonIn) -> Vec<(&'static str, Vec<String>)> {
    let mut attrs = vec![
        ("ENTPersonJointure", vec![p.key.clone()]),
        ("sn", vec![p.family_name.clone()]),
        ("ENTPersonNomPatro", vec![p.family_name.clone()]),
        ("givenName", vec![p.given_name.clone()]),
        ("ENTPersonDateNaissance", p.birth_date.iter().map(|d| d.format("%d/%m/%Y").to_string()).collect()),
        ("mail", p.email.iter().cloned().collect()),
    ];
    if let Some(profile) = p.affiliations.first().and_then(|a| a.profile.national_code()) {
        attrs.push(("ENTPersonProfils", vec![profile.to_owned()]));
    }
    attrs
}

/// Writes a batch as the files of one AAF export in `dir`: `ENT_<emitter>_Complet_<date>_<Kind>_NNNN.xml`
/// (or `_Delta_` for a delta batch), CRLF line ends, in the chosen encoding. Returns the files written.
///
/// ```
/// use ent_import::aaf::{write_batch, AafOptions, Feed, WriteOptions};
/// use ent_import::demo::{Demo, DemoConfig};
/// let dir = std::env::temp_dir().join(format!("ent-aaf-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let batch = Demo::new(DemoConfig::college()).batch(0);
/// let date = chrono::NaiveDate::from_ymd_opt(2026, 8, 28).unwrap();
/// write_batch(&batch, &dir, &WriteOptions::on(date))?;
/// let parsed = Feed::in_dir(&dir)?[0].parse(&AafOptions::default())?;
/// assert!(parsed.rejected.is_empty());
/// assert_eq!(parsed.batch.people.len(), batch.people.len());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_batch(batch: &Batch, dir: &Path, options: &WriteOptions) -> io::Result<Vec<PathBuf>> {
    let emitter = options
        .emitter
        .clone()
        .or_else(|| batch.structures.first().map(|s| s.uai.clone()))
        .unwrap_or_else(|| "ENT".into());
    let mode = if matches!(batch.mode, Mode::Full { .. }) { "Complet" } else { "Delta" };
    let prefix = format!("ENT_{emitter}_{mode}_{}", options.date.format("%Y%m%d"));
    let mut written = Vec::new();

    // Names of classes and groups, codes of subjects: people refer to them as `structure$code`.
    let classes: HashMap<&str, (&str, &str)> =
        batch.classes.iter().map(|c| (c.key.as_str(), (c.structure.as_str(), c.name.as_str()))).collect();
    let groups: HashMap<&str, (&str, &str)> =
        batch.groups.iter().map(|g| (g.key.as_str(), (g.structure.as_str(), g.name.as_str()))).collect();
    let subjects: HashMap<&str, &str> = batch.subjects.iter().map(|s| (s.key.as_str(), s.code.as_str())).collect();
    let mut mefs: BTreeMap<&str, String> = BTreeMap::new();
    for level in batch.classes.iter().filter_map(|c| c.level.as_deref()) {
        let n = mefs.len();
        mefs.entry(level).or_insert_with(|| format!("99{n:09}"));
    }

    let mut w = KindWriter::new(dir, &prefix, "EtabEducNat", options);
    for s in &batch.structures {
        let class_values = batch
            .classes
            .iter()
            .filter(|c| c.structure == s.key)
            .map(|c| match c.level.as_deref() {
                Some(l) => format!("{}${}${}", c.name, c.name, mefs[l]),
                None => format!("{}${}", c.name, c.name),
            })
            .collect();
        let group_values =
            batch.groups.iter().filter(|g| g.structure == s.key).map(|g| format!("{}${}", g.name, g.name)).collect();
        w.record(&Rec {
            op: "addRequest",
            category: ("categorieStructure", "EtabEducNat"),
            id: s.key.clone(),
            attrs: vec![
                ("ENTStructureJointure", vec![s.key.clone()]),
                ("ENTStructureUAI", vec![s.uai.clone()]),
                ("ENTStructureNomCourant", vec![s.name.clone()]),
                // What the batch does not say is written as a new structure would get it.
                (
                    "ENTStructureTypeStruct",
                    vec![
                        codes::structure_type_code(s.kind.unwrap_or(ent_core::directory::StructureKind::Autre))
                            .to_owned(),
                    ],
                ),
                (
                    "ENTEtablissementContrat",
                    vec![codes::contract_code(s.contract.unwrap_or(ent_core::directory::Contract::Public)).to_owned()],
                ),
                ("ENTServAcAcademie", vec![s.academie.clone().unwrap_or_default()]),
                ("ENTStructureClasses", class_values),
                ("ENTStructureGroupes", group_values),
            ],
        })?;
    }
    w.close()?;
    written.append(&mut w.written);

    let mut w = KindWriter::new(dir, &prefix, "MefEducNat", options);
    for (label, code) in &mefs {
        w.record(&Rec {
            op: "addRequest",
            category: ("categorieMef", "MefEducNat"),
            id: code.clone(),
            attrs: vec![("ENTMefJointure", vec![code.clone()]), ("ENTLibelleMef", vec![(*label).to_owned()])],
        })?;
    }
    w.close()?;
    written.append(&mut w.written);

    let mut w = KindWriter::new(dir, &prefix, "MatiereEducNat", options);
    let mut seen = std::collections::HashSet::new();
    for s in batch.subjects.iter().filter(|s| seen.insert(s.code.as_str())) {
        w.record(&Rec {
            op: "addRequest",
            category: ("categorieMatiere", "MatEducNat"),
            id: s.code.clone(),
            attrs: vec![("ENTMatJointure", vec![s.code.clone()]), ("ENTLibelleMatiere", vec![s.label.clone()])],
        })?;
    }
    w.close()?;
    written.append(&mut w.written);

    let mut staff = KindWriter::new(dir, &prefix, "PersEducNat", options);
    let mut responsables = KindWriter::new(dir, &prefix, "PersRelEleve", options);
    let mut pupils = KindWriter::new(dir, &prefix, "Eleve", options);
    for p in &batch.people {
        let mut attrs = person_attrs(p);
        match p.affiliations.first().map(|a| a.profile) {
            Some(Profile::Eleve) => {
                attrs.push(("ENTPersonStructRattach", vec![p.affiliations[0].structure.clone()]));
                let unit = |u: &UnitRef, class: bool| match (u, class) {
                    (UnitRef::Class(k), true) => classes.get(k.as_str()).map(|(s, n)| format!("{s}${n}")),
                    (UnitRef::Group(k), false) => groups.get(k.as_str()).map(|(s, n)| format!("{s}${n}")),
                    _ => None,
                };
                attrs.push(("ENTEleveClasses", p.units.iter().filter_map(|u| unit(u, true)).collect()));
                attrs.push(("ENTEleveGroupes", p.units.iter().filter_map(|u| unit(u, false)).collect()));
                attrs.push(("ENTEleveMajeur", vec![if p.adult { "O" } else { "N" }.to_owned()]));
                let mut links: Vec<_> = p.parents.iter().collect();
                links.sort_by_key(|l| (!l.legal, l.priority));
                let mut legal_rank = 0;
                let values = links
                    .iter()
                    .map(|l| {
                        let resp = if l.legal {
                            legal_rank += 1;
                            legal_rank.min(2)
                        } else {
                            0
                        };
                        // The link's nature (mother, father...) is not in the model: 90, "autre lien".
                        format!("{}$90${}${resp}$1${}", l.parent, u8::from(l.financial), u8::from(l.financial))
                    })
                    .collect();
                attrs.push(("ENTElevePersRelEleve", values));
                if p.parents.iter().any(|l| l.legal && !l.authority) {
                    let with: Vec<String> =
                        p.parents.iter().filter(|l| l.legal && l.authority).map(|l| l.parent.clone()).collect();
                    attrs.push(("ENTEleveAutoriteParentale", with));
                }
                pupils.record(&Rec {
                    op: "addRequest",
                    category: ("categoriePersonne", "Eleve"),
                    id: p.key.clone(),
                    attrs,
                })?;
            }
            Some(Profile::Responsable) => {
                responsables.record(&Rec {
                    op: "addRequest",
                    category: ("categoriePersonne", "PersRelEleve"),
                    id: p.key.clone(),
                    attrs,
                })?;
            }
            _ => {
                if let Some(a) = p.affiliations.first() {
                    attrs.push(("ENTPersonStructRattach", vec![a.structure.clone()]));
                }
                let mut functions = Vec::new();
                for a in &p.affiliations {
                    let own: Vec<&Function> =
                        a.functions.iter().filter(|f| **f != Function::ProfesseurPrincipal).collect();
                    if own.is_empty() {
                        functions.push(codes::function_value(&a.structure, a.profile, None));
                    }
                    for f in own {
                        functions.push(codes::function_value(&a.structure, a.profile, Some(f)));
                    }
                }
                attrs.push(("ENTPersonFonctions", functions));
                let mut class_subjects = Vec::new();
                let mut group_subjects = Vec::new();
                let mut principal = Vec::new();
                for t in &p.teachings {
                    let Some(code) = subjects.get(t.subject.as_str()) else { continue };
                    match &t.unit {
                        UnitRef::Class(k) => {
                            if let Some((s, n)) = classes.get(k.as_str()) {
                                class_subjects.push(format!("{s}${n}${code}"));
                                if t.principal {
                                    principal.push(format!("{s}${n}"));
                                }
                            }
                        }
                        UnitRef::Group(k) => {
                            if let Some((s, n)) = groups.get(k.as_str()) {
                                group_subjects.push(format!("{s}${n}${code}"));
                            }
                        }
                    }
                }
                attrs.push(("ENTAuxEnsClassesMatieres", class_subjects));
                attrs.push(("ENTAuxEnsGroupesMatieres", group_subjects));
                attrs.push(("ENTAuxEnsClassesPrincipal", principal));
                let teaches = p.affiliations.iter().any(|a| a.profile == Profile::Enseignant);
                attrs.push(("PersEducNatPresenceDevantEleves", vec![if teaches { "O" } else { "N" }.to_owned()]));
                staff.record(&Rec {
                    op: "addRequest",
                    category: ("categoriePersonne", "PersEducNat"),
                    id: p.key.clone(),
                    attrs,
                })?;
            }
        }
    }
    for key in &batch.deleted_people {
        pupils.record(&Rec {
            op: "deleteRequest",
            category: ("categoriePersonne", "Eleve"),
            id: key.clone(),
            attrs: vec![],
        })?;
    }
    for mut w in [staff, responsables, pupils] {
        w.close()?;
        written.append(&mut w.written);
    }
    Ok(written)
}
