//! The messagerie's logic on a transaction: who the caller is for the rules, how addresses expand into
//! the people the sender may reach, and how a message is delivered (all or nothing).

use std::collections::BTreeMap;
use std::sync::Arc;

use ent_core::directory::query::{self, ProfileGroup, Responsables};
use ent_core::directory::{
    AccountState, Class, Group, GroupKind, Membership, Profile, SchoolYear, Structure, Unit, User,
};
use ent_core::module::Context;
use ent_core::storage::blob::{self, BlobId, BlobStore};
use ent_core::storage::fulltext::FullText;
use ent_core::storage::typed::{from_raw, to_new_record};
use ent_core::storage::{Element, Record, Scan, Transaction, TxExt, WriteOp};
use ent_core::{Error, Result, StructureId, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::records::{Address, Addressed, Attachment, Entry, FolderRef, Message, entry_key, unread_counter};
use super::rules::{self, Audience, Policy, Reason, Role, Sender, Target};
use super::{LIMITS, Limits, POLICY};

/// The ports the module reaches beyond the record store: blobs for attachments, full text for search.
#[derive(Debug, Clone)]
pub(crate) struct Ports {
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) text: Arc<dyn FullText>,
}

/// The person acting, in the structure of their session.
#[derive(Debug, Clone)]
pub(crate) struct Acting {
    pub(crate) user: UserId,
    pub(crate) structure: StructureId,
    pub(crate) profiles: Vec<Profile>,
}

pub(crate) fn acting(ctx: &Context<'_>) -> Result<Acting> {
    match ctx.caller().as_user() {
        Some(u) => Ok(Acting { user: u.user, structure: u.structure, profiles: u.profiles.clone() }),
        None => Err(Error::invalid("caller", "the messagerie acts for a person, not the system")),
    }
}

pub(crate) async fn settings(ctx: &mut Context<'_>, structure: StructureId) -> Result<(Policy, Limits)> {
    let policy: Policy = ctx.setting(POLICY, structure).await?;
    let limits: Limits = ctx.setting(LIMITS, structure).await?;
    Ok((policy, limits))
}

pub(crate) fn year(ctx: &Context<'_>) -> SchoolYear {
    SchoolYear::containing(ctx.now().date_naive())
}

/// A person the message goes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Person {
    /// Who.
    pub id: UserId,
    /// Their name.
    pub name: String,
    /// Their profiles in the sender's structure.
    pub profiles: Vec<Profile>,
}

/// A recipient, or a whole group, that the message will not reach, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Excluded {
    /// The address it came from.
    pub address: Address,
    /// The address's label.
    pub label: String,
    /// The person, when one person is excluded (absent when a whole group is).
    pub user: Option<UserId>,
    /// Their name.
    pub name: Option<String>,
    /// Why (stable code).
    pub reason: Reason,
    /// Why, in words (French / English).
    pub message: String,
}

/// The outcome of the rules for a list of addresses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resolution {
    /// Who would receive the message, in name order.
    pub allowed: Vec<Person>,
    /// What the rules exclude: sending needs the sender's confirmation (`only_allowed`).
    pub excluded: Vec<Excluded>,
    /// Members of an addressed group who cannot receive mail (disabled accounts, people no longer in the
    /// structure): left out without confirmation, shown for information.
    pub skipped: Vec<Excluded>,
    /// The addresses with their labels.
    pub to: Vec<Addressed>,
    /// The sender may not send at all now (opening hours, no profile that sends): why.
    pub blocked: Option<Reason>,
}

/// Loads what the rules need to know of the sender.
pub(crate) async fn load_sender(tx: &mut dyn Transaction, who: &Acting, year: SchoolYear) -> Result<(Sender, User)> {
    let me = query::users(tx, &[who.user]).await?.remove(0);
    let roles = Role::of_all(who.profiles.iter().copied());
    let mut sender = Sender { id: who.user, roles: roles.clone(), ..Default::default() };
    let mut own_units = Vec::new();
    for m in query::units_of(tx, who.user, year).await? {
        if m.structure == who.structure {
            own_units.push(m.unit);
            sender.own_units.insert(m.unit.uuid());
            if matches!(m.unit, Unit::Class(_)) {
                sender.own_classes.insert(m.unit.uuid());
            }
        }
    }
    if roles.contains(&Role::Pupil) {
        // Their legal responsables (other contacts are not "their parents" for the rules).
        for (link, parent) in query::parents_of(tx, who.user, Responsables::All).await? {
            if link.legal {
                sender.parents.insert(parent.id);
            }
        }
        for unit in own_units {
            for t in query::teachers_of(tx, unit, year, None).await? {
                sender.teachers.insert(t.teacher);
            }
        }
    }
    if roles.contains(&Role::Parent) {
        for (link, child) in query::children_of(tx, who.user, Responsables::All).await? {
            if !link.legal {
                continue;
            }
            sender.children.insert(child.id);
            for m in query::units_of(tx, child.id, year).await? {
                if m.structure == who.structure {
                    sender.children_units.insert(m.unit.uuid());
                    for t in query::teachers_of(tx, m.unit, year, None).await? {
                        sender.teachers.insert(t.teacher);
                    }
                }
            }
        }
    }
    if roles.contains(&Role::Teacher) {
        for t in query::teachings_of(tx, who.user, year).await? {
            if t.structure == who.structure {
                sender.taught_units.insert(t.unit.uuid());
            }
        }
    }
    Ok((sender, me))
}

fn audience_label(audience: Audience, class_like: bool) -> &'static str {
    match audience {
        Audience::Members if class_like => "élèves",
        Audience::Members => "membres",
        Audience::Parents => "parents",
        Audience::Teachers => "enseignants",
    }
}

fn profile_label(p: Profile) -> &'static str {
    match p {
        Profile::Eleve => "élèves",
        Profile::Responsable => "parents",
        Profile::Enseignant => "enseignants",
        Profile::Direction => "direction",
        Profile::VieScolaire => "vie scolaire",
        Profile::Administratif => "personnels administratifs",
        Profile::Documentaliste => "documentalistes",
        _ => "autres",
    }
}

/// Every pupil of a class or group for a year (keys only, page by page).
async fn unit_members(tx: &mut dyn Transaction, unit: Unit, year: SchoolYear) -> Result<Vec<UserId>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let scan = Scan::primary(Membership::COLLECTION)
            .prefix((unit.uuid(), i64::from(year.0)))
            .limit(1000)
            .after(cursor)
            .keys_only();
        let page = tx.scan(&scan).await?;
        for e in &page.entries {
            if let Some(Element::Uuid(u)) = e.id.elements().get(2) {
                out.push(UserId(*u));
            }
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => return Ok(out),
        }
    }
}

async fn unit_parents(tx: &mut dyn Transaction, unit: Unit, year: SchoolYear) -> Result<Vec<UserId>> {
    let mut out = Vec::new();
    for child in unit_members(tx, unit, year).await? {
        for (link, parent) in query::parents_of(tx, child, Responsables::All).await? {
            if link.legal {
                out.push(parent.id);
            }
        }
    }
    Ok(out)
}

async fn unit_teachers(tx: &mut dyn Transaction, unit: Unit, year: SchoolYear) -> Result<Vec<UserId>> {
    Ok(query::teachers_of(tx, unit, year, None).await?.into_iter().map(|t| t.teacher).collect())
}

/// Expands addresses and applies the rules: who would receive the message, and who is excluded and why.
pub(crate) async fn resolve(
    tx: &mut dyn Transaction,
    who: &Acting,
    sender: &Sender,
    policy: &Policy,
    addresses: &[Address],
    year: SchoolYear,
) -> Result<Resolution> {
    let s = who.structure;
    let mut out = Resolution::default();
    // Candidate -> (the address it came from, reached through an addressable group).
    let mut candidates: BTreeMap<UserId, (Address, bool)> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut labels: Vec<(Address, Option<String>)> = Vec::new();
    for address in addresses {
        if !seen.insert(address.clone()) {
            continue;
        }
        let exclude_group = |out: &mut Resolution, label: String, reason: Reason| {
            out.excluded.push(Excluded {
                address: address.clone(),
                label,
                user: None,
                name: None,
                reason,
                message: reason.message().to_owned(),
            });
        };
        let (label, target, members) = match address {
            Address::User { id } => {
                labels.push((address.clone(), None));
                let entry = candidates.entry(*id).or_insert((address.clone(), false));
                let _ = entry;
                continue;
            }
            Address::Class { id, audience } => {
                let Some(class) = tx.get_record::<Class>(*id).await?.map(|v| v.value) else {
                    exclude_group(&mut out, "classe inconnue / unknown class".into(), Reason::Unknown);
                    continue;
                };
                let label = format!("{} — {}", class.name, audience_label(*audience, true));
                if class.structure != s || class.year != year {
                    exclude_group(&mut out, label, Reason::NotRelated);
                    continue;
                }
                let unit = Unit::Class(*id);
                (label, Target::Unit { unit: id.0, audience: *audience }, (unit, *audience))
            }
            Address::Group { id, audience } => {
                let Some(group) = tx.get_record::<Group>(*id).await?.map(|v| v.value) else {
                    exclude_group(&mut out, "groupe inconnu / unknown group".into(), Reason::Unknown);
                    continue;
                };
                let manual = group.kind != GroupKind::Teaching;
                let label = format!("{} — {}", group.name, audience_label(*audience, !manual));
                if group.structure != s || group.year != year {
                    exclude_group(&mut out, label, Reason::NotRelated);
                    continue;
                }
                let target = if manual {
                    Target::Manual { unit: id.0, audience: *audience }
                } else {
                    Target::Unit { unit: id.0, audience: *audience }
                };
                (label, target, (Unit::Group(*id), *audience))
            }
            Address::Structure { profile } => {
                let name = tx.get_record::<Structure>(s).await?.map(|v| v.value.name).unwrap_or_default();
                let label = format!("{} — {}", profile_label(*profile), name);
                let Some(role) = Role::of(*profile) else {
                    exclude_group(&mut out, label, Reason::NotRelated);
                    continue;
                };
                if let Err(reason) = rules::may_address(policy, sender, Target::Structure(role)) {
                    exclude_group(&mut out, label, reason);
                    continue;
                }
                labels.push((address.clone(), Some(label)));
                let group = ProfileGroup { structure: s, profile: *profile, class: None };
                for m in query::profile_group_members(tx, group, year).await? {
                    candidates.entry(m).or_insert((address.clone(), true)).1 = true;
                }
                continue;
            }
        };
        if let Err(reason) = rules::may_address(policy, sender, target) {
            exclude_group(&mut out, label, reason);
            continue;
        }
        labels.push((address.clone(), Some(label)));
        let (unit, audience) = members;
        let people = match audience {
            Audience::Members => unit_members(tx, unit, year).await?,
            Audience::Parents => unit_parents(tx, unit, year).await?,
            Audience::Teachers => unit_teachers(tx, unit, year).await?,
        };
        let via_group = !rules::members_checked_one_by_one(target);
        for m in people {
            let entry = candidates.entry(m).or_insert((address.clone(), via_group));
            entry.1 |= via_group;
        }
    }
    candidates.remove(&who.user);

    // The people, in one read.
    let ids: Vec<UserId> = candidates.keys().copied().collect();
    let keys: Vec<ent_core::storage::Tuple> = ids.iter().map(|id| (*id).into()).collect();
    let mut users: BTreeMap<UserId, User> = BTreeMap::new();
    for chunk in keys.chunks(2000) {
        for raw in tx.get_many(User::COLLECTION, chunk).await?.into_iter().flatten() {
            let u = from_raw::<User>(&raw)?.value;
            users.insert(u.id, u);
        }
    }
    for (address, label) in labels {
        let label = match (&address, label) {
            (_, Some(l)) => l,
            (Address::User { id }, None) => {
                users.get(id).map(User::display_name).unwrap_or_else(|| "inconnu / unknown".into())
            }
            (_, None) => String::new(),
        };
        out.to.push(Addressed { address, label });
    }

    for (id, (address, via_group)) in candidates {
        let label = out.to.iter().find(|a| a.address == address).map(|a| a.label.clone()).unwrap_or_default();
        let excluded = |reason: Reason, name: Option<String>| Excluded {
            address: address.clone(),
            label: label.clone(),
            user: Some(id),
            name,
            reason,
            message: reason.message().to_owned(),
        };
        let Some(user) = users.get(&id) else {
            out.excluded.push(excluded(Reason::Unknown, None));
            continue;
        };
        let profiles: Vec<Profile> = user.affiliations.iter().filter(|a| a.structure == s).map(|a| a.profile).collect();
        let mut recipient = rules::Recipient {
            id,
            roles: Role::of_all(profiles.iter().copied()),
            disabled: matches!(user.state, AccountState::Disabled { .. }),
            via_group,
            // Not `..Default::default()`: that would draw a new `UserId` (a UUID v7 from the system's
            // random source) for each of 2,000 recipients, only to drop it.
            units: Default::default(),
            classes: Default::default(),
            children_units: Default::default(),
        };
        let needs = rules::needs(sender, &recipient.roles, via_group);
        if needs.units {
            for m in query::units_of(tx, id, year).await? {
                if m.structure == s {
                    recipient.units.insert(m.unit.uuid());
                    if matches!(m.unit, Unit::Class(_)) {
                        recipient.classes.insert(m.unit.uuid());
                    }
                }
            }
        }
        if needs.children_units {
            for (link, child) in query::children_of(tx, id, Responsables::All).await? {
                if link.legal {
                    for m in query::units_of(tx, child.id, year).await? {
                        if m.structure == s {
                            recipient.children_units.insert(m.unit.uuid());
                        }
                    }
                }
            }
        }
        match rules::check(policy, sender, &recipient) {
            Ok(()) => out.allowed.push(Person { id, name: user.display_name(), profiles }),
            Err(reason @ (Reason::Disabled | Reason::NotInStructure)) if !matches!(address, Address::User { .. }) => {
                out.skipped.push(excluded(reason, Some(user.display_name())));
            }
            Err(reason) => out.excluded.push(excluded(reason, Some(user.display_name()))),
        }
    }
    Ok(out)
}

impl Resolution {
    /// Puts the allowed recipients in name order, for showing them (a send needs no order: it writes in
    /// key order, and folding 2,000 names costs it a few milliseconds).
    pub(crate) fn sort_by_name(&mut self) {
        self.allowed.sort_by_cached_key(|p| (ent_core::directory::names::fold(&p.name), p.id));
    }
}

/// Whether the sender may send now: their roles and the structure's opening hours.
pub(crate) async fn blocked(
    tx: &mut dyn Transaction,
    who: &Acting,
    policy: &Policy,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Reason>> {
    if Role::of_all(who.profiles.iter().copied()).is_empty() {
        return Ok(Some(Reason::NoSenderProfile));
    }
    if let Some(hours) = &policy.opening_hours {
        let tz = tx.get_record::<Structure>(who.structure).await?.map(|v| v.value.time_zone);
        let local = rules::local_time(now, tz.as_deref().unwrap_or("Europe/Paris"));
        if !hours.allows(&who.profiles, local) {
            return Ok(Some(Reason::OutsideOpeningHours));
        }
    }
    Ok(None)
}

/// Reads the caller's entry for a message: [`Error::NotFound`] when the caller's mailbox does not hold it
/// (whether or not the message exists: nobody learns of a message they cannot read).
pub(crate) async fn own_entry(
    tx: &mut dyn Transaction,
    owner: UserId,
    message: uuid::Uuid,
) -> Result<ent_core::storage::Versioned<Entry>> {
    tx.get_record::<Entry>(entry_key(owner, message)).await?.ok_or_else(|| Error::not_found("message", message))
}

/// Checks attachments given by blob id against the structure's limits and takes a reference on each.
pub(crate) async fn take_attachments(
    tx: &mut dyn Transaction,
    blobs: &dyn BlobStore,
    limits: &Limits,
    given: &[AttachmentInput],
    inherited: &[Attachment],
) -> Result<Vec<Attachment>> {
    let mut out: Vec<Attachment> = inherited.to_vec();
    for a in given {
        let id = BlobId::from_hex(&a.blob)?;
        let meta = blobs.stat(&id).await?.ok_or_else(|| Error::not_found("attachment", &a.blob))?;
        if meta.size > limits.max_attachment_bytes {
            return Err(Error::TooLarge {
                what: "attachment".into(),
                size: meta.size,
                limit: limits.max_attachment_bytes,
            });
        }
        out.push(Attachment { blob: id, name: a.name.clone(), content_type: a.content_type.clone(), size: meta.size });
    }
    if out.len() > limits.max_attachments as usize {
        return Err(Error::invalid(
            "attachments",
            format!("{} files, this structure allows {}", out.len(), limits.max_attachments),
        ));
    }
    let total: u64 = out.iter().map(|a| a.size).sum();
    if total > limits.max_total_attachment_bytes {
        return Err(Error::TooLarge {
            what: "attachments".into(),
            size: total,
            limit: limits.max_total_attachment_bytes,
        });
    }
    for a in &out {
        blob::acquire(tx, blobs, &a.blob).await?;
    }
    Ok(out)
}

/// An attachment as a client names it: a blob uploaded with `messagerie.upload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInput {
    /// The blob id (64 hex digits), as `messagerie.upload` returned it.
    pub blob: String,
    /// The file name shown.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// Its MIME type.
    #[schemars(length(min = 1, max = 255))]
    pub content_type: String,
}

/// Releases the blob references of a record being deleted.
pub(crate) async fn release_attachments(tx: &mut dyn Transaction, attachments: &[Attachment]) -> Result<()> {
    for a in attachments {
        blob::release(tx, &a.blob).await?;
    }
    Ok(())
}

/// Writes a message, the sender's copy and one entry per recipient, with the unread counters, in one batch.
/// The batch is one run of inserts, which the SQLite adapter writes in key order whatever the recipients'
/// order (see `docs/architecture.md`, "SQLite write path").
pub(crate) async fn deliver(tx: &mut dyn Transaction, message: &Message, recipients: &[UserId]) -> Result<()> {
    let snippet = super::body::snippet(&message.body_text, 140);
    let entry = |owner: UserId, folder: FolderRef, unread: bool| Entry {
        owner,
        message: message.id,
        thread: message.thread,
        folder,
        restore_to: None,
        unread,
        read_at: None,
        sender: message.sender,
        sender_name: message.sender_name.clone(),
        subject: message.subject.clone(),
        snippet: snippet.clone(),
        attachments: message.attachments.len() as u32,
        recipient_count: message.recipient_count,
        sent_at: message.sent_at,
        recalled: false,
    };
    let mut ops = Vec::with_capacity(2 * recipients.len() + 2);
    ops.push(WriteOp::Insert { collection: Message::COLLECTION.into(), record: to_new_record(message)? });
    ops.push(WriteOp::Insert {
        collection: Entry::COLLECTION.into(),
        record: to_new_record(&entry(message.sender, FolderRef::Sent, false))?,
    });
    for &r in recipients {
        ops.push(WriteOp::Insert {
            collection: Entry::COLLECTION.into(),
            record: to_new_record(&entry(r, FolderRef::Inbox, true))?,
        });
        ops.push(WriteOp::CounterAdd {
            collection: Entry::COLLECTION.into(),
            key: unread_counter(r, FolderRef::Inbox),
            delta: 1,
        });
    }
    tx.write_batch(ops).await?;
    Ok(())
}

/// Removes entries for good, with their unread counts; deletes the message (and releases its files) when
/// no mailbox holds it any more. Returns whether the message itself was deleted.
pub(crate) async fn remove_entries(tx: &mut dyn Transaction, message: uuid::Uuid, entries: &[Entry]) -> Result<bool> {
    let mut ops = Vec::with_capacity(entries.len() * 2);
    for e in entries {
        ops.push(WriteOp::Delete { collection: Entry::COLLECTION.into(), id: Record::id(e), expected_version: None });
        if e.unread {
            ops.push(WriteOp::CounterAdd {
                collection: Entry::COLLECTION.into(),
                key: unread_counter(e.owner, e.folder),
                delta: -1,
            });
        }
    }
    tx.write_batch(ops).await?;
    let left = tx.count(&Scan::primary(Entry::COLLECTION).prefix((message,))).await?;
    if left > 0 {
        return Ok(false);
    }
    if let Some(m) = tx.get_record::<Message>(message).await? {
        release_attachments(tx, &m.value.attachments).await?;
        tx.delete_record::<Message>(message, None).await?;
    }
    Ok(true)
}

/// Moves an entry to another folder, carrying its unread count.
pub(crate) async fn move_entry(
    tx: &mut dyn Transaction,
    entry: ent_core::storage::Versioned<Entry>,
    to: FolderRef,
    restore_to: Option<FolderRef>,
) -> Result<()> {
    let mut e = entry.value;
    if e.folder == to {
        return Ok(());
    }
    if e.unread {
        tx.counter_add(Entry::COLLECTION, &unread_counter(e.owner, e.folder), -1).await?;
        tx.counter_add(Entry::COLLECTION, &unread_counter(e.owner, to), 1).await?;
    }
    e.folder = to;
    e.restore_to = restore_to;
    tx.update_record(entry.version, &e).await?;
    Ok(())
}

/// Every entry of a message (all mailboxes), page by page.
pub(crate) async fn entries_of(tx: &mut dyn Transaction, message: uuid::Uuid) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let scan = Scan::primary(Entry::COLLECTION).prefix((message,)).limit(1000).after(cursor);
        let (page, next) = tx.scan_records::<Entry>(&scan).await?;
        out.extend(page.into_iter().map(|v| v.value));
        match next {
            Some(n) => cursor = Some(n),
            None => return Ok(out),
        }
    }
}
