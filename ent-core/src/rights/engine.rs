//! The rights engine: compiles users' effective rights, caches them, keeps the cache true across portal
//! instances by comparing rights versions on every call, answers the [`Authorizer`] check, audits staff
//! reads of pupils' data through the batching appender, and explains decisions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;

use super::audit_log::AuditAppender;
use super::compiled::{self, EffectiveRights, Source};
use super::guard::{self, PupilFacts, Relation};
use super::version;
use crate::audit::AuditEntry;
use crate::authorize::Authorizer;
use crate::caller::Caller;
use crate::clock::Clock;
use crate::directory::{ParentLink, Profile, SchoolYear};
use crate::module::Registry;
use crate::storage::{Store, TxExt, TxMode};
use crate::{Error, Result, StructureId, SubjectId, UserId};

/// The rights engine. Plug it into an assembly with [`crate::EntBuilder::authorizer`]; keep a clone of the
/// `Arc` to call [`RightsEngine::flush`] before shutdown.
///
/// ```no_run
/// # async fn demo(store: std::sync::Arc<dyn ent_core::storage::Store>) -> ent_core::Result<()> {
/// use std::sync::Arc;
/// use ent_core::clock::SystemClock;
/// use ent_core::rights::RightsEngine;
/// let engine = RightsEngine::new(store.clone(), Arc::new(SystemClock));
/// let ent = ent_core::Ent::builder(store).authorizer(engine.clone()).build().await?;
/// // ... serve ...
/// engine.flush().await?; // the audit entries still queued are durable
/// # let _ = ent; Ok(()) }
/// ```
pub struct RightsEngine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cache: RwLock<HashMap<UserId, Arc<EffectiveRights>>>,
    max_cached: usize,
    audit: AuditAppender,
    compilations: AtomicU64,
}

impl std::fmt::Debug for RightsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RightsEngine").field("store", &self.store.adapter()).finish_non_exhaustive()
    }
}

/// Why a user holds or lacks a workflow right in a structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The user.
    pub user: UserId,
    /// The structure.
    pub structure: StructureId,
    /// The right.
    pub right: String,
    /// Whether it is held.
    pub held: bool,
    /// Every grant that gives it (empty when not held).
    pub sources: Vec<Source>,
    /// Why not, when not held (and defaults withdrawn, when held through another grant).
    pub denials: Vec<Denial>,
}

/// A reason a right is not held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Denial {
    /// No module declares the right.
    UnknownRight,
    /// The account is disabled (or does not exist).
    Disabled,
    /// The user has no profile in the structure and is not a central administrator.
    NotInStructure,
    /// A profile of the user holds it by default, but the structure withdrew that default.
    Withdrawn {
        /// The profile.
        profile: Profile,
    },
    /// No default and no granted role gives it.
    NoGrant,
}

/// Why a user may or may not read a pupil's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PupilExplanation {
    /// The relation found, if any.
    pub relation: Option<Relation>,
    /// Why not, when none.
    pub denial: Option<PupilDenial>,
}

/// A reason a user has no relation to a pupil.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PupilDenial {
    /// The account is disabled.
    Disabled,
    /// A responsable link exists, but without legal responsibility or parental authority.
    LinkWithoutAuthority {
        /// A responsable légal.
        legal: bool,
        /// With parental authority.
        authority: bool,
    },
    /// No relation: not their child, class, subject or structure.
    NoRelation,
}

impl RightsEngine {
    /// An engine over `store`, with an audit appender flushing every second (spawned on the current
    /// tokio runtime).
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Arc<RightsEngine> {
        Self::with_audit(store, clock, 10_000, Duration::from_secs(1))
    }

    /// An engine whose audit appender queues up to `capacity` entries and flushes at most `interval`
    /// after an entry arrives.
    pub fn with_audit(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        capacity: usize,
        interval: Duration,
    ) -> Arc<RightsEngine> {
        let audit = AuditAppender::spawn(store.clone(), capacity, interval);
        Arc::new(RightsEngine {
            store,
            clock,
            cache: RwLock::new(HashMap::new()),
            max_cached: 200_000,
            audit,
            compilations: AtomicU64::new(0),
        })
    }

    /// The audit appender (for modules' own audited reads).
    pub fn audit(&self) -> &AuditAppender {
        &self.audit
    }

    /// Makes every queued audit entry durable: call before shutdown.
    pub async fn flush(&self) -> Result<()> {
        self.audit.flush().await
    }

    /// How many times a user's directory facts were compiled since start (to observe the cache).
    pub fn compilations(&self) -> u64 {
        self.compilations.load(Ordering::Relaxed)
    }

    /// The current school year, by the engine's clock.
    pub fn year(&self) -> SchoolYear {
        SchoolYear::containing(self.clock.now().date_naive())
    }

    /// The effective rights of `user`, true as of this call for `structure`: the cached ones if the user's
    /// and the structure's rights versions have not moved since they were compiled, otherwise compiled
    /// again (the facts if the user changed, the structure's workflow rights if its grants changed).
    pub async fn rights(
        &self,
        registry: &Registry,
        user: UserId,
        structure: StructureId,
    ) -> Result<Arc<EffectiveRights>> {
        let cached = self.cache.read().unwrap_or_else(|p| p.into_inner()).get(&user).cloned();
        let year = self.year();
        let mut tx = self.store.begin(TxMode::ReadOnly).await?;
        let user_version = version::user(&mut *tx, user).await?;
        let structure_version = version::structure(&mut *tx, structure).await?;
        let facts_fresh = |c: &EffectiveRights| c.facts.version == user_version && c.facts.year == year;
        if let Some(c) = &cached
            && facts_fresh(c)
            && c.workflow.get(&structure).is_some_and(|w| w.version == structure_version)
        {
            return Ok(c.clone());
        }
        let (facts, mut workflow) = match cached {
            Some(c) if facts_fresh(&c) => (c.facts.clone(), c.workflow.clone()),
            _ => {
                self.compilations.fetch_add(1, Ordering::Relaxed);
                let facts = Arc::new(compiled::load_facts(&mut *tx, user, year, user_version).await?);
                let mut workflow = HashMap::new();
                // The user's own structures at once: a session moves between them.
                let own: Vec<StructureId> = facts.structures.keys().copied().collect();
                for s in own {
                    let v = version::structure(&mut *tx, s).await?;
                    let policy = compiled::load_policy(&mut *tx, s).await?;
                    workflow.insert(s, Arc::new(compiled::workflow(registry, &facts, s, &policy, v)));
                }
                (facts, workflow)
            }
        };
        if workflow.get(&structure).is_none_or(|w| w.version != structure_version) {
            let policy = compiled::load_policy(&mut *tx, structure).await?;
            let set = compiled::workflow(registry, &facts, structure, &policy, structure_version);
            workflow.insert(structure, Arc::new(set));
        }
        let rights = Arc::new(EffectiveRights { facts, workflow });
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.max_cached && !cache.contains_key(&user) {
            // A crude bound: sessions recompile on their next call, which is correct, only slower.
            cache.clear();
        }
        cache.insert(user, rights.clone());
        Ok(rights)
    }

    /// The effective rights of a user caller in the structure they act in.
    pub async fn rights_of(&self, registry: &Registry, caller: &Caller) -> Result<Arc<EffectiveRights>> {
        match caller {
            Caller::User(u) => self.rights(registry, u.user, u.structure).await,
            Caller::System(_) => Err(Error::invalid("caller", "a system caller has no effective rights")),
        }
    }

    /// Checks that `caller` may read a pupil's data (in `subject`, when given) and returns the relation
    /// that allows it. Reads by staff (every relation but the pupil's own and their responsables') are
    /// appended to the audit log, off the request path. A system caller's scope was checked by the
    /// workflow right of its action; it reads without a relation and is not audited here.
    pub async fn read_pupil(
        &self,
        registry: &Registry,
        caller: &Caller,
        pupil: &PupilFacts,
        subject: Option<SubjectId>,
    ) -> Result<Option<Relation>> {
        if caller.is_system() {
            return Ok(None);
        }
        let rights = self.rights_of(registry, caller).await?;
        let Some(relation) = guard::relation(&rights, pupil, subject) else {
            return Err(Error::forbidden(format!("relation to pupil {}", pupil.pupil)));
        };
        if relation.is_staff_read() {
            let entry = AuditEntry::new(
                self.clock.now(),
                caller,
                "pupil.read",
                &format!("pupil:{}", pupil.pupil),
                pupil.structures.first().copied(),
                json!({ "relation": relation, "subject": subject }),
            );
            self.audit.append(entry).await?;
        }
        Ok(Some(relation))
    }

    /// [`RightsEngine::read_pupil`] for many pupils at once (a class's grid): the caller's rights are read
    /// once, every pupil must have a relation ([`Error::Forbidden`] naming the first that has none, and
    /// nothing is audited then), and each staff read is appended to the audit log, one entry per pupil.
    /// The module passes the facts it already holds (the pupils of a class it read).
    pub async fn read_pupils(
        &self,
        registry: &Registry,
        caller: &Caller,
        pupils: &[PupilFacts],
        subject: Option<SubjectId>,
    ) -> Result<Vec<Option<Relation>>> {
        if caller.is_system() {
            return Ok(vec![None; pupils.len()]);
        }
        let rights = self.rights_of(registry, caller).await?;
        let mut relations = Vec::with_capacity(pupils.len());
        for pupil in pupils {
            match guard::relation(&rights, pupil, subject) {
                Some(relation) => relations.push(relation),
                None => return Err(Error::forbidden(format!("relation to pupil {}", pupil.pupil))),
            }
        }
        let now = self.clock.now();
        for (pupil, relation) in pupils.iter().zip(&relations) {
            if relation.is_staff_read() {
                let entry = AuditEntry::new(
                    now,
                    caller,
                    "pupil.read",
                    &format!("pupil:{}", pupil.pupil),
                    pupil.structures.first().copied(),
                    json!({ "relation": relation, "subject": subject }),
                );
                self.audit.append(entry).await?;
            }
        }
        Ok(relations.into_iter().map(Some).collect())
    }

    /// Why `user` holds or lacks `right` in `structure`: every grant that gives it, or what is missing.
    pub async fn explain(
        &self,
        registry: &Registry,
        user: UserId,
        structure: StructureId,
        right: &str,
    ) -> Result<Explanation> {
        let mut out = Explanation {
            user,
            structure,
            right: right.to_owned(),
            held: false,
            sources: Vec::new(),
            denials: Vec::new(),
        };
        let Some(decl) = registry.right(right) else {
            out.denials.push(Denial::UnknownRight);
            return Ok(out);
        };
        let mut tx = self.store.begin(TxMode::ReadOnly).await?;
        let facts = compiled::load_facts(&mut *tx, user, self.year(), 0).await?;
        if !facts.active {
            out.denials.push(Denial::Disabled);
            return Ok(out);
        }
        if !facts.present_in(structure) {
            out.denials.push(Denial::NotInStructure);
            return Ok(out);
        }
        let policy = compiled::load_policy(&mut *tx, structure).await?;
        out.sources = compiled::sources(registry, &facts, structure, &policy)
            .into_iter()
            .filter(|(r, _)| r == right)
            .map(|(_, s)| s)
            .collect();
        out.held = !out.sources.is_empty();
        for p in facts.profiles_in(structure) {
            if decl.default_grants.contains(&p) && policy.withdrawals.contains(&(right.to_owned(), p)) {
                out.denials.push(Denial::Withdrawn { profile: p });
            }
        }
        if !out.held && out.denials.is_empty() {
            out.denials.push(Denial::NoGrant);
        }
        Ok(out)
    }

    /// Why `user`, acting in `structure`, may or may not read a pupil's data (in `subject`, when given).
    pub async fn explain_pupil(
        &self,
        registry: &Registry,
        user: UserId,
        structure: StructureId,
        pupil: &PupilFacts,
        subject: Option<SubjectId>,
    ) -> Result<PupilExplanation> {
        let rights = self.rights(registry, user, structure).await?;
        if let Some(relation) = guard::relation(&rights, pupil, subject) {
            return Ok(PupilExplanation { relation: Some(relation), denial: None });
        }
        if !rights.is_active() {
            return Ok(PupilExplanation { relation: None, denial: Some(PupilDenial::Disabled) });
        }
        let mut tx = self.store.begin(TxMode::ReadOnly).await?;
        let denial = match tx.get_record::<ParentLink>((user.0, pupil.pupil.0)).await? {
            Some(link) => {
                PupilDenial::LinkWithoutAuthority { legal: link.value.legal, authority: link.value.authority }
            }
            None => PupilDenial::NoRelation,
        };
        Ok(PupilExplanation { relation: None, denial: Some(denial) })
    }
}

#[async_trait]
impl Authorizer for RightsEngine {
    async fn authorize(&self, registry: &Registry, caller: &Caller, right: &str) -> Result<()> {
        if registry.right(right).is_none() {
            return Err(Error::forbidden(right));
        }
        let held = match caller {
            Caller::System(system) => system.scope.covers(right),
            Caller::User(u) => self.rights(registry, u.user, u.structure).await?.holds(u.structure, right),
        };
        if held { Ok(()) } else { Err(Error::forbidden(right)) }
    }

    fn as_engine(&self) -> Option<&RightsEngine> {
        Some(self)
    }
}
