//! [`Accounts`]: logging in and out, first login by activation code, passwords, sessions, the second
//! factor, throttling and external identities, every step audited.
//!
//! Password hashing (argon2id, ~16 ms) never runs inside a transaction: an attempt reads what it needs,
//! hashes, then writes its outcome in a short serializable transaction.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::activation::{ActivationCode, ActivationSecret};
use super::credential::{Credential, TotpState};
use super::identity::{ExternalLink, IdentityProvider};
use super::password::{PasswordPolicy, hash_password, needs_rehash, verify_password};
use super::session::{EPOCHS, ResetCode, Session, SessionInfo};
use super::throttle::{ThrottlePolicy, ThrottleState, Verdict};
use super::token::Token;
use super::totp;
use crate::audit::AuditEntry;
use crate::caller::{Caller, SystemScope};
use crate::clock::Clock;
use crate::directory::{AccountState, Profile, User};
use crate::id::{SessionId, StructureId, UserId};
use crate::storage::{Record, Scan, Store, Transaction, TxExt, TxMode, retry};
use crate::{Error, Result};

/// A hash that no password matches, checked when the login is unknown so that the answer takes the same
/// time as for a known one.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$4bJ0p1HPcWdQsm5rYpAtxHyD4g5rvnGgW4ExGyTaFOk";

/// How accounts behave: the instance's configuration.
#[derive(Debug, Clone)]
pub struct AccountPolicy {
    /// What a password must be.
    pub password: PasswordPolicy,
    /// Login throttling.
    pub throttle: ThrottlePolicy,
    /// A session ends after this long without activity.
    pub session_idle: Duration,
    /// A session ends this long after it was opened, whatever the activity.
    pub session_absolute: Duration,
    /// "Last seen" is written at most this often per session.
    pub touch_interval: Duration,
    /// Profiles that must use a second factor (staff, as the 2024 leaks taught).
    pub totp_required_for: Vec<Profile>,
    /// How long a password-reset code works.
    pub reset_validity: Duration,
    /// How long an administrator's new activation code works.
    pub activation_validity: Duration,
    /// The name authenticator apps show.
    pub issuer: String,
}

impl Default for AccountPolicy {
    fn default() -> Self {
        AccountPolicy {
            password: PasswordPolicy::default(),
            throttle: ThrottlePolicy::default(),
            session_idle: Duration::hours(2),
            session_absolute: Duration::hours(12),
            touch_interval: Duration::minutes(5),
            totp_required_for: vec![Profile::Direction, Profile::AdminLocal, Profile::AdminCentral],
            reset_validity: Duration::hours(1),
            activation_validity: Duration::days(30),
            issuer: "ENT".to_owned(),
        }
    }
}

/// A login attempt.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// The login typed (case and surrounding spaces do not matter).
    pub login: String,
    /// The password typed.
    pub password: String,
    /// A TOTP code or a recovery code, when the account has a second factor.
    pub second_factor: Option<String>,
    /// The client's address (throttling, audit).
    pub address: Option<String>,
    /// The client's user agent (the list of sessions).
    pub user_agent: Option<String>,
    /// The structure to act in, for a person in several (the first otherwise).
    pub structure: Option<StructureId>,
}

/// An opened session: its token (hand it to the client once; it is not stored) and what it is.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The bearer token.
    pub token: Token,
    /// The session.
    pub session: Session,
}

/// A second factor being enrolled.
#[derive(Debug, Clone, PartialEq)]
pub struct TotpEnrollment {
    /// The shared secret, base 32, for typing into an app.
    pub secret: String,
    /// The `otpauth://` URL, for a QR code.
    pub url: String,
}

/// The account service.
#[derive(Debug, Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    policy: Arc<AccountPolicy>,
    providers: Vec<Arc<dyn IdentityProvider>>,
    appender: Option<Arc<crate::rights::AuditAppender>>,
}

fn norm_login(login: &str) -> String {
    login.trim().to_lowercase()
}

fn audit_entry(
    now: DateTime<Utc>,
    actor: Caller,
    action: &str,
    target: String,
    details: serde_json::Value,
) -> AuditEntry {
    let structure = actor.structure();
    AuditEntry { id: uuid::Uuid::now_v7(), at: now, actor, action: action.to_owned(), target, structure, details }
}

fn accounts_actor() -> Caller {
    Caller::system("ent.accounts", SystemScope::rights(["ent.accounts.*"]))
}

fn user_target(user: UserId) -> String {
    format!("user:{user}")
}

async fn user_by_login(tx: &mut dyn Transaction, login: &str) -> Result<Option<crate::storage::Versioned<User>>> {
    let scan = Scan::index(User::COLLECTION, "by_login").prefix((login,)).limit(1);
    Ok(tx.scan_records::<User>(&scan).await?.0.into_iter().next())
}

async fn epoch(tx: &mut dyn Transaction, kind: &str, id: uuid::Uuid) -> Result<i64> {
    tx.counter_get(EPOCHS, &(kind, id.to_string()).into()).await
}

impl Accounts {
    /// The service over a store and a clock.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, policy: AccountPolicy) -> Self {
        Accounts { store, clock, policy: Arc::new(policy), providers: Vec::new(), appender: None }
    }

    /// Writes the audit entries of refusals (bad cookies, wrong codes) through a batched appender, off the
    /// request path: a flood of forged tokens then costs one write a second, not one per request. Without
    /// one, each refusal is written in its own transaction.
    pub fn with_audit_appender(mut self, appender: Arc<crate::rights::AuditAppender>) -> Self {
        self.appender = Some(appender);
        self
    }

    /// Adds an external identity provider.
    pub fn with_provider(mut self, provider: Arc<dyn IdentityProvider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &AccountPolicy {
        &self.policy
    }

    async fn audit(&self, actor: Caller, action: &str, target: String, details: serde_json::Value) -> Result<()> {
        let entry = audit_entry(self.clock.now(), actor, action, target, details);
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let entry = entry.clone();
            Box::pin(async move { tx.insert_record(&entry).await.map(|_| ()) })
        })
        .await
    }

    /// Logs in with a login and a password (and the second factor when the account has one).
    ///
    /// Errors: [`Error::Throttled`] (too many attempts, nothing checked), [`Error::Unauthenticated`] (wrong
    /// login, password or code: never says which), [`Error::SecondFactorRequired`] (the password was right;
    /// ask for the code and try again), [`Error::AccountDisabled`].
    pub async fn login(&self, req: &LoginRequest) -> Result<Opened> {
        let login = norm_login(&req.login);
        let address = req.address.clone().unwrap_or_else(|| "unknown".to_owned());
        let now = self.clock.now();
        let p = &self.policy.throttle;

        // Read: throttling state, the account and its secrets.
        let (pair, account, user, credential) = {
            let mut tx = self.store.begin(TxMode::ReadOnly).await?;
            let pair = tx.get_record::<ThrottleState>((login.as_str(), address.as_str())).await?.map(|v| v.value);
            let account = tx.get_record::<ThrottleState>((login.as_str(), "*")).await?.map(|v| v.value);
            let user = user_by_login(&mut *tx, &login).await?.map(|v| v.value);
            let credential = match &user {
                Some(u) => tx.get_record::<Credential>(u.id).await?.map(|v| v.value),
                None => None,
            };
            (pair, account, user, credential)
        };
        let known = credential.as_ref().is_some_and(|c| c.known_addresses.contains(&address));
        for verdict in [p.pair_verdict(pair.as_ref(), now), p.account_verdict(account.as_ref(), known, now)] {
            if let Verdict::Wait(secs) = verdict {
                return Err(Error::Throttled { retry_after_secs: secs });
            }
        }

        // Check, outside any transaction.
        let hash = credential.as_ref().and_then(|c| c.password_hash.clone());
        let password_ok = verify_password(hash.as_deref().unwrap_or(DUMMY_HASH), &req.password) && hash.is_some();
        let known_user = user.as_ref().map(|u| u.id);
        let (Some(user), Some(credential), true) = (user, credential, password_ok) else {
            self.fail(&login, &address, "password", known_user).await?;
            return Err(Error::Unauthenticated);
        };
        if matches!(user.state, AccountState::Disabled { .. }) {
            self.audit(
                accounts_actor(),
                "account.login.refused",
                user_target(user.id),
                json!({"reason": "disabled", "address": address}),
            )
            .await?;
            return Err(Error::AccountDisabled);
        }
        let mut second_factor = false;
        let mut used_step = None;
        let mut used_recovery = None;
        if let Some(t) = &credential.totp {
            let Some(code) = req.second_factor.as_deref() else {
                return Err(Error::SecondFactorRequired);
            };
            match totp::verify(&t.secret, code, now, t.last_step)? {
                Some(step) => used_step = Some(step),
                None => {
                    let h = totp::recovery_hash(code);
                    if credential.recovery_codes.contains(&h) {
                        used_recovery = Some(h);
                    } else {
                        self.fail(&login, &address, "second_factor", Some(user.id)).await?;
                        return Err(Error::Unauthenticated);
                    }
                }
            }
            second_factor = true;
        }
        let rehash = match needs_rehash(hash.as_deref().unwrap_or_default()) {
            true => Some(hash_password(&req.password)?),
            false => None,
        };

        // Write: forget the failures, remember the address, consume the code, open the session, audit.
        let token = Token::generate()?;
        let session = retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let (login, address, token) = (&login, &address, &token);
            let (user, rehash, used_recovery) = (&user, &rehash, &used_recovery);
            Box::pin(async move {
                tx.delete_record::<ThrottleState>((login.as_str(), address.as_str()), None).await?;
                let mut cred = tx.fetch_record::<Credential>(user.id).await?;
                let c = &mut cred.value;
                if let (Some(step), Some(t)) = (used_step, c.totp.as_mut()) {
                    if step <= t.last_step {
                        // The same code raced in twice: only the first wins.
                        return Err(Error::Unauthenticated);
                    }
                    t.last_step = step;
                }
                if let Some(h) = used_recovery {
                    if !c.recovery_codes.contains(h) {
                        return Err(Error::Unauthenticated);
                    }
                    c.recovery_codes.retain(|x| x != h);
                }
                if let Some(h) = rehash {
                    c.password_hash = Some(h.clone());
                }
                c.known_addresses.retain(|a| a != address);
                c.known_addresses.insert(0, address.clone());
                c.known_addresses.truncate(10);
                tx.update_record(cred.version, &cred.value).await?;
                let session = self
                    .new_session(
                        tx,
                        user,
                        req.structure,
                        token,
                        Some(address.clone()),
                        req.user_agent.clone(),
                        second_factor,
                    )
                    .await?;
                let details = json!({"address": address, "session": session.id, "second_factor": second_factor,
                                     "recovery_code": used_recovery.is_some()});
                tx.insert_record(&audit_entry(
                    self.clock.now(),
                    session.caller(),
                    "account.login",
                    user_target(user.id),
                    details,
                ))
                .await?;
                Ok(session)
            })
        })
        .await?;
        Ok(Opened { token, session })
    }

    /// Audits a refusal caused by the caller's input (never a storage failure, which is not the caller's).
    async fn audit_refusal(
        &self,
        action: &str,
        target: String,
        error: &Error,
        mut details: serde_json::Value,
    ) -> Result<()> {
        let caused_by_input = matches!(
            error,
            Error::Unauthenticated
                | Error::SessionExpired
                | Error::AccountDisabled
                | Error::Invalid { .. }
                | Error::Throttled { .. }
                | Error::Forbidden { .. }
        );
        if caused_by_input {
            details["reason"] = json!(error.to_string());
            match &self.appender {
                Some(appender) => {
                    appender.append(audit_entry(self.clock.now(), accounts_actor(), action, target, details)).await?;
                }
                None => self.audit(accounts_actor(), action, target, details).await?,
            }
        }
        Ok(())
    }

    /// Counts a failure for the pair and the account, auditing it (and a lock when one starts).
    async fn fail(&self, login: &str, address: &str, reason: &str, user: Option<UserId>) -> Result<()> {
        let now = self.clock.now();
        let p = &self.policy.throttle;
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            Box::pin(async move {
                let mut locked = Vec::new();
                for addr in [address, "*"] {
                    let old = tx.get_record::<ThrottleState>((login, addr)).await?;
                    let (version, state) = match old {
                        Some(v) => (Some(v.version), Some(v.value)),
                        None => (None, None),
                    };
                    if state.as_ref().is_some_and(|s| !p.expired(s, now) && s.locked_until.is_some_and(|u| u > now)) {
                        continue;
                    }
                    let (new, locks) = p.after_failure(state, login, addr, now);
                    match version {
                        Some(v) => tx.update_record(v, &new).await?,
                        None => tx.insert_record(&new).await?,
                    };
                    if locks {
                        locked.push((addr.to_owned(), new.locked_until));
                    }
                }
                let target = user.map_or_else(|| format!("login:{login}"), user_target);
                let details = json!({"login": login, "address": address, "reason": reason});
                tx.insert_record(&audit_entry(now, accounts_actor(), "account.login.failed", target.clone(), details))
                    .await?;
                for (scope, until) in locked {
                    let details = json!({"login": login, "scope": scope, "until": until});
                    tx.insert_record(&audit_entry(now, accounts_actor(), "account.locked", target.clone(), details))
                        .await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Opens a session record (in the caller's transaction).
    #[allow(clippy::too_many_arguments)]
    async fn new_session(
        &self,
        tx: &mut dyn Transaction,
        user: &User,
        structure: Option<StructureId>,
        token: &Token,
        address: Option<String>,
        user_agent: Option<String>,
        second_factor: bool,
    ) -> Result<Session> {
        let structure = match structure {
            Some(s) if user.affiliations.iter().any(|a| a.structure == s) => s,
            Some(_) => return Err(Error::forbidden("ent.session.structure")),
            None => user
                .affiliations
                .first()
                .map(|a| a.structure)
                .ok_or_else(|| Error::forbidden("ent.session.structure"))?,
        };
        let profiles: Vec<Profile> =
            user.affiliations.iter().filter(|a| a.structure == structure).map(|a| a.profile).collect();
        let must_enroll = !second_factor && profiles.iter().any(|p| self.policy.totp_required_for.contains(p));
        let now = self.clock.now();
        let session = Session {
            hash: token.hash(),
            id: SessionId::new(),
            user: user.id,
            structure,
            profiles,
            created: now,
            last_seen: now,
            idle_timeout_secs: self.policy.session_idle.num_seconds(),
            expires: now + self.policy.session_absolute,
            address,
            user_agent,
            second_factor,
            must_enroll_second_factor: must_enroll,
            user_epoch: epoch(tx, "user", user.id.0).await?,
            structure_epoch: epoch(tx, "structure", structure.0).await?,
        };
        tx.insert_record(&session).await?;
        Ok(session)
    }

    /// The session of a token, if it is alive: called on every request. Reads only, except when "last seen"
    /// is older than the touch interval.
    pub async fn authenticate(&self, token: &str) -> Result<Session> {
        let result = self.authenticate_inner(token).await;
        if let Err(e) = &result {
            self.audit_refusal("account.session.refused", "session".to_owned(), e, json!({})).await?;
        }
        result
    }

    /// See [`Accounts::authenticate`].
    async fn authenticate_inner(&self, token: &str) -> Result<Session> {
        let token = Token::parse(token)?;
        let now = self.clock.now();
        let session = {
            let mut tx = self.store.begin(TxMode::ReadOnly).await?;
            let Some(s) = tx.get_record::<Session>((token.hash().as_str(),)).await? else {
                return Err(Error::SessionExpired);
            };
            let s = s.value;
            let user = tx.get_record::<User>(s.user).await?;
            let alive = s.alive_at(now)
                && epoch(&mut *tx, "user", s.user.0).await? == s.user_epoch
                && epoch(&mut *tx, "structure", s.structure.0).await? == s.structure_epoch
                && user.as_ref().is_some_and(|u| !matches!(u.value.state, AccountState::Disabled { .. }));
            if !alive {
                return Err(Error::SessionExpired);
            }
            s
        };
        if now - session.last_seen < self.policy.touch_interval {
            return Ok(session);
        }
        let hash = token.hash();
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let hash = &hash;
            Box::pin(async move {
                let Some(mut s) = tx.get_record::<Session>((hash.as_str(),)).await? else {
                    return Err(Error::SessionExpired);
                };
                if now - s.value.last_seen >= self.policy.touch_interval {
                    s.value.last_seen = now;
                    tx.update_record(s.version, &s.value).await?;
                }
                Ok(s.value)
            })
        })
        .await
    }

    /// Ends the session of a token.
    pub async fn logout(&self, token: &str) -> Result<()> {
        let token = Token::parse(token)?;
        let hash = token.hash();
        let found = retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let hash = &hash;
            Box::pin(async move {
                let Some(s) = tx.get_record::<Session>((hash.as_str(),)).await? else { return Ok(None) };
                tx.delete_record::<Session>((hash.as_str(),), None).await?;
                let entry = audit_entry(
                    self.clock.now(),
                    s.value.caller(),
                    "account.logout",
                    user_target(s.value.user),
                    json!({"session": s.value.id}),
                );
                tx.insert_record(&entry).await?;
                Ok(Some(()))
            })
        })
        .await?;
        found.ok_or(Error::SessionExpired)
    }

    /// Replaces a session's token by a new one (at a privilege change: after enrolling a second factor,
    /// switching structure); the old token stops working at once.
    pub async fn rotate(&self, token: &str, structure: Option<StructureId>) -> Result<Opened> {
        let old = self.authenticate(token).await?;
        let new_token = Token::generate()?;
        let session = retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let (old, new_token) = (&old, &new_token);
            Box::pin(async move {
                tx.delete_record::<Session>((old.hash.as_str(),), None).await?;
                let user = tx.fetch_record::<User>(old.user).await?.value;
                let second_factor = old.second_factor;
                let mut s = self
                    .new_session(
                        tx,
                        &user,
                        structure.or(Some(old.structure)),
                        new_token,
                        old.address.clone(),
                        old.user_agent.clone(),
                        second_factor,
                    )
                    .await?;
                // A rotation keeps the session's age: it does not extend its absolute expiry.
                s.created = old.created;
                s.expires = old.expires;
                s.id = old.id;
                let v = tx.fetch_record::<Session>((s.hash.as_str(),)).await?.version;
                tx.update_record(v, &s).await?;
                Ok(s)
            })
        })
        .await?;
        Ok(Opened { token: new_token, session })
    }

    /// The alive sessions of a user, newest first.
    pub async fn sessions_of(&self, user: UserId) -> Result<Vec<SessionInfo>> {
        let now = self.clock.now();
        let mut tx = self.store.begin(TxMode::ReadOnly).await?;
        let user_epoch = epoch(&mut *tx, "user", user.0).await?;
        let scan = Scan::index(Session::COLLECTION, "by_user").prefix((user.0,)).backward().limit(1000);
        let mut out = Vec::new();
        for s in tx.scan_records::<Session>(&scan).await?.0 {
            let s = s.value;
            if s.alive_at(now)
                && s.user_epoch == user_epoch
                && epoch(&mut *tx, "structure", s.structure.0).await? == s.structure_epoch
            {
                out.push(SessionInfo::from(&s));
            }
        }
        Ok(out)
    }

    /// Ends one session of a user by its public id (from the list of sessions).
    pub async fn revoke(&self, actor: &Caller, user: UserId, session: SessionId) -> Result<bool> {
        self.check_self_or_admin(actor, user).await?;
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            Box::pin(async move {
                let scan = Scan::index(Session::COLLECTION, "by_id").prefix((session.0,)).limit(1);
                let Some(s) = tx.scan_records::<Session>(&scan).await?.0.into_iter().next() else { return Ok(false) };
                if s.value.user != user {
                    return Ok(false);
                }
                tx.delete_record::<Session>((s.value.hash.as_str(),), None).await?;
                let entry = audit_entry(
                    self.clock.now(),
                    actor.clone(),
                    "account.session.revoked",
                    user_target(user),
                    json!({"session": session}),
                );
                tx.insert_record(&entry).await?;
                Ok(true)
            })
        })
        .await
    }

    /// Ends every session of a user (a stolen phone, a disabled account).
    pub async fn revoke_all(&self, actor: &Caller, user: UserId) -> Result<()> {
        self.check_self_or_admin(actor, user).await?;
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            Box::pin(async move {
                tx.counter_add(EPOCHS, &("user", user.0.to_string()).into(), 1).await?;
                let scan = Scan::index(Session::COLLECTION, "by_user").prefix((user.0,));
                tx.delete_range(&scan).await?;
                let entry = audit_entry(
                    self.clock.now(),
                    actor.clone(),
                    "account.sessions.revoked",
                    user_target(user),
                    json!({}),
                );
                tx.insert_record(&entry).await?;
                Ok(())
            })
        })
        .await
    }

    /// The kill switch of a structure: every session opened in it ends now. Local administrators of the
    /// structure and central administrators only.
    pub async fn revoke_structure(&self, actor: &Caller, structure: StructureId) -> Result<()> {
        let allowed = actor.has_profile(Profile::AdminCentral)
            || (actor.has_profile(Profile::AdminLocal) && actor.structure() == Some(structure));
        let now = self.clock.now();
        let target = format!("structure:{structure}");
        if !allowed {
            self.audit(actor.clone(), "account.sessions.kill_switch.refused", target, json!({})).await?;
            return Err(Error::forbidden("ent.accounts.kill_switch"));
        }
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let target = &target;
            Box::pin(async move {
                tx.counter_add(EPOCHS, &("structure", structure.0.to_string()).into(), 1).await?;
                tx.insert_record(&audit_entry(
                    now,
                    actor.clone(),
                    "account.sessions.kill_switch",
                    target.clone(),
                    json!({}),
                ))
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// An actor acting on their own account, or an administrator of one of the user's structures.
    async fn check_self_or_admin(&self, actor: &Caller, user: UserId) -> Result<()> {
        if actor.user_id() == Some(user) || actor.has_profile(Profile::AdminCentral) || actor.is_system() {
            return Ok(());
        }
        if actor.has_profile(Profile::AdminLocal) {
            let mut tx = self.store.begin(TxMode::ReadOnly).await?;
            let target = tx.fetch_record::<User>(user).await?.value;
            if actor.structure().is_some_and(|s| target.structures().contains(&s)) {
                return Ok(());
            }
        }
        self.audit(actor.clone(), "account.admin.refused", user_target(user), json!({})).await?;
        Err(Error::forbidden("ent.accounts.admin"))
    }

    /// First login: the activation code of the import sets the password and opens a session (which must
    /// enroll a second factor first where the profile requires one). The code works once.
    pub async fn activate(
        &self,
        code: &str,
        new_password: &str,
        address: Option<String>,
        user_agent: Option<String>,
    ) -> Result<Opened> {
        let result = self.activate_inner(code, new_password, address.clone(), user_agent).await;
        if let Err(e) = &result {
            self.audit_refusal("account.activation.refused", "activation".to_owned(), e, json!({"address": address}))
                .await?;
        }
        result
    }

    /// See [`Accounts::activate`].
    async fn activate_inner(
        &self,
        code: &str,
        new_password: &str,
        address: Option<String>,
        user_agent: Option<String>,
    ) -> Result<Opened> {
        let secret = ActivationSecret::parse(code).map_err(|_| Error::Unauthenticated)?;
        let hash = hex::encode(secret.hash());
        let now = self.clock.now();
        let (code_record, user) = {
            let mut tx = self.store.begin(TxMode::ReadOnly).await?;
            let Some(c) = tx.get_record::<ActivationCode>((hash.as_str(),)).await? else {
                return Err(Error::Unauthenticated);
            };
            if c.value.expires <= now {
                return Err(Error::Unauthenticated);
            }
            let user = tx.fetch_record::<User>(c.value.user).await?.value;
            (c.value, user)
        };
        if matches!(user.state, AccountState::Disabled { .. }) {
            return Err(Error::AccountDisabled);
        }
        self.policy
            .password
            .check(new_password, &[&user.login, &user.given_name, &user.family_name])
            .map_err(Error::from)?;
        let password_hash = hash_password(new_password)?;
        let token = Token::generate()?;
        let session = retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let (code_record, token, password_hash, address, user_agent) =
                (&code_record, &token, &password_hash, &address, &user_agent);
            Box::pin(async move {
                // Single use: the code (and any other of the account) goes in the same transaction.
                if tx.get_record::<ActivationCode>((code_record.hash.as_str(),)).await?.is_none() {
                    return Err(Error::Unauthenticated);
                }
                tx.delete_range(&Scan::index(ActivationCode::COLLECTION, "by_user").prefix((code_record.user.0,)))
                    .await?;
                let mut user = tx.fetch_record::<User>(code_record.user).await?;
                if user.value.state == AccountState::Pending {
                    user.value.state = AccountState::Active;
                    tx.update_record(user.version, &user.value).await?;
                }
                let mut cred = match tx.get_record::<Credential>(user.value.id).await? {
                    Some(c) => c,
                    None => {
                        let c = Credential::empty(user.value.id);
                        tx.insert_record(&c).await?;
                        crate::storage::Versioned { version: 1, value: c }
                    }
                };
                cred.value.password_hash = Some(password_hash.clone());
                cred.value.password_changed = Some(now);
                tx.update_record(cred.version, &cred.value).await?;
                let session =
                    self.new_session(tx, &user.value, None, token, address.clone(), user_agent.clone(), false).await?;
                let entry = audit_entry(
                    now,
                    session.caller(),
                    "account.activated",
                    user_target(user.value.id),
                    json!({"address": address}),
                );
                tx.insert_record(&entry).await?;
                Ok(session)
            })
        })
        .await?;
        Ok(Opened { token, session })
    }

    /// Changes one's password (the current one is asked again); every other session of the account ends,
    /// and this one gets a new token.
    pub async fn change_password(&self, token: &str, current: &str, new_password: &str) -> Result<Opened> {
        let result = self.change_password_inner(token, current, new_password).await;
        if let Err(e) = &result {
            self.audit_refusal("account.password.change.refused", "password".to_owned(), e, json!({})).await?;
        }
        result
    }

    /// See [`Accounts::change_password`].
    async fn change_password_inner(&self, token: &str, current: &str, new_password: &str) -> Result<Opened> {
        let session = self.authenticate(token).await?;
        let (user, cred) = {
            let mut tx = self.store.begin(TxMode::ReadOnly).await?;
            (
                tx.fetch_record::<User>(session.user).await?.value,
                tx.fetch_record::<Credential>(session.user).await?.value,
            )
        };
        if !verify_password(cred.password_hash.as_deref().unwrap_or(DUMMY_HASH), current) {
            self.fail(&user.login, session.address.as_deref().unwrap_or("unknown"), "password_change", Some(user.id))
                .await?;
            return Err(Error::Unauthenticated);
        }
        self.policy
            .password
            .check(new_password, &[&user.login, &user.given_name, &user.family_name])
            .map_err(Error::from)?;
        let hash = hash_password(new_password)?;
        self.set_password(session.caller(), user.id, &hash, "account.password.changed", None).await?;
        // The bump above ended this session too: open its successor.
        let token = Token::generate()?;
        let opened = retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let (user, token, session) = (&user, &token, &session);
            Box::pin(async move {
                self.new_session(
                    tx,
                    user,
                    Some(session.structure),
                    token,
                    session.address.clone(),
                    session.user_agent.clone(),
                    session.second_factor,
                )
                .await
            })
        })
        .await?;
        Ok(Opened { token, session: opened })
    }

    /// Stores a new password hash and ends every session of the account (and deletes its reset codes).
    /// With `reset_code`, the code must still exist in the same transaction: two concurrent uses of one code
    /// cannot both succeed.
    async fn set_password(
        &self,
        actor: Caller,
        user: UserId,
        hash: &str,
        action: &str,
        reset_code: Option<&str>,
    ) -> Result<()> {
        let now = self.clock.now();
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let actor = &actor;
            Box::pin(async move {
                if let Some(code) = reset_code
                    && tx.get_record::<ResetCode>((code,)).await?.is_none()
                {
                    return Err(Error::Unauthenticated);
                }
                let mut cred = tx.fetch_record::<Credential>(user).await?;
                cred.value.password_hash = Some(hash.to_owned());
                cred.value.password_changed = Some(now);
                tx.update_record(cred.version, &cred.value).await?;
                tx.counter_add(EPOCHS, &("user", user.0.to_string()).into(), 1).await?;
                tx.delete_range(&Scan::index(Session::COLLECTION, "by_user").prefix((user.0,))).await?;
                tx.delete_range(&Scan::index(ResetCode::COLLECTION, "by_user").prefix((user.0,))).await?;
                tx.insert_record(&audit_entry(now, actor.clone(), action, user_target(user), json!({}))).await?;
                Ok(())
            })
        })
        .await
    }

    /// Starts a password reset: returns the one-time code to send to the account's owner (by the channel
    /// the integrator chose), or `None` when the login is unknown or not active — the caller answers the
    /// same way in both cases, so that the form does not reveal which accounts exist.
    pub async fn request_reset(&self, login: &str) -> Result<Option<(UserId, Token)>> {
        let login = norm_login(login);
        let now = self.clock.now();
        let token = Token::generate()?;
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let (login, token) = (&login, &token);
            Box::pin(async move {
                let Some(user) = user_by_login(tx, login).await? else { return Ok(None) };
                if user.value.state != AccountState::Active {
                    return Ok(None);
                }
                let code =
                    ResetCode { hash: token.hash(), user: user.value.id, expires: now + self.policy.reset_validity };
                tx.insert_record(&code).await?;
                tx.insert_record(&audit_entry(
                    now,
                    accounts_actor(),
                    "account.reset.requested",
                    user_target(user.value.id),
                    json!({}),
                ))
                .await?;
                Ok(Some((user.value.id, token.clone())))
            })
        })
        .await
    }

    /// Completes a reset with its code: sets the new password, ends every session. The code works once.
    pub async fn reset_password(&self, code: &str, new_password: &str) -> Result<()> {
        let result = self.reset_password_inner(code, new_password).await;
        if let Err(e) = &result {
            self.audit_refusal("account.reset.refused", "reset".to_owned(), e, json!({})).await?;
        }
        result
    }

    /// See [`Accounts::reset_password`].
    async fn reset_password_inner(&self, code: &str, new_password: &str) -> Result<()> {
        let token = Token::parse(code).map_err(|_| Error::Unauthenticated)?;
        let now = self.clock.now();
        let user = {
            let mut tx = self.store.begin(TxMode::ReadOnly).await?;
            let Some(r) = tx.get_record::<ResetCode>((token.hash().as_str(),)).await? else {
                return Err(Error::Unauthenticated);
            };
            if r.value.expires <= now {
                return Err(Error::Unauthenticated);
            }
            tx.fetch_record::<User>(r.value.user).await?.value
        };
        self.policy
            .password
            .check(new_password, &[&user.login, &user.given_name, &user.family_name])
            .map_err(Error::from)?;
        let hash = hash_password(new_password)?;
        self.set_password(accounts_actor(), user.id, &hash, "account.password.reset", Some(&token.hash())).await
    }

    /// An administrator resets an account: its password and second factor are cleared, its sessions end,
    /// and a new activation code is issued (hand it to the person). Local administrators for the accounts
    /// of their structure; the attempt is audited either way.
    pub async fn admin_reset(&self, admin: &Caller, user: UserId) -> Result<ActivationSecret> {
        if admin.user_id() == Some(user) || admin.is_system() {
            self.audit(admin.clone(), "account.admin.refused", user_target(user), json!({"action": "reset"})).await?;
            return Err(Error::forbidden("ent.accounts.admin"));
        }
        self.check_self_or_admin(admin, user).await?;
        let now = self.clock.now();
        let (secret, code) = ActivationCode::issue(user, now, self.policy.activation_validity)?;
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let code = &code;
            Box::pin(async move {
                if let Some(mut cred) = tx.get_record::<Credential>(user).await? {
                    cred.value.password_hash = None;
                    cred.value.totp = None;
                    cred.value.totp_pending = None;
                    cred.value.recovery_codes.clear();
                    tx.update_record(cred.version, &cred.value).await?;
                }
                tx.delete_range(&Scan::index(ActivationCode::COLLECTION, "by_user").prefix((user.0,))).await?;
                tx.insert_record(code).await?;
                tx.counter_add(EPOCHS, &("user", user.0.to_string()).into(), 1).await?;
                tx.delete_range(&Scan::index(Session::COLLECTION, "by_user").prefix((user.0,))).await?;
                tx.insert_record(&audit_entry(now, admin.clone(), "account.admin.reset", user_target(user), json!({})))
                    .await?;
                Ok(())
            })
        })
        .await?;
        Ok(secret)
    }

    /// Lifts the throttling of a login (all addresses); audited.
    pub async fn unlock(&self, admin: &Caller, user: UserId) -> Result<()> {
        self.check_self_or_admin(admin, user).await?;
        if admin.user_id() == Some(user) {
            return Err(Error::forbidden("ent.accounts.admin"));
        }
        let now = self.clock.now();
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            Box::pin(async move {
                let login = tx.fetch_record::<User>(user).await?.value.login;
                tx.delete_range(&Scan::primary(ThrottleState::COLLECTION).prefix((login.as_str(),))).await?;
                tx.insert_record(&audit_entry(
                    now,
                    admin.clone(),
                    "account.unlocked",
                    user_target(user),
                    json!({"login": login}),
                ))
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Starts enrolling a TOTP second factor for the session's account.
    pub async fn begin_totp(&self, token: &str) -> Result<TotpEnrollment> {
        let session = self.authenticate(token).await?;
        let secret = totp::new_secret()?;
        let login = retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let (secret, session) = (&secret, &session);
            Box::pin(async move {
                let mut cred = tx.fetch_record::<Credential>(session.user).await?;
                cred.value.totp_pending = Some(secret.clone());
                tx.update_record(cred.version, &cred.value).await?;
                Ok(tx.fetch_record::<User>(session.user).await?.value.login)
            })
        })
        .await?;
        let url = totp::provisioning_url(&secret, &self.policy.issuer, &login)?;
        Ok(TotpEnrollment { secret, url })
    }

    /// Confirms the second factor with a first code: returns the recovery codes (shown once) and the
    /// session under a new token (a privilege change).
    pub async fn confirm_totp(&self, token: &str, code: &str) -> Result<(Opened, Vec<String>)> {
        let session = self.authenticate(token).await?;
        let now = self.clock.now();
        let (codes, hashes) = totp::new_recovery_codes()?;
        retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let (session, hashes) = (&session, &hashes);
            Box::pin(async move {
                let mut cred = tx.fetch_record::<Credential>(session.user).await?;
                let Some(secret) = cred.value.totp_pending.clone() else {
                    return Err(Error::invalid("totp", "no second factor is being enrolled"));
                };
                let Some(step) = totp::verify(&secret, code, now, 0)? else {
                    return Err(Error::Unauthenticated);
                };
                cred.value.totp = Some(TotpState { secret, last_step: step, since: now });
                cred.value.totp_pending = None;
                cred.value.recovery_codes = hashes.clone();
                tx.update_record(cred.version, &cred.value).await?;
                // The session now has its second factor.
                let mut s = tx.fetch_record::<Session>((session.hash.as_str(),)).await?;
                s.value.second_factor = true;
                s.value.must_enroll_second_factor = false;
                tx.update_record(s.version, &s.value).await?;
                tx.insert_record(&audit_entry(
                    now,
                    session.caller(),
                    "account.totp.enrolled",
                    user_target(session.user),
                    json!({}),
                ))
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok((self.rotate(token, None).await?, codes))
    }

    /// Logs in through an external identity provider. The subject maps to a user through a stored link, or
    /// through the directory key the provider carries (the link is then stored).
    pub async fn login_external(
        &self,
        provider: &str,
        assertion: &str,
        address: Option<String>,
        user_agent: Option<String>,
    ) -> Result<Opened> {
        let p = self
            .providers
            .iter()
            .find(|p| p.id() == provider)
            .ok_or_else(|| Error::not_found("identity provider", provider))?;
        let identity = p.verify(assertion).await?;
        let key = p.directory_key(&identity);
        let token = Token::generate()?;
        let now = self.clock.now();
        let session = retry::transact(&*self.store, TxMode::ReadWrite, |tx| {
            let (identity, key, token, address, user_agent) = (&identity, &key, &token, &address, &user_agent);
            Box::pin(async move {
                let link =
                    tx.get_record::<ExternalLink>((identity.provider.as_str(), identity.subject.as_str())).await?;
                let user = match (link, key) {
                    (Some(l), _) => tx.fetch_record::<User>(l.value.user).await?.value,
                    (None, Some((source, k))) => {
                        let scan =
                            Scan::index(User::COLLECTION, "by_source").prefix((source.as_str(), k.as_str())).limit(1);
                        let Some(u) = tx.scan_records::<User>(&scan).await?.0.into_iter().next() else {
                            return Err(Error::Unauthenticated);
                        };
                        let link = ExternalLink {
                            provider: identity.provider.clone(),
                            subject: identity.subject.clone(),
                            user: u.value.id,
                        };
                        tx.insert_record(&link).await?;
                        u.value
                    }
                    (None, None) => return Err(Error::Unauthenticated),
                };
                if matches!(user.state, AccountState::Disabled { .. }) {
                    return Err(Error::AccountDisabled);
                }
                // The provider vouches for the person; a second factor is the provider's business.
                let session =
                    self.new_session(tx, &user, None, token, address.clone(), user_agent.clone(), true).await?;
                let details = json!({"provider": identity.provider, "address": address});
                tx.insert_record(&audit_entry(
                    now,
                    session.caller(),
                    "account.login.external",
                    user_target(user.id),
                    details,
                ))
                .await?;
                Ok(session)
            })
        })
        .await;
        match session {
            Ok(session) => Ok(Opened { token, session }),
            Err(e) => {
                if matches!(e, Error::Unauthenticated) {
                    let details = json!({"provider": provider, "subject": identity.subject});
                    self.audit(
                        accounts_actor(),
                        "account.login.external.failed",
                        format!("external:{provider}"),
                        details,
                    )
                    .await?;
                }
                Err(e)
            }
        }
    }
}

impl Session {
    /// The caller this session acts as.
    pub fn caller(&self) -> Caller {
        Caller::user(self.user, self.structure, self.profiles.iter().copied()).with_session(self.id)
    }
}

/// The collections of accounts.
pub(crate) fn collections() -> Vec<crate::storage::CollectionDef> {
    vec![
        ActivationCode::collection(),
        Credential::collection(),
        Session::collection(),
        ResetCode::collection(),
        ThrottleState::collection(),
        ExternalLink::collection(),
        super::session::epochs_collection(),
    ]
}
