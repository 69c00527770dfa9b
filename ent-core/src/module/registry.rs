//! The registry: the modules of an assembly, checked against each other, with their actions, rights,
//! settings, events and jobs indexed by name.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use super::action::DynAction;
use super::manifest::{ActionDecl, CORE_VERSION, Manifest, RightDecl, SettingDecl};
use super::service::ServiceModule;
use super::validation::SchemaCheck;
use crate::event::Subscriber;
use crate::job::JobHandler;
use crate::{Error, Result};

/// The modules of an assembly, checked: ids unique, dependencies present in the required versions, names
/// owned by their module, handlers matching their declarations, schemas compiled.
pub struct Registry {
    modules: BTreeMap<String, ModuleEntry>,
    actions: HashMap<String, Arc<ActionEntry>>,
    rights: HashMap<String, RightDecl>,
    settings: HashMap<String, Arc<SettingEntry>>,
    emitters: HashMap<String, String>,
    subscribers: Vec<Arc<SubscriberEntry>>,
    jobs: HashMap<String, Arc<JobEntry>>,
    configs: HashMap<String, Value>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("modules", &self.modules.keys().collect::<Vec<_>>()).finish()
    }
}

/// A registered module.
pub struct ModuleEntry {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its parsed version.
    pub version: semver::Version,
    pub(crate) module: Arc<dyn ServiceModule>,
}

pub(crate) struct ActionEntry {
    pub(crate) module: String,
    pub(crate) decl: ActionDecl,
    pub(crate) handler: Arc<dyn DynAction>,
    pub(crate) input: SchemaCheck,
}

impl ActionEntry {
    pub(crate) fn not_typed<A>(&self) -> Error {
        Error::Config(format!(
            "the action `{}` is not implemented by the Rust type {}: call it through JSON",
            self.decl.name,
            std::any::type_name::<A>()
        ))
    }
}

pub(crate) struct SettingEntry {
    pub(crate) decl: SettingDecl,
    pub(crate) check: SchemaCheck,
}

pub(crate) struct SubscriberEntry {
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) events: Vec<String>,
    pub(crate) handler: Arc<dyn Subscriber>,
}

pub(crate) struct JobEntry {
    pub(crate) module: String,
    pub(crate) every_seconds: Option<u64>,
    pub(crate) handler: Arc<dyn JobHandler>,
}

fn config_error(module: &str, message: impl std::fmt::Display) -> Error {
    Error::Config(format!("module `{module}`: {message}"))
}

/// The module UI contract's own consistency: names owned by the module, custom element tags valid, scripts
/// declared as assets, navigation to declared pages, French labels, iCal feeds on read-only actions.
fn check_web(m: &Manifest) -> Result<()> {
    let prefix = format!("{}.", m.id);
    let err = |message: String| Err(config_error(&m.id, message));
    let element_ok = |tag: &str| {
        tag.contains('-')
            && tag.starts_with(|c: char| c.is_ascii_lowercase())
            && tag.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' || c == '_')
    };
    let script_ok = |path: &str| m.assets.iter().any(|a| a.path == path && a.media_type == "text/javascript");
    let pieces = m.web.pages.iter().map(|p| ("page", &p.id, &p.element, &p.script));
    let pieces = pieces.chain(m.web.widgets.iter().map(|w| ("widget", &w.id, &w.element, &w.script)));
    for (kind, id, element, script) in pieces {
        if !id.starts_with(&prefix) || id.len() == prefix.len() {
            return err(format!("the {kind} `{id}` must be named `{prefix}<name>`"));
        }
        if !element_ok(element) {
            return err(format!(
                "the {kind} `{id}` has the element `{element}`: a custom element tag is lowercase with a hyphen"
            ));
        }
        if !script_ok(script) {
            return err(format!("the {kind} `{id}` needs `{script}` declared as a text/javascript asset"));
        }
    }
    let labels = m.web.nav.iter().map(|n| (&n.page, &n.label));
    let labels = labels.chain(m.web.widgets.iter().map(|w| (&w.id, &w.title)));
    for (what, label) in labels.chain(m.web.ical_feeds.iter().map(|f| (&f.action, &f.name))) {
        if label.get("fr").is_none_or(|t| t.trim().is_empty()) {
            return err(format!("the label of `{what}` needs a French text (`fr`)"));
        }
    }
    for nav in &m.web.nav {
        if !m.web.pages.iter().any(|p| p.id == nav.page) {
            return err(format!("the navigation entry to `{}` names no page of the module", nav.page));
        }
    }
    for feed in &m.web.ical_feeds {
        match m.actions.iter().find(|a| a.name == feed.action) {
            Some(a) if a.read_only => {}
            _ => return err(format!("the iCal feed `{}` must be a read-only action of the module", feed.action)),
        }
    }
    Ok(())
}

fn check_id(id: &str) -> Result<()> {
    let ok = id.len() <= 32
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "module.id",
            format!("`{id}`: lowercase ASCII letters, digits and `_`, starting with a letter"),
        ))
    }
}

fn parse_req(module: &str, requirement: &str) -> Result<semver::VersionReq> {
    semver::VersionReq::parse(requirement)
        .map_err(|e| config_error(module, format!("`{requirement}` is not a version requirement: {e}")))
}

impl Registry {
    /// Checks the modules against each other and indexes them. `configs` holds each module's configuration
    /// (a module with a configuration schema and no configuration is checked against `{}`).
    pub fn build(modules: Vec<Arc<dyn ServiceModule>>, mut configs: HashMap<String, Value>) -> Result<Registry> {
        let mut entries: BTreeMap<String, ModuleEntry> = BTreeMap::new();
        for module in modules {
            let manifest = module.manifest();
            check_id(&manifest.id)?;
            if entries.contains_key(&manifest.id) {
                return Err(Error::DuplicateModule { module: manifest.id });
            }
            let version = semver::Version::parse(&manifest.version).map_err(|e| {
                config_error(&manifest.id, format!("version `{}` is not semver: {e}", manifest.version))
            })?;
            entries.insert(manifest.id.clone(), ModuleEntry { manifest, version, module });
        }
        let core = semver::Version::parse(CORE_VERSION).expect("ent-core's own version is semver");
        for entry in entries.values() {
            let m = &entry.manifest;
            if !parse_req(&m.id, &m.requires_core)?.matches(&core) {
                return Err(Error::VersionMismatch {
                    module: m.id.clone(),
                    requires: "ent-core".into(),
                    requirement: m.requires_core.clone(),
                    found: CORE_VERSION.into(),
                });
            }
            for req in &m.requires {
                let wanted = parse_req(&m.id, &req.version)?;
                let Some(dep) = entries.get(&req.module) else {
                    return Err(Error::MissingDependency {
                        module: m.id.clone(),
                        requires: req.module.clone(),
                        requirement: req.version.clone(),
                    });
                };
                if !wanted.matches(&dep.version) {
                    return Err(Error::VersionMismatch {
                        module: m.id.clone(),
                        requires: req.module.clone(),
                        requirement: req.version.clone(),
                        found: dep.version.to_string(),
                    });
                }
            }
        }

        let mut registry = Registry {
            modules: BTreeMap::new(),
            actions: HashMap::new(),
            rights: HashMap::new(),
            settings: HashMap::new(),
            emitters: HashMap::new(),
            subscribers: Vec::new(),
            jobs: HashMap::new(),
            configs: HashMap::new(),
        };
        for entry in entries.values() {
            registry.index_declarations(entry)?;
        }
        for entry in entries.values() {
            registry.index_handlers(entry)?;
        }
        for (id, entry) in &entries {
            let given = configs.remove(id);
            match (&entry.manifest.config, given) {
                (Some(schema), given) => {
                    let value = given.unwrap_or_else(|| Value::Object(Default::default()));
                    let violations =
                        SchemaCheck::compile(&format!("the configuration of `{id}`"), schema)?.violations(&value);
                    if !violations.is_empty() {
                        return Err(Error::InvalidConfig { module: id.clone(), violations });
                    }
                    registry.configs.insert(id.clone(), value);
                }
                (None, Some(_)) => {
                    return Err(config_error(id, "a configuration was given, but the module takes none"));
                }
                (None, None) => {}
            }
        }
        if let Some(module) = configs.into_keys().next() {
            return Err(Error::UnknownModule { module });
        }
        registry.modules = entries;
        Ok(registry)
    }

    fn index_declarations(&mut self, entry: &ModuleEntry) -> Result<()> {
        let m = &entry.manifest;
        let prefix = format!("{}.", m.id);
        let owned = |kind: &str, name: &str| -> Result<()> {
            if name.starts_with(&prefix) && name.len() > prefix.len() {
                Ok(())
            } else {
                Err(config_error(&m.id, format!("the {kind} `{name}` must be named `{prefix}<name>`")))
            }
        };
        for right in &m.rights {
            owned("right", &right.name)?;
            if self.rights.insert(right.name.clone(), right.clone()).is_some() {
                return Err(config_error(&m.id, format!("the right `{}` is declared twice", right.name)));
            }
        }
        for c in &m.collections {
            owned("collection", &c.def.name)?;
        }
        for a in &m.actions {
            owned("action", &a.name)?;
        }
        for l in &m.listens {
            owned("subscriber", &l.subscriber)?;
        }
        for j in &m.jobs {
            owned("job", &j.kind)?;
        }
        for e in &m.emits {
            owned("event", &e.name)?;
            self.emitters.insert(e.name.clone(), m.id.clone());
        }
        for n in &m.notifications {
            owned("notification", &n.name)?;
        }
        for s in &m.settings {
            owned("setting", &s.name)?;
            let check = SchemaCheck::compile(&format!("the setting `{}`", s.name), &s.schema)?;
            let violations = check.violations(&s.default);
            if !violations.is_empty() {
                return Err(config_error(
                    &m.id,
                    format!("the default of setting `{}` fails its schema: {violations:?}", s.name),
                ));
            }
            self.settings.insert(s.name.clone(), Arc::new(SettingEntry { decl: s.clone(), check }));
        }
        check_web(m)?;
        for asset in m.assets.iter().map(|a| &a.path).chain(m.i18n.iter().map(|c| &c.path)) {
            if entry.module.asset(asset).is_none() {
                return Err(config_error(
                    &m.id,
                    format!("the asset `{asset}` is declared but the module does not ship it"),
                ));
            }
        }
        Ok(())
    }

    fn index_handlers(&mut self, entry: &ModuleEntry) -> Result<()> {
        let m = &entry.manifest;
        let prefix = format!("{}.", m.id);
        let handlers = entry.module.handlers();

        let mut declared: HashSet<&str> = m.actions.iter().map(|a| a.name.as_str()).collect();
        for handler in &handlers.actions {
            let name = handler.name();
            let Some(decl) = m.find_action(name) else {
                return Err(config_error(
                    &m.id,
                    format!("the action `{name}` has a handler but is not in the manifest"),
                ));
            };
            if !declared.remove(name) {
                return Err(config_error(&m.id, format!("the action `{name}` has two handlers")));
            }
            if !name.starts_with(&prefix) {
                return Err(config_error(&m.id, format!("the action `{name}` must be named `{prefix}<name>`")));
            }
            if !self.rights.contains_key(&decl.right) {
                return Err(config_error(
                    &m.id,
                    format!("the action `{name}` needs the right `{}`, which no module declares", decl.right),
                ));
            }
            let input = SchemaCheck::compile(&format!("the input of `{name}`"), &decl.input)?;
            self.actions.insert(
                name.to_owned(),
                Arc::new(ActionEntry { module: m.id.clone(), decl: decl.clone(), handler: handler.clone(), input }),
            );
        }
        if let Some(name) = declared.into_iter().next() {
            return Err(config_error(&m.id, format!("the action `{name}` is in the manifest but has no handler")));
        }

        for handler in &handlers.subscribers {
            let name = handler.name();
            let Some(decl) = m.listens.iter().find(|l| l.subscriber == name) else {
                return Err(config_error(&m.id, format!("the subscriber `{name}` is not in the manifest")));
            };
            if !name.starts_with(&prefix) {
                return Err(config_error(&m.id, format!("the subscriber `{name}` must be named `{prefix}<name>`")));
            }
            for event in &decl.events {
                if !self.emitters.contains_key(event) {
                    return Err(config_error(
                        &m.id,
                        format!("the subscriber `{name}` listens to `{event}`, which no module in the assembly emits"),
                    ));
                }
            }
            if self.subscribers.iter().any(|s| s.name == name) {
                return Err(config_error(&m.id, format!("the subscriber `{name}` has two handlers")));
            }
            self.subscribers.push(Arc::new(SubscriberEntry {
                module: m.id.clone(),
                name: name.to_owned(),
                events: decl.events.clone(),
                handler: handler.clone(),
            }));
        }
        for decl in &m.listens {
            if !handlers.subscribers.iter().any(|s| s.name() == decl.subscriber) {
                return Err(config_error(&m.id, format!("the subscriber `{}` has no handler", decl.subscriber)));
            }
        }

        for handler in &handlers.jobs {
            let kind = handler.kind();
            let Some(decl) = m.jobs.iter().find(|j| j.kind == kind) else {
                return Err(config_error(&m.id, format!("the job `{kind}` is not in the manifest")));
            };
            if !kind.starts_with(&prefix) {
                return Err(config_error(&m.id, format!("the job `{kind}` must be named `{prefix}<name>`")));
            }
            let entry = JobEntry { module: m.id.clone(), every_seconds: decl.every_seconds, handler: handler.clone() };
            if self.jobs.insert(kind.to_owned(), Arc::new(entry)).is_some() {
                return Err(config_error(&m.id, format!("the job `{kind}` has two handlers")));
            }
        }
        for decl in &m.jobs {
            if !self.jobs.contains_key(&decl.kind) {
                return Err(config_error(&m.id, format!("the job `{}` has no handler", decl.kind)));
            }
        }
        Ok(())
    }

    /// The manifests, ordered by module id (`ent`, ent-core's own, included).
    pub fn manifests(&self) -> impl Iterator<Item = &Manifest> {
        self.modules.values().map(|e| &e.manifest)
    }

    /// A module's entry.
    pub fn module(&self, id: &str) -> Option<&ModuleEntry> {
        self.modules.get(id)
    }

    /// An action's declaration.
    pub fn action(&self, name: &str) -> Option<&ActionDecl> {
        self.actions.get(name).map(|a| &a.decl)
    }

    /// A right's declaration.
    pub fn right(&self, name: &str) -> Option<&RightDecl> {
        self.rights.get(name)
    }

    /// Every right the modules declare, in no particular order.
    pub fn rights(&self) -> impl Iterator<Item = &RightDecl> {
        self.rights.values()
    }

    /// A setting's declaration.
    pub fn setting(&self, name: &str) -> Option<&SettingDecl> {
        self.settings.get(name).map(|s| &s.decl)
    }

    /// A module's configuration, as validated.
    pub fn config(&self, module: &str) -> Option<&Value> {
        self.configs.get(module)
    }

    /// The bytes of an asset a module declares.
    pub fn asset(&self, module: &str, path: &str) -> Option<Cow<'static, [u8]>> {
        let entry = self.modules.get(module)?;
        let declared =
            entry.manifest.assets.iter().any(|a| a.path == path) || entry.manifest.i18n.iter().any(|c| c.path == path);
        if declared { entry.module.asset(path) } else { None }
    }

    /// Resolves `module.action`, telling an unknown module from an unknown action.
    pub(crate) fn resolve(&self, name: &str) -> Result<&Arc<ActionEntry>> {
        if let Some(entry) = self.actions.get(name) {
            return Ok(entry);
        }
        let module = name.split_once('.').map_or(name, |(m, _)| m);
        if self.modules.contains_key(module) {
            Err(Error::UnknownAction { module: module.to_owned(), action: name.to_owned() })
        } else {
            Err(Error::UnknownModule { module: module.to_owned() })
        }
    }

    pub(crate) fn setting_entry(&self, name: &str) -> Result<&Arc<SettingEntry>> {
        self.settings.get(name).ok_or_else(|| Error::UnknownSetting { setting: name.to_owned() })
    }

    pub(crate) fn emitter(&self, event: &str) -> Option<&str> {
        self.emitters.get(event).map(String::as_str)
    }

    pub(crate) fn subscribers(&self) -> &[Arc<SubscriberEntry>] {
        &self.subscribers
    }

    pub(crate) fn job(&self, kind: &str) -> Option<&Arc<JobEntry>> {
        self.jobs.get(kind)
    }

    pub(crate) fn jobs(&self) -> impl Iterator<Item = (&String, &Arc<JobEntry>)> {
        self.jobs.iter()
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = &ModuleEntry> {
        self.modules.values()
    }
}

#[cfg(test)]
mod web_tests {
    use super::check_web;
    use crate::directory::Profile;
    use crate::module::Manifest;

    fn base() -> Manifest {
        Manifest::new("news", "1.0.0").asset("web/news-page.js", "text/javascript").asset("web/news.css", "text/css")
    }

    #[test]
    fn a_consistent_ui_passes() {
        let m = base()
            .page("news.list", "news-page", "web/news-page.js")
            .nav("news.list", "Actualités", "News", [])
            .widget(
                "news.latest",
                "news-page",
                "web/news-page.js",
                ("Dernières nouvelles", "Latest news"),
                [Profile::Eleve],
            );
        check_web(&m).unwrap();
    }

    #[test]
    fn inconsistent_uis_are_refused_with_the_reason() {
        let cases: Vec<(Manifest, &str)> = vec![
            (base().page("other.list", "news-page", "web/news-page.js"), "must be named `news.<name>`"),
            (base().page("news.list", "newspage", "web/news-page.js"), "custom element tag"),
            (base().page("news.list", "News-page", "web/news-page.js"), "custom element tag"),
            (base().page("news.list", "news-page", "web/missing.js"), "declared as a text/javascript asset"),
            (base().page("news.list", "news-page", "web/news.css"), "declared as a text/javascript asset"),
            (
                base().page("news.list", "news-page", "web/news-page.js").nav("news.other", "A", "A", []),
                "names no page",
            ),
            (base().page("news.list", "news-page", "web/news-page.js").nav("news.list", " ", "News", []), "French"),
            (base().ical_feed("news.feed", "Actualités", "News"), "read-only action"),
        ];
        for (m, expected) in cases {
            let e = check_web(&m).unwrap_err().to_string();
            assert!(e.contains(expected), "{e} should contain {expected}");
        }
    }

    #[test]
    fn the_ui_survives_json_and_defaults_when_absent() {
        let m = base().page("news.list", "news-page", "web/news-page.js").nav("news.list", "Actualités", "News", []);
        let back: Manifest = serde_json::from_str(&m.to_json_pretty()).unwrap();
        assert_eq!(back, m);
        let mut v = serde_json::to_value(&m).unwrap();
        v.as_object_mut().unwrap().remove("web");
        let old: Manifest = serde_json::from_value(v).unwrap();
        assert!(old.web.pages.is_empty(), "a manifest from before the UI contract still reads");
    }
}
