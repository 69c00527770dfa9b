//! The messagerie's actions: what a client (the web shell, a plugin, a Rust caller) can do, each with its
//! input and output schema. Everything acts on the caller's own mailbox.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ent_core::module::{Action, Context};
use ent_core::storage::blob;
use ent_core::storage::{Cursor, Record, Scan, TxExt};
use ent_core::{Error, Result, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::body::{plain_text, sanitize};
use super::events::{Removed, Sent};
use super::records::{
    Address, Attachment, Draft, Entry, Folder, FolderRef, Kind, MAIL_TEXT, MassMessage, Message, entry_key,
    text_partition, unread_counter,
};
use super::rules::Reason;
use super::service::{self, Acting, AttachmentInput, Excluded, Ports, Resolution};

const READ: &str = "messagerie.read";
const WRITE: &str = "messagerie.write";

fn default_true() -> bool {
    true
}

fn default_limit() -> u32 {
    20
}

fn cursor(c: &Option<String>) -> Option<Cursor> {
    c.as_ref().map(|s| Cursor::from_string(s.clone()))
}

// ---------------------------------------------------------------------------------------------------------
// Addressing and sending.

/// Input of `messagerie.preview`: the addresses of a message being written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// People and groups.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub to: Vec<Address>,
    /// Answering this message adds its sender (and, with `reply_all`, its other addresses).
    #[serde(default)]
    pub reply_to: Option<uuid::Uuid>,
    /// Answer everyone the answered message was addressed to.
    #[serde(default)]
    pub reply_all: bool,
}

/// Output of `messagerie.preview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PreviewOutput {
    /// Who would receive it, who is excluded and why.
    #[serde(flatten)]
    pub resolution: Resolution,
    /// Above the structure's mass threshold (only some profiles may send such messages, and each is traced).
    pub mass: bool,
    /// The most recipients a message may have here.
    pub max_recipients: u32,
}

/// `messagerie.preview`: tells the sender, before sending, who the message would reach and which
/// recipients the communication rules exclude, and why.
pub struct Preview;

#[async_trait]
impl Action for Preview {
    type Input = PreviewInput;
    type Output = PreviewOutput;
    const NAME: &'static str = "messagerie.preview";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Who a message would reach, and who the rules exclude and why";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: PreviewInput) -> Result<PreviewOutput> {
        let who = service::acting(ctx)?;
        let (policy, limits) = service::settings(ctx, who.structure).await?;
        let year = service::year(ctx);
        let now = ctx.now();
        let tx = ctx.tx();
        let (sender, _) = service::load_sender(tx, &who, year).await?;
        let mut to = input.to;
        if let Some(parent) = input.reply_to {
            let (_, implicit) = reply_addresses(tx, &who, parent, input.reply_all).await?;
            to.extend(implicit);
        }
        let mut resolution = service::resolve(tx, &who, &sender, &policy, &to, year).await?;
        resolution.sort_by_name();
        resolution.blocked = service::blocked(tx, &who, &policy, now).await?;
        let mass = resolution.allowed.len() > limits.mass_threshold as usize;
        Ok(PreviewOutput { resolution, mass, max_recipients: limits.max_recipients })
    }
}

/// The addresses of a reply: the answered message's sender, and with `all` its other addresses; the caller's
/// own address is left out. Reading the answered message needs an entry in the caller's mailbox.
async fn reply_addresses(
    tx: &mut dyn ent_core::storage::Transaction,
    who: &Acting,
    parent: uuid::Uuid,
    all: bool,
) -> Result<(Message, Vec<Address>)> {
    service::own_entry(tx, who.user, parent).await?;
    let original = tx.fetch_record::<Message>(parent).await?.value;
    let mut out = Vec::new();
    if original.sender != who.user {
        out.push(Address::User { id: original.sender });
    }
    if all || original.sender == who.user {
        for a in &original.to {
            if a.address != (Address::User { id: who.user }) {
                out.push(a.address.clone());
            }
        }
    }
    Ok((original, out))
}

/// Input of `messagerie.send`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    /// People and groups (may be empty for a reply, which goes to the answered message's sender).
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub to: Vec<Address>,
    /// The subject (a reply or forward without one gets the original's, prefixed).
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub subject: String,
    /// The body, HTML (sanitized: scripts, event handlers and unsafe links are removed) or plain text.
    #[serde(default)]
    pub body: String,
    /// Files uploaded with `messagerie.upload`.
    #[serde(default)]
    #[schemars(length(max = 50))]
    pub attachments: Vec<AttachmentInput>,
    /// The message this answers (it must be in the caller's mailbox).
    #[serde(default)]
    pub reply_to: Option<uuid::Uuid>,
    /// Answer everyone the answered message was addressed to.
    #[serde(default)]
    pub reply_all: bool,
    /// The message this forwards, with its attachments (it must be in the caller's mailbox).
    #[serde(default)]
    pub forward_of: Option<uuid::Uuid>,
    /// The draft this message comes from: deleted when the message is sent.
    #[serde(default)]
    pub draft: Option<uuid::Uuid>,
    /// Send to the allowed recipients only, leaving out those the rules exclude (as `messagerie.preview`
    /// showed them). Without it, any exclusion refuses the whole message.
    #[serde(default)]
    pub only_allowed: bool,
}

/// Output of `messagerie.send`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SendOutput {
    /// The message.
    pub id: uuid::Uuid,
    /// Its conversation.
    pub thread: uuid::Uuid,
    /// How many people received it.
    pub recipients: u32,
    /// Who was left out by the rules (with `only_allowed`).
    pub excluded: Vec<Excluded>,
    /// Group members who cannot receive mail.
    pub skipped: Vec<Excluded>,
}

/// `messagerie.send`: sends a message. Either every allowed recipient receives it, in one transaction, or
/// nobody does.
pub struct Send(pub(crate) Arc<Ports>);

fn prefixed(prefix: &str, subject: &str) -> String {
    let trimmed = subject.trim();
    if trimmed.to_lowercase().starts_with(&prefix.to_lowercase()) {
        trimmed.to_owned()
    } else {
        format!("{prefix}{trimmed}")
    }
}

#[async_trait]
impl Action for Send {
    type Input = SendInput;
    type Output = SendOutput;
    const NAME: &'static str = "messagerie.send";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Send a message to people and groups, within the communication rules";

    async fn run(&self, ctx: &mut Context<'_>, input: SendInput) -> Result<SendOutput> {
        let who = service::acting(ctx)?;
        let (policy, limits) = service::settings(ctx, who.structure).await?;
        let year = service::year(ctx);
        let now = ctx.now();
        if input.reply_to.is_some() && input.forward_of.is_some() {
            return Err(Error::invalid("forward_of", "a message either answers or forwards, not both"));
        }
        if input.body.len() > limits.max_body_bytes as usize {
            return Err(Error::TooLarge {
                what: "body".into(),
                size: input.body.len() as u64,
                limit: u64::from(limits.max_body_bytes),
            });
        }
        let tx = ctx.tx();
        if let Some(reason) = service::blocked(tx, &who, &policy, now).await? {
            return Err(match reason {
                Reason::NoSenderProfile => Error::forbidden(WRITE),
                _ => Error::invalid("opening_hours", reason.message()),
            });
        }
        let (sender, me) = service::load_sender(tx, &who, year).await?;

        // The conversation.
        let mut to = input.to.clone();
        let mut body_html = sanitize(&input.body);
        let mut subject = input.subject.trim().to_owned();
        let mut inherited = Vec::new();
        let (kind, parent, thread) = if let Some(parent) = input.reply_to {
            let (original, implicit) = reply_addresses(tx, &who, parent, input.reply_all).await?;
            to.extend(implicit);
            if subject.is_empty() {
                subject = prefixed("RE : ", &original.subject);
            }
            (Kind::Reply, Some(parent), original.thread)
        } else if let Some(parent) = input.forward_of {
            service::own_entry(tx, who.user, parent).await?;
            let original = tx.fetch_record::<Message>(parent).await?.value;
            if subject.is_empty() {
                subject = prefixed("TR : ", &original.subject);
            }
            body_html.push_str(&format!(
                "<p>-------- Message transféré / Forwarded message --------<br>De / From : {}<br>Date : {}<br>Objet / Subject : {}</p><blockquote>{}</blockquote>",
                sanitize(&original.sender_name),
                original.sent_at.format("%d/%m/%Y %H:%M"),
                sanitize(&original.subject),
                original.body_html
            ));
            inherited = original.attachments.clone();
            (Kind::Forward, Some(parent), original.thread)
        } else {
            (Kind::New, None, uuid::Uuid::nil())
        };
        let body_text = plain_text(&body_html);
        if subject.is_empty() && body_text.trim().is_empty() && input.attachments.is_empty() && inherited.is_empty() {
            return Err(Error::invalid("body", "the message is empty: give a subject, a text or a file"));
        }
        if to.is_empty() {
            return Err(Error::invalid("to", "no recipient"));
        }

        // Who receives it: all the allowed recipients, or nobody.
        let resolution = service::resolve(tx, &who, &sender, &policy, &to, year).await?;
        if !resolution.excluded.is_empty() && !input.only_allowed {
            let names: Vec<String> = resolution
                .excluded
                .iter()
                .take(5)
                .map(|e| format!("{} ({:?})", e.name.as_deref().unwrap_or(&e.label), e.reason))
                .collect();
            return Err(Error::invalid(
                "to",
                format!(
                    "{} recipient(s) excluded by the communication rules: {}{}; see messagerie.preview, and send \
                     with only_allowed to send to the {} others",
                    resolution.excluded.len(),
                    names.join(", "),
                    if resolution.excluded.len() > 5 { ", ..." } else { "" },
                    resolution.allowed.len()
                ),
            ));
        }
        if resolution.allowed.is_empty() {
            return Err(Error::invalid("to", "none of the recipients may receive this message"));
        }
        let count = resolution.allowed.len();
        if count > limits.max_recipients as usize {
            return Err(Error::TooLarge {
                what: "recipients".into(),
                size: count as u64,
                limit: u64::from(limits.max_recipients),
            });
        }
        let mass = count > limits.mass_threshold as usize;
        if mass && !who.profiles.iter().any(|p| limits.mass_senders.contains(p)) {
            return Err(Error::invalid(
                "to",
                format!(
                    "{count} recipients: messages to more than {} people are reserved to {:?}",
                    limits.mass_threshold, limits.mass_senders
                ),
            ));
        }

        // The draft it comes from goes, with its file references.
        if let Some(draft) = input.draft {
            let d = own_draft(tx, who.user, draft).await?;
            service::release_attachments(tx, &d.value.attachments).await?;
            tx.delete_record::<Draft>(draft, Some(d.version)).await?;
        }
        let attachments =
            service::take_attachments(tx, &*self.0.blobs, &limits, &input.attachments, &inherited).await?;

        let id = uuid::Uuid::now_v7();
        let message = Message {
            id,
            thread: if thread.is_nil() { id } else { thread },
            parent,
            kind,
            structure: who.structure,
            sender: who.user,
            sender_name: me.display_name(),
            subject,
            body_html,
            body_text,
            to: resolution.to.clone(),
            recipient_count: count as u32,
            attachments,
            sent_at: now,
            recalled_at: None,
        };
        let recipients: Vec<UserId> = resolution.allowed.iter().map(|p| p.id).collect();
        service::deliver(tx, &message, &recipients).await?;
        if mass {
            tx.insert_record(&MassMessage {
                structure: who.structure,
                message: id,
                sender: who.user,
                subject: message.subject.clone(),
                to: message.to.clone(),
                recipient_count: count as u32,
                sent_at: now,
            })
            .await?;
        }
        ctx.emit(&Sent { message: id, sender: who.user, structure: who.structure, recipients: count as u32 }).await?;
        Ok(SendOutput {
            id,
            thread: message.thread,
            recipients: count as u32,
            excluded: resolution.excluded,
            skipped: resolution.skipped,
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reading.

/// Input of `messagerie.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// The folder.
    pub folder: FolderRef,
    /// Page size, newest first.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
    /// The `next` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Also count the folder's messages (reads the folder's index range: ask for it on the first page only).
    #[serde(default)]
    pub with_total: bool,
}

/// Output of `messagerie.list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ListOutput {
    /// The page, newest first.
    pub entries: Vec<Entry>,
    /// The cursor of the next page.
    pub next: Option<String>,
    /// Unread messages in the folder.
    pub unread: i64,
    /// Messages in the folder, when asked.
    pub total: Option<u64>,
}

/// `messagerie.list`: a page of a folder of the caller's mailbox.
pub struct List;

#[async_trait]
impl Action for List {
    type Input = ListInput;
    type Output = ListOutput;
    const NAME: &'static str = "messagerie.list";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "A page of a folder of one's mailbox, newest first";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: ListInput) -> Result<ListOutput> {
        let who = service::acting(ctx)?;
        let tx = ctx.tx();
        if let FolderRef::Own(id) = input.folder {
            tx.get_record::<Folder>((who.user.0, id)).await?.ok_or_else(|| Error::not_found("folder", id))?;
        }
        let key = input.folder.key();
        let scan = Scan::index(Entry::COLLECTION, "by_folder")
            .prefix((who.user.0, key.as_str()))
            .backward()
            .limit(input.limit as usize)
            .after(cursor(&input.cursor));
        let (page, next) = tx.scan_records::<Entry>(&scan).await?;
        let unread = tx.counter_get(Entry::COLLECTION, &unread_counter(who.user, input.folder)).await?;
        let total = if input.with_total {
            Some(tx.count(&Scan::index(Entry::COLLECTION, "by_folder").prefix((who.user.0, key.as_str()))).await?)
        } else {
            None
        };
        Ok(ListOutput {
            entries: page.into_iter().map(|v| v.value).collect(),
            next: next.map(|c| c.as_str().to_owned()),
            unread,
            total,
        })
    }
}

/// Input of `messagerie.open`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenInput {
    /// The message.
    pub message: uuid::Uuid,
    /// Mark it read (the default).
    #[serde(default = "default_true")]
    pub mark_read: bool,
}

/// A message as its reader sees it: the message and their own copy's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Opened {
    /// The message.
    pub message: Message,
    /// The caller's copy (folder, read state).
    pub entry: Entry,
}

/// `messagerie.open`: reads a message of the caller's mailbox and marks it read.
pub struct Open;

#[async_trait]
impl Action for Open {
    type Input = OpenInput;
    type Output = Opened;
    const NAME: &'static str = "messagerie.open";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Read a message of one's mailbox (and mark it read)";

    async fn run(&self, ctx: &mut Context<'_>, input: OpenInput) -> Result<Opened> {
        let who = service::acting(ctx)?;
        let now = ctx.now();
        let tx = ctx.tx();
        let entry = service::own_entry(tx, who.user, input.message).await?;
        let message = tx.fetch_record::<Message>(input.message).await?.value;
        let entry =
            if input.mark_read && entry.value.unread { mark(tx, entry, false, now).await? } else { entry.value };
        Ok(Opened { message, entry })
    }
}

async fn mark(
    tx: &mut dyn ent_core::storage::Transaction,
    entry: ent_core::storage::Versioned<Entry>,
    unread: bool,
    now: DateTime<Utc>,
) -> Result<Entry> {
    let mut e = entry.value;
    if e.unread == unread || e.is_sent() {
        return Ok(e);
    }
    e.unread = unread;
    if !unread && e.read_at.is_none() {
        e.read_at = Some(now);
    }
    tx.counter_add(Entry::COLLECTION, &unread_counter(e.owner, e.folder), if unread { 1 } else { -1 }).await?;
    tx.update_record(entry.version, &e).await?;
    Ok(e)
}

/// Input of `messagerie.thread`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadInput {
    /// The conversation (a message's `thread`).
    pub thread: uuid::Uuid,
}

/// Output of `messagerie.thread`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ThreadOutput {
    /// The conversation's messages that the caller's mailbox holds, oldest first (at most 200).
    pub messages: Vec<Opened>,
}

/// `messagerie.thread`: a conversation, as far as the caller's mailbox holds it.
pub struct Thread;

#[async_trait]
impl Action for Thread {
    type Input = ThreadInput;
    type Output = ThreadOutput;
    const NAME: &'static str = "messagerie.thread";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "The messages of a conversation in one's mailbox, oldest first";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: ThreadInput) -> Result<ThreadOutput> {
        let who = service::acting(ctx)?;
        let tx = ctx.tx();
        let scan = Scan::index(Entry::COLLECTION, "by_thread").prefix((input.thread, who.user.0)).limit(200);
        let entries: Vec<Entry> = tx.scan_records::<Entry>(&scan).await?.0.into_iter().map(|v| v.value).collect();
        let ids: Vec<ent_core::storage::Tuple> = entries.iter().map(|e| e.message.into()).collect();
        let messages = tx.get_many(Message::COLLECTION, &ids).await?;
        let mut out = Vec::with_capacity(entries.len());
        for (entry, raw) in entries.into_iter().zip(messages) {
            if let Some(raw) = raw {
                out.push(Opened { message: ent_core::storage::typed::from_raw::<Message>(&raw)?.value, entry });
            }
        }
        Ok(ThreadOutput { messages: out })
    }
}

/// Input of `messagerie.search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchInput {
    /// Words (case and accents ignored; `math*` matches as a prefix). Every word must appear.
    #[schemars(length(min = 1, max = 200))]
    pub query: String,
    /// How many, best first.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 50))]
    pub limit: u32,
}

/// Output of `messagerie.search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchOutput {
    /// The caller's messages that match (subject, sender, text, file names), best first.
    pub entries: Vec<Entry>,
}

/// `messagerie.search`: full-text search in one's own mail.
pub struct Search(pub(crate) Arc<Ports>);

#[async_trait]
impl Action for Search {
    type Input = SearchInput;
    type Output = SearchOutput;
    const NAME: &'static str = "messagerie.search";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Search one's own mail (accent- and case-insensitive)";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: SearchInput) -> Result<SearchOutput> {
        let who = service::acting(ctx)?;
        // A few more than asked: hits whose entry is gone (deleted, recalled, not yet removed from the index)
        // are dropped below.
        let wanted = input.limit as usize;
        let hits = self.0.text.search(MAIL_TEXT, &text_partition(who.user), &input.query, wanted + 10).await?;
        // The index is written after commit: check each hit against the mailbox as it is now.
        let tx = ctx.tx();
        let keys: Vec<ent_core::storage::Tuple> = hits
            .iter()
            .filter_map(|doc| match doc.elements() {
                [ent_core::storage::Element::Uuid(owner), ent_core::storage::Element::Uuid(message)] => {
                    Some(entry_key(UserId(*owner), *message))
                }
                _ => None,
            })
            .collect();
        let raws = tx.get_many(Entry::COLLECTION, &keys).await?;
        let mut entries = Vec::new();
        for raw in raws.into_iter().flatten() {
            let e = ent_core::storage::typed::from_raw::<Entry>(&raw)?.value;
            if e.owner == who.user {
                entries.push(e);
            }
        }
        entries.truncate(wanted);
        Ok(SearchOutput { entries })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Mailbox state: read marks, folders, trash.

/// Input of the actions on a set of the caller's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessagesInput {
    /// The messages.
    #[schemars(length(min = 1, max = 500))]
    pub messages: Vec<uuid::Uuid>,
}

/// How many messages an action changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Changed {
    /// How many.
    pub changed: u32,
}

/// Input of `messagerie.mark`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkInput {
    /// The messages.
    #[schemars(length(min = 1, max = 500))]
    pub messages: Vec<uuid::Uuid>,
    /// Mark them unread (`true`) or read (`false`).
    pub unread: bool,
}

/// `messagerie.mark`: marks messages read or unread.
pub struct Mark;

#[async_trait]
impl Action for Mark {
    type Input = MarkInput;
    type Output = Changed;
    const NAME: &'static str = "messagerie.mark";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Mark messages read or unread";

    async fn run(&self, ctx: &mut Context<'_>, input: MarkInput) -> Result<Changed> {
        let who = service::acting(ctx)?;
        let now = ctx.now();
        let tx = ctx.tx();
        let mut changed = 0;
        for id in dedup(input.messages) {
            let entry = service::own_entry(tx, who.user, id).await?;
            if entry.value.unread != input.unread && !entry.value.is_sent() {
                mark(tx, entry, input.unread, now).await?;
                changed += 1;
            }
        }
        Ok(Changed { changed })
    }
}

fn dedup(mut ids: Vec<uuid::Uuid>) -> Vec<uuid::Uuid> {
    ids.sort();
    ids.dedup();
    ids
}

/// Input of `messagerie.move`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    /// The messages.
    #[schemars(length(min = 1, max = 500))]
    pub messages: Vec<uuid::Uuid>,
    /// Where: `inbox` (received messages), `sent` (one's own), `trash`, or one of one's folders.
    pub to: FolderRef,
}

/// `messagerie.move`: moves messages to a folder, or to the trash (from where `messagerie.restore` brings
/// them back).
pub struct Move;

#[async_trait]
impl Action for Move {
    type Input = MoveInput;
    type Output = Changed;
    const NAME: &'static str = "messagerie.move";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Move messages to a folder or to the trash";

    async fn run(&self, ctx: &mut Context<'_>, input: MoveInput) -> Result<Changed> {
        let who = service::acting(ctx)?;
        let tx = ctx.tx();
        if let FolderRef::Own(id) = input.to {
            tx.get_record::<Folder>((who.user.0, id)).await?.ok_or_else(|| Error::not_found("folder", id))?;
        }
        let mut changed = 0;
        for id in dedup(input.messages) {
            let entry = service::own_entry(tx, who.user, id).await?;
            let e = &entry.value;
            match input.to {
                FolderRef::Inbox if e.is_sent() => {
                    return Err(Error::invalid("to", format!("message {id} was sent by you: it belongs in sent")));
                }
                FolderRef::Sent if !e.is_sent() => {
                    return Err(Error::invalid("to", format!("message {id} was received: it belongs in inbox")));
                }
                _ => {}
            }
            if e.folder == input.to {
                continue;
            }
            let restore = if input.to == FolderRef::Trash { Some(e.folder) } else { None };
            service::move_entry(tx, entry, input.to, restore).await?;
            changed += 1;
        }
        Ok(Changed { changed })
    }
}

/// `messagerie.restore`: brings messages back from the trash to where they were.
pub struct Restore;

#[async_trait]
impl Action for Restore {
    type Input = MessagesInput;
    type Output = Changed;
    const NAME: &'static str = "messagerie.restore";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Bring messages back from the trash";

    async fn run(&self, ctx: &mut Context<'_>, input: MessagesInput) -> Result<Changed> {
        let who = service::acting(ctx)?;
        let tx = ctx.tx();
        let mut changed = 0;
        for id in dedup(input.messages) {
            let entry = service::own_entry(tx, who.user, id).await?;
            if entry.value.folder != FolderRef::Trash {
                continue;
            }
            let home = if entry.value.is_sent() { FolderRef::Sent } else { FolderRef::Inbox };
            let mut to = entry.value.restore_to.unwrap_or(home);
            // A folder deleted since falls back to inbox or sent.
            if let FolderRef::Own(f) = to
                && tx.get_record::<Folder>((who.user.0, f)).await?.is_none()
            {
                to = home;
            }
            service::move_entry(tx, entry, to, None).await?;
            changed += 1;
        }
        Ok(Changed { changed })
    }
}

/// `messagerie.delete`: deletes messages of the trash for good (from the caller's mailbox; the message
/// itself goes, with its files, when no mailbox holds it any more).
pub struct Delete;

#[async_trait]
impl Action for Delete {
    type Input = MessagesInput;
    type Output = Changed;
    const NAME: &'static str = "messagerie.delete";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Delete messages of the trash for good";

    async fn run(&self, ctx: &mut Context<'_>, input: MessagesInput) -> Result<Changed> {
        let who = service::acting(ctx)?;
        let mut changed = 0;
        for id in dedup(input.messages) {
            let entry = service::own_entry(ctx.tx(), who.user, id).await?;
            if entry.value.folder != FolderRef::Trash {
                return Err(Error::invalid(
                    "messages",
                    format!("message {id} is not in the trash: move it there first"),
                ));
            }
            service::remove_entries(ctx.tx(), id, &[entry.value]).await?;
            ctx.emit(&Removed { message: id, owners: vec![who.user] }).await?;
            changed += 1;
        }
        Ok(Changed { changed })
    }
}

/// Input of actions that take nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

/// `messagerie.empty_trash`: deletes every message of the trash for good.
pub struct EmptyTrash;

#[async_trait]
impl Action for EmptyTrash {
    type Input = Nothing;
    type Output = Changed;
    const NAME: &'static str = "messagerie.empty_trash";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Delete every message of the trash for good";

    async fn run(&self, ctx: &mut Context<'_>, _: Nothing) -> Result<Changed> {
        let who = service::acting(ctx)?;
        let mut changed = 0;
        loop {
            let scan = Scan::index(Entry::COLLECTION, "by_folder").prefix((who.user.0, "trash")).limit(500);
            let (page, _) = ctx.tx().scan_records::<Entry>(&scan).await?;
            if page.is_empty() {
                return Ok(Changed { changed });
            }
            for v in page {
                let id = v.value.message;
                service::remove_entries(ctx.tx(), id, &[v.value]).await?;
                ctx.emit(&Removed { message: id, owners: vec![who.user] }).await?;
                changed += 1;
            }
        }
    }
}

/// A folder with its counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FolderView {
    /// The folder.
    pub folder: FolderRef,
    /// Its name.
    pub name: String,
    /// Unread messages.
    pub unread: i64,
    /// Messages.
    pub total: u64,
}

/// Output of `messagerie.folders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FoldersOutput {
    /// Inbox, sent, trash, then the caller's folders by name.
    pub folders: Vec<FolderView>,
    /// Drafts.
    pub drafts: u64,
}

/// `messagerie.folders`: the caller's folders with their counts.
pub struct Folders;

#[async_trait]
impl Action for Folders {
    type Input = Nothing;
    type Output = FoldersOutput;
    const NAME: &'static str = "messagerie.folders";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "One's folders, with unread and total counts";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, _: Nothing) -> Result<FoldersOutput> {
        let who = service::acting(ctx)?;
        let tx = ctx.tx();
        let mut list = vec![
            (FolderRef::Inbox, "Boîte de réception".to_owned()),
            (FolderRef::Sent, "Messages envoyés".to_owned()),
            (FolderRef::Trash, "Corbeille".to_owned()),
        ];
        let scan = Scan::index(Folder::COLLECTION, "by_name").prefix((who.user.0,)).limit(1000);
        for f in tx.scan_records::<Folder>(&scan).await?.0 {
            list.push((FolderRef::Own(f.value.id), f.value.name));
        }
        let mut folders = Vec::with_capacity(list.len());
        for (folder, name) in list {
            let unread = tx.counter_get(Entry::COLLECTION, &unread_counter(who.user, folder)).await?;
            let total = tx
                .count(&Scan::index(Entry::COLLECTION, "by_folder").prefix((who.user.0, folder.key().as_str())))
                .await?;
            folders.push(FolderView { folder, name, unread, total });
        }
        let drafts = tx.count(&Scan::index(Draft::COLLECTION, "by_owner").prefix((who.user.0,))).await?;
        Ok(FoldersOutput { folders, drafts })
    }
}

/// Output of `messagerie.unread`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UnreadOutput {
    /// Unread messages in the inbox (what a badge shows).
    pub inbox: i64,
}

/// `messagerie.unread`: the unread count of the inbox, one counter read.
pub struct Unread;

#[async_trait]
impl Action for Unread {
    type Input = Nothing;
    type Output = UnreadOutput;
    const NAME: &'static str = "messagerie.unread";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "The unread count of one's inbox";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, _: Nothing) -> Result<UnreadOutput> {
        let who = service::acting(ctx)?;
        let inbox = ctx.tx().counter_get(Entry::COLLECTION, &unread_counter(who.user, FolderRef::Inbox)).await?;
        Ok(UnreadOutput { inbox })
    }
}

/// Input of `messagerie.create_folder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFolderInput {
    /// Its name (unique among one's folders, ignoring case and accents).
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
}

/// A folder's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FolderId {
    /// The id (use it as a `FolderRef`).
    pub id: uuid::Uuid,
}

fn folder_name(name: &str) -> Result<String> {
    let name = name.trim();
    if ent_core::directory::names::fold(name).is_empty() {
        return Err(Error::invalid("name", "a folder needs a name with a letter or a digit"));
    }
    Ok(name.to_owned())
}

/// `messagerie.create_folder`: makes a folder.
pub struct CreateFolder;

#[async_trait]
impl Action for CreateFolder {
    type Input = CreateFolderInput;
    type Output = FolderId;
    const NAME: &'static str = "messagerie.create_folder";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Make a folder";

    async fn run(&self, ctx: &mut Context<'_>, input: CreateFolderInput) -> Result<FolderId> {
        let who = service::acting(ctx)?;
        let now = ctx.now();
        let id = uuid::Uuid::now_v7();
        let folder = Folder { owner: who.user, id, name: folder_name(&input.name)?, created_at: now };
        ctx.tx().insert_record(&folder).await?;
        Ok(FolderId { id })
    }
}

/// Input of `messagerie.rename_folder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameFolderInput {
    /// The folder.
    pub id: uuid::Uuid,
    /// Its new name.
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
}

/// `messagerie.rename_folder`: renames a folder.
pub struct RenameFolder;

#[async_trait]
impl Action for RenameFolder {
    type Input = RenameFolderInput;
    type Output = FolderId;
    const NAME: &'static str = "messagerie.rename_folder";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Rename a folder";

    async fn run(&self, ctx: &mut Context<'_>, input: RenameFolderInput) -> Result<FolderId> {
        let who = service::acting(ctx)?;
        let tx = ctx.tx();
        let mut f = tx
            .get_record::<Folder>((who.user.0, input.id))
            .await?
            .ok_or_else(|| Error::not_found("folder", input.id))?;
        f.value.name = folder_name(&input.name)?;
        tx.update_record(f.version, &f.value).await?;
        Ok(FolderId { id: input.id })
    }
}

/// `messagerie.delete_folder`: deletes a folder; its messages go to the trash (restoring them brings them
/// to the inbox or to sent).
pub struct DeleteFolder;

#[async_trait]
impl Action for DeleteFolder {
    type Input = FolderId;
    type Output = Changed;
    const NAME: &'static str = "messagerie.delete_folder";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Delete a folder; its messages go to the trash";

    async fn run(&self, ctx: &mut Context<'_>, input: FolderId) -> Result<Changed> {
        let who = service::acting(ctx)?;
        let tx = ctx.tx();
        let f = tx
            .get_record::<Folder>((who.user.0, input.id))
            .await?
            .ok_or_else(|| Error::not_found("folder", input.id))?;
        let key = FolderRef::Own(input.id).key();
        let mut changed = 0;
        loop {
            let scan = Scan::index(Entry::COLLECTION, "by_folder").prefix((who.user.0, key.as_str())).limit(500);
            let (page, _) = tx.scan_records::<Entry>(&scan).await?;
            if page.is_empty() {
                break;
            }
            for v in page {
                service::move_entry(tx, v, FolderRef::Trash, None).await?;
                changed += 1;
            }
        }
        tx.delete_record::<Folder>((who.user.0, input.id), Some(f.version)).await?;
        Ok(Changed { changed })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Drafts.

/// Input of `messagerie.save_draft`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveDraftInput {
    /// The draft to update (absent: a new draft).
    #[serde(default)]
    pub id: Option<uuid::Uuid>,
    /// The version read, to update (a stale one is refused).
    #[serde(default)]
    pub version: Option<u64>,
    /// Addresses so far (checked when sending, or with `messagerie.preview`).
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub to: Vec<Address>,
    /// Subject.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub subject: String,
    /// Body, HTML (sanitized on save).
    #[serde(default)]
    pub body: String,
    /// Every file of the draft (the full list: files left out are dropped).
    #[serde(default)]
    #[schemars(length(max = 50))]
    pub attachments: Vec<AttachmentInput>,
    /// The message it answers.
    #[serde(default)]
    pub reply_to: Option<uuid::Uuid>,
    /// Answer everyone.
    #[serde(default)]
    pub reply_all: bool,
    /// The message it forwards.
    #[serde(default)]
    pub forward_of: Option<uuid::Uuid>,
}

/// A draft's id and version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DraftSaved {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its version (pass it to the next save).
    pub version: u64,
}

async fn own_draft(
    tx: &mut dyn ent_core::storage::Transaction,
    owner: UserId,
    id: uuid::Uuid,
) -> Result<ent_core::storage::Versioned<Draft>> {
    match tx.get_record::<Draft>(id).await? {
        Some(d) if d.value.owner == owner => Ok(d),
        _ => Err(Error::not_found("draft", id)),
    }
}

/// `messagerie.save_draft`: saves a message being written.
pub struct SaveDraft(pub(crate) Arc<Ports>);

#[async_trait]
impl Action for SaveDraft {
    type Input = SaveDraftInput;
    type Output = DraftSaved;
    const NAME: &'static str = "messagerie.save_draft";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Save a message being written";

    async fn run(&self, ctx: &mut Context<'_>, input: SaveDraftInput) -> Result<DraftSaved> {
        let who = service::acting(ctx)?;
        let (_, limits) = service::settings(ctx, who.structure).await?;
        let now = ctx.now();
        if input.body.len() > limits.max_body_bytes as usize {
            return Err(Error::TooLarge {
                what: "body".into(),
                size: input.body.len() as u64,
                limit: u64::from(limits.max_body_bytes),
            });
        }
        let tx = ctx.tx();
        for parent in [input.reply_to, input.forward_of].into_iter().flatten() {
            service::own_entry(tx, who.user, parent).await?;
        }
        let previous = match input.id {
            Some(id) => {
                let d = own_draft(tx, who.user, id).await?;
                let version = input.version.ok_or_else(|| Error::invalid("version", "required to update a draft"))?;
                if d.version != version {
                    return Err(Error::Conflict {
                        what: format!("draft {id}"),
                        expected: Some(version),
                        found: Some(d.version),
                        retryable: false,
                    });
                }
                service::release_attachments(tx, &d.value.attachments).await?;
                Some(d)
            }
            None => None,
        };
        let attachments = service::take_attachments(tx, &*self.0.blobs, &limits, &input.attachments, &[]).await?;
        let draft = Draft {
            id: input.id.unwrap_or_else(uuid::Uuid::now_v7),
            owner: who.user,
            structure: who.structure,
            to: input.to,
            subject: input.subject.trim().to_owned(),
            body_html: sanitize(&input.body),
            attachments,
            reply_to: input.reply_to,
            reply_all: input.reply_all,
            forward_of: input.forward_of,
            updated_at: now,
        };
        let version = match previous {
            Some(d) => tx.update_record(d.version, &draft).await?,
            None => tx.insert_record(&draft).await?,
        };
        Ok(DraftSaved { id: draft.id, version })
    }
}

/// Input of `messagerie.drafts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftsInput {
    /// Page size, newest first.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
    /// The `next` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// A draft with its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DraftView {
    /// The draft.
    pub draft: Draft,
    /// Its version.
    pub version: u64,
}

/// Output of `messagerie.drafts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DraftsOutput {
    /// The drafts, newest first.
    pub drafts: Vec<DraftView>,
    /// The cursor of the next page.
    pub next: Option<String>,
}

/// `messagerie.drafts`: the caller's drafts.
pub struct Drafts;

#[async_trait]
impl Action for Drafts {
    type Input = DraftsInput;
    type Output = DraftsOutput;
    const NAME: &'static str = "messagerie.drafts";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "One's drafts, newest first";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: DraftsInput) -> Result<DraftsOutput> {
        let who = service::acting(ctx)?;
        let scan = Scan::index(Draft::COLLECTION, "by_owner")
            .prefix((who.user.0,))
            .backward()
            .limit(input.limit as usize)
            .after(cursor(&input.cursor));
        let (page, next) = ctx.tx().scan_records::<Draft>(&scan).await?;
        Ok(DraftsOutput {
            drafts: page.into_iter().map(|v| DraftView { version: v.version, draft: v.value }).collect(),
            next: next.map(|c| c.as_str().to_owned()),
        })
    }
}

/// A draft's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftIdInput {
    /// The draft.
    pub id: uuid::Uuid,
}

/// `messagerie.draft`: one of the caller's drafts.
pub struct GetDraft;

#[async_trait]
impl Action for GetDraft {
    type Input = DraftIdInput;
    type Output = DraftView;
    const NAME: &'static str = "messagerie.draft";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Read one of one's drafts";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: DraftIdInput) -> Result<DraftView> {
        let who = service::acting(ctx)?;
        let d = own_draft(ctx.tx(), who.user, input.id).await?;
        Ok(DraftView { version: d.version, draft: d.value })
    }
}

/// `messagerie.delete_draft`: deletes one of the caller's drafts.
pub struct DeleteDraft;

#[async_trait]
impl Action for DeleteDraft {
    type Input = DraftIdInput;
    type Output = Changed;
    const NAME: &'static str = "messagerie.delete_draft";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Delete one of one's drafts";

    async fn run(&self, ctx: &mut Context<'_>, input: DraftIdInput) -> Result<Changed> {
        let who = service::acting(ctx)?;
        let tx = ctx.tx();
        let d = own_draft(tx, who.user, input.id).await?;
        service::release_attachments(tx, &d.value.attachments).await?;
        tx.delete_record::<Draft>(input.id, Some(d.version)).await?;
        Ok(Changed { changed: 1 })
    }
}

// ---------------------------------------------------------------------------------------------------------
// The sender's view: recall and read receipts.

/// Input of `messagerie.recall`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallInput {
    /// A message the caller sent.
    pub message: uuid::Uuid,
}

/// Output of `messagerie.recall`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecallOutput {
    /// From how many mailboxes it was removed.
    pub removed: u32,
    /// How many recipients had already opened it.
    pub already_read: u32,
}

/// `messagerie.recall`: within the structure's delay, removes a sent message from every recipient's mailbox
/// (read or not); the sender's copy stays, marked recalled.
pub struct Recall;

#[async_trait]
impl Action for Recall {
    type Input = RecallInput;
    type Output = RecallOutput;
    const NAME: &'static str = "messagerie.recall";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Recall a sent message from its recipients' mailboxes, within a delay";

    async fn run(&self, ctx: &mut Context<'_>, input: RecallInput) -> Result<RecallOutput> {
        let who = service::acting(ctx)?;
        let now = ctx.now();
        let tx = ctx.tx();
        let mine = service::own_entry(tx, who.user, input.message).await?;
        if !mine.value.is_sent() {
            return Err(Error::forbidden("messagerie.recall (only the sender recalls a message)"));
        }
        let mut message = tx.fetch_record::<Message>(input.message).await?;
        let (_, limits) = service::settings(ctx, message.value.structure).await?;
        let tx = ctx.tx();
        if message.value.recalled_at.is_some() {
            return Err(Error::invalid("message", "already recalled"));
        }
        let deadline = message.value.sent_at + chrono::Duration::minutes(i64::from(limits.recall_minutes));
        if now > deadline {
            return Err(Error::invalid(
                "message",
                format!("the recall delay ({} minutes) has passed", limits.recall_minutes),
            ));
        }
        let others: Vec<Entry> =
            service::entries_of(tx, input.message).await?.into_iter().filter(|e| e.owner != who.user).collect();
        let already_read = others.iter().filter(|e| !e.unread).count() as u32;
        service::remove_entries(tx, input.message, &others).await?;
        message.value.recalled_at = Some(now);
        tx.update_record(message.version, &message.value).await?;
        let mut own = mine.value;
        own.recalled = true;
        tx.update_record(mine.version, &own).await?;
        let removed = others.len() as u32;
        ctx.emit(&Removed { message: input.message, owners: others.into_iter().map(|e| e.owner).collect() }).await?;
        Ok(RecallOutput { removed, already_read })
    }
}

/// Input of `messagerie.receipts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptsInput {
    /// A message the caller sent.
    pub message: uuid::Uuid,
    /// Page size.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 500))]
    pub limit: u32,
    /// The `next` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One recipient's read state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Receipt {
    /// Who.
    pub user: UserId,
    /// Their name.
    pub name: String,
    /// When they first opened it.
    pub read_at: Option<DateTime<Utc>>,
}

/// Output of `messagerie.receipts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReceiptsOutput {
    /// A page of recipients.
    pub receipts: Vec<Receipt>,
    /// The cursor of the next page.
    pub next: Option<String>,
}

/// `messagerie.receipts`: who opened a message the caller sent (read status per recipient).
pub struct Receipts;

#[async_trait]
impl Action for Receipts {
    type Input = ReceiptsInput;
    type Output = ReceiptsOutput;
    const NAME: &'static str = "messagerie.receipts";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Who opened a message one sent";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: ReceiptsInput) -> Result<ReceiptsOutput> {
        let who = service::acting(ctx)?;
        let tx = ctx.tx();
        let mine = service::own_entry(tx, who.user, input.message).await?;
        if !mine.value.is_sent() {
            return Err(Error::forbidden("messagerie.receipts (only the sender sees who read)"));
        }
        let scan = Scan::primary(Entry::COLLECTION)
            .prefix((input.message,))
            .limit(input.limit as usize)
            .after(cursor(&input.cursor));
        let (page, next) = tx.scan_records::<Entry>(&scan).await?;
        let entries: Vec<Entry> = page.into_iter().map(|v| v.value).filter(|e| e.owner != who.user).collect();
        let ids: Vec<UserId> = entries.iter().map(|e| e.owner).collect();
        let keys: Vec<ent_core::storage::Tuple> = ids.iter().map(|id| (*id).into()).collect();
        let users = tx.get_many(ent_core::directory::User::COLLECTION, &keys).await?;
        let mut receipts = Vec::with_capacity(entries.len());
        for (e, raw) in entries.into_iter().zip(users) {
            let name = match raw {
                Some(raw) => {
                    ent_core::storage::typed::from_raw::<ent_core::directory::User>(&raw)?.value.display_name()
                }
                None => String::new(),
            };
            receipts.push(Receipt { user: e.owner, name, read_at: e.read_at });
        }
        Ok(ReceiptsOutput { receipts, next: next.map(|c| c.as_str().to_owned()) })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Files.

/// Input of `messagerie.upload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadInput {
    /// The file's bytes, base64 (standard alphabet, padded).
    pub data: String,
}

/// Output of `messagerie.upload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UploadOutput {
    /// The blob id to attach (`AttachmentInput.blob`).
    pub blob: String,
    /// Its size in bytes.
    pub size: u64,
}

/// `messagerie.upload`: stores a file to attach. Files nobody attaches are freed by the blob garbage
/// collection (`ent_core::storage::blob::collect_garbage`) once older than its grace period.
pub struct Upload(pub(crate) Arc<Ports>);

#[async_trait]
impl Action for Upload {
    type Input = UploadInput;
    type Output = UploadOutput;
    const NAME: &'static str = "messagerie.upload";
    const RIGHT: &'static str = WRITE;
    const DESCRIPTION: &'static str = "Store a file to attach to a message or a draft";
    // It writes to the blob store only (whose writes commit on their own), never to the record store.
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: UploadInput) -> Result<UploadOutput> {
        let who = service::acting(ctx)?;
        let (_, limits) = service::settings(ctx, who.structure).await?;
        // Refuse before decoding: base64 is 4/3 of the bytes.
        let approx = input.data.len() as u64 / 4 * 3;
        if approx > limits.max_attachment_bytes + 3 {
            return Err(Error::TooLarge {
                what: "attachment".into(),
                size: approx,
                limit: limits.max_attachment_bytes,
            });
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(input.data.trim())
            .map_err(|e| Error::invalid("data", format!("not base64: {e}")))?;
        if bytes.len() as u64 > limits.max_attachment_bytes {
            return Err(Error::TooLarge {
                what: "attachment".into(),
                size: bytes.len() as u64,
                limit: limits.max_attachment_bytes,
            });
        }
        let meta = blob::put_bytes(&*self.0.blobs, &bytes).await?;
        Ok(UploadOutput { blob: meta.id.to_hex(), size: meta.size })
    }
}

/// Input of `messagerie.download`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadInput {
    /// A message of the caller's mailbox, or one of their drafts.
    pub message: uuid::Uuid,
    /// Which file (0 first).
    pub index: u32,
}

/// Output of `messagerie.download`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DownloadOutput {
    /// What the file is.
    pub attachment: Attachment,
    /// Its bytes, base64.
    pub data: String,
}

/// `messagerie.download`: a file attached to a message of the caller's mailbox or to one of their drafts.
pub struct Download(pub(crate) Arc<Ports>);

#[async_trait]
impl Action for Download {
    type Input = DownloadInput;
    type Output = DownloadOutput;
    const NAME: &'static str = "messagerie.download";
    const RIGHT: &'static str = READ;
    const DESCRIPTION: &'static str = "Read a file attached to a message or a draft";
    const READ_ONLY: bool = true;

    async fn run(&self, ctx: &mut Context<'_>, input: DownloadInput) -> Result<DownloadOutput> {
        let who = service::acting(ctx)?;
        let tx = ctx.tx();
        let files = if tx.get_record::<Entry>(entry_key(who.user, input.message)).await?.is_some() {
            tx.fetch_record::<Message>(input.message).await?.value.attachments
        } else {
            own_draft(tx, who.user, input.message).await?.value.attachments
        };
        let attachment =
            files.get(input.index as usize).cloned().ok_or_else(|| Error::not_found("attachment", input.index))?;
        let bytes = blob::read_all(&*self.0.blobs, &attachment.blob).await?;
        Ok(DownloadOutput { attachment, data: base64::engine::general_purpose::STANDARD.encode(bytes) })
    }
}

/// The full-text document of a message for one mailbox: subject, sender, text and file names.
pub(crate) fn searchable(message: &Message) -> String {
    let mut text = format!("{}\n{}\n{}", message.subject, message.sender_name, message.body_text);
    for a in &message.attachments {
        text.push('\n');
        text.push_str(&a.name);
    }
    text
}
