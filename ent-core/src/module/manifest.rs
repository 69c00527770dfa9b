//! The manifest: everything a module declares about itself, as data. It is what the assembly checks
//! (dependencies, versions, names), what the rights engine grants from, what the HTTP layer builds its API
//! and OpenAPI document from, and what a dynamic plugin hands over as JSON.
//!
//! ```
//! use ent_core::module::Manifest;
//! use ent_core::directory::Profile;
//!
//! let manifest = Manifest::new("news", "1.2.0")
//!     .description("School news")
//!     .requires("directory", "^1")
//!     .right("news.publish", "Publish news", [Profile::Direction, Profile::AdminLocal]);
//! let json = manifest.to_json_pretty();
//! assert!(json.contains(r#""id": "news""#));
//! ```

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::action::Action;
use crate::directory::Profile;
use crate::event::Event;
use crate::storage::{CollectionDef, Record};

/// The version of `ent-core` that modules' `requires_core` is checked against.
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a module declares about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    /// The module's id: lowercase ASCII letters, digits and `_`, starting with a letter. Every name the
    /// module declares (rights, collections, actions, events, settings, jobs) starts with `id.`.
    pub id: String,
    /// The module's version (semantic versioning).
    pub version: String,
    /// What the module is for, in a sentence.
    #[serde(default)]
    pub description: String,
    /// The versions of `ent-core` the module works with (a semver requirement, `^0.1`).
    pub requires_core: String,
    /// The other modules it needs.
    #[serde(default)]
    pub requires: Vec<Requirement>,
    /// The rights it declares, with the profiles that hold them by default.
    #[serde(default)]
    pub rights: Vec<RightDecl>,
    /// The collections it stores records in.
    #[serde(default)]
    pub collections: Vec<CollectionDecl>,
    /// The actions it handles.
    #[serde(default)]
    pub actions: Vec<ActionDecl>,
    /// The events it emits.
    #[serde(default)]
    pub emits: Vec<EventDecl>,
    /// Its event subscribers and the events each listens to.
    #[serde(default)]
    pub listens: Vec<ListenDecl>,
    /// Its per-structure settings.
    #[serde(default)]
    pub settings: Vec<SettingDecl>,
    /// The JSON Schema of its configuration (given at assembly), if it takes one.
    #[serde(default)]
    pub config: Option<Value>,
    /// The kinds of jobs it runs.
    #[serde(default)]
    pub jobs: Vec<JobDecl>,
    /// The notification types it sends.
    #[serde(default)]
    pub notifications: Vec<NotificationDecl>,
    /// Its web assets (web components, styles), served by the web shell.
    #[serde(default)]
    pub assets: Vec<AssetDecl>,
    /// Its translation catalogues.
    #[serde(default)]
    pub i18n: Vec<CatalogueDecl>,
    /// What the web shell shows of it: navigation entries, pages, home-page widgets, iCal feeds
    /// (`docs/web-ui.md`).
    #[serde(default)]
    pub web: WebDecl,
}

/// The module UI contract: what a module shows in the web shell. Pages and widgets are web components (plain
/// ES modules, declared as [`AssetDecl`]s and shipped by [`super::ServiceModule::asset`]) that talk to the
/// JSON action API. The guide is `docs/web-ui.md`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WebDecl {
    /// Entries of the shell's navigation.
    #[serde(default)]
    pub nav: Vec<NavDecl>,
    /// Pages: a custom element shown in the shell's main area.
    #[serde(default)]
    pub pages: Vec<PageDecl>,
    /// Widgets of the home page, per profile.
    #[serde(default)]
    pub widgets: Vec<WidgetDecl>,
    /// iCal feeds: read-only actions whose output is a list of calendar events, served at a URL carrying a
    /// per-user feed token.
    #[serde(default)]
    pub ical_feeds: Vec<IcalFeedDecl>,
}

/// A text shown to users, French first: `{"fr": "Cahier de textes", "en": "Homework"}`. French is required;
/// other languages fall back to it.
pub type Label = std::collections::BTreeMap<String, String>;

/// An entry of the shell's navigation, leading to one of the module's pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NavDecl {
    /// The page it opens (`notes.grades`, a [`PageDecl::id`]).
    pub page: String,
    /// Its label.
    pub label: Label,
    /// The profiles that see it; empty: everyone who holds the page's right.
    #[serde(default)]
    pub profiles: Vec<Profile>,
    /// Smaller first; entries of equal order keep the modules' order.
    #[serde(default)]
    pub order: i32,
}

/// A page of the module: a custom element, defined by a script the module ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PageDecl {
    /// `module.page`; its address in the shell is `#/module.page`.
    pub id: String,
    /// The custom element's tag (`notes-grades`: lowercase, with a hyphen).
    pub element: String,
    /// The declared asset that defines it (`web/notes-grades.js`).
    pub script: String,
    /// The right a user must hold to see it (the shell hides entries of pages the user cannot open; the
    /// actions it calls check their own rights anyway). `None`: anyone logged in.
    #[serde(default)]
    pub right: Option<String>,
}

/// A widget of the home page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WidgetDecl {
    /// `module.widget`.
    pub id: String,
    /// The custom element's tag.
    pub element: String,
    /// The declared asset that defines it.
    pub script: String,
    /// Its title, shown above it.
    pub title: Label,
    /// The profiles whose home page shows it; empty: every profile.
    #[serde(default)]
    pub profiles: Vec<Profile>,
    /// Smaller first.
    #[serde(default)]
    pub order: i32,
}

/// An iCal feed: a read-only action of the module whose output is `{"events": [...]}` (see
/// `docs/web-ui.md`), served as `text/calendar`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IcalFeedDecl {
    /// The action (`agenda.feed`); it is called with `{}` as the feed token's owner.
    pub action: String,
    /// The calendar's name in the subscriber's application.
    pub name: Label,
}

/// A dependency on another module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Requirement {
    /// The module's id.
    pub module: String,
    /// The versions accepted (a semver requirement, `^1.2`).
    pub version: String,
}

/// A workflow right: may a caller run an action at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RightDecl {
    /// `module.what.verb`, e.g. `notes.grade.write`.
    pub name: String,
    /// For administrators choosing grants.
    pub description: String,
    /// The profiles that hold it unless an administrator changes the grants.
    pub default_grants: Vec<Profile>,
}

/// A collection and the schema version of its records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CollectionDecl {
    /// The declaration the store receives.
    #[serde(flatten)]
    pub def: CollectionDef,
    /// The current schema version of its records ([`Record::SCHEMA_VERSION`]).
    pub schema_version: u32,
}

/// An action: its name, the right it needs, the JSON Schemas of its input and output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionDecl {
    /// `module.action`.
    pub name: String,
    /// What it does.
    pub description: String,
    /// The right a caller must hold.
    pub right: String,
    /// Whether it only reads (it then runs in a read-only transaction).
    pub read_only: bool,
    /// The JSON Schema of its input.
    pub input: Value,
    /// The JSON Schema of its output.
    pub output: Value,
}

/// An event a module emits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EventDecl {
    /// `module.event_name`.
    pub name: String,
    /// What fact it records.
    pub description: String,
    /// The JSON Schema of its payload.
    pub payload: Value,
}

/// An event subscriber of the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ListenDecl {
    /// The subscriber's name, `module.name`: its delivery queue is keyed by it, so renaming it drops the
    /// events still queued for the old name.
    pub subscriber: String,
    /// The events it receives.
    pub events: Vec<String>,
}

/// A per-structure setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SettingDecl {
    /// `module.name`.
    pub name: String,
    /// For administrators.
    pub description: String,
    /// The JSON Schema every value must match.
    pub schema: Value,
    /// The value until an administrator sets one.
    pub default: Value,
}

/// A kind of job the module runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobDecl {
    /// `module.job_name`.
    pub kind: String,
    /// What it does.
    pub description: String,
    /// For a periodic job: its period in seconds. The assembly makes sure one instance is scheduled.
    pub every_seconds: Option<u64>,
}

/// A type of notification the module sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotificationDecl {
    /// `module.name`.
    pub name: String,
    /// For users choosing what they receive.
    pub description: String,
}

/// A web asset the module ships (a web component, a style sheet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AssetDecl {
    /// Its path within the module (`web/guestbook-page.js`).
    pub path: String,
    /// Its media type (`text/javascript`, `text/css`).
    pub media_type: String,
}

/// A translation catalogue (Fluent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CatalogueDecl {
    /// Its language (`fr`, `en`).
    pub lang: String,
    /// Its path within the module (`i18n/fr.ftl`).
    pub path: String,
}

impl Manifest {
    /// A manifest with an id and a version, requiring the running `ent-core`'s minor version.
    pub fn new(id: impl Into<String>, version: impl Into<String>) -> Self {
        let core = semver::Version::parse(CORE_VERSION).expect("ent-core's own version is semver");
        let requires_core = if core.major == 0 { format!("^0.{}", core.minor) } else { format!("^{}", core.major) };
        Manifest {
            id: id.into(),
            version: version.into(),
            description: String::new(),
            requires_core,
            requires: Vec::new(),
            rights: Vec::new(),
            collections: Vec::new(),
            actions: Vec::new(),
            emits: Vec::new(),
            listens: Vec::new(),
            settings: Vec::new(),
            config: None,
            jobs: Vec::new(),
            notifications: Vec::new(),
            assets: Vec::new(),
            i18n: Vec::new(),
            web: WebDecl::default(),
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the required `ent-core` versions.
    pub fn requires_core(mut self, requirement: impl Into<String>) -> Self {
        self.requires_core = requirement.into();
        self
    }

    /// Requires another module.
    pub fn requires(mut self, module: impl Into<String>, version: impl Into<String>) -> Self {
        self.requires.push(Requirement { module: module.into(), version: version.into() });
        self
    }

    /// Declares a right and the profiles that hold it by default.
    pub fn right(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        default_grants: impl IntoIterator<Item = Profile>,
    ) -> Self {
        self.rights.push(RightDecl {
            name: name.into(),
            description: description.into(),
            default_grants: default_grants.into_iter().collect(),
        });
        self
    }

    /// Declares the collection of a record type.
    pub fn collection<R: Record>(mut self) -> Self {
        self.collections.push(CollectionDecl { def: R::collection(), schema_version: R::SCHEMA_VERSION });
        self
    }

    /// Declares an action, its right and schemas taken from its type.
    pub fn action<A: Action>(mut self) -> Self {
        self.actions.push(ActionDecl {
            name: A::NAME.to_owned(),
            description: A::DESCRIPTION.to_owned(),
            right: A::RIGHT.to_owned(),
            read_only: A::READ_ONLY,
            input: schema_of::<A::Input>(),
            output: schema_of::<A::Output>(),
        });
        self
    }

    /// Declares an event the module emits.
    pub fn emits<E: Event>(mut self) -> Self {
        self.emits.push(EventDecl {
            name: E::NAME.to_owned(),
            description: E::DESCRIPTION.to_owned(),
            payload: schema_of::<E>(),
        });
        self
    }

    /// Declares a subscriber and the events it listens to.
    pub fn listens<S: Into<String>>(
        mut self,
        subscriber: impl Into<String>,
        events: impl IntoIterator<Item = S>,
    ) -> Self {
        self.listens
            .push(ListenDecl { subscriber: subscriber.into(), events: events.into_iter().map(Into::into).collect() });
        self
    }

    /// Declares a per-structure setting of type `T`, with its default.
    pub fn setting<T: JsonSchema + Serialize>(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        default: T,
    ) -> Self {
        self.settings.push(SettingDecl {
            name: name.into(),
            description: description.into(),
            schema: schema_of::<T>(),
            default: serde_json::to_value(default).unwrap_or(Value::Null),
        });
        self
    }

    /// Declares the module's configuration type.
    pub fn config<T: JsonSchema>(mut self) -> Self {
        self.config = Some(schema_of::<T>());
        self
    }

    /// Declares a kind of job; `every` makes it periodic.
    pub fn job(
        mut self,
        kind: impl Into<String>,
        description: impl Into<String>,
        every: Option<std::time::Duration>,
    ) -> Self {
        self.jobs.push(JobDecl {
            kind: kind.into(),
            description: description.into(),
            every_seconds: every.map(|d| d.as_secs().max(1)),
        });
        self
    }

    /// Declares a notification type.
    pub fn notification(mut self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.notifications.push(NotificationDecl { name: name.into(), description: description.into() });
        self
    }

    /// Declares a web asset.
    pub fn asset(mut self, path: impl Into<String>, media_type: impl Into<String>) -> Self {
        self.assets.push(AssetDecl { path: path.into(), media_type: media_type.into() });
        self
    }

    /// Declares a translation catalogue.
    pub fn i18n(mut self, lang: impl Into<String>, path: impl Into<String>) -> Self {
        self.i18n.push(CatalogueDecl { lang: lang.into(), path: path.into() });
        self
    }

    /// Declares a page (see [`WebDecl`]): `id` is `module.page`, `element` the custom element's tag,
    /// `script` the declared asset defining it.
    pub fn page(mut self, id: impl Into<String>, element: impl Into<String>, script: impl Into<String>) -> Self {
        self.web.pages.push(PageDecl { id: id.into(), element: element.into(), script: script.into(), right: None });
        self
    }

    /// Declares a navigation entry to one of the module's pages, labelled in French and English, shown to
    /// `profiles` (empty: everyone).
    pub fn nav(
        mut self,
        page: impl Into<String>,
        fr: impl Into<String>,
        en: impl Into<String>,
        profiles: impl IntoIterator<Item = Profile>,
    ) -> Self {
        self.web.nav.push(NavDecl {
            page: page.into(),
            label: label(fr, en),
            profiles: profiles.into_iter().collect(),
            order: 0,
        });
        self
    }

    /// Declares a home-page widget for `profiles` (empty: everyone), titled in French and English.
    pub fn widget(
        mut self,
        id: impl Into<String>,
        element: impl Into<String>,
        script: impl Into<String>,
        title: (&str, &str),
        profiles: impl IntoIterator<Item = Profile>,
    ) -> Self {
        self.web.widgets.push(WidgetDecl {
            id: id.into(),
            element: element.into(),
            script: script.into(),
            title: label(title.0, title.1),
            profiles: profiles.into_iter().collect(),
            order: 0,
        });
        self
    }

    /// Declares an iCal feed served from a read-only action (see [`IcalFeedDecl`]).
    pub fn ical_feed(mut self, action: impl Into<String>, fr: impl Into<String>, en: impl Into<String>) -> Self {
        self.web.ical_feeds.push(IcalFeedDecl { action: action.into(), name: label(fr, en) });
        self
    }

    /// The manifest as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest is plain JSON")
    }

    /// The action named `name` (`module.action`).
    pub fn find_action(&self, name: &str) -> Option<&ActionDecl> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// The setting named `name`.
    pub fn find_setting(&self, name: &str) -> Option<&SettingDecl> {
        self.settings.iter().find(|s| s.name == name)
    }
}

/// A [`Label`] in French and English.
pub fn label(fr: impl Into<String>, en: impl Into<String>) -> Label {
    Label::from([("fr".to_owned(), fr.into()), ("en".to_owned(), en.into())])
}

/// The JSON Schema of a type, as a JSON value.
pub fn schema_of<T: JsonSchema + ?Sized>() -> Value {
    schemars::schema_for!(T).to_value()
}
