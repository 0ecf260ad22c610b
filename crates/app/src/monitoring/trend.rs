//! Trend charts for people (D3): a patient's readings of one kind over a period (3 months by
//! default) with the plan's target band and the alerts they raised, rendered as SVG on the server by
//! [`super::chart`] — for the patient's page, the doctor's side panel and the record export. Reading
//! the values is a view of the record: it is audited like the observations query.

use chrono::Duration;
use domain::reading::{ReadingKind, Severity, Thresholds};
use store::repo;

use super::{
    chart::{self, ChartPoint, ChartSpec},
    reading_of, require_care,
};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

/// Longest period a chart covers.
pub const MAX_DAYS: i64 = 366;

/// The target band(s) a plan's thresholds draw for a kind (blood pressure: systolic and diastolic).
pub fn bands(kind: ReadingKind, t: &Thresholds) -> Vec<(f64, f64)> {
    match kind {
        ReadingKind::BloodPressure => vec![(90.0, t.systolic_target), (60.0, t.diastolic_target)],
        ReadingKind::Glucose => vec![(t.glucose_low_urgent, t.glucose_fasting_target)],
        ReadingKind::Spo2 => vec![(95.0, 100.0)],
        ReadingKind::HeartRate => vec![(60.0, 100.0)],
        ReadingKind::Weight => Vec::new(),
    }
}

/// Builds the chart without audit (callers audit once for what they show).
pub(crate) async fn render_unaudited(
    app: &App,
    patient_id: &str,
    kind: ReadingKind,
    days: i64,
    lang: chart::Lang,
) -> Result<(String, usize), AppError> {
    let db = &app.store.db;
    let to = app.clock.now();
    let from = to - Duration::days(days.clamp(1, MAX_DAYS));
    let rows = repo::monitoring::observations(db, patient_id, Some(kind.loinc()), Some(from), Some(to), 5000).await?;
    let alerts = super::repeat::alerts_for(db, patient_id, &rows, from).await?;
    let plan = repo::monitoring::active_plans(db, patient_id).await?.into_iter().next();
    let thresholds: Thresholds = plan.and_then(|p| serde_json::from_str(&p.thresholds).ok()).unwrap_or_default();
    let mut points = Vec::with_capacity(rows.len());
    for row in &rows {
        let r = reading_of(app, row)?;
        let alert = super::repeat::alert_of(&alerts, row).map(|a| a.severity.parse().unwrap_or(Severity::Warning));
        points.push(ChartPoint { at: row.measured_at, values: r.values, context: r.context, alert });
    }
    let spec = ChartSpec { kind, from, to, bands: bands(kind, &thresholds), lang };
    Ok((chart::render(&spec, &points), points.len()))
}

/// The chart of `kind` over the last `days` days for someone caring for the patient (audited).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn chart(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    kind: ReadingKind,
    days: i64,
    lang: chart::Lang,
) -> Result<String, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    app.audit_denied(who, ctx, "observation.chart", target, chart_inner(app, who, ctx, patient_id, kind, days, lang))
        .await
}

async fn chart_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    kind: ReadingKind,
    days: i64,
    lang: chart::Lang,
) -> Result<String, AppError> {
    require_care(app, who, patient_id).await?;
    let (svg, n) = render_unaudited(app, patient_id, kind, days, lang).await?;
    let txn = app.store.begin_write().await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "observation.chart",
        Subject { patient_id: Some(patient_id), resource: Some(kind.as_str()) },
        &n.to_string(),
    )
    .await?;
    txn.commit().await?;
    Ok(svg)
}

/// The patient's readings of the last `days` days, newest first (at most 50), each with the alert it
/// raised — what the patient's page lists, with the "call 120" advice on urgent ones (audited).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn recent(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    days: i64,
) -> Result<Vec<super::ObservationView>, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    app.audit_denied(who, ctx, "observation.view", target, recent_inner(app, who, ctx, patient_id, days)).await
}

async fn recent_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    days: i64,
) -> Result<Vec<super::ObservationView>, AppError> {
    require_care(app, who, patient_id).await?;
    let db = &app.store.db;
    let to = app.clock.now() + Duration::minutes(5);
    let from = to - Duration::days(days.clamp(1, MAX_DAYS));
    let mut rows = repo::monitoring::observations(db, patient_id, None, Some(from), Some(to), 5000).await?;
    rows.reverse();
    rows.truncate(50);
    super::viewed(app, who, ctx, patient_id, rows).await
}
