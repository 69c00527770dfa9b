//! `ent serve --demo`, the README's first command, as a newcomer runs it: it prints the demo logins and
//! a URL, and the portal answers there.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// Kills the server when the test ends, passed or failed.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the portal listens");
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_demo_prints_logins_and_serves_the_portal() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ent"))
        .current_dir(dir.path())
        .args(["serve", "--demo", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the ent binary runs");
    let mut server = Server(child);
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let port = loop {
        let line = lines.next().expect("the server prints its URL").unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.split("http://localhost:").nth(1) {
            break rest.split('/').next().unwrap().parse::<u16>().unwrap();
        }
    };
    for login in ["aicha.petit", "fatoumata.lefevre", "mia.leclercq", "paul.rousseau", "dominique.administrateur"] {
        assert!(printed.contains(login), "{login} in {printed}");
    }
    assert!(printed.contains("Bienvenue au collège 2026 !"), "{printed}");
    assert!(printed.contains("demo grades and messages:"), "the demo's grades and messages: {printed}");
    let page = get(port, "/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains("__Host-ent-csrf=") && page.contains("<script type=\"module\" src=\"/assets/shell/app.js\">")
    );
    for asset in ["/assets/modules/notes/web/notes.js", "/assets/modules/messagerie/web/messagerie.js"] {
        assert!(get(port, asset).starts_with("HTTP/1.1 200"), "{asset}");
    }
    let me = get(port, "/api/v1/me");
    assert!(me.starts_with("HTTP/1.1 401") && me.contains("not_logged_in"), "{me}");
    assert!(dir.path().join("ent.db").exists(), "the default database is a SQLite file in the current folder");
}

#[test]
fn serve_on_an_empty_database_says_how_to_fill_it() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ent"))
        .current_dir(dir.path())
        .args(["serve", "--addr", "127.0.0.1:0", "--database", "memory:"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the ent binary runs");
    let mut server = Server(child);
    let mut printed = String::new();
    for line in BufReader::new(server.0.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        if line.contains("http://localhost:") {
            break;
        }
    }
    assert!(printed.contains("ent serve --demo") && printed.contains("ent import"), "{printed}");
}
