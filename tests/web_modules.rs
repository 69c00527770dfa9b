//! The notes and messagerie pages of the reference portal (features `web`, `notes`, `messagerie`): the demo
//! content of `ent serve --demo` (every demo login finds grades and messages), the modules' declared pages
//! and assets over HTTP, and the pages in headless Chromium (a pupil's average, a teacher entering a grade,
//! a parent writing to a teacher who sees it unread then read), with screenshots and axe-core.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{Datelike, Timelike, Utc, Weekday};
use ent::core::Ent;
use ent::core::account::{AccountPolicy, Accounts};
use ent::core::clock::{Clock, ManualClock};
use ent::core::directory::{Contract, Function, PeriodKind, Profile, SchoolYear, StructureKind, Uai};
use ent::core::rights::RightsEngine;
use ent::demo_content::{DemoContent, seed_demo_content};
use ent::import::demo::DemoConfig;
use ent::import::{
    ApplyOptions, Batch, ClassIn, Mode, ParentIn, PersonIn, PersonRef, StructureIn, SubjectIn, TeachingIn, UnitRef,
};
use ent::modules::messagerie::Messagerie;
use ent::modules::notes::Notes;
use ent::portal::{DEMO_PASSWORD, DemoLogin};
use ent::storage::memory::{MemoryBlobStore, MemoryFullText, MemoryStore};
use ent::web::{Portal, WebConfig};
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The last school day at 10:00 UTC (11:00 in Paris) not after now: the messagerie's opening hours let
/// parents write then, and the browser's calendar (real time) shows the same period as the server's.
fn school_hours() -> ManualClock {
    let mut now = Utc::now().with_hour(10).and_then(|t| t.with_minute(0)).expect("10:00");
    if now > Utc::now() {
        now -= chrono::Duration::days(1);
    }
    while matches!(now.weekday(), Weekday::Sat | Weekday::Sun) {
        now -= chrono::Duration::days(1);
    }
    ManualClock::at(now)
}

/// A portal assembled as `ent serve` assembles it: the shell, notes and messagerie.
struct Portal3 {
    store: Arc<MemoryStore>,
    ent: Ent,
    messagerie: Messagerie,
    clock: ManualClock,
}

async fn assembly() -> Portal3 {
    let clock = school_hours();
    let store = Arc::new(MemoryStore::new());
    let clock_arc: Arc<dyn Clock> = Arc::new(clock.clone());
    let messagerie =
        Messagerie::new(Arc::new(MemoryBlobStore::new(1 << 20, clock_arc.clone())), Arc::new(MemoryFullText::new()));
    let ent = Ent::builder(store.clone())
        .clock(clock_arc.clone())
        .authorizer(RightsEngine::new(store.clone(), clock_arc))
        .module(Portal)
        .module(Notes)
        .module(messagerie.clone())
        .build()
        .await
        .expect("assembly");
    Portal3 { store, ent, messagerie, clock }
}

fn accounts(p: &Portal3) -> Accounts {
    Accounts::new(
        p.store.clone(),
        p.ent.clock().clone(),
        AccountPolicy { totp_required_for: vec![], ..Default::default() },
    )
}

fn router(p: &Portal3, accounts: Accounts) -> Router {
    let config = WebConfig {
        blobs: Some(Arc::new(MemoryBlobStore::new(1 << 20, Arc::new(p.clock.clone())))),
        title: "ENT".into(),
        ..WebConfig::default()
    };
    ent::web::router(p.ent.clone(), accounts, config).expect("router")
}

// ---- HTTP ---------------------------------------------------------------------------------------------------

/// A bearer client of the JSON API.
struct Api {
    app: Router,
    token: String,
}

async fn send(
    app: &Router,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path).header(header::HOST, "localhost:8080");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let mut req = req.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap();
    req.extensions_mut().insert(ConnectInfo("192.0.2.10:50000".parse::<SocketAddr>().unwrap()));
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

impl Api {
    async fn login(app: &Router, login: &str) -> Api {
        // The shell's page hands out the CSRF token that the login (a cookie-less POST) must echo.
        let req = Request::builder().uri("/").header(header::HOST, "localhost:8080").body(Body::empty()).unwrap();
        let page = app.clone().oneshot(req).await.unwrap();
        let csrf = page.headers().get_all(header::SET_COOKIE).iter().find_map(|c| {
            let c = c.to_str().unwrap();
            c.strip_prefix("__Host-ent-csrf=").map(|v| v.split(';').next().unwrap().to_owned())
        });
        let csrf = csrf.expect("the CSRF cookie");
        let body = json!({"login": login, "password": DEMO_PASSWORD, "bearer": true}).to_string();
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/auth/login")
            .header(header::HOST, "localhost:8080")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, format!("__Host-ent-csrf={csrf}"))
            .header("x-csrf-token", &csrf)
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .unwrap();
        req.extensions_mut().insert(ConnectInfo("192.0.2.10:50000".parse::<SocketAddr>().unwrap()));
        let response = app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::OK, "{login}: {body}");
        Api { app: app.clone(), token: body["token"].as_str().expect("a bearer token").to_owned() }
    }
    async fn call(&self, action: &str, input: Value) -> Value {
        let path = format!("/api/v1/{}", action.replacen('.', "/", 1));
        let (status, body) = send(&self.app, Method::POST, &path, Some(&self.token), Some(input)).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
        body
    }
    async fn me(&self) -> Value {
        send(&self.app, Method::GET, "/api/v1/me", Some(&self.token), None).await.1
    }
}

/// The current period's index, as the pages choose it.
async fn current_period(api: &Api, today: chrono::NaiveDate) -> u8 {
    let periods = api.call("notes.periods", json!({})).await;
    let list = periods.as_array().expect("periods");
    let today = today.to_string();
    let p = list
        .iter()
        .find(|p| p["start"].as_str().unwrap() <= today.as_str() && today.as_str() <= p["end"].as_str().unwrap())
        .unwrap_or(&list[0]);
    p["index"].as_u64().unwrap() as u8
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_login_finds_grades_and_messages() {
    let p = assembly().await;
    let accounts = accounts(&p);
    let logins = ent::portal::load_demo(&p.ent, &accounts, &DemoConfig::college()).await.expect("demo");
    let seeded = seed_demo_content(p.store.clone(), p.messagerie.clone(), &logins, p.clock.now()).await.expect("seed");
    assert!(seeded.evaluations >= 20 && seeded.grades >= 400 && seeded.messages >= 5, "{seeded:?}");
    p.ent.run_pending_events().await.expect("the search index");
    let app = router(&p, accounts);
    let login = |profile| logins.iter().find(|l| l.profile == profile).unwrap().login.clone();
    let today = p.clock.now().date_naive();

    // The pupil: an overall average this period, messages unread.
    let pupil = Api::login(&app, &login(Profile::Eleve)).await;
    let period = current_period(&pupil, today).await;
    let view = pupil.call("notes.pupil_period", json!({"period": period})).await;
    assert!(view["general"]["shown"].is_string(), "{}", view["general"]);
    assert!(view["subjects"].as_array().unwrap().iter().filter(|s| s["average"].is_object()).count() >= 5);
    assert!(pupil.call("messagerie.unread", json!({})).await["inbox"].as_i64().unwrap() >= 1);

    // The parent: each child's period has grades; the teacher's message and the vie scolaire's.
    let parent = Api::login(&app, &login(Profile::Responsable)).await;
    let children = parent.call("notes.children_period", json!({"period": period})).await;
    assert!(children.as_array().unwrap().len() >= 2);
    for c in children.as_array().unwrap() {
        assert!(c["period"]["general"]["shown"].is_string(), "{c}");
    }
    let inbox = parent.call("messagerie.list", json!({"folder": "inbox"})).await;
    let subjects: Vec<&str> =
        inbox["entries"].as_array().unwrap().iter().map(|e| e["subject"].as_str().unwrap()).collect();
    assert!(subjects.contains(&"Sortie au musée des Beaux-Arts jeudi"), "{subjects:?}");
    assert!(subjects.contains(&"Photo de classe mardi prochain"), "{subjects:?}");
    let sent = parent.call("messagerie.list", json!({"folder": "sent"})).await;
    assert_eq!(sent["entries"][0]["subject"], "RE : Sortie au musée des Beaux-Arts jeudi");
    let found = parent.call("messagerie.search", json!({"query": "musee"})).await;
    assert!(!found["entries"].as_array().unwrap().is_empty(), "the search index has the demo messages");

    // The teacher: teachings to choose from, a grid with grades, the vie scolaire's message.
    let teacher = Api::login(&app, &login(Profile::Enseignant)).await;
    let teachings = teacher.call("notes.my_teachings", json!({})).await;
    let first = &teachings[0];
    let grid = teacher
        .call(
            "notes.teacher_grid",
            json!({"unit": first["unit"]["unit"], "subject": first["subject"]["id"], "period": period}),
        )
        .await;
    assert!(grid["evaluations"].as_array().unwrap().len() >= 2, "{}", grid["evaluations"]);
    assert!(grid["pupils"][0]["average"].is_object() || grid["pupils"][1]["average"].is_object());
    let inbox = teacher.call("messagerie.list", json!({"folder": "inbox"})).await;
    assert!(
        inbox["entries"].as_array().unwrap().iter().any(|e| e["subject"] == "Conseils de classe : saisie des notes")
    );

    // The head: every class to choose from, a class's averages, the vie scolaire's report.
    let head = Api::login(&app, &login(Profile::Direction)).await;
    let units = head.call("notes.my_classes", json!({})).await;
    let classes = units["classes"].as_array().unwrap();
    assert!(classes.len() >= 10, "{}", classes.len());
    let pupil_class = view["class"]["unit"]["id"].clone();
    let table = head.call("notes.class_averages", json!({"class": pupil_class, "period": period})).await;
    assert!(table["general"]["mean"]["shown"].is_string(), "{}", table["general"]);
    let unread = head.call("messagerie.unread", json!({})).await;
    assert!(unread["inbox"].as_i64().unwrap() >= 1);

    // The pages each of them is offered, and their files.
    let me = pupil.me().await;
    let pages: Vec<&str> = me["pages"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert!(pages.contains(&"notes.grades") && pages.contains(&"messagerie.mail"), "{pages:?}");
    let widgets: Vec<&str> = me["widgets"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert!(widgets.contains(&"notes.latest") && widgets.contains(&"messagerie.latest"), "{widgets:?}");
    let nav = |me: &Value| -> Vec<String> {
        me["nav"].as_array().unwrap().iter().map(|n| n["page"].as_str().unwrap().to_owned()).collect()
    };
    assert!(nav(&teacher.me().await).contains(&"notes.grid".to_owned()));
    assert!(!nav(&teacher.me().await).contains(&"notes.grades".to_owned()));
    assert!(nav(&head.me().await).contains(&"notes.classes".to_owned()));
    for (path, media) in [
        ("/assets/modules/notes/web/notes.js", "text/javascript"),
        ("/assets/modules/notes/web/notes.css", "text/css"),
        ("/assets/modules/messagerie/web/messagerie.js", "text/javascript"),
        ("/assets/modules/messagerie/web/messagerie.css", "text/css"),
    ] {
        let req = Request::builder().uri(path).header(header::HOST, "localhost:8080").body(Body::empty()).unwrap();
        let response = app.clone().oneshot(req).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let ct = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
        assert!(ct.starts_with(media), "{path}: {ct}");
    }
    let (status, _) = send(&app, Method::GET, "/assets/modules/notes/web/missing.js", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Seeding again changes nothing.
    let again = seed_demo_content(p.store.clone(), p.messagerie.clone(), &logins, p.clock.now()).await.unwrap();
    assert_eq!(again, DemoContent::default());
}

#[tokio::test]
async fn my_classes_offers_each_person_the_classes_they_may_open() {
    let p = assembly().await;
    let site = small_school(&p).await;
    let names = |v: Value| -> Vec<String> {
        v["classes"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
    };
    let admin = Api::login(&site.app, "dominique.admin").await;
    assert_eq!(names(admin.call("notes.my_classes", json!({})).await), ["3A", "5B"], "staff: every class");
    let head = Api::login(&site.app, "marc.bernard").await;
    assert_eq!(names(head.call("notes.my_classes", json!({})).await), ["3A", "5B"]);
    let principal = Api::login(&site.app, "helene.roux").await;
    assert_eq!(
        names(principal.call("notes.my_classes", json!({})).await),
        ["3A"],
        "the class she is professeur principal of"
    );
    let pupil = Api::login(&site.app, "lea.martin").await;
    assert!(names(pupil.call("notes.my_classes", json!({})).await).is_empty());
    let (status, body) =
        send(&site.app, Method::POST, "/api/v1/notes/my_classes", Some(&admin.token), Some(json!({"year": "x"}))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input")));
    let (status, body) =
        send(&site.app, Method::POST, "/api/v1/notes/my_classes", Some("not-a-token"), Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

// ---- a small school for the browser ------------------------------------------------------------------------

struct Site {
    app: Router,
    /// The event and job workers, as `ent serve` runs them (the mail search index is written by one).
    _workers: ent::core::ent::Workers,
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

/// A collège: 3A (Léa Martin and four classmates) and 5B (her sister Inès), their mother Sophie, Hélène Roux
/// (maths in 3A, professeur principal) and Paul Garnier (French in 3A and 5B), a CPE, the head, an admin.
fn batch(year: SchoolYear) -> Batch {
    let uai = format!("0451234{}", Uai::check_letter("0451234").expect("digits"));
    let parent = ParentIn { parent: "P1".into(), legal: true, authority: true, priority: 1, financial: true };
    let mut people = vec![];
    let mut lea = person("E1", "Léa", "Martin", Profile::Eleve, vec![]);
    lea.units = vec![UnitRef::Class("C3A".into())];
    lea.parents = vec![parent.clone()];
    let mut ines = person("E2", "Inès", "Martin", Profile::Eleve, vec![]);
    ines.units = vec![UnitRef::Class("C5B".into())];
    ines.parents = vec![parent];
    people.extend([lea, ines]);
    for (i, (given, family)) in
        [("Noé", "Lefèvre"), ("Jade", "Moreau"), ("Hugo", "Petit"), ("Lina", "Girard")].into_iter().enumerate()
    {
        let mut p = person(&format!("E{}", i + 3), given, family, Profile::Eleve, vec![]);
        p.units = vec![UnitRef::Class(if i < 3 { "C3A" } else { "C5B" }.into())];
        people.push(p);
    }
    let mut maths = person("T1", "Hélène", "Roux", Profile::Enseignant, vec![]);
    maths.teachings = vec![TeachingIn { unit: UnitRef::Class("C3A".into()), subject: "MATHS".into(), principal: true }];
    let mut french = person("T2", "Paul", "Garnier", Profile::Enseignant, vec![]);
    french.teachings = vec![
        TeachingIn { unit: UnitRef::Class("C3A".into()), subject: "FRANC".into(), principal: false },
        TeachingIn { unit: UnitRef::Class("C5B".into()), subject: "FRANC".into(), principal: false },
    ];
    people.extend([
        person("P1", "Sophie", "Martin", Profile::Responsable, vec![]),
        maths,
        french,
        person("V1", "Karim", "Benali", Profile::VieScolaire, vec![Function::Cpe]),
        person("D1", "Marc", "Bernard", Profile::Direction, vec![Function::ChefEtablissement]),
        person("A1", "Dominique", "Admin", Profile::AdminLocal, vec![]),
    ]);
    let subject = |key: &str, code: &str, label: &str| SubjectIn {
        key: key.into(),
        structure: "S".into(),
        code: code.into(),
        label: label.into(),
    };
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
        subjects: vec![subject("MATHS", "061300", "MATHEMATIQUES"), subject("FRANC", "020700", "FRANCAIS")],
        classes: vec![
            ClassIn { key: "C3A".into(), structure: "S".into(), name: "3A".into(), level: None },
            ClassIn { key: "C5B".into(), structure: "S".into(), name: "5B".into(), level: None },
        ],
        groups: vec![],
        people,
        deleted_people: vec![],
        refused_people: vec![],
        changes: vec![],
        deleted_units: vec![],
        states_units: true,
    }
}

/// The small school with one activated account per role and the demo's grades and messages.
async fn small_school(p: &Portal3) -> Site {
    let year = SchoolYear::containing(p.clock.now().date_naive());
    let report = ent::import::apply(&*p.store, &p.clock, &batch(year), &ApplyOptions::default()).await.expect("import");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let accounts = accounts(p);
    let mut logins = vec![];
    for (profile, login, name) in [
        (Profile::Eleve, "lea.martin", "Léa Martin"),
        (Profile::Responsable, "sophie.martin", "Sophie Martin"),
        (Profile::Enseignant, "helene.roux", "Hélène Roux"),
        (Profile::Direction, "marc.bernard", "Marc Bernard"),
        (Profile::AdminLocal, "dominique.admin", "Dominique Admin"),
    ] {
        let code = report.codes.iter().find(|c| c.login == login).unwrap_or_else(|| panic!("{login}"));
        let opened = accounts.activate(&code.code, DEMO_PASSWORD, None, None).await.expect("activation");
        accounts.logout(opened.token.expose()).await.expect("logout");
        logins.push(DemoLogin {
            profile,
            login: login.into(),
            display_name: name.into(),
            password: DEMO_PASSWORD.into(),
        });
    }
    let seeded = seed_demo_content(p.store.clone(), p.messagerie.clone(), &logins, p.clock.now()).await.expect("seed");
    assert!(seeded.evaluations >= 6 && seeded.messages >= 4, "{seeded:?}");
    p.ent.run_pending_events().await.expect("events");
    Site { app: router(p, accounts), _workers: p.ent.spawn_workers(Duration::from_millis(100)) }
}

// ---- the browser -------------------------------------------------------------------------------------------

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const AXE: &str = include_str!("web/vendor/axe.min.js");
const WAIT: Duration = Duration::from_secs(20);

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await });
    addr
}

async fn browser() -> (tokio::process::Child, Client, tempfile::TempDir) {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "the browser tests need Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let driver = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let profile = tempfile::tempdir().expect("profile folder");
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        &format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), json!({"binary": CHROMIUM, "args": args}));
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a browser session");
    (driver, client, profile)
}

async fn until(c: &Client, what: &str, script: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = c.execute(&format!("return !!({script});"), vec![]).await.expect("script");
        if v == json!(true) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let body = c.execute("return document.body.innerText", vec![]).await.unwrap_or_default();
            panic!("timed out waiting for {what}; the page says: {body}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text(c: &Client, script: &str) -> String {
    c.execute(&format!("return {script};"), vec![]).await.expect("script").as_str().unwrap_or("").to_owned()
}

async fn fill(c: &Client, css: &str, value: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}"));
    e.clear().await.expect("clear");
    e.send_keys(value).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}")).click().await.expect("click");
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{name}: a real picture");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
}

/// axe-core (WCAG 2.1 A and AA, best practices): no serious or critical violation.
async fn accessible(c: &Client, page: &str) {
    c.execute(&format!("{AXE}\nreturn true;"), vec![]).await.expect("axe injected");
    let script = r#"const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
          .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                 targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))
          .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), targets: []}]));"#;
    let violations = c.execute_async(script, vec![]).await.expect("axe ran");
    let serious: Vec<&Value> = violations
        .as_array()
        .expect("a list")
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "{page}: accessibility violations: {serious:#?}");
}

async fn login(c: &Client, base: &str, login: &str, first: &str) {
    c.goto(&format!("{base}/#/login")).await.expect("goto");
    until(c, "the login form", "document.querySelector('#login') !== null").await;
    fill(c, "#login", login).await;
    fill(c, "#password", DEMO_PASSWORD).await;
    click(c, "button[type=submit]").await;
    until(c, "the home page", &format!("document.querySelector('main h1')?.textContent === 'Bonjour {first}'")).await;
    until(
        c,
        "every widget rendered",
        "[...document.querySelectorAll('section.widget')].every(s => s.lastElementChild.childElementCount > 0)",
    )
    .await;
}

async fn logout(c: &Client) {
    click(c, "button.logout").await;
    until(c, "the login form", "document.querySelector('#login') !== null").await;
}

async fn open(c: &Client, page: &str) {
    click(c, &format!("nav a[href='#/{page}']")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grades_and_mail_pages_in_chromium() {
    let p = assembly().await;
    let site = small_school(&p).await;
    let addr = serve(site.app.clone()).await;
    let base = format!("http://localhost:{}", addr.port());
    let (_driver, c, _profile) = browser().await;

    // The pupil: the widgets of the latest grades and of the mail, then the grades page with an average.
    login(&c, &base, "lea.martin", "Léa").await;
    until(&c, "the latest grades", "document.querySelectorAll('notes-latest li').length > 0").await;
    until(
        &c,
        "the unread count",
        "Number(document.querySelector('messagerie-latest [data-unread]')?.dataset.unread) >= 1",
    )
    .await;
    accessible(&c, "home of a pupil with grades and mail").await;
    screenshot(&c, "notes-home-pupil").await;
    open(&c, "notes.grades").await;
    until(&c, "the overall average", "/^\\d+,\\d+$/.test(document.querySelector('[data-general]')?.textContent ?? '')")
        .await;
    let subjects =
        text(&c, "[...document.querySelectorAll('.notes-subject h2')].map(h => h.textContent).join('|')").await;
    assert!(subjects.contains("FRANCAIS") && subjects.contains("MATHEMATIQUES"), "{subjects}");
    assert_eq!(text(&c, "document.querySelector('notes-grades h1').textContent").await, "Mes notes");
    click(&c, "button.lang").await;
    until(&c, "the page in English", "document.querySelector('notes-grades h1')?.textContent === 'My grades'").await;
    until(
        &c,
        "the English average",
        "/^\\d+\\.\\d+$/.test(document.querySelector('[data-general]')?.textContent ?? '')",
    )
    .await;
    click(&c, "button.lang").await;
    until(&c, "the page in French", "document.querySelector('notes-grades h1')?.textContent === 'Mes notes'").await;
    accessible(&c, "grades of a pupil").await;
    screenshot(&c, "notes-grades-pupil").await;
    c.set_window_size(390, 844).await.expect("phone size");
    until(&c, "the phone layout", "getComputedStyle(document.querySelector('button.menu')).display !== 'none'").await;
    let overflow =
        c.execute("return document.documentElement.scrollWidth <= window.innerWidth + 1", vec![]).await.unwrap();
    assert_eq!(overflow, json!(true), "the grades page fits a phone's width");
    screenshot(&c, "notes-grades-pupil-phone").await;
    c.set_window_size(1280, 900).await.expect("desktop size");

    // The pupil writes to her class's parents and her maths teacher: the preview excludes the parents, with
    // the reason, and the message goes to the teacher alone once she confirms.
    open(&c, "messagerie.mail").await;
    until(&c, "the mailbox", "document.querySelector('.mail-write') !== null").await;
    click(&c, ".mail-write").await;
    let pick = |label: &str| {
        format!(
            "const s = document.querySelector('#mail-who'); s.value = [...s.options].find(o => o.dataset.label === {label:?}).value; \
             document.querySelector('.mail-picker .mail-pick-row button').click();"
        )
    };
    until(&c, "the picker", "document.querySelector('#mail-who option[data-label=\"Hélène Roux\"]') !== null").await;
    c.execute(&pick("3A — les parents"), vec![]).await.unwrap();
    c.execute(&pick("Hélène Roux"), vec![]).await.unwrap();
    until(&c, "the exclusion", "document.querySelector('.mail-excluded li[data-reason]') !== null && document.querySelector('[data-allowed]')?.dataset.allowed === '1'").await;
    let excluded = text(&c, "document.querySelector('.mail-excluded').innerText").await;
    assert!(excluded.contains("3A — parents") || excluded.contains("parents"), "{excluded}");
    fill(&c, "#mail-subject", "Exposé de mathématiques").await;
    fill(&c, "#mail-body", "Bonjour Madame, voici le plan de notre exposé.").await;
    accessible(&c, "a preview with an exclusion").await;
    screenshot(&c, "messagerie-compose-excluded-pupil").await;
    click(&c, ".mail-compose button[type=submit]").await;
    until(
        &c,
        "the confirmation asked",
        "document.querySelector('.mail-status .notice.error')?.textContent.includes('cochez la case')",
    )
    .await;
    click(&c, "#mail-only-allowed").await;
    click(&c, ".mail-compose button[type=submit]").await;
    until(
        &c,
        "sent to the teacher alone",
        "document.querySelector('.notice.success')?.textContent.startsWith('Message envoyé à 1')",
    )
    .await;
    logout(&c).await;

    // The teacher enters a grade in the grid, then creates an evaluation.
    login(&c, &base, "helene.roux", "Hélène").await;
    open(&c, "notes.grid").await;
    until(
        &c,
        "the grid",
        "document.querySelector('.notes-grid tbody tr') !== null && document.querySelector('#notes-mark-0') !== null",
    )
    .await;
    accessible(&c, "grid of a teacher").await;
    screenshot(&c, "notes-grid-teacher").await;
    let pupil = text(&c, "document.querySelector('label[for=notes-mark-0]').textContent").await;
    fill(&c, "#notes-mark-0", "17,5").await;
    fill(&c, "#notes-mark-1", "treize").await;
    click(&c, "form.notes-entry button[type=submit]").await;
    until(&c, "the refusal", "document.querySelector('#notes-mark-1')?.getAttribute('aria-invalid') === 'true'").await;
    fill(&c, "#notes-mark-1", "Abs").await;
    click(&c, "form.notes-entry button[type=submit]").await;
    until(
        &c,
        "the saved grades",
        "document.querySelector('.notice.success')?.textContent.startsWith('Notes enregistrées')",
    )
    .await;
    let row = text(&c, &format!("[...document.querySelectorAll('.notes-grid tbody tr')].find(r => r.querySelector('th').textContent === {pupil:?}).innerText")).await;
    assert!(row.contains("17,5/20"), "{row}");
    fill(&c, "#notes-new-title", "Géométrie dans l’espace").await;
    click(&c, "form.notes-new button[type=submit]").await;
    until(&c, "the new evaluation", "[...document.querySelectorAll('.notes-grid thead th')].some(th => th.textContent.includes('Géométrie dans l’espace'))").await;
    screenshot(&c, "notes-grid-teacher-entered").await;
    logout(&c).await;

    // The head: the class averages.
    login(&c, &base, "marc.bernard", "Marc").await;
    open(&c, "notes.classes").await;
    until(&c, "the class table", "document.querySelectorAll('.notes-grid tbody tr').length >= 3").await;
    accessible(&c, "class averages").await;
    screenshot(&c, "notes-classes-head").await;
    logout(&c).await;

    // The parent writes to the maths teacher: the preview says who receives it, then it is sent.
    login(&c, &base, "sophie.martin", "Sophie").await;
    open(&c, "notes.grades").await;
    until(&c, "the child's grades", "document.querySelector('notes-grades h1')?.textContent.startsWith('Notes de')")
        .await;
    accessible(&c, "grades of a parent's child").await;
    screenshot(&c, "notes-grades-parent").await;
    open(&c, "messagerie.mail").await;
    until(&c, "the inbox", "document.querySelector('.mail-list .mail-open') !== null").await;
    accessible(&c, "mailbox of a parent").await;
    screenshot(&c, "messagerie-inbox-parent").await;
    c.set_window_size(390, 844).await.expect("phone size");
    until(&c, "the phone layout", "getComputedStyle(document.querySelector('button.menu')).display !== 'none'").await;
    let fits = c.execute("return document.documentElement.scrollWidth <= window.innerWidth + 1", vec![]).await.unwrap();
    let wide = text(&c, "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className).slice(0, 5).join(' ')").await;
    assert_eq!(fits, json!(true), "the mail page fits a phone's width: {wide}");
    screenshot(&c, "messagerie-inbox-parent-phone").await;
    c.set_window_size(1280, 900).await.expect("desktop size");
    click(&c, ".mail-write").await;
    until(&c, "the picker", "document.querySelector('#mail-who option[data-label=\"Hélène Roux\"]') !== null").await;
    c.execute(
        "const s = document.querySelector('#mail-who'); s.value = [...s.options].find(o => o.dataset.label === 'Hélène Roux').value;",
        vec![],
    )
    .await
    .unwrap();
    click(&c, ".mail-picker .mail-pick-row button").await;
    until(&c, "the preview", "document.querySelector('[data-allowed]')?.dataset.allowed === '1'").await;
    let dir = tempfile::tempdir().expect("a folder");
    let file = dir.path().join("justificatif.txt");
    std::fs::write(&file, "Absence de Léa le 12 novembre : rendez-vous médical.").expect("a file");
    let field = c.find(Locator::Css("#mail-files")).await.expect("the file field");
    field.send_keys(&file.display().to_string()).await.expect("attach");
    until(
        &c,
        "the attached file",
        "document.querySelector('.mail-files .mail-chip')?.textContent.includes('justificatif.txt')",
    )
    .await;
    fill(&c, "#mail-subject", "Rendez-vous").await;
    fill(&c, "#mail-body", "Bonjour Madame Roux,\n\nPourrions-nous nous voir jeudi ?\n\nSophie Martin").await;
    click(&c, ".mail-save-draft").await;
    until(&c, "the draft saved", "document.querySelector('.notice.success')?.textContent === 'Brouillon enregistré'")
        .await;
    until(
        &c,
        "the drafts' count",
        "document.querySelector('.mail-folder[data-folder=drafts] .mail-count')?.textContent === '1'",
    )
    .await;
    // Reopened from the drafts, it comes back whole: recipients, subject, text, file.
    click(&c, ".mail-folder[data-folder=drafts]").await;
    until(&c, "the draft listed", "document.querySelector('.mail-draft .mail-open') !== null").await;
    click(&c, ".mail-draft .mail-open").await;
    until(&c, "the draft reopened", "document.querySelector('#mail-subject')?.value === 'Rendez-vous'").await;
    until(
        &c,
        "its recipient",
        "document.querySelector('.mail-picker .mail-chip')?.textContent.includes('Hélène Roux')",
    )
    .await;
    until(&c, "its file", "document.querySelector('.mail-files .mail-chip')?.textContent.includes('justificatif.txt')")
        .await;
    assert!(text(&c, "document.querySelector('#mail-body').value").await.contains("Pourrions-nous nous voir jeudi ?"));
    until(&c, "the preview", "document.querySelector('[data-allowed]')?.dataset.allowed === '1'").await;
    accessible(&c, "writing a message").await;
    screenshot(&c, "messagerie-compose-parent").await;
    click(&c, ".mail-compose button[type=submit]").await;
    until(
        &c,
        "the message sent",
        "document.querySelector('.notice.success')?.textContent.startsWith('Message envoyé à 1')",
    )
    .await;
    until(
        &c,
        "the draft gone with the sending",
        "document.querySelector('.mail-folder[data-folder=drafts] .mail-count') === null",
    )
    .await;
    logout(&c).await;

    // The teacher sees it unread, opens it, and it is read.
    login(&c, &base, "helene.roux", "Hélène").await;
    open(&c, "messagerie.mail").await;
    until(
        &c,
        "the unread message",
        "[...document.querySelectorAll('.mail-item.unread')].some(li => li.textContent.includes('Rendez-vous'))",
    )
    .await;
    let badge =
        text(&c, "document.querySelector('.mail-folder[data-folder=inbox] .mail-badge')?.textContent ?? ''").await;
    assert!(badge.parse::<u32>().unwrap() >= 1, "{badge}");
    screenshot(&c, "messagerie-inbox-teacher").await;
    c.execute("[...document.querySelectorAll('.mail-item')].find(li => li.textContent.includes('Rendez-vous')).querySelector('button').click()", vec![])
        .await
        .unwrap();
    until(&c, "the message", "document.querySelector('.mail-message h2')?.textContent === 'Rendez-vous'").await;
    assert!(
        text(&c, "document.querySelector('.mail-body').textContent").await.contains("Pourrions-nous nous voir jeudi ?")
    );
    assert!(text(&c, "document.querySelector('.mail-message').innerText").await.contains("justificatif.txt"));
    accessible(&c, "reading a message").await;
    screenshot(&c, "messagerie-read-teacher").await;
    click(&c, ".mail-back").await;
    until(&c, "the message read", "[...document.querySelectorAll('.mail-item')].some(li => li.textContent.includes('Rendez-vous') && !li.classList.contains('unread'))").await;

    // She answers it, finds it by searching, puts it in the trash and takes it back.
    let open_it = "[...document.querySelectorAll('.mail-item')].find(li => li.textContent.includes('Rendez-vous')).querySelector('button').click()";
    c.execute(open_it, vec![]).await.unwrap();
    until(&c, "the message", "document.querySelector('.mail-message h2')?.textContent === 'Rendez-vous'").await;
    click(&c, ".mail-actions button.primary").await;
    until(&c, "the reply's preview", "document.querySelector('[data-allowed]')?.dataset.allowed === '1'").await;
    assert_eq!(text(&c, "document.querySelector('#mail-subject').value").await, "RE : Rendez-vous");
    fill(&c, "#mail-body", "Bonjour, jeudi 17 h me convient. Hélène Roux").await;
    click(&c, ".mail-compose button[type=submit]").await;
    until(
        &c,
        "the reply sent",
        "document.querySelector('.notice.success')?.textContent.startsWith('Message envoyé à 1')",
    )
    .await;
    fill(&c, ".mail-search input", "rendez").await;
    click(&c, ".mail-search button").await;
    until(&c, "the search results", "document.querySelectorAll('#mail-results ~ ul .mail-item').length >= 2").await;
    click(&c, ".mail-folder[data-folder=inbox]").await;
    until(
        &c,
        "the inbox",
        "document.querySelector('#mail-results') === null && [...document.querySelectorAll('.mail-item')].some(li => li.textContent.includes('Rendez-vous'))",
    )
    .await;
    c.execute(open_it, vec![]).await.unwrap();
    until(&c, "the message", "document.querySelector('.mail-message h2')?.textContent === 'Rendez-vous'").await;
    c.execute(
        "[...document.querySelectorAll('.mail-actions button')].find(b => b.textContent === 'Supprimer').click()",
        vec![],
    )
    .await
    .unwrap();
    until(&c, "the inbox without it", "document.querySelector('.mail-list') !== null && ![...document.querySelectorAll('.mail-item')].some(li => li.textContent.includes('Rendez-vous') && !li.textContent.includes('RE :'))").await;
    click(&c, ".mail-folder[data-folder=trash]").await;
    until(
        &c,
        "the trash",
        "[...document.querySelectorAll('.mail-item')].some(li => li.textContent.includes('Rendez-vous'))",
    )
    .await;
    c.execute(open_it, vec![]).await.unwrap();
    until(
        &c,
        "the restore button",
        "[...document.querySelectorAll('.mail-actions button')].some(b => b.textContent === 'Restaurer')",
    )
    .await;
    c.execute(
        "[...document.querySelectorAll('.mail-actions button')].find(b => b.textContent === 'Restaurer').click()",
        vec![],
    )
    .await
    .unwrap();
    until(&c, "back in the inbox", "document.querySelector('.mail-folder[data-folder=inbox]')?.getAttribute('aria-current') === 'true' && [...document.querySelectorAll('.mail-item')].some(li => li.textContent.includes('Rendez-vous'))").await;
    // And forwards it, with its file, to the head's office.
    c.execute(open_it, vec![]).await.unwrap();
    until(&c, "the message", "document.querySelector('.mail-message h2')?.textContent === 'Rendez-vous'").await;
    c.execute(
        "[...document.querySelectorAll('.mail-actions button')].find(b => b.textContent === 'Transférer').click()",
        vec![],
    )
    .await
    .unwrap();
    until(&c, "the forward form", "document.querySelector('#mail-subject')?.value === 'TR : Rendez-vous'").await;
    c.execute("const s = document.querySelector('#mail-staff'); s.value = 'direction'; s.closest('.mail-pick-row').querySelector('button').click();", vec![]).await.unwrap();
    until(&c, "the preview", "Number(document.querySelector('[data-allowed]')?.dataset.allowed) >= 1").await;
    fill(&c, "#mail-body", "Pour information.").await;
    click(&c, ".mail-compose button[type=submit]").await;
    until(
        &c,
        "the forward sent",
        "document.querySelector('.notice.success')?.textContent.startsWith('Message envoyé à')",
    )
    .await;
    until(&c, "the sent folder", "[...document.querySelectorAll('.mail-item')].some(li => li.textContent.includes('TR : Rendez-vous') && li.textContent.includes('📎'))").await;
    logout(&c).await;

    // The parent sees that the teacher read it.
    login(&c, &base, "sophie.martin", "Sophie").await;
    open(&c, "messagerie.mail").await;
    until(&c, "the folders", "document.querySelector('.mail-folder[data-folder=sent]') !== null").await;
    click(&c, ".mail-folder[data-folder=sent]").await;
    // The inbox's list (which holds the teacher's "RE : Rendez-vous") may still be shown for a moment: wait
    // for the sent folder's own list, and open the parent's message, not the reply.
    let sent = "[...document.querySelectorAll('.mail-item')].find(li => li.textContent.includes('Rendez-vous') && !li.textContent.includes('RE : '))";
    until(
        &c,
        "the sent message",
        &format!(
            "document.querySelector('.mail-folder[data-folder=sent]')?.getAttribute('aria-current') === 'true' \
             && ![...document.querySelectorAll('.mail-item')].some(li => li.textContent.includes('RE : Rendez-vous')) \
             && {sent} !== undefined"
        ),
    )
    .await;
    c.execute(&format!("{sent}.querySelector('button').click()"), vec![]).await.unwrap();
    until(
        &c,
        "the receipt",
        "[...document.querySelectorAll('.mail-pane h3')].some(h => h.textContent === 'Lu par : 1 / 1')",
    )
    .await;
    accessible(&c, "a sent message with its receipts").await;
    screenshot(&c, "messagerie-sent-receipts-parent").await;
    c.close().await.expect("close the browser");
}
