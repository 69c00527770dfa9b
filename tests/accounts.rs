//! Accounts end to end: from the import's activation code to sessions, throttling, the second factor,
//! resets and external identities.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, TimeZone, Utc};
use ent::core::account::*;
use ent::core::audit::AuditEntry;
use ent::core::clock::{Clock, ManualClock};
use ent::core::directory::*;
use ent::core::storage::{self, Record, Scan, Store, TxExt, TxMode};
use ent::import::*;
use ent::storage::memory::MemoryStore;

const STRONG: &str = "correct horse battery staple";
const STRONG2: &str = "violet tambour neige 1987 !";

struct Fixture {
    store: Arc<MemoryStore>,
    clock: ManualClock,
    accounts: Accounts,
    codes: Vec<IssuedCode>,
}

fn person(key: &str, given: &str, family: &str, structure: &str, profile: Profile) -> PersonIn {
    PersonIn {
        key: key.into(),
        given_name: given.into(),
        family_name: family.into(),
        birth_date: None,
        email: None,
        affiliations: vec![PersonRef { structure: structure.into(), profile, functions: vec![] }],
        adult: false,
        disabled: false,
        units: vec![],
        teachings: vec![],
        parents: vec![],
        kept_parents: vec![],
        extra: Default::default(),
    }
}

fn structure(key: &str, uai: &str) -> StructureIn {
    StructureIn {
        key: key.into(),
        uai: uai.into(),
        name: key.into(),
        kind: Some(StructureKind::College),
        contract: Some(Contract::Public),
        academie: Some("ORLEANS-TOURS".into()),
        time_zone: Some("Europe/Paris".into()),
        periods: Some(PeriodKind::Trimestres),
        extra: Default::default(),
    }
}

async fn fixture() -> Fixture {
    let store = Arc::new(MemoryStore::new());
    store.declare(&storage::core_collections()).await.unwrap();
    let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 9, 1, 7, 30, 0).unwrap());
    let mut admin_elsewhere = person("admin-b", "Bruno", "Ailleurs", "b", Profile::AdminLocal);
    admin_elsewhere.affiliations[0].structure = "b".into();
    let batch = Batch {
        source: "test".into(),
        mode: Mode::Delta,
        year: SchoolYear(2026),
        structures: vec![structure("a", "0370884K"), structure("b", "0370001A")],
        subjects: vec![],
        classes: vec![],
        groups: vec![],
        people: vec![
            person("pupil", "Lucas", "Martin", "a", Profile::Eleve),
            person("head", "Anne", "Proviseur", "a", Profile::Direction),
            person("admin-a", "Alice", "Admin", "a", Profile::AdminLocal),
            admin_elsewhere,
        ],
        deleted_people: vec![],
        refused_people: vec![],
        changes: vec![],
        deleted_units: vec![],
        states_units: true,
    };
    let report = apply(&*store, &clock, &batch, &ApplyOptions::default()).await.unwrap();
    assert!(report.rejected.is_empty());
    let accounts = Accounts::new(store.clone(), Arc::new(clock.clone()), AccountPolicy::default());
    Fixture { store, clock, accounts, codes: report.codes }
}

impl Fixture {
    fn code(&self, login: &str) -> String {
        self.codes.iter().find(|c| c.login == login).unwrap().code.clone()
    }

    async fn activated(&self, login: &str) -> Opened {
        self.accounts.activate(&self.code(login), STRONG, Some("10.0.0.1".into()), None).await.unwrap()
    }

    fn login(&self, login: &str, password: &str, address: &str) -> LoginRequest {
        LoginRequest {
            login: login.into(),
            password: password.into(),
            address: Some(address.into()),
            ..Default::default()
        }
    }

    async fn audit(&self, action: &str) -> Vec<AuditEntry> {
        let mut tx = self.store.begin(TxMode::ReadOnly).await.unwrap();
        let (all, _) =
            tx.scan_records::<AuditEntry>(&Scan::primary(AuditEntry::COLLECTION).limit(10_000)).await.unwrap();
        all.into_iter().map(|v| v.value).filter(|e| e.action == action).collect()
    }

    async fn user(&self, login: &str) -> User {
        let mut tx = self.store.begin(TxMode::ReadOnly).await.unwrap();
        let scan = Scan::index(User::COLLECTION, "by_login").prefix((login,)).limit(1);
        tx.scan_records::<User>(&scan).await.unwrap().0.remove(0).value
    }
}

#[tokio::test]
async fn first_login_by_activation_code_then_password() {
    let f = fixture().await;
    let opened = f.activated("lucas.martin").await;
    assert_eq!(f.user("lucas.martin").await.state, AccountState::Active);
    assert!(!opened.session.must_enroll_second_factor, "pupils need no second factor");
    let s = f.accounts.authenticate(opened.token.expose()).await.unwrap();
    assert_eq!(s.profiles, [Profile::Eleve]);
    assert_eq!(s.caller().user_id(), Some(s.user));

    // The code worked once.
    let again = f.accounts.activate(&f.code("lucas.martin"), STRONG2, None, None).await.unwrap_err();
    assert_eq!(again, ent::Error::Unauthenticated);

    let other = f.accounts.login(&f.login("  Lucas.Martin ", STRONG, "10.0.0.2")).await.unwrap();
    assert_ne!(other.token, opened.token);
    assert_eq!(f.accounts.sessions_of(s.user).await.unwrap().len(), 2);
    f.accounts.logout(opened.token.expose()).await.unwrap();
    assert_eq!(f.accounts.authenticate(opened.token.expose()).await.unwrap_err(), ent::Error::SessionExpired);
    assert_eq!(f.audit("account.login").await.len(), 1);
    assert_eq!(f.audit("account.activated").await.len(), 1);
    assert_eq!(f.audit("account.logout").await.len(), 1);
}

#[tokio::test]
async fn a_weak_password_is_refused_and_the_code_kept() {
    let f = fixture().await;
    for (weak, code) in [
        ("azerty123", "password-common"),
        ("Lucas.Martin", "password-common"),
        ("short", "password-too-short"),
        ("aaaa1111bbbb", "password-too-weak"),
    ] {
        let err = f.accounts.activate(&f.code("lucas.martin"), weak, None, None).await.unwrap_err();
        assert!(
            matches!(&err, ent::Error::Invalid { field, reason } if field == "password" && reason.starts_with(code)),
            "{weak}: {err}"
        );
    }
    assert_eq!(f.user("lucas.martin").await.state, AccountState::Pending, "nothing changed");
    f.activated("lucas.martin").await;
}

#[tokio::test]
async fn an_expired_activation_code_does_not_work() {
    let f = fixture().await;
    f.clock.advance(Duration::days(121));
    let err = f.accounts.activate(&f.code("lucas.martin"), STRONG, None, None).await.unwrap_err();
    assert_eq!(err, ent::Error::Unauthenticated);
}

#[tokio::test]
async fn wrong_and_unknown_logins_fail_alike_and_are_audited() {
    let f = fixture().await;
    f.activated("lucas.martin").await;
    let wrong = f.accounts.login(&f.login("lucas.martin", "nope nope nope", "10.0.0.9")).await.unwrap_err();
    let unknown = f.accounts.login(&f.login("nobody.here", "nope nope nope", "10.0.0.9")).await.unwrap_err();
    assert_eq!(wrong, ent::Error::Unauthenticated);
    assert_eq!(unknown, ent::Error::Unauthenticated);
    let failed = f.audit("account.login.failed").await;
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().any(|e| e.target.starts_with("user:")));
    assert!(failed.iter().any(|e| e.target == "login:nobody.here"));
}

#[tokio::test]
async fn throttling_per_pair_grows_then_locks_without_touching_other_addresses() {
    let f = fixture().await;
    f.activated("lucas.martin").await;
    let attacker = "192.0.2.66";
    let mut throttled = 0;
    let mut attempts = 0;
    while f.audit("account.locked").await.is_empty() {
        match f.accounts.login(&f.login("lucas.martin", "guess guess guess", attacker)).await {
            Err(ent::Error::Throttled { retry_after_secs }) => {
                throttled += 1;
                f.clock.advance(Duration::seconds(retry_after_secs as i64));
            }
            Err(ent::Error::Unauthenticated) => attempts += 1,
            other => panic!("{other:?}"),
        }
        assert!(attempts <= 10);
    }
    assert_eq!(attempts, 10);
    assert!(throttled >= 6, "growing delays came first: {throttled}");
    // Locked for that pair, even with the right password: the lock does not tell.
    let err = f.accounts.login(&f.login("lucas.martin", STRONG, attacker)).await.unwrap_err();
    assert!(matches!(err, ent::Error::Throttled { .. }), "{err}");
    // Attempts during the lock are not counted: the lock does not grow.
    let before = locked_until(&f, attacker).await;
    f.accounts.login(&f.login("lucas.martin", "again again again", attacker)).await.unwrap_err();
    assert_eq!(locked_until(&f, attacker).await, before);
    // The owner, from elsewhere, logs in.
    f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.1")).await.unwrap();
    // After the lock, the pair starts again.
    f.clock.advance(Duration::minutes(16));
    f.accounts.login(&f.login("lucas.martin", STRONG, attacker)).await.unwrap();
}

async fn locked_until(f: &Fixture, address: &str) -> Option<chrono::DateTime<Utc>> {
    let mut tx = f.store.begin(TxMode::ReadOnly).await.unwrap();
    tx.get_record::<throttle::ThrottleState>(("lucas.martin", address)).await.unwrap().unwrap().value.locked_until
}

async fn session_version(f: &Fixture, hash: &str) -> u64 {
    let mut tx = f.store.begin(TxMode::ReadOnly).await.unwrap();
    tx.get_record::<Session>((hash,)).await.unwrap().unwrap().version
}

#[tokio::test]
async fn a_distributed_attack_locks_the_account_but_not_its_known_address() {
    let f = fixture().await;
    f.activated("lucas.martin").await;
    f.accounts.login(&f.login("lucas.martin", STRONG, "203.0.113.7")).await.unwrap();
    for i in 0..50 {
        let r = f.accounts.login(&f.login("lucas.martin", "guess guess guess", &format!("198.51.100.{i}"))).await;
        assert_eq!(r.unwrap_err(), ent::Error::Unauthenticated);
    }
    let err = f.accounts.login(&f.login("lucas.martin", STRONG, "198.51.100.200")).await.unwrap_err();
    assert!(matches!(err, ent::Error::Throttled { .. }), "{err}");
    f.accounts.login(&f.login("lucas.martin", STRONG, "203.0.113.7")).await.expect("the owner's usual address");
    // An administrator of the structure lifts the lock; it is audited.
    let admin = f.activated("alice.admin").await.session.caller();
    f.accounts.unlock(&admin, f.user("lucas.martin").await.id).await.unwrap();
    f.accounts.login(&f.login("lucas.martin", STRONG, "198.51.100.200")).await.unwrap();
    assert_eq!(f.audit("account.unlocked").await.len(), 1);
    assert!(!f.audit("account.locked").await.is_empty());
}

#[tokio::test]
async fn sessions_expire_idle_and_absolute_and_last_seen_is_coarse() {
    let f = fixture().await;
    let opened = f.activated("lucas.martin").await;
    let token = opened.token.expose().to_owned();
    let v0 = session_version(&f, &opened.session.hash).await;
    f.clock.advance(Duration::minutes(2));
    f.accounts.authenticate(&token).await.unwrap();
    assert_eq!(session_version(&f, &opened.session.hash).await, v0, "not written on every request");
    f.clock.advance(Duration::minutes(4));
    let s = f.accounts.authenticate(&token).await.unwrap();
    assert_eq!(s.last_seen, f.clock.now());
    assert_eq!(session_version(&f, &opened.session.hash).await, v0 + 1);
    // Active every hour, but not past the absolute expiry.
    for _ in 0..11 {
        f.clock.advance(Duration::hours(1));
        f.accounts.authenticate(&token).await.unwrap();
    }
    f.clock.advance(Duration::hours(1));
    assert_eq!(f.accounts.authenticate(&token).await.unwrap_err(), ent::Error::SessionExpired);
    // Idle.
    let other = f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.1")).await.unwrap();
    f.clock.advance(Duration::hours(2) + Duration::seconds(1));
    assert_eq!(f.accounts.authenticate(other.token.expose()).await.unwrap_err(), ent::Error::SessionExpired);
    assert_eq!(f.accounts.authenticate("not a token").await.unwrap_err(), ent::Error::SessionExpired);
}

#[tokio::test]
async fn revocation_one_all_structure_and_disabled_accounts() {
    let f = fixture().await;
    let a = f.activated("lucas.martin").await;
    let b = f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.3")).await.unwrap();
    let me = a.session.caller();
    let user = a.session.user;
    assert!(f.accounts.revoke(&me, user, b.session.id).await.unwrap());
    assert!(f.accounts.authenticate(b.token.expose()).await.is_err());
    assert!(f.accounts.authenticate(a.token.expose()).await.is_ok());

    let c = f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.3")).await.unwrap();
    f.accounts.revoke_all(&me, user).await.unwrap();
    assert!(f.accounts.authenticate(a.token.expose()).await.is_err());
    assert!(f.accounts.authenticate(c.token.expose()).await.is_err());
    assert!(f.accounts.sessions_of(user).await.unwrap().is_empty());

    // The kill switch: every session of the structure, at once; refused to another structure's admin.
    let d = f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.3")).await.unwrap();
    let head = f.activated("anne.proviseur").await;
    let other_admin = f.activated("bruno.ailleurs").await.session.caller();
    let err = f.accounts.revoke_structure(&other_admin, d.session.structure).await.unwrap_err();
    assert!(matches!(err, ent::Error::Forbidden { .. }));
    assert_eq!(f.audit("account.sessions.kill_switch.refused").await.len(), 1);
    let admin = f.activated("alice.admin").await;
    f.accounts.revoke_structure(&admin.session.caller(), d.session.structure).await.unwrap();
    assert!(f.accounts.authenticate(d.token.expose()).await.is_err());
    assert!(f.accounts.authenticate(head.token.expose()).await.is_err());
    let e = f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.3")).await.unwrap();
    assert!(f.accounts.authenticate(e.token.expose()).await.is_ok(), "new sessions work");

    // A disabled account's sessions stop, and it cannot log in.
    let mut tx = f.store.begin(TxMode::ReadWrite).await.unwrap();
    let mut u = tx.fetch_record::<User>(user).await.unwrap();
    u.value.state = AccountState::Disabled { since: f.clock.now() };
    tx.update_record(u.version, &u.value).await.unwrap();
    tx.commit().await.unwrap();
    assert!(f.accounts.authenticate(e.token.expose()).await.is_err());
    assert_eq!(
        f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.3")).await.unwrap_err(),
        ent::Error::AccountDisabled
    );
}

#[tokio::test]
async fn staff_enroll_a_second_factor_then_need_it() {
    let f = fixture().await;
    let opened = f.activated("anne.proviseur").await;
    assert!(opened.session.must_enroll_second_factor, "direction must use a second factor");
    let enrollment = f.accounts.begin_totp(opened.token.expose()).await.unwrap();
    assert!(enrollment.url.starts_with("otpauth://totp/"), "{}", enrollment.url);
    let wrong = f.accounts.confirm_totp(opened.token.expose(), "000000").await;
    assert!(wrong.is_err());
    let code = totp::code_at(&enrollment.secret, f.clock.now()).unwrap();
    let (rotated, recovery) = f.accounts.confirm_totp(opened.token.expose(), &code).await.unwrap();
    assert_eq!(recovery.len(), 10);
    assert!(rotated.session.second_factor && !rotated.session.must_enroll_second_factor);
    assert!(f.accounts.authenticate(opened.token.expose()).await.is_err(), "privilege change: new token");
    assert!(f.accounts.authenticate(rotated.token.expose()).await.is_ok());

    let mut req = f.login("anne.proviseur", STRONG, "10.0.0.1");
    assert_eq!(f.accounts.login(&req).await.unwrap_err(), ent::Error::SecondFactorRequired);
    f.clock.advance(Duration::seconds(30));
    req.second_factor = Some(totp::code_at(&enrollment.secret, f.clock.now()).unwrap());
    let s = f.accounts.login(&req).await.unwrap();
    assert!(s.session.second_factor);
    assert_eq!(f.accounts.login(&req).await.unwrap_err(), ent::Error::Unauthenticated, "a code works once");
    req.second_factor = Some(recovery[3].to_lowercase());
    f.accounts.login(&req).await.unwrap();
    assert_eq!(f.accounts.login(&req).await.unwrap_err(), ent::Error::Unauthenticated, "a recovery code works once");
}

#[tokio::test]
async fn password_change_and_reset_end_other_sessions() {
    let f = fixture().await;
    let a = f.activated("lucas.martin").await;
    let b = f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.3")).await.unwrap();
    let err = f.accounts.change_password(a.token.expose(), "not the password", STRONG2).await.unwrap_err();
    assert_eq!(err, ent::Error::Unauthenticated);
    let changed = f.accounts.change_password(a.token.expose(), STRONG, STRONG2).await.unwrap();
    assert!(f.accounts.authenticate(b.token.expose()).await.is_err());
    assert!(f.accounts.authenticate(changed.token.expose()).await.is_ok());
    assert!(f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.1")).await.is_err());

    assert!(f.accounts.request_reset("nobody").await.unwrap().is_none());
    let (_, code) = f.accounts.request_reset("lucas.martin").await.unwrap().unwrap();
    f.accounts.reset_password(code.expose(), "une tortue verte au soleil").await.unwrap();
    assert!(f.accounts.authenticate(changed.token.expose()).await.is_err(), "a reset ends every session");
    f.accounts.login(&f.login("lucas.martin", "une tortue verte au soleil", "10.0.0.1")).await.unwrap();
    let again = f.accounts.reset_password(code.expose(), "encore une autre phrase").await.unwrap_err();
    assert_eq!(again, ent::Error::Unauthenticated, "single use");
    let (_, late) = f.accounts.request_reset("lucas.martin").await.unwrap().unwrap();
    f.clock.advance(Duration::minutes(61));
    assert_eq!(
        f.accounts.reset_password(late.expose(), "encore une autre phrase").await.unwrap_err(),
        ent::Error::Unauthenticated
    );
}

#[tokio::test]
async fn administrators_reset_accounts_of_their_structure_only() {
    let f = fixture().await;
    let pupil = f.activated("lucas.martin").await;
    let local = f.activated("alice.admin").await.session.caller();
    let elsewhere = f.activated("bruno.ailleurs").await.session.caller();
    let err = f.accounts.admin_reset(&elsewhere, pupil.session.user).await.unwrap_err();
    assert!(matches!(err, ent::Error::Forbidden { .. }));
    assert_eq!(f.audit("account.admin.refused").await.len(), 1);
    let pupil_caller = pupil.session.caller();
    assert!(
        f.accounts.admin_reset(&pupil_caller, f.user("alice.admin").await.id).await.is_err(),
        "a pupil is no admin"
    );

    let code = f.accounts.admin_reset(&local, pupil.session.user).await.unwrap();
    assert!(f.accounts.authenticate(pupil.token.expose()).await.is_err());
    assert!(f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.1")).await.is_err());
    f.accounts.activate(&code.display(), STRONG2, None, None).await.unwrap();
    f.accounts.login(&f.login("lucas.martin", STRONG2, "10.0.0.1")).await.unwrap();
    assert_eq!(f.audit("account.admin.reset").await.len(), 1);
}

#[derive(Debug)]
struct FakeEduConnect;

#[async_trait]
impl IdentityProvider for FakeEduConnect {
    fn id(&self) -> &str {
        "educonnect"
    }

    async fn verify(&self, assertion: &str) -> ent::Result<ExternalIdentity> {
        let subject = assertion.strip_prefix("signed:").ok_or(ent::Error::Unauthenticated)?;
        Ok(ExternalIdentity {
            provider: "educonnect".into(),
            subject: format!("ec-{subject}"),
            attributes: [("FrEduCtRefId".to_owned(), vec![subject.to_owned()])].into(),
        })
    }

    fn directory_key(&self, identity: &ExternalIdentity) -> Option<(String, String)> {
        identity.attributes.get("FrEduCtRefId").and_then(|v| v.first()).map(|k| ("test".to_owned(), k.clone()))
    }
}

#[tokio::test]
async fn external_identities_map_to_directory_users() {
    let f = fixture().await;
    let accounts = f.accounts.clone().with_provider(Arc::new(FakeEduConnect));
    let opened = accounts.login_external("educonnect", "signed:pupil", None, None).await.unwrap();
    assert_eq!(opened.session.user, f.user("lucas.martin").await.id);
    // The link is stored: the second time needs no directory key.
    let mut tx = f.store.begin(TxMode::ReadOnly).await.unwrap();
    assert!(tx.get_record::<ExternalLink>(("educonnect", "ec-pupil")).await.unwrap().is_some());
    drop(tx);
    assert_eq!(
        accounts.login_external("educonnect", "forged", None, None).await.unwrap_err(),
        ent::Error::Unauthenticated
    );
    assert_eq!(
        accounts.login_external("educonnect", "signed:stranger", None, None).await.unwrap_err(),
        ent::Error::Unauthenticated
    );
    assert!(accounts.login_external("nope", "signed:pupil", None, None).await.is_err());
    assert_eq!(f.audit("account.login.external").await.len(), 1);
    assert_eq!(f.audit("account.login.external.failed").await.len(), 1);
}

#[tokio::test]
async fn a_person_in_two_structures_switches_with_a_new_token() {
    let f = fixture().await;
    // Give the head a second structure.
    let head = f.user("anne.proviseur").await;
    let b = f.user("bruno.ailleurs").await.affiliations[0].structure;
    let mut tx = f.store.begin(TxMode::ReadWrite).await.unwrap();
    let mut u = tx.fetch_record::<User>(head.id).await.unwrap();
    u.value.affiliations.push(Affiliation { structure: b, profile: Profile::Enseignant, functions: vec![] });
    tx.update_record(u.version, &u.value).await.unwrap();
    tx.commit().await.unwrap();
    let opened = f.activated("anne.proviseur").await;
    let switched = f.accounts.rotate(opened.token.expose(), Some(b)).await.unwrap();
    assert_eq!(switched.session.structure, b);
    assert_eq!(switched.session.profiles, [Profile::Enseignant]);
    assert!(f.accounts.authenticate(opened.token.expose()).await.is_err());
    let err = f.accounts.rotate(switched.token.expose(), Some(ent::core::id::StructureId::new())).await.unwrap_err();
    assert!(matches!(err, ent::Error::Forbidden { .. }), "not one of the person's structures: {err}");
}

#[tokio::test]
async fn every_bad_input_is_refused_with_its_audit_entry_and_changes_nothing_else() {
    let f = fixture().await;
    let opened = f.activated("lucas.martin").await;
    let user = f.user("lucas.martin").await;
    // Reused activation code, forged token, weak new password, bad reset code.
    assert_eq!(
        f.accounts.activate(&f.code("lucas.martin"), STRONG2, None, None).await.unwrap_err(),
        ent::Error::Unauthenticated
    );
    assert_eq!(f.accounts.authenticate(&"ab".repeat(32)).await.unwrap_err(), ent::Error::SessionExpired);
    assert!(f.accounts.change_password(opened.token.expose(), STRONG, "azerty").await.is_err());
    assert_eq!(f.accounts.reset_password(&"cd".repeat(32), STRONG2).await.unwrap_err(), ent::Error::Unauthenticated);
    // An expired code.
    f.clock.advance(Duration::days(200));
    assert!(f.accounts.activate(&f.code("anne.proviseur"), STRONG, None, None).await.is_err());
    for action in [
        "account.activation.refused",
        "account.session.refused",
        "account.password.change.refused",
        "account.reset.refused",
    ] {
        assert!(!f.audit(action).await.is_empty(), "{action} audited");
    }
    assert_eq!(f.audit("account.activation.refused").await.len(), 2);
    // Nothing else changed: the account, its password, its state.
    assert_eq!(f.user("lucas.martin").await, user);
    f.accounts.login(&f.login("lucas.martin", STRONG, "10.0.0.1")).await.expect("the password is unchanged");
}

#[tokio::test]
async fn refusals_can_be_audited_in_batches_off_the_request_path() {
    let f = fixture().await;
    let appender =
        Arc::new(ent::core::rights::AuditAppender::spawn(f.store.clone(), 1000, std::time::Duration::from_secs(1)));
    let accounts = f.accounts.clone().with_audit_appender(appender.clone());
    for _ in 0..20 {
        assert_eq!(accounts.authenticate(&"ef".repeat(32)).await.unwrap_err(), ent::Error::SessionExpired);
    }
    appender.flush().await.unwrap();
    assert_eq!(f.audit("account.session.refused").await.len(), 20);
}
