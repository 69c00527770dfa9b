//! Login throttling, per account and per (account, address) — never per address alone: a whole school
//! sits behind one address, and locking it out at 8:00 would lock out everyone.
//!
//! - Per (account, address): the first failures are free; then each failure doubles the wait before the
//!   next attempt (1 s, 2 s, 4 s... up to a minute); past a number of failures, the pair is locked for a
//!   while.
//! - Per account, over all addresses: past a larger number of failures (a distributed attack), the account
//!   is locked for a while — except from an address where the account logged in successfully before, so
//!   that an attacker elsewhere cannot lock its owner out.
//! - A lock never grows: attempts during a lock are refused without being counted, so an attacker cannot
//!   extend it; when it ends the counters start again from zero.
//!
//! The rules are a pure function of the stored state and the clock, tested apart from storage.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::storage::{CollectionDef, KeyKind, Record, Tuple};

/// Thresholds and delays.
#[derive(Debug, Clone, PartialEq)]
pub struct ThrottlePolicy {
    /// Failures of a pair before delays start.
    pub free_failures: u32,
    /// Longest delay between two attempts of a pair.
    pub max_delay: Duration,
    /// Failures of a pair that lock it.
    pub pair_lock_after: u32,
    /// Failures of an account, all addresses together, that lock it.
    pub account_lock_after: u32,
    /// How long a lock lasts.
    pub lock: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_failures: 3,
            max_delay: Duration::seconds(60),
            pair_lock_after: 10,
            account_lock_after: 50,
            lock: Duration::minutes(15),
            window: Duration::hours(1),
        }
    }
}

/// The failures of an account, or of an (account, address) pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThrottleState {
    /// The login as typed, folded to lowercase.
    pub login: String,
    /// The address, or `*` for the account as a whole.
    pub address: String,
    /// Failures counted in the current window.
    pub failures: u32,
    /// First counted failure.
    pub first_failure: DateTime<Utc>,
    /// Last counted failure.
    pub last_failure: DateTime<Utc>,
    /// Locked until then.
    pub locked_until: Option<DateTime<Utc>>,
}

impl Record for ThrottleState {
    const COLLECTION: &'static str = "ent.login_throttle";

    fn collection() -> CollectionDef {
        CollectionDef::new(Self::COLLECTION, [KeyKind::Str, KeyKind::Str])
    }

    fn id(&self) -> Tuple {
        (self.login.as_str(), self.address.as_str()).into()
    }
}

/// Whether an attempt may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password.
    Allow,
    /// Refuse without checking; retry after this many seconds.
    Wait(u64),
}

impl ThrottlePolicy {
    /// Whether an attempt of a pair may go on now.
    pub fn pair_verdict(&self, state: Option<&ThrottleState>, now: DateTime<Utc>) -> Verdict {
        let Some(s) = state.filter(|s| !self.expired(s, now)) else { return Verdict::Allow };
        if let Some(until) = s.locked_until {
            return wait(until, now);
        }
        if s.failures < self.free_failures {
            return Verdict::Allow;
        }
        let exp = (s.failures - self.free_failures).min(20);
        let delay = Duration::seconds(1i64 << exp).min(self.max_delay);
        wait(s.last_failure + delay, now)
    }

    /// Whether an attempt on an account may go on now, from an address known to the account or not.
    pub fn account_verdict(&self, state: Option<&ThrottleState>, known_address: bool, now: DateTime<Utc>) -> Verdict {
        match state.filter(|s| !self.expired(s, now)).and_then(|s| s.locked_until) {
            Some(until) if !known_address => wait(until, now),
            _ => Verdict::Allow,
        }
    }

    /// The state after a failure (not called while locked). Returns it and whether it just locked.
    pub fn after_failure(
        &self,
        state: Option<ThrottleState>,
        login: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> (ThrottleState, bool) {
        let lock_after = if address == "*" { self.account_lock_after } else { self.pair_lock_after };
        let mut s = match state.filter(|s| !self.expired(s, now)) {
            Some(s) => s,
            None => ThrottleState {
                login: login.to_owned(),
                address: address.to_owned(),
                failures: 0,
                first_failure: now,
                last_failure: now,
                locked_until: None,
            },
        };
        s.failures += 1;
        s.last_failure = now;
        let locks = s.locked_until.is_none() && s.failures >= lock_after;
        if locks {
            s.locked_until = Some(now + self.lock);
        }
        (s, locks)
    }

    /// Whether a state no longer counts: its lock is over, or (unlocked) its window has passed.
    pub fn expired(&self, s: &ThrottleState, now: DateTime<Utc>) -> bool {
        match s.locked_until {
            Some(until) => now >= until,
            None => now >= s.first_failure + self.window,
        }
    }
}

fn wait(until: DateTime<Utc>, now: DateTime<Utc>) -> Verdict {
    if until <= now { Verdict::Allow } else { Verdict::Wait((until - now).num_seconds().max(1) as u64) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-09-07T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn delays_grow_then_the_pair_locks_and_the_lock_does_not_grow() {
        let p = ThrottlePolicy::default();
        let mut state = None;
        let mut now = t0();
        let mut waits = Vec::new();
        for _ in 0..p.pair_lock_after {
            match p.pair_verdict(state.as_ref(), now) {
                Verdict::Allow => {}
                Verdict::Wait(s) => {
                    waits.push(s);
                    now += Duration::seconds(s as i64);
                }
            }
            let (s, _) = p.after_failure(state.take(), "a", "1.2.3.4", now);
            state = Some(s);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60], "free failures, then doubling up to a minute");
        let locked = state.clone().unwrap();
        assert_eq!(locked.locked_until, Some(now + p.lock));
        // During the lock: refused, and nothing is counted (the caller does not call after_failure).
        assert_eq!(p.pair_verdict(state.as_ref(), now + Duration::minutes(14)), Verdict::Wait(60));
        // After it: a fresh start.
        assert_eq!(p.pair_verdict(state.as_ref(), now + p.lock), Verdict::Allow);
        let (fresh, _) = p.after_failure(state, "a", "1.2.3.4", now + p.lock);
        assert_eq!(fresh.failures, 1);
    }

    #[test]
    fn the_account_lock_spares_known_addresses() {
        let p = ThrottlePolicy::default();
        let mut state = None;
        let mut locked = false;
        for _ in 0..p.account_lock_after {
            let (s, l) = p.after_failure(state.take(), "a", "*", t0());
            state = Some(s);
            locked |= l;
        }
        assert!(locked);
        assert!(matches!(p.account_verdict(state.as_ref(), false, t0()), Verdict::Wait(_)));
        assert_eq!(p.account_verdict(state.as_ref(), true, t0()), Verdict::Allow);
    }

    #[test]
    fn old_failures_are_forgotten() {
        let p = ThrottlePolicy::default();
        let (s, _) = p.after_failure(None, "a", "x", t0());
        let (s, _) = p.after_failure(Some(s), "a", "x", t0());
        let (s, _) = p.after_failure(Some(s), "a", "x", t0());
        let (s, _) = p.after_failure(Some(s), "a", "x", t0());
        assert!(matches!(p.pair_verdict(Some(&s), t0()), Verdict::Wait(_)));
        assert_eq!(p.pair_verdict(Some(&s), t0() + p.window), Verdict::Allow);
    }
}
