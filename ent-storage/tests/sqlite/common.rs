//! What the tests share: temporary folders and stores.

use std::path::PathBuf;

use ent_core::storage::{CollectionDef, IndexDef, KeyKind};

/// A fresh folder under the system's temporary folder, removed when dropped.
#[derive(Debug)]
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ent-sqlite-test-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// People with a non-unique index on tokens and a unique one on login.
pub(crate) fn people() -> CollectionDef {
    CollectionDef::new("test.people", [KeyKind::Int])
        .index(IndexDef::new("by_token", [KeyKind::Str]))
        .index(IndexDef::new("by_login", [KeyKind::Str]).unique())
}
