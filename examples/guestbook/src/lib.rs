//! **guestbook**: an example ent module. Each structure has a guest book; pupils, parents and staff sign
//! it, everybody reads it.
//!
//! It shows every piece of the SDK: a collection with an index, rights with default grants, a setting
//! (`guestbook.max_length`), a configuration, an event (`guestbook.signed`) and its subscriber, a job
//! (`guestbook.purge`), actions called typed ([`Guestbook::sign`]) and through JSON, web assets and i18n
//! catalogues.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use ent::core::{Caller, Ent, StructureId, UserId};
//! use ent::core::directory::Profile;
//! use ent::storage::memory::MemoryStore;
//! use guestbook::{Guestbook, ListInput};
//!
//! let ent = Ent::builder(Arc::new(MemoryStore::new())).module(Guestbook).build().await?;
//! let pupil = Caller::user(UserId::new(), StructureId::new(), [Profile::Eleve]);
//!
//! // Typed...
//! Guestbook::sign(&ent, &pupil, "Merci pour la sortie au musée !").await?;
//! // ...or through JSON, as the HTTP layer does: the same rights and validation.
//! let page = ent.call(&pupil, "guestbook.list", r#"{"limit": 10}"#).await?;
//! assert_eq!(page["signatures"][0]["message"], "Merci pour la sortie au musée !");
//!
//! ent.run_pending_events().await?;
//! assert_eq!(Guestbook::list(&ent, &pupil, ListInput { limit: 10 }).await?.total, 1);
//! # Ok::<(), ent::Error>(())
//! # }).unwrap();
//! ```

mod actions;
mod events;
mod jobs;
mod records;

use std::borrow::Cow;

use ent::core::directory::Profile;
use ent::core::module::{Handlers, Manifest, ServiceModule};
use ent::core::{Caller, Ent};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use actions::{Edit, EditInput, List, ListInput, ListOutput, Sign, SignInput, SignOutput};
pub use events::{Counter, Signed};
pub use jobs::{Purge, PurgePayload};
pub use records::{Signature, signed_counter};

/// The setting that limits a message's length, per structure.
pub const MAX_LENGTH: &str = "guestbook.max_length";

/// The value of `guestbook.max_length`: characters, 10 to 2000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MaxLength(#[schemars(range(min = 10, max = 2000))] pub u32);

/// The module's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Config {
    /// The title shown above the book.
    #[serde(default = "default_title")]
    pub title: String,
}

fn default_title() -> String {
    "Livre d'or".to_owned()
}

/// The guest book module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Guestbook;

impl ServiceModule for Guestbook {
    fn manifest(&self) -> Manifest {
        let everyone = Profile::ALL;
        let signers = [
            Profile::Eleve,
            Profile::Responsable,
            Profile::Enseignant,
            Profile::Direction,
            Profile::VieScolaire,
            Profile::Administratif,
            Profile::Documentaliste,
        ];
        Manifest::new("guestbook", env!("CARGO_PKG_VERSION"))
            .description("A guest book per structure")
            .right("guestbook.read", "Read the guest book", everyone)
            .right("guestbook.sign", "Sign the guest book", signers)
            .collection::<Signature>()
            .action::<Sign>()
            .action::<Edit>()
            .action::<List>()
            .emits::<Signed>()
            .listens("guestbook.counter", [<Signed as ent::core::event::Event>::NAME])
            .setting(MAX_LENGTH, "Longest message, in characters", MaxLength(280))
            .config::<Config>()
            .job("guestbook.purge", "Delete a structure's old signatures", None)
            .notification("guestbook.signed", "Someone signed your structure's guest book")
            .asset("web/guestbook-page.js", "text/javascript")
            .page("guestbook.book", "guestbook-page", "web/guestbook-page.js")
            .nav("guestbook.book", "Livre d'or", "Guest book", [])
            .widget("guestbook.latest", "guestbook-page", "web/guestbook-page.js", ("Livre d'or", "Guest book"), [])
            .i18n("fr", "i18n/fr.ftl")
            .i18n("en", "i18n/en.ftl")
    }

    fn handlers(&self) -> Handlers {
        Handlers::new().action(Sign).action(Edit).action(List).subscriber(Counter).job(Purge)
    }

    fn asset(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        let bytes: &'static [u8] = match path {
            "web/guestbook-page.js" => include_bytes!("web/guestbook-page.js"),
            "i18n/fr.ftl" => include_bytes!("i18n/fr.ftl"),
            "i18n/en.ftl" => include_bytes!("i18n/en.ftl"),
            _ => return None,
        };
        Some(Cow::Borrowed(bytes))
    }
}

/// The typed API: what Rust callers use. Each method runs the action through the assembly, so the right
/// and the input schema are checked exactly as for a JSON call.
impl Guestbook {
    /// Signs the caller's structure's guest book.
    pub async fn sign(ent: &Ent, caller: &Caller, message: impl Into<String>) -> ent::Result<SignOutput> {
        ent.run::<Sign>(caller, SignInput { message: message.into() }).await
    }

    /// Changes one's own signature, read at `version`.
    pub async fn edit(
        ent: &Ent,
        caller: &Caller,
        id: uuid::Uuid,
        version: u64,
        message: impl Into<String>,
    ) -> ent::Result<SignOutput> {
        ent.run::<Edit>(caller, EditInput { id, version, message: message.into() }).await
    }

    /// Reads the caller's structure's guest book.
    pub async fn list(ent: &Ent, caller: &Caller, input: ListInput) -> ent::Result<ListOutput> {
        ent.run::<List>(caller, input).await
    }
}
