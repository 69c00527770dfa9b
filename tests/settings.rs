//! Settings: defaults from the manifest, changed at run time by administrators, validated, version
//! checked, audited.

use ent::core::directory::Profile;
use ent::core::{Error, StructureId};
use ent::storage::memory::MemoryStore;
use guestbook::{Guestbook, MAX_LENGTH, MaxLength};
use serde_json::json;

use crate::fixture::{Probe, assemble, census, clock, user};

#[tokio::test]
async fn a_setting_reads_its_default_then_what_an_administrator_set() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let (here, elsewhere) = (StructureId::new(), StructureId::new());
    let admin = user(here, Profile::AdminLocal);
    let pupil = user(here, Profile::Eleve);

    assert_eq!(ent.setting::<MaxLength>(here, MAX_LENGTH).await.unwrap(), MaxLength(280));
    let version = ent.set_setting(&admin, here, MAX_LENGTH, &MaxLength(20), Some(0)).await.unwrap();
    assert_eq!(version, 1);
    assert_eq!(ent.setting::<MaxLength>(here, MAX_LENGTH).await.unwrap(), MaxLength(20));
    assert_eq!(ent.setting::<MaxLength>(elsewhere, MAX_LENGTH).await.unwrap(), MaxLength(280), "per structure");

    // Modules read it in their transaction.
    let err = Guestbook::sign(&ent, &pupil, "x".repeat(21)).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }));
    Guestbook::sign(&ent, &pupil, "x".repeat(20)).await.unwrap();

    let trail = ent.audit_trail(&format!("{MAX_LENGTH}@{here}"), 10).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].actor, admin);
    assert_eq!(trail[0].details, json!({"before": 280, "after": 20}));
}

#[tokio::test]
async fn each_bad_setting_change_is_its_own_error_and_stores_nothing() {
    let (store, clock, probe) = (MemoryStore::new(), clock(), Probe::default());
    let ent = assemble(&store, &clock, &probe).await;
    let here = StructureId::new();
    let admin = user(here, Profile::AdminLocal);
    ent.set_setting(&admin, here, MAX_LENGTH, &MaxLength(100), None).await.unwrap();
    let before = census(&store).await;

    let err = ent.set_setting(&admin, here, MAX_LENGTH, &MaxLength(5), None).await.unwrap_err();
    assert!(matches!(&err, Error::InvalidSetting { setting, .. } if setting == MAX_LENGTH), "{err:?}");
    let err = ent.set_setting(&admin, here, MAX_LENGTH, &"long", None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidSetting { .. }), "{err:?}");
    let err = ent.set_setting(&admin, here, "guestbook.colour", &1, None).await.unwrap_err();
    assert_eq!(err, Error::UnknownSetting { setting: "guestbook.colour".into() });
    let err = ent.set_setting(&admin, here, MAX_LENGTH, &MaxLength(50), Some(0)).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { expected: Some(0), found: Some(1), retryable: false, .. }), "{err:?}");
    let pupil = user(here, Profile::Eleve);
    let err = ent.set_setting(&pupil, here, MAX_LENGTH, &MaxLength(50), None).await.unwrap_err();
    assert_eq!(err, Error::Forbidden { right: "ent.settings.write".into() });
    let other_admin = user(StructureId::new(), Profile::AdminLocal);
    let err = ent.set_setting(&other_admin, here, MAX_LENGTH, &MaxLength(50), None).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "another structure's administrator");

    assert_eq!(census(&store).await, before);
    assert_eq!(ent.setting::<MaxLength>(here, MAX_LENGTH).await.unwrap(), MaxLength(100));
    let central = user(StructureId::new(), Profile::AdminCentral);
    ent.set_setting(&central, here, MAX_LENGTH, &MaxLength(50), Some(1)).await.unwrap();
}
