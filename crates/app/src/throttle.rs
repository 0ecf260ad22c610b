//! Throttles (issue 11 item 8, S3): how often one address or one account may try the operations an
//! attacker repeats — signing in, stepping up, registering, sending codes, pairing devices, exporting
//! records. A refused attempt answers `429 rate_limited` with `Retry-After` and costs no password
//! hash, no database write and no decode.
//!
//! Counters are fixed windows kept in this node's memory: cheap enough to consult on every attempt
//! and bounded in size (a flood of new keys evicts the least-used ones, never the busiest, so an
//! attacker cannot wash out their own counter). With several nodes each counts on its own, so a
//! limit holds per node; the account lockout that must hold everywhere stays in the database
//! (`users.failed_logins`, see `account::login`).

use std::{collections::HashMap, sync::Mutex};

use chrono::{DateTime, Utc};

use crate::AppError;

/// What is being counted. The same key under two actions is two counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Failed sign-ins (and step-ups) from one address, whatever the account.
    SignInFailuresByAddress,
    /// Failed sign-ins (and step-ups) on one account from one address.
    SignInFailuresByAccountAddress,
    /// New accounts from one address.
    RegisterByAddress,
    /// Codes sent or second factors enrolled by one account.
    CodeByAccount,
    /// Devices paired by one account.
    PairByAccount,
    /// Record exports (PDF, FHIR) by one account.
    ExportByAccount,
}

/// At most `max` in any window of `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window_secs: i64,
}

impl Limit {
    pub const fn new(max: u32, window_secs: i64) -> Self {
        Self { max, window_secs }
    }
}

/// The limits of a deployment (`[limits]` in the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub sign_in_failures_per_address: Limit,
    pub sign_in_failures_per_account_address: Limit,
    pub registrations_per_address: Limit,
    pub codes_per_account: Limit,
    pub pairings_per_account: Limit,
    pub exports_per_account: Limit,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            sign_in_failures_per_address: Limit::new(20, 15 * 60),
            sign_in_failures_per_account_address: Limit::new(5, 15 * 60),
            registrations_per_address: Limit::new(10, 3600),
            codes_per_account: Limit::new(10, 3600),
            pairings_per_account: Limit::new(10, 3600),
            exports_per_account: Limit::new(60, 3600),
        }
    }
}

impl Limits {
    pub fn of(&self, action: Action) -> Limit {
        match action {
            Action::SignInFailuresByAddress => self.sign_in_failures_per_address,
            Action::SignInFailuresByAccountAddress => self.sign_in_failures_per_account_address,
            Action::RegisterByAddress => self.registrations_per_address,
            Action::CodeByAccount => self.codes_per_account,
            Action::PairByAccount => self.pairings_per_account,
            Action::ExportByAccount => self.exports_per_account,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    count: u32,
}

/// Keys kept before the least-used are evicted (a few MB at most).
const MAX_KEYS: usize = 100_000;

/// The counters of one node.
#[derive(Debug, Default)]
pub struct Throttle {
    windows: Mutex<HashMap<(Action, String), Window>>,
}

impl Throttle {
    /// Refuses when `key` has used up `limit` for `action`; counts nothing.
    pub fn check(&self, now: DateTime<Utc>, action: Action, key: &str, limit: Limit) -> Result<(), AppError> {
        let Ok(map) = self.windows.lock() else { return Ok(()) };
        match map.get(&(action, key.to_owned())) {
            Some(w) if current(w, now, limit) && w.count >= limit.max => Err(refusal(w, now, limit)),
            _ => Ok(()),
        }
    }

    /// Counts one attempt and refuses it when it goes over `limit`.
    pub fn hit(&self, now: DateTime<Utc>, action: Action, key: &str, limit: Limit) -> Result<(), AppError> {
        let Ok(mut map) = self.windows.lock() else { return Ok(()) };
        if map.len() >= MAX_KEYS {
            evict(&mut map, now);
        }
        let w = map.entry((action, key.to_owned())).or_insert(Window { start: now, count: 0 });
        if !current(w, now, limit) {
            *w = Window { start: now, count: 0 };
        }
        if w.count >= limit.max {
            return Err(refusal(w, now, limit));
        }
        w.count += 1;
        Ok(())
    }

    /// Forgets `key` (a successful sign-in clears its failures).
    pub fn clear(&self, action: Action, key: &str) {
        if let Ok(mut map) = self.windows.lock() {
            map.remove(&(action, key.to_owned()));
        }
    }
}

fn current(w: &Window, now: DateTime<Utc>, limit: Limit) -> bool {
    (now - w.start).num_seconds() < limit.window_secs && now >= w.start
}

fn refusal(w: &Window, now: DateTime<Utc>, limit: Limit) -> AppError {
    let left = limit.window_secs - (now - w.start).num_seconds();
    AppError::RateLimited { retry_after_secs: u64::try_from(left.max(1)).unwrap_or(1) }
}

/// Drops windows that ended; if that is not enough, the keys with the fewest attempts.
fn evict(map: &mut HashMap<(Action, String), Window>, now: DateTime<Utc>) {
    map.retain(|_, w| (now - w.start).num_seconds() < 24 * 3600);
    if map.len() >= MAX_KEYS {
        map.retain(|_, w| w.count > 1);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).single().unwrap_or_default()
    }

    #[test]
    fn the_attempt_over_the_limit_is_refused_until_the_window_ends() {
        let th = Throttle::default();
        let limit = Limit::new(3, 60);
        for _ in 0..3 {
            assert!(th.hit(t0(), Action::RegisterByAddress, "10.0.0.1", limit).is_ok());
        }
        let refused = th.hit(t0() + Duration::seconds(20), Action::RegisterByAddress, "10.0.0.1", limit);
        assert!(matches!(refused, Err(AppError::RateLimited { retry_after_secs: 40 })), "{refused:?}");
        assert!(th.hit(t0(), Action::RegisterByAddress, "10.0.0.2", limit).is_ok(), "another address is not affected");
        assert!(th.hit(t0(), Action::ExportByAccount, "10.0.0.1", limit).is_ok(), "another action is not affected");
        assert!(th.hit(t0() + Duration::seconds(61), Action::RegisterByAddress, "10.0.0.1", limit).is_ok());
    }

    #[test]
    fn checking_counts_nothing_and_clearing_forgets() {
        let th = Throttle::default();
        let limit = Limit::new(1, 60);
        assert!(th.check(t0(), Action::SignInFailuresByAddress, "a", limit).is_ok());
        assert!(th.hit(t0(), Action::SignInFailuresByAddress, "a", limit).is_ok());
        assert!(th.check(t0(), Action::SignInFailuresByAddress, "a", limit).is_err());
        th.clear(Action::SignInFailuresByAddress, "a");
        assert!(th.check(t0(), Action::SignInFailuresByAddress, "a", limit).is_ok());
    }
}
