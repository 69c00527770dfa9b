//! Time, passed in: every time-dependent rule (publication dates, expiry, retention) reads a [`Clock`], so
//! that tests can set the time.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A source of the current time, and a way to wait.
#[async_trait::async_trait]
pub trait Clock: Send + Sync + Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Waits for `duration` (on a [`ManualClock`], advances the clock instead).
    async fn sleep(&self, duration: Duration);
}

/// The system's wall clock; [`Clock::sleep`] uses tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait::async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A clock that only moves when told to: tests set it to the instant they need.
///
/// ```
/// use ent_core::clock::{Clock, ManualClock};
/// let clock = ManualClock::at("2026-09-01T08:00:00Z".parse().unwrap());
/// clock.advance(chrono::Duration::hours(2));
/// assert_eq!(clock.now().to_rfc3339(), "2026-09-01T10:00:00+00:00");
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock stopped at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        ManualClock { now: Arc::new(Mutex::new(now)) }
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    /// Moves the time forward (or back, with a negative duration).
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

#[async_trait::async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn sleep(&self, duration: Duration) {
        self.advance(chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX));
    }
}
