//! The notes module's web pages (the module UI contract of `docs/web-ui.md`): the grades page of pupils
//! and parents, the teacher's grid, the class averages of direction, and the home widget of the latest
//! grades. The components are plain ES modules in `web/`, compiled into the binary.
//!
//! The pages need one thing the other actions do not give: which classes, groups and subjects a teacher
//! can open a grid for, and which classes a person may open the averages of. [`MyUnits`] says it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use ent_core::directory::{Class, Group, Profile, Subject, Unit, query};
use ent_core::module::{Action, Context, Manifest};
use ent_core::storage::{Record, Scan, TxExt};
use ent_core::{ClassId, Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::READ;
use super::service::{self, UnitRef};
use super::views::SubjectView;

/// The files of the pages, as the manifest declares them.
const ASSETS: [(&str, &str, &[u8]); 2] = [
    ("web/notes.js", "text/javascript", include_bytes!("web/notes.js")),
    ("web/notes.css", "text/css", include_bytes!("web/notes.css")),
];

/// Adds the pages, navigation entries, widget and assets to the module's manifest.
pub(super) fn declare(mut m: Manifest) -> Manifest {
    use Profile::*;
    for (path, media, _) in ASSETS {
        m = m.asset(path, media);
    }
    m.action::<MyUnitsAction>()
        .page("notes.grades", "notes-grades", "web/notes.js")
        .page("notes.grid", "notes-grid", "web/notes.js")
        .page("notes.classes", "notes-classes", "web/notes.js")
        .nav("notes.grades", "Notes", "Grades", [Eleve, Responsable])
        .nav("notes.grid", "Saisie des notes", "Grade entry", [Enseignant])
        .nav("notes.classes", "Moyennes des classes", "Class averages", [Direction, VieScolaire, AdminLocal])
        .widget(
            "notes.latest",
            "notes-latest",
            "web/notes.js",
            ("Dernières notes", "Latest grades"),
            [Eleve, Responsable],
        )
}

/// The bytes of a declared web asset.
pub(super) fn asset(path: &str) -> Option<Cow<'static, [u8]>> {
    ASSETS.iter().find(|(p, _, _)| *p == path).map(|(_, _, bytes)| Cow::Borrowed(*bytes))
}

/// Input of [`MyUnits`]: the school year (the current one when absent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MyUnitsInput {
    /// The school year (2026 for 2026–2027); the current one when absent.
    #[serde(default)]
    pub year: Option<i32>,
}

/// A class or group a teacher teaches a subject in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TeachingView {
    /// The class or group.
    pub unit: UnitRef,
    /// Its name (`3A`).
    pub name: String,
    /// The subject taught there.
    pub subject: SubjectView,
    /// Whether the teacher is the class's professeur principal.
    pub principal: bool,
}

/// A class whose averages the caller may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClassChoice {
    /// The class.
    pub id: ClassId,
    /// Its name.
    pub name: String,
}

/// Output of [`MyUnits`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MyUnits {
    /// The caller's teachings this year (class or group × subject), by unit name then subject.
    pub teachings: Vec<TeachingView>,
    /// The classes whose averages the caller may open: every class of the structure for direction, vie
    /// scolaire and administrators; the classes a teacher is professeur principal of.
    pub classes: Vec<ClassChoice>,
}

/// `notes.my_units`: what the teacher's grid and the class averages pages offer to choose from.
pub struct MyUnitsAction;

#[async_trait]
impl Action for MyUnitsAction {
    type Input = MyUnitsInput;
    type Output = MyUnits;
    const NAME: &'static str = "notes.my_units";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str =
        "The caller's teachings (class or group × subject) and the classes whose averages they may open";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: MyUnitsInput) -> Result<MyUnits> {
        let me = ctx.caller().user_id().ok_or_else(|| Error::forbidden(READ))?;
        let structure = ctx.caller().structure().ok_or_else(|| Error::forbidden(READ))?;
        let staff = [Profile::Direction, Profile::VieScolaire, Profile::AdminLocal, Profile::AdminCentral]
            .into_iter()
            .any(|p| ctx.caller().has_profile(p));
        let year = service::year_or_current(ctx, input.year);
        let mut teachings = Vec::new();
        let mut classes: BTreeMap<String, ClassChoice> = BTreeMap::new();
        for t in query::teachings_of(ctx.tx(), me, year).await? {
            if t.structure != structure {
                continue;
            }
            let name = match t.unit {
                Unit::Class(c) => ctx.tx().get_record::<Class>(c).await?.map(|r| r.value.name),
                Unit::Group(g) => ctx.tx().get_record::<Group>(g).await?.map(|r| r.value.name),
            };
            let Some(name) = name else { continue };
            let subject = match ctx.tx().get_record::<Subject>(t.subject).await? {
                Some(s) => SubjectView { id: t.subject, code: s.value.code, label: s.value.label },
                None => continue,
            };
            if let (Unit::Class(c), true) = (t.unit, t.principal) {
                classes.insert(name.clone(), ClassChoice { id: c, name: name.clone() });
            }
            teachings.push(TeachingView { unit: t.unit.into(), name, subject, principal: t.principal });
        }
        teachings.sort_by(|a, b| (&a.name, &a.subject.label).cmp(&(&b.name, &b.subject.label)));
        if staff {
            let scan =
                Scan::index(Class::COLLECTION, "by_structure").prefix((structure.0, i64::from(year.0))).limit(1000);
            for c in ctx.tx().scan_records::<Class>(&scan).await?.0 {
                classes.insert(c.value.name.clone(), ClassChoice { id: c.value.id, name: c.value.name });
            }
        }
        Ok(MyUnits { teachings, classes: classes.into_values().collect() })
    }
}
