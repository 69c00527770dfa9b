//! The assembly refuses to start on an inconsistent setup, naming the problem, and remembers module
//! versions so that an older binary refuses data a newer one wrote.

use std::collections::BTreeMap;
use std::sync::Arc;

use ent::core::module::installed::InstalledModule;
use ent::core::module::{Handlers, Manifest};
use ent::core::storage::{Store, TxExt, TxMode};
use ent::core::{Ent, Error};
use ent::storage::memory::MemoryStore;
use guestbook::{Guestbook, Sign};
use serde_json::json;

use crate::fixture::{Custom, Probe, assemble, builder, clock};

async fn refused(builder: ent::core::EntBuilder) -> Error {
    builder.build().await.expect_err("the assembly must refuse to start")
}

fn bare(store: &MemoryStore) -> ent::core::EntBuilder {
    Ent::builder(Arc::new(store.clone()))
}

#[tokio::test]
async fn two_modules_with_one_id_are_refused() {
    let store = MemoryStore::new();
    let err = refused(bare(&store).module(Guestbook).module(Guestbook)).await;
    assert_eq!(err, Error::DuplicateModule { module: "guestbook".into() });
    let err = refused(bare(&store).module(Custom::new(Manifest::new("ent", "1.0.0")))).await;
    assert_eq!(err, Error::DuplicateModule { module: "ent".into() }, "`ent` is ent-core's own");
}

#[tokio::test]
async fn a_missing_dependency_is_refused() {
    let store = MemoryStore::new();
    let err = refused(bare(&store).module(Probe::default())).await;
    assert_eq!(
        err,
        Error::MissingDependency { module: "probe".into(), requires: "guestbook".into(), requirement: "^0.1".into() }
    );
}

#[tokio::test]
async fn an_unmet_version_requirement_is_refused() {
    let store = MemoryStore::new();
    let wants_v2 = Custom::new(Manifest::new("news", "1.0.0").requires("guestbook", "^2"));
    let err = refused(bare(&store).module(Guestbook).module(wants_v2)).await;
    assert_eq!(
        err,
        Error::VersionMismatch {
            module: "news".into(),
            requires: "guestbook".into(),
            requirement: "^2".into(),
            found: "0.1.0".into()
        }
    );
    let wants_core_9 = Custom::new(Manifest::new("news", "1.0.0").requires_core("^9"));
    let err = refused(bare(&store).module(wants_core_9)).await;
    assert!(matches!(&err, Error::VersionMismatch { requires, .. } if requires == "ent-core"), "{err:?}");
}

#[tokio::test]
async fn a_configuration_that_fails_its_schema_is_refused() {
    let store = MemoryStore::new();
    let err = refused(bare(&store).module(Guestbook).config("guestbook", json!({"title": 5}))).await;
    assert!(
        matches!(&err, Error::InvalidConfig { module, violations } if module == "guestbook" && violations[0].pointer == "/title"),
        "{err:?}"
    );
    let err = refused(bare(&store).module(Guestbook).config("agenda", json!({}))).await;
    assert_eq!(err, Error::UnknownModule { module: "agenda".into() });
    // A valid one is kept and given to the module.
    let ent = bare(&store).module(Guestbook).config("guestbook", json!({"title": "Livre"})).build().await.unwrap();
    assert_eq!(ent.registry().config("guestbook"), Some(&json!({"title": "Livre"})));
}

#[tokio::test]
async fn a_manifest_that_contradicts_its_handlers_is_refused() {
    let store = MemoryStore::new();
    let cases = [
        (Custom::new(Manifest::new("news", "1.0.0").right("news.read", "", []).action::<Sign>()), "must be named"),
        (
            Custom { manifest: Manifest::new("guestbook", "0.1.0"), handlers: Handlers::new().action(Sign) },
            "not in the manifest",
        ),
        (Custom::new(Manifest::new("news", "1.0.0").right("agenda.read", "", [])), "must be named `news.<name>`"),
        (Custom::new(Manifest::new("news", "one")), "not semver"),
        (Custom::new(Manifest::new("news", "1.0.0").listens("news.x", ["guestbook.signed"])), "has no handler"),
        (Custom::new(Manifest::new("news", "1.0.0").asset("web/news.js", "text/javascript")), "does not ship it"),
    ];
    for (module, expected) in cases {
        let err = refused(bare(&store).module(module)).await;
        assert!(matches!(&err, Error::Config(message) if message.contains(expected)), "{expected}: {err:?}");
    }
    let err = refused(bare(&store).module(Custom::new(Manifest::new("News", "1.0.0")))).await;
    assert!(matches!(err, Error::Invalid { .. }));
}

#[tokio::test]
async fn stored_data_newer_than_the_code_is_refused() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    assemble(&store, &clock, &probe).await;

    let rewrite = |version: &'static str, schema: u32| {
        let store = store.clone();
        async move {
            let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
            let old = tx.fetch_record::<InstalledModule>(("guestbook",)).await.unwrap();
            let record = InstalledModule {
                id: "guestbook".into(),
                version: version.into(),
                collections: BTreeMap::from([("guestbook.signatures".to_owned(), schema)]),
            };
            tx.update_record(old.version, &record).await.unwrap();
            tx.commit().await.unwrap();
        }
    };
    rewrite("0.3.0", 1).await;
    let err = refused(builder(&store, &clock, &probe)).await;
    assert_eq!(err, Error::Downgrade { module: "guestbook".into(), stored: "0.3.0".into(), running: "0.1.0".into() });

    rewrite("0.1.0", 2).await;
    let err = refused(builder(&store, &clock, &probe)).await;
    assert_eq!(err, Error::SchemaTooNew { what: "collection guestbook.signatures".into(), stored: 2, supported: 1 });

    rewrite("0.1.0", 1).await;
    builder(&store, &clock, &probe).build().await.unwrap();
}

#[tokio::test]
async fn the_registry_lists_every_manifest() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let ids: Vec<&str> = ent.registry().manifests().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["ent", "guestbook", "probe"]);
    assert_eq!(ent.registry().action("guestbook.sign").unwrap().right, "guestbook.sign");
    assert!(ent.registry().asset("guestbook", "i18n/fr.ftl").unwrap().starts_with(b"guestbook-title"));
    assert!(ent.registry().asset("guestbook", "Cargo.toml").is_none(), "only declared assets");
}
