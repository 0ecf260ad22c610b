//! Chronic-care monitoring (D2, D4, D5): a doctor puts a patient on a follow-up plan with alert
//! thresholds; the patient (or a nurse) pairs a device with a per-device secret; devices send readings
//! (HTTP now, MQTT with the same payloads); each reading is checked, stored once in canonical units
//! with its values sealed (S1), and checked against the plan's rules; an abnormal one raises an alert
//! that reaches the plan's doctor live and stays open until acknowledged.
//!
//! Care relationship: the patient themself, or staff who are the doctor of one of the patient's
//! consultations or run an active plan for them. Every read of readings is audited.

pub mod chart;
pub mod mqtt;
pub mod payload;
pub mod plans;
mod repeat;
pub mod tasks;
pub mod trend;

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

/// A new device row with its secret sealed.
fn device_row(
    app: &App,
    patient_id: &str,
    device_id: &str,
    kind: ReadingKind,
    label: &str,
    secret: &str,
    paired_by: &str,
) -> Result<d::Model, AppError> {
    Ok(d::Model {
        id: device_id.to_owned(),
        patient_id: patient_id.to_owned(),
        kind: kind.as_str().to_owned(),
        label_enc: Some(app.seal_str("devices", "label_enc", device_id, &device_label(label))?),
        secret_enc: app.seal("devices", "secret_enc", device_id, secret.as_bytes())?,
        paired_by: paired_by.to_owned(),
        paired_at: app.clock.now(),
        revoked_at: None,
    })
}

/// A device's label as stored (sealed: people name devices after the patient; issue 11 item 10).
fn device_label(label: &str) -> String {
    label.trim().chars().take(60).collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct PairedDevice {
    pub device_id: String,
    pub patient_id: String,
    pub kind: ReadingKind,
    pub label: String,
    /// Shown once, at pairing: configure it in the device (or its gateway).
    pub secret: String,
}

/// Pairs a device to the patient (the patient, or staff caring for them). `secret` is generated
/// unless given (demo and makers' factory secrets); at least 16 characters.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn pair_device(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    device_id: &str,
    kind: ReadingKind,
    label: &str,
    secret: Option<&str>,
) -> Result<PairedDevice, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    app.audit_denied(
        who,
        ctx,
        "device.pair",
        target,
        pair_device_inner(app, who, ctx, patient_id, device_id, kind, label, secret),
    )
    .await
}

async fn pair_device_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    device_id: &str,
    kind: ReadingKind,
    label: &str,
    secret: Option<&str>,
) -> Result<PairedDevice, AppError> {
    require_care(app, who, patient_id).await?;
    // Issue 11 item 8: each pairing mints a device credential.
    app.throttle_hit(crate::throttle::Action::PairByAccount, &who.user_id)?;
    let device_id = device_id.trim();
    if device_id.is_empty()
        || device_id.len() > 64
        || !device_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err(AppError::invalid("device_id", "A device id is 1 to 64 letters, digits, - _ . or :."));
    }
    let secret = match secret {
        Some(s) if s.len() >= 16 => s.to_owned(),
        Some(_) => return Err(AppError::invalid("device_secret", "A device secret has at least 16 characters.")),
        None => crate::account::random_token()?,
    };
    let txn = app.store.begin_write().await?;
    if repo::monitoring::device(&txn, device_id).await?.is_some() {
        return Err(AppError::invalid("device_paired", "This device is already paired."));
    }
    let row = device_row(app, patient_id, device_id, kind, label, &secret, &who.user_id)?;
    repo::monitoring::insert_device(&txn, row.clone()).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "device.pair",
        Subject { patient_id: Some(patient_id), resource: Some(device_id) },
        kind.as_str(),
    )
    .await?;
    txn.commit().await?;
    Ok(PairedDevice { device_id: row.id, patient_id: row.patient_id, kind, label: device_label(label), secret })
}

/// A paired device as its owner and care team see it (never the secret).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    pub id: String,
    pub kind: ReadingKind,
    pub label: String,
    pub paired_at: DateTime<Utc>,
}

/// The patient's paired devices; a refusal is audited (issue 11 item 11).
pub async fn devices(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
) -> Result<Vec<DeviceView>, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    app.audit_denied(who, ctx, "device.list", target, devices_of(app, who, patient_id)).await
}

async fn devices_of(app: &App, who: &Principal, patient_id: &str) -> Result<Vec<DeviceView>, AppError> {
    require_care(app, who, patient_id).await?;
    repo::monitoring::devices_of(&app.store.db, patient_id)
        .await?
        .into_iter()
        .filter(|d| d.revoked_at.is_none())
        .map(|d| {
            Ok(DeviceView {
                kind: d.kind.parse().unwrap_or(ReadingKind::BloodPressure),
                label: app.open_opt("devices", "label_enc", &d.id, d.label_enc.as_deref())?,
                id: d.id,
                paired_at: d.paired_at,
            })
        })
        .collect()
}

/// A paired (not revoked) device and its secret, for checking what it signs.
pub(crate) async fn device_secret(app: &App, device_id: &str) -> Result<(d::Model, Vec<u8>), AppError> {
    let row = repo::monitoring::device(&app.store.db, device_id).await?.filter(|d| d.revoked_at.is_none());
    let row = row.ok_or(AppError::Unauthenticated)?;
    let secret = app.open("devices", "secret_enc", &row.id, &row.secret_enc)?;
    Ok((row, secret))
}

/// The paired device behind `Authorization: Device <id>:<secret>`.
pub async fn authenticate_device(app: &App, device_id: &str, secret: &str) -> Result<d::Model, AppError> {
    let (row, stored) = device_secret(app, device_id).await?;
    // Compare digests, so the time taken says nothing about the secret.
    if crypto::hmac_sha256(&stored, b"device") != crypto::hmac_sha256(secret.as_bytes(), b"device") {
        return Err(AppError::Unauthenticated);
    }
    Ok(row)
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

/// The inbox entry (and e-mail/SMS when chosen) for an alert; urgent alerts ignore quiet hours.
async fn alert_notification(
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

async fn alert_view(app: &App, row: a::Model, reading: Option<ObservationView>) -> Result<AlertView, AppError> {
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
