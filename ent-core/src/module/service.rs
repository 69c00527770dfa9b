//! The one trait a module implements: [`ServiceModule`]. A module is a manifest (what it declares) and
//! handlers (what runs its actions, receives its events, runs its jobs).

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;

use super::action::{Action, DynAction};
use super::manifest::Manifest;
use crate::Result;
use crate::event::Subscriber;
use crate::job::JobHandler;
use crate::storage::Store;

/// A service module: news, notes, messagerie... or a third party's.
///
/// The assembly checks that the handlers match the manifest one to one: every declared action has a
/// handler of that name and every handler is declared; the same for subscribers and jobs.
#[async_trait]
pub trait ServiceModule: Send + Sync + 'static {
    /// What the module declares.
    fn manifest(&self) -> Manifest;

    /// Its action handlers, event subscribers and job handlers.
    fn handlers(&self) -> Handlers;

    /// The bytes of a web asset or i18n catalogue that the manifest declares (`web/page.js`, `i18n/fr.ftl`).
    fn asset(&self, path: &str) -> Option<Cow<'static, [u8]>> {
        let _ = path;
        None
    }

    /// Brings the module's stored data up to date when the module is installed (`from` is `None`), upgraded,
    /// or when indexes were added to its collections (fill them with
    /// [`crate::storage::typed::reindex`]). Runs at start-up, before any call.
    async fn migrate(&self, store: &dyn Store, migration: &Migration) -> Result<()> {
        let _ = (store, migration);
        Ok(())
    }
}

/// What changed since the store last saw the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The version recorded in the store, `None` on first installation.
    pub from: Option<semver::Version>,
    /// The version starting.
    pub to: semver::Version,
    /// `(collection, index)` added to collections that already existed: their records need reindexing.
    pub new_indexes: Vec<(String, String)>,
}

/// The handlers of a module.
#[derive(Default, Clone)]
pub struct Handlers {
    pub(crate) actions: Vec<Arc<dyn DynAction>>,
    pub(crate) subscribers: Vec<Arc<dyn Subscriber>>,
    pub(crate) jobs: Vec<Arc<dyn JobHandler>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("actions", &self.actions.iter().map(|a| a.name().to_owned()).collect::<Vec<_>>())
            .field("subscribers", &self.subscribers.iter().map(|s| s.name().to_owned()).collect::<Vec<_>>())
            .field("jobs", &self.jobs.iter().map(|j| j.kind().to_owned()).collect::<Vec<_>>())
            .finish()
    }
}

impl Handlers {
    /// No handler.
    pub fn new() -> Self {
        Handlers::default()
    }

    /// Adds a typed action.
    pub fn action<A: Action>(mut self, action: A) -> Self {
        self.actions.push(Arc::new(action));
        self
    }

    /// Adds an action seen through JSON only.
    pub fn dyn_action(mut self, action: Arc<dyn DynAction>) -> Self {
        self.actions.push(action);
        self
    }

    /// Adds an event subscriber.
    pub fn subscriber(mut self, subscriber: impl Subscriber) -> Self {
        self.subscribers.push(Arc::new(subscriber));
        self
    }

    /// Adds a job handler.
    pub fn job(mut self, handler: impl JobHandler) -> Self {
        self.jobs.push(Arc::new(handler));
        self
    }
}
