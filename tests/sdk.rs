//! The module SDK: typed and JSON calls share one path; every bad input is its own typed error and stores
//! nothing.

use ent::core::directory::Profile;
use ent::core::module::ServiceModule;
use ent::core::{Caller, Error, StructureId, SystemScope};
use ent::storage::memory::MemoryStore;
use guestbook::{Guestbook, ListInput, Signature};
use serde_json::json;

use crate::fixture::{Probe, assemble, census, clock, user};

#[tokio::test]
async fn typed_and_json_calls_reach_the_same_action() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let structure = StructureId::new();
    let pupil = user(structure, Profile::Eleve);

    let typed = Guestbook::sign(&ent, &pupil, "typed").await.unwrap();
    let json = ent.call(&pupil, "guestbook.sign", r#"{"message": "json"}"#).await.unwrap();
    assert_eq!(typed.version, 1);
    assert_eq!(json["version"], 1);

    let typed_list = Guestbook::list(&ent, &pupil, ListInput { limit: 10 }).await.unwrap();
    let json_list = ent.call_value(&pupil, "guestbook.list", json!({"limit": 10})).await.unwrap();
    assert_eq!(serde_json::to_value(&typed_list).unwrap(), json_list);
    let messages: Vec<&str> = typed_list.signatures.iter().map(|s| s.message.as_str()).collect();
    assert_eq!(messages, ["json", "typed"], "newest first");
    assert!(typed_list.signatures.iter().all(|s| s.author == pupil.user_id().unwrap()));
}

/// What an error must look like.
type Expect = Box<dyn Fn(&Error) -> bool>;

#[tokio::test]
async fn each_bad_input_is_its_own_error_and_stores_nothing() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let structure = StructureId::new();
    let pupil = user(structure, Profile::Eleve);
    let signed = Guestbook::sign(&ent, &pupil, "first").await.unwrap();
    Guestbook::edit(&ent, &pupil, signed.id, signed.version, "edited").await.unwrap();
    let before = census(&store).await;

    let stale = format!(r#"{{"id": "{}", "version": 1, "message": "late"}}"#, signed.id);
    let cases: Vec<(&str, &str, &str, Expect)> = vec![
        (
            "unknown module",
            "agenda.create",
            "{}",
            Box::new(|e| matches!(e, Error::UnknownModule { module } if module == "agenda")),
        ),
        (
            "unknown action",
            "guestbook.burn",
            "{}",
            Box::new(|e| matches!(e, Error::UnknownAction { action, .. } if action == "guestbook.burn")),
        ),
        (
            "malformed JSON",
            "guestbook.sign",
            r#"{"message": "#,
            Box::new(|e| matches!(e, Error::MalformedJson { line: 1, .. })),
        ),
        (
            "input failing its schema (empty message)",
            "guestbook.sign",
            r#"{"message": ""}"#,
            Box::new(|e| matches!(e, Error::InvalidInput { violations, .. } if violations[0].pointer == "/message")),
        ),
        (
            "input failing its schema (unknown field)",
            "guestbook.sign",
            r#"{"message": "hi", "author": "someone else"}"#,
            Box::new(|e| matches!(e, Error::InvalidInput { .. })),
        ),
        (
            "input failing its schema (wrong type)",
            "guestbook.list",
            r#"{"limit": "ten"}"#,
            Box::new(|e| matches!(e, Error::InvalidInput { violations, .. } if violations[0].pointer == "/limit")),
        ),
        (
            "stale version",
            "guestbook.edit",
            &stale,
            Box::new(|e| matches!(e, Error::Conflict { retryable: false, found: Some(2), .. })),
        ),
    ];
    for (case, action, input, expected) in cases {
        let err = ent.call(&pupil, action, input).await.unwrap_err();
        assert!(expected(&err), "{case}: got {err:?}");
        assert_eq!(census(&store).await, before, "{case}: nothing stored");
    }

    // A right not held: a guest reads but does not sign.
    let guest = user(structure, Profile::Invite);
    let err = ent.call(&guest, "guestbook.sign", r#"{"message": "hi"}"#).await.unwrap_err();
    assert_eq!(err, Error::Forbidden { right: "guestbook.sign".into() });
    ent.call(&guest, "guestbook.list", r#"{"limit": 1}"#).await.unwrap();
    // The typed path checks the same right and the same schema.
    assert!(matches!(Guestbook::sign(&ent, &guest, "hi").await, Err(Error::Forbidden { .. })));
    assert!(matches!(Guestbook::sign(&ent, &pupil, "").await, Err(Error::InvalidInput { .. })));
    // A rule of the action itself (the structure's maximum length) fails inside the transaction.
    let long = "x".repeat(281);
    assert!(
        matches!(Guestbook::sign(&ent, &pupil, long).await, Err(Error::Invalid { field, .. }) if field == "message")
    );
    assert_eq!(census(&store).await, before, "nothing stored");
}

#[tokio::test]
async fn a_panicking_action_is_an_error_of_that_call() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let teacher = user(StructureId::new(), Profile::Enseignant);
    let before = census(&store).await;
    let err = ent.call(&teacher, "probe.touch", r#"{"n": 1, "panic": true}"#).await.unwrap_err();
    assert!(
        matches!(&err, Error::Panicked { what, message } if what == "probe.touch" && message.contains("told to panic"))
    );
    assert_eq!(census(&store).await, before);
    // The assembly still works.
    assert_eq!(ent.call(&teacher, "probe.touch", r#"{"n": 1}"#).await.unwrap(), json!(1));
}

#[tokio::test]
async fn a_system_caller_acts_within_its_scope_and_is_audited() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let structure = StructureId::new();

    let import = Caller::system("import:test", SystemScope::rights(["probe.*"]));
    ent.call(&import, "probe.touch", r#"{"n": 7}"#).await.unwrap();
    let trail = ent.audit_trail("probe.touch", 10).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].actor, import);
    assert_eq!(trail[0].action, "action.run");

    // Outside its scope: refused.
    let err = ent.call(&import, "guestbook.list", r#"{"limit": 1}"#).await.unwrap_err();
    assert_eq!(err, Error::Forbidden { right: "guestbook.read".into() });
    // A system caller reading a structure's book.
    let reader = Caller::system("report:test", SystemScope::rights(["guestbook.read"])).in_structure(structure);
    assert_eq!(ent.call(&reader, "guestbook.list", r#"{"limit": 1}"#).await.unwrap()["total"], 0);
    // The guest book's sign needs a person: the module refuses a system caller itself.
    let writer = Caller::system("bot", SystemScope::module("guestbook")).in_structure(structure);
    assert!(matches!(Guestbook::sign(&ent, &writer, "beep").await, Err(Error::Forbidden { .. })));
}

#[tokio::test]
async fn the_manifest_prints_as_json_and_reads_back() {
    let manifest = Guestbook.manifest();
    let json = manifest.to_json_pretty();
    let back: ent::core::module::Manifest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, manifest);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["id"], "guestbook");
    assert_eq!(value["actions"][0]["name"], "guestbook.sign");
    assert_eq!(value["actions"][0]["right"], "guestbook.sign");
    assert_eq!(value["actions"][0]["input"]["properties"]["message"]["maxLength"], 2000);
    assert_eq!(value["settings"][0]["default"], 280);
    assert_eq!(value["emits"][0]["name"], "guestbook.signed");
    assert_eq!(value["listens"][0]["events"][0], "guestbook.signed");
    assert_eq!(value["collections"][0]["name"], <Signature as ent::core::storage::Record>::COLLECTION);
    assert_eq!(value["i18n"][0]["lang"], "fr");
}

#[tokio::test]
async fn the_futures_of_the_api_are_send() {
    fn send<T: Send>(_: &T) {}
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let caller = user(StructureId::new(), Profile::Eleve);
    let call = ent.call(&caller, "guestbook.list", "{}");
    send(&call);
    let run = Guestbook::list(&ent, &caller, ListInput { limit: 1 });
    send(&run);
    let events = ent.run_pending_events();
    send(&events);
    let jobs = ent.run_due_jobs();
    send(&jobs);
}
