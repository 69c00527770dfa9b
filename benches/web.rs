//! Home pages per second over HTTP on loopback, at district scale: the demo of `DEMO_STRUCTURES`
//! structures in a SQLite file (as `ent serve` runs it), pupils and parents of every structure logged in,
//! served by ent-web through axum on 127.0.0.1 and fetched by a keep-alive HTTP/1 client in the same
//! process (the 2 cores serve and fetch).
//!
//! One home page is what the shell requests to draw a pupil's or parent's home once its static assets are
//! cached (they revalidate by ETag): `GET /api/v1/me`, the classes or children widget
//! (`POST /api/v1/portal/my_classes` or `portal/children`), and the security widget (`GET /api/v1/me`,
//! `GET /api/v1/auth/sessions`): 4 requests, each authenticating its session (store reads), the actions
//! through the rights check.
//!
//! `cargo bench --bench web --features memory,web,sqlite`; figures in `docs/benchmarks.md`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_main};
use ent::core::Ent;
use ent::core::account::{AccountPolicy, Accounts};
use ent::core::clock::{Clock, SystemClock};
use ent::core::directory::Profile;
use ent::core::rights::RightsEngine;
use ent::core::storage::{Store, TxMode};
use ent::import::ApplyOptions;
use ent::import::demo::{Demo, DemoConfig};
use ent::storage::sqlite::SqliteStore;
use ent::web::{Portal, WebConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::runtime::Runtime;

/// A district: 20 structures (about 25,000 accounts).
const DEMO_STRUCTURES: u32 = 20;
/// Sessions opened (pupils and parents spread over the structures), one per simulated browser.
const USERS: usize = 200;
/// Browsers fetching at once.
const CONCURRENCY: usize = 32;

struct Bench {
    addr: SocketAddr,
    /// (bearer token, is a parent).
    users: Vec<(String, bool)>,
    _dir: tempfile::TempDir,
}

fn setup(rt: &Runtime) -> Bench {
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("ent.db")).unwrap());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let engine = RightsEngine::new(store.clone(), clock.clone());
        let ent = Ent::builder(store.clone()).authorizer(engine).module(Portal).build().await.unwrap();
        let config = DemoConfig::structures(DEMO_STRUCTURES);
        let mut codes = Vec::new();
        for batch in Demo::new(config).batches() {
            let report = ent::import::apply(&*store, &*clock, &batch, &ApplyOptions::default()).await.unwrap();
            codes.extend(report.codes);
        }
        // Pupils and parents of every structure, in turn.
        let people = {
            let mut tx = store.begin(TxMode::ReadOnly).await.unwrap();
            ent::core::directory::query::users(&mut *tx, &codes.iter().map(|c| c.user).collect::<Vec<_>>())
                .await
                .unwrap()
        };
        let policy = AccountPolicy { totp_required_for: vec![], ..AccountPolicy::default() };
        let accounts = Accounts::new(store.clone(), clock.clone(), policy);
        let mut users = Vec::new();
        let step = (people.len() / (USERS * 2)).max(1);
        for (i, user) in people.iter().enumerate().filter(|(i, _)| i % step == 0) {
            let parent = user.affiliations.iter().any(|a| a.profile == Profile::Responsable);
            let pupil = user.affiliations.iter().any(|a| a.profile == Profile::Eleve);
            if !(parent || pupil) || users.len() >= USERS {
                continue;
            }
            let opened = accounts.activate(&codes[i].code, "Bienvenue au collège 2026 !", None, None).await.unwrap();
            users.push((opened.token.expose().to_owned(), parent));
        }
        let app = ent::web::router(ent, accounts, WebConfig::default()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            ent::web::axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap()
        });
        Bench { addr, users, _dir: dir }
    })
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

async fn fetch(client: &HttpClient, addr: SocketAddr, token: &str, method: &str, path: &str) {
    let body = if method == "POST" { Full::new(Bytes::from_static(b"{}")) } else { Full::new(Bytes::new()) };
    let req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let response = client.request(req).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert!(status.is_success(), "{path}: {status} {}", String::from_utf8_lossy(&bytes));
}

async fn home(client: &HttpClient, addr: SocketAddr, token: &str, parent: bool) {
    fetch(client, addr, token, "GET", "/api/v1/me").await;
    let widget = if parent { "/api/v1/portal/children" } else { "/api/v1/portal/my_classes" };
    fetch(client, addr, token, "POST", widget).await;
    fetch(client, addr, token, "GET", "/api/v1/auth/sessions").await;
}

/// `pages` home pages fetched by `CONCURRENCY` browsers; the time it took.
async fn run(bench: &Bench, client: &HttpClient, pages: u64) -> Duration {
    let start = Instant::now();
    let per = pages.div_ceil(CONCURRENCY as u64);
    let mut tasks = Vec::new();
    for b in 0..CONCURRENCY {
        let (client, addr) = (client.clone(), bench.addr);
        let users: Vec<(String, bool)> = bench.users.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                let (token, parent) = &users[(b + i as usize * CONCURRENCY) % users.len()];
                home(&client, addr, token, *parent).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn benches() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let bench = setup(&rt);
    let client: HttpClient = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(CONCURRENCY).build_http();
    let mut c = Criterion::default().configure_from_args().sample_size(10).measurement_time(Duration::from_secs(20));
    let mut group = c.benchmark_group("web");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("home_page_{DEMO_STRUCTURES}_structures_{CONCURRENCY}_clients"), |b| {
        b.iter_custom(|pages| rt.block_on(run(&bench, &client, pages)))
    });
    group.finish();
    c.final_summary();
}

criterion_main!(benches);
