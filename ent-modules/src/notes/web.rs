//! The notes module's web pages (the module UI contract of `docs/web-ui.md`): the grades page of pupils
//! and parents, the teacher's grid, the class averages of direction, and the home widget of the latest
//! grades. The components are plain ES modules in `web/`, compiled into the binary.
//!
//! The pages need one thing the other actions do not give: which classes a person may open the averages of.
//! [`MyClassesAction`] says it (the teacher's grid opens on `notes.my_teachings`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use async_trait::async_trait;
use ent_core::directory::{Class, Profile, Unit, query};
use ent_core::module::{Action, Context, Manifest};
use ent_core::storage::{Record, Scan, TxExt};
use ent_core::{ClassId, Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::READ;
use super::service;

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
    m.action::<MyClassesAction>()
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

/// Input of [`MyClassesAction`]: the school year (the current one when absent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MyClassesInput {
    /// The school year (2026 for 2026–2027); the current one when absent.
    #[serde(default)]
    pub year: Option<i32>,
}

/// A class whose averages the caller may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClassChoice {
    /// The class.
    pub id: ClassId,
    /// Its name.
    pub name: String,
}

/// Output of [`MyClassesAction`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MyClasses {
    /// The classes whose averages the caller may open, by name: every class of the structure for direction,
    /// vie scolaire and administrators; the classes a teacher is professeur principal of.
    pub classes: Vec<ClassChoice>,
}

/// `notes.my_classes`: what the class averages page offers to choose from (the teacher's grid uses
/// `notes.my_teachings`).
pub struct MyClassesAction;

#[async_trait]
impl Action for MyClassesAction {
    type Input = MyClassesInput;
    type Output = MyClasses;
    const NAME: &'static str = "notes.my_classes";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "The classes whose averages the caller may open";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: MyClassesInput) -> Result<MyClasses> {
        let me = ctx.caller().user_id().ok_or_else(|| Error::forbidden(READ))?;
        let structure = ctx.caller().structure().ok_or_else(|| Error::forbidden(READ))?;
        let staff = [Profile::Direction, Profile::VieScolaire, Profile::AdminLocal, Profile::AdminCentral]
            .into_iter()
            .any(|p| ctx.caller().has_profile(p));
        let year = service::year_or_current(ctx, input.year);
        let mut classes: BTreeMap<String, ClassChoice> = BTreeMap::new();
        if staff {
            let scan =
                Scan::index(Class::COLLECTION, "by_structure").prefix((structure.0, i64::from(year.0))).limit(1000);
            for c in ctx.tx().scan_records::<Class>(&scan).await?.0 {
                classes.insert(c.value.name.clone(), ClassChoice { id: c.value.id, name: c.value.name });
            }
        } else {
            for t in query::teachings_of(ctx.tx(), me, year).await? {
                if let (Unit::Class(c), true, true) = (t.unit, t.principal, t.structure == structure)
                    && let Some(class) = ctx.tx().get_record::<Class>(c).await?
                {
                    classes.insert(class.value.name.clone(), ClassChoice { id: c, name: class.value.name });
                }
            }
        }
        Ok(MyClasses { classes: classes.into_values().collect() })
    }
}
