//! The rights engine on a generated school (a collège and a lycée through the demo feed): per profile, per
//! layer, across portal instances, the audit log, administrators' operations and their bad inputs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use ent::core::clock::{Clock, ManualClock};
use ent::core::directory::*;
use ent::core::module::{Action, Context, Handlers, Manifest};
use ent::core::rights::guard::{self, PupilFacts};
use ent::core::rights::share::{self, ShareLevel, ShareWith};
use ent::core::rights::{self as r, AuditQuery, Denial, Grantee, PupilDenial, Relation, RightsEngine, Source, version};
use ent::core::storage::{Record, Scan, Store, TxExt, TxMode};
use ent::core::{Caller, Ent, Error, GroupId, StructureId, SubjectId, UserId};
use ent::import::demo::{Demo, DemoConfig};
use ent::import::{ApplyOptions, Batch, apply};
use ent::storage::memory::MemoryStore;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::fixture::Custom;

pub(crate) const READ: &str = "school.grades.read";
pub(crate) const WRITE: &str = "school.grades.write";
pub(crate) const JUSTIFY: &str = "school.absence.justify";
pub(crate) const SEND: &str = "school.message.send";
pub(crate) const PUBLISH: &str = "school.report.publish";
pub(crate) const RIGHTS: [&str; 5] = [READ, WRITE, JUSTIFY, SEND, PUBLISH];

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub(crate) struct ReadGradesInput {
    pub(crate) pupil: UserId,
    pub(crate) subject: Option<SubjectId>,
}

/// A module action that reads a pupil's grades: the workflow right, then the guard (audited for staff).
pub(crate) struct ReadGrades;

#[async_trait]
impl Action for ReadGrades {
    type Input = ReadGradesInput;
    type Output = Option<String>;
    const NAME: &'static str = "school.read_grades";
    const RIGHT: &'static str = READ;
    const READ_ONLY: bool = true;
    async fn run(&self, ctx: &mut Context<'_>, input: ReadGradesInput) -> ent::Result<Option<String>> {
        let relation = ctx.read_pupil(input.pupil, input.subject).await?;
        Ok(relation.map(|r| format!("{r:?}")))
    }
}

pub(crate) fn school_module() -> Custom {
    use Profile::*;
    let manifest = Manifest::new("school", "1.0.0")
        .right(READ, "Read grades", [Eleve, Responsable, Enseignant, Direction, VieScolaire, AdminLocal, AdminCentral])
        .right(WRITE, "Write grades", [Enseignant])
        .right(JUSTIFY, "Justify absences", [Responsable, Eleve])
        .right(SEND, "Send messages", [Eleve, Responsable, Enseignant, Direction, VieScolaire, Documentaliste])
        .right(PUBLISH, "Publish report cards", [])
        .action::<ReadGrades>();
    Custom { manifest, handlers: Handlers::new().action(ReadGrades) }
}

/// A generated collège and lycée with an assembly over them, the rights engine plugged in, a local
/// administrator of the collège and a central administrator; and every directory record, for the tests'
/// own reasoning.
pub(crate) struct World {
    pub(crate) store: MemoryStore,
    pub(crate) clock: ManualClock,
    pub(crate) engine: Arc<RightsEngine>,
    pub(crate) ent: Ent,
    pub(crate) batches: Vec<Batch>,
    pub(crate) year: SchoolYear,
    pub(crate) college: StructureId,
    pub(crate) lycee: StructureId,
    pub(crate) admin_local: UserId,
    pub(crate) admin_central: UserId,
    pub(crate) users: Vec<User>,
    pub(crate) links: Vec<ParentLink>,
    pub(crate) memberships: Vec<Membership>,
    pub(crate) teachings: Vec<Teaching>,
    pub(crate) groups: Vec<Group>,
    pub(crate) classes: Vec<Class>,
}

pub(crate) async fn all<T: Record>(store: &MemoryStore) -> Vec<T> {
    let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let scan = Scan::primary(T::COLLECTION).limit(1000).after(cursor);
        let (page, next) = tx.scan_records::<T>(&scan).await.unwrap();
        out.extend(page.into_iter().map(|v| v.value));
        match next {
            Some(n) => cursor = Some(n),
            None => return out,
        }
    }
}

fn admin(login: &str, structure: StructureId, profile: Profile) -> User {
    User {
        id: UserId::new(),
        login: login.into(),
        given_name: "Admin".into(),
        family_name: login.into(),
        birth_date: None,
        email: None,
        affiliations: vec![Affiliation { structure, profile, functions: vec![] }],
        adult: false,
        state: AccountState::Active,
        sources: vec![],
        attributes: Default::default(),
    }
}

impl World {
    pub(crate) async fn load() -> World {
        let store = MemoryStore::new();
        let clock = ManualClock::at(Utc.with_ymd_and_hms(2026, 9, 7, 8, 0, 0).unwrap());
        let engine = RightsEngine::new(Arc::new(store.clone()), Arc::new(clock.clone()));
        let ent = Ent::builder(Arc::new(store.clone()))
            .clock(Arc::new(clock.clone()))
            .authorizer(engine.clone())
            .module(school_module())
            .build()
            .await
            .unwrap();
        let config = DemoConfig { ecoles: 0, colleges: 1, lycees: 1, ..DemoConfig::college() };
        let year = config.year;
        let batches: Vec<Batch> = Demo::new(config).batches().collect();
        for b in &batches {
            let report = apply(&store, &clock, b, &ApplyOptions::default()).await.unwrap();
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        }
        let structures = all::<Structure>(&store).await;
        let kind = |k| structures.iter().find(|s| s.kind == k).unwrap().id;
        let (college, lycee) = (kind(StructureKind::College), kind(StructureKind::Lycee));
        let local = admin("admin.local", college, Profile::AdminLocal);
        let central = admin("admin.central", lycee, Profile::AdminCentral);
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        tx.insert_record(&local).await.unwrap();
        tx.insert_record(&central).await.unwrap();
        tx.commit().await.unwrap();
        let mut world = World {
            store,
            clock,
            engine,
            ent,
            batches,
            year,
            college,
            lycee,
            admin_local: local.id,
            admin_central: central.id,
            users: vec![],
            links: vec![],
            memberships: vec![],
            teachings: vec![],
            groups: vec![],
            classes: vec![],
        };
        world.reload().await;
        world
    }

    /// Reads the directory again (after a change).
    pub(crate) async fn reload(&mut self) {
        self.users = all(&self.store).await;
        self.links = all(&self.store).await;
        self.memberships = all(&self.store).await;
        self.teachings = all(&self.store).await;
        self.groups = all(&self.store).await;
        self.classes = all(&self.store).await;
    }

    pub(crate) fn user(&self, id: UserId) -> &User {
        self.users.iter().find(|u| u.id == id).unwrap()
    }

    /// A caller acting in `structure` with the profiles the directory gives them there.
    pub(crate) fn caller(&self, id: UserId, structure: StructureId) -> Caller {
        let profiles: Vec<Profile> =
            self.user(id).affiliations.iter().filter(|a| a.structure == structure).map(|a| a.profile).collect();
        Caller::user(id, structure, profiles).with_origin("10.0.0.7")
    }

    /// The structure a user acts in by default: their first affiliation's.
    pub(crate) fn home(&self, id: UserId) -> StructureId {
        self.user(id).affiliations[0].structure
    }

    pub(crate) fn pupils_of(&self, structure: StructureId) -> Vec<&User> {
        self.users.iter().filter(|u| u.has_profile(structure, Profile::Eleve)).collect()
    }

    pub(crate) fn class_of(&self, pupil: UserId) -> Unit {
        self.memberships.iter().find(|m| m.user == pupil && matches!(m.unit, Unit::Class(_))).map(|m| m.unit).unwrap()
    }

    pub(crate) async fn facts(&self, pupil: UserId) -> PupilFacts {
        let mut tx = self.store.begin(TxMode::ReadOnly).await.unwrap();
        PupilFacts::load(&mut *tx, pupil, self.year).await.unwrap()
    }

    pub(crate) async fn rights(&self, user: UserId, structure: StructureId) -> Arc<r::EffectiveRights> {
        self.engine.rights(self.ent.registry(), user, structure).await.unwrap()
    }

    pub(crate) async fn can_read(&self, user: UserId, pupil: UserId, subject: Option<SubjectId>) -> bool {
        let caller = self.caller(user, self.home(user));
        self.ent.run::<ReadGrades>(&caller, ReadGradesInput { pupil, subject }).await.is_ok()
    }

    /// Disables an account as an administrator would: state and rights version in one transaction.
    pub(crate) async fn disable(&mut self, user: UserId) {
        let mut tx = self.store.begin(TxMode::ReadWrite).await.unwrap();
        let mut u = tx.fetch_record::<User>(user).await.unwrap();
        u.value.state = AccountState::Disabled { since: self.clock.now() };
        tx.update_record(u.version, &u.value).await.unwrap();
        version::bump_user(&mut *tx, user).await.unwrap();
        tx.commit().await.unwrap();
        self.reload().await;
    }

    pub(crate) async fn count(&self, collection: &str) -> u64 {
        let mut tx = self.store.begin(TxMode::ReadOnly).await.unwrap();
        tx.count(&Scan::primary(collection)).await.unwrap()
    }
}

/// A pupil of the collège with a responsable who has authority and one without, and their class.
fn family(w: &World) -> (UserId, UserId, UserId) {
    for pupil in w.pupils_of(w.college) {
        let links: Vec<&ParentLink> = w.links.iter().filter(|l| l.child == pupil.id).collect();
        let with = links.iter().find(|l| l.acts_for_child());
        let without = links.iter().find(|l| !l.acts_for_child());
        if let (Some(with), Some(without)) = (with, without) {
            return (pupil.id, with.parent, without.parent);
        }
    }
    panic!("the demo has pupils with a contact without authority");
}

#[tokio::test]
async fn each_profile_sees_only_what_its_relations_allow() {
    let mut w = World::load().await;
    let (pupil, parent, contact) = family(&w);
    let class = w.class_of(pupil);
    let classmate = w.memberships.iter().find(|m| m.unit == class && m.user != pupil).unwrap().user;
    let elsewhere = w.pupils_of(w.college).into_iter().find(|p| w.class_of(p.id) != class).unwrap().id;
    let lycee_pupil = w.pupils_of(w.lycee)[0].id;

    // Pupils: their own data only.
    assert!(w.can_read(pupil, pupil, None).await);
    assert!(!w.can_read(pupil, classmate, None).await);
    // Parents: their children with authority; a contact without authority sees nothing.
    assert!(w.can_read(parent, pupil, None).await);
    assert!(!w.can_read(parent, elsewhere, None).await);
    assert!(!w.can_read(contact, pupil, None).await);
    let why =
        w.engine.explain_pupil(w.ent.registry(), contact, w.home(contact), &w.facts(pupil).await, None).await.unwrap();
    assert!(matches!(why.denial, Some(PupilDenial::LinkWithoutAuthority { .. })), "{why:?}");

    // Teachers: their classes, and in a subject, only the subjects they teach (unless professeur principal).
    let t = w.teachings.iter().find(|t| t.unit == class && !t.principal).unwrap().clone();
    let principal_of_class = w.teachings.iter().any(|x| x.teacher == t.teacher && x.unit == class && x.principal);
    assert!(w.can_read(t.teacher, pupil, Some(t.subject)).await);
    let other_subject = w.teachings.iter().find(|x| x.unit == class && x.subject != t.subject).unwrap().subject;
    let teaches_other =
        w.teachings.iter().any(|x| x.teacher == t.teacher && x.unit == class && x.subject == other_subject);
    assert_eq!(w.can_read(t.teacher, pupil, Some(other_subject)).await, teaches_other || principal_of_class);
    let foreign = w
        .pupils_of(w.college)
        .into_iter()
        .find(|p| {
            let units: Vec<Unit> = w.memberships.iter().filter(|m| m.user == p.id).map(|m| m.unit).collect();
            !w.teachings.iter().any(|x| x.teacher == t.teacher && units.contains(&x.unit))
        })
        .unwrap()
        .id;
    assert!(!w.can_read(t.teacher, foreign, None).await);
    let rights = w.rights(t.teacher, w.college).await;
    assert!(guard::can_teach(&rights, class, t.subject));
    assert!(rights.holds(w.college, WRITE));

    // Direction: its structure only.
    let head = w.users.iter().find(|u| u.has_profile(w.college, Profile::Direction)).unwrap().id;
    assert!(w.can_read(head, pupil, None).await);
    assert!(w.can_read(head, elsewhere, None).await);
    assert!(!w.can_read(head, lycee_pupil, None).await);
    // Local administrators: their structure; central administrators: everywhere.
    assert!(w.can_read(w.admin_local, pupil, None).await);
    assert!(!w.can_read(w.admin_local, lycee_pupil, None).await);
    assert!(w.can_read(w.admin_central, pupil, None).await);
    assert!(w.can_read(w.admin_central, lycee_pupil, None).await);
    // A documentaliste holds no relation to pupils.
    let doc = w.users.iter().find(|u| u.has_profile(w.college, Profile::Documentaliste)).unwrap().id;
    assert!(
        w.ent.run::<ReadGrades>(&w.caller(doc, w.college), ReadGradesInput { pupil, subject: None }).await.is_err()
    );

    // Adult pupils act for themselves; minors do not, their parents do.
    let adult = w.users.iter().find(|u| u.adult).expect("the lycée has adult pupils").id;
    let adult_rights = w.rights(adult, w.lycee).await;
    assert!(guard::can_act_for_pupil(&adult_rights, &w.facts(adult).await));
    let minor = w.rights(pupil, w.college).await;
    assert!(!guard::can_act_for_pupil(&minor, &w.facts(pupil).await));
    assert!(guard::can_act_for_pupil(&*w.rights(parent, w.home(parent)).await, &w.facts(pupil).await));

    // A disabled account: nothing at all, from the next call on.
    w.disable(parent).await;
    assert!(!w.can_read(parent, pupil, None).await);
    let gone = w.rights(parent, w.home(parent)).await;
    assert!(!gone.is_active());
    for right in RIGHTS {
        assert!(!gone.holds(w.home(parent), right));
    }
    let err =
        w.ent.run::<ReadGrades>(&w.caller(parent, w.home(parent)), ReadGradesInput { pupil, subject: None }).await;
    assert_eq!(err.unwrap_err(), Error::forbidden(READ));
}

#[tokio::test]
async fn workflow_rights_follow_defaults_overrides_roles_and_functions() {
    let w = World::load().await;
    let admin = w.caller(w.admin_local, w.college);
    let rights = w.ent.rights().unwrap();
    let pupil = w.pupils_of(w.college)[0].id;
    let lycee_pupil = w.pupils_of(w.lycee)[0].id;

    // Defaults from the manifest.
    assert!(w.rights(pupil, w.college).await.holds(w.college, SEND));
    // Messaging withdrawn for the collège's pupils: the next call sees it; the lycée keeps it.
    rights.withdraw_default(&admin, w.college, SEND, Profile::Eleve).await.unwrap();
    assert!(!w.rights(pupil, w.college).await.holds(w.college, SEND));
    assert!(w.rights(lycee_pupil, w.lycee).await.holds(w.lycee, SEND));
    let why = rights.explain(&admin, pupil, w.college, SEND).await.unwrap();
    assert!(!why.held);
    assert_eq!(why.denials, vec![Denial::Withdrawn { profile: Profile::Eleve }]);
    assert!(rights.restore_default(&admin, w.college, SEND, Profile::Eleve).await.unwrap());
    assert!(w.rights(pupil, w.college).await.holds(w.college, SEND));

    // A role granted to a function: professeurs principaux publish report cards.
    let role =
        rights.create_role(&admin, Some(w.college), "conseil", "Report cards", vec![PUBLISH.into()]).await.unwrap();
    let principal = w
        .users
        .iter()
        .find(|u| {
            u.affiliations
                .iter()
                .any(|a| a.structure == w.college && a.functions.contains(&Function::ProfesseurPrincipal))
        })
        .unwrap()
        .id;
    let plain = w
        .users
        .iter()
        .find(|u| {
            u.affiliations
                .iter()
                .any(|a| a.structure == w.college && a.profile == Profile::Enseignant && a.functions.is_empty())
        })
        .unwrap()
        .id;
    assert!(!w.rights(principal, w.college).await.holds(w.college, PUBLISH));
    rights.grant(&admin, w.college, role, Grantee::Function(Function::ProfesseurPrincipal)).await.unwrap();
    assert!(w.rights(principal, w.college).await.holds(w.college, PUBLISH));
    assert!(!w.rights(plain, w.college).await.holds(w.college, PUBLISH));
    let why = rights.explain(&admin, principal, w.college, PUBLISH).await.unwrap();
    assert!(why.held);
    assert_eq!(
        why.sources,
        vec![Source::Role { role, name: "conseil".into(), grantee: Grantee::Function(Function::ProfesseurPrincipal) }]
    );
    let holders = rights.holders(&admin, w.college, PUBLISH).await.unwrap();
    assert!(holders.users.contains(&principal) && !holders.users.contains(&plain));
    assert!(holders.default_profiles.is_empty());

    // To a user by name, to a class's members.
    rights.grant(&admin, w.college, role, Grantee::User(plain)).await.unwrap();
    assert!(w.rights(plain, w.college).await.holds(w.college, PUBLISH));
    let Unit::Class(class) = w.class_of(pupil) else { unreachable!() };
    rights.grant(&admin, w.college, role, Grantee::Class(class)).await.unwrap();
    assert!(w.rights(pupil, w.college).await.holds(w.college, PUBLISH));
    // Revoked: gone on the next call.
    assert!(rights.revoke(&admin, w.college, role, Grantee::Class(class)).await.unwrap());
    assert!(!w.rights(pupil, w.college).await.holds(w.college, PUBLISH));
    // A grant in the collège gives nothing in the lycée.
    let teacher_in_both = w
        .users
        .iter()
        .find(|u| u.has_profile(w.college, Profile::Enseignant) && u.has_profile(w.lycee, Profile::Enseignant));
    if let Some(t) = teacher_in_both {
        rights.grant(&admin, w.college, role, Grantee::User(t.id)).await.unwrap();
        assert!(w.rights(t.id, w.college).await.holds(w.college, PUBLISH));
        assert!(!w.rights(t.id, w.lycee).await.holds(w.lycee, PUBLISH));
    }
    // Every change is in the audit log, with who and from where.
    let log = rights.audit_log(&admin, &AuditQuery { limit: 50, ..AuditQuery::default() }).await.unwrap();
    let grants: Vec<_> = log.iter().filter(|e| e.action == "rights.grant").collect();
    assert!(grants.len() >= 3);
    assert!(grants.iter().all(|e| e.actor.user_id() == Some(w.admin_local) && e.origin() == Some("10.0.0.7")));
    assert!(log.iter().any(|e| e.action == "rights.withdraw"));
}

#[tokio::test]
async fn a_change_takes_effect_on_the_next_call_on_every_instance() {
    let w = World::load().await;
    // A second portal instance over the same store, with its own cache.
    let other = RightsEngine::new(Arc::new(w.store.clone()), Arc::new(w.clock.clone()));
    let (pupil, parent, _) = family(&w);
    let facts = w.facts(pupil).await;
    let registry = w.ent.registry();
    let home = w.home(parent);
    assert!(guard::can_read_pupil(&other.rights(registry, parent, home).await.unwrap(), &facts));
    assert!(other.rights(registry, pupil, w.college).await.unwrap().holds(w.college, SEND));
    let compiled = other.compilations();
    // Warm: no compilation.
    other.rights(registry, pupil, w.college).await.unwrap();
    assert_eq!(other.compilations(), compiled);

    // An administrator changes grants through the first instance: the second sees it at once.
    let admin = w.caller(w.admin_local, w.college);
    w.ent.rights().unwrap().withdraw_default(&admin, w.college, SEND, Profile::Eleve).await.unwrap();
    assert!(!other.rights(registry, pupil, w.college).await.unwrap().holds(w.college, SEND));
    assert_eq!(other.compilations(), compiled, "a structure's change recompiles its workflow rights only");

    // The directory feed removes the parent's authority: the next call no longer lets them read.
    let mut batch = w
        .batches
        .iter()
        .find(|b| {
            b.people.iter().any(|p| {
                !p.parents.is_empty()
                    && w.user(parent).sources.iter().any(|s| p.parents.iter().any(|l| l.parent == s.key))
            })
        })
        .unwrap()
        .clone();
    let parent_key = w.user(parent).sources[0].key.clone();
    for p in &mut batch.people {
        for l in &mut p.parents {
            if l.parent == parent_key {
                l.authority = false;
            }
        }
    }
    apply(&w.store, &w.clock, &batch, &ApplyOptions::default()).await.unwrap();
    assert!(!guard::can_read_pupil(&other.rights(registry, parent, home).await.unwrap(), &facts));
    assert!(!guard::can_read_pupil(&*w.rights(parent, home).await, &facts));
}

#[tokio::test]
async fn staff_reads_are_audited_in_batches_parents_reads_are_not() {
    let w = World::load().await;
    let (pupil, parent, _) = family(&w);
    let class = w.class_of(pupil);
    let teacher = w.teachings.iter().find(|t| t.unit == class).unwrap().teacher;
    let before = w.count("ent.audit").await;
    assert!(w.can_read(teacher, pupil, None).await);
    assert!(w.can_read(parent, pupil, None).await);
    assert!(w.can_read(pupil, pupil, None).await);
    w.engine.flush().await.unwrap();
    let admin = w.caller(w.admin_local, w.college);
    let query = AuditQuery { target: Some(format!("pupil:{pupil}")), ..AuditQuery::default() };
    let log = w.ent.rights().unwrap().audit_log(&admin, &query).await.unwrap();
    assert_eq!(log.len(), 1, "only the teacher's read: {log:?}");
    assert_eq!(log[0].action, "pupil.read");
    assert_eq!(log[0].actor.user_id(), Some(teacher));
    assert_eq!(log[0].origin(), Some("10.0.0.7"));
    assert_eq!(log[0].structure, Some(w.college));
    assert_eq!(w.count("ent.audit").await, before + 1);
    // A local administrator of the collège cannot read the lycée's log; the attempt is itself audited.
    let err = w
        .ent
        .rights()
        .unwrap()
        .audit_log(&admin, &AuditQuery { structure: Some(w.lycee), ..AuditQuery::default() })
        .await
        .unwrap_err();
    assert_eq!(err, Error::forbidden(r::AUDIT_READ));
}

#[tokio::test(start_paused = true)]
async fn the_appender_flushes_within_a_second_without_being_asked() {
    let store = MemoryStore::new();
    store.declare(&ent::core::storage::core_collections()).await.unwrap();
    let appender = r::AuditAppender::spawn(Arc::new(store.clone()), 100, Duration::from_secs(1));
    let caller = Caller::user(UserId::new(), StructureId::new(), [Profile::Enseignant]);
    let entry =
        ent::core::audit::AuditEntry::new(Utc::now(), &caller, "pupil.read", "pupil:x", None, serde_json::json!({}));
    appender.append(entry).await.unwrap();
    let count = |store: MemoryStore| async move {
        let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
        tx.count(&Scan::primary("ent.audit")).await.unwrap()
    };
    assert_eq!(count(store.clone()).await, 0, "batched, not written on the request path");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(count(store.clone()).await, 1, "durable within a second");
}

#[tokio::test]
async fn the_audit_log_is_purged_after_a_year_by_a_job() {
    let w = World::load().await;
    let admin = w.caller(w.admin_local, w.college);
    let rights = w.ent.rights().unwrap();
    rights.withdraw_default(&admin, w.college, SEND, Profile::Eleve).await.unwrap();
    let old = w.count("ent.audit").await;
    assert!(old > 0);
    w.clock.advance(chrono::Duration::days(200));
    rights.restore_default(&admin, w.college, SEND, Profile::Eleve).await.unwrap();
    w.ent.run_due_jobs().await.unwrap();
    assert!(w.count("ent.audit").await > old, "nothing is a year old yet");
    w.clock.advance(chrono::Duration::days(200));
    w.ent.run_due_jobs().await.unwrap();
    let log = rights.audit_log(&admin, &AuditQuery { limit: 1000, ..AuditQuery::default() }).await.unwrap();
    assert!(log.iter().all(|e| e.action != "rights.withdraw"), "the entries of 400 days ago are gone");
    assert!(log.iter().any(|e| e.action == "rights.restore"), "those of 200 days ago stay");
}

#[tokio::test]
async fn bad_administrator_requests_are_refused_typed_unchanged_and_audited() {
    let w = World::load().await;
    let local = w.caller(w.admin_local, w.college);
    let central = w.caller(w.admin_central, w.lycee);
    let rights = w.ent.rights().unwrap();
    let role = rights.create_role(&local, Some(w.college), "vie", "", vec![JUSTIFY.into()]).await.unwrap();
    let state = async || {
        (w.count("ent.rights.roles").await, w.count("ent.rights.grants").await, w.count("ent.rights.withdrawals").await)
    };
    let before = state().await;
    let audit_before = w.count("ent.audit").await;
    let refusals = async || {
        let mut tx = w.store.begin(TxMode::ReadOnly).await.unwrap();
        let scan = Scan::primary("ent.audit").limit(1000);
        tx.scan_records::<ent::core::audit::AuditEntry>(&scan)
            .await
            .unwrap()
            .0
            .into_iter()
            .filter(|e| e.value.action == "rights.refused")
            .count()
    };

    // A structure that does not exist.
    let nowhere = StructureId::new();
    let e = rights.grant(&central, nowhere, role, Grantee::Profile(Profile::Eleve)).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    // A role with a right no module declares.
    let e = rights.create_role(&local, Some(w.college), "x", "", vec!["school.teleport".into()]).await.unwrap_err();
    assert_eq!(e, Error::UnknownRight { right: "school.teleport".into() });
    // A profile that does not exist, as the HTTP layer sends it.
    let json =
        format!(r#"{{"op":"grant","structure":"{}","role":"{role}","grantee":"profile:astronaute"}}"#, w.college);
    let e = rights.apply_json(&local, &json).await.unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    let json = format!(r#"{{"op":"withdraw","structure":"{}","right":"{SEND}","profile":"astronaute"}}"#, w.college);
    assert!(matches!(rights.apply_json(&local, &json).await.unwrap_err(), Error::Invalid { .. }));
    // A group that does not exist.
    let e = rights.grant(&local, w.college, role, Grantee::Group(GroupId::new())).await.unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    // A local administrator acting outside their structure.
    let e = rights.grant(&local, w.lycee, role, Grantee::Profile(Profile::Eleve)).await.unwrap_err();
    assert_eq!(e, Error::forbidden(r::MANAGE));
    let e = rights.withdraw_default(&local, w.lycee, SEND, Profile::Eleve).await.unwrap_err();
    assert_eq!(e, Error::forbidden(r::MANAGE));
    // A teacher is no administrator; an ent-wide role is for central administrators.
    let teacher = w.teachings[0].teacher;
    let e = rights.withdraw_default(&w.caller(teacher, w.home(teacher)), w.home(teacher), SEND, Profile::Eleve).await;
    assert_eq!(e.unwrap_err(), Error::forbidden(r::MANAGE));
    let e = rights.create_role(&local, None, "global", "", vec![SEND.into()]).await.unwrap_err();
    assert_eq!(e, Error::forbidden(r::MANAGE));
    // Withdrawing a default that does not exist.
    let e = rights.withdraw_default(&local, w.college, PUBLISH, Profile::Eleve).await.unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }));

    assert_eq!(state().await, before, "nothing changed");
    assert_eq!(refusals().await, 10, "every attempt audited");
    assert_eq!(w.count("ent.audit").await, audit_before + 10);
    // The central administrator acts everywhere.
    rights.grant(&central, w.lycee, role, Grantee::Profile(Profile::Eleve)).await.unwrap_err();
    let lycee_role = rights.create_role(&central, None, "partout", "", vec![JUSTIFY.into()]).await.unwrap();
    rights.grant(&central, w.lycee, lycee_role, Grantee::Profile(Profile::Documentaliste)).await.unwrap();
}

#[tokio::test]
async fn sharing_levels_reach_users_and_class_members() {
    let w = World::load().await;
    let pupil = w.pupils_of(w.college)[0].id;
    let Unit::Class(class) = w.class_of(pupil) else { unreachable!() };
    let owner = w.teachings.iter().find(|t| t.unit == Unit::Class(class)).unwrap().teacher;
    let colleague = w.teachings.iter().find(|t| t.teacher != owner).unwrap().teacher;
    let outsider = w.pupils_of(w.lycee)[0].id;
    let calendar = "school.calendar:1";
    let rights_of = async |u: UserId| w.rights(u, w.home(u)).await;
    let (o, p, c, x) =
        (rights_of(owner).await, rights_of(pupil).await, rights_of(colleague).await, rights_of(outsider).await);
    let mut tx = w.store.begin(TxMode::ReadWrite).await.unwrap();
    let tx = &mut *tx;
    // Only someone who manages may share.
    let e = share::share(tx, &p, calendar, Some(owner), ShareWith::User(outsider), ShareLevel::Read).await.unwrap_err();
    assert_eq!(e, Error::forbidden(format!("{calendar}:manage")));
    share::share(tx, &o, calendar, Some(owner), ShareWith::Class(class), ShareLevel::Read).await.unwrap();
    share::share(tx, &o, calendar, Some(owner), ShareWith::User(colleague), ShareLevel::Manage).await.unwrap();
    assert_eq!(share::level(tx, &p, calendar, Some(owner)).await.unwrap(), Some(ShareLevel::Read));
    assert!(share::check(tx, &p, calendar, Some(owner), ShareLevel::Contribute).await.is_err());
    assert_eq!(share::level(tx, &x, calendar, Some(owner)).await.unwrap(), None);
    // The colleague manages, so may share further.
    share::share(tx, &c, calendar, Some(owner), ShareWith::User(pupil), ShareLevel::Contribute).await.unwrap();
    assert_eq!(share::level(tx, &p, calendar, Some(owner)).await.unwrap(), Some(ShareLevel::Contribute));
    assert_eq!(share::shared_with(tx, &p, 100).await.unwrap().len(), 2);
    assert!(share::unshare(tx, &o, calendar, Some(owner), ShareWith::User(pupil)).await.unwrap());
    assert_eq!(share::level(tx, &p, calendar, Some(owner)).await.unwrap(), Some(ShareLevel::Read));
    assert!(ShareLevel::Read < ShareLevel::Contribute && ShareLevel::Contribute < ShareLevel::Manage);
    let _ = Relation::Own;
}
