//! Checkpoints off the commit path.
//!
//! In WAL mode a commit appends its pages to the write-ahead log; a *checkpoint* copies them back into the
//! database file (and fsyncs it), after which the log can start over. SQLite's automatic checkpoint runs
//! inside the commit that crosses `wal_autocheckpoint` pages: that commit pays for copying every page of
//! the log (40 MiB with [`SqliteOptions::checkpoint_pages`](super::SqliteOptions) at 10,000), so one
//! request in a few, chosen by chance, takes several times longer than the others (a message to 2,000
//! parents: about 50 ms, 150 ms with the checkpoint).
//!
//! With [`SqliteOptions::background_checkpoint`](super::SqliteOptions) (the default), writer connections
//! run with the automatic checkpoint off and a WAL hook instead: a commit that leaves `checkpoint_pages`
//! or more in the log wakes this module's thread, which runs a `PASSIVE` checkpoint on a connection of its
//! own, while the writers go on (a passive checkpoint takes no lock that a writer or a reader needs; it
//! copies what no reader still reads and leaves the rest for the next run). Should the thread fall behind
//! (writes faster than the disk copies, or a reader pinning an old snapshot), a commit that leaves four
//! times `checkpoint_pages` checkpoints inline as SQLite would, so the log stays bounded.
//!
//! Durability is unchanged: a commit is durable once its frames are in the log (fsynced with
//! [`Durability::Full`](super::Durability)), whoever copies them later; a crash between the two is
//! recovered from the log at the next open.

use std::ffi::c_int;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use ent_core::Result;
use rusqlite::Connection;

use super::error::Context;

/// A commit that leaves this many times `checkpoint_pages` in the log checkpoints inline.
const INLINE_FACTOR: u32 = 4;

/// What the writers' hooks and the thread share.
#[derive(Default)]
struct Signal {
    /// (a checkpoint is wanted, the store is closing).
    state: Mutex<(bool, bool)>,
    wake: Condvar,
    /// Checkpoints the thread ran.
    runs: AtomicU64,
    /// Held by the thread while it checkpoints, and by [`Checkpointer::pause`].
    running: Mutex<()>,
}

impl Signal {
    fn lock(&self) -> std::sync::MutexGuard<'_, (bool, bool)> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The checkpoint thread of a store: started with it, stopped (and joined) when it is dropped.
pub(crate) struct Checkpointer {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
    pages: u32,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer").field("pages", &self.pages).field("runs", &self.runs()).finish()
    }
}

impl Checkpointer {
    /// Starts the thread on `conn`, a read-write connection of the store's file that nothing else uses.
    pub(crate) fn start(conn: Connection, pages: u32) -> Result<Checkpointer> {
        // A connection's first look at the WAL index maps it and, finding no header of its own yet, takes
        // the write lock for a moment to read it. Done here, while the store is being opened, rather
        // than at the first wake-up, where it could make a writer's lock upgrade fail with a (retryable)
        // conflict that no other writer caused. It also folds in what a previous run left in the log.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())).doing("checkpointing at open")?;
        let signal = Arc::new(Signal::default());
        let shared = signal.clone();
        let thread = std::thread::Builder::new()
            .name("ent-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &shared))
            .map_err(|e| {
                ent_core::Error::storage(super::error::ADAPTER, format!("starting the checkpoint thread: {e}"), false)
            })?;
        Ok(Checkpointer { signal, thread: Some(thread), pages: pages.max(1) })
    }

    /// Turns off SQLite's automatic checkpoint on a writer connection and wakes this thread instead.
    pub(crate) fn hook(&self, conn: &mut Connection) -> Result<()> {
        // `wal_autocheckpoint` installs SQLite's own hook: 0 removes it, then ours takes its place.
        conn.pragma_update(None, "wal_autocheckpoint", 0).doing("setting wal_autocheckpoint")?;
        let signal = self.signal.clone();
        let pages = self.pages;
        let inline = pages.saturating_mul(INLINE_FACTOR);
        conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, in_log: c_int| {
            let in_log = u32::try_from(in_log).unwrap_or(0);
            if in_log >= inline {
                // The thread is behind: copy now, as SQLite would have (an error only means "later").
                let _ = wal.checkpoint();
            } else if in_log >= pages {
                let mut state = signal.lock();
                if !state.0 {
                    state.0 = true;
                    signal.wake.notify_one();
                }
            }
            Ok(())
        }))
        .doing("setting the WAL hook")
    }

    /// Waits until the thread is not checkpointing, and keeps it from starting until the guard is dropped:
    /// for [`SqliteStore::flush`](super::SqliteStore::flush), whose own checkpoint a running one would make
    /// busy at once (SQLite allows one checkpoint at a time, and does not wait for it).
    pub(crate) fn pause(&self) -> std::sync::MutexGuard<'_, ()> {
        self.signal.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many checkpoints the thread has run.
    pub(crate) fn runs(&self) -> u64 {
        self.signal.runs.load(Ordering::Relaxed)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        {
            let mut state = self.signal.lock();
            state.1 = true;
            self.signal.wake.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread: a passive checkpoint each time a commit asks for one, until the store closes.
fn run(conn: &Connection, signal: &Signal) {
    loop {
        {
            let mut state = signal.lock();
            while !state.0 && !state.1 {
                state = signal.wake.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if state.1 {
                return;
            }
            state.0 = false;
        }
        // PASSIVE neither waits nor blocks: what a reader still needs stays in the log for the next run.
        // An error (the disk, a file removed under the store) leaves the log to grow until the writers'
        // inline checkpoint meets the same error; nothing is lost either way.
        let running = signal.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        drop(running);
        signal.runs.fetch_add(1, Ordering::Relaxed);
    }
}
