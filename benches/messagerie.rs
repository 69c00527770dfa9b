//! Criterion benchmarks of the messagerie on a SQLite file (`synchronous=FULL`, then `NORMAL`): a message to
//! the 2,000 parents of a lycée, and an inbox page and an unread count in a mailbox of 50,000 messages.
//!
//! `cargo bench --bench messagerie --features "sqlite messagerie"`; figures in `docs/benchmarks.md`.
//!
//! Each send goes through the JSON action as the principal would call it: the rules (the parents of the
//! structure, as staff), the expansion, one message, 2,001 entries and 2,000 counter increments in one
//! batch, committed durably. The 50,000-message mailbox is written directly as records (sending them one by
//! one would take minutes and measure nothing more), as are 100 earlier messages in each parent's mailbox.

use std::sync::Arc;

use criterion::{Criterion, criterion_main};
use ent::core::directory::*;
use ent::core::storage::{Store, TxExt, TxMode, WriteOp};
use ent::core::{Caller, Ent, StructureId, UserId};
use ent::modules::messagerie::{Entry, FolderRef, Messagerie, unread_counter};
use ent::storage::sqlite::{Durability, SqliteOptions, SqliteStore};
use serde_json::json;

const PARENTS: usize = 2_000;
const MAILBOX: usize = 50_000;
/// Messages already in each parent's mailbox.
const PARENT_MAILBOX: usize = 100;

fn person(structure: StructureId, profile: Profile, n: usize) -> User {
    User {
        id: UserId::new(),
        login: format!("{}.{n}", profile.as_str()),
        given_name: format!("Prénom{n}"),
        family_name: format!("Nom{n}"),
        birth_date: None,
        email: None,
        affiliations: vec![Affiliation { structure, profile, functions: vec![] }],
        adult: false,
        state: AccountState::Active,
        sources: vec![],
        attributes: Default::default(),
    }
}

struct Lycee {
    ent: Ent,
    principal: Caller,
    reader: Caller,
}

async fn lycee(store: Arc<SqliteStore>) -> Lycee {
    let blobs = Arc::new(store.blob_store(10 << 20));
    let text = Arc::new(store.full_text());
    let ent = Ent::builder(store.clone()).module(Messagerie::new(blobs, text)).build().await.unwrap();
    let s = StructureId::new();
    let principal = person(s, Profile::Direction, 0);
    let reader = person(s, Profile::Enseignant, 0);
    let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
    tx.insert_record(&principal).await.unwrap();
    tx.insert_record(&reader).await.unwrap();
    let mut parents = Vec::with_capacity(PARENTS);
    for n in 0..PARENTS {
        let parent = person(s, Profile::Responsable, n);
        parents.push(parent.id);
        tx.insert_record(&parent).await.unwrap();
    }
    tx.commit().await.unwrap();

    // A teacher's mailbox of 50,000 received messages, 10% unread, and the mailboxes of the 2,000 parents
    // as in the middle of a school year (100 messages each, 200,000 entries): the sends measured below
    // go into established mailboxes, whose index pages are spread out, whatever the number of sends
    // criterion makes (each adds 2,000 entries). Written as the module writes them.
    let mut mail: Vec<(UserId, usize)> = (0..MAILBOX).map(|n| (reader.id, n)).collect();
    for n in 0..PARENT_MAILBOX {
        mail.extend(parents.iter().map(|p| (*p, n)));
    }
    for chunk in mail.chunks(5_000) {
        let mut ops = Vec::with_capacity(chunk.len() + 1);
        let mut unread: std::collections::BTreeMap<UserId, i64> = Default::default();
        for &(owner, n) in chunk {
            let message = uuid::Uuid::now_v7();
            let entry = Entry {
                owner,
                message,
                thread: message,
                folder: FolderRef::Inbox,
                restore_to: None,
                unread: n % 10 == 0,
                read_at: None,
                sender: principal.id,
                sender_name: "Paul Moreau".into(),
                subject: format!("Information n°{n}"),
                snippet: "Madame, Monsieur, veuillez trouver ci-joint les informations relatives à la sortie".into(),
                attachments: 0,
                recipient_count: 1,
                sent_at: chrono::Utc::now(),
                recalled: false,
            };
            *unread.entry(owner).or_default() += i64::from(entry.unread);
            ops.push(WriteOp::Insert {
                collection: "messagerie.entries".into(),
                record: ent::core::storage::typed::to_new_record(&entry).unwrap(),
            });
        }
        for (owner, delta) in unread {
            ops.push(WriteOp::CounterAdd {
                collection: "messagerie.entries".into(),
                key: unread_counter(owner, FolderRef::Inbox),
                delta,
            });
        }
        let mut tx = store.begin(TxMode::ReadWrite).await.unwrap();
        tx.write_batch(ops).await.unwrap();
        tx.commit().await.unwrap();
    }
    let principal_caller = Caller::user(principal.id, s, [Profile::Direction]);
    let reader_caller = Caller::user(reader.id, s, [Profile::Enseignant]);
    Lycee { ent, principal: principal_caller, reader: reader_caller }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("ent-bench-messagerie-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut g = c.benchmark_group("messagerie");
    for (name, durability) in [("sqlite_full", Durability::Full), ("sqlite_normal", Durability::Normal)] {
        let options = SqliteOptions { durability, ..SqliteOptions::default() };
        let store = Arc::new(SqliteStore::open_with(dir.join(format!("{name}.db")), options).unwrap());
        let l = rt.block_on(lycee(store));
        run(&mut g, &rt, name, &l);
    }
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

fn run(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    l: &Lycee,
) {
    g.sample_size(10);
    let to_all_parents = json!({
        "to": [{"kind": "structure", "profile": "responsable"}],
        "subject": "Grève du jeudi 3 décembre",
        "body": "<p>Madame, Monsieur,</p><p>En raison d'un mouvement de grève, les cours de jeudi ne seront pas tous assurés. <b>La demi-pension fonctionnera normalement.</b></p><p>Le proviseur</p>",
    });
    g.bench_function(format!("{name}/send_to_2000_parents"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let out = l.ent.call_value(&l.principal, "messagerie.send", to_all_parents.clone()).await.unwrap();
                assert_eq!(out["recipients"], PARENTS);
            })
        })
    });
    g.bench_function(format!("{name}/preview_2000_parents"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let out = l
                    .ent
                    .call_value(&l.principal, "messagerie.preview", json!({"to": to_all_parents["to"]}))
                    .await
                    .unwrap();
                assert_eq!(out["allowed"].as_array().unwrap().len(), PARENTS);
            })
        })
    });
    // The sends above are indexed first (timed once, for the record), so that each measurement below
    // indexes one message.
    let start = std::time::Instant::now();
    let report = rt.block_on(l.ent.run_pending_events()).unwrap();
    eprintln!("{name}: indexed {} messages to 2,000 in {:?}", report.delivered, start.elapsed());
    g.bench_function(format!("{name}/index_a_message_to_2000_parents"), |b| {
        b.iter_batched(
            || rt.block_on(l.ent.call_value(&l.principal, "messagerie.send", to_all_parents.clone())).unwrap(),
            |_| {
                rt.block_on(async {
                    let report = l.ent.run_pending_events().await.unwrap();
                    assert_eq!((report.delivered, report.failed), (1, 0));
                })
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.sample_size(50);
    g.bench_function(format!("{name}/inbox_page_of_50000"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let out = l
                    .ent
                    .call_value(&l.reader, "messagerie.list", json!({"folder": "inbox", "limit": 20}))
                    .await
                    .unwrap();
                assert_eq!(out["entries"].as_array().unwrap().len(), 20);
            })
        })
    });
    g.bench_function(format!("{name}/unread_count_of_50000"), |b| {
        b.iter(|| {
            rt.block_on(async {
                let out = l.ent.call_value(&l.reader, "messagerie.unread", json!({})).await.unwrap();
                assert_eq!(out["inbox"], MAILBOX / 10);
            })
        })
    });
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
