//! The web layer (feature `web`): HTTP tests of every route ([`http`]) and browser tests in headless
//! Chromium ([`browser`]). This module holds the site they share: a small school imported through the
//! apply path, one activated account per profile, the guestbook and a calendar module.

mod browser;
mod demo;
mod http;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use ent::core::Ent;
use ent::core::account::{AccountPolicy, Accounts};
use ent::core::clock::{Clock, ManualClock};
use ent::core::directory::{Contract, Function, PeriodKind, Profile, SchoolYear, StructureKind, Uai};
use ent::core::module::{Action, Context, Handlers, Manifest, ServiceModule};
use ent::core::rights::RightsEngine;
use ent::import::{
    ApplyOptions, Batch, ClassIn, Mode, ParentIn, PersonIn, PersonRef, StructureIn, SubjectIn, TeachingIn, UnitRef,
};
use ent::storage::memory::{MemoryBlobStore, MemoryStore};
use ent::web::{Portal, WebConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The password of every activated account of the site.
pub(crate) const PASSWORD: &str = ent::portal::DEMO_PASSWORD;

/// Largest upload of the site (small, to test the limit cheaply).
pub(crate) const MAX_UPLOAD: u64 = 64 * 1024;

/// A calendar module: one iCal feed of the caller's week.
struct Calendar;

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct Empty {}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct Week {
    events: Vec<Value>,
}

struct WeekAction;

#[async_trait]
impl Action for WeekAction {
    type Input = Empty;
    type Output = Week;
    const NAME: &'static str = "calendar.week";
    const RIGHT: &'static str = "calendar.read";
    const READ_ONLY: bool = true;
    async fn run(&self, ctx: &mut Context<'_>, _input: Empty) -> ent::Result<Week> {
        let who = ctx.caller().user_id().map(|u| u.to_string()).unwrap_or_default();
        Ok(Week {
            events: vec![json!({"uid": format!("{who}-1@calendar"), "start": "2026-11-30T08:00:00+01:00",
                "end": "2026-11-30T09:00:00+01:00", "summary": "Mathématiques, salle 12", "location": "Bâtiment B"})],
        })
    }
}

impl ServiceModule for Calendar {
    fn manifest(&self) -> Manifest {
        Manifest::new("calendar", "1.0.0")
            .right("calendar.read", "Read one's calendar", [Profile::Eleve, Profile::Enseignant])
            .action::<WeekAction>()
            .ical_feed("calendar.week", "Emploi du temps", "Timetable")
    }
    fn handlers(&self) -> Handlers {
        Handlers::new().action(WeekAction)
    }
}

/// A running site.
pub(crate) struct Site {
    pub(crate) app: Router,
    /// The store, to start another instance on it.
    pub(crate) store: Arc<MemoryStore>,
    pub(crate) clock: ManualClock,
    /// Logins by role: `pupil`, `sister`, `parent`, `teacher`, `head`, `admin`.
    pub(crate) logins: BTreeMap<&'static str, String>,
    /// The activation code of a pupil not yet activated (`newcomer`).
    pub(crate) newcomer_code: String,
}

fn person(key: &str, given: &str, family: &str, profile: Profile, functions: Vec<Function>) -> PersonIn {
    PersonIn {
        key: key.into(),
        given_name: given.into(),
        family_name: family.into(),
        birth_date: None,
        email: None,
        affiliations: vec![PersonRef { structure: "S".into(), profile, functions }],
        adult: false,
        disabled: false,
        units: vec![],
        teachings: vec![],
        parents: vec![],
        kept_parents: vec![],
        extra: Default::default(),
    }
}

/// A collège with two classes, a family of two pupils, another pupil, a teacher, the head, an administrator.
fn batch(year: SchoolYear) -> Batch {
    let uai = format!("0451234{}", Uai::check_letter("0451234").expect("digits"));
    let parent = ParentIn { parent: "P1".into(), legal: true, authority: true, priority: 1, financial: true };
    let mut pupil = person("E1", "Léa", "Martin", Profile::Eleve, vec![]);
    pupil.units = vec![UnitRef::Class("C3A".into())];
    pupil.parents = vec![parent.clone()];
    let mut sister = person("E2", "Inès", "Martin", Profile::Eleve, vec![]);
    sister.units = vec![UnitRef::Class("C5B".into())];
    sister.parents = vec![parent];
    let mut newcomer = person("E3", "Noé", "Lefèvre", Profile::Eleve, vec![]);
    newcomer.units = vec![UnitRef::Class("C3A".into())];
    let mut teacher = person("T1", "Hélène", "Roux", Profile::Enseignant, vec![]);
    teacher.teachings =
        vec![TeachingIn { unit: UnitRef::Class("C3A".into()), subject: "MATHS".into(), principal: true }];
    Batch {
        source: "test".into(),
        mode: Mode::Full { structures: vec!["S".into()] },
        year,
        structures: vec![StructureIn {
            key: "S".into(),
            uai,
            name: "Collège Jean Zay — Orléans".into(),
            kind: Some(StructureKind::College),
            contract: Some(Contract::Public),
            academie: Some("ORLEANS-TOURS".into()),
            time_zone: Some("Europe/Paris".into()),
            periods: Some(PeriodKind::Trimestres),
            extra: Default::default(),
        }],
        subjects: vec![SubjectIn {
            key: "MATHS".into(),
            structure: "S".into(),
            code: "061300".into(),
            label: "MATHEMATIQUES".into(),
        }],
        classes: vec![
            ClassIn { key: "C3A".into(), structure: "S".into(), name: "3A".into(), level: None },
            ClassIn { key: "C5B".into(), structure: "S".into(), name: "5B".into(), level: None },
        ],
        groups: vec![],
        people: vec![
            pupil,
            sister,
            newcomer,
            person("P1", "Sophie", "Martin", Profile::Responsable, vec![]),
            teacher,
            person("D1", "Marc", "Bernard", Profile::Direction, vec![Function::ChefEtablissement]),
            person("A1", "Dominique", "Admin", Profile::AdminLocal, vec![]),
        ],
        deleted_people: vec![],
        refused_people: vec![],
        changes: vec![],
        deleted_units: vec![],
        states_units: true,
    }
}

/// A site with the given account policy (the default one requires a second factor of the head and the
/// administrator; [`no_second_factor`] does not).
pub(crate) async fn site_with(policy: AccountPolicy) -> Site {
    let clock = ManualClock::at("2026-11-30T07:30:00Z".parse().expect("instant"));
    let store = Arc::new(MemoryStore::new());
    let clock_arc: Arc<dyn Clock> = Arc::new(clock.clone());
    let engine = RightsEngine::new(store.clone(), clock_arc.clone());
    let ent = Ent::builder(store.clone())
        .clock(clock_arc.clone())
        .authorizer(engine)
        .module(Portal)
        .module(guestbook::Guestbook)
        .module(Calendar)
        .build()
        .await
        .expect("assembly");
    let year = SchoolYear::containing(clock.now().date_naive());
    let report = ent::import::apply(&*store, &clock, &batch(year), &ApplyOptions::default()).await.expect("import");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let accounts = Accounts::new(store.clone(), clock_arc, policy);
    let mut logins = BTreeMap::new();
    let mut newcomer_code = String::new();
    for (role, key_login) in [
        ("pupil", "lea.martin"),
        ("sister", "ines.martin"),
        ("parent", "sophie.martin"),
        ("teacher", "helene.roux"),
        ("head", "marc.bernard"),
        ("admin", "dominique.admin"),
        ("newcomer", "noe.lefevre"),
    ] {
        let code = report.codes.iter().find(|c| c.login == key_login).unwrap_or_else(|| panic!("{key_login}"));
        if role == "newcomer" {
            newcomer_code = code.code.clone();
            continue;
        }
        let opened = accounts.activate(&code.code, PASSWORD, None, None).await.expect("activation");
        accounts.logout(opened.token.expose()).await.expect("logout");
        logins.insert(role, key_login.to_owned());
    }
    let config = WebConfig {
        max_upload_bytes: MAX_UPLOAD,
        blobs: Some(Arc::new(MemoryBlobStore::new(1 << 20, Arc::new(clock.clone())))),
        title: "ENT Jean Zay".into(),
        ..WebConfig::default()
    };
    let app = ent::web::router(ent.clone(), accounts, config).expect("router");
    Site { app, store, clock, logins, newcomer_code }
}

/// Another portal instance on the same store (as behind a load balancer): its own assembly, rights
/// engine, accounts service and router.
pub(crate) async fn second_instance(site: &Site) -> Router {
    let clock_arc: Arc<dyn Clock> = Arc::new(site.clock.clone());
    let engine = RightsEngine::new(site.store.clone(), clock_arc.clone());
    let ent = Ent::builder(site.store.clone())
        .clock(clock_arc.clone())
        .authorizer(engine)
        .module(Portal)
        .module(guestbook::Guestbook)
        .module(Calendar)
        .build()
        .await
        .expect("second assembly");
    let accounts = Accounts::new(site.store.clone(), clock_arc, no_second_factor());
    ent::web::router(ent, accounts, WebConfig::default()).expect("router")
}

/// An account policy without a required second factor.
pub(crate) fn no_second_factor() -> AccountPolicy {
    AccountPolicy { totp_required_for: vec![], ..AccountPolicy::default() }
}
