//! `ent-web`: the HTTP layer of **ent**. It turns an [`Ent`] into an axum [`Router`] that an integrator
//! serves as it is (`ent serve`) or mounts in their own axum application:
//!
//! - login (password, activation code, second factor), logout, sessions in `__Host-` cookies (`Secure`,
//!   `HttpOnly`, `SameSite=Lax`) or as bearer tokens, CSRF protection on every state-changing request,
//!   security headers (a CSP without inline scripts, `frame-ancestors 'none'`, a referrer policy);
//! - the JSON action API, `POST /api/v1/{module}/{action}`, for every module of the assembly, with errors
//!   mapped to HTTP statuses and one stable JSON body in one place ([`error`]);
//! - `GET /api/v1/openapi.json`, an OpenAPI 3.1 document generated from the manifests;
//! - streamed file upload and download through the blob port, with limits; iCal feeds;
//! - the web shell (embedded: it works offline), which builds its navigation and home page from the
//!   modules' manifests (the module UI contract, `docs/web-ui.md`).
//!
//! The assembly must include the shell's own module, [`Portal`] (the account page, the directory).
//!
//! ```
//! use std::sync::Arc;
//! use ent_core::Ent;
//! use ent_core::account::{AccountPolicy, Accounts};
//! use ent_storage::memory::MemoryStore;
//! use ent_web::{Portal, WebConfig};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> ent_core::Result<()> {
//! let store = Arc::new(MemoryStore::new());
//! let ent = Ent::builder(store.clone()).module(Portal).build().await?;
//! let accounts = Accounts::new(store, ent.clock().clone(), AccountPolicy::default());
//! let app: axum::Router = ent_web::router(ent, accounts, WebConfig::default())?;
//! // axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await
//! # let _ = app; Ok(()) }
//! ```

#![forbid(unsafe_code)]

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use ent_core::Ent;
use ent_core::account::Accounts;
use ent_core::storage::blob::BlobStore;

mod api;
mod auth;
pub mod error;
mod files;
pub mod i18n;
mod ical;
pub mod openapi;
pub mod portal;
mod security;
mod session;
mod shell;

pub use portal::{PORTAL, Portal};

/// The axum this crate is built on, for integrators mounting the router in their own app.
pub use axum;

/// How the HTTP layer behaves. `Default` suits a portal behind nothing but its own TLS terminator.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Largest JSON body of an action call, in bytes (default 1 MiB): larger is refused with 413.
    pub max_json_bytes: usize,
    /// Largest uploaded file, in bytes (default 20 MiB): larger is refused with 413 (before reading when
    /// the request declares its length, as soon as the limit is passed otherwise).
    pub max_upload_bytes: u64,
    /// Take the client's address from the last `X-Forwarded-For` entry (set it behind a load balancer that
    /// writes it; never otherwise, since clients can forge it). The address feeds login throttling and the
    /// audit log.
    pub trust_forwarded_for: bool,
    /// Where blobs live: enables `POST /api/v1/files` and `GET /api/v1/files/{id}`.
    pub blobs: Option<Arc<dyn BlobStore>>,
    /// The portal's name, shown in the shell's header and the page title.
    pub title: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            max_json_bytes: 1 << 20,
            max_upload_bytes: 20 << 20,
            trust_forwarded_for: false,
            blobs: None,
            title: "ENT".to_owned(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) ent: Ent,
    pub(crate) accounts: Accounts,
    pub(crate) config: WebConfig,
    /// The OpenAPI document, generated once: the manifests do not change while the instance runs.
    pub(crate) openapi: Arc<[u8]>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The router of a portal over `ent`: the API under `/api/v1`, iCal feeds under `/ical`, the shell's assets
/// under `/assets`, and the shell at `/`. Refuses ([`ent_core::Error::Config`]) an assembly without the
/// [`Portal`] module.
pub fn router(ent: Ent, accounts: Accounts, config: WebConfig) -> ent_core::Result<Router> {
    if ent.registry().module(PORTAL).is_none() {
        return Err(ent_core::Error::Config(
            "ent-web needs the `portal` module in the assembly: EntBuilder::module(ent_web::Portal)".into(),
        ));
    }
    let openapi = serde_json::to_vec(&openapi::document(ent.registry()))
        .map_err(|e| ent_core::Error::serialization("the OpenAPI document", e))?
        .into();
    let state = AppState(Arc::new(Inner { ent, accounts, config, openapi }));
    let api = Router::new()
        .route("/openapi.json", get(openapi::serve))
        .route("/auth/login", post(auth::login))
        .route("/auth/activate", post(auth::activate))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/password", post(auth::change_password))
        .route("/auth/sessions", get(auth::sessions))
        .route("/auth/sessions/revoke", post(auth::revoke))
        .route("/auth/totp/begin", post(auth::totp_begin))
        .route("/auth/totp/confirm", post(auth::totp_confirm))
        .route("/auth/structure", post(auth::switch_structure))
        .route("/auth/feed-token", post(ical::new_token))
        .route("/me", get(api::me))
        .route("/files", post(files::upload))
        .route("/files/{id}", get(files::download))
        .route("/{module}/{action}", post(api::call))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed);
    let router = Router::new()
        .nest("/api/v1", api)
        .route("/ical/{token}/{feed}", get(ical::feed))
        .route("/assets/shell/{*path}", get(shell::shell_asset))
        .route("/assets/modules/{module}/{*path}", get(shell::module_asset))
        .route("/", get(shell::index))
        .fallback(shell::not_found)
        .layer(axum::middleware::from_fn(security::layer))
        .with_state(state);
    Ok(router)
}

/// The guide to the web layer and the module UI contract (`docs/web-ui.md`), tested as documentation.
#[doc = include_str!("../../docs/web-ui.md")]
pub mod guide {}
