//! Care tasks (D1, D2, E3): a plan's recurrence rules (RFC 5545, in the patient's time zone,
//! default Asia/Shanghai) become tasks — readings for the patient, follow-up visits for the
//! doctor — two weeks ahead, topped up weekly by a durable `plan.extend` job. Each task has a
//! durable reminder job at its due time and a closing job at the end of its window, so a restart or
//! downtime neither loses a reminder nor sends one twice (the jobs' idempotency keys and the
//! occurrence's unique key); a reminder whose window closed during downtime is not sent (the task is
//! missed), and a close waits while another worker still holds the task's reminder. A reading within two hours of the due time completes its task on time;
//! a later one, before the window closes, late; none: missed. The doctor starts a due visit as a
//! consultation in one click.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use domain::{
    Role,
    reading::{GlucoseContext, Reading, ReadingKind},
};
use rrule::RRuleSet;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use serde::Serialize;
use serde_json::json;
use store::{
    entity::{care_task as t, followup_plan as p},
    repo,
};

use super::{Measure, require_care};
use crate::{
    App, AppError, Principal, RequestCtx,
    audit::Subject,
    bus::Event,
    consultation,
    jobs::{self, kind},
    notify::{self, Bilingual, NewNotification},
};

/// Tasks exist this far ahead; the `plan.extend` job runs every [`EXTEND_EVERY`] days.
const HORIZON_DAYS: i64 = 14;
const EXTEND_EVERY_DAYS: i64 = 7;
/// A reading this close to the due time (before or after) completes the task on time.
const ON_TIME_HOURS: i64 = 2;
/// A reading task is missed one day after its due time at the latest (earlier: at the next one).
const READING_WINDOW_HOURS: i64 = 24;
/// A visit may start up to 3 days after its due time on time; after 14 days it is missed.
const VISIT_ON_TIME_DAYS: i64 = 3;
const VISIT_WINDOW_DAYS: i64 = 14;

fn rule_set(rrule: &str, tz: Tz, anchor: DateTime<Utc>) -> Result<RRuleSet, AppError> {
    let bad = || AppError::invalid("plan_rrule", "The repeat rule is not a valid RFC 5545 rule (FREQ=DAILY;BYHOUR=7).");
    let body = rrule.trim().trim_start_matches("RRULE:");
    if body.is_empty() || body.contains(['\n', '\r']) || body.to_ascii_uppercase().contains("DTSTART") {
        return Err(bad());
    }
    // The rule starts at local midnight of the plan's first day, so a plan started before dawn keeps
    // that morning's reading; rules without a time of day (monthly visits) happen at 09:00. A plan
    // started on the 29th–31st counts from the 28th, so monthly rules do not skip short months.
    let mut local = anchor.with_timezone(&tz).date_naive();
    if local.day() > 28 {
        local = local.with_day(28).unwrap_or(local);
    }
    let time = if body.to_ascii_uppercase().contains("BYHOUR") { "000000" } else { "090000" };
    let start = format!("DTSTART;TZID={}:{}T{time}\nRRULE:{body}", tz.name(), local.format("%Y%m%d"));
    start.parse::<RRuleSet>().map_err(|_| bad())
}

/// Occurrences of `rrule` (anchored at `anchor`'s local day, 09:00) in `(from, to]`, in UTC.
pub fn occurrences(
    rrule: &str,
    tz: Tz,
    anchor: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, AppError> {
    let rtz = rrule::Tz::Tz(tz);
    let set = rule_set(rrule, tz, anchor)?.after(from.with_timezone(&rtz)).before(to.with_timezone(&rtz));
    Ok(set.all(2000).dates.into_iter().map(|d| d.with_timezone(&Utc)).filter(|d| *d > from && *d <= to).collect())
}

/// Checks a plan line's rule: it parses, fires at most [`super::plans::MAX_PER_DAY`] times a day,
/// and at least once in the coming 400 days.
pub fn check_rule(rrule: &str) -> Result<(), AppError> {
    let tz = chrono_tz::Asia::Shanghai;
    let anchor = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().ok_or(AppError::Internal("date"))?;
    let week = occurrences(rrule, tz, anchor, anchor - Duration::days(1), anchor + Duration::days(8))?;
    let busiest = week.windows(super::plans::MAX_PER_DAY + 1).any(|w| w[w.len() - 1] - w[0] < Duration::days(1));
    if busiest {
        return Err(AppError::invalid("plan_rrule", "A plan line repeats at most 6 times a day."));
    }
    if occurrences(rrule, tz, anchor, anchor - Duration::days(1), anchor + Duration::days(400))?.is_empty() {
        return Err(AppError::invalid("plan_rrule", "This repeat rule never happens."));
    }
    Ok(())
}

/// How a reading kind is named in reminders.
fn kind_name(kind: ReadingKind, context: Option<GlucoseContext>) -> Bilingual {
    match (kind, context) {
        (ReadingKind::BloodPressure, _) => Bilingual::new("血压", "blood pressure"),
        (ReadingKind::Glucose, Some(GlucoseContext::Fasting)) => Bilingual::new("空腹血糖", "fasting glucose"),
        (ReadingKind::Glucose, Some(GlucoseContext::PostMeal)) => Bilingual::new("餐后血糖", "post-meal glucose"),
        (ReadingKind::Glucose, _) => Bilingual::new("血糖", "blood glucose"),
        (ReadingKind::Weight, _) => Bilingual::new("体重", "weight"),
        (ReadingKind::HeartRate, _) => Bilingual::new("心率", "heart rate"),
        (ReadingKind::Spo2, _) => Bilingual::new("血氧", "oxygen saturation"),
    }
}

fn label_of(m: &Measure) -> String {
    match (&m.visit, m.kind) {
        (Some(v), _) => v.trim().to_owned(),
        (None, Some(k)) => {
            let n = kind_name(k, m.context);
            format!("{} {}", n.zh, n.en)
        }
        (None, None) => String::new(),
    }
}

/// Idempotency key of a task's reminder job (one per task).
pub fn remind_key(task_id: &str) -> String {
    format!("task_remind:{task_id}")
}

/// Idempotency key of a task's closing job.
pub fn close_key(task_id: &str) -> String {
    format!("task_close:{task_id}")
}

/// The patient's time zone (their notification preferences; default Asia/Shanghai).
async fn zone_of(app: &App, db: &impl ConnectionTrait, user_id: &str) -> Result<Tz, AppError> {
    Ok(notify::prefs::load(app, db, user_id).await?.time_zone)
}

/// Creates the plan's tasks due up to two weeks ahead (those that exist are left alone) with their
/// reminder and closing jobs, and schedules the next extension. Runs in the caller's transaction.
pub(crate) async fn extend(app: &App, txn: &DatabaseTransaction, plan: &p::Model) -> Result<usize, AppError> {
    if plan.state != "active" {
        return Ok(0);
    }
    let now = app.clock.now();
    let tz = zone_of(app, txn, &plan.patient_id).await?;
    let measures: Vec<Measure> = super::plans::plan_measures(app, plan)?;
    // A task due in the last day may still be open (downtime, a plan started late in the day).
    let from = plan.created_at.max(now - Duration::days(1));
    let until = now + Duration::days(HORIZON_DAYS);
    let mut added = 0;
    for (slot, m) in measures.iter().enumerate() {
        let mut occ = occurrences(&m.rrule, tz, plan.created_at, from, until + Duration::days(100))?;
        if m.visit.is_some() {
            // The first review comes one period after the start, not on the day the plan starts.
            occ.retain(|d| *d > plan.created_at + Duration::days(1));
        }
        for (i, &due) in occ.iter().enumerate().take_while(|(_, d)| **d <= until) {
            let close = if m.visit.is_some() {
                due + Duration::days(VISIT_WINDOW_DAYS)
            } else {
                let cap = due + Duration::hours(READING_WINDOW_HOURS);
                occ.get(i + 1).map_or(cap, |next| (*next).min(cap))
            };
            if close <= now {
                continue;
            }
            let id = uuid::Uuid::now_v7().to_string();
            let task = t::Model {
                label_enc: Some(app.seal_str("care_tasks", "label_enc", &id, &label_of(m))?),
                id,
                plan_id: plan.id.clone(),
                patient_id: plan.patient_id.clone(),
                doctor_id: plan.doctor_id.clone(),
                slot: i32::try_from(slot).unwrap_or(i32::MAX),
                kind: if m.visit.is_some() { "visit" } else { "reading" }.into(),
                measure: m.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
                context: m.context.map(|c| c.as_str().to_owned()),
                due_at: due,
                close_at: close,
                state: "pending".into(),
                completed_at: None,
                observation_id: None,
                consultation_id: None,
                created_at: now,
            };
            if !repo::care::insert_task(txn, task.clone()).await? {
                continue;
            }
            let args = json!({"task": task.id});
            jobs::schedule(txn, kind::TASK_REMIND, &remind_key(&task.id), &args, due, now).await?;
            jobs::schedule(txn, kind::TASK_CLOSE, &close_key(&task.id), &args, close, now).await?;
            added += 1;
        }
    }
    let next = now + Duration::days(EXTEND_EVERY_DAYS);
    let key = format!("plan_extend:{}:{}", plan.id, next.format("%Y-%m-%d"));
    jobs::schedule(txn, kind::PLAN_EXTEND, &key, &json!({"plan": plan.id}), next, now).await?;
    Ok(added)
}

/// The `plan.extend` job.
pub(crate) async fn extend_job(app: &App, txn: &DatabaseTransaction, plan_id: &str) -> Result<Vec<Event>, AppError> {
    if let Some(plan) = repo::monitoring::plan(txn, plan_id).await? {
        extend(app, txn, &plan).await?;
    }
    Ok(Vec::new())
}

/// The `task.remind` job: a pending reading task reminds the patient; a pending visit tells the
/// doctor it is due (with a link to start it). A reminder whose window has closed (downtime) would
/// only confuse: the task is missed, nothing is sent.
pub(crate) async fn remind(app: &App, txn: &DatabaseTransaction, task_id: &str) -> Result<Vec<Event>, AppError> {
    remind_many(app, txn, &[task_id.to_owned()]).await
}

/// The reminders of many tasks at once (the job worker hands it a batch of `task.remind` jobs).
pub(crate) async fn remind_many(
    app: &App,
    txn: &DatabaseTransaction,
    task_ids: &[String],
) -> Result<Vec<Event>, AppError> {
    let now = app.clock.now();
    let mut news = Vec::new();
    for task in repo::care::tasks_by_ids(txn, task_ids).await? {
        if task.state == "pending" && now < task.close_at {
            news.push(reminder_for(app, txn, &task).await?);
        }
    }
    notify::notify_many(app, txn, news).await
}

/// What a due task tells whom.
async fn reminder_for(app: &App, txn: &DatabaseTransaction, task: &t::Model) -> Result<NewNotification, AppError> {
    Ok(if task.kind == "visit" {
        let patient = consultation::display_name(app, txn, &task.patient_id).await?;
        let label = task_label(app, task)?;
        NewNotification {
            user_id: task.doctor_id.clone(),
            kind: "visit.due",
            title: Bilingual::new(format!("随访到期：{patient}"), format!("Follow-up due: {patient}")),
            body: Bilingual::new(
                format!("{label} — 可一键发起随访问诊。"),
                format!("{label} — start it as a consultation in one click."),
            ),
            link: Some(format!("/patients/{}/care", task.patient_id)),
            urgent: false,
            subject_id: Some(task.id.clone()),
        }
    } else {
        let kind: ReadingKind = task.measure.parse().map_err(|_| AppError::Internal("task measure"))?;
        let name = kind_name(kind, task.context.as_deref().and_then(|c| c.parse().ok()));
        NewNotification {
            user_id: task.patient_id.clone(),
            kind: "task.reminder",
            title: Bilingual::new(format!("该测量{}了", name.zh), format!("Time to measure your {}", name.en)),
            body: Bilingual::new(
                format!("请测量{}并记录（设备会自动上传）。", name.zh),
                format!("Please measure your {} and record it (paired devices upload by themselves).", name.en),
            ),
            link: Some("/care".into()),
            urgent: false,
            subject_id: Some(task.id.clone()),
        }
    })
}

/// The `task.close` job: a task still pending at the end of its window is missed. While the task's
/// reminder has not run (another worker holds it), closing waits a few seconds, so the reminder
/// decides on the task as it was.
pub(crate) async fn close(app: &App, txn: &DatabaseTransaction, task_id: &str) -> Result<Vec<Event>, AppError> {
    let Some(mut task) = repo::care::lock_task(txn, task_id).await?.filter(|t| t.state == "pending") else {
        return Ok(Vec::new());
    };
    let now = app.clock.now();
    let remind = repo::job::find_by_key(txn, &remind_key(task_id)).await?;
    if remind.is_some_and(|j| j.done_at.is_none()) {
        let key = format!("{}:{}", close_key(task_id), now.timestamp_millis());
        let args = json!({"task": task_id});
        jobs::schedule(txn, kind::TASK_CLOSE, &key, &args, now + Duration::seconds(5), now).await?;
        return Ok(Vec::new());
    }
    task.state = "missed".into();
    repo::care::update_task(txn, task.clone()).await?;
    Ok(vec![Event {
        recipients: vec![task.patient_id.clone()],
        payload: json!({"type": "task", "task": view(app, task)?}),
    }])
}

/// A reading completes the patient's pending task for it whose window holds its time (the one due
/// nearest to it): on time within two hours of the due time, else late.
pub(crate) async fn complete_for_reading(
    app: &App,
    txn: &DatabaseTransaction,
    patient_id: &str,
    reading: &Reading,
    observation_id: &str,
    measured_at: DateTime<Utc>,
) -> Result<Option<Event>, AppError> {
    let early = Duration::hours(ON_TIME_HOURS);
    let candidates = repo::care::open_reading_tasks(txn, patient_id, reading.kind.as_str(), measured_at, early).await?;
    let fits = |t: &t::Model| match (t.context.as_deref(), reading.context) {
        (Some(want), Some(got)) => want == got.as_str(),
        _ => true,
    };
    let Some(task) = candidates.into_iter().filter(fits).min_by_key(|t| (t.due_at - measured_at).num_seconds().abs())
    else {
        return Ok(None);
    };
    let Some(mut task) = repo::care::lock_task(txn, &task.id).await?.filter(|t| t.state == "pending") else {
        return Ok(None);
    };
    task.state = if measured_at <= task.due_at + early { "done" } else { "late" }.into();
    task.completed_at = Some(measured_at);
    task.observation_id = Some(observation_id.to_owned());
    repo::care::update_task(txn, task.clone()).await?;
    Ok(Some(Event {
        recipients: vec![patient_id.to_owned()],
        payload: json!({"type": "task", "task": view(app, task)?}),
    }))
}

/// One task as pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    pub id: String,
    pub plan_id: String,
    pub patient_id: String,
    /// `reading` or `visit`.
    pub kind: String,
    pub measure: String,
    pub context: Option<String>,
    pub label: String,
    pub due_at: DateTime<Utc>,
    pub close_at: DateTime<Utc>,
    /// `pending`, `done`, `late`, `missed`, `cancelled`.
    pub state: String,
    pub completed_at: Option<DateTime<Utc>>,
    pub consultation_id: Option<String>,
}

/// A task's label, opened (sealed: a visit's name is free text; issue 11 item 10).
fn task_label(app: &App, t: &t::Model) -> Result<String, AppError> {
    app.open_opt("care_tasks", "label_enc", &t.id, t.label_enc.as_deref())
}

pub(crate) fn view(app: &App, t: t::Model) -> Result<TaskView, AppError> {
    Ok(TaskView {
        label: task_label(app, &t)?,
        id: t.id,
        plan_id: t.plan_id,
        patient_id: t.patient_id,
        kind: t.kind,
        measure: t.measure,
        context: t.context,
        due_at: t.due_at,
        close_at: t.close_at,
        state: t.state,
        completed_at: t.completed_at,
        consultation_id: t.consultation_id,
    })
}

/// A patient's tasks due in `[from, to)` (the patient and their care team). The view is audited,
/// and so is a refusal (issue 11 item 11).
pub async fn tasks(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<TaskView>, AppError> {
    let subject = Subject { patient_id: Some(patient_id), resource: None };
    let list = async {
        require_care(app, who, patient_id).await?;
        repo::care::tasks_of_patient(&app.store.db, patient_id, from, to)
            .await?
            .into_iter()
            .map(|t| view(app, t))
            .collect::<Result<Vec<_>, _>>()
    };
    let out: Vec<TaskView> = app.audit_denied(who, ctx, "task.list", subject, list).await?;
    app.record_view(who, ctx, "task.list", subject, out.len()).await?;
    Ok(out)
}

/// A follow-up visit due for one of the doctor's patients.
#[derive(Debug, Clone, Serialize)]
pub struct DueVisit {
    pub task: TaskView,
    pub patient_name: String,
}

/// The caller's (a doctor's) pending follow-up visits due by the end of today, soonest first. The
/// list names patients, so showing it is audited (issue 11 item 11).
pub async fn due_visits(app: &App, who: &Principal, ctx: &RequestCtx) -> Result<Vec<DueVisit>, AppError> {
    let out = visits_due_today(app, who).await?;
    app.record_view(who, ctx, "visit.list_due", Subject { patient_id: None, resource: None }, out.len()).await?;
    Ok(out)
}

async fn visits_due_today(app: &App, who: &Principal) -> Result<Vec<DueVisit>, AppError> {
    if !who.has(Role::Doctor) {
        return Ok(Vec::new());
    }
    let db = &app.store.db;
    let tz = zone_of(app, db, &who.user_id).await?;
    let tomorrow = app.clock.now().with_timezone(&tz).date_naive().succ_opt().ok_or(AppError::Internal("date"))?;
    let end_of_today = tz
        .from_local_datetime(&tomorrow.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map_or_else(|| app.clock.now() + Duration::hours(12), |t| t.with_timezone(&Utc));
    let mut out = Vec::new();
    for task in repo::care::due_visits(db, &who.user_id, end_of_today - Duration::seconds(1)).await? {
        out.push(DueVisit {
            patient_name: consultation::display_name(app, db, &task.patient_id).await?,
            task: view(app, task)?,
        });
    }
    Ok(out)
}

/// The plan's doctor starts a due follow-up visit as a consultation with the patient (one click):
/// the task is done (late after three days) and points to the consultation. Starting it again
/// answers the same consultation.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn start_visit(app: &App, who: &Principal, ctx: &RequestCtx, task_id: &str) -> Result<String, AppError> {
    let target = Subject { patient_id: None, resource: Some(task_id) };
    app.audit_denied(who, ctx, "visit.start", target, start_visit_inner(app, who, ctx, task_id)).await
}

async fn start_visit_inner(app: &App, who: &Principal, ctx: &RequestCtx, task_id: &str) -> Result<String, AppError> {
    who.require_verified_doctor()?;
    let now = app.clock.now();
    let txn = app.store.begin_write().await?;
    let mut task = repo::care::lock_task(&txn, task_id)
        .await?
        .filter(|t| t.kind == "visit" && t.doctor_id == who.user_id)
        .ok_or(AppError::NotFound)?;
    if let Some(c) = &task.consultation_id {
        return Ok(c.clone());
    }
    if task.state != "pending" {
        return Err(AppError::invalid("task_closed", "This follow-up visit is no longer open."));
    }
    let opening = format!(
        "【随访 Follow-up】{}：您好，我们来回顾一下最近的情况。 Hello — let's review how you have been.",
        task_label(app, &task)?
    );
    let (row, recipients) = consultation::start_followup(app, &txn, who, &task.patient_id, &opening).await?;
    task.state = if now <= task.due_at + Duration::days(VISIT_ON_TIME_DAYS) { "done" } else { "late" }.into();
    task.completed_at = Some(now);
    task.consultation_id = Some(row.id.clone());
    repo::care::update_task(&txn, task.clone()).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "visit.start",
        Subject { patient_id: Some(&task.patient_id), resource: Some(task_id) },
        &row.id,
    )
    .await?;
    txn.commit().await?;
    app.publish(recipients, json!({"type": "consultation", "consultation": {"id": row.id, "status": row.status}}));
    Ok(row.id)
}

/// How a plan's (or an institution's) closed tasks ended.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Completion {
    pub done: i64,
    pub late: i64,
    pub missed: i64,
    /// `(done + late) / all closed`; `None` while nothing has closed.
    pub rate: Option<f64>,
    /// `done / all closed`.
    pub on_time_rate: Option<f64>,
}

impl Completion {
    fn from_counts(counts: &[(String, i64)]) -> Self {
        let get = |s: &str| counts.iter().filter(|(k, _)| k == s).map(|(_, n)| n).sum::<i64>();
        let (done, late, missed) = (get("done"), get("late"), get("missed"));
        let all = done + late + missed;
        #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let ratio = |n: i64| (all > 0).then(|| n as f64 / all as f64);
        Self { done, late, missed, rate: ratio(done + late), on_time_rate: ratio(done) }
    }
}

/// Completion of one plan over its whole life (the patient and their care team). A refusal is
/// audited (issue 11 item 11).
pub async fn plan_completion(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    plan_id: &str,
) -> Result<Completion, AppError> {
    let target = Subject { patient_id: None, resource: Some(plan_id) };
    app.audit_denied(who, ctx, "plan.completion_view", target, completion_of(app, who, plan_id)).await
}

async fn completion_of(app: &App, who: &Principal, plan_id: &str) -> Result<Completion, AppError> {
    let db = &app.store.db;
    let plan = repo::monitoring::plan(db, plan_id).await?.ok_or(AppError::NotFound)?;
    require_care(app, who, &plan.patient_id).await?;
    let far = Duration::days(36_500);
    let counts = repo::care::completion_counts(db, &[plan.id], plan.created_at - far, app.clock.now() + far).await?;
    Ok(Completion::from_counts(&counts))
}

/// Completion of all plans run by the institution's doctors, for tasks due in the last `days` days
/// (institution admins).
pub async fn institution_completion(app: &App, who: &Principal, days: i64) -> Result<Completion, AppError> {
    who.require(&[Role::InstitutionAdmin])?;
    let inst = who.institution_of(Role::InstitutionAdmin).ok_or(AppError::Forbidden)?;
    let db = &app.store.db;
    let doctors: Vec<String> = repo::user::list_staff_of(db, inst)
        .await?
        .into_iter()
        .filter(|s| s.role == Role::Doctor.as_str())
        .map(|s| s.user_id)
        .collect();
    let plans = repo::monitoring::plan_ids_of_doctors(db, &doctors).await?;
    let now = app.clock.now();
    Ok(Completion::from_counts(&repo::care::completion_counts(db, &plans, now - Duration::days(days), now).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn daily_rule_fires_at_local_shanghai_hours() {
        let tz = chrono_tz::Asia::Shanghai;
        let anchor = at("2026-12-01T01:00:00Z"); // 09:00 Shanghai
        let occ =
            occurrences("FREQ=DAILY;BYHOUR=7,19;BYMINUTE=0", tz, anchor, anchor, anchor + Duration::days(2)).unwrap();
        // 19:00 on the first day (07:00 is before the start), then 07:00 and 19:00: 23:00 and 11:00 UTC.
        assert_eq!(
            occ,
            vec![
                at("2026-12-01T11:00:00Z"),
                at("2026-12-01T23:00:00Z"),
                at("2026-12-02T11:00:00Z"),
                at("2026-12-02T23:00:00Z")
            ]
        );
    }

    #[test]
    fn shanghai_has_no_daylight_saving_but_berlin_moves() {
        // Across the European spring change (29 March 2026) 07:00 Shanghai stays 23:00 UTC, while
        // 07:00 Berlin moves from 06:00 to 05:00 UTC.
        let anchor = at("2026-03-27T00:00:00Z");
        let to = anchor + Duration::days(4);
        let sh = occurrences("FREQ=DAILY;BYHOUR=7;BYMINUTE=0", chrono_tz::Asia::Shanghai, anchor, anchor, to).unwrap();
        assert!(sh.iter().all(|d| d.format("%H:%M").to_string() == "23:00"), "{sh:?}");
        let be = occurrences("FREQ=DAILY;BYHOUR=7;BYMINUTE=0", chrono_tz::Europe::Berlin, anchor, anchor, to).unwrap();
        let hours: Vec<_> = be.iter().map(|d| d.format("%H").to_string()).collect();
        assert!(hours.contains(&"06".to_owned()) && hours.contains(&"05".to_owned()), "{hours:?}");
    }

    #[test]
    fn monthly_visits_at_nine_and_rule_checks() {
        let anchor = at("2026-01-31T02:00:00Z");
        let occ = occurrences("FREQ=MONTHLY", chrono_tz::Asia::Shanghai, anchor, anchor, anchor + Duration::days(70))
            .unwrap();
        // Started on the 31st: monthly on the 28th, so February is not skipped.
        assert_eq!(occ, vec![at("2026-02-28T01:00:00Z"), at("2026-03-28T01:00:00Z")]);
        check_rule("FREQ=DAILY;BYHOUR=7,19;BYMINUTE=0").unwrap();
        check_rule("FREQ=WEEKLY;BYDAY=MO,TH").unwrap();
        assert_eq!(check_rule("FREQ=HOURLY;INTERVAL=2").unwrap_err().code(), "plan_rrule");
        assert_eq!(check_rule("FREQ=DAILY\nRRULE:FREQ=DAILY").unwrap_err().code(), "plan_rrule");
        assert_eq!(check_rule("FREQ=DAILY;UNTIL=20250101T000000Z").unwrap_err().code(), "plan_rrule");
    }

    #[test]
    fn completion_rates() {
        let c = Completion::from_counts(&[("done".into(), 6), ("late".into(), 2), ("missed".into(), 2)]);
        assert_eq!((c.rate, c.on_time_rate), (Some(0.8), Some(0.6)));
        assert_eq!(Completion::from_counts(&[]).rate, None);
    }
}
