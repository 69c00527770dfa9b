//! The apply path: one normalized [`Batch`] into the directory, in transactions of bounded size.
//!
//! Order: structures, subjects, classes and groups, then people with their memberships and teaching
//! assignments, then the batch's incremental changes (one membership, assignment or affiliation added or
//! removed, the others kept), then — in a second pass, once everyone exists — the links from pupils to
//! responsables, then the units the batch deletes (emptied, kept), the people it deletes and, for a full
//! batch, the deactivation of whoever is missing (held for confirmation when it would disable too large a
//! share of a structure).
//!
//! Each record is validated before anything is written; a bad record is rejected with its reason and the
//! rest goes on. Re-applying the same batch changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use ent_core::account::ActivationCode;
use ent_core::account::Credential;
use ent_core::clock::Clock;
use ent_core::directory::SchoolYear;
use ent_core::directory::{
    AccountState, Affiliation, Class, Contract, FeedAttributes, Group, GroupKind, Membership, ParentLink, PeriodKind,
    Structure, StructureKind, Subject, Teaching, Uai, Unit, User, names,
};
use ent_core::id::{ClassId, GroupId, StructureId, SubjectId, UserId};
use ent_core::rights;
use ent_core::storage::typed::to_new_record;
use ent_core::storage::{Record, Scan, Store, Transaction, Tuple, TxExt, TxMode, Versioned, WriteOp, retry};
use ent_core::{Error, Result};
use futures::future::BoxFuture;

use crate::feed::{Batch, Change, ChangeIn, Mode, PersonIn, PersonRef, UnitRef};
use crate::login::{Pending, base_login};
use crate::report::{Held, IssuedCode, Rejection, Report};

/// The time zone of a structure whose feed does not give one.
const DEFAULT_TIME_ZONE: &str = "Europe/Paris";

/// People per transaction ([`ApplyOptions::chunk`]) for a bulk import into a directory that a portal may
/// be serving: a transaction of 20,000 people held SQLite's write lock about 1.5 s in an académie's load,
/// well under a portal writer's 5 s busy timeout (50,000: 3.5 s). The `ent` command's default once the
/// directory holds accounts.
pub const SERVED_CHUNK: usize = 20_000;

/// People per transaction for a first load, into a directory that holds no account yet (nobody can be
/// waiting on the write lock): fewer commits rewrite the académie-wide index pages (an académie into SQLite:
/// 217–238 s with 20,000, 197–221 s with 50,000, 223 s with 100,000, whose commits stall the apply longer;
/// docs/benchmarks.md). The `ent` command's default for a first load.
pub const FIRST_LOAD_CHUNK: usize = 50_000;

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Records written per transaction: a crash leaves the directory before or after each chunk. 2,000 by
    /// default: larger chunks write each hot index page and fsync once for more records (an académie into
    /// SQLite: a quarter faster than 500), at the price of holding the write lock longer per chunk (about
    /// 0.3 s on a 2-core machine), during which the portal's own writes wait.
    pub chunk: usize,
    /// A full batch that would deactivate more than this share of a structure's accounts is held.
    pub mass_deactivation_threshold: f64,
    /// Apply held deactivations: an administrator confirmed them.
    pub confirm_mass_deactivation: bool,
    /// How long an activation code of a new account stays valid.
    pub activation_validity: chrono::Duration,
    /// Report what the batch would do, and write nothing: every transaction is rolled back. References
    /// between records of the batch resolve as in a real run; logins of two namesakes created by the
    /// same batch may differ from a real run's numbering, and no activation code is returned.
    pub dry_run: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            chunk: 2000,
            mass_deactivation_threshold: 0.2,
            confirm_mass_deactivation: false,
            activation_validity: chrono::Duration::days(120),
            dry_run: false,
        }
    }
}

/// Internal ids of the batch's keys, filled as the phases go.
#[derive(Default)]
struct Ids {
    structures: HashMap<String, StructureId>,
    subjects: HashMap<String, (SubjectId, StructureId)>,
    classes: HashMap<String, (ClassId, StructureId)>,
    groups: HashMap<String, (GroupId, StructureId)>,
    people: HashMap<String, UserId>,
    /// The people of `people` that the people phase left enabled.
    enabled: HashSet<UserId>,
    /// For a full batch, the structures it covers: the batch is the whole truth about them.
    covered: HashSet<StructureId>,
    /// People this batch created: their links are part of their creation, not an update.
    created: HashSet<String>,
    /// What the report counts for each person so far: later phases (changes, links) count each person once.
    counted: HashMap<String, Outcome>,
}

/// The outcome of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Updated,
    Unchanged,
    /// An account disabled (counted in [`Report::deactivated`]).
    Deactivated,
}

impl Report {
    fn count(&mut self, o: &Outcome) {
        match o {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Deactivated => self.deactivated += 1,
        }
    }

    /// Counts a person once in the report: a later phase (changes, links) may turn what an earlier one
    /// counted into a stronger outcome (unchanged < updated < deactivated); a person created by the batch
    /// stays created.
    fn upgrade(&mut self, counted: &mut HashMap<String, Outcome>, person: &str, outcome: Outcome) {
        let rank = |o: &Outcome| match o {
            Outcome::Unchanged => 0,
            Outcome::Updated => 1,
            Outcome::Deactivated => 2,
            Outcome::Created => 3,
        };
        match counted.get(person).copied() {
            Some(before) if rank(&outcome) <= rank(&before) => return,
            Some(before) => {
                let n = match before {
                    Outcome::Created => &mut self.created,
                    Outcome::Updated => &mut self.updated,
                    Outcome::Unchanged => &mut self.unchanged,
                    Outcome::Deactivated => &mut self.deactivated,
                };
                *n = n.saturating_sub(1);
            }
            None => {}
        }
        self.count(&outcome);
        counted.insert(person.to_owned(), outcome);
    }

    fn reject(&mut self, kind: &'static str, key: &str, reason: impl Into<String>) {
        self.rejected.push(Rejection { kind, key: key.to_owned(), reason: reason.into(), location: None });
    }
}

/// Runs a write transaction: committed (and retried on conflicts), or, for a dry run, rolled back.
async fn write<'a, T, F>(store: &dyn Store, dry_run: bool, mut body: F) -> Result<T>
where
    T: Send,
    F: for<'t> FnMut(&'t mut (dyn Transaction + 'a)) -> BoxFuture<'t, Result<T>> + Send,
{
    if !dry_run {
        return retry::transact(store, TxMode::ReadWrite, body).await;
    }
    let mut tx = store.begin(TxMode::ReadWrite).await?;
    let value = body(&mut *tx).await?;
    tx.rollback().await?;
    Ok(value)
}

/// The record of `T` imported from `(source, key)`, if any.
async fn by_source<T: Record>(tx: &mut dyn Transaction, source: &str, key: &str) -> Result<Option<Versioned<T>>> {
    let scan = Scan::index(T::COLLECTION, "by_source").prefix((source, key)).limit(1);
    Ok(tx.scan_records::<T>(&scan).await?.0.into_iter().next())
}

/// Inserts `new`, or updates `old` to `new` when they differ.
async fn upsert<T: Record + PartialEq>(
    tx: &mut dyn Transaction,
    old: Option<Versioned<T>>,
    new: &T,
) -> Result<Outcome> {
    match old {
        None => {
            tx.insert_record(new).await?;
            Ok(Outcome::Created)
        }
        Some(old) if old.value == *new => Ok(Outcome::Unchanged),
        Some(old) => {
            tx.update_record(old.version, new).await?;
            Ok(Outcome::Updated)
        }
    }
}

/// The writes of one transaction of the people and links phases, gathered while the transaction reads and
/// sent at its end in one [`Transaction::write_batch`]: one call and one savepoint for the chunk instead of
/// one per record (the per-operation cost that bounded the import of an académie).
///
/// Reads of the same transaction do not see these writes: the one read that would (the logins taken, for
/// two namesakes of the same chunk) also looks at [`Writes::logins`].
#[derive(Default)]
struct Writes {
    ops: Vec<WriteOp>,
    /// Logins given to people created by this chunk.
    logins: Pending,
}

impl Writes {
    fn insert<T: Record>(&mut self, value: &T) -> Result<()> {
        self.ops.push(WriteOp::Insert { collection: T::COLLECTION.into(), record: to_new_record(value)? });
        Ok(())
    }

    fn update<T: Record>(&mut self, expected_version: u64, value: &T) -> Result<()> {
        self.ops.push(WriteOp::Update {
            collection: T::COLLECTION.into(),
            expected_version,
            record: to_new_record(value)?,
        });
        Ok(())
    }

    fn delete<T: Record>(&mut self, id: Tuple, expected_version: u64) {
        self.ops.push(WriteOp::Delete {
            collection: T::COLLECTION.into(),
            id,
            expected_version: Some(expected_version),
        });
    }

    /// The user's rights version moves with this transaction.
    fn bump_user(&mut self, user: UserId) {
        self.ops.push(rights::version::bump_user_op(user));
    }

    /// Sends the gathered writes (see [`send`]).
    async fn send(self, tx: &mut dyn Transaction, max_ops: usize) -> Result<()> {
        send(tx, self.ops, max_ops).await
    }
}

/// Sends writes in batches of at most `max_ops` (the store's [`Limits::max_batch_ops`]).
///
/// [`Limits::max_batch_ops`]: ent_core::storage::Limits::max_batch_ops
async fn send(tx: &mut dyn Transaction, mut ops: Vec<WriteOp>, max_ops: usize) -> Result<()> {
    while !ops.is_empty() {
        let rest = ops.split_off(ops.len().min(max_ops.max(1)));
        tx.write_batch(ops).await?;
        ops = rest;
    }
    Ok(())
}

/// Applies a batch. Errors of the store (not of the batch's records) stop the apply: what was committed
/// before stays, chunk by chunk, and applying the batch again completes it.
pub async fn apply(store: &dyn Store, clock: &dyn Clock, batch: &Batch, options: &ApplyOptions) -> Result<Report> {
    if batch.source.is_empty() {
        return Err(Error::invalid("batch.source", "a batch names its source"));
    }
    let chunk = options.chunk.max(1);
    let mut report = Report::default();
    let mut ids = Ids::default();
    let now = clock.now();

    apply_structures(store, batch, chunk, options.dry_run, &mut ids, &mut report).await?;
    if let Mode::Full { structures } = &batch.mode {
        let mut tx = store.begin(TxMode::ReadOnly).await?;
        for key in structures {
            if let Some(id) = structure_id(&mut *tx, &batch.source, key, &ids).await? {
                ids.covered.insert(id);
            }
        }
    }
    apply_units(store, batch, chunk, options.dry_run, &mut ids, &mut report).await?;
    let accepted = apply_people(store, batch, chunk, now, options, &mut ids, &mut report).await?;
    apply_changes(store, batch, chunk, now, options, &mut ids, &mut report).await?;
    apply_links(store, batch, &accepted, chunk, options.dry_run, &mut ids, &mut report).await?;
    apply_deleted_units(store, batch, options.dry_run, &ids, &mut report).await?;
    apply_deletions(store, batch, now, options.dry_run, &mut report).await?;
    if let Mode::Full { structures } = &batch.mode {
        deactivate_missing(store, batch, structures, now, options, &ids, &mut report).await?;
    }
    if options.dry_run {
        report.codes.clear();
    }
    Ok(report)
}

async fn apply_structures(
    store: &dyn Store,
    batch: &Batch,
    chunk: usize,
    dry_run: bool,
    ids: &mut Ids,
    report: &mut Report,
) -> Result<()> {
    let mut seen = HashSet::new();
    let mut valid = Vec::new();
    for s in &batch.structures {
        if !seen.insert(s.key.as_str()) {
            report.reject("structure", &s.key, "the same key appears twice in the feed");
            continue;
        }
        match (s.uai.parse::<Uai>(), s.name.trim().is_empty()) {
            (Err(e), _) => report.reject("structure", &s.key, e.to_string()),
            (_, true) => report.reject("structure", &s.key, "missing mandatory attribute: name"),
            (Ok(uai), false) => valid.push((s, uai)),
        }
    }
    for part in valid.chunks(chunk) {
        let results = write(store, dry_run, |tx| {
            Box::pin(async move {
                let mut out = Vec::new();
                for (s, uai) in part {
                    let mut old = by_source::<Structure>(tx, &batch.source, &s.key).await?;
                    if old.is_none() {
                        // A structure created by hand, or by another feed, is adopted by its UAI.
                        let scan = Scan::index(Structure::COLLECTION, "by_uai").prefix((uai.as_str(),)).limit(1);
                        old = tx.scan_records::<Structure>(&scan).await?.0.into_iter().next();
                    }
                    let kept = old.as_ref().map(|o| &o.value);
                    // What the feed does not say stays as the directory holds it; a new structure gets the
                    // defaults (OneRoster says neither kind, contract, académie, time zone nor periods).
                    let new = Structure {
                        id: kept.map_or_else(StructureId::new, |o| o.id),
                        uai: Some(uai.clone()),
                        name: s.name.trim().to_owned(),
                        kind: s.kind.or(kept.map(|o| o.kind)).unwrap_or(StructureKind::Autre),
                        contract: s.contract.or(kept.map(|o| o.contract)).unwrap_or(Contract::Public),
                        academie: s.academie.clone().or_else(|| kept.map(|o| o.academie.clone())).unwrap_or_default(),
                        time_zone: s
                            .time_zone
                            .clone()
                            .or_else(|| kept.map(|o| o.time_zone.clone()))
                            .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned()),
                        parent: kept.and_then(|o| o.parent),
                        periods: s.periods.or(kept.map(|o| o.periods)).unwrap_or(PeriodKind::Trimestres),
                        source: Some(ent_core::directory::SourceKey::new(&batch.source, &s.key)),
                        attributes: feed_part(
                            kept.map(|o| o.attributes.clone()).unwrap_or_default(),
                            &batch.source,
                            &s.extra,
                        ),
                    };
                    out.push((s.key.clone(), new.id, upsert(tx, old, &new).await?));
                }
                Ok(out)
            })
        })
        .await?;
        for (key, id, outcome) in results {
            report.count(&outcome);
            ids.structures.insert(key, id);
        }
    }
    Ok(())
}

/// A record's [`FeedAttributes`] with the part of `source` made what the feed gives now (removed when it
/// gives nothing); the other feeds' parts stay.
fn feed_part(mut out: FeedAttributes, source: &str, extra: &BTreeMap<String, Vec<String>>) -> FeedAttributes {
    match extra.is_empty() {
        true => out.remove(source),
        false => out.insert(source.to_owned(), extra.clone()),
    };
    out
}

/// Finds a structure of the batch, or one imported earlier from the same source.
async fn structure_id(tx: &mut dyn Transaction, source: &str, key: &str, ids: &Ids) -> Result<Option<StructureId>> {
    if let Some(id) = ids.structures.get(key) {
        return Ok(Some(*id));
    }
    Ok(by_source::<Structure>(tx, source, key).await?.map(|s| s.value.id))
}

async fn apply_units(
    store: &dyn Store,
    batch: &Batch,
    chunk: usize,
    dry_run: bool,
    ids: &mut Ids,
    report: &mut Report,
) -> Result<()> {
    enum Item<'b> {
        Subject(&'b crate::feed::SubjectIn),
        Class(&'b crate::feed::ClassIn),
        Group(&'b crate::feed::GroupIn),
    }
    let mut items = Vec::new();
    let mut seen = HashSet::new();
    // A key seen once per kind, and the attribute a record cannot go without.
    let mut admit = |kind: &'static str, key: &str, mandatory: (&str, &str), report: &mut Report| {
        if !seen.insert((kind, key.to_owned())) {
            report.reject(kind, key, "the same key appears twice in the feed");
            false
        } else if mandatory.1.trim().is_empty() {
            report.reject(kind, key, format!("missing mandatory attribute: {}", mandatory.0));
            false
        } else {
            true
        }
    };
    for s in &batch.subjects {
        if admit("subject", &s.key, ("code", &s.code), report) {
            items.push(Item::Subject(s));
        }
    }
    for c in &batch.classes {
        if admit("class", &c.key, ("name", &c.name), report) {
            items.push(Item::Class(c));
        }
    }
    for g in &batch.groups {
        if admit("group", &g.key, ("name", &g.name), report) {
            items.push(Item::Group(g));
        }
    }
    let year = batch.year;
    for part in items.chunks(chunk) {
        let ids_ref = &*ids;
        let results = write(store, dry_run, |tx| {
            Box::pin(async move {
                let mut out = Vec::new();
                for item in part {
                    let (kind, key, structure_key) = match item {
                        Item::Subject(s) => ("subject", &s.key, &s.structure),
                        Item::Class(c) => ("class", &c.key, &c.structure),
                        Item::Group(g) => ("group", &g.key, &g.structure),
                    };
                    let Some(structure) = structure_id(tx, &batch.source, structure_key, ids_ref).await? else {
                        out.push(Err((kind, key.clone(), format!("unknown structure `{structure_key}`"))));
                        continue;
                    };
                    let source = Some(ent_core::directory::SourceKey::new(&batch.source, key));
                    let written = match item {
                        Item::Subject(s) => {
                            let old = by_source::<Subject>(tx, &batch.source, &s.key).await?;
                            let new = Subject {
                                id: old.as_ref().map_or_else(SubjectId::new, |o| o.value.id),
                                structure,
                                code: s.code.trim().to_owned(),
                                label: s.label.trim().to_owned(),
                                source,
                            };
                            upsert(tx, old, &new).await.map(|o| (o, new.id.0))
                        }
                        Item::Class(c) => {
                            let old = by_source::<Class>(tx, &batch.source, &c.key).await?;
                            let new = Class {
                                id: old.as_ref().map_or_else(ClassId::new, |o| o.value.id),
                                structure,
                                year: old.as_ref().map_or(year, |o| o.value.year),
                                name: c.name.trim().to_owned(),
                                level: c.level.clone(),
                                source,
                            };
                            upsert(tx, old, &new).await.map(|o| (o, new.id.0))
                        }
                        Item::Group(g) => {
                            let old = by_source::<Group>(tx, &batch.source, &g.key).await?;
                            let new = Group {
                                id: old.as_ref().map_or_else(GroupId::new, |o| o.value.id),
                                structure,
                                year: old.as_ref().map_or(year, |o| o.value.year),
                                name: g.name.trim().to_owned(),
                                kind: GroupKind::Teaching,
                                profile: None,
                                source,
                            };
                            upsert(tx, old, &new).await.map(|o| (o, new.id.0))
                        }
                    };
                    match written {
                        Ok((outcome, id)) => out.push(Ok((kind, key.clone(), id, structure, outcome))),
                        Err(Error::Duplicate { index, key: k, .. }) => {
                            out.push(Err((kind, key.clone(), format!("another {kind} already has {index} {k}"))))
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            })
        })
        .await?;
        for r in results {
            match r {
                Ok((kind, key, id, structure, outcome)) => {
                    report.count(&outcome);
                    match kind {
                        "subject" => {
                            ids.subjects.insert(key, (SubjectId(id), structure));
                        }
                        "class" => {
                            ids.classes.insert(key, (ClassId(id), structure));
                        }
                        _ => {
                            ids.groups.insert(key, (GroupId(id), structure));
                        }
                    }
                }
                Err((kind, key, reason)) => report.reject(kind, &key, reason),
            }
        }
    }
    Ok(())
}

/// A person's references, resolved.
struct Resolved {
    affiliations: Vec<Affiliation>,
    units: Vec<(Unit, StructureId)>,
    teachings: Vec<(Unit, StructureId, SubjectId, bool)>,
}

/// Resolves a person's keys, or says which one is unknown.
async fn resolve(
    tx: &mut dyn Transaction,
    source: &str,
    p: &PersonIn,
    ids: &Ids,
) -> Result<std::result::Result<Resolved, String>> {
    let mut affiliations: Vec<Affiliation> = Vec::new();
    for a in &p.affiliations {
        let Some(structure) = structure_id(tx, source, &a.structure, ids).await? else {
            return Ok(Err(format!("unknown structure `{}`", a.structure)));
        };
        if !affiliations.iter().any(|x| x.structure == structure && x.profile == a.profile) {
            affiliations.push(Affiliation { structure, profile: a.profile, functions: a.functions.clone() });
        }
    }
    let unit = async |tx: &mut dyn Transaction, r: &UnitRef| -> Result<Option<(Unit, StructureId)>> {
        match r {
            UnitRef::Class(k) => class_by_key(tx, source, k, ids).await,
            UnitRef::Group(k) => group_by_key(tx, source, k, ids).await,
        }
    };
    let mut units = Vec::new();
    for r in &p.units {
        match unit(tx, r).await? {
            Some(u) if !units.contains(&u) => units.push(u),
            Some(_) => {}
            None => return Ok(Err(format!("unknown {}", describe(r)))),
        }
    }
    let mut teachings = Vec::new();
    for t in &p.teachings {
        let Some((u, s)) = unit(tx, &t.unit).await? else {
            return Ok(Err(format!("unknown {}", describe(&t.unit))));
        };
        let Some(subject) = subject_by_key(tx, source, &t.subject, ids).await? else {
            return Ok(Err(format!("unknown subject `{}`", t.subject)));
        };
        if !teachings.iter().any(|(x, _, y, _)| *x == u && *y == subject) {
            teachings.push((u, s, subject, t.principal));
        }
    }
    affiliations.sort_by_key(|a| (a.structure, a.profile));
    Ok(Ok(Resolved { affiliations, units, teachings }))
}

fn describe(r: &UnitRef) -> String {
    match r {
        UnitRef::Class(k) => format!("class `{k}`"),
        UnitRef::Group(k) => format!("group `{k}`"),
    }
}

/// What happened to one person.
enum PersonOutcome {
    Written { key: String, id: UserId, outcome: Outcome, moved: bool, code: Option<IssuedCode>, enabled: bool },
    Rejected { key: String, reason: String },
}

#[allow(clippy::too_many_arguments)]
async fn apply_people(
    store: &dyn Store,
    batch: &Batch,
    chunk: usize,
    now: DateTime<Utc>,
    options: &ApplyOptions,
    ids: &mut Ids,
    report: &mut Report,
) -> Result<HashSet<String>> {
    let max_ops = store.limits().max_batch_ops;
    let mut seen = HashSet::new();
    let mut valid = Vec::new();
    for p in &batch.people {
        if !seen.insert(p.key.as_str()) {
            report.reject("person", &p.key, "the same key appears twice in the feed");
        } else if p.key.trim().is_empty() {
            report.reject("person", &p.key, "missing mandatory attribute: key");
        } else if p.given_name.trim().is_empty() {
            report.reject("person", &p.key, "missing mandatory attribute: given name");
        } else if p.family_name.trim().is_empty() {
            report.reject("person", &p.key, "missing mandatory attribute: family name");
        } else if p.affiliations.is_empty() && matches!(batch.mode, Mode::Full { .. }) {
            // A delta may change a known person alone (an AAF responsable without their children): see
            // `apply_person`. A full feed is the truth about its people's profiles: it must give one.
            report.reject("person", &p.key, "missing mandatory attribute: profile");
        } else {
            valid.push(p);
        }
    }
    // The affiliations the batch's changes add, per person: a new person of a delta is created with them.
    let mut added: HashMap<&str, Vec<&PersonRef>> = HashMap::new();
    for c in &batch.changes {
        if let Change::AddAffiliation(a) = &c.change {
            added.entry(c.person.as_str()).or_default().push(a);
        }
    }
    let mut accepted = HashSet::new();
    let plan = &PeoplePlan { batch, added: &added, now, options };
    let parts: Vec<&[&PersonIn]> = valid.chunks(chunk).collect();
    // A chunk is planned (read, and its writes gathered) then written and committed. When it writes much
    // (at least one operation per person: people created, or moved), the next chunk is planned meanwhile, on
    // a reader's snapshot of what was committed before (see `Pending` for the logins of the chunk in
    // between). A chunk that writes little (a re-import) gains nothing from it and would lose the writer's
    // page cache (a reader's is emptied by every commit): the next chunk is then planned on the writer, in
    // the transaction that writes it. A dry run plans each chunk in a transaction it rolls back.
    let mut next: Option<Planned> = None;
    for (i, part) in parts.iter().enumerate() {
        let (tx, planned) = match next.take() {
            Some(planned) => (None, Ok(planned)),
            None => {
                let mut tx = store.begin(TxMode::ReadWrite).await?;
                let planned = plan_people(&mut *tx, plan, part, &Pending::default(), ids).await;
                (Some(tx), planned)
            }
        };
        let results = match planned {
            Ok(Planned { writes: Writes { ops, logins }, out }) => {
                let overlap = !options.dry_run && ops.len() >= part.len();
                let following = parts.get(i + 1).copied().filter(|_| overlap);
                let ids_ref = &*ids;
                let (written, planned_next) =
                    futures::future::join(write_planned(store, tx, ops, max_ops, options.dry_run), async {
                        match following {
                            Some(part) => Some(planned_alone(store, part, &logins, plan, ids_ref).await),
                            None => None,
                        }
                    })
                    .await;
                match written {
                    Ok(()) => {
                        // A plan that failed (the store, for a moment) is made again, on the writer, with
                        // the retries of `serial` should that fail too.
                        next = planned_next.and_then(Result::ok);
                        out
                    }
                    // A conflict with another writer (the snapshot was stale: a person changed, a login
                    // taken), or a failure of the store: the chunk is planned and written again in one
                    // transaction, retried on conflict, and the next one is planned after it.
                    Err(_) => serial(store, options.dry_run, part, max_ops, plan, ids).await?,
                }
            }
            Err(_) => {
                // The transaction goes first: its connection may be the writer the retry needs.
                drop(tx);
                serial(store, options.dry_run, part, max_ops, plan, ids).await?
            }
        };
        for r in results {
            match r {
                PersonOutcome::Written { key, id, outcome, moved, code, enabled } => {
                    if enabled {
                        ids.enabled.insert(id);
                    }
                    report.count(&outcome);
                    if matches!(outcome, Outcome::Created) {
                        ids.created.insert(key.clone());
                    }
                    ids.counted.insert(key.clone(), outcome);
                    if moved {
                        report.moved += 1;
                    }
                    report.codes.extend(code);
                    accepted.insert(key.clone());
                    ids.people.insert(key, id);
                }
                PersonOutcome::Rejected { key, reason } => report.reject("person", &key, reason),
            }
        }
    }
    Ok(accepted)
}

/// A chunk of people planned: the writes that apply it, and what they do to each person.
struct Planned {
    writes: Writes,
    out: Vec<PersonOutcome>,
}

/// What planning a chunk of people needs of the batch, the same for every chunk.
struct PeoplePlan<'a> {
    batch: &'a Batch,
    /// The affiliations the batch's changes add, per person.
    added: &'a HashMap<&'a str, Vec<&'a PersonRef>>,
    now: DateTime<Utc>,
    options: &'a ApplyOptions,
}

/// Plans a chunk of people in `tx`: reads what the directory holds of them and gathers the writes that make
/// it what the batch says, without writing. `earlier`: the logins of a chunk planned before this one and not
/// committed yet.
async fn plan_people(
    tx: &mut dyn Transaction,
    plan: &PeoplePlan<'_>,
    part: &[&PersonIn],
    earlier: &Pending,
    ids: &Ids,
) -> Result<Planned> {
    let PeoplePlan { batch, added, now, options } = *plan;
    let mut out = Vec::with_capacity(part.len());
    let mut writes = Writes::default();
    // The people's accounts, looked up in key order (the feed's order is random in the index): consecutive
    // lookups then walk the same index pages.
    let mut keys: Vec<&str> = part.iter().map(|p| p.key.as_str()).collect();
    keys.sort_unstable();
    let mut known = HashMap::with_capacity(keys.len());
    for key in keys {
        known.insert(key, by_source::<User>(tx, &batch.source, key).await?);
    }
    for p in part {
        let added = added.get(p.key.as_str()).map_or(&[][..], Vec::as_slice);
        let old = known.remove(p.key.as_str()).flatten();
        out.push(apply_person(tx, &mut writes, batch, p, old, added, earlier, now, options, ids).await?);
    }
    Ok(Planned { writes, out })
}

/// Plans and writes a chunk in one transaction, retried on conflict: a chunk whose first attempt failed.
async fn serial(
    store: &dyn Store,
    dry_run: bool,
    part: &[&PersonIn],
    max_ops: usize,
    plan: &PeoplePlan<'_>,
    ids: &Ids,
) -> Result<Vec<PersonOutcome>> {
    write(store, dry_run, |tx| {
        Box::pin(async move {
            let planned = plan_people(tx, plan, part, &Pending::default(), ids).await?;
            planned.writes.send(tx, max_ops).await?;
            Ok(planned.out)
        })
    })
    .await
}

/// Plans a chunk on a read-only snapshot of what is committed, to be written by [`write_planned`].
async fn planned_alone(
    store: &dyn Store,
    part: &[&PersonIn],
    earlier: &Pending,
    plan: &PeoplePlan<'_>,
    ids: &Ids,
) -> Result<Planned> {
    let mut tx = store.begin(TxMode::ReadOnly).await?;
    let planned = plan_people(&mut *tx, plan, part, earlier, ids).await?;
    tx.rollback().await?;
    Ok(planned)
}

/// Writes a chunk planned in `tx` (or, without it, on a reader's snapshot) and commits it (rolls it back in
/// a dry run), once: the writes carry the versions the plan read and the unique indexes guard the rest, so
/// a plan made stale by another writer fails here, and the caller applies the chunk again with retries.
async fn write_planned(
    store: &dyn Store,
    tx: Option<Box<dyn Transaction>>,
    ops: Vec<WriteOp>,
    max_ops: usize,
    dry_run: bool,
) -> Result<()> {
    let mut tx = match tx {
        Some(tx) => tx,
        None => store.begin(TxMode::ReadWrite).await?,
    };
    send(&mut *tx, ops, max_ops).await?;
    match dry_run {
        true => tx.rollback().await,
        false => tx.commit().await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply_person(
    tx: &mut dyn Transaction,
    writes: &mut Writes,
    batch: &Batch,
    p: &PersonIn,
    old: Option<Versioned<User>>,
    added: &[&PersonRef],
    earlier: &Pending,
    now: DateTime<Utc>,
    options: &ApplyOptions,
    ids: &Ids,
) -> Result<PersonOutcome> {
    let rejected = |reason: String| Ok(PersonOutcome::Rejected { key: p.key.clone(), reason });
    let mut resolved = match resolve(tx, &batch.source, p, ids).await? {
        Ok(r) => r,
        Err(reason) => return rejected(reason),
    };
    if old.is_none() && resolved.affiliations.is_empty() {
        // A person new to a delta takes the affiliations its changes add (those that resolve: the changes
        // phase rejects the others with their reason).
        for a in added {
            if let Some(structure) = structure_id(tx, &batch.source, &a.structure, ids).await?
                && !resolved.affiliations.iter().any(|x| x.structure == structure && x.profile == a.profile)
            {
                resolved.affiliations.push(Affiliation {
                    structure,
                    profile: a.profile,
                    functions: a.functions.clone(),
                });
            }
        }
        resolved.affiliations.sort_by_key(|a| (a.structure, a.profile));
    }
    if old.is_none() && resolved.affiliations.is_empty() {
        // Only a delta gets here: it may change someone known without their profiles, not create them.
        return rejected("missing mandatory attribute: profile (a new person needs one)".into());
    }
    let source = ent_core::directory::SourceKey::new(&batch.source, &p.key);
    let (user, outcome, code) = match old {
        None => {
            let base = base_login(&p.given_name, &p.family_name);
            let (login, counter) = crate::login::allocate(tx, &base, earlier, &mut writes.logins).await?;
            writes.ops.push(counter);
            let user = User {
                id: UserId::new(),
                login,
                given_name: p.given_name.trim().to_owned(),
                family_name: p.family_name.trim().to_owned(),
                birth_date: p.birth_date,
                email: p.email.clone(),
                affiliations: resolved.affiliations.clone(),
                adult: p.adult,
                // Created disabled when the source says so: no activation code until it is enabled.
                state: if p.disabled { AccountState::Disabled { since: now } } else { AccountState::Pending },
                sources: vec![source],
                attributes: feed_part(FeedAttributes::new(), &batch.source, &p.extra),
            };
            writes.insert(&user)?;
            let code = match p.disabled {
                true => None,
                false => Some(issue_code(writes, &user, now, options)?),
            };
            (user, Outcome::Created, code)
        }
        Some(old) => {
            let mut user = old.value.clone();
            user.given_name = p.given_name.trim().to_owned();
            user.family_name = p.family_name.trim().to_owned();
            user.birth_date = p.birth_date;
            user.email = p.email.clone();
            user.adult = p.adult;
            user.attributes = feed_part(std::mem::take(&mut user.attributes), &batch.source, &p.extra);
            // The feed is the truth for the structures it names and, when full, for those it covers;
            // affiliations elsewhere (another feed, a local administrator) stay.
            let named: HashSet<StructureId> = resolved.affiliations.iter().map(|a| a.structure).collect();
            user.affiliations.retain(|a| !named.contains(&a.structure) && !ids.covered.contains(&a.structure));
            user.affiliations.extend(resolved.affiliations.iter().cloned());
            user.affiliations.sort_by_key(|a| (a.structure, a.profile));
            let was_disabled = matches!(user.state, AccountState::Disabled { .. });
            let mut code = None;
            if p.disabled && !was_disabled {
                // The source disables the account (OneRoster `enabledUser` = `false`).
                user.state = AccountState::Disabled { since: now };
            } else if !p.disabled && was_disabled && !user.affiliations.is_empty() {
                // Back in the feed, or enabled again: the account comes back; deletion is cancelled. (One
                // left without any profile stays disabled, as a full feed leaves it.)
                code = enable(tx, writes, &mut user, now, options).await?;
            }
            let mut old_sorted = old.value.clone();
            old_sorted.affiliations.sort_by_key(|a| (a.structure, a.profile));
            let outcome = if user == old_sorted && user.affiliations == old.value.affiliations {
                Outcome::Unchanged
            } else {
                writes.update(old.version, &user)?;
                if p.disabled && !was_disabled { Outcome::Deactivated } else { Outcome::Updated }
            };
            (user, outcome, code)
        }
    };
    // A person created just now has no membership nor assignment yet: nothing to read.
    let fresh = matches!(outcome, Outcome::Created);
    let (moved, units_changed, teachings_changed) = match batch.states_units {
        true => {
            let (moved, units) = sync_memberships(tx, writes, batch, &user, &resolved, &ids.covered, fresh).await?;
            (moved, units, sync_teachings(tx, writes, batch, &user, &resolved, &ids.covered, fresh).await?)
        }
        // The feed does not state them: what the directory holds stays.
        false => (false, false, false),
    };
    let outcome = match outcome {
        Outcome::Unchanged if units_changed || teachings_changed => Outcome::Updated,
        o => o,
    };
    if matches!(outcome, Outcome::Updated | Outcome::Deactivated) {
        // Affiliations, state, memberships or assignments moved: compiled rights must be compiled again.
        // (A new account has rights compiled nowhere yet: its version starts at 0 with what it holds now.)
        writes.bump_user(user.id);
    }
    let enabled = !matches!(user.state, AccountState::Disabled { .. });
    Ok(PersonOutcome::Written { key: p.key.clone(), id: user.id, outcome, moved, code, enabled })
}

/// Makes the user's memberships of the batch's year, in the structures the batch names for them, what the
/// batch says. Returns (changed class, changed anything).
async fn sync_memberships(
    tx: &mut dyn Transaction,
    writes: &mut Writes,
    batch: &Batch,
    user: &User,
    r: &Resolved,
    covered: &HashSet<StructureId>,
    fresh: bool,
) -> Result<(bool, bool)> {
    let year = batch.year;
    let sort_name = format!("{} {}", names::fold(&user.family_name), names::fold(&user.given_name));
    let current = match fresh {
        true => Vec::new(),
        false => {
            let scan =
                Scan::index(Membership::COLLECTION, "by_user").prefix((user.id.0, i64::from(year.0))).limit(1000);
            tx.scan_records::<Membership>(&scan).await?.0
        }
    };
    // The structures the batch speaks for, for this person: theirs in the batch, and those it covers.
    let named = |s: &StructureId| r.affiliations.iter().any(|a| a.structure == *s) || covered.contains(s);
    let wanted: Vec<Membership> = r
        .units
        .iter()
        .map(|(unit, structure)| Membership {
            unit: *unit,
            year,
            user: user.id,
            structure: *structure,
            sort_name: sort_name.clone(),
        })
        .collect();
    let mut changed = false;
    let mut left_class = false;
    for m in &current {
        if !named(&m.value.structure) {
            continue;
        }
        match wanted.iter().find(|w| w.unit == m.value.unit) {
            Some(w) if *w == m.value => {}
            Some(w) => {
                writes.update(m.version, w)?;
                changed = true;
            }
            None => {
                writes.delete::<Membership>(m.value.id(), m.version);
                left_class |= matches!(m.value.unit, Unit::Class(_));
                changed = true;
            }
        }
    }
    let mut joined_class = false;
    for w in &wanted {
        if !current.iter().any(|m| m.value.unit == w.unit) {
            writes.insert(w)?;
            joined_class |= matches!(w.unit, Unit::Class(_));
            changed = true;
        }
    }
    Ok((left_class && joined_class, changed))
}

/// Makes the teacher's assignments of the batch's year, in the structures the batch names, what it says.
async fn sync_teachings(
    tx: &mut dyn Transaction,
    writes: &mut Writes,
    batch: &Batch,
    user: &User,
    r: &Resolved,
    covered: &HashSet<StructureId>,
    fresh: bool,
) -> Result<bool> {
    let year = batch.year;
    let current = match fresh {
        true => Vec::new(),
        false => {
            let scan =
                Scan::index(Teaching::COLLECTION, "by_teacher").prefix((user.id.0, i64::from(year.0))).limit(1000);
            tx.scan_records::<Teaching>(&scan).await?.0
        }
    };
    // The structures the batch speaks for, for this person: theirs in the batch, and those it covers.
    let named = |s: &StructureId| r.affiliations.iter().any(|a| a.structure == *s) || covered.contains(s);
    let wanted: Vec<Teaching> = r
        .teachings
        .iter()
        .map(|(unit, structure, subject, principal)| Teaching {
            teacher: user.id,
            unit: *unit,
            subject: *subject,
            year,
            structure: *structure,
            principal: *principal,
        })
        .collect();
    let mut changed = false;
    for t in &current {
        if !named(&t.value.structure) {
            continue;
        }
        match wanted.iter().find(|w| w.unit == t.value.unit && w.subject == t.value.subject) {
            Some(w) if *w == t.value => {}
            Some(w) => {
                writes.update(t.version, w)?;
                changed = true;
            }
            None => {
                writes.delete::<Teaching>(t.value.id(), t.version);
                changed = true;
            }
        }
    }
    for w in &wanted {
        if !current.iter().any(|t| t.value.unit == w.unit && t.value.subject == w.subject) {
            writes.insert(w)?;
            changed = true;
        }
    }
    Ok(changed)
}

async fn apply_links(
    store: &dyn Store,
    batch: &Batch,
    accepted: &HashSet<String>,
    chunk: usize,
    dry_run: bool,
    ids: &mut Ids,
    report: &mut Report,
) -> Result<()> {
    let max_ops = store.limits().max_batch_ops;
    let pupils: Vec<&PersonIn> = batch.people.iter().filter(|p| accepted.contains(&p.key)).collect();
    for part in pupils.chunks(chunk) {
        let ids_ref = &*ids;
        let results = write(store, dry_run, |tx| {
            let ids = ids_ref;
            Box::pin(async move {
                let mut out = Vec::new();
                let mut writes = Writes::default();
                for p in part {
                    let Some(child) = ids.people.get(&p.key).copied() else { continue };
                    let mut wanted: BTreeMap<UserId, ParentLink> = BTreeMap::new();
                    let mut fresh_parents = HashSet::new();
                    let mut problems = Vec::new();
                    for link in &p.parents {
                        if link.parent == p.key {
                            problems.push(format!("linked to themselves as responsable `{}`", link.parent));
                            continue;
                        }
                        let parent = match ids.people.get(&link.parent) {
                            Some(id) => Some(*id),
                            None => by_source::<User>(tx, &batch.source, &link.parent).await?.map(|u| u.value.id),
                        };
                        let Some(parent) = parent else {
                            problems.push(format!("unknown responsable `{}`", link.parent));
                            continue;
                        };
                        if parent == child {
                            problems.push(format!("linked to themselves as responsable `{}`", link.parent));
                            continue;
                        }
                        if ids.created.contains(&link.parent) {
                            fresh_parents.insert(parent);
                        }
                        wanted.insert(
                            parent,
                            ParentLink {
                                parent,
                                child,
                                legal: link.legal,
                                authority: link.authority,
                                priority: link.priority,
                                financial: link.financial,
                            },
                        );
                    }
                    // Responsables named without their link: whatever the directory holds for them stays.
                    let mut kept = HashSet::new();
                    for key in &p.kept_parents {
                        let parent = match ids.people.get(key) {
                            Some(id) => Some(*id),
                            None => by_source::<User>(tx, &batch.source, key).await?.map(|u| u.value.id),
                        };
                        kept.extend(parent);
                    }
                    // The links the feed gives are the truth about this pupil; a bad link is rejected alone.
                    let current = match ids.created.contains(&p.key) {
                        // Created by this batch: no link yet.
                        true => Vec::new(),
                        false => {
                            let scan = Scan::index(ParentLink::COLLECTION, "by_child").prefix((child.0,)).limit(100);
                            tx.scan_records::<ParentLink>(&scan).await?.0
                        }
                    };
                    let mut changed = false;
                    for c in &current {
                        match wanted.get(&c.value.parent) {
                            Some(w) if *w == c.value => {}
                            Some(w) => {
                                writes.update(c.version, w)?;
                                writes.bump_user(c.value.parent);
                                changed = true;
                            }
                            None if kept.contains(&c.value.parent) => {}
                            None => {
                                writes.delete::<ParentLink>(c.value.id(), c.version);
                                writes.bump_user(c.value.parent);
                                changed = true;
                            }
                        }
                    }
                    for (parent, w) in &wanted {
                        if !current.iter().any(|c| c.value.parent == *parent) {
                            writes.insert(w)?;
                            // A responsable this apply created has had no session yet, so no rights compiled
                            // anywhere: their version starts with the links (875,000 counter writes less in
                            // an académie's first load). One known before gets the bump.
                            if !fresh_parents.contains(parent) {
                                writes.bump_user(*parent);
                            }
                            changed = true;
                        }
                    }
                    out.push((p.key.clone(), changed, problems));
                }
                writes.send(tx, max_ops).await?;
                Ok(out)
            })
        })
        .await?;
        for (key, changed, problems) in results {
            if changed {
                // A pupil whose responsables changed is an updated record of the feed (counted once).
                report.upgrade(&mut ids.counted, &key, Outcome::Updated);
            }
            for reason in problems {
                report.reject("link", &key, reason);
            }
        }
    }
    Ok(())
}

/// Issues the activation code of an account and records its hash.
fn issue_code(writes: &mut Writes, user: &User, now: DateTime<Utc>, options: &ApplyOptions) -> Result<IssuedCode> {
    let (secret, record) = ActivationCode::issue(user.id, now, options.activation_validity)?;
    writes.insert(&record)?;
    Ok(IssuedCode { user: user.id, login: user.login.clone(), code: secret.display() })
}

/// Enables a disabled account again: in use when it has a password; else pending, with a new activation
/// code (it may have been created disabled, without one, or its code may have expired meanwhile).
async fn enable(
    tx: &mut dyn Transaction,
    writes: &mut Writes,
    user: &mut User,
    now: DateTime<Utc>,
    options: &ApplyOptions,
) -> Result<Option<IssuedCode>> {
    let has_password = tx.get_record::<Credential>(user.id).await?.is_some_and(|c| c.value.password_hash.is_some());
    if has_password {
        user.state = AccountState::Active;
        return Ok(None);
    }
    user.state = AccountState::Pending;
    issue_code(writes, user, now, options).map(Some)
}

/// How a change is reported.
fn change_kind(c: &Change) -> &'static str {
    match c {
        Change::AddAffiliation(_) | Change::RemoveAffiliation { .. } => "affiliation",
        Change::Join { .. } | Change::Leave { .. } => "membership",
        Change::Teach { .. } | Change::StopTeaching { .. } => "teaching",
    }
}

/// A class or group by key: of the batch, else imported earlier from the same source; a class first.
async fn unit_by_key(
    tx: &mut dyn Transaction,
    source: &str,
    key: &str,
    ids: &Ids,
) -> Result<Option<(Unit, StructureId)>> {
    // The batch's units first, of both kinds, then the stored ones: a key the batch names wins.
    if let Some((id, s)) = ids.classes.get(key) {
        return Ok(Some((Unit::Class(*id), *s)));
    }
    if let Some((id, s)) = ids.groups.get(key) {
        return Ok(Some((Unit::Group(*id), *s)));
    }
    match class_by_key(tx, source, key, ids).await? {
        Some(found) => Ok(Some(found)),
        None => group_by_key(tx, source, key, ids).await,
    }
}

/// A class by key: of the batch, else imported earlier from the same source.
async fn class_by_key(
    tx: &mut dyn Transaction,
    source: &str,
    key: &str,
    ids: &Ids,
) -> Result<Option<(Unit, StructureId)>> {
    if let Some((id, s)) = ids.classes.get(key) {
        return Ok(Some((Unit::Class(*id), *s)));
    }
    Ok(by_source::<Class>(tx, source, key).await?.map(|c| (Unit::Class(c.value.id), c.value.structure)))
}

/// A group by key: of the batch, else imported earlier from the same source.
async fn group_by_key(
    tx: &mut dyn Transaction,
    source: &str,
    key: &str,
    ids: &Ids,
) -> Result<Option<(Unit, StructureId)>> {
    if let Some((id, s)) = ids.groups.get(key) {
        return Ok(Some((Unit::Group(*id), *s)));
    }
    Ok(by_source::<Group>(tx, source, key).await?.map(|g| (Unit::Group(g.value.id), g.value.structure)))
}

/// A subject of the batch, else imported earlier from the same source.
async fn subject_by_key(tx: &mut dyn Transaction, source: &str, key: &str, ids: &Ids) -> Result<Option<SubjectId>> {
    if let Some((id, _)) = ids.subjects.get(key) {
        return Ok(Some(*id));
    }
    Ok(by_source::<Subject>(tx, source, key).await?.map(|s| s.value.id))
}

/// The subject that this source's assignments of a unit share, when they share one.
async fn subject_of_unit(
    tx: &mut dyn Transaction,
    source: &str,
    unit: Unit,
    year: SchoolYear,
) -> Result<Option<SubjectId>> {
    let scan = Scan::primary(Teaching::COLLECTION).prefix((unit.uuid(), i64::from(year.0))).limit(1000);
    let mut subjects: Vec<SubjectId> =
        tx.scan_records::<Teaching>(&scan).await?.0.into_iter().map(|t| t.value.subject).collect();
    subjects.sort();
    subjects.dedup();
    let mut found = None;
    for id in subjects {
        let Some(s) = tx.get_record::<Subject>(id).await? else { continue };
        if s.value.source.as_ref().is_some_and(|k| k.source == source) {
            if found.is_some() {
                return Ok(None);
            }
            found = Some(id);
        }
    }
    Ok(found)
}

/// A change with its references resolved.
enum Op {
    Add(Affiliation),
    Remove(StructureId, ent_core::directory::Profile),
    Join(Unit, StructureId),
    Leave(Unit),
    Teach(Unit, StructureId, SubjectId, bool),
    Stop(Unit, Option<SubjectId>),
}

/// Resolves one change, or says which reference is unknown.
async fn resolve_change(
    tx: &mut dyn Transaction,
    batch: &Batch,
    change: &Change,
    ids: &Ids,
) -> Result<std::result::Result<Op, String>> {
    let source = batch.source.as_str();
    let unknown_unit = |k: &str| format!("unknown class or group `{k}`");
    Ok(Ok(match change {
        Change::AddAffiliation(a) => match structure_id(tx, source, &a.structure, ids).await? {
            Some(structure) => Op::Add(Affiliation { structure, profile: a.profile, functions: a.functions.clone() }),
            None => return Ok(Err(format!("unknown structure `{}`", a.structure))),
        },
        Change::RemoveAffiliation { structure, profile } => match structure_id(tx, source, structure, ids).await? {
            Some(s) => Op::Remove(s, *profile),
            None => return Ok(Err(format!("unknown structure `{structure}`"))),
        },
        Change::Join { unit } => match unit_by_key(tx, source, unit, ids).await? {
            Some((u, s)) => Op::Join(u, s),
            None => return Ok(Err(unknown_unit(unit))),
        },
        Change::Leave { unit } => match unit_by_key(tx, source, unit, ids).await? {
            Some((u, _)) => Op::Leave(u),
            None => return Ok(Err(unknown_unit(unit))),
        },
        Change::Teach { unit, subject, principal } => {
            let Some((u, s)) = unit_by_key(tx, source, unit, ids).await? else { return Ok(Err(unknown_unit(unit))) };
            let id = match subject {
                Some(k) => match subject_by_key(tx, source, k, ids).await? {
                    Some(id) => id,
                    None => return Ok(Err(format!("unknown subject `{k}`"))),
                },
                None => match subject_of_unit(tx, source, u, batch.year).await? {
                    Some(id) => id,
                    None => {
                        return Ok(Err(format!(
                            "the subject of `{unit}` is unknown: none of its teachers has one from this source yet \
                             (the feed must carry the class with its course)"
                        )));
                    }
                },
            };
            Op::Teach(u, s, id, *principal)
        }
        Change::StopTeaching { unit, subject } => {
            let Some((u, _)) = unit_by_key(tx, source, unit, ids).await? else { return Ok(Err(unknown_unit(unit))) };
            let id = match subject {
                Some(k) => match subject_by_key(tx, source, k, ids).await? {
                    Some(id) => Some(id),
                    None => return Ok(Err(format!("unknown subject `{k}`"))),
                },
                None => None,
            };
            Op::Stop(u, id)
        }
    }))
}

/// What the changes of one person did.
struct ChangeOutcome {
    person: String,
    /// `None` when nothing could be changed (the person is unknown, or was created by this dry run).
    outcome: Option<Outcome>,
    moved: bool,
    code: Option<IssuedCode>,
    rejected: Vec<(&'static str, String, String)>,
}

/// Applies [`Batch::changes`], person by person, each person once per transaction.
async fn apply_changes(
    store: &dyn Store,
    batch: &Batch,
    chunk: usize,
    now: DateTime<Utc>,
    options: &ApplyOptions,
    ids: &mut Ids,
    report: &mut Report,
) -> Result<()> {
    let max_ops = store.limits().max_batch_ops;
    let mut order: Vec<&str> = Vec::new();
    let mut by_person: HashMap<&str, Vec<&ChangeIn>> = HashMap::new();
    for c in &batch.changes {
        let list = by_person.entry(c.person.as_str()).or_default();
        if list.is_empty() {
            order.push(c.person.as_str());
        }
        list.push(c);
    }
    let groups: Vec<(&str, Vec<&ChangeIn>)> =
        order.into_iter().map(|p| (p, by_person.remove(p).unwrap_or_default())).collect();
    for part in groups.chunks(chunk) {
        let ids_ref = &*ids;
        let results = write(store, options.dry_run, |tx| {
            Box::pin(async move {
                let mut out = Vec::with_capacity(part.len());
                let mut writes = Writes::default();
                for (person, changes) in part {
                    out.push(change_person(tx, &mut writes, batch, person, changes, now, options, ids_ref).await?);
                }
                writes.send(tx, max_ops).await?;
                Ok(out)
            })
        })
        .await?;
        for r in results {
            for (kind, key, reason) in r.rejected {
                report.reject(kind, &key, reason);
            }
            report.codes.extend(r.code);
            if r.moved {
                report.moved += 1;
            }
            if let Some(outcome) = r.outcome {
                report.upgrade(&mut ids.counted, &r.person, outcome);
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn change_person(
    tx: &mut dyn Transaction,
    writes: &mut Writes,
    batch: &Batch,
    person: &str,
    changes: &[&ChangeIn],
    now: DateTime<Utc>,
    options: &ApplyOptions,
    ids: &Ids,
) -> Result<ChangeOutcome> {
    let mut out =
        ChangeOutcome { person: person.to_owned(), outcome: None, moved: false, code: None, rejected: Vec::new() };
    let old = match ids.people.get(person) {
        Some(id) => tx.get_record::<User>(*id).await?,
        None => by_source::<User>(tx, &batch.source, person).await?,
    };
    let mut ops = Vec::new();
    for c in changes {
        let kind = change_kind(&c.change);
        if old.is_none() && !ids.people.contains_key(person) {
            out.rejected.push((kind, c.key.clone(), format!("unknown person `{person}`")));
            continue;
        }
        match resolve_change(tx, batch, &c.change, ids).await? {
            Ok(op) => ops.push(op),
            Err(reason) => out.rejected.push((kind, c.key.clone(), reason)),
        }
    }
    // A person this dry run created is not stored: their changes were checked, nothing more.
    let Some(old) = old else { return Ok(out) };
    let year = batch.year;
    let mut user = old.value.clone();

    // The memberships and assignments of the year, as stored, then as the changes leave them.
    let current_units: Vec<Versioned<Membership>> = match ops.iter().any(|o| matches!(o, Op::Join(..) | Op::Leave(_))) {
        false => Vec::new(),
        true => {
            let scan =
                Scan::index(Membership::COLLECTION, "by_user").prefix((user.id.0, i64::from(year.0))).limit(1000);
            tx.scan_records::<Membership>(&scan).await?.0
        }
    };
    let current_teachings: Vec<Versioned<Teaching>> =
        match ops.iter().any(|o| matches!(o, Op::Teach(..) | Op::Stop(..))) {
            false => Vec::new(),
            true => {
                let scan =
                    Scan::index(Teaching::COLLECTION, "by_teacher").prefix((user.id.0, i64::from(year.0))).limit(1000);
                tx.scan_records::<Teaching>(&scan).await?.0
            }
        };
    let mut units: Vec<(Unit, StructureId)> = current_units.iter().map(|m| (m.value.unit, m.value.structure)).collect();
    let mut teachings: Vec<Teaching> = current_teachings.iter().map(|t| t.value.clone()).collect();
    for op in ops {
        match op {
            Op::Add(a) => {
                match user.affiliations.iter_mut().find(|x| x.structure == a.structure && x.profile == a.profile) {
                    Some(x) if !a.functions.is_empty() => x.functions = a.functions,
                    Some(_) => {}
                    None => user.affiliations.push(a),
                }
            }
            Op::Remove(s, p) => user.affiliations.retain(|a| !(a.structure == s && a.profile == p)),
            Op::Join(u, s) => {
                if !units.iter().any(|(x, _)| *x == u) {
                    units.push((u, s));
                }
            }
            Op::Leave(u) => units.retain(|(x, _)| *x != u),
            Op::Teach(unit, structure, subject, principal) => {
                match teachings.iter_mut().find(|t| t.unit == unit && t.subject == subject) {
                    Some(t) => t.principal = principal,
                    None => teachings.push(Teaching { teacher: user.id, unit, subject, year, structure, principal }),
                }
            }
            Op::Stop(u, subject) => teachings.retain(|t| !(t.unit == u && subject.is_none_or(|s| s == t.subject))),
        }
    }
    user.affiliations.sort_by_key(|a| (a.structure, a.profile));

    // Write the differences.
    let mut changed = false;
    let (mut left_class, mut joined_class) = (false, false);
    for m in &current_units {
        if !units.iter().any(|(u, _)| *u == m.value.unit) {
            writes.delete::<Membership>(m.value.id(), m.version);
            left_class |= matches!(m.value.unit, Unit::Class(_));
            changed = true;
        }
    }
    let sort_name = format!("{} {}", names::fold(&user.family_name), names::fold(&user.given_name));
    for (unit, structure) in &units {
        if !current_units.iter().any(|m| m.value.unit == *unit) {
            writes.insert(&Membership {
                unit: *unit,
                year,
                user: user.id,
                structure: *structure,
                sort_name: sort_name.clone(),
            })?;
            joined_class |= matches!(unit, Unit::Class(_));
            changed = true;
        }
    }
    for t in &current_teachings {
        match teachings.iter().find(|w| w.unit == t.value.unit && w.subject == t.value.subject) {
            Some(w) if *w == t.value => {}
            Some(w) => {
                writes.update(t.version, w)?;
                changed = true;
            }
            None => {
                writes.delete::<Teaching>(t.value.id(), t.version);
                changed = true;
            }
        }
    }
    for w in &teachings {
        if !current_teachings.iter().any(|t| t.value.unit == w.unit && t.value.subject == w.subject) {
            writes.insert(w)?;
            changed = true;
        }
    }

    // The account follows its affiliations: none left disables it; an account disabled for having none
    // comes back with one (an account the source disabled itself waits for its user record).
    let disabled = matches!(user.state, AccountState::Disabled { .. });
    let mut deactivated = false;
    if user.affiliations.is_empty() && !old.value.affiliations.is_empty() && !disabled {
        user.state = AccountState::Disabled { since: now };
        deactivated = true;
    } else if disabled && old.value.affiliations.is_empty() && !user.affiliations.is_empty() {
        out.code = enable(tx, writes, &mut user, now, options).await?;
    }
    if user != old.value {
        writes.update(old.version, &user)?;
        changed = true;
    }
    if changed {
        writes.bump_user(user.id);
    }
    out.moved = left_class && joined_class;
    out.outcome = Some(match (deactivated, changed) {
        (true, _) => Outcome::Deactivated,
        (false, true) => Outcome::Updated,
        (false, false) => Outcome::Unchanged,
    });
    Ok(out)
}

/// Empties the classes and groups the feed deletes: their memberships and teaching assignments of their year
/// go; the unit stays, with what belongs to it (grades, the cahier de textes), as a full feed leaves a class
/// it no longer names.
async fn apply_deleted_units(
    store: &dyn Store,
    batch: &Batch,
    dry_run: bool,
    ids: &Ids,
    report: &mut Report,
) -> Result<()> {
    let max_ops = store.limits().max_batch_ops;
    for key in &batch.deleted_units {
        let done = write(store, dry_run, |tx| {
            Box::pin(async move {
                let source = batch.source.as_str();
                let class = match ids.classes.get(key) {
                    Some((id, _)) => tx.get_record::<Class>(*id).await?,
                    None => by_source::<Class>(tx, source, key).await?,
                };
                let unit = match class {
                    Some(c) => Some((Unit::Class(c.value.id), c.value.year)),
                    None => {
                        let group = match ids.groups.get(key) {
                            Some((id, _)) => tx.get_record::<Group>(*id).await?,
                            None => by_source::<Group>(tx, source, key).await?,
                        };
                        group.map(|g| (Unit::Group(g.value.id), g.value.year))
                    }
                };
                let Some((unit, year)) = unit else { return Ok(None) };
                let mut writes = Writes::default();
                let mut users = BTreeSet::new();
                let prefix = (unit.uuid(), i64::from(year.0));
                let mut cursor = None;
                loop {
                    let scan = Scan::primary(Membership::COLLECTION).prefix(prefix).limit(1000).after(cursor);
                    let (page, next) = tx.scan_records::<Membership>(&scan).await?;
                    for m in page {
                        writes.delete::<Membership>(m.value.id(), m.version);
                        users.insert(m.value.user);
                    }
                    match next {
                        Some(n) => cursor = Some(n),
                        None => break,
                    }
                }
                let mut cursor = None;
                loop {
                    let scan = Scan::primary(Teaching::COLLECTION).prefix(prefix).limit(1000).after(cursor);
                    let (page, next) = tx.scan_records::<Teaching>(&scan).await?;
                    for t in page {
                        writes.delete::<Teaching>(t.value.id(), t.version);
                        users.insert(t.value.teacher);
                    }
                    match next {
                        Some(n) => cursor = Some(n),
                        None => break,
                    }
                }
                let emptied = !writes.ops.is_empty();
                for u in users {
                    writes.bump_user(u);
                }
                writes.send(tx, max_ops).await?;
                Ok(Some(emptied))
            })
        })
        .await?;
        match done {
            None => report.reject("class", key, "deleted by the feed but unknown here"),
            Some(true) => report.updated += 1,
            Some(false) => report.unchanged += 1,
        }
    }
    Ok(())
}

/// Disables an account now (it is deleted after the retention delay by a job).
async fn disable(tx: &mut dyn Transaction, user: Versioned<User>, now: DateTime<Utc>) -> Result<bool> {
    if matches!(user.value.state, AccountState::Disabled { .. }) {
        return Ok(false);
    }
    let mut u = user.value;
    u.state = AccountState::Disabled { since: now };
    tx.update_record(user.version, &u).await?;
    rights::version::bump_user(tx, u.id).await?;
    Ok(true)
}

async fn apply_deletions(
    store: &dyn Store,
    batch: &Batch,
    now: DateTime<Utc>,
    dry_run: bool,
    report: &mut Report,
) -> Result<()> {
    for key in &batch.deleted_people {
        let done = write(store, dry_run, |tx| {
            Box::pin(async move {
                match by_source::<User>(tx, &batch.source, key).await? {
                    None => Ok(None),
                    Some(u) => disable(tx, u, now).await.map(Some),
                }
            })
        })
        .await?;
        match done {
            None => report.reject("person", key, "deleted by the feed but unknown here"),
            Some(true) => report.deactivated += 1,
            Some(false) => report.unchanged += 1,
        }
    }
    Ok(())
}

/// For a full batch: people of a covered structure whom the batch does not name lose their affiliation
/// there; accounts left with none are disabled. Held per structure above the threshold.
async fn deactivate_missing(
    store: &dyn Store,
    batch: &Batch,
    structures: &[String],
    now: DateTime<Utc>,
    options: &ApplyOptions,
    ids: &Ids,
    report: &mut Report,
) -> Result<()> {
    let named: HashSet<UserId> = ids.people.values().copied().collect();
    // People whose record was rejected are not "missing": keep them as they are.
    let mut rejected: HashSet<String> =
        report.rejected.iter().filter(|r| r.kind == "person").map(|r| r.key.clone()).collect();
    // So are the people whose record a parser refused before the batch was built.
    rejected.extend(batch.refused_people.iter().cloned());
    let trust_people_phase = batch.changes.is_empty() && batch.deleted_people.is_empty();
    for key in structures {
        let structure = {
            let mut tx = store.begin(TxMode::ReadOnly).await?;
            structure_id(&mut *tx, &batch.source, key, ids).await?
        };
        let Some(structure) = structure else {
            report.reject("structure", key, "a full feed covers a structure that is unknown");
            continue;
        };
        // Everyone affiliated to the structure, by pages.
        let mut missing = Vec::new();
        let mut seen = HashSet::new();
        let mut total = 0u64;
        let mut cursor = None;
        loop {
            let mut tx = store.begin(TxMode::ReadOnly).await?;
            let scan = Scan::index(User::COLLECTION, "by_structure")
                .prefix((structure.0,))
                .limit(1000)
                .after(cursor)
                .keys_only();
            let page = tx.scan(&scan).await?;
            let ids_page = page.entries.iter().filter_map(|e| match e.id.elements().first() {
                Some(ent_core::storage::Element::Uuid(u)) => Some(UserId(*u)),
                _ => None,
            });
            // The people this batch applied are not missing, and the people phase knows whether it left
            // them enabled: only the others' records are read (on a first load or an unchanged re-import,
            // none; reading them all was 8% of an académie's load). Unless a later phase (changes,
            // deletions) may have disabled some: then every record is read.
            let mut unknown = Vec::new();
            // A person with two profiles in the structure has two keys there: counted once.
            for id in ids_page.filter(|id| seen.insert(*id)) {
                match named.contains(&id) && trust_people_phase {
                    true => total += u64::from(ids.enabled.contains(&id)),
                    false => unknown.push(id),
                }
            }
            for u in ent_core::directory::query::users(&mut *tx, &unknown).await? {
                if matches!(u.state, AccountState::Disabled { .. }) {
                    continue;
                }
                total += 1;
                let from_this_feed = u.sources.iter().find(|s| s.source == batch.source);
                let Some(source_key) = from_this_feed else { continue };
                if !named.contains(&u.id) && !rejected.contains(&source_key.key) {
                    missing.push(u.id);
                }
            }
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        if missing.is_empty() {
            continue;
        }
        let share = missing.len() as f64 / total.max(1) as f64;
        if share > options.mass_deactivation_threshold && !options.confirm_mass_deactivation {
            report.held.push(Held { structure: key.clone(), would_deactivate: missing.len() as u64, of: total });
            continue;
        }
        for part in missing.chunks(options.chunk.max(1)) {
            let n = write(store, options.dry_run, |tx| {
                Box::pin(async move {
                    let mut n = 0u64;
                    for id in part {
                        let Some(u) = tx.get_record::<User>(*id).await? else { continue };
                        let mut user = u.value.clone();
                        user.affiliations.retain(|a| a.structure != structure);
                        if user.affiliations.is_empty() {
                            if disable(tx, u, now).await? {
                                n += 1;
                            }
                        } else {
                            tx.update_record(u.version, &user).await?;
                            rights::version::bump_user(tx, user.id).await?;
                        }
                    }
                    Ok(n)
                })
            })
            .await?;
            report.deactivated += n;
        }
    }
    Ok(())
}
