//! The `ent` command as a person or a script runs it: exit codes, summaries, dry runs, codes files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ent(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ent")).current_dir(dir).args(args).output().expect("the ent binary runs")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn demo_then_again_changes_nothing_and_defaults_to_a_sqlite_file_here() {
    let dir = tempfile::tempdir().unwrap();
    let first = ent(dir.path(), &["demo", "--json"]);
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    let created = json(&first)["created"].as_u64().unwrap();
    assert!(created > 1000, "{created}");
    assert!(dir.path().join("ent.db").exists(), "the default database is a SQLite file in the current folder");
    let again = json(&ent(dir.path(), &["demo", "--json"]));
    assert_eq!(again["created"], 0);
    assert_eq!(again["updated"], 0);
    assert_eq!(again["unchanged"].as_u64().unwrap(), created);
}

#[test]
fn a_dry_run_writes_nothing_and_no_codes() {
    let dir = tempfile::tempdir().unwrap();
    let codes = dir.path().join("codes.csv");
    let out = ent(dir.path(), &["demo", "--dry-run", "--json", "--codes", codes.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["dry_run"], true);
    assert!(!codes.exists(), "no account was created, so no code");
    let real = json(&ent(dir.path(), &["demo", "--json"]));
    assert_eq!(real["created"], json(&out)["created"], "the simulation announced what the run did");
}

#[test]
fn activation_codes_go_to_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let codes = dir.path().join("codes.csv");
    let out = ent(dir.path(), &["--database", "memory:", "demo", "--codes", codes.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&codes).unwrap();
    assert!(text.starts_with("login,code\n"));
    assert!(text.lines().count() > 1000);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&codes).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn an_aaf_feed_with_bad_records_is_a_partial_success_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let full = fixtures().join("aaf/full");
    let out = ent(dir.path(), &["import", "aaf", full.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(3), "partial success: {}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    let rejected = report["rejected"].as_array().unwrap();
    assert!(!rejected.is_empty());
    assert!(rejected.iter().all(|r| r["location"]["file"].is_string() && r["location"]["line"].is_u64()));
    let text = ent(dir.path(), &["import", "aaf", full.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("unchanged") && stdout.contains(".xml:"), "{stdout}");
}

#[test]
fn a_oneroster_bundle_with_a_misspelled_header_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = fixtures().join("oneroster/misspelled");
    let out = ent(dir.path(), &["--database", "memory:", "import", "oneroster", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("did you mean `givenName`"));
}

#[test]
fn failures_and_bad_usage_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = ent(dir.path(), &["import", "aaf", "/no/such/folder"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/no/such/folder"));
    let url = ent(dir.path(), &["--database", "mysql://x", "demo"]);
    assert_eq!(url.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&url.stderr).contains("not a database URL"));
    assert_eq!(ent(dir.path(), &["import"]).status.code(), Some(2));
    assert_eq!(ent(dir.path(), &["frobnicate"]).status.code(), Some(2));
    // Not an ent database: refused, and left as it was.
    std::fs::write(dir.path().join("notes.db"), b"these are not the droids").unwrap();
    let other = ent(dir.path(), &["--database", "sqlite:notes.db", "demo"]);
    assert_eq!(other.status.code(), Some(1));
    assert_eq!(std::fs::read(dir.path().join("notes.db")).unwrap(), b"these are not the droids");
}

#[test]
fn loose_aaf_files_group_into_their_feed() {
    let dir = tempfile::tempdir().unwrap();
    let full = fixtures().join("aaf/full");
    let mut args = vec!["--database".to_owned(), "memory:".to_owned(), "import".into(), "aaf".into(), "--json".into()];
    for entry in std::fs::read_dir(&full).unwrap() {
        args.push(entry.unwrap().path().to_str().unwrap().to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let loose = ent(dir.path(), &args);
    let folder = ent(dir.path(), &["--database", "memory:", "import", "aaf", full.to_str().unwrap(), "--json"]);
    assert_eq!(loose.status.code(), folder.status.code(), "{}", String::from_utf8_lossy(&loose.stderr));
    assert_eq!(json(&loose)["created"], json(&folder)["created"], "the same feed, file by file or as a folder");
    assert!(json(&loose)["created"].as_u64().unwrap() > 0);
}
