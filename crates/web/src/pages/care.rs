//! Chronic-care pages (D1–D5, E3): the patient's own page (what to measure now, entering a reading,
//! trends, the 120 advice on urgent values, devices), the doctor's follow-up list and a patient's
//! care panel (start or end a plan, alerts, tasks, trends, a due visit started in one click).

use app::{
    AppError, china_time,
    monitoring::{self, ObservationView, chart, plans, tasks, trend},
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect},
};
use chrono::Duration;
use domain::{
    Role,
    reading::{GlucoseContext, ReadingKind, Thresholds},
};

use super::{Chrome, FormData, PageError, PageResult, render};
use crate::{
    AppState,
    auth::{Auth, Authed, Caller},
    i18n::Lang,
};

/// A task as a row.
pub struct TaskRow {
    pub id: String,
    pub label: String,
    pub kind: String,
    /// The reading kind (empty for visits), and the glucose context if any: the page names them.
    pub measure: String,
    pub context: String,
    pub due: String,
    pub state: String,
    pub overdue: bool,
    pub consultation_id: Option<String>,
}

fn task_rows(items: Vec<tasks::TaskView>, now: chrono::DateTime<chrono::Utc>) -> Vec<TaskRow> {
    items
        .into_iter()
        .map(|t| TaskRow {
            overdue: t.state == "pending" && t.due_at < now,
            id: t.id,
            label: t.label,
            kind: t.kind,
            measure: t.measure,
            context: t.context.unwrap_or_default(),
            due: china_time(t.due_at),
            state: t.state,
            consultation_id: t.consultation_id,
        })
        .collect()
}

/// A reading as a row.
pub struct ReadingRow {
    pub summary: String,
    pub kind: String,
    pub when: String,
    pub source: String,
    pub severity: String,
}

fn reading_rows(items: &[ObservationView]) -> Vec<ReadingRow> {
    items
        .iter()
        .map(|o| ReadingRow {
            summary: o.summary.clone(),
            kind: o.kind.as_str().to_owned(),
            when: china_time(o.measured_at),
            source: o.source.clone(),
            severity: o.alert.as_ref().map(|a| a.severity.as_str().to_owned()).unwrap_or_default(),
        })
        .collect()
}

/// A chart with its heading.
pub struct ChartBox {
    pub kind: String,
    pub svg: String,
}

fn chart_lang(l: Lang) -> chart::Lang {
    match l {
        Lang::Zh => chart::Lang::Zh,
        Lang::En => chart::Lang::En,
    }
}

/// The kinds a patient's plans measure (blood pressure first), or blood pressure alone.
fn plan_kinds(plans: &[monitoring::PlanView]) -> Vec<ReadingKind> {
    let mut kinds: Vec<ReadingKind> = Vec::new();
    for k in plans.iter().flat_map(|p| p.measures.iter().filter_map(|m| m.kind)) {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    if kinds.is_empty() {
        kinds.push(ReadingKind::BloodPressure);
    }
    kinds
}

async fn charts(
    s: &AppState,
    a: &Authed,
    who: &app::Principal,
    patient_id: &str,
    kinds: &[ReadingKind],
) -> Result<Vec<ChartBox>, PageError> {
    let mut out = Vec::new();
    for &kind in kinds {
        let svg = trend::chart(&s.app, who, &a.ctx, patient_id, kind, 90, chart_lang(a.lang))
            .await
            .map_err(|e| PageError::new(e, a))?;
        out.push(ChartBox { kind: kind.as_str().to_owned(), svg });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "care.html")]
pub struct MyCarePage {
    pub c: Chrome,
    pub patient_id: String,
    pub plans: Vec<monitoring::PlanView>,
    pub due: Vec<TaskRow>,
    pub recent_tasks: Vec<TaskRow>,
    pub readings: Vec<ReadingRow>,
    /// The latest urgent reading of the last day: the page leads with the 120 advice.
    pub urgent: Option<String>,
    pub charts: Vec<ChartBox>,
    pub devices: Vec<monitoring::DeviceView>,
    pub kinds: Vec<&'static str>,
    pub f: FormData,
    /// A device just paired: its secret, shown once.
    pub paired: Option<monitoring::PairedDevice>,
}

async fn my_care(
    s: &AppState,
    a: &Authed,
    err: Option<&AppError>,
    f: FormData,
    paired: Option<monitoring::PairedDevice>,
) -> PageResult {
    let who = a.principal.as_ref().ok_or_else(|| PageError::new(AppError::Unauthenticated, a))?;
    let e = |e| PageError::new(e, a);
    let pid = who.user_id.clone();
    let now = s.app.clock.now();
    let plans = monitoring::plans(&s.app, who, &a.ctx, &pid).await.map_err(e)?;
    let all =
        tasks::tasks(&s.app, who, &a.ctx, &pid, now - Duration::days(3), now + Duration::days(2)).await.map_err(e)?;
    let (open, done): (Vec<_>, Vec<_>) = all.into_iter().partition(|t| t.state == "pending" && t.kind == "reading");
    // Due now: pending readings due by tomorrow morning, soonest first (overdue ones lead).
    let due = task_rows(open.into_iter().filter(|t| t.due_at <= now + Duration::hours(12)).collect(), now);
    let mut recent_tasks = task_rows(done.into_iter().filter(|t| t.due_at <= now).collect(), now);
    recent_tasks.reverse();
    recent_tasks.truncate(10);
    let recent = trend::recent(&s.app, who, &a.ctx, &pid, 30).await.map_err(e)?;
    let urgent = recent
        .iter()
        .find(|o| {
            o.measured_at > now - Duration::hours(24)
                && o.alert.as_ref().is_some_and(|al| al.severity.as_str() == "urgent")
        })
        .map(|o| o.summary.clone());
    let charts = charts(s, a, who, &pid, &plan_kinds(&plans)).await?;
    let devices = monitoring::devices(&s.app, who, &a.ctx, &pid).await.map_err(e)?;
    let mut c = Chrome::new(a, "/care");
    if let Some(err) = err {
        c = c.with_error(err);
    }
    let page = MyCarePage {
        c,
        patient_id: pid,
        plans,
        due,
        recent_tasks,
        readings: reading_rows(&recent[..recent.len().min(15)]),
        urgent,
        charts,
        devices,
        kinds: ReadingKind::ALL.iter().map(|k| k.as_str()).collect(),
        f,
        paired,
    };
    Ok(render(&page))
}

/// `GET /care`: the patient's own follow-up page.
pub async fn mine(State(s): State<AppState>, Caller(a): Caller) -> PageResult {
    my_care(&s, &a, None, FormData::default(), None).await
}

/// The reading a form describes (the fields of its kind).
fn manual_reading(f: &FormData) -> Result<monitoring::ManualReading, AppError> {
    let kind: ReadingKind =
        f.v("type").parse().map_err(|_| AppError::invalid("reading_type", "Choose what you measured."))?;
    let num = |name: &str| f.v(name).trim().replace('，', ".").parse::<f64>().ok();
    let names: &[&str] = match kind {
        ReadingKind::BloodPressure => &["systolic", "diastolic", "pulse"],
        ReadingKind::Glucose => &["glucose"],
        ReadingKind::Weight => &["weight"],
        ReadingKind::HeartRate => &["heart_rate"],
        ReadingKind::Spo2 => &["spo2"],
    };
    let values = names.iter().filter_map(|n| num(n).map(|v| ((*n).to_owned(), v))).collect();
    let unit = Some(f.v("unit").trim().to_owned()).filter(|u| !u.is_empty());
    let context = if kind == ReadingKind::Glucose { f.v("context").parse::<GlucoseContext>().ok() } else { None };
    Ok(monitoring::ManualReading { kind, values, unit, context, measured_at: None })
}

/// `POST /care/readings`: the patient records a reading by hand.
pub async fn record(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    let result = match manual_reading(&f) {
        Ok(input) => monitoring::record_reading(&s.app, &who, &a.ctx, &who.user_id.clone(), input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/care#readings").into_response()),
        Err(e) => my_care(&s, &a, Some(&e), f, None).await,
    }
}

/// `POST /care/devices`: the patient pairs a device; the page shows its secret once.
pub async fn pair(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    let kind =
        f.v("kind").parse::<ReadingKind>().map_err(|_| AppError::invalid("reading_type", "Choose the device type."));
    let result = match kind {
        Ok(kind) => {
            monitoring::pair_device(
                &s.app,
                &who,
                &a.ctx,
                &who.user_id.clone(),
                f.v("device_id"),
                kind,
                f.v("label"),
                None,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => my_care(&s, &a, None, FormData::default(), Some(p)).await,
        Err(e) => my_care(&s, &a, Some(&e), f, None).await,
    }
}

#[derive(Template)]
#[template(path = "care_patients.html")]
pub struct FollowListPage {
    pub c: Chrome,
    pub patients: Vec<monitoring::FollowedPatient>,
    pub visits: Vec<(tasks::DueVisit, String)>,
}

/// `GET /care/patients`: the doctor's follow-up patients (alarming first) and visits due today.
pub async fn followed(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth) -> PageResult {
    let e = |e| PageError::new(e, &a);
    let patients = monitoring::my_patients(&s.app, &who, &a.ctx).await.map_err(e)?;
    let visits = tasks::due_visits(&s.app, &who, &a.ctx).await.map_err(e)?;
    let visits = visits.into_iter().map(|v| {
        let due = china_time(v.task.due_at);
        (v, due)
    });
    Ok(render(&FollowListPage { c: Chrome::new(&a, "/care/patients"), patients, visits: visits.collect() }))
}

/// One editable line of a plan (form row).
pub struct MeasureRow {
    pub i: usize,
    pub what: String,
    pub context: String,
    pub visit: String,
    pub rrule: String,
}

/// The plan editor's rows: the measures, then two empty lines to add.
pub fn measure_rows(measures: &[monitoring::Measure]) -> Vec<MeasureRow> {
    let mut rows: Vec<MeasureRow> = measures
        .iter()
        .enumerate()
        .map(|(i, m)| MeasureRow {
            i,
            what: m.kind.map_or_else(|| "visit".to_owned(), |k| k.as_str().to_owned()),
            context: m.context.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            visit: m.visit.clone().unwrap_or_default(),
            rrule: m.rrule.clone(),
        })
        .collect();
    for i in rows.len()..rows.len() + 2 {
        rows.push(MeasureRow {
            i,
            what: String::new(),
            context: String::new(),
            visit: String::new(),
            rrule: String::new(),
        });
    }
    rows
}

/// The measures a plan form describes (blank lines skipped).
pub fn measures_from(f: &FormData) -> Result<Vec<monitoring::Measure>, AppError> {
    let mut out = Vec::new();
    for i in 0..14 {
        let what = f.v(&format!("m{i}_what")).trim().to_owned();
        let rrule = f.v(&format!("m{i}_rrule")).trim().to_owned();
        if what.is_empty() {
            continue;
        }
        let (kind, visit) = if what == "visit" {
            (None, Some(f.v(&format!("m{i}_visit")).trim().to_owned()))
        } else {
            (
                Some(
                    what.parse::<ReadingKind>()
                        .map_err(|_| AppError::invalid("plan_measures", "Unknown reading type."))?,
                ),
                None,
            )
        };
        let context =
            f.v(&format!("m{i}_context")).parse::<GlucoseContext>().ok().filter(|_| kind == Some(ReadingKind::Glucose));
        out.push(monitoring::Measure { kind, context, visit, rrule });
    }
    Ok(out)
}

/// Threshold fields, as `(name, value)` for the form.
pub fn threshold_fields(t: &Thresholds) -> Vec<(&'static str, String)> {
    vec![
        ("systolic_target", t.systolic_target.to_string()),
        ("diastolic_target", t.diastolic_target.to_string()),
        ("systolic_urgent", t.systolic_urgent.to_string()),
        ("diastolic_urgent", t.diastolic_urgent.to_string()),
        ("glucose_fasting_target", t.glucose_fasting_target.to_string()),
        ("glucose_post_meal_target", t.glucose_post_meal_target.to_string()),
        ("glucose_low_urgent", t.glucose_low_urgent.to_string()),
        ("glucose_high_urgent", t.glucose_high_urgent.to_string()),
        ("spo2_urgent", t.spo2_urgent.to_string()),
    ]
}

/// The thresholds a form describes (defaults for blank fields).
pub fn thresholds_from(f: &FormData) -> Result<Thresholds, AppError> {
    let d = Thresholds::default();
    let get = |name: &str, default: f64| -> Result<f64, AppError> {
        let raw = f.v(name).trim();
        if raw.is_empty() {
            return Ok(default);
        }
        raw.parse::<f64>().map_err(|_| AppError::invalid("plan_thresholds", "Thresholds are numbers."))
    };
    Ok(Thresholds {
        systolic_target: get("systolic_target", d.systolic_target)?,
        diastolic_target: get("diastolic_target", d.diastolic_target)?,
        systolic_urgent: get("systolic_urgent", d.systolic_urgent)?,
        diastolic_urgent: get("diastolic_urgent", d.diastolic_urgent)?,
        glucose_fasting_target: get("glucose_fasting_target", d.glucose_fasting_target)?,
        glucose_post_meal_target: get("glucose_post_meal_target", d.glucose_post_meal_target)?,
        glucose_low_urgent: get("glucose_low_urgent", d.glucose_low_urgent)?,
        glucose_high_urgent: get("glucose_high_urgent", d.glucose_high_urgent)?,
        spo2_urgent: get("spo2_urgent", d.spo2_urgent)?,
    })
}

#[derive(Template)]
#[template(path = "patient_care.html")]
pub struct PatientCarePage {
    pub c: Chrome,
    pub patient_id: String,
    pub patient_name: String,
    pub is_doctor: bool,
    pub plans: Vec<(monitoring::PlanView, tasks::Completion)>,
    pub alerts: Vec<monitoring::AlertView>,
    pub visits: Vec<TaskRow>,
    pub upcoming: Vec<TaskRow>,
    pub past: Vec<TaskRow>,
    pub readings: Vec<ReadingRow>,
    pub charts: Vec<ChartBox>,
    /// The plan form: chosen template, title, lines, thresholds.
    pub template: String,
    pub title: String,
    pub rows: Vec<MeasureRow>,
    pub thresholds: Vec<(&'static str, String)>,
    pub kinds: Vec<&'static str>,
}

#[derive(serde::Deserialize, Default)]
pub struct TemplateQuery {
    #[serde(default)]
    template: Option<String>,
}

async fn patient_care(
    s: &AppState,
    a: &Authed,
    pid: &str,
    template_key: &str,
    err: Option<&AppError>,
    f: Option<&FormData>,
) -> PageResult {
    let who = a.principal.as_ref().ok_or_else(|| PageError::new(AppError::Unauthenticated, a))?;
    let e = |e| PageError::new(e, a);
    let now = s.app.clock.now();
    let patient_name = monitoring::patient_name(&s.app, who, &a.ctx, pid).await.map_err(e)?;
    let mut plans = Vec::new();
    for p in monitoring::plans(&s.app, who, &a.ctx, pid).await.map_err(e)? {
        let done = tasks::plan_completion(&s.app, who, &a.ctx, &p.id).await.map_err(e)?;
        plans.push((p, done));
    }
    let alerts: Vec<_> = monitoring::open_alerts(&s.app, who, &a.ctx)
        .await
        .map_err(e)?
        .into_iter()
        .filter(|al| al.patient == pid)
        .collect();
    let all =
        tasks::tasks(&s.app, who, &a.ctx, pid, now - Duration::days(7), now + Duration::days(14)).await.map_err(e)?;
    let visits = task_rows(
        all.iter()
            .filter(|t| t.kind == "visit" && t.state == "pending" && t.due_at <= now + Duration::hours(12))
            .cloned()
            .collect(),
        now,
    );
    let upcoming =
        task_rows(all.iter().filter(|t| t.due_at > now && t.state == "pending").take(12).cloned().collect(), now);
    let mut past = task_rows(all.into_iter().filter(|t| t.due_at <= now && t.state != "cancelled").collect(), now);
    past.reverse();
    past.truncate(14);
    let recent = trend::recent(&s.app, who, &a.ctx, pid, 30).await.map_err(e)?;
    let plan_views: Vec<_> = plans.iter().map(|(p, _)| p.clone()).collect();
    let charts = charts(s, a, who, pid, &plan_kinds(&plan_views)).await?;
    let base =
        plans::template(&s.app.store.db, who.institution_of(domain::Role::Doctor), template_key).await.map_err(e)?;
    let (title, rows, thresholds) = match f {
        Some(f) => (
            f.v("title").to_owned(),
            measure_rows(&measures_from(f).unwrap_or_default()),
            threshold_fields(&thresholds_from(f).unwrap_or_default()),
        ),
        None => (base.title.clone(), measure_rows(&base.measures), threshold_fields(&base.thresholds)),
    };
    let mut c = Chrome::new(a, &format!("/patients/{pid}/care"));
    if let Some(err) = err {
        c = c.with_error(err);
    }
    let page = PatientCarePage {
        c,
        patient_id: pid.to_owned(),
        patient_name,
        is_doctor: who.has(Role::Doctor),
        plans,
        alerts,
        visits,
        upcoming,
        past,
        readings: reading_rows(&recent[..recent.len().min(20)]),
        charts,
        template: base.key,
        title,
        rows,
        thresholds,
        kinds: ReadingKind::ALL.iter().map(|k| k.as_str()).collect(),
    };
    Ok(render(&page))
}

/// `GET /patients/{id}/care?template=`: a patient's care panel for their doctor or nurse.
pub async fn panel(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(pid): Path<String>,
    Query(q): Query<TemplateQuery>,
) -> PageResult {
    let key = q.template.filter(|k| plans::builtin(k).is_some()).unwrap_or_else(|| "hypertension".into());
    patient_care(&s, &a, &pid, &key, None, None).await
}

/// `POST /patients/{id}/care/plans`: the doctor starts a plan from the form.
pub async fn create_plan(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(pid): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let input = measures_from(&f).and_then(|measures| {
        Ok(monitoring::PlanInput {
            template: f.v("template").to_owned(),
            title: Some(f.v("title").to_owned()),
            measures: Some(measures),
            thresholds: Some(thresholds_from(&f)?),
        })
    });
    match input {
        Ok(input) => match monitoring::create_plan(&s.app, &who, &a.ctx, &pid, input).await {
            Ok(_) => Ok(Redirect::to(&format!("/patients/{pid}/care")).into_response()),
            Err(e) => patient_care(&s, &a, &pid, f.v("template"), Some(&e), Some(&f)).await,
        },
        Err(e) => patient_care(&s, &a, &pid, f.v("template"), Some(&e), Some(&f)).await,
    }
}

/// `POST /plans/{id}/end`.
pub async fn end_plan(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> PageResult {
    let plan = monitoring::end_plan(&s.app, &who, &a.ctx, &id).await.map_err(|e| PageError::new(e, &a))?;
    Ok(Redirect::to(&format!("/patients/{}/care", plan.patient_id)).into_response())
}

/// `POST /tasks/{id}/start`: start a due follow-up visit; opens the consultation.
pub async fn start_visit(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> PageResult {
    let cid = tasks::start_visit(&s.app, &who, &a.ctx, &id).await.map_err(|e| PageError::new(e, &a))?;
    Ok(Redirect::to(&format!("/consultations/{cid}")).into_response())
}

/// The trend chart for a doctor's side panel: the first kind the patient's plan measures, when they
/// are on one.
pub async fn side_trend(
    s: &AppState,
    a: &Authed,
    who: &app::Principal,
    patient_id: &str,
) -> Result<Option<String>, PageError> {
    let plans = monitoring::plans(&s.app, who, &a.ctx, patient_id).await.map_err(|e| PageError::new(e, a))?;
    if plans.is_empty() {
        return Ok(None);
    }
    let kind = plan_kinds(&plans)[0];
    Ok(charts(s, a, who, patient_id, &[kind]).await?.pop().map(|c| c.svg))
}
