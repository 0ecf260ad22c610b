//! Alert repeats (D4; issue 11 item 16). Fifteen urgent readings of one patient used to make
//! fifteen alerts and fifteen notifications (urgent ones by SMS, through quiet hours). A reading
//! that matches the rule of an alert still open for the same patient and plan, raised within
//! `[monitoring] alert_repeat_window_secs`, joins that alert instead: its count, latest reading and
//! time change, the doctor's page is updated live, and nobody is notified again. Once the alert is
//! acknowledged, or the window since it was raised has passed, the next such reading raises (and
//! notifies) a new one. Every reading names the alert it raised or joined (`observations.alert_id`),
//! so lists and charts still mark each abnormal value.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use store::{
    entity::{alert as a, observation as o},
    repo,
};

use crate::{App, AppError};

/// The open alert of `rule` for this patient and plan that a new reading repeats, locked for the
/// update; `None` when the reading should raise an alert of its own.
pub(super) async fn open_alert(
    app: &App,
    txn: &DatabaseTransaction,
    patient_id: &str,
    plan_id: &str,
    rule: &str,
) -> Result<Option<a::Model>, AppError> {
    let window = app.config.limits.alert_repeat_window_secs;
    if window <= 0 {
        return Ok(None);
    }
    let since = app.clock.now() - chrono::Duration::seconds(window);
    let open = repo::monitoring::open_alerts_of_patient_since(txn, patient_id, since).await?;
    // Rules are sealed (issue 11 item 10): compared after opening, among this patient's few open alerts.
    let mut found = None;
    for al in open.into_iter().filter(|al| al.plan_id == plan_id) {
        if super::alert_rule(app, &al)? == rule {
            found = Some(al);
            break;
        }
    }
    let Some(found) = found else {
        return Ok(None);
    };
    // Locked and read again: an acknowledgement may have committed since the search.
    Ok(repo::monitoring::lock_alert(txn, &found.id).await?.filter(|al| al.state == "open"))
}

/// Records `observation_id` as the latest repeat of `alert`.
pub(super) async fn join(
    txn: &DatabaseTransaction,
    mut alert: a::Model,
    observation_id: &str,
    now: DateTime<Utc>,
) -> Result<a::Model, AppError> {
    alert.repeat_count = alert.repeat_count.saturating_add(1);
    alert.last_observation_id = Some(observation_id.to_owned());
    alert.last_at = Some(now);
    repo::monitoring::update_alert(txn, alert.clone()).await?;
    Ok(alert)
}

/// The alerts these readings of one patient raised or joined.
pub(crate) async fn alerts_for(
    db: &impl ConnectionTrait,
    patient_id: &str,
    rows: &[o::Model],
    since: DateTime<Utc>,
) -> Result<Vec<a::Model>, AppError> {
    let mut alerts = repo::monitoring::alerts_of_patient_since(db, patient_id, since).await?;
    let mut missing: Vec<String> =
        rows.iter().filter_map(|r| r.alert_id.clone()).filter(|id| !alerts.iter().any(|al| &al.id == id)).collect();
    missing.sort();
    missing.dedup();
    alerts.extend(repo::monitoring::alerts_by_ids(db, &missing).await?);
    Ok(alerts)
}

/// The alert a reading raised or joined (rows from before repeats name none: their alert names them).
pub(crate) fn alert_of<'a>(alerts: &'a [a::Model], row: &o::Model) -> Option<&'a a::Model> {
    match &row.alert_id {
        Some(id) => alerts.iter().find(|al| &al.id == id),
        None => alerts.iter().find(|al| al.observation_id == row.id),
    }
}
