//! **messagerie**: internal mail between the people of a school, and to groups (a class, the parents of a
//! class, the teachers of a structure, a manual group), within the communication rules of each structure.
//!
//! The guide is `docs/modules/messagerie.md`. In short:
//!
//! - `messagerie.preview` tells the sender who a message would reach, and who the rules exclude and why;
//!   `messagerie.send` delivers to every allowed recipient in one transaction, or to nobody: if the rules
//!   exclude anyone, the send is refused unless the sender confirms with `only_allowed`.
//! - One stored [`Message`] per message, one [`Entry`] per mailbox, written with one batch; unread counts
//!   are atomic counters; attachments are blob references shared by every mailbox; full-text search runs
//!   in one's own mailbox only.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use ent_core::clock::SystemClock;
//! use ent_core::directory::Profile;
//! use ent_core::{Caller, Ent, StructureId, UserId};
//! use ent_modules::messagerie::Messagerie;
//! use ent_storage::memory::{MemoryBlobStore, MemoryFullText, MemoryStore};
//!
//! let store = Arc::new(MemoryStore::new());
//! let blobs = Arc::new(MemoryBlobStore::new(10 << 20, Arc::new(SystemClock)));
//! let ent = Ent::builder(store).module(Messagerie::new(blobs, Arc::new(MemoryFullText::new()))).build().await?;
//! let pupil = Caller::user(UserId::new(), StructureId::new(), [Profile::Eleve]);
//! let unread = ent.call(&pupil, "messagerie.unread", "{}").await?;
//! assert_eq!(unread["inbox"], 0);
//! # Ok::<(), ent_core::Error>(())
//! # }).unwrap();
//! ```

mod actions;
mod body;
mod events;
mod records;
mod rules;
mod service;
mod web;

use std::borrow::Cow;
use std::sync::Arc;

use ent_core::directory::Profile;
use ent_core::module::{Handlers, Manifest, ServiceModule};
use ent_core::storage::blob::BlobStore;
use ent_core::storage::fulltext::FullText;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use actions::{
    Changed, CreateFolder, CreateFolderInput, Delete, DeleteDraft, DeleteFolder, Download, DownloadInput,
    DownloadOutput, DraftIdInput, DraftSaved, DraftView, Drafts, DraftsInput, DraftsOutput, EmptyTrash, FolderId,
    FolderView, Folders, FoldersOutput, GetDraft, List, ListInput, ListOutput, Mark, MarkInput, MessagesInput, Move,
    MoveInput, Nothing, Open, OpenInput, Opened, Preview, PreviewInput, PreviewOutput, Recall, RecallInput,
    RecallOutput, Receipt, Receipts, ReceiptsInput, ReceiptsOutput, RenameFolder, RenameFolderInput, Restore,
    SaveDraft, SaveDraftInput, Search, SearchInput, SearchOutput, Send, SendInput, SendOutput, Thread, ThreadInput,
    ThreadOutput, Unread, UnreadOutput, Upload, UploadInput, UploadOutput,
};
pub use body::{plain_text, sanitize, snippet};
pub use events::{INDEXER, Indexer, Removed, Sent};
pub use records::{
    Address, Addressed, Attachment, Draft, Entry, Folder, FolderRef, Kind, MAIL_TEXT, MassMessage, Message, entry_key,
    text_doc, text_partition, unread_counter,
};
pub use rules::{
    Audience, Needs, OpeningHours, Policy, Reason, Recipient, Role, Sender, Target, check, local_time, may_address,
    members_checked_one_by_one, needs,
};
pub use service::{AttachmentInput, Excluded, Person, Resolution};

/// The setting of the communication rules ([`Policy`]).
pub const POLICY: &str = "messagerie.policy";
/// The setting of sizes, counts and delays ([`Limits`]).
pub const LIMITS: &str = "messagerie.limits";

/// The per-structure setting `messagerie.limits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The most recipients a message may have (after expanding groups).
    #[serde(default = "d_max_recipients")]
    #[schemars(range(min = 1, max = 100000))]
    pub max_recipients: u32,
    /// Above this many recipients a message is a mass message: only `mass_senders` send them, and each is
    /// traced in `messagerie.mass_messages`.
    #[serde(default = "d_mass_threshold")]
    #[schemars(range(min = 1))]
    pub mass_threshold: u32,
    /// The profiles that may send mass messages.
    #[serde(default = "d_mass_senders")]
    pub mass_senders: Vec<Profile>,
    /// The largest body, in bytes of HTML.
    #[serde(default = "d_max_body")]
    #[schemars(range(min = 1000, max = 500000))]
    pub max_body_bytes: u32,
    /// The most files on one message.
    #[serde(default = "d_max_attachments")]
    #[schemars(range(min = 0, max = 50))]
    pub max_attachments: u32,
    /// The largest file, in bytes.
    #[serde(default = "d_max_attachment")]
    pub max_attachment_bytes: u64,
    /// The most bytes of files on one message.
    #[serde(default = "d_max_total")]
    pub max_total_attachment_bytes: u64,
    /// How long after sending a message may be recalled, in minutes (0: never).
    #[serde(default = "d_recall")]
    #[schemars(range(min = 0, max = 10080))]
    pub recall_minutes: u32,
}

fn d_max_recipients() -> u32 {
    3000
}
fn d_mass_threshold() -> u32 {
    50
}
fn d_mass_senders() -> Vec<Profile> {
    vec![
        Profile::Enseignant,
        Profile::Direction,
        Profile::VieScolaire,
        Profile::Administratif,
        Profile::Documentaliste,
        Profile::AdminLocal,
        Profile::AdminCentral,
    ]
}
fn d_max_body() -> u32 {
    200_000
}
fn d_max_attachments() -> u32 {
    10
}
fn d_max_attachment() -> u64 {
    10 << 20
}
fn d_max_total() -> u64 {
    20 << 20
}
fn d_recall() -> u32 {
    30
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_recipients: d_max_recipients(),
            mass_threshold: d_mass_threshold(),
            mass_senders: d_mass_senders(),
            max_body_bytes: d_max_body(),
            max_attachments: d_max_attachments(),
            max_attachment_bytes: d_max_attachment(),
            max_total_attachment_bytes: d_max_total(),
            recall_minutes: d_recall(),
        }
    }
}

/// The messagerie module. It needs a blob store (attachments) and a full-text index (search), which the
/// assembly's storage adapter provides (`MemoryBlobStore` and `MemoryFullText`, or `SqliteStore::blob_store`
/// and `SqliteStore::full_text`).
#[derive(Debug, Clone)]
pub struct Messagerie {
    ports: Arc<service::Ports>,
}

impl Messagerie {
    /// The module over these ports.
    pub fn new(blobs: Arc<dyn BlobStore>, text: Arc<dyn FullText>) -> Self {
        Messagerie { ports: Arc::new(service::Ports { blobs, text }) }
    }
}

impl ServiceModule for Messagerie {
    fn manifest(&self) -> Manifest {
        use Profile::*;
        let readers = [
            Eleve,
            Responsable,
            Enseignant,
            Direction,
            VieScolaire,
            Administratif,
            Documentaliste,
            Invite,
            AdminLocal,
            AdminCentral,
        ];
        let writers = [
            Eleve,
            Responsable,
            Enseignant,
            Direction,
            VieScolaire,
            Administratif,
            Documentaliste,
            AdminLocal,
            AdminCentral,
        ];
        let m = Manifest::new("messagerie", env!("CARGO_PKG_VERSION"))
            .description("Messagerie interne : messages entre personnes et aux groupes, selon les règles de communication de l'établissement")
            .right("messagerie.read", "Read one's mailbox, sort it, search it", readers)
            .right("messagerie.write", "Write messages (within the communication rules)", writers)
            .collection::<Message>()
            .collection::<Entry>()
            .collection::<Folder>()
            .collection::<Draft>()
            .collection::<MassMessage>()
            .action::<Preview>()
            .action::<Send>()
            .action::<List>()
            .action::<Open>()
            .action::<Thread>()
            .action::<Search>()
            .action::<Mark>()
            .action::<Move>()
            .action::<Restore>()
            .action::<Delete>()
            .action::<EmptyTrash>()
            .action::<Folders>()
            .action::<Unread>()
            .action::<CreateFolder>()
            .action::<RenameFolder>()
            .action::<DeleteFolder>()
            .action::<SaveDraft>()
            .action::<Drafts>()
            .action::<GetDraft>()
            .action::<DeleteDraft>()
            .action::<Recall>()
            .action::<Receipts>()
            .action::<Upload>()
            .action::<Download>()
            .emits::<Sent>()
            .emits::<Removed>()
            .listens(INDEXER, [<Sent as ent_core::event::Event>::NAME, <Removed as ent_core::event::Event>::NAME])
            .setting(POLICY, "Communication rules: who may write to whom, opening hours", Policy::default())
            .setting(LIMITS, "Sizes, counts, mass messages and the recall delay", Limits::default())
            .notification("messagerie.received", "A new message in one's inbox")
            .i18n("fr", "i18n/fr.ftl")
            .i18n("en", "i18n/en.ftl");
        web::declare(m)
    }

    fn handlers(&self) -> Handlers {
        let p = &self.ports;
        Handlers::new()
            .action(Preview)
            .action(Send(p.clone()))
            .action(List)
            .action(Open)
            .action(Thread)
            .action(Search(p.clone()))
            .action(Mark)
            .action(Move)
            .action(Restore)
            .action(Delete)
            .action(EmptyTrash)
            .action(Folders)
            .action(Unread)
            .action(CreateFolder)
            .action(RenameFolder)
            .action(DeleteFolder)
            .action(SaveDraft(p.clone()))
            .action(Drafts)
            .action(GetDraft)
            .action(DeleteDraft)
            .action(Recall)
            .action(Receipts)
            .action(Upload(p.clone()))
            .action(Download(p.clone()))
            .subscriber(Indexer::new(p.clone()))
    }

    fn asset(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        let bytes: &'static [u8] = match path {
            "i18n/fr.ftl" => include_bytes!("i18n/fr.ftl"),
            "i18n/en.ftl" => include_bytes!("i18n/en.ftl"),
            _ => return web::asset(path),
        };
        Some(Cow::Borrowed(bytes))
    }
}
