//! Chronic-care monitoring (D2, D4, D5): a doctor puts a patient on a follow-up plan with alert
//! thresholds; the patient (or a nurse) pairs a device with a per-device secret; devices send readings
//! (HTTP now, MQTT with the same payloads); each reading is checked, stored once in canonical units
//! with its values sealed (S1), and checked against the plan's rules; an abnormal one raises an alert
//! that reaches the plan's doctor live and stays open until acknowledged.
//!
//! Care relationship: the patient themself, or staff who are the doctor of one of the patient's
//! consultations or run an active plan for them. Every read of readings is audited.

mod alerts;
pub mod chart;
mod devices;
pub mod mqtt;
pub mod payload;
pub mod plans;
mod repeat;
pub mod tasks;
pub mod trend;

pub use alerts::{AlertView, acknowledge, escalate, open_alerts};
use alerts::{alert_notification, alert_view};
use devices::device_row;
pub(crate) use devices::device_secret;
pub use devices::{DeviceView, PairedDevice, authenticate_device, devices, pair_device};
pub use plans::{
    FollowedPatient, Measure, PlanInput, PlanView, create_plan, end_plan, my_patients, patient_name, plans,
};

use chrono::{DateTime, Utc};
use domain::{
    Role,
    reading::{Reading, ReadingKind, Severity, Thresholds},
};
use serde::Serialize;
use serde_json::json;
use store::{
    entity::{alert as a, device as d, followup_plan as p, observation as o},
    repo,
};

use crate::{App, AppError, Principal, RequestCtx, audit::Subject, bus::Event, consultation};

/// Whether `who` may see and act on `patient_id`'s monitoring data.
async fn cares_for(app: &App, who: &Principal, patient_id: &str) -> Result<bool, AppError> {
    if who.user_id == patient_id {
        return Ok(true);
    }
    if !(who.has(Role::Doctor) || who.has(Role::Nurse)) {
        return Ok(false);
    }
    let db = &app.store.db;
    if repo::monitoring::doctor_has_plan(db, &who.user_id, patient_id).await? {
        return Ok(true);
    }
    let scope = consultation::scope_for(db, who).await?;
    Ok(!repo::consultation::list_scoped_for_patient(db, &scope, patient_id).await?.is_empty())
}

pub(crate) async fn require_care(app: &App, who: &Principal, patient_id: &str) -> Result<(), AppError> {
    if cares_for(app, who, patient_id).await? { Ok(()) } else { Err(AppError::NotFound) }
}

/// A stored reading.
#[derive(Debug, Clone, Serialize)]
pub struct ObservationView {
    pub id: String,
    pub patient_id: String,
    pub kind: ReadingKind,
    /// LOINC.
    pub code: String,
    pub unit: &'static str,
    pub values: std::collections::BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<domain::reading::GlucoseContext>,
    pub summary: String,
    pub measured_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub source: String,
    pub device_id: Option<String>,
    pub reading_id: Option<String>,
    /// The alert this reading raised, if any (`urgent`: the patient is told what to do now).
    pub alert: Option<AlertBrief>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertBrief {
    pub id: String,
    pub severity: Severity,
    pub rule: String,
}

/// An alert's rule, opened (sealed: it names the condition; issue 11 item 10).
pub(super) fn alert_rule(app: &App, a: &a::Model) -> Result<String, AppError> {
    app.open_opt("alerts", "rule_enc", &a.id, a.rule_enc.as_deref())
}

pub(crate) fn reading_of(app: &App, row: &o::Model) -> Result<Reading, AppError> {
    let plain = app.open("observations", "values_enc", &row.id, &row.values_enc)?;
    serde_json::from_slice(&plain).map_err(|_| AppError::Internal("stored reading"))
}

pub(crate) fn observation_view(
    app: &App,
    row: o::Model,
    alert: Option<&a::Model>,
) -> Result<ObservationView, AppError> {
    let r = reading_of(app, &row)?;
    Ok(ObservationView {
        unit: r.kind.unit(),
        summary: r.summary(),
        kind: r.kind,
        values: r.values,
        context: r.context,
        id: row.id,
        patient_id: row.patient_id,
        code: row.code,
        measured_at: row.measured_at,
        received_at: row.received_at,
        source: row.source,
        device_id: row.device_id,
        reading_id: row.reading_id,
        alert: alert
            .map(|a| {
                Ok::<_, AppError>(AlertBrief {
                    id: a.id.clone(),
                    severity: a.severity.parse().unwrap_or(Severity::Warning),
                    rule: alert_rule(app, a)?,
                })
            })
            .transpose()?,
    })
}

/// Stores a device's readings (one or a batch). Each is stored once per (device, reading id): a
/// duplicate answers the stored reading with `created = false`. Nothing is stored when any item of
/// the body is invalid; the refusal is logged.
pub async fn ingest(
    app: &App,
    device: &d::Model,
    body: &serde_json::Value,
) -> Result<(Vec<(ObservationView, bool)>, bool), AppError> {
    let now = app.clock.now();
    let (items, batch) = payload::parse_body(body, now).inspect_err(|e| {
        tracing::warn!(device = %device.id, code = e.code(), "device reading refused: {e}");
    })?;
    let txn = app.store.begin_write().await?;
    let plan = repo::monitoring::active_plans(&txn, &device.patient_id).await?.into_iter().next();
    let thresholds: Thresholds =
        plan.as_ref().and_then(|p| serde_json::from_str(&p.thresholds).ok()).unwrap_or_default();
    let mut out = Vec::with_capacity(items.len());
    let mut events = Vec::new();
    for item in items {
        if let Some(row) = repo::monitoring::observation_by_reading(&txn, &device.id, &item.reading_id).await? {
            let alerts = match &row.alert_id {
                Some(id) => repo::monitoring::alerts_by_ids(&txn, std::slice::from_ref(id)).await?,
                None => repo::monitoring::alerts_of(&txn, &row.id).await?,
            };
            out.push((observation_view(app, row, alerts.first())?, false));
            continue;
        }
        let src =
            Source { patient_id: &device.patient_id, device_id: Some(&device.id), reading_id: Some(&item.reading_id) };
        let (view, evs) =
            store_reading(app, &txn, &src, &item.reading, item.measured_at, plan.as_ref(), &thresholds).await?;
        events.extend(evs);
        out.push((view, true));
    }
    app.record_as(
        &txn,
        &RequestCtx::default(),
        None,
        Some("device"),
        "observation.ingest",
        Subject { patient_id: Some(&device.patient_id), resource: Some(&device.id) },
        &out.iter().filter(|(_, created)| *created).count().to_string(),
    )
    .await?;
    txn.commit().await?;
    for e in events {
        app.bus.publish(e);
    }
    Ok((out, batch))
}

/// Where a reading comes from: a device (with its own reading id) or a person's hands.
#[allow(clippy::struct_field_names, reason = "the three ids say where the reading is from")]
struct Source<'a> {
    patient_id: &'a str,
    device_id: Option<&'a str>,
    reading_id: Option<&'a str>,
}

/// Stores one checked reading in the caller's transaction: the sealed observation, the alert its
/// plan's rules raise (urgent ones schedule their escalation), the task it completes; returns the
/// view and the events to publish after commit (the alert to the doctor live and in the inbox, the
/// reading and the completed task to the patient).
async fn store_reading(
    app: &App,
    txn: &sea_orm::DatabaseTransaction,
    src: &Source<'_>,
    reading: &Reading,
    measured_at: DateTime<Utc>,
    plan: Option<&p::Model>,
    thresholds: &Thresholds,
) -> Result<(ObservationView, Vec<Event>), AppError> {
    let now = app.clock.now();
    let since = measured_at - chrono::Duration::days(7);
    let recent = repo::monitoring::above_target_since(txn, src.patient_id, reading.kind.as_str(), since).await?;
    let id = domain::FileId::new().to_string();
    let reading_json = serde_json::to_vec(reading).map_err(|_| AppError::Internal("json"))?;
    let mut row = o::Model {
        values_enc: app.seal("observations", "values_enc", &id, &reading_json)?,
        id,
        patient_id: src.patient_id.to_owned(),
        kind: reading.kind.as_str().to_owned(),
        code: reading.kind.loinc().to_owned(),
        measured_at,
        received_at: now,
        source: if src.device_id.is_some() { "device" } else { "manual" }.into(),
        device_id: src.device_id.map(str::to_owned),
        reading_id: src.reading_id.map(str::to_owned),
        above_target: thresholds.above_target(reading),
        alert_id: None,
    };
    let finding = thresholds.check(reading, usize::try_from(recent).unwrap_or(usize::MAX));
    // Issue 11 item 16: a repeat of an open alert's rule joins that alert instead of raising another.
    let repeats = match (&finding, plan) {
        (Some(f), Some(plan)) => repeat::open_alert(app, txn, src.patient_id, &plan.id, f.rule).await?,
        _ => None,
    };
    let new_alert_id = domain::FileId::new().to_string();
    row.alert_id = match (&repeats, &finding, plan) {
        (Some(open), _, _) => Some(open.id.clone()),
        (None, Some(_), Some(_)) => Some(new_alert_id.clone()),
        _ => None,
    };
    repo::monitoring::insert_observation(txn, row.clone()).await?;
    let mut events = Vec::new();
    let (alert, raised) = match (finding, plan, repeats) {
        (_, _, Some(open)) => (Some(repeat::join(txn, open, &row.id, now).await?), false),
        (Some(f), Some(plan), None) => {
            let alert = a::Model {
                rule_enc: Some(app.seal_str("alerts", "rule_enc", &new_alert_id, f.rule)?),
                id: new_alert_id,
                patient_id: src.patient_id.to_owned(),
                plan_id: plan.id.clone(),
                doctor_id: plan.doctor_id.clone(),
                observation_id: row.id.clone(),
                severity: f.severity.as_str().to_owned(),
                state: "open".into(),
                created_at: now,
                acknowledged_at: None,
                acknowledged_by: None,
                escalated_at: None,
                repeat_count: 1,
                last_observation_id: None,
                last_at: None,
            };
            repo::monitoring::insert_alert(txn, alert.clone()).await?;
            if f.severity == Severity::Urgent {
                let due = now + chrono::Duration::seconds(app.config.alert_escalation_secs.max(60));
                let key = format!("alert_escalate:{}", alert.id);
                let args = json!({"alert": alert.id});
                crate::jobs::schedule(txn, crate::jobs::kind::ALERT_ESCALATE, &key, &args, due, now).await?;
            }
            (Some(alert), true)
        }
        _ => (None, false),
    };
    let view = observation_view(app, row, alert.as_ref())?;
    if let Some(alert) = &alert {
        let av = alert_view(app, alert.clone(), Some(view.clone())).await?;
        // A repeat only updates the doctor's page (the live event below): no new notification.
        if raised {
            events.push(alert_notification(app, txn, alert.doctor_id.clone(), &av, false).await?);
        }
        events
            .push(Event { recipients: vec![alert.doctor_id.clone()], payload: json!({"type": "alert", "alert": av}) });
    }
    if let Some(e) = tasks::complete_for_reading(app, txn, src.patient_id, reading, &view.id, measured_at).await? {
        events.push(e);
    }
    events.push(Event {
        recipients: vec![src.patient_id.to_owned()],
        payload: json!({"type": "observation", "observation": view}),
    });
    Ok((view, events))
}

/// A reading entered by hand (the patient, or a nurse or doctor caring for them): same checks,
/// alerts and task completion as a device's.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ManualReading {
    #[serde(rename = "type")]
    pub kind: ReadingKind,
    pub values: std::collections::BTreeMap<String, f64>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub context: Option<domain::reading::GlucoseContext>,
    /// When measured (default: now); not in the future, at most 30 days back.
    #[serde(default)]
    pub measured_at: Option<DateTime<Utc>>,
}

/// Records a reading entered by hand (audited).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn record_reading(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    input: ManualReading,
) -> Result<ObservationView, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    app.audit_denied(who, ctx, "observation.record", target, record_reading_inner(app, who, ctx, patient_id, input))
        .await
}

async fn record_reading_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    input: ManualReading,
) -> Result<ObservationView, AppError> {
    require_care(app, who, patient_id).await?;
    if who.user_id != patient_id && !who.has_any(&[Role::Doctor, Role::Nurse]) {
        return Err(AppError::NotFound);
    }
    let now = app.clock.now();
    let measured_at = input.measured_at.unwrap_or(now);
    if measured_at > now + chrono::Duration::minutes(5) || measured_at < now - chrono::Duration::days(30) {
        return Err(AppError::invalid("reading_time", "A reading is from the last 30 days, not the future."));
    }
    let unit = input.unit.as_deref().unwrap_or_else(|| input.kind.unit());
    let reading = Reading::normalize(input.kind, &input.values, unit, input.context)
        .map_err(|e| AppError::invalid(e.code(), e.to_string()))?;
    let txn = app.store.begin_write().await?;
    let plan = repo::monitoring::active_plans(&txn, patient_id).await?.into_iter().next();
    let thresholds: Thresholds =
        plan.as_ref().and_then(|p| serde_json::from_str(&p.thresholds).ok()).unwrap_or_default();
    let src = Source { patient_id, device_id: None, reading_id: None };
    let (view, events) = store_reading(app, &txn, &src, &reading, measured_at, plan.as_ref(), &thresholds).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "observation.record",
        Subject { patient_id: Some(patient_id), resource: Some(&view.id) },
        input.kind.as_str(),
    )
    .await?;
    txn.commit().await?;
    for e in events {
        app.bus.publish(e);
    }
    Ok(view)
}

/// A patient's readings by LOINC code and time window, oldest first (at most 5,000); audited.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn observations(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    code: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<ObservationView>, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    app.audit_denied(
        who,
        ctx,
        "observation.view",
        target,
        observations_inner(app, who, ctx, patient_id, code, from, to),
    )
    .await
}

async fn observations_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    code: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<ObservationView>, AppError> {
    require_care(app, who, patient_id).await?;
    let rows = repo::monitoring::observations(&app.store.db, patient_id, code, from, to, 5000).await?;
    viewed(app, who, ctx, patient_id, rows).await
}

/// Readings someone is shown: the view is audited (`observation.view`, with the count) and each
/// reading carries the alert it raised.
pub(crate) async fn viewed(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    rows: Vec<o::Model>,
) -> Result<Vec<ObservationView>, AppError> {
    let txn = app.store.begin_write().await?;
    let subject = Subject { patient_id: Some(patient_id), resource: None };
    app.record(&txn, ctx, Some(who), "observation.view", subject, &rows.len().to_string()).await?;
    txn.commit().await?;
    let since = rows.iter().map(|r| r.measured_at.min(r.received_at)).min().unwrap_or_else(|| app.clock.now());
    let alerts = repeat::alerts_for(&app.store.db, patient_id, &rows, since).await?;
    rows.into_iter()
        .map(|r| {
            let alert = repeat::alert_of(&alerts, &r);
            observation_view(app, r, alert)
        })
        .collect()
}

/// Demo data (`serve --demo`): a hypertension plan for `patient_id` run by `doctor_id`, and a BP
/// monitor paired with a published secret. Demo only; does nothing when the device exists.
pub(crate) async fn seed_demo(
    app: &App,
    patient_id: &str,
    doctor_id: &str,
    device_id: &str,
    secret: &str,
) -> Result<(), AppError> {
    let txn = app.store.begin_write().await?;
    if repo::monitoring::device(&txn, device_id).await?.is_some() {
        return Ok(());
    }
    let t = plans::builtin("hypertension").ok_or(AppError::Internal("template"))?;
    let plan = plans::plan_row(app, patient_id, doctor_id, &t.key, &t.title, &t.measures, &t.thresholds)?;
    repo::monitoring::insert_plan(&txn, plan.clone()).await?;
    tasks::extend(app, &txn, &plan).await?;
    let device = device_row(
        app,
        patient_id,
        device_id,
        ReadingKind::BloodPressure,
        "演示血压计 Demo BP monitor",
        secret,
        doctor_id,
    )?;
    repo::monitoring::insert_device(&txn, device).await?;
    app.record_as(
        &txn,
        &RequestCtx::default(),
        None,
        Some("operator"),
        "demo.seed_monitoring",
        Subject { patient_id: Some(patient_id), resource: Some(device_id) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
