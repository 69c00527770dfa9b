//! The portal in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs) driven through WebDriver with fantoccini. Activation of a new account, login and
//! logout for each profile, each home page with a screenshot (`target/screenshots/`), the parent's switch
//! between children, the directory page, a phone-sized screen, and an accessibility check by axe-core
//! (vendored in `tests/web/vendor/`, see docs/dependencies.md) that must find no serious violation.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use super::{PASSWORD, Site, no_second_factor, site_with};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const AXE: &str = include_str!("vendor/axe.min.js");
const WAIT: Duration = Duration::from_secs(20);

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// Serves the site's router on a loopback port, as `ent serve` does.
async fn serve(site: &Site) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = site.app.clone().into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Chromedriver in a process group of its own, with the Chromium it starts: dropping it ends them all, also
/// when a test panics before closing the session.
struct Driver(tokio::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
        }
    }
}

/// Chromedriver on a free port, and a fresh headless Chromium session through it.
async fn browser() -> (Driver, Client, tempfile::TempDir) {
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
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(driver);
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
        "--disable-quic",
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

/// Waits until `script` (an expression) is truthy in the page.
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

/// Runs axe-core (WCAG 2.1 A and AA rules) on the page; panics on any serious or critical violation.
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

async fn home_ready(c: &Client, first_name: &str) {
    until(c, "the home page", &format!("document.querySelector('main h1')?.textContent === 'Bonjour {first_name}'"))
        .await;
    until(
        c,
        "every widget rendered",
        "document.querySelectorAll('section.widget').length > 0 && [...document.querySelectorAll('section.widget')].every(s => s.lastElementChild.childElementCount > 0)",
    )
    .await;
}

async fn logout(c: &Client) {
    click(c, "button.logout").await;
    until(c, "the login form", "document.querySelector('#login') !== null").await;
    let status = c.execute_async("fetch('/api/v1/me').then(r => arguments[0](r.status))", vec![]).await.expect("fetch");
    assert_eq!(status, json!(401), "logged out for the server too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_in_chromium_for_every_profile() {
    let site = site_with(no_second_factor()).await;
    let addr = serve(&site).await;
    // http://localhost is a secure context: the Secure __Host- cookies work there.
    let base = format!("http://localhost:{}", addr.port());
    let (_driver, c, _profile) = browser().await;

    // The login page, in French then in English, accessible.
    c.goto(&format!("{base}/")).await.expect("goto");
    until(&c, "the login form", "document.querySelector('#login') !== null").await;
    assert_eq!(text(&c, "document.querySelector('main h1').textContent").await, "Connexion");
    assert_eq!(text(&c, "document.documentElement.lang").await, "fr");
    accessible(&c, "login").await;
    screenshot(&c, "login").await;
    click(&c, "button.lang").await;
    until(&c, "the English login", "document.querySelector('main h1')?.textContent === 'Log in'").await;
    assert_eq!(text(&c, "document.documentElement.lang").await, "en");
    click(&c, "button.lang").await;
    until(&c, "the French login", "document.querySelector('main h1')?.textContent === 'Connexion'").await;

    // A wrong password: an error people can read, announced.
    fill(&c, "#login", &site.logins["pupil"]).await;
    fill(&c, "#password", "pas le bon").await;
    click(&c, "button[type=submit]").await;
    until(&c, "the error", "document.querySelector('[role=alert]')?.textContent.includes('incorrect')").await;

    // Activation of a new account.
    c.goto(&format!("{base}/#/activate")).await.expect("goto");
    until(&c, "the activation form", "document.querySelector('#code') !== null").await;
    accessible(&c, "activation").await;
    fill(&c, "#code", &site.newcomer_code.to_lowercase()).await;
    fill(&c, "#password", "Mon vélo est bleu 2026").await;
    fill(&c, "#confirm", "Mon vélo est bleu 2026").await;
    screenshot(&c, "activation").await;
    click(&c, "button[type=submit]").await;
    home_ready(&c, "Noé").await;
    let cookies = c.get_all_cookies().await.expect("cookies");
    let session =
        cookies.iter().find(|k| k.name() == "__Host-ent-session").expect("the session cookie over http://localhost");
    assert_eq!((session.secure(), session.http_only()), (Some(true), Some(true)));
    assert!(!text(&c, "document.cookie").await.contains("ent-session"), "scripts cannot read the session");
    screenshot(&c, "home-activated").await;
    logout(&c).await;

    for (role, first, widgets) in [
        ("pupil", "Léa", 3),
        ("parent", "Sophie", 3),
        ("teacher", "Hélène", 3),
        ("head", "Marc", 3),
        ("admin", "Dominique", 3),
    ] {
        c.goto(&format!("{base}/#/login")).await.expect("goto");
        until(&c, "the login form", "document.querySelector('#login') !== null").await;
        fill(&c, "#login", &site.logins[role]).await;
        fill(&c, "#password", PASSWORD).await;
        click(&c, "button[type=submit]").await;
        home_ready(&c, first).await;
        let n = c.execute("return document.querySelectorAll('section.widget').length", vec![]).await.unwrap();
        assert_eq!(n, json!(widgets), "{role}'s widgets");
        let nav = text(&c, "[...document.querySelectorAll('nav a')].map(a => a.textContent).join('|')").await;
        assert_eq!(nav, "Accueil|Annuaire|Mon compte|Livre d'or", "{role}");
        accessible(&c, &format!("home of {role}")).await;
        screenshot(&c, &format!("home-{role}")).await;

        match role {
            "parent" => {
                let options = text(
                    &c,
                    "[...document.querySelectorAll('#child-switch option')].map(o => o.textContent).join('|')",
                )
                .await;
                assert_eq!(options, "Léa Martin|Inès Martin");
                c.execute("const s = document.querySelector('#child-switch'); s.value = s.options[1].value; s.dispatchEvent(new Event('change'));", vec![]).await.unwrap();
                until(
                    &c,
                    "the widget to follow the switch",
                    "document.querySelector('ent-my-children strong')?.textContent === 'Inès Martin'",
                )
                .await;
                click(&c, "nav a[href='#/portal.directory']").await;
                until(
                    &c,
                    "the child's classes",
                    "document.querySelector('#dir-units')?.textContent === 'Classes de Inès Martin'",
                )
                .await;
                until(
                    &c,
                    "the class list",
                    "document.querySelector('ent-directory-page ul button')?.textContent === '5B'",
                )
                .await;
                accessible(&c, "directory of a parent").await;
                screenshot(&c, "directory-parent").await;
            }
            "pupil" => {
                click(&c, "nav a[href='#/portal.directory']").await;
                until(&c, "the directory", "document.querySelector('ent-directory-page ul button') !== null").await;
                click(&c, "ent-directory-page ul button").await;
                until(&c, "the class members", "document.querySelector('ent-directory-page h2 + h3') !== null").await;
                let members =
                    text(&c, "document.querySelector('ent-directory-page .panel:last-child').innerText").await;
                assert!(members.contains("Noé Lefèvre") && members.contains("Hélène Roux"), "{members}");
                accessible(&c, "directory of a pupil").await;
                screenshot(&c, "directory-pupil").await;
                click(&c, "nav a[href='#/portal.account']").await;
                until(
                    &c,
                    "the account page",
                    "document.querySelector('#acc-sessions') !== null && document.querySelector('tbody tr') !== null",
                )
                .await;
                accessible(&c, "account page").await;
                screenshot(&c, "account-pupil").await;
            }
            "teacher" => {
                c.set_window_size(390, 844).await.expect("phone size");
                until(
                    &c,
                    "the menu button",
                    "getComputedStyle(document.querySelector('button.menu')).display !== 'none'",
                )
                .await;
                assert_eq!(
                    c.execute("return getComputedStyle(document.querySelector('#nav')).display", vec![]).await.unwrap(),
                    json!("none")
                );
                screenshot(&c, "home-teacher-phone").await;
                click(&c, "button.menu").await;
                until(&c, "the open menu", "getComputedStyle(document.querySelector('#nav')).display !== 'none'").await;
                accessible(&c, "home of a teacher on a phone").await;
                c.set_window_size(1280, 900).await.expect("desktop size");
            }
            _ => {}
        }
        logout(&c).await;
    }
    c.close().await.expect("close the browser");
}
