//! What administrators do with rights: make roles, grant and revoke them per structure, withdraw and
//! restore the manifests' default grants, list who holds a right, explain a decision, read the audit log.
//!
//! These are methods of [`RightsAdmin`] (from [`crate::Ent::rights`]) rather than SDK actions of a core
//! module, because the SDK's one rights check runs before the transaction against the structure the caller
//! acts in, while an administrator's operation is checked against the structure it *targets* (a local
//! administrator of two collèges acts in either; a central administrator in all), and because a refused
//! attempt must itself be audited, which a failing action cannot do (its transaction rolls back, audit
//! entry included). [`RightsAdmin::apply_json`] gives the HTTP layer the same operations from JSON.
//!
//! Every operation is checked (the workflow right `ent.rights.manage` or `ent.audit.read` held in the
//! target structure, which only that structure's local administrators and central administrators hold by
//! default), validated (typed errors: [`Error::NotFound`], [`Error::UnknownRight`], [`Error::Invalid`],
//! [`Error::Forbidden`]), and audited: a change in its own transaction, with the structure's rights version
//! bumped; a refusal in a transaction of its own, after nothing was changed.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::compiled::{self};
use super::engine::{Explanation, PupilExplanation, RightsEngine};
use super::guard::PupilFacts;
use super::roles::{Grant, Grantee, Role, Withdrawal};
use super::version;
use crate::audit::{self, AUDIT, AuditEntry};
use crate::caller::Caller;
use crate::directory::{Class, Group, Profile, Structure, User};
use crate::ent::Runtime;
use crate::storage::{Record, Scan, Transaction, TxExt, TxMode};
use crate::{Error, Result, RoleId, StructureId, SubjectId, UserId};

/// The right to manage roles and grants in a structure (local and central administrators by default).
pub const MANAGE: &str = "ent.rights.manage";

/// The right to read a structure's audit log (local and central administrators by default).
pub const AUDIT_READ: &str = "ent.audit.read";

/// Administrators' operations on rights. Obtained from [`crate::Ent::rights`].
pub struct RightsAdmin<'a> {
    pub(crate) rt: &'a Runtime,
    pub(crate) engine: &'a RightsEngine,
}

impl std::fmt::Debug for RightsAdmin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RightsAdmin").finish_non_exhaustive()
    }
}

/// Who holds a right in a structure, and through what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holders {
    /// The structure.
    pub structure: StructureId,
    /// The right.
    pub right: String,
    /// The profiles holding it by default there (withdrawn defaults left out).
    pub default_profiles: Vec<Profile>,
    /// The grants of roles containing it: (role, role name, grantee).
    pub grants: Vec<(RoleId, String, Grantee)>,
    /// The people of the structure who hold it, checked one by one against the same rule as the engine
    /// (active accounts only; central administrators, who hold what `AdminCentral` holds everywhere,
    /// are listed only if affiliated to the structure or granted there by name).
    pub users: Vec<UserId>,
}

/// A query of the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Entries about this structure (a local administrator's own structure when `None`, for them).
    pub structure: Option<StructureId>,
    /// Entries about this target (`pupil:<id>`, `rights.grant@<structure>`...).
    pub target: Option<String>,
    /// Entries of this actor.
    pub actor: Option<UserId>,
    /// Entries at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// At most this many entries (newest first); 100 when 0.
    pub limit: usize,
}

/// An administrator's operation as JSON, for [`RightsAdmin::apply_json`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminRequest {
    /// [`RightsAdmin::create_role`].
    CreateRole {
        /// `None` for an ent-wide role.
        #[serde(default)]
        structure: Option<StructureId>,
        /// Its name.
        name: String,
        /// Its description.
        #[serde(default)]
        description: String,
        /// Its rights.
        rights: Vec<String>,
    },
    /// [`RightsAdmin::grant`].
    Grant {
        /// The structure.
        structure: StructureId,
        /// The role.
        role: RoleId,
        /// `kind:key`, see [`Grantee`]'s `FromStr`.
        grantee: String,
    },
    /// [`RightsAdmin::revoke`].
    Revoke {
        /// The structure.
        structure: StructureId,
        /// The role.
        role: RoleId,
        /// `kind:key`.
        grantee: String,
    },
    /// [`RightsAdmin::withdraw_default`].
    Withdraw {
        /// The structure.
        structure: StructureId,
        /// The right.
        right: String,
        /// The profile (`eleve`, `National_ELV`...).
        profile: String,
    },
    /// [`RightsAdmin::restore_default`].
    Restore {
        /// The structure.
        structure: StructureId,
        /// The right.
        right: String,
        /// The profile.
        profile: String,
    },
}

impl AdminRequest {
    fn structure(&self) -> Option<StructureId> {
        match self {
            AdminRequest::CreateRole { structure, .. } => *structure,
            AdminRequest::Grant { structure, .. }
            | AdminRequest::Revoke { structure, .. }
            | AdminRequest::Withdraw { structure, .. }
            | AdminRequest::Restore { structure, .. } => Some(*structure),
        }
    }
}

fn target(op: &str, structure: Option<StructureId>) -> String {
    match structure {
        Some(s) => format!("{op}@{s}"),
        None => format!("{op}@*"),
    }
}

impl RightsAdmin<'_> {
    /// Checks that `caller` holds `right` in `structure` (for `None`, that they are a central
    /// administrator). A system caller needs a scope covering `right`, and its structure if it has one.
    async fn authorize(&self, caller: &Caller, structure: Option<StructureId>, right: &str) -> Result<()> {
        let allowed = match caller {
            Caller::System(s) => s.scope.covers(right) && (s.structure.is_none() || s.structure == structure),
            Caller::User(u) => {
                let s = structure.unwrap_or(u.structure);
                let rights = self.engine.rights(&self.rt.registry, u.user, s).await?;
                rights.holds(s, right) && (structure.is_some() || rights.is_central_admin())
            }
        };
        if allowed { Ok(()) } else { Err(Error::forbidden(right)) }
    }

    /// Audits a refused attempt in a transaction of its own, and returns the error.
    async fn refused(
        &self,
        caller: &Caller,
        op: &str,
        structure: Option<StructureId>,
        details: Value,
        err: Error,
    ) -> Error {
        let entry = AuditEntry::new(
            self.rt.clock.now(),
            caller,
            "rights.refused",
            &target(op, structure),
            structure,
            json!({ "operation": op, "request": details, "error": err.to_string() }),
        );
        let written = crate::storage::retry::transact(&*self.rt.store, TxMode::ReadWrite, |tx| {
            let entry = entry.clone();
            Box::pin(async move { tx.insert_record(&entry).await.map(|_| ()) })
        })
        .await;
        match written {
            Ok(()) => err,
            // The refusal stands; failing to audit it is reported rather than hidden.
            Err(audit_error) => audit_error,
        }
    }

    async fn structure_exists(tx: &mut dyn Transaction, structure: StructureId) -> Result<()> {
        match tx.get_record::<Structure>(structure).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found(Structure::COLLECTION, structure)),
        }
    }

    /// Runs a change: authorize, then `body` in a transaction that also writes the audit entry and bumps
    /// the structure's rights version (run again on a serialization conflict); on any error, audits the
    /// refusal.
    async fn change<T: Serialize>(
        &self,
        caller: &Caller,
        op: &str,
        structure: Option<StructureId>,
        details: Value,
        body: impl AsyncFn(&mut dyn Transaction) -> Result<T>,
    ) -> Result<T> {
        if let Err(e) = self.authorize(caller, structure, MANAGE).await {
            return Err(self.refused(caller, op, structure, details, e).await);
        }
        let rt = self.rt;
        let mut attempt = 0;
        let result = loop {
            attempt += 1;
            let result: Result<T> = async {
                let mut tx = rt.store.begin(TxMode::ReadWrite).await?;
                if let Some(s) = structure {
                    Self::structure_exists(&mut *tx, s).await?;
                }
                let out = body(&mut *tx).await?;
                if let Some(s) = structure {
                    version::bump_structure(&mut *tx, s).await?;
                }
                let mut details = details.clone();
                details["result"] = serde_json::to_value(&out).unwrap_or(Value::Null);
                let action = format!("rights.{op}");
                audit::record_in(rt, &mut *tx, caller, &action, &target(op, structure), structure, details).await?;
                tx.commit().await?;
                Ok(out)
            }
            .await;
            match result {
                Err(e) if e.is_retryable() && attempt < rt.retry.max_attempts => continue,
                other => break other,
            }
        };
        match result {
            Ok(out) => Ok(out),
            Err(e) => Err(self.refused(caller, op, structure, details, e).await),
        }
    }

    fn check_rights(&self, rights: &[String]) -> Result<()> {
        if rights.is_empty() {
            return Err(Error::invalid("role.rights", "a role bundles at least one right"));
        }
        match rights.iter().find(|r| self.rt.registry.right(r).is_none()) {
            Some(r) => Err(Error::UnknownRight { right: r.clone() }),
            None => Ok(()),
        }
    }

    /// Makes a role for `structure` (`None`: an ent-wide role, central administrators only). Every right
    /// must be declared by a module ([`Error::UnknownRight`]); the name must be free ([`Error::Duplicate`]).
    pub async fn create_role(
        &self,
        caller: &Caller,
        structure: Option<StructureId>,
        name: &str,
        description: &str,
        rights: Vec<String>,
    ) -> Result<RoleId> {
        let details = json!({ "name": name, "rights": rights });
        let checked = if name.trim().is_empty() {
            Err(Error::invalid("role.name", "a role has a name"))
        } else {
            self.check_rights(&rights)
        };
        if let Err(e) = checked {
            return Err(self.refused(caller, "create_role", structure, details, e).await);
        }
        let role = Role {
            id: RoleId::new(),
            structure,
            name: name.trim().to_owned(),
            description: description.into(),
            rights,
        };
        self.change(caller, "create_role", structure, details, async |tx: &mut dyn Transaction| {
            tx.insert_record(&role).await?;
            Ok(role.id)
        })
        .await
    }

    /// The roles a structure may grant: its own and the ent-wide ones.
    pub async fn roles(&self, caller: &Caller, structure: StructureId) -> Result<Vec<Role>> {
        if let Err(e) = self.authorize(caller, Some(structure), MANAGE).await {
            return Err(self.refused(caller, "roles", Some(structure), json!({}), e).await);
        }
        let mut tx = self.rt.store.begin(TxMode::ReadOnly).await?;
        let mut out = Vec::new();
        for owner in [structure.0, uuid::Uuid::nil()] {
            let scan = Scan::index(Role::COLLECTION, "by_name").prefix((owner,)).limit(1000);
            out.extend(tx.scan_records::<Role>(&scan).await?.0.into_iter().map(|r| r.value));
        }
        Ok(out)
    }

    /// Grants a role to a profile, function, group, class or user within a structure. The structure, the
    /// role (its own or ent-wide), the group or class (of that structure) and the user must exist.
    /// Granting twice is harmless.
    pub async fn grant(&self, caller: &Caller, structure: StructureId, role: RoleId, grantee: Grantee) -> Result<()> {
        let details = json!({ "role": role, "grantee": grantee.to_string() });
        let at = self.rt.clock.now();
        self.change(caller, "grant", Some(structure), details, async |tx: &mut dyn Transaction| {
            let grantee = grantee.clone();
            {
                let Some(r) = tx.get_record::<Role>(role).await? else {
                    return Err(Error::not_found(Role::COLLECTION, role));
                };
                if r.value.structure.is_some_and(|s| s != structure) {
                    return Err(Error::invalid(
                        "role",
                        format!("role `{}` belongs to another structure", r.value.name),
                    ));
                }
                match &grantee {
                    Grantee::Group(g) => match tx.get_record::<Group>(*g).await? {
                        Some(group) if group.value.structure == structure => {}
                        Some(_) => return Err(Error::invalid("grantee", "the group belongs to another structure")),
                        None => return Err(Error::not_found(Group::COLLECTION, g)),
                    },
                    Grantee::Class(c) => match tx.get_record::<Class>(*c).await? {
                        Some(class) if class.value.structure == structure => {}
                        Some(_) => return Err(Error::invalid("grantee", "the class belongs to another structure")),
                        None => return Err(Error::not_found(Class::COLLECTION, c)),
                    },
                    Grantee::User(u) => {
                        if tx.get_record::<User>(*u).await?.is_none() {
                            return Err(Error::not_found(User::COLLECTION, u));
                        }
                    }
                    Grantee::Profile(_) | Grantee::Function(_) => {}
                }
                let grant = Grant { structure, role, grantee, granted_by: caller.clone(), at };
                if tx.get_record::<Grant>(grant.id()).await?.is_none() {
                    tx.insert_record(&grant).await?;
                }
                Ok(())
            }
        })
        .await
    }

    /// Revokes a grant. Returns whether it existed.
    pub async fn revoke(
        &self,
        caller: &Caller,
        structure: StructureId,
        role: RoleId,
        grantee: Grantee,
    ) -> Result<bool> {
        let details = json!({ "role": role, "grantee": grantee.to_string() });
        let (kind, key) = grantee.key();
        self.change(caller, "revoke", Some(structure), details, async |tx: &mut dyn Transaction| {
            tx.delete_record::<Grant>((structure.0, role.0, kind, key.as_str()), None).await
        })
        .await
    }

    /// Withdraws, in one structure, a manifest's default grant of `right` to `profile` (messaging for
    /// pupils...). The right must exist and grant `profile` by default.
    pub async fn withdraw_default(
        &self,
        caller: &Caller,
        structure: StructureId,
        right: &str,
        profile: Profile,
    ) -> Result<()> {
        let details = json!({ "right": right, "profile": profile });
        let checked = match self.rt.registry.right(right) {
            None => Err(Error::UnknownRight { right: right.to_owned() }),
            Some(d) if !d.default_grants.contains(&profile) => Err(Error::invalid(
                "profile",
                format!("`{right}` is not granted to `{profile}` by default: nothing to withdraw"),
            )),
            Some(_) => Ok(()),
        };
        if let Err(e) = checked {
            return Err(self.refused(caller, "withdraw", Some(structure), details, e).await);
        }
        let w = Withdrawal { structure, right: right.to_owned(), profile, by: caller.clone(), at: self.rt.clock.now() };
        self.change(caller, "withdraw", Some(structure), details, async |tx: &mut dyn Transaction| {
            if tx.get_record::<Withdrawal>(w.id()).await?.is_none() {
                tx.insert_record(&w).await?;
            }
            Ok(())
        })
        .await
    }

    /// Gives a withdrawn default grant back. Returns whether it was withdrawn.
    pub async fn restore_default(
        &self,
        caller: &Caller,
        structure: StructureId,
        right: &str,
        profile: Profile,
    ) -> Result<bool> {
        let details = json!({ "right": right, "profile": profile });
        if self.rt.registry.right(right).is_none() {
            let e = Error::UnknownRight { right: right.to_owned() };
            return Err(self.refused(caller, "restore", Some(structure), details, e).await);
        }
        self.change(caller, "restore", Some(structure), details, async |tx: &mut dyn Transaction| {
            tx.delete_record::<Withdrawal>((structure.0, right, profile.as_str()), None).await
        })
        .await
    }

    /// Who holds `right` in `structure`, and through which defaults and grants. Audited.
    pub async fn holders(&self, caller: &Caller, structure: StructureId, right: &str) -> Result<Holders> {
        let details = json!({ "right": right });
        let result = async {
            self.authorize(caller, Some(structure), MANAGE).await?;
            let Some(decl) = self.rt.registry.right(right) else {
                return Err(Error::UnknownRight { right: right.to_owned() });
            };
            let mut tx = self.rt.store.begin(TxMode::ReadOnly).await?;
            Self::structure_exists(&mut *tx, structure).await?;
            let policy = compiled::load_policy(&mut *tx, structure).await?;
            let default_profiles: Vec<Profile> = decl
                .default_grants
                .iter()
                .copied()
                .filter(|p| !policy.withdrawals.contains(&(right.to_owned(), *p)))
                .collect();
            let grants: Vec<(RoleId, String, Grantee)> = policy
                .grants
                .iter()
                .filter_map(|g| {
                    let role = policy.roles.get(&g.role)?;
                    role.rights.iter().any(|r| r == right).then(|| (role.id, role.name.clone(), g.grantee.clone()))
                })
                .collect();
            // Candidates: everyone affiliated to the structure, and users granted by name; each is checked
            // with the engine's own rule.
            let mut candidates: BTreeSet<UserId> = BTreeSet::new();
            let mut cursor = None;
            loop {
                let scan = Scan::index(User::COLLECTION, "by_structure")
                    .prefix((structure.0,))
                    .limit(1000)
                    .after(cursor)
                    .keys_only();
                let page = tx.scan(&scan).await?;
                for e in &page.entries {
                    if let Some(crate::storage::Element::Uuid(u)) = e.id.elements().first() {
                        candidates.insert(UserId(*u));
                    }
                }
                match page.next {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
            candidates.extend(policy.grants.iter().filter_map(|g| match g.grantee {
                Grantee::User(u) => Some(u),
                _ => None,
            }));
            let year = self.engine.year();
            let mut users = Vec::new();
            for u in candidates {
                let facts = compiled::load_facts(&mut *tx, u, year, 0).await?;
                if compiled::sources(&self.rt.registry, &facts, structure, &policy).iter().any(|(r, _)| r == right) {
                    users.push(u);
                }
            }
            Ok(Holders { structure, right: right.to_owned(), default_profiles, grants, users })
        }
        .await;
        self.read_audited(caller, "holders", Some(structure), details, result).await
    }

    /// Audits an administrator's read (through the appender: it changed nothing) or its refusal.
    async fn read_audited<T>(
        &self,
        caller: &Caller,
        op: &str,
        structure: Option<StructureId>,
        details: Value,
        result: Result<T>,
    ) -> Result<T> {
        match result {
            Ok(v) => {
                let entry = AuditEntry::new(
                    self.rt.clock.now(),
                    caller,
                    &format!("rights.{op}"),
                    &target(op, structure),
                    structure,
                    details,
                );
                self.engine.audit().append(entry).await?;
                Ok(v)
            }
            Err(e) => Err(self.refused(caller, op, structure, details, e).await),
        }
    }

    /// Why `user` holds or lacks `right` in `structure`. Audited.
    pub async fn explain(
        &self,
        caller: &Caller,
        user: UserId,
        structure: StructureId,
        right: &str,
    ) -> Result<Explanation> {
        let details = json!({ "user": user, "right": right });
        let result = async {
            self.authorize(caller, Some(structure), MANAGE).await?;
            self.engine.explain(&self.rt.registry, user, structure, right).await
        }
        .await;
        self.read_audited(caller, "explain", Some(structure), details, result).await
    }

    /// Why `user`, acting in `structure`, may or may not read a pupil's data. Audited.
    pub async fn explain_pupil(
        &self,
        caller: &Caller,
        user: UserId,
        structure: StructureId,
        pupil: &PupilFacts,
        subject: Option<SubjectId>,
    ) -> Result<PupilExplanation> {
        let details = json!({ "user": user, "pupil": pupil.pupil, "subject": subject });
        let result = async {
            self.authorize(caller, Some(structure), MANAGE).await?;
            self.engine.explain_pupil(&self.rt.registry, user, structure, pupil, subject).await
        }
        .await;
        self.read_audited(caller, "explain_pupil", Some(structure), details, result).await
    }

    /// Reads the audit log, newest first. Needs `ent.audit.read` in the structure asked for; only central
    /// administrators may read across structures. Audited.
    pub async fn audit_log(&self, caller: &Caller, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let structure = query.structure.or(caller.structure());
        let details = serde_json::to_value(query).unwrap_or(Value::Null);
        let result = async {
            self.authorize(caller, structure, AUDIT_READ).await?;
            let central = match caller {
                Caller::User(u) => self.engine.rights(&self.rt.registry, u.user, u.structure).await?.is_central_admin(),
                Caller::System(s) => s.structure.is_none(),
            };
            // A central administrator without a structure in the query reads everything.
            let only = if central && query.structure.is_none() { None } else { structure };
            let limit = if query.limit == 0 { 100 } else { query.limit.min(10_000) };
            let since = query.since.map(|t| (t,));
            let range = |scan: Scan| match since {
                Some(t) => scan.range(std::ops::Bound::Included(t.into()), std::ops::Bound::Unbounded),
                None => scan,
            };
            let scan = match (&query.target, query.actor, only) {
                (Some(t), _, _) => Scan::index(AUDIT, "by_target").prefix((t.as_str(),)),
                (None, Some(a), _) => Scan::index(AUDIT, "by_actor").prefix((a.0,)),
                (None, None, Some(s)) => Scan::index(AUDIT, "by_structure").prefix((s.0,)),
                (None, None, None) => Scan::index(AUDIT, "by_time"),
            };
            let scan = range(scan).backward().limit(1000);
            let mut tx = self.rt.store.begin(TxMode::ReadOnly).await?;
            let mut out = Vec::new();
            let mut cursor = None;
            loop {
                let (page, next) = tx.scan_records::<AuditEntry>(&scan.clone().after(cursor)).await?;
                for e in page {
                    let e = e.value;
                    let keep = only.is_none_or(|s| e.structure == Some(s))
                        && query.actor.is_none_or(|a| e.actor.user_id() == Some(a))
                        && query.target.as_ref().is_none_or(|t| &e.target == t);
                    if keep {
                        out.push(e);
                        if out.len() == limit {
                            return Ok(out);
                        }
                    }
                }
                match next {
                    Some(n) => cursor = Some(n),
                    None => return Ok(out),
                }
            }
        }
        .await;
        self.read_audited(caller, "audit_read", structure, details, result).await
    }

    /// Runs an operation given as JSON (see [`AdminRequest`]); what the HTTP layer calls. Malformed or
    /// invalid requests (an unknown profile, a grantee that does not parse) are refused with a typed error
    /// and audited like any refusal.
    pub async fn apply_json(&self, caller: &Caller, request: &str) -> Result<Value> {
        let parsed: AdminRequest = match serde_json::from_str(request) {
            Ok(r) => r,
            Err(e) => {
                let err = Error::malformed_json("rights request", &e);
                return Err(self.refused(caller, "request", None, json!({ "request": request }), err).await);
            }
        };
        let structure = parsed.structure();
        let details = serde_json::to_value(&parsed).unwrap_or(Value::Null);
        let parse_profile = |p: &str| p.parse::<Profile>();
        match parsed {
            AdminRequest::CreateRole { structure, name, description, rights } => {
                let id = self.create_role(caller, structure, &name, &description, rights).await?;
                Ok(json!({ "role": id }))
            }
            AdminRequest::Grant { structure, role, grantee } => match grantee.parse::<Grantee>() {
                Ok(g) => self.grant(caller, structure, role, g).await.map(|()| json!({})),
                Err(e) => Err(self.refused(caller, "grant", Some(structure), details, e).await),
            },
            AdminRequest::Revoke { structure, role, grantee } => match grantee.parse::<Grantee>() {
                Ok(g) => self.revoke(caller, structure, role, g).await.map(|existed| json!({ "existed": existed })),
                Err(e) => Err(self.refused(caller, "revoke", Some(structure), details, e).await),
            },
            AdminRequest::Withdraw { structure, right, profile } => match parse_profile(&profile) {
                Ok(p) => self.withdraw_default(caller, structure, &right, p).await.map(|()| json!({})),
                Err(e) => Err(self.refused(caller, "withdraw", Some(structure), details, e).await),
            },
            AdminRequest::Restore { structure: s, right, profile } => match parse_profile(&profile) {
                Ok(p) => self.restore_default(caller, s, &right, p).await.map(|existed| json!({ "existed": existed })),
                Err(e) => Err(self.refused(caller, "restore", structure, details, e).await),
            },
        }
    }
}
