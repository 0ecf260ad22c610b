//! The SMS cap (E3; issue 11 item 16): a recipient gets at most `[sms] max_per_hour` SMS within any
//! hour. An SMS planned while that many others are planned within an hour of it (before or after:
//! quiet hours send held ones together) is not sent: its delivery is stored as `skipped` with the
//! reason, and the notification still reaches the person in-app (and by e-mail when chosen).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseTransaction;
use store::repo;

use crate::{App, AppError};

/// `last_error` of an SMS delivery the cap held back.
pub const SMS_CAP_REASON: &str = "sms_hourly_limit";

/// SMS planned by the notifications of one call that are not stored yet.
#[derive(Default)]
pub(super) struct SmsCap {
    planned: BTreeMap<String, Vec<DateTime<Utc>>>,
}

impl SmsCap {
    /// Whether `user_id` may get one more SMS at `at`; counts it when so.
    pub(super) async fn allows(
        &mut self,
        app: &App,
        txn: &DatabaseTransaction,
        user_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, AppError> {
        let cap = u64::from(app.config.limits.sms_per_hour);
        if cap == 0 {
            return Ok(true);
        }
        let hour = Duration::hours(1);
        let stored = repo::care::sms_planned_between(txn, user_id, at - hour, at + hour).await?;
        let mine = self.planned.entry(user_id.to_owned()).or_default();
        let here = mine.iter().filter(|t| (**t - at).abs() < hour).count();
        if stored + u64::try_from(here).unwrap_or(u64::MAX) >= cap {
            return Ok(false);
        }
        mine.push(at);
        Ok(true)
    }
}
