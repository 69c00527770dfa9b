//! The shell's own module, `portal`: the account page, the directory (my classes, a class's members, a
//! parent's children) and the home-page widgets that every portal has, declared through the same module
//! UI contract as any other module (`docs/web-ui.md`).

pub mod actions;
mod records;

use std::borrow::Cow;

use ent_core::directory::Profile;
use ent_core::module::{Handlers, Manifest, ServiceModule};
use rust_embed::RustEmbed;

use actions::{Children, MyClasses, StructureCard, UnitMembers};
pub(crate) use records::{FeedToken, Upload};

/// The module's id.
pub const PORTAL: &str = "portal";
/// The right to read the directory of one's own classes, children and structure.
pub(crate) const DIRECTORY_READ: &str = "portal.directory.read";
/// The right to upload files and subscribe to iCal feeds.
pub(crate) const FILES: &str = "portal.files";

#[derive(RustEmbed)]
#[folder = "web/portal/"]
struct PortalAssets;

/// The portal module: add it to the assembly that [`crate::router`] serves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Portal;

impl ServiceModule for Portal {
    fn manifest(&self) -> Manifest {
        let staff = [
            Profile::Direction,
            Profile::VieScolaire,
            Profile::Administratif,
            Profile::Documentaliste,
            Profile::AdminLocal,
            Profile::AdminCentral,
        ];
        let mut m = Manifest::new(PORTAL, env!("CARGO_PKG_VERSION"))
            .description("The web shell's own pages: account, directory, home-page widgets")
            .right(DIRECTORY_READ, "Read the directory of one's classes, children and structure", Profile::ALL)
            .right(FILES, "Upload files and subscribe to calendar feeds", Profile::ALL)
            .collection::<Upload>()
            .collection::<FeedToken>()
            .action::<MyClasses>()
            .action::<UnitMembers>()
            .action::<Children>()
            .action::<StructureCard>();
        for file in PortalAssets::iter() {
            let media = if file.ends_with(".css") { "text/css" } else { "text/javascript" };
            m = m.asset(format!("web/{file}"), media);
        }
        m = m
            .page("portal.directory", "ent-directory-page", "web/directory.js")
            .page("portal.account", "ent-account-page", "web/account.js")
            .nav("portal.directory", "Annuaire", "Directory", [])
            .nav("portal.account", "Mon compte", "My account", [])
            .widget(
                "portal.classes",
                "ent-my-classes",
                "web/directory.js",
                ("Mes classes", "My classes"),
                [Profile::Eleve, Profile::Enseignant],
            )
            .widget(
                "portal.children",
                "ent-my-children",
                "web/directory.js",
                ("Mes enfants", "My children"),
                [Profile::Responsable],
            )
            .widget(
                "portal.structure",
                "ent-structure-card",
                "web/directory.js",
                ("Mon établissement", "My school"),
                staff,
            )
            .widget(
                "portal.security",
                "ent-security-card",
                "web/account.js",
                ("Sécurité du compte", "Account security"),
                [],
            );
        // The shell's own entries come first, its security card last.
        m.web.nav.iter_mut().for_each(|n| n.order = -100);
        for w in &mut m.web.widgets {
            w.order = if w.id == "portal.security" { 100 } else { -10 };
        }
        m
    }

    fn handlers(&self) -> Handlers {
        Handlers::new().action(MyClasses).action(UnitMembers).action(Children).action(StructureCard)
    }

    fn asset(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        PortalAssets::get(path.strip_prefix("web/")?).map(|f| f.data)
    }
}
