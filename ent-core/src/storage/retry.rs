//! Running a transaction again when it loses a serialization conflict.
//!
//! ```
//! use ent_core::storage::{retry, Store, TxMode};
//!
//! /// Counts a visit to `page` and returns the new total; runs again if a concurrent transaction wins.
//! async fn visit(store: &dyn Store, page: &str) -> ent_core::Result<i64> {
//!     retry::transact(store, TxMode::ReadWrite, |tx| Box::pin(async move {
//!         // The body borrows `page` from the caller.
//!         tx.counter_add("doc.things", &(page,).into(), 1).await?;
//!         tx.counter_get("doc.things", &(page,).into()).await
//!     }))
//!     .await
//! }
//! ```

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::port::{Store, Transaction, TxMode};
use crate::clock::Clock;
use crate::{Error, Result};

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay before the second attempt; doubles each time, with jitter.
    pub base_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
    /// The clock that waits; without one, retries happen at once.
    pub clock: Option<Arc<dyn Clock>>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(200),
            clock: None,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt` (2 for the first retry), jittered between half and all of it.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1 << attempt.saturating_sub(2).min(16));
        let full = exp.min(self.max_delay);
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(attempt);
        let jitter = (h.finish() % 1000) as u32;
        full / 2 + (full / 2) * jitter / 1000
    }

    /// Runs `body` in a new transaction, commits, and starts again on a retryable error, up to
    /// `max_attempts`. The body may run several times: it must not have effects outside the transaction.
    ///
    /// The body may borrow from its surroundings: the transaction it is given is typed
    /// `dyn Transaction + 'a`, which bounds the transaction's lifetime by the borrows'.
    pub async fn run<'a, T, F>(&self, store: &dyn Store, mode: TxMode, mut body: F) -> Result<T>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut (dyn Transaction + 'a)) -> BoxFuture<'t, Result<T>> + Send,
    {
        let mut attempt = 1;
        loop {
            let result = async {
                let mut tx = store.begin(mode).await?;
                let value = body(&mut *tx).await?;
                tx.commit().await?;
                Ok::<T, Error>(value)
            }
            .await;
            match result {
                Err(e) if e.is_retryable() && attempt < self.max_attempts => {
                    attempt += 1;
                    if let Some(clock) = &self.clock {
                        clock.sleep(self.delay(attempt)).await;
                    }
                }
                other => return other,
            }
        }
    }
}

/// [`RetryPolicy::run`] with the default policy.
pub async fn transact<'a, T, F>(store: &dyn Store, mode: TxMode, body: F) -> Result<T>
where
    T: Send,
    F: for<'t> FnMut(&'t mut (dyn Transaction + 'a)) -> BoxFuture<'t, Result<T>> + Send,
{
    RetryPolicy::default().run(store, mode, body).await
}
