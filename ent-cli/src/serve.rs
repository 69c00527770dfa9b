//! `ent serve`: the reference portal over the store of `--database`, with the web shell, the JSON API, the
//! background workers; `--demo` first loads the demo school and prints logins to try it with.
//!
//! Sessions, throttling and rights versions live in the database, so several instances on one database
//! (PostgreSQL behind a load balancer) need no sticky sessions.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use ent::core::Ent;
use ent::core::account::{AccountPolicy, Accounts};
use ent::core::clock::{Clock, SystemClock};
use ent::core::directory::{Profile, SchoolYear};
use ent::core::rights::{AuditAppender, RightsEngine};
use ent::core::storage::blob::BlobStore;
use ent::core::storage::fulltext::FullText;
use ent::import::demo::DemoConfig;
use ent::modules::messagerie::Messagerie;
use ent::modules::notes::Notes;
use ent::storage::fs::FsBlobStore;
use ent::storage::memory::MemoryFullText;
use ent::storage::sqlite::SqliteStore;
use ent::web::{Portal, WebConfig};

use crate::database::{Database, Target};
use crate::summary::Outcome;

/// `ent serve` options (`--database` is the command's global option).
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where to listen, `HOST:PORT`.
    #[arg(long, env = "ENT_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    /// Load the demo school (a collège of about 1,600 accounts) into an empty database first, and print
    /// logins for each profile. Demo mode does not require a second factor of staff.
    #[arg(long)]
    demo: bool,
    /// Where uploaded files go (a folder; share it between instances).
    #[arg(long, env = "ENT_FILES", default_value = "ent-files")]
    files: PathBuf,
    /// Largest uploaded file, in MiB.
    #[arg(long, default_value_t = 20)]
    max_upload_mib: u64,
    /// Take clients' addresses from `X-Forwarded-For` (only behind a proxy that sets it).
    #[arg(long)]
    trust_forwarded_for: bool,
    /// The portal's name in page titles and the header.
    #[arg(long, default_value = "ENT")]
    title: String,
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(io)`
fn io(e: std::io::Error) -> ent::Error {
    ent::Error::Config(format!("cannot serve: {e}"))
}

fn profile_label(p: Profile) -> &'static str {
    match p {
        Profile::Eleve => "élève / pupil",
        Profile::Responsable => "parent",
        Profile::Enseignant => "enseignant / teacher",
        Profile::Direction => "direction / head",
        Profile::AdminLocal => "administrateur / admin",
        _ => "",
    }
}

/// The messagerie's search index, with the database: in the SQLite file of `--database` (FTS5, through a
/// second handle on the file, as another instance would), in the PostgreSQL database (`tsvector`, shared by
/// every instance on it), in memory for the memory stores (which forget everything on exit).
async fn full_text(database: &str) -> ent::Result<Arc<dyn FullText>> {
    Ok(match Target::parse(database)? {
        Target::Postgres(url) => Arc::new(crate::migrate::connect(url).await?.full_text()),
        Target::SqliteFile(path) => Arc::new(SqliteStore::open(path)?.full_text()),
        Target::Memory | Target::SqliteMemory => Arc::new(MemoryFullText::new()),
    })
}

/// Runs the portal until Ctrl-C.
pub(crate) async fn serve(db: &Database, args: &ServeArgs, database: &str) -> ent::Result<Outcome> {
    // The command opened the store (checking its URL and versions); the portal is assembled on it.
    let store = db.ent.store().clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = RightsEngine::new(store.clone(), clock.clone());
    let max_upload = args.max_upload_mib.saturating_mul(1 << 20);
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(&args.files, max_upload)?.with_clock(clock.clone()));
    // The messagerie's attachments go with the uploads; its search index with the database.
    let messagerie = Messagerie::new(blobs.clone(), full_text(database).await?);
    let ent = Ent::builder(store.clone())
        .clock(clock.clone())
        .authorizer(engine.clone())
        .module(Portal)
        .module(Notes)
        .module(messagerie.clone())
        .build()
        .await?;
    let mut policy = AccountPolicy::default();
    if args.demo {
        policy.totp_required_for.clear();
    }
    let appender = Arc::new(AuditAppender::spawn(store.clone(), 10_000, Duration::from_secs(1)));
    let accounts = Accounts::new(store.clone(), clock.clone(), policy).with_audit_appender(appender.clone());
    let mut out = std::io::stdout().lock();
    if args.demo {
        writeln!(out, "Chargement de l'établissement de démonstration… / Loading the demo school…").map_err(io)?;
        // The demo school's memberships are of the current school year, whenever it is run.
        let year = SchoolYear::containing(clock.now().date_naive());
        let logins = ent::portal::load_demo(&ent, &accounts, &DemoConfig { year, ..DemoConfig::college() }).await?;
        let seeded =
            ent::demo_content::seed_demo_content(store.clone(), messagerie.clone(), &logins, clock.now()).await?;
        if seeded.evaluations > 0 {
            writeln!(
                out,
                "Notes et messages de démonstration / demo grades and messages: {} évaluations, {} notes, {} messages",
                seeded.evaluations, seeded.grades, seeded.messages
            )
            .map_err(io)?;
        }
        writeln!(
            out,
            "\nComptes de démonstration / demo accounts (mot de passe / password: « {} »):",
            ent::portal::DEMO_PASSWORD
        )
        .map_err(io)?;
        for l in &logins {
            writeln!(out, "  {:<24} {:<28} {}", profile_label(l.profile), l.login, l.display_name).map_err(io)?;
        }
        writeln!(
            out,
            "Mode démo : la double authentification n'est pas exigée. / Demo mode: no second factor required."
        )
        .map_err(io)?;
    } else if !db.has_accounts().await? {
        writeln!(
            out,
            "La base ne contient encore personne : `ent serve --demo` pour essayer, ou `ent import` pour un annuaire.\n\
             The database holds nobody yet: `ent serve --demo` to try the portal, or `ent import` a directory."
        )
        .map_err(io)?;
    }
    let config = WebConfig {
        max_upload_bytes: max_upload,
        trust_forwarded_for: args.trust_forwarded_for,
        blobs: Some(blobs),
        title: args.title.clone(),
        ..WebConfig::default()
    };
    let workers = ent.spawn_workers(Duration::from_secs(5));
    let app = ent::web::router(ent, accounts, config)?;
    let listener = tokio::net::TcpListener::bind(&args.addr).await.map_err(io)?;
    let local = listener.local_addr().map_err(io)?;
    // Browsers treat http://localhost as a secure context: the portal's Secure cookies work there.
    let host = if local.ip().is_loopback() { "localhost".to_owned() } else { local.ip().to_string() };
    writeln!(out, "\nPortail prêt / portal ready: http://{host}:{}/   (Ctrl-C pour arrêter / to stop)", local.port())
        .map_err(io)?;
    drop(out);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    ent::web::axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(io)?;
    workers.stop().await;
    appender.flush().await?;
    engine.flush().await?;
    Ok(Outcome::Success)
}
