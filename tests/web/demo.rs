//! The demo portal of `ent serve --demo`: the logins the README gives are the ones it prints, a second
//! run changes nothing, and a database holding other people is refused.

use std::sync::Arc;

use ent::core::Ent;
use ent::core::account::{AccountPolicy, Accounts, LoginRequest};
use ent::core::directory::Profile;
use ent::import::demo::DemoConfig;
use ent::storage::memory::MemoryStore;

#[tokio::test]
async fn the_readme_logins_are_the_demo_logins() {
    let store = Arc::new(MemoryStore::new());
    let ent = Ent::builder(store.clone()).module(ent::web::Portal).build().await.unwrap();
    let policy = AccountPolicy { totp_required_for: vec![], ..AccountPolicy::default() };
    let accounts = Accounts::new(store.clone(), ent.clock().clone(), policy);
    let logins = ent::portal::load_demo(&ent, &accounts, &DemoConfig::college()).await.unwrap();
    let readme = include_str!("../../README.md");
    let shown: Vec<(Profile, &str)> = logins.iter().map(|l| (l.profile, l.login.as_str())).collect();
    assert_eq!(
        shown.iter().map(|s| s.0).collect::<Vec<_>>(),
        [Profile::Eleve, Profile::Responsable, Profile::Enseignant, Profile::Direction, Profile::AdminLocal]
    );
    for l in &logins {
        assert!(readme.contains(&format!("`{}`", l.login)), "the README names {}", l.login);
        let req = LoginRequest { login: l.login.clone(), password: l.password.clone(), ..LoginRequest::default() };
        let opened = accounts.login(&req).await.unwrap_or_else(|e| panic!("{}: {e}", l.login));
        assert!(opened.session.profiles.contains(&l.profile), "{}", l.login);
    }
    assert!(readme.contains(ent::portal::DEMO_PASSWORD), "the README gives the password");
    let census = crate::fixture::census(&store).await;
    let again = ent::portal::load_demo(&ent, &accounts, &DemoConfig::college()).await.unwrap();
    assert_eq!(again, logins, "a second run finds the same accounts");
    assert_eq!(crate::fixture::census(&store).await, census, "and changes nothing");
}

#[tokio::test]
async fn the_demo_refuses_a_database_of_other_people() {
    let store = Arc::new(MemoryStore::new());
    let ent = Ent::builder(store.clone()).module(ent::web::Portal).build().await.unwrap();
    let mut other = ent::import::demo::Demo::new(DemoConfig { seed: 7, ..DemoConfig::college() }).batch(0);
    other.people.truncate(20);
    other.source = "aaf".into();
    ent::import::apply(&*store, &**ent.clock(), &other, &Default::default()).await.unwrap();
    let accounts = Accounts::new(store.clone(), ent.clock().clone(), AccountPolicy::default());
    let e = ent::portal::load_demo(&ent, &accounts, &DemoConfig::college()).await.unwrap_err();
    assert!(e.to_string().contains("empty database"), "{e}");
}
