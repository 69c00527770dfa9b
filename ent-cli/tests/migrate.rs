//! `ent migrate` and `--database postgres://` as a person runs them, against `ENT_TEST_POSTGRES_URL`
//! (skipped without it); the test's schemas are dropped afterwards.

use std::path::Path;
use std::process::{Command, Output};

fn ent(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ent")).current_dir(dir).args(args).output().expect("the ent binary runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Drops the schema when dropped.
struct Schema(String, String);

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.0.clone(), self.1.clone());
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let _ = rt.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).await
        });
    }
}

#[test]
fn a_demo_school_moves_to_postgresql_verified_and_keeps_working_there() {
    let Some(url) = std::env::var("ENT_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: ENT_TEST_POSTGRES_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let demo = ent(dir.path(), &["--database", "sqlite:school.db", "demo", "--json"]);
    assert_eq!(demo.status.code(), Some(0), "{}", String::from_utf8_lossy(&demo.stderr));
    let created = json(&demo)["created"].as_u64().unwrap();

    let schema = Schema(url.clone(), format!("ent_test_cli_migrate_{}", std::process::id()));
    let sep = if url.contains('?') { '&' } else { '?' };
    let target = format!("{url}{sep}schema={}", schema.1);
    let moved = ent(dir.path(), &["migrate", "--from", "sqlite:school.db", "--to", &target, "--json"]);
    assert_eq!(moved.status.code(), Some(0), "{}", String::from_utf8_lossy(&moved.stderr));
    let report = json(&moved);
    assert!(report["records"].as_u64().unwrap() > created, "{report}");
    assert_eq!(report["checksum"].as_str().unwrap().len(), 64);

    // The same demo on the copy changes nothing: every person, class and account came across.
    let again = ent(dir.path(), &["--database", &target, "demo", "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
    let again = json(&again);
    assert_eq!((again["created"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(created)), "{again}");

    // A target that is not empty is refused; a missing source is named.
    let twice = ent(dir.path(), &["migrate", "--from", "sqlite:school.db", "--to", &target]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("not empty"));
    let missing = ent(dir.path(), &["migrate", "--from", "sqlite:nowhere.db", "--to", &target]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nowhere.db"));
}
