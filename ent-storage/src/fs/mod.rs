//! Blobs as files in a folder: `blobs/ab/abcdef…` under their SHA-256 (256 sub-folders keep folders small).
//!
//! A writer streams into `tmp/`, hashing as it goes; `finish` fsyncs the file, renames it to its address and
//! fsyncs the folder, so a blob is either entirely there or absent after a crash. Storing bytes that are
//! already there keeps the first copy and its date. Files left in `tmp/` by a crash are removed at the next open,
//! a day later.
//!
//! ```
//! use ent_core::storage::blob::{put_bytes, read_all, BlobStore};
//! use ent_storage::fs::FsBlobStore;
//! # async fn demo() -> ent_core::Result<()> {
//! # let root = std::env::temp_dir().join(format!("ent-fs-doc-{}", std::process::id()));
//! let blobs = FsBlobStore::open(&root, 10 << 20)?;
//! let meta = put_bytes(&blobs, b"photo de classe").await?;
//! assert_eq!(read_all(&blobs, &meta.id).await?, b"photo de classe");
//! # std::fs::remove_dir_all(&root).ok();
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ent_core::clock::{Clock, SystemClock};
use ent_core::storage::blob::{BlobDigest, BlobId, BlobMeta, BlobStore, BlobStream, BlobWriter};
use ent_core::{Error, Result};

use crate::blocking;

/// Bytes per streamed read.
const CHUNK: usize = 256 * 1024;

/// How old a file in `tmp/` is when the next open removes it.
const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A blob store in a folder of the file system.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: Arc<PathBuf>,
    max_bytes: u64,
    clock: Arc<dyn Clock>,
}

fn io(doing: &str, path: &Path, e: &std::io::Error) -> Error {
    let retryable = matches!(e.kind(), std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock);
    Error::storage("fs", format!("{doing} `{}`: {e}", path.display()), retryable)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("syncing", dir, &e))
}

impl FsBlobStore {
    /// Opens (or creates) a store in `root`, refusing blobs over `max_bytes`.
    pub fn open(root: impl AsRef<Path>, max_bytes: u64) -> Result<FsBlobStore> {
        let root = root.as_ref().to_owned();
        for dir in [root.join("blobs"), root.join("tmp")] {
            std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, &e))?;
        }
        let tmp = root.join("tmp");
        let entries = std::fs::read_dir(&tmp).map_err(|e| io("reading", &tmp, &e))?;
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|m| now.duration_since(m).unwrap_or_default() > ABANDONED_AFTER);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(FsBlobStore { root: Arc::new(root), max_bytes, clock: Arc::new(SystemClock) })
    }

    /// Dates blobs with `clock` (garbage collection spares young blobs).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn path_of(&self, id: &BlobId) -> PathBuf {
        let hex = id.to_hex();
        self.root.join("blobs").join(&hex[..2]).join(hex)
    }

    fn meta(path: &Path, id: BlobId) -> Result<Option<BlobMeta>> {
        match std::fs::metadata(path) {
            Ok(m) => {
                let created: DateTime<Utc> = m.modified().map_err(|e| io("reading", path, &e))?.into();
                Ok(Some(BlobMeta { id, size: m.len(), created }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", path, &e)),
        }
    }
}

struct Writer {
    store: FsBlobStore,
    digest: BlobDigest,
    file: Option<File>,
    path: PathBuf,
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[async_trait]
impl BlobWriter for Writer {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if let Err(e) = self.digest.update(chunk, self.store.max_bytes) {
            if self.file.take().is_some() {
                let _ = std::fs::remove_file(&self.path);
            }
            return Err(e);
        }
        let mut file = self.file.take().ok_or_else(|| Error::invalid("blob writer", "used after a failure"))?;
        let (chunk, path) = (chunk.to_vec(), self.path.clone());
        let (file, result) = blocking::run(move || {
            let r = file.write_all(&chunk).map_err(|e| io("writing", &path, &e));
            (file, r)
        })
        .await;
        self.file = Some(file);
        result
    }

    async fn finish(mut self: Box<Self>) -> Result<BlobMeta> {
        let file = self.file.take().ok_or_else(|| Error::invalid("blob writer", "used after a failure"))?;
        let (id, size) = self.digest.clone().finish();
        let created = self.store.clock.now();
        let target = self.store.path_of(&id);
        let tmp = self.path.clone();
        blocking::run(move || {
            let done = (|| {
                file.sync_all().map_err(|e| io("syncing", &tmp, &e))?;
                let when = SystemTime::from(created);
                if let Some(existing) = FsBlobStore::meta(&target, id)? {
                    // Already stored: keep that copy and its date.
                    std::fs::remove_file(&tmp).map_err(|e| io("removing", &tmp, &e))?;
                    return Ok(existing);
                }
                file.set_modified(when).map_err(|e| io("dating", &tmp, &e))?;
                let dir = target.parent().expect("a blob path has a parent");
                std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, &e))?;
                std::fs::rename(&tmp, &target).map_err(|e| io("storing", &target, &e))?;
                sync_dir(dir)?;
                Ok(BlobMeta { id, size, created })
            })();
            if done.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            done
        })
        .await
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    fn max_blob_bytes(&self) -> u64 {
        self.max_bytes
    }

    async fn writer(&self) -> Result<Box<dyn BlobWriter>> {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!("{}-{}-{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let path = self.root.join("tmp").join(name);
        let p = path.clone();
        let file = blocking::run(move || File::create_new(&p).map_err(|e| io("creating", &p, &e))).await?;
        Ok(Box::new(Writer { store: self.clone(), digest: BlobDigest::default(), file: Some(file), path }))
    }

    async fn read(&self, id: &BlobId) -> Result<BlobStream> {
        let path = self.path_of(id);
        let id = *id;
        let p = path.clone();
        let file = blocking::run(move || match File::open(&p) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::not_found("blob", id)),
            Err(e) => Err(io("opening", &p, &e)),
        })
        .await?;
        let stream = futures::stream::try_unfold(Some(file), move |file| {
            let path = path.clone();
            async move {
                let Some(mut file) = file else { return Ok(None) };
                blocking::run(move || {
                    let mut buf = vec![0; CHUNK];
                    let mut filled = 0;
                    while filled < CHUNK {
                        match file.read(&mut buf[filled..]) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(io("reading", &path, &e)),
                        }
                    }
                    buf.truncate(filled);
                    Ok(match filled {
                        0 => None,
                        n if n < CHUNK => Some((buf, None)),
                        _ => Some((buf, Some(file))),
                    })
                })
                .await
            }
        });
        Ok(Box::pin(stream))
    }

    async fn stat(&self, id: &BlobId) -> Result<Option<BlobMeta>> {
        let (path, id) = (self.path_of(id), *id);
        blocking::run(move || FsBlobStore::meta(&path, id)).await
    }

    async fn remove(&self, id: &BlobId) -> Result<bool> {
        let path = self.path_of(id);
        blocking::run(move || match std::fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(path.parent().expect("a blob path has a parent"))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io("removing", &path, &e)),
        })
        .await
    }

    async fn list(&self, after: Option<BlobId>, limit: usize) -> Result<Vec<BlobMeta>> {
        let root = self.root.join("blobs");
        blocking::run(move || {
            let after_hex = after.map(|a| a.to_hex());
            let mut out = Vec::new();
            let mut dirs: Vec<String> = std::fs::read_dir(&root)
                .map_err(|e| io("listing", &root, &e))?
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| name.len() == 2)
                .collect();
            dirs.sort();
            for dir in dirs {
                if out.len() >= limit {
                    break;
                }
                if after_hex.as_deref().is_some_and(|a| dir.as_str() < &a[..2]) {
                    continue;
                }
                let path = root.join(&dir);
                let mut names: Vec<String> = std::fs::read_dir(&path)
                    .map_err(|e| io("listing", &path, &e))?
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|name| after_hex.as_deref().is_none_or(|a| name.as_str() > a))
                    .collect();
                names.sort();
                for name in names {
                    if out.len() >= limit {
                        break;
                    }
                    let Ok(id) = BlobId::from_hex(&name) else { continue };
                    if let Some(meta) = FsBlobStore::meta(&path.join(&name), id)? {
                        out.push(meta);
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}
