//! A first taste of ent's storage port: declare a collection, write typed records in a transaction,
//! search them through a multi-entry index, page with a cursor, count with an atomic counter.
//!
//! `cargo run --example quickstart`

#![allow(clippy::print_stdout)] // an example talks to its reader

use ent::core::storage::{
    CollectionDef, IndexDef, IndexEntry, KeyKind, Record, Scan, Store, Tuple, TxExt, TxMode, retry,
};
use ent::storage::memory::MemoryStore;
use serde::{Deserialize, Serialize};

/// A pupil, as a module would store it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pupil {
    id: uuid::Uuid,
    given_name: String,
    family_name: String,
    class: String,
}

/// Lowercase, accents removed: "Hélène" -> "helene". (The directory issue brings the full folding rules.)
fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

impl Record for Pupil {
    const COLLECTION: &'static str = "quickstart.pupils";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Uuid])
            .index(IndexDef::new("by_class", [KeyKind::Str, KeyKind::Str]))
            .index(IndexDef::new("by_name_token", [KeyKind::Str]))
    }

    fn id(&self) -> Tuple {
        self.id.into()
    }

    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut entries =
            vec![IndexEntry { index: "by_class".into(), key: (self.class.as_str(), fold(&self.family_name)).into() }];
        // One entry per name token: several entries for one record.
        for token in format!("{} {}", self.given_name, self.family_name).split([' ', '-', '\'']) {
            if !token.is_empty() {
                entries.push(IndexEntry { index: "by_name_token".into(), key: (fold(token),).into() });
            }
        }
        entries
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ent::Result<()> {
    let store = MemoryStore::new();
    store.declare(&[Pupil::collection()]).await?;

    let pupils = [
        ("Hélène", "Martin", "3A"),
        ("Jean-Pierre", "O'Connor", "3A"),
        ("Chloé", "Lefèvre", "3A"),
        ("Lucas", "Hélène", "4B"),
        ("Inès", "Dubois", "3A"),
    ];
    let mut tx = store.begin(TxMode::ReadWrite).await?;
    for (given, family, class) in pupils {
        let pupil = Pupil {
            id: uuid::Uuid::now_v7(),
            given_name: given.into(),
            family_name: family.into(),
            class: class.into(),
        };
        tx.insert_record(&pupil).await?;
        tx.counter_add(Pupil::COLLECTION, &(class,).into(), 1).await?;
    }
    tx.commit().await?;

    let mut tx = store.begin(TxMode::ReadOnly).await?;
    println!(
        "3A has {} pupils; by family name, two per page:",
        tx.counter_get(Pupil::COLLECTION, &("3A",).into()).await?
    );
    let mut cursor = None;
    loop {
        let scan = Scan::index(Pupil::COLLECTION, "by_class").prefix(("3A",)).limit(2).after(cursor);
        let (page, next) = tx.scan_records::<Pupil>(&scan).await?;
        for p in &page {
            println!("  {} {}", p.value.given_name, p.value.family_name);
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }

    let (found, _) =
        tx.scan_records::<Pupil>(&Scan::index(Pupil::COLLECTION, "by_name_token").prefix((fold("HELENE"),))).await?;
    println!("searching \"HELENE\" finds {} pupils:", found.len());
    for p in &found {
        println!("  {} {} ({})", p.value.given_name, p.value.family_name, p.value.class);
    }
    drop(tx);

    // A read-modify-write that retries by itself if a concurrent transaction wins.
    let moved = retry::transact(&store, TxMode::ReadWrite, |tx| {
        Box::pin(async move {
            let scan = Scan::index(Pupil::COLLECTION, "by_class").prefix(("4B",)).limit(10);
            let (page, _) = tx.scan_records::<Pupil>(&scan).await?;
            for p in &page {
                let pupil = Pupil { class: "3A".into(), ..p.value.clone() };
                tx.update_record(p.version, &pupil).await?;
                tx.counter_add(Pupil::COLLECTION, &("4B",).into(), -1).await?;
                tx.counter_add(Pupil::COLLECTION, &("3A",).into(), 1).await?;
            }
            Ok(page.len())
        })
    })
    .await?;
    let mut tx = store.begin(TxMode::ReadOnly).await?;
    println!(
        "moved {moved} pupil from 4B to 3A; 3A now has {}",
        tx.counter_get(Pupil::COLLECTION, &("3A",).into()).await?
    );
    Ok(())
}
