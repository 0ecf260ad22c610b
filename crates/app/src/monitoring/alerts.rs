//! Alerts (D4): the doctor's open alerts (their own and their team's escalated ones), the
//! acknowledgement, the escalation job, and the notification an alert sends.

use chrono::{DateTime, Utc};
use domain::{Role, reading::Severity};
use serde::Serialize;
use serde_json::json;
use store::{entity::alert as a, repo};

use super::{ObservationView, alert_rule, observation_view};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject, bus::Event, consultation};

/// The inbox entry (and e-mail/SMS when chosen) for an alert; urgent alerts ignore quiet hours.
pub(super) async fn alert_notification(
    app: &App,
    txn: &sea_orm::DatabaseTransaction,
    to: String,
    alert: &AlertView,
    escalated: bool,
) -> Result<Event, AppError> {
    let reading = alert.reading.as_ref().map(|r| r.summary.clone()).unwrap_or_default();
    let urgent = alert.severity == Severity::Urgent;
    let (rule_zh, rule_en) = match alert.rule.as_str() {
        "bp_urgent" => ("血压达到紧急阈值", "blood pressure at the urgent threshold"),
        "glucose_low" => ("低血糖", "low blood glucose"),
        "glucose_high" => ("血糖过高", "very high blood glucose"),
        "spo2_low" => ("血氧过低", "low oxygen saturation"),
        "above_target_trend" => ("一周内第三次高于目标", "third reading above target in a week"),
        other => (other, other),
    };
    let (zh, en) = match (escalated, urgent) {
        (true, _) => ("【升级】紧急读数无人确认", "Escalated: urgent reading not acknowledged"),
        (false, true) => ("紧急读数", "Urgent reading"),
        (false, false) => ("读数预警", "Reading warning"),
    };
    crate::notify::notify(
        app,
        txn,
        crate::notify::NewNotification {
            user_id: to,
            kind: if escalated { "alert.escalated" } else { "alert" },
            title: crate::notify::Bilingual::new(
                format!("{zh}：{}", alert.patient_name),
                format!("{en}: {}", alert.patient_name),
            ),
            body: crate::notify::Bilingual::new(format!("{reading}（{rule_zh}）"), format!("{reading} ({rule_en})")),
            link: Some(format!("/patients/{}/care", alert.patient)),
            urgent,
            subject_id: Some(alert.id.clone()),
        },
    )
    .await
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub id: String,
    pub patient: String,
    pub patient_name: String,
    pub severity: Severity,
    pub rule: String,
    pub state: String,
    /// The latest reading that raised or repeated it.
    pub reading: Option<ObservationView>,
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// How many readings raised it: the first and its repeats (issue 11 item 16).
    pub count: i32,
    /// When the latest of them came.
    pub last_at: DateTime<Utc>,
}

pub(super) async fn alert_view(
    app: &App,
    row: a::Model,
    reading: Option<ObservationView>,
) -> Result<AlertView, AppError> {
    let reading = match reading {
        Some(r) => Some(r),
        None => match repo::monitoring::observation(
            &app.store.db,
            row.last_observation_id.as_deref().unwrap_or(&row.observation_id),
        )
        .await?
        {
            Some(o) => Some(observation_view(app, o, None)?),
            None => None,
        },
    };
    Ok(AlertView {
        patient_name: consultation::display_name(app, &app.store.db, &row.patient_id).await?,
        severity: row.severity.parse().unwrap_or(Severity::Warning),
        rule: alert_rule(app, &row)?,
        id: row.id,
        patient: row.patient_id,
        state: row.state,
        reading,
        count: row.repeat_count,
        last_at: row.last_at.unwrap_or(row.created_at),
        created_at: row.created_at,
        acknowledged_at: row.acknowledged_at,
    })
}

/// The caller's open alerts — their own, and escalated ones of their institution's doctors —
/// urgent first, then newest. They name patients and show readings, so the view is audited
/// (issue 11 item 11).
pub async fn open_alerts(app: &App, who: &Principal, ctx: &RequestCtx) -> Result<Vec<AlertView>, AppError> {
    let out = alerts_for(app, who).await?;
    app.record_view(who, ctx, "alert.list", Subject { patient_id: None, resource: None }, out.len()).await?;
    Ok(out)
}

async fn alerts_for(app: &App, who: &Principal) -> Result<Vec<AlertView>, AppError> {
    let db = &app.store.db;
    let mut out = Vec::new();
    for row in repo::monitoring::open_alerts_for(db, &who.user_id).await? {
        out.push(alert_view(app, row, None).await?);
    }
    // Escalated alerts of the doctors of each institution where the caller is on the care team.
    let mut team_at: Vec<&str> =
        [Role::Doctor, Role::Nurse, Role::InstitutionAdmin].into_iter().flat_map(|r| who.institutions_of(r)).collect();
    team_at.sort_unstable();
    team_at.dedup();
    for inst in team_at {
        let colleagues: Vec<String> = repo::user::list_staff_of(db, inst)
            .await?
            .into_iter()
            .filter(|s| s.role == Role::Doctor.as_str() && s.user_id != who.user_id)
            .map(|s| s.user_id)
            .collect();
        for row in repo::monitoring::open_escalated_of(db, &colleagues).await? {
            let mut view = alert_view(app, row, None).await?;
            view.state = "escalated".into();
            out.push(view);
        }
    }
    out.sort_by_key(|a| (a.severity != Severity::Urgent, std::cmp::Reverse(a.last_at)));
    Ok(out)
}

/// The alert's doctor (after escalation: their team) acknowledges it (once; again is a no-op).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn acknowledge(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<AlertView, AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "alert.acknowledge", target, acknowledge_inner(app, who, ctx, id)).await
}

async fn acknowledge_inner(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<AlertView, AppError> {
    let txn = app.store.begin_write().await?;
    let mut row = repo::monitoring::lock_alert(&txn, id).await?.ok_or(AppError::NotFound)?;
    // The plan's doctor; once escalated, anyone of the doctor's team (a doctor or nurse of the same
    // institution where the alert's doctor works as a doctor; issue 11 item 1).
    let mut allowed = row.doctor_id == who.user_id;
    if !allowed && row.escalated_at.is_some() {
        let theirs = repo::user::roles(&txn, &row.doctor_id).await?;
        allowed = theirs.iter().filter(|r| r.role == Role::Doctor.as_str()).any(|r| {
            r.institution_id.as_deref().is_some_and(|i| who.holds_at(Role::Doctor, i) || who.holds_at(Role::Nurse, i))
        });
    }
    if !allowed {
        return Err(AppError::NotFound);
    }
    if row.state == "open" {
        row.state = "acknowledged".into();
        row.acknowledged_at = Some(app.clock.now());
        row.acknowledged_by = Some(who.user_id.clone());
        repo::monitoring::update_alert(&txn, row.clone()).await?;
        app.record(
            &txn,
            ctx,
            Some(who),
            "alert.acknowledge",
            Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
            // Not the rule: it names the condition, and audit events are stored in clear.
            "ok",
        )
        .await?;
    }
    txn.commit().await?;
    alert_view(app, row, None).await
}

/// The escalation job: an urgent alert still open goes to the doctor's team — the other doctors and
/// nurses of the doctor's institution and its admins — live, once (D4).
pub async fn escalate(app: &App, txn: &sea_orm::DatabaseTransaction, id: &str) -> Result<Vec<Event>, AppError> {
    let Some(mut row) = repo::monitoring::lock_alert(txn, id).await? else { return Ok(Vec::new()) };
    if row.state != "open" || row.escalated_at.is_some() {
        return Ok(Vec::new());
    }
    row.escalated_at = Some(app.clock.now());
    repo::monitoring::update_alert(txn, row.clone()).await?;
    let mut team = Vec::new();
    for role in repo::user::roles(txn, &row.doctor_id).await? {
        // The team of the institution where the plan's doctor works as a doctor, not of any other
        // place they hold a role (issue 11 item 1).
        let Some(inst) = role.institution_id.filter(|_| role.role == Role::Doctor.as_str()) else { continue };
        for staff in repo::user::list_staff_of(txn, &inst).await? {
            let clinical = matches!(staff.role.as_str(), "doctor" | "nurse" | "institution_admin");
            if clinical && staff.user_id != row.doctor_id && !team.contains(&staff.user_id) {
                team.push(staff.user_id);
            }
        }
    }
    app.record_as(
        txn,
        &RequestCtx::default(),
        None,
        Some("system"),
        "alert.escalate",
        Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
        &team.len().to_string(),
    )
    .await?;
    if team.is_empty() {
        return Ok(Vec::new());
    }
    let mut view = alert_view(app, row, None).await?;
    view.state = "escalated".into();
    let mut events = Vec::with_capacity(team.len() + 1);
    for member in &team {
        events.push(alert_notification(app, txn, member.clone(), &view, true).await?);
    }
    events.push(Event { recipients: team, payload: json!({"type": "alert", "alert": view}) });
    Ok(events)
}
