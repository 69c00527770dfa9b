//! An integrator's portal in a few lines: assemble an `Ent` with the modules you want, hand it to
//! `ent_web::router`, and merge the router into your own axum application next to your routes.
//!
//! `cargo run -p portal`, then open <http://localhost:8081/> and log in with one of the printed accounts.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use ent::core::Ent;
use ent::core::account::{AccountPolicy, Accounts};
use ent::core::clock::{Clock, SystemClock};
use ent::core::rights::RightsEngine;
use ent::import::demo::DemoConfig;
use ent::storage::memory::MemoryStore;
use ent::web::axum::{Router, routing::get};
use ent::web::{Portal, WebConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The assembly: a store, the rights engine, the shell's own module and yours.
    let store = Arc::new(MemoryStore::new());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ent = Ent::builder(store.clone())
        .authorizer(RightsEngine::new(store.clone(), clock.clone()))
        .module(Portal)
        .module(guestbook::Guestbook)
        .build()
        .await?;
    let accounts = Accounts::new(store, clock, AccountPolicy { totp_required_for: vec![], ..AccountPolicy::default() });

    // Something to log in to: the demo school, one account per profile.
    let mut out = std::io::stdout().lock();
    for login in ent::portal::load_demo(&ent, &accounts, &DemoConfig::college()).await? {
        writeln!(out, "{:?}: {} / {}", login.profile, login.login, login.password)?;
    }

    // The portal at the root (its pages use absolute paths), the integrator's own routes beside it.
    let portal = ent::web::router(ent, accounts, WebConfig { title: "Mon ENT".into(), ..WebConfig::default() })?;
    let app = Router::new().route("/healthz", get(|| async { "ok" })).merge(portal);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
    writeln!(out, "http://localhost:8081/")?;
    drop(out);
    ent::web::axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
