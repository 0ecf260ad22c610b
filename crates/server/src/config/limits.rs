//! `[limits]`: attempt throttles and the account lockout (issue 11 item 8). Counts per window; the
//! windows are fixed (sign-in failures: 15 minutes; the rest: one hour). `0` turns nothing off —
//! it refuses everything — so leave a limit out to keep its default.

use serde::{Deserialize, Serialize};

#[derive(Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Failed sign-ins and step-ups from one address, on any accounts, per 15 minutes.
    pub sign_in_failures_per_address: u32,
    /// Failed sign-ins and step-ups on one account from one address, per 15 minutes.
    pub sign_in_failures_per_account_address: u32,
    /// New accounts from one address per hour.
    pub registrations_per_address: u32,
    /// Second-factor enrolments and codes sent per account per hour.
    pub codes_per_account: u32,
    /// Devices paired per account per hour.
    pub pairings_per_account: u32,
    /// Record exports (PDF, FHIR) per account per hour.
    pub exports_per_account: u32,
    /// Failures on one account, from any addresses, that lock it for everyone (wrong passwords on
    /// accounts without a second factor; wrong codes after the right password otherwise).
    pub lockout_threshold: i32,
    pub lockout_secs: i64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let d = app::throttle::Limits::default();
        let a = app::AppConfig::default();
        Self {
            sign_in_failures_per_address: d.sign_in_failures_per_address.max,
            sign_in_failures_per_account_address: d.sign_in_failures_per_account_address.max,
            registrations_per_address: d.registrations_per_address.max,
            codes_per_account: d.codes_per_account.max,
            pairings_per_account: d.pairings_per_account.max,
            exports_per_account: d.exports_per_account.max,
            lockout_threshold: a.lockout_threshold,
            lockout_secs: a.lockout_secs,
        }
    }
}

impl LimitsConfig {
    pub fn limits(&self) -> app::throttle::Limits {
        use app::throttle::Limit;
        let d = app::throttle::Limits::default();
        let with = |l: Limit, max: u32| Limit::new(max, l.window_secs);
        app::throttle::Limits {
            sign_in_failures_per_address: with(d.sign_in_failures_per_address, self.sign_in_failures_per_address),
            sign_in_failures_per_account_address: with(
                d.sign_in_failures_per_account_address,
                self.sign_in_failures_per_account_address,
            ),
            registrations_per_address: with(d.registrations_per_address, self.registrations_per_address),
            codes_per_account: with(d.codes_per_account, self.codes_per_account),
            pairings_per_account: with(d.pairings_per_account, self.pairings_per_account),
            exports_per_account: with(d.exports_per_account, self.exports_per_account),
        }
    }
}
