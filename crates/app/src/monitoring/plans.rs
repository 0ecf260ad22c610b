//! Follow-up plans (D1, D2, D4): what a patient measures and how often (RFC 5545 rules in the
//! patient's time zone), the follow-up visits, target ranges and alert thresholds, and the doctor
//! responsible. A plan starts from a template — hypertension or type 2 diabetes, as the
//! institution's admins have edited them, else the built-in ones — or from scratch; the doctor may
//! change any part. Starting a plan schedules its tasks (see [`super::tasks`]).

use chrono::{DateTime, Utc};
use domain::{
    Role,
    reading::{GlucoseContext, ReadingKind, Thresholds},
};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use store::{
    entity::{followup_plan as p, plan_template as pt},
    repo,
};

use super::{require_care, tasks};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject, consultation};

/// One line of a plan: a reading to take (`kind`, glucose `context`) or a follow-up `visit`, on an
/// RFC 5545 recurrence rule (`FREQ=DAILY;BYHOUR=7,19;BYMINUTE=0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ReadingKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<GlucoseContext>,
    /// The visit's name ("monthly BP review").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit: Option<String>,
    pub rrule: String,
}

impl Measure {
    fn reading(kind: ReadingKind, context: Option<GlucoseContext>, rrule: &str) -> Self {
        Self { kind: Some(kind), context, visit: None, rrule: rrule.into() }
    }

    fn visit(name: &str, rrule: &str) -> Self {
        Self { kind: None, context: None, visit: Some(name.into()), rrule: rrule.into() }
    }
}

/// Plans per patient and measures per plan are bounded; so are occurrences (at most 6 a day).
const MAX_MEASURES: usize = 12;
pub const MAX_PER_DAY: usize = 6;

/// Checks a plan's measures: each is a reading kind or a visit, with a rule that parses and fires
/// at most [`MAX_PER_DAY`] times a day.
pub fn validate_measures(measures: &[Measure]) -> Result<(), AppError> {
    if measures.len() > MAX_MEASURES {
        return Err(AppError::invalid("plan_measures", "A plan has at most 12 lines."));
    }
    for m in measures {
        let visit = m.visit.as_deref().map(str::trim).filter(|v| !v.is_empty());
        match (m.kind, visit) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => return Err(AppError::invalid("plan_measures", "Each line is either a reading or a visit.")),
        }
        if visit.is_some_and(|v| v.chars().count() > 60) {
            return Err(AppError::invalid("plan_measures", "A visit's name has at most 60 characters."));
        }
        if m.context.is_some() && m.kind != Some(ReadingKind::Glucose) {
            return Err(AppError::invalid("plan_measures", "Only glucose readings have a meal context."));
        }
        tasks::check_rule(&m.rrule)?;
    }
    Ok(())
}

/// A template's content.
#[derive(Debug, Clone, Serialize)]
pub struct Template {
    pub key: String,
    pub title: String,
    pub measures: Vec<Measure>,
    pub thresholds: Thresholds,
    /// Edited by the institution (else built in).
    pub customised: bool,
}

/// Built-in templates: blood pressure twice a day and weight weekly with a monthly review
/// (hypertension); fasting and post-meal glucose daily, weight weekly, a quarterly review (diabetes).
pub fn builtin(key: &str) -> Option<Template> {
    let (title, measures) = match key {
        "hypertension" => (
            "高血压随访 Hypertension follow-up",
            vec![
                Measure::reading(ReadingKind::BloodPressure, None, "FREQ=DAILY;BYHOUR=7,19;BYMINUTE=0"),
                Measure::reading(ReadingKind::Weight, None, "FREQ=WEEKLY;BYDAY=MO;BYHOUR=7;BYMINUTE=30"),
                Measure::visit("每月血压复查 Monthly BP review", "FREQ=MONTHLY"),
            ],
        ),
        "diabetes" => (
            "2型糖尿病随访 Type 2 diabetes follow-up",
            vec![
                Measure::reading(ReadingKind::Glucose, Some(GlucoseContext::Fasting), "FREQ=DAILY;BYHOUR=7;BYMINUTE=0"),
                Measure::reading(
                    ReadingKind::Glucose,
                    Some(GlucoseContext::PostMeal),
                    "FREQ=DAILY;BYHOUR=9;BYMINUTE=30",
                ),
                Measure::reading(ReadingKind::Weight, None, "FREQ=WEEKLY;BYDAY=MO;BYHOUR=7;BYMINUTE=30"),
                Measure::visit("季度糖化血红蛋白复查 Quarterly HbA1c review", "FREQ=MONTHLY;INTERVAL=3"),
            ],
        ),
        "custom" => ("随访计划 Follow-up plan", Vec::new()),
        _ => return None,
    };
    Some(Template {
        key: key.into(),
        title: title.into(),
        measures,
        thresholds: Thresholds::default(),
        customised: false,
    })
}

/// The keys institutions may edit.
pub const EDITABLE: [&str; 2] = ["hypertension", "diabetes"];

/// The template as the institution has it (its edited version, else the built-in one).
pub async fn template(
    db: &impl ConnectionTrait,
    institution_id: Option<&str>,
    key: &str,
) -> Result<Template, AppError> {
    let base = builtin(key)
        .ok_or_else(|| AppError::invalid("plan_template", "A plan starts from hypertension, diabetes or custom."))?;
    let Some(inst) = institution_id else { return Ok(base) };
    Ok(match repo::care::template(db, inst, key).await? {
        Some(row) => Template {
            key: row.key,
            title: row.title,
            measures: serde_json::from_str(&row.measures).unwrap_or(base.measures),
            thresholds: serde_json::from_str(&row.thresholds).unwrap_or(base.thresholds),
            customised: true,
        },
        None => base,
    })
}

/// The editable templates of the caller's institution (admins edit; its doctors read).
pub async fn templates(app: &App, who: &Principal) -> Result<Vec<Template>, AppError> {
    if !who.has_any(&[Role::InstitutionAdmin, Role::Doctor, Role::Nurse]) {
        return Err(AppError::Forbidden);
    }
    // The institution whose templates apply: where the caller administers, else where they treat.
    let inst = [Role::InstitutionAdmin, Role::Doctor, Role::Nurse].into_iter().find_map(|r| who.institution_of(r));
    let mut out = Vec::new();
    for key in EDITABLE {
        out.push(template(&app.store.db, inst, key).await?);
    }
    Ok(out)
}

/// What an institution admin saves as the institution's version of a template.
#[derive(Debug, Clone, Deserialize)]
pub struct TemplateInput {
    pub title: String,
    pub measures: Vec<Measure>,
    pub thresholds: Thresholds,
}

fn check_title(title: &str) -> Result<String, AppError> {
    let t = title.trim();
    if t.is_empty() || t.chars().count() > 80 {
        return Err(AppError::invalid("plan_title", "A plan's title has 1 to 80 characters."));
    }
    Ok(t.to_owned())
}

fn check_thresholds(t: &Thresholds) -> Result<(), AppError> {
    let ok = t.systolic_target < t.systolic_urgent
        && t.diastolic_target < t.diastolic_urgent
        && t.glucose_low_urgent < t.glucose_fasting_target
        && t.glucose_fasting_target <= t.glucose_post_meal_target
        && t.glucose_post_meal_target < t.glucose_high_urgent
        && (80.0..=250.0).contains(&t.systolic_urgent)
        && (50.0..=150.0).contains(&t.diastolic_urgent)
        && (2.0..=6.0).contains(&t.glucose_low_urgent)
        && (10.0..=35.0).contains(&t.glucose_high_urgent)
        && (70.0..=97.0).contains(&t.spo2_urgent);
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid(
            "plan_thresholds",
            "Targets must lie below the urgent thresholds, within clinical ranges.",
        ))
    }
}

/// An institution admin saves the institution's version of a template (audited). New plans use it;
/// running plans keep what they started with.
pub async fn save_template(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    key: &str,
    input: TemplateInput,
) -> Result<Template, AppError> {
    who.require(&[Role::InstitutionAdmin])?;
    let inst = who.institution_of(Role::InstitutionAdmin).map(str::to_owned).ok_or(AppError::Forbidden)?;
    if !EDITABLE.contains(&key) {
        return Err(AppError::invalid("plan_template", "Only the hypertension and diabetes templates are edited."));
    }
    let title = check_title(&input.title)?;
    validate_measures(&input.measures)?;
    check_thresholds(&input.thresholds)?;
    let txn = app.store.begin_write().await?;
    let row = pt::Model {
        id: uuid::Uuid::now_v7().to_string(),
        institution_id: inst.clone(),
        key: key.into(),
        title: title.clone(),
        measures: serde_json::to_string(&input.measures).map_err(|_| AppError::Internal("json"))?,
        thresholds: serde_json::to_string(&input.thresholds).map_err(|_| AppError::Internal("json"))?,
        updated_by: who.user_id.clone(),
        updated_at: app.clock.now(),
    };
    repo::care::save_template(&txn, row).await?;
    app.record(&txn, ctx, Some(who), "plan_template.save", Subject { patient_id: None, resource: Some(key) }, &inst)
        .await?;
    txn.commit().await?;
    Ok(Template { key: key.into(), title, measures: input.measures, thresholds: input.thresholds, customised: true })
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub id: String,
    pub patient_id: String,
    pub doctor_id: String,
    pub doctor_name: String,
    pub template: String,
    pub title: String,
    pub measures: Vec<Measure>,
    pub thresholds: Thresholds,
    pub state: String,
    pub created_at: DateTime<Utc>,
}

/// A plan's template key, opened (sealed with its title and lines: the key names the condition;
/// issue 11 item 10).
pub(crate) fn plan_template(app: &App, row: &p::Model) -> Result<String, AppError> {
    app.open_opt("followup_plans", "template_enc", &row.id, row.template_enc.as_deref())
}

/// A plan's lines, opened.
pub(crate) fn plan_measures(app: &App, row: &p::Model) -> Result<Vec<Measure>, AppError> {
    let json = app.open_opt("followup_plans", "measures_enc", &row.id, row.measures_enc.as_deref())?;
    Ok(serde_json::from_str(&json).unwrap_or_default())
}

pub(super) async fn plan_view(app: &App, row: p::Model) -> Result<PlanView, AppError> {
    Ok(PlanView {
        doctor_name: consultation::display_name(app, &app.store.db, &row.doctor_id).await?,
        measures: plan_measures(app, &row)?,
        thresholds: serde_json::from_str(&row.thresholds).unwrap_or_default(),
        template: plan_template(app, &row)?,
        title: app.open_opt("followup_plans", "title_enc", &row.id, row.title_enc.as_deref())?,
        id: row.id,
        patient_id: row.patient_id,
        doctor_id: row.doctor_id,
        state: row.state,
        created_at: row.created_at,
    })
}

/// What the doctor starts a plan with: a template key, and any part changed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PlanInput {
    /// `hypertension`, `diabetes` or `custom`.
    pub template: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub measures: Option<Vec<Measure>>,
    #[serde(default)]
    pub thresholds: Option<Thresholds>,
}

/// A doctor who cares for the patient starts a plan (audited); its first two weeks of tasks are
/// scheduled in the same transaction.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn create_plan(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    input: PlanInput,
) -> Result<PlanView, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    app.audit_denied(who, ctx, "plan.create", target, create_plan_inner(app, who, ctx, patient_id, input)).await
}

async fn create_plan_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    input: PlanInput,
) -> Result<PlanView, AppError> {
    if !who.has(Role::Doctor) {
        return Err(AppError::Forbidden);
    }
    require_care(app, who, patient_id).await?;
    let base = template(&app.store.db, who.institution_of(Role::Doctor), input.template.trim()).await?;
    let title = match input.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => check_title(t)?,
        None => base.title.clone(),
    };
    let measures = input.measures.unwrap_or(base.measures);
    validate_measures(&measures)?;
    if measures.is_empty() {
        return Err(AppError::invalid("plan_measures", "Add at least one reading or visit to the plan."));
    }
    let thresholds = input.thresholds.unwrap_or(base.thresholds);
    check_thresholds(&thresholds)?;
    let row = plan_row(app, patient_id, &who.user_id, &base.key, &title, &measures, &thresholds)?;
    let txn = app.store.begin_write().await?;
    // One active plan per template: a new one replaces the doctor's own; another doctor's stays.
    for old in repo::monitoring::active_plans(&txn, patient_id).await? {
        if plan_template(app, &old)? != base.key || base.key == "custom" {
            continue;
        }
        if old.doctor_id != who.user_id {
            return Err(AppError::invalid(
                "plan_exists",
                "The patient already follows this kind of plan with another doctor.",
            ));
        }
        end_in(app, &txn, who, ctx, old).await?;
    }
    repo::monitoring::insert_plan(&txn, row.clone()).await?;
    tasks::extend(app, &txn, &row).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "plan.create",
        Subject { patient_id: Some(patient_id), resource: Some(&row.id) },
        // Not the template key: it names the condition, and audit events are stored in clear.
        "ok",
    )
    .await?;
    txn.commit().await?;
    plan_view(app, row).await
}

/// A new active plan row.
pub(super) fn plan_row(
    app: &App,
    patient_id: &str,
    doctor_id: &str,
    template: &str,
    title: &str,
    measures: &[Measure],
    thresholds: &Thresholds,
) -> Result<p::Model, AppError> {
    let id = domain::FileId::new().to_string();
    let measures = serde_json::to_string(measures).map_err(|_| AppError::Internal("json"))?;
    Ok(p::Model {
        template_enc: Some(app.seal_str("followup_plans", "template_enc", &id, template)?),
        title_enc: Some(app.seal_str("followup_plans", "title_enc", &id, title)?),
        measures_enc: Some(app.seal_str("followup_plans", "measures_enc", &id, &measures)?),
        id,
        patient_id: patient_id.to_owned(),
        doctor_id: doctor_id.to_owned(),
        thresholds: serde_json::to_string(thresholds).map_err(|_| AppError::Internal("json"))?,
        state: "active".into(),
        created_at: app.clock.now(),
        ended_at: None,
    })
}

/// The patient's active plans. The view is audited, and so is a refusal (issue 11 item 11).
pub async fn plans(app: &App, who: &Principal, ctx: &RequestCtx, patient_id: &str) -> Result<Vec<PlanView>, AppError> {
    let subject = Subject { patient_id: Some(patient_id), resource: None };
    let list = async {
        require_care(app, who, patient_id).await?;
        let mut out = Vec::new();
        for row in repo::monitoring::active_plans(&app.store.db, patient_id).await? {
            out.push(plan_view(app, row).await?);
        }
        Ok(out)
    };
    let out = app.audit_denied(who, ctx, "plan.list", subject, list).await?;
    app.record_view(who, ctx, "plan.list", subject, out.len()).await?;
    Ok(out)
}

/// The plan's doctor ends it: its pending tasks are cancelled (audited).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn end_plan(app: &App, who: &Principal, ctx: &RequestCtx, plan_id: &str) -> Result<PlanView, AppError> {
    let target = Subject { patient_id: None, resource: Some(plan_id) };
    app.audit_denied(who, ctx, "plan.end", target, end_plan_inner(app, who, ctx, plan_id)).await
}

async fn end_plan_inner(app: &App, who: &Principal, ctx: &RequestCtx, plan_id: &str) -> Result<PlanView, AppError> {
    let txn = app.store.begin_write().await?;
    let row = repo::monitoring::plan(&txn, plan_id).await?.filter(|p| p.doctor_id == who.user_id);
    let row = row.ok_or(AppError::NotFound)?;
    let row = end_in(app, &txn, who, ctx, row).await?;
    txn.commit().await?;
    plan_view(app, row).await
}

/// Ends an active plan in the caller's transaction: its pending tasks are cancelled (audited).
async fn end_in(
    app: &App,
    txn: &sea_orm::DatabaseTransaction,
    who: &Principal,
    ctx: &RequestCtx,
    mut row: p::Model,
) -> Result<p::Model, AppError> {
    if row.state != "active" {
        return Ok(row);
    }
    row.state = "ended".into();
    row.ended_at = Some(app.clock.now());
    repo::monitoring::update_plan(txn, row.clone()).await?;
    for mut task in repo::care::pending_tasks_of_plan(txn, &row.id).await? {
        task.state = "cancelled".into();
        repo::care::update_task(txn, task).await?;
    }
    app.record(
        txn,
        ctx,
        Some(who),
        "plan.end",
        Subject { patient_id: Some(&row.patient_id), resource: Some(&row.id) },
        "ok",
    )
    .await?;
    Ok(row)
}

/// One of a doctor's follow-up patients, for their list.
#[derive(Debug, Clone, Serialize)]
pub struct FollowedPatient {
    pub plan: PlanView,
    pub patient_name: String,
    pub open_alerts: usize,
    pub urgent_alerts: usize,
}

/// The caller's (a doctor's) active plans with their patients and open alerts, most alarming first.
/// The list names patients, so showing it is audited (issue 11 item 11).
pub async fn my_patients(app: &App, who: &Principal, ctx: &RequestCtx) -> Result<Vec<FollowedPatient>, AppError> {
    let out = followed_patients(app, who).await?;
    app.record_view(who, ctx, "care.patients", Subject { patient_id: None, resource: None }, out.len()).await?;
    Ok(out)
}

async fn followed_patients(app: &App, who: &Principal) -> Result<Vec<FollowedPatient>, AppError> {
    if !who.has(Role::Doctor) {
        return Ok(Vec::new());
    }
    let db = &app.store.db;
    let alerts = repo::monitoring::open_alerts_for(db, &who.user_id).await?;
    let mut out = Vec::new();
    for row in repo::monitoring::active_plans_of_doctor(db, &who.user_id).await? {
        let mine = alerts.iter().filter(|a| a.patient_id == row.patient_id);
        let urgent_alerts = mine.clone().filter(|a| a.severity == "urgent").count();
        let open_alerts = mine.count();
        let patient_name = consultation::display_name(app, db, &row.patient_id).await?;
        out.push(FollowedPatient { plan: plan_view(app, row).await?, patient_name, open_alerts, urgent_alerts });
    }
    out.sort_by_key(|p| (std::cmp::Reverse(p.urgent_alerts), std::cmp::Reverse(p.open_alerts), p.patient_name.clone()));
    Ok(out)
}

/// The patient's display name, for someone caring for them; a refusal is audited (issue 11 item 11).
pub async fn patient_name(app: &App, who: &Principal, ctx: &RequestCtx, patient_id: &str) -> Result<String, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    let name = async {
        require_care(app, who, patient_id).await?;
        consultation::display_name(app, &app.store.db, patient_id).await
    };
    app.audit_denied(who, ctx, "care.patient_view", target, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_are_valid_and_custom_starts_empty() {
        for key in ["hypertension", "diabetes"] {
            let t = builtin(key).unwrap();
            validate_measures(&t.measures).unwrap();
            check_thresholds(&t.thresholds).unwrap();
            assert!(t.measures.iter().any(|m| m.visit.is_some()), "{key} has a follow-up visit");
        }
        assert!(builtin("custom").unwrap().measures.is_empty());
        assert!(builtin("asthma").is_none());
    }

    #[test]
    fn bad_lines_are_refused_with_their_code() {
        let both = Measure { visit: Some("x".into()), ..Measure::reading(ReadingKind::Weight, None, "FREQ=DAILY") };
        assert_eq!(validate_measures(&[both]).unwrap_err().code(), "plan_measures");
        let ctx = Measure::reading(ReadingKind::Weight, Some(GlucoseContext::Fasting), "FREQ=DAILY");
        assert_eq!(validate_measures(&[ctx]).unwrap_err().code(), "plan_measures");
        let hourly = Measure::reading(ReadingKind::Weight, None, "FREQ=HOURLY");
        assert_eq!(validate_measures(&[hourly]).unwrap_err().code(), "plan_rrule");
        let junk = Measure::reading(ReadingKind::Weight, None, "FREQ=SOMETIMES");
        assert_eq!(validate_measures(&[junk]).unwrap_err().code(), "plan_rrule");
        let t = Thresholds { systolic_target: 190.0, ..Thresholds::default() };
        assert_eq!(check_thresholds(&t).unwrap_err().code(), "plan_thresholds");
    }
}
