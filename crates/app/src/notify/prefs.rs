//! Each user's notification choices (E3): which outbound channels besides in-app, the e-mail
//! address (sealed, S1; SMS goes to the phone of the account), quiet hours and the time zone that
//! reminders and quiet hours are computed in (default Asia/Shanghai, which has no daylight saving).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use store::{entity::notification_pref as p, repo};

use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

pub const DEFAULT_TZ: Tz = chrono_tz::Asia::Shanghai;

/// A user's preferences as stored (address opened).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Prefs {
    /// Outbound channels chosen: `email`, `sms`.
    pub channels: Vec<String>,
    pub email: Option<String>,
    /// Minutes after local midnight; quiet hours may run over midnight (22:00 → 07:00).
    pub quiet_start: Option<u32>,
    pub quiet_end: Option<u32>,
    #[serde(serialize_with = "tz_name")]
    pub time_zone: Tz,
}

#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's serialize_with signature")]
fn tz_name<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl Default for Prefs {
    fn default() -> Self {
        Self { channels: Vec::new(), email: None, quiet_start: None, quiet_end: None, time_zone: DEFAULT_TZ }
    }
}

impl Prefs {
    /// When a non-urgent message created at `now` may go out: `now`, or the end of the quiet hours
    /// `now` falls in.
    pub fn quiet_release(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let (Some(start), Some(end)) = (self.quiet_start, self.quiet_end) else { return now };
        if start == end {
            return now;
        }
        let local = now.with_timezone(&self.time_zone);
        let minute = local.time().signed_duration_since(NaiveTime::MIN).num_minutes();
        let minute = u32::try_from(minute).unwrap_or(0);
        let quiet = if start < end { (start..end).contains(&minute) } else { minute >= start || minute < end };
        if !quiet {
            return now;
        }
        // The end of this quiet period: today at `end`, or tomorrow when it runs past midnight.
        let mut day = local.date_naive();
        if start > end && minute >= start {
            day = day.succ_opt().unwrap_or(day);
        }
        let end_time = NaiveTime::MIN + Duration::minutes(i64::from(end));
        self.time_zone.from_local_datetime(&day.and_time(end_time)).earliest().map_or(now, |t| t.with_timezone(&Utc))
    }
}

/// What a user may change.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PrefsInput {
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// `HH:MM`, both or neither.
    #[serde(default)]
    pub quiet_start: Option<String>,
    #[serde(default)]
    pub quiet_end: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

fn minutes(raw: Option<&str>) -> Result<Option<u32>, AppError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    let t = NaiveTime::parse_from_str(raw, "%H:%M")
        .map_err(|_| AppError::invalid("quiet_hours", "Quiet hours are times like 22:00 and 07:00."))?;
    Ok(u32::try_from(t.signed_duration_since(NaiveTime::MIN).num_minutes()).ok())
}

/// The time zone by IANA name.
pub fn parse_tz(name: &str) -> Result<Tz, AppError> {
    name.trim().parse::<Tz>().map_err(|_| AppError::invalid("time_zone", "Unknown time zone (e.g. Asia/Shanghai)."))
}

/// The stored preferences of `user_id` (defaults when none are stored).
pub async fn load(app: &App, db: &impl ConnectionTrait, user_id: &str) -> Result<Prefs, AppError> {
    match repo::care::prefs(db, user_id).await? {
        Some(row) => of_row(app, &row),
        None => Ok(Prefs::default()),
    }
}

/// Preferences from their stored row (the e-mail address opened).
pub(crate) fn of_row(app: &App, row: &p::Model) -> Result<Prefs, AppError> {
    Ok(Prefs {
        channels: serde_json::from_str(&row.channels).unwrap_or_default(),
        email: row
            .email_enc
            .as_ref()
            .map(|e| app.open_str("notification_prefs", "email_enc", &row.user_id, e))
            .transpose()?,
        quiet_start: row.quiet_start.and_then(|m| u32::try_from(m).ok()),
        quiet_end: row.quiet_end.and_then(|m| u32::try_from(m).ok()),
        time_zone: row.time_zone.parse().unwrap_or(DEFAULT_TZ),
    })
}

/// The caller's preferences.
pub async fn get(app: &App, who: &Principal) -> Result<Prefs, AppError> {
    load(app, &app.store.db, &who.user_id).await
}

/// Saves the caller's preferences. Channels must be configured here and reachable (e-mail needs an
/// address; SMS needs the account's phone).
pub async fn save(app: &App, who: &Principal, ctx: &RequestCtx, input: PrefsInput) -> Result<Prefs, AppError> {
    let mut channels = Vec::new();
    for c in input.channels {
        let c = c.trim().to_owned();
        if !app.outbound.channels.contains_key(c.as_str()) {
            return Err(AppError::invalid("channel_unavailable", "This channel is not available here."));
        }
        if !channels.contains(&c) {
            channels.push(c);
        }
    }
    let email = input.email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    if let Some(e) = &email {
        let ok = e.len() <= 254 && e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'));
        if !ok || e.chars().any(char::is_whitespace) {
            return Err(AppError::invalid("email", "Enter an e-mail address like name@example.com."));
        }
    }
    if channels.iter().any(|c| c == "email") && email.is_none() {
        return Err(AppError::invalid("email_required", "E-mail reminders need an e-mail address."));
    }
    let (quiet_start, quiet_end) = (minutes(input.quiet_start.as_deref())?, minutes(input.quiet_end.as_deref())?);
    if quiet_start.is_some() != quiet_end.is_some() {
        return Err(AppError::invalid("quiet_hours", "Give both the start and the end of the quiet hours."));
    }
    let time_zone = input.time_zone.as_deref().filter(|s| !s.trim().is_empty()).map_or(Ok(DEFAULT_TZ), parse_tz)?;
    let txn = app.store.begin_write().await?;
    if channels.iter().any(|c| c == "sms") && repo::user::get(&txn, &who.user_id).await?.phone_enc.is_none() {
        return Err(AppError::invalid("phone_required", "SMS reminders need a phone number on your profile."));
    }
    let row = p::Model {
        user_id: who.user_id.clone(),
        channels: serde_json::to_string(&channels).map_err(|_| AppError::Internal("json"))?,
        email_enc: email
            .as_ref()
            .map(|e| app.seal("notification_prefs", "email_enc", &who.user_id, e.as_bytes()))
            .transpose()?,
        quiet_start: quiet_start.and_then(|m| i32::try_from(m).ok()),
        quiet_end: quiet_end.and_then(|m| i32::try_from(m).ok()),
        time_zone: time_zone.name().to_owned(),
        updated_at: app.clock.now(),
    };
    repo::care::save_prefs(&txn, row).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "notify.prefs",
        Subject { patient_id: None, resource: Some(&who.user_id) },
        &channels.join(","),
    )
    .await?;
    txn.commit().await?;
    Ok(Prefs { channels, email, quiet_start, quiet_end, time_zone })
}

/// `HH:MM` for minutes after midnight.
pub fn hhmm(minutes: Option<u32>) -> String {
    minutes.map(|m| format!("{:02}:{:02}", m / 60, m % 60)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn quiet(start: u32, end: u32) -> Prefs {
        Prefs { quiet_start: Some(start), quiet_end: Some(end), ..Prefs::default() }
    }

    #[test]
    fn quiet_hours_over_midnight_release_at_their_end_in_shanghai_time() {
        let p = quiet(22 * 60, 7 * 60);
        // 23:30 Shanghai = 15:30 UTC → released at 07:00 Shanghai next day = 23:00 UTC.
        assert_eq!(p.quiet_release(at("2026-12-01T15:30:00Z")), at("2026-12-01T23:00:00Z"));
        // 03:00 Shanghai = 19:00 UTC the day before → 07:00 the same local day.
        assert_eq!(p.quiet_release(at("2026-12-01T19:00:00Z")), at("2026-12-01T23:00:00Z"));
        // 12:00 Shanghai: not quiet.
        assert_eq!(p.quiet_release(at("2026-12-01T04:00:00Z")), at("2026-12-01T04:00:00Z"));
        // 07:00 exactly is no longer quiet; 22:00 exactly is.
        assert_eq!(p.quiet_release(at("2026-12-01T23:00:00Z")), at("2026-12-01T23:00:00Z"));
        assert_eq!(p.quiet_release(at("2026-12-01T14:00:00Z")), at("2026-12-01T23:00:00Z"));
    }

    #[test]
    fn quiet_hours_within_a_day_and_other_zones() {
        let p = Prefs { time_zone: chrono_tz::Europe::Berlin, ..quiet(13 * 60, 14 * 60) };
        // 13:30 Berlin in winter = 12:30 UTC → 14:00 Berlin = 13:00 UTC.
        assert_eq!(p.quiet_release(at("2026-12-01T12:30:00Z")), at("2026-12-01T13:00:00Z"));
        assert_eq!(Prefs::default().quiet_release(at("2026-12-01T12:30:00Z")), at("2026-12-01T12:30:00Z"));
    }

    #[test]
    fn times_parse_and_print() {
        assert_eq!(minutes(Some("07:30")).unwrap(), Some(450));
        assert!(minutes(Some("25:00")).is_err());
        assert_eq!(minutes(Some(" ")).unwrap(), None);
        assert_eq!(hhmm(Some(450)), "07:30");
        assert!(parse_tz("Mars/Olympus").is_err());
    }
}
