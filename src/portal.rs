//! The reference portal's demo (feature `web`): the demo school of [`crate::import::demo`] with a local
//! administrator, and one account per profile activated with a known password, so that a newcomer can log
//! in as a pupil, a parent, a teacher, the head and the administrator.
//!
//! This is what `ent serve --demo` runs; an integrator's own portal (see `examples/portal`) runs it too.

use ent_core::Ent;
use ent_core::account::Accounts;
use ent_core::directory::{Function, Profile, User};
use ent_core::storage::{Record, Scan, TxExt, TxMode};
use ent_import::demo::{Demo, DemoConfig};
use ent_import::{ApplyOptions, Report};
use ent_import::{Batch, PersonIn, PersonRef, UnitRef};

use crate::{Error, Result};

/// The password of the demo accounts: printed by `ent serve --demo`, written in the README. A demo
/// portal is for trying ent on one's own machine, never for real people's data.
pub const DEMO_PASSWORD: &str = "Bienvenue au collège 2026 !";

/// The source key of the demo's local administrator (the national feed has no administrators).
const ADMIN_KEY: &str = "demo-admin";

/// An account of the demo a newcomer can log in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    /// The profile it shows.
    pub profile: Profile,
    /// Its login.
    pub login: String,
    /// Its name.
    pub display_name: String,
    /// Its password ([`DEMO_PASSWORD`]).
    pub password: String,
}

/// The demo batches, the first structure's with a local administrator added.
fn batches(config: &DemoConfig) -> Vec<Batch> {
    let mut batches: Vec<Batch> = Demo::new(config.clone()).batches().collect();
    if let Some(first) = batches.first_mut() {
        let structure = first.structures[0].key.clone();
        first.people.push(PersonIn {
            key: ADMIN_KEY.to_owned(),
            given_name: "Dominique".to_owned(),
            family_name: "Administrateur".to_owned(),
            birth_date: None,
            email: None,
            affiliations: vec![PersonRef { structure, profile: Profile::AdminLocal, functions: vec![] }],
            adult: false,
            disabled: false,
            units: vec![],
            teachings: vec![],
            parents: vec![],
            kept_parents: vec![],
            extra: Default::default(),
        });
    }
    batches
}

/// The source keys of the people shown, chosen from the first structure's batch alone (deterministic):
/// a parent with authority over two children or more and their first child with a class, a teacher, the
/// head, the administrator.
fn chosen(batch: &Batch) -> Vec<(Profile, String)> {
    let has = |p: &PersonIn, profile: Profile| p.affiliations.iter().any(|a| a.profile == profile);
    let mut children_of: std::collections::BTreeMap<&str, Vec<&PersonIn>> = Default::default();
    for p in batch.people.iter().filter(|p| has(p, Profile::Eleve)) {
        for link in p.parents.iter().filter(|l| l.legal && l.authority) {
            children_of.entry(link.parent.as_str()).or_default().push(p);
        }
    }
    let mut out = Vec::new();
    let family = children_of.iter().find(|(_, kids)| {
        kids.len() >= 2 && kids.iter().all(|k| k.units.iter().any(|u| matches!(u, UnitRef::Class(_))))
    });
    if let Some((parent, kids)) = family {
        out.push((Profile::Eleve, kids[0].key.clone()));
        out.push((Profile::Responsable, (*parent).to_owned()));
    }
    if let Some(t) = batch.people.iter().find(|p| has(p, Profile::Enseignant) && !p.teachings.is_empty()) {
        out.push((Profile::Enseignant, t.key.clone()));
    }
    let head = batch.people.iter().find(|p| {
        p.affiliations
            .iter()
            .any(|a| a.profile == Profile::Direction && a.functions.contains(&Function::ChefEtablissement))
    });
    if let Some(d) = head {
        out.push((Profile::Direction, d.key.clone()));
    }
    out.push((Profile::AdminLocal, ADMIN_KEY.to_owned()));
    out
}

async fn user_by_source(ent: &Ent, source: &str, key: &str) -> Result<Option<User>> {
    let mut tx = ent.store().begin(TxMode::ReadOnly).await?;
    let scan = Scan::index(User::COLLECTION, "by_source").prefix((source, key)).limit(1);
    Ok(tx.scan_records::<User>(&scan).await?.0.into_iter().next().map(|v| v.value))
}

async fn has_users(ent: &Ent) -> Result<bool> {
    let mut tx = ent.store().begin(TxMode::ReadOnly).await?;
    Ok(tx.count(&Scan::primary(User::COLLECTION).limit(1)).await? > 0)
}

/// Loads the demo into an empty store (through the import's apply path) and activates one account per
/// profile with [`DEMO_PASSWORD`]; on a store that already holds this demo, changes nothing and returns the
/// same logins. Refuses ([`Error::Config`]) a store that holds other people.
pub async fn load_demo(ent: &Ent, accounts: &Accounts, config: &DemoConfig) -> Result<Vec<DemoLogin>> {
    let batches = batches(config);
    let first = batches.first().ok_or_else(|| Error::invalid("demo", "at least one structure"))?;
    let chosen = chosen(first);
    if has_users(ent).await? {
        if user_by_source(ent, &first.source, ADMIN_KEY).await?.is_none() {
            return Err(Error::Config(
                "--demo loads the demo school into an empty database; this one already holds other people".into(),
            ));
        }
    } else {
        let mut report = Report::default();
        for batch in &batches {
            let r = ent_import::apply(&**ent.store(), &**ent.clock(), batch, &ApplyOptions::default()).await?;
            report.codes.extend(r.codes);
        }
        for (_, key) in &chosen {
            let user =
                user_by_source(ent, &first.source, key).await?.ok_or_else(|| Error::not_found("demo person", key))?;
            let code = report
                .codes
                .iter()
                .find(|c| c.user == user.id)
                .ok_or_else(|| Error::not_found("activation code of", &user.login))?;
            let opened = accounts.activate(&code.code, DEMO_PASSWORD, None, None).await?;
            accounts.logout(opened.token.expose()).await?;
        }
    }
    let mut out = Vec::new();
    for (profile, key) in chosen {
        let user =
            user_by_source(ent, &first.source, &key).await?.ok_or_else(|| Error::not_found("demo person", &key))?;
        out.push(DemoLogin {
            profile,
            login: user.login.clone(),
            display_name: user.display_name(),
            password: DEMO_PASSWORD.to_owned(),
        });
    }
    Ok(out)
}
