//! The batching audit appender: audit entries written off the request path.
//!
//! A staff member reading a pupil's data does so in a read-only transaction, which cannot write; and one
//! write per read would serialize the 8:00 peak anyway. Such entries go into a bounded channel; a
//! background task writes them in batches, one transaction per batch, at the latest
//! [`AuditAppender::interval`] after the first entry of a batch arrived (one second by default), at once
//! when a batch is full, and on [`AuditAppender::flush`] (call it before shutdown: what it returns `Ok` for
//! is durable). A full channel makes [`AuditAppender::append`] wait: entries are never dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::audit::AuditEntry;
use crate::storage::{Store, TxExt, TxMode, retry};
use crate::{Error, Result};

enum Message {
    Entry(Box<AuditEntry>),
    Flush(oneshot::Sender<Result<()>>),
}

/// Appends audit entries in batches from a background task (see the [module documentation](self)).
pub struct AuditAppender {
    sender: mpsc::Sender<Message>,
    interval: Duration,
    last_error: Arc<Mutex<Option<Error>>>,
}

impl std::fmt::Debug for AuditAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditAppender").field("interval", &self.interval).finish_non_exhaustive()
    }
}

/// Entries written per transaction at most.
const BATCH: usize = 500;

impl AuditAppender {
    /// Starts the background task on the current tokio runtime: channel of `capacity` entries, flushed
    /// at most `interval` after an entry arrives. The task ends, after a last flush, when the appender is
    /// dropped.
    pub fn spawn(store: Arc<dyn Store>, capacity: usize, interval: Duration) -> Self {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let last_error = Arc::new(Mutex::new(None));
        tokio::spawn(run(store, receiver, interval, last_error.clone()));
        AuditAppender { sender, interval, last_error }
    }

    /// The longest an entry waits before its batch is written.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Queues an entry; waits while the channel is full.
    pub async fn append(&self, entry: AuditEntry) -> Result<()> {
        self.sender.send(Message::Entry(Box::new(entry))).await.map_err(|_| closed())
    }

    /// Writes every entry queued before this call; `Ok` means they are committed.
    pub async fn flush(&self) -> Result<()> {
        let (ack, done) = oneshot::channel();
        self.sender.send(Message::Flush(ack)).await.map_err(|_| closed())?;
        done.await.map_err(|_| closed())?
    }

    /// The last error a background write met (its entries are kept and written again), for health checks.
    pub fn last_error(&self) -> Option<Error> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn closed() -> Error {
    Error::Config("the audit appender's task has stopped".into())
}

async fn write(store: &dyn Store, batch: &mut Vec<AuditEntry>, last_error: &Mutex<Option<Error>>) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let entries = &*batch;
    let written = retry::transact(store, TxMode::ReadWrite, |tx| {
        Box::pin(async move {
            for e in entries {
                tx.insert_record(e).await?;
            }
            Ok(())
        })
    })
    .await;
    match written {
        Ok(()) => {
            batch.clear();
            Ok(())
        }
        Err(e) => {
            *last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
            Err(e)
        }
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut receiver: mpsc::Receiver<Message>,
    interval: Duration,
    last_error: Arc<Mutex<Option<Error>>>,
) {
    let mut batch: Vec<AuditEntry> = Vec::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let message = match deadline {
            None => receiver.recv().await,
            Some(at) => match tokio::time::timeout_at(at, receiver.recv()).await {
                Ok(message) => message,
                Err(_elapsed) => {
                    // On failure the entries stay in the batch and are tried again after another interval.
                    let _ = write(&*store, &mut batch, &last_error).await;
                    deadline = (!batch.is_empty()).then(|| tokio::time::Instant::now() + interval);
                    continue;
                }
            },
        };
        match message {
            Some(Message::Entry(entry)) => {
                if batch.is_empty() {
                    deadline = Some(tokio::time::Instant::now() + interval);
                }
                batch.push(*entry);
                if batch.len() >= BATCH && write(&*store, &mut batch, &last_error).await.is_ok() {
                    deadline = None;
                }
            }
            Some(Message::Flush(ack)) => {
                let result = write(&*store, &mut batch, &last_error).await;
                if result.is_ok() {
                    deadline = None;
                }
                let _ = ack.send(result);
            }
            None => {
                let _ = write(&*store, &mut batch, &last_error).await;
                return;
            }
        }
    }
}
