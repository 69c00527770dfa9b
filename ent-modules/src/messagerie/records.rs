//! What the messagerie stores, and how each record is indexed.
//!
//! - [`Message`]: one per message, whatever the number of recipients: the body (sanitized HTML and its
//!   text), the addresses as the sender wrote them, the attachments (blob references, taken once).
//! - [`Entry`]: one per mailbox holding the message (the sender's copy in `sent`, one per recipient in
//!   `inbox`), with what a mailbox list shows (subject, sender, snippet) and the owner's state (folder,
//!   read or not), keyed `(message, owner)`. A mailbox page is one index scan: `by_folder` (owner, folder, message), newest first,
//!   since message ids are UUID v7.
//! - [`Folder`]: a user's own folders. [`Draft`]: unsent messages. [`MassMessage`]: the trace of every
//!   message above the structure's mass threshold, kept when the message itself is deleted.
//! - Counters (in [`Entry::COLLECTION`]): unread entries per (owner, folder), see [`unread_counter`].

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use ent_core::directory::Profile;
use ent_core::storage::blob::BlobId;
use ent_core::storage::{CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Tuple};
use ent_core::{ClassId, Error, GroupId, StructureId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::Audience;

/// A recipient as the sender addresses it: a person, or a group expanded at send time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Address {
    /// One person.
    User {
        /// Who.
        id: UserId,
    },
    /// A class: its pupils (`members`), their parents, or its teachers.
    Class {
        /// The class.
        id: ClassId,
        /// Who in it.
        audience: Audience,
    },
    /// A group: a teaching group (as a class) or a manual group (its members, each checked by the rules).
    Group {
        /// The group.
        id: GroupId,
        /// Who in it.
        audience: Audience,
    },
    /// Everyone holding a profile in the sender's structure ("the teachers of the collège").
    Structure {
        /// The profile.
        profile: Profile,
    },
}

/// An address with the label it had when the message was sent ("3A — parents").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Addressed {
    /// The address.
    pub address: Address,
    /// What to show.
    pub label: String,
}

/// An attached file: a reference on a blob, shared by every mailbox holding the message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Attachment {
    /// The blob (SHA-256, hex).
    #[schemars(with = "String")]
    pub blob: BlobId,
    /// The file name.
    pub name: String,
    /// Its MIME type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// How a message relates to the one before it in its thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A new conversation.
    New,
    /// A reply (to the sender, or to everyone).
    Reply,
    /// A forward (with the original's attachments).
    Forward,
}

/// A message: stored once, whatever the number of recipients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    /// Its id (UUID v7: ordered by sending time).
    pub id: uuid::Uuid,
    /// Its conversation (the id of the first message).
    pub thread: uuid::Uuid,
    /// The message it answers or forwards.
    pub parent: Option<uuid::Uuid>,
    /// New, reply or forward.
    pub kind: Kind,
    /// The structure the sender acted in (whose rules applied).
    pub structure: StructureId,
    /// Who sent it.
    pub sender: UserId,
    /// Their name when they sent it.
    pub sender_name: String,
    /// The subject.
    pub subject: String,
    /// The body, sanitized HTML.
    pub body_html: String,
    /// The body as plain text.
    pub body_text: String,
    /// The addresses as the sender wrote them.
    pub to: Vec<Addressed>,
    /// How many people received it.
    pub recipient_count: u32,
    /// Attached files.
    pub attachments: Vec<Attachment>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// When the sender recalled it from the recipients' mailboxes.
    pub recalled_at: Option<DateTime<Utc>>,
}

impl Record for Message {
    const COLLECTION: &'static str = "messagerie.messages";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }
}

/// A mailbox folder: a system one, or one of the owner's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FolderRef {
    /// Received messages.
    Inbox,
    /// Sent messages.
    Sent,
    /// Deleted messages, until deleted for good.
    Trash,
    /// One of the owner's folders.
    Own(uuid::Uuid),
}

impl FolderRef {
    /// Its key in indexes and counters: `inbox`, `sent`, `trash` or the folder's id.
    pub fn key(self) -> String {
        match self {
            FolderRef::Inbox => "inbox".into(),
            FolderRef::Sent => "sent".into(),
            FolderRef::Trash => "trash".into(),
            FolderRef::Own(id) => id.to_string(),
        }
    }

    /// Parses a key.
    pub fn parse(s: &str) -> Result<FolderRef, Error> {
        Ok(match s {
            "inbox" => FolderRef::Inbox,
            "sent" => FolderRef::Sent,
            "trash" => FolderRef::Trash,
            other => FolderRef::Own(other.parse().map_err(|_| {
                Error::invalid("folder", format!("`{other}` is neither inbox, sent, trash nor a folder id"))
            })?),
        })
    }
}

impl Serialize for FolderRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

impl<'de> Deserialize<'de> for FolderRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FolderRef::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for FolderRef {
    fn schema_name() -> Cow<'static, str> {
        "FolderRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "`inbox`, `sent`, `trash`, or the id of one of the caller's folders",
            "pattern": "^(inbox|sent|trash|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
        })
    }
}

/// A message in one mailbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    /// The mailbox's owner.
    pub owner: UserId,
    /// The message.
    pub message: uuid::Uuid,
    /// Its conversation.
    pub thread: uuid::Uuid,
    /// Where it is.
    pub folder: FolderRef,
    /// Where it goes back to when restored from the trash.
    pub restore_to: Option<FolderRef>,
    /// Not read yet (always false for the sender's copy).
    pub unread: bool,
    /// When the owner first opened it.
    pub read_at: Option<DateTime<Utc>>,
    /// Who sent it.
    pub sender: UserId,
    /// Their name.
    pub sender_name: String,
    /// The subject.
    pub subject: String,
    /// The start of the text.
    pub snippet: String,
    /// How many files are attached.
    pub attachments: u32,
    /// How many people received the message.
    pub recipient_count: u32,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The sender recalled it (only the sender's copy remains).
    #[serde(default)]
    pub recalled: bool,
}

impl Entry {
    /// Whether this is the sender's own copy.
    pub fn is_sent(&self) -> bool {
        self.owner == self.sender
    }
}

impl Record for Entry {
    const COLLECTION: &'static str = "messagerie.entries";

    /// Keyed `(message, owner)`: the entries of one message are written side by side (a send to 2,000
    /// people fills a few pages instead of touching 2,000), and recall, receipts and the last-copy check
    /// are one prefix scan. `by_folder (owner, folder, message)` serves mailbox pages; `by_thread (thread,
    /// owner, message)` a conversation, also written side by side.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Uuid])
            .index(IndexDef::new("by_folder", [KeyKind::Uuid, KeyKind::Str, KeyKind::Uuid]))
            .index(IndexDef::new("by_thread", [KeyKind::Uuid, KeyKind::Uuid, KeyKind::Uuid]))
    }

    fn id(&self) -> Tuple {
        entry_key(self.owner, self.message)
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![
            IndexEntry {
                index: "by_folder".into(),
                key: (self.owner.0, self.folder.key().as_str(), self.message).into(),
            },
            IndexEntry { index: "by_thread".into(), key: (self.thread, self.owner.0, self.message).into() },
        ]
    }
}

/// The primary key of an owner's entry for a message.
pub fn entry_key(owner: UserId, message: uuid::Uuid) -> Tuple {
    (message, owner.0).into()
}

/// The counter of unread entries of an owner's folder (in [`Entry::COLLECTION`]).
pub fn unread_counter(owner: UserId, folder: FolderRef) -> Tuple {
    ("unread", owner.0, folder.key().as_str()).into()
}

/// One of a user's own folders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Folder {
    /// Whose.
    pub owner: UserId,
    /// Its id.
    pub id: uuid::Uuid,
    /// Its name, unique for its owner (ignoring case and accents).
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl Record for Folder {
    const COLLECTION: &'static str = "messagerie.folders";

    /// Keyed `(owner, id)`; `by_name` is unique on the folded name.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Uuid])
            .index(IndexDef::new("by_name", [KeyKind::Uuid, KeyKind::Str]).unique())
    }

    fn id(&self) -> Tuple {
        (self.owner.0, self.id).into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        let folded = ent_core::directory::names::fold(&self.name);
        vec![IndexEntry { index: "by_name".into(), key: (self.owner.0, folded.as_str()).into() }]
    }
}

/// A message being written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Draft {
    /// Its id.
    pub id: uuid::Uuid,
    /// Whose.
    pub owner: UserId,
    /// The structure the owner acts in.
    pub structure: StructureId,
    /// The addresses so far.
    pub to: Vec<Address>,
    /// The subject.
    pub subject: String,
    /// The body, sanitized HTML.
    pub body_html: String,
    /// Files attached so far (each holds a blob reference).
    pub attachments: Vec<Attachment>,
    /// The message it answers.
    pub reply_to: Option<uuid::Uuid>,
    /// Answer everyone.
    #[serde(default)]
    pub reply_all: bool,
    /// The message it forwards.
    pub forward_of: Option<uuid::Uuid>,
    /// Last saved.
    pub updated_at: DateTime<Utc>,
}

impl Record for Draft {
    const COLLECTION: &'static str = "messagerie.drafts";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
            .index(IndexDef::new("by_owner", [KeyKind::Uuid, KeyKind::Uuid]))
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry { index: "by_owner".into(), key: (self.owner.0, self.id).into() }]
    }
}

/// The trace of a mass message (above the structure's threshold): who sent what to how many, kept when the
/// message is deleted or recalled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MassMessage {
    /// The structure.
    pub structure: StructureId,
    /// The message.
    pub message: uuid::Uuid,
    /// Who sent it.
    pub sender: UserId,
    /// Its subject.
    pub subject: String,
    /// The addresses as written.
    pub to: Vec<Addressed>,
    /// How many received it.
    pub recipient_count: u32,
    /// When.
    pub sent_at: DateTime<Utc>,
}

impl Record for MassMessage {
    const COLLECTION: &'static str = "messagerie.mass_messages";

    /// Keyed `(structure, message)`: a structure's mass messages in sending order.
    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid, KeyKind::Uuid])
    }

    fn id(&self) -> Tuple {
        (self.structure.0, self.message).into()
    }
}

/// The full-text collection: one document per (owner, message), partitioned by owner, so that a search
/// never leaves one's own mailbox.
pub const MAIL_TEXT: &str = "messagerie.mail";

/// The full-text document of an entry.
pub fn text_doc(owner: UserId, message: uuid::Uuid) -> Tuple {
    (owner.0, message).into()
}

/// The full-text partition of a mailbox.
pub fn text_partition(owner: UserId) -> Tuple {
    (owner.0,).into()
}
