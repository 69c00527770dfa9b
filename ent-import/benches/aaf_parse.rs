//! The AAF reader's throughput: the demo collège (about 1,500 people) written as AAF files
//! (ISO-8859-15, as the ministry writes them), read back into a batch. No store: the parser alone.
//!
//! `cargo bench -p ent-import --bench aaf_parse -- --warm-up-time 1 --measurement-time 5`

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_main};
use ent_import::aaf::{AafOptions, Feed, WriteOptions, write_batch};
use ent_import::demo::{Demo, DemoConfig};

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ent-bench-aaf-parse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A lycée and a collège: pupils with their responsables, staff with functions and assignments.
    let demo = Demo::new(DemoConfig { colleges: 1, lycees: 1, ..DemoConfig::college() });
    let date = chrono::NaiveDate::from_ymd_opt(2026, 8, 28).unwrap();
    let mut people = 0;
    for batch in demo.batches() {
        people += batch.people.len();
        write_batch(&batch, &dir, &WriteOptions::on(date)).unwrap();
    }
    let feeds = Feed::in_dir(&dir).unwrap();
    let bytes: u64 = feeds.iter().flat_map(|f| &f.files).map(|p| std::fs::metadata(p).unwrap().len()).sum();
    let mut g = c.benchmark_group("aaf");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(20);
    g.bench_function(format!("parse_{people}_people"), |b| {
        b.iter(|| {
            for feed in &feeds {
                let parsed = feed.parse(&AafOptions::default()).unwrap();
                assert!(parsed.rejected.is_empty());
            }
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::bench);
}

criterion_main!(group::benches);
