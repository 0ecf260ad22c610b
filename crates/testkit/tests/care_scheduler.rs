//! Chronic-care follow-up, the scheduler side (D1, D2, E3) on the fake clock, on both engines: a
//! plan's RFC 5545 rules become tasks in the patient's time zone two weeks ahead and are topped up
//! by `plan.extend`; reminders fire at their due second, once, also after downtime; readings
//! complete tasks on time or late, the rest are missed; completion rates per plan and institution;
//! a due follow-up visit reaches the doctor and starts as a consultation in one click; on
//! PostgreSQL two workers drain one backlog with every reminder sent exactly once, whichever worker
//! holds it.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

mod care_support;

use std::collections::{BTreeMap, BTreeSet};

use care_support::{at, bp, dues, of, run_jobs, t0, time_of, world};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use domain::Role;
use http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use store::entity::{care_task as ct, job as j, notification as n};

/// Every `step` from `first` while not after `last`.
fn every(first: DateTime<Utc>, last: DateTime<Utc>, step: Duration) -> Vec<DateTime<Utc>> {
    std::iter::successors(Some(first), |d| Some(*d + step)).take_while(|d| *d <= last).collect()
}

/// Twice-daily blood pressure at 07:00 and 19:00 Shanghai time (23:00 and 11:00 UTC) due after
/// `from` and not after `to`.
fn shanghai_bp(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    every(at("2026-11-24T11:00:00Z"), to, Duration::hours(12)).into_iter().filter(|d| *d > from).collect()
}

#[tokio::test]
async fn hypertension_tasks_follow_shanghai_time_two_weeks_ahead_and_the_visit_a_month_on() {
    let w = world().await;
    let plan = w.hypertension_plan().await;
    assert_eq!((plan["template"].as_str(), plan["state"].as_str()), (Some("hypertension"), Some("active")));
    let start = t0();
    let horizon = start + Duration::days(14);
    let tasks = w.tasks(start - Duration::days(3), start + Duration::days(40)).await;
    assert!(tasks.iter().all(|t| time_of(&t["due_at"]) > start), "nothing before the plan's start: {tasks:?}");
    assert!(tasks.iter().all(|t| t["state"] == "pending" && t["plan_id"] == plan["id"]));

    // Blood pressure at 07:00 and 19:00 Shanghai: 19:00 on the first day (it started at 16:00), then
    // twice a day up to two weeks ahead; each open until the next one.
    let bp_tasks = of(&tasks, "blood-pressure");
    assert_eq!(dues(&bp_tasks), shanghai_bp(start, horizon), "BP due times");
    assert_eq!(bp_tasks.len(), 28);
    for t in &bp_tasks {
        assert_eq!(time_of(&t["close_at"]) - time_of(&t["due_at"]), Duration::hours(12), "{t}");
        assert_eq!((t["kind"].as_str(), t["label"].as_str()), (Some("reading"), Some("血压 blood pressure")));
    }
    // Weight on Mondays at 07:30 Shanghai = Sunday 23:30 UTC, open a day.
    let weight = of(&tasks, "weight");
    assert_eq!(dues(&weight), vec![at("2026-11-29T23:30:00Z"), at("2026-12-06T23:30:00Z")]);
    for t in &weight {
        let local = time_of(&t["due_at"]) + Duration::hours(8);
        assert_eq!((local.weekday(), local.hour(), local.minute()), (Weekday::Mon, 7, 30));
        assert_eq!(time_of(&t["close_at"]) - time_of(&t["due_at"]), Duration::hours(24));
    }
    assert_eq!(of(&tasks, "visit").len(), 0, "the monthly visit is more than two weeks away");
    assert_eq!(tasks.len(), bp_tasks.len() + weight.len());

    // A server that kept running: `plan.extend` tops the plan up every week.
    w.walk_to(start + Duration::days(21), Duration::days(1)).await;
    let tasks = w.tasks(start - Duration::days(3), start + Duration::days(60)).await;
    let visits = of(&tasks, "visit");
    assert_eq!(visits.len(), 1, "{visits:?}");
    let visit = &visits[0];
    // A month after the start, at 09:00 Shanghai; open for two weeks; named after the template's line.
    assert_eq!(time_of(&visit["due_at"]), at("2026-12-25T01:00:00Z"));
    assert_eq!(time_of(&visit["close_at"]), at("2027-01-08T01:00:00Z"));
    assert_eq!(visit["label"], "每月血压复查 Monthly BP review");
    assert_eq!(visit["state"], "pending");
    // No gap and no double in the blood pressure tasks across the extensions.
    let now = w.now();
    assert_eq!(dues(&of(&tasks, "blood-pressure")), shanghai_bp(start, now + Duration::days(14)));
    assert_eq!(
        dues(&of(&tasks, "weight")),
        every(at("2026-11-29T23:30:00Z"), now + Duration::days(14), Duration::weeks(1))
    );
}

#[tokio::test]
async fn a_patient_in_berlin_gets_tasks_at_berlin_time_across_daylight_saving() {
    let w = world().await;
    // Spring 2027: Europe moves its clocks on Sunday 28 March; Shanghai never does.
    w.set_clock(at("2027-03-20T08:00:00Z"));
    let r = w.put("/api/v1/notification-prefs", json!({"time_zone": "Europe/Berlin"}), &w.patient_id).await;
    assert_eq!((r.status, r.json()["time_zone"].as_str()), (StatusCode::OK, Some("Europe/Berlin")), "{}", r.text);
    let r = w.put("/api/v1/notification-prefs", json!({"time_zone": "Mars/Olympus"}), &w.patient_id).await;
    assert_eq!(r.code(), "time_zone");
    w.hypertension_plan().await;
    let start = w.now();
    let tasks = w.tasks(start, start + Duration::days(15)).await;
    // 07:00 and 19:00 Berlin: 06:00 / 18:00 UTC in winter time (CET), 05:00 / 17:00 from the 28th (CEST).
    let change = at("2027-03-28T01:00:00Z");
    let expected: Vec<DateTime<Utc>> =
        every(at("2027-03-19T06:00:00Z"), start + Duration::days(14), Duration::hours(12))
            .into_iter()
            .map(|d| if d >= change { d - Duration::hours(1) } else { d })
            .filter(|d| *d > start)
            .collect();
    let got = dues(&of(&tasks, "blood-pressure"));
    assert_eq!(got, expected, "Berlin BP due times");
    let hours: BTreeSet<u32> = got.iter().map(Timelike::hour).collect();
    assert_eq!(hours, BTreeSet::from([5, 6, 17, 18]), "never Shanghai's 23:00 / 11:00 UTC");
    // Weight on Mondays 07:30 Berlin: 22 March in CET (06:30 UTC), 29 March in CEST (05:30 UTC).
    assert_eq!(dues(&of(&tasks, "weight")), vec![at("2027-03-22T06:30:00Z"), at("2027-03-29T05:30:00Z")]);
}

#[tokio::test]
async fn a_reminder_fires_at_its_due_second_and_only_once() {
    let w = world().await;
    w.hypertension_plan().await;
    let first = w.tasks(t0(), t0() + Duration::days(1)).await[0].clone();
    let due = time_of(&first["due_at"]);
    assert_eq!(due, at("2026-11-25T11:00:00Z"), "19:00 Shanghai");

    w.set_clock(due - Duration::seconds(1));
    w.run_jobs().await;
    assert!(w.inbox_of_kind(&w.patient_id, "task.reminder").await.is_empty(), "not a second early");

    w.set_clock(due);
    w.run_jobs().await;
    let (items, unread) = w.inbox(&w.patient_id).await;
    let reminders: Vec<_> = items.iter().filter(|n| n["kind"] == "task.reminder").collect();
    assert_eq!(reminders.len(), 1, "{items:?}");
    let rem = reminders[0];
    assert_eq!(rem["title"], "该测量血压了", "in the patient's language (zh-CN)");
    assert!(rem["body"].as_str().unwrap().contains("请测量血压"), "{rem}");
    assert_eq!((rem["link"].as_str(), rem["urgent"].as_bool()), (Some("/care"), Some(false)));
    assert_eq!(rem["channels"], json!({"inapp": "sent"}), "in-app only: no outbound channel here");
    assert_eq!(time_of(&rem["created_at"]), due);
    assert_eq!(unread, 1);
    let stored = w.notifications(&w.patient_id, "task.reminder").await;
    assert_eq!(stored[0].subject_id.as_deref(), first["id"].as_str(), "about that task");
    assert!(w.inbox_of_kind(&w.doctor_id, "task.reminder").await.is_empty(), "reading reminders go to the patient");

    // Running the worker again, now or a little later, sends nothing more.
    w.run_jobs().await;
    w.set_clock(due + Duration::seconds(30));
    w.run_jobs().await;
    assert_eq!(w.notifications(&w.patient_id, "task.reminder").await.len(), 1, "once");
}

#[tokio::test]
async fn after_downtime_open_reminders_fire_once_stale_ones_not_windows_close_and_the_plan_is_extended() {
    let w = world().await;
    w.hypertension_plan().await;
    // Running normally for five days…
    w.walk_to(t0() + Duration::days(5), Duration::hours(6)).await;
    let before = w.notifications(&w.patient_id, "task.reminder").await.len();
    assert_eq!(before, shanghai_bp(t0(), w.now()).len() + 1, "BP and Monday's weight so far");
    // …then down for three days, across the weekly `plan.extend` (due at day 7), and back.
    let down = w.now();
    w.set_clock(down + Duration::days(3));
    let now = w.now();
    assert!(w.run_jobs().await > 0);
    assert_eq!(app::jobs::run_due(&w.t.app).await.unwrap(), 0, "nothing left due");

    // The documented rule (jobs.rs: overdue jobs run once, oldest first; tasks.rs: a reminder goes out
    // once while its task's window is open — after downtime, stale ones whose window closed are not
    // sent, the task is missed): one reminder per task reminded in time or still open, none twice.
    let db = &w.t.app.store.db;
    let due_so_far: Vec<ct::Model> = ct::Entity::find()
        .filter(ct::Column::PatientId.eq(w.patient_id.as_str()))
        .filter(ct::Column::DueAt.lte(now))
        .all(db)
        .await
        .unwrap();
    let reminders = w.notifications(&w.patient_id, "task.reminder").await;
    let mut per_task: BTreeMap<String, usize> = BTreeMap::new();
    for r in &reminders {
        *per_task.entry(r.subject_id.clone().unwrap_or_default()).or_default() += 1;
    }
    assert!(per_task.values().all(|&k| k == 1), "a reminder sent twice: {per_task:?}");
    assert_eq!(due_so_far.len(), shanghai_bp(t0(), now).len() + 1);
    // Due before the downtime (reminded on time), or during it with the window still open at `now`.
    let task_ids: BTreeSet<String> =
        due_so_far.iter().filter(|t| t.due_at <= down || t.close_at > now).map(|t| t.id.clone()).collect();
    assert_eq!(per_task.keys().cloned().collect::<BTreeSet<_>>(), task_ids, "reminded: on time or still open");
    // The reminders of the downtime that still matter went out when the server came back.
    let late: Vec<&n::Model> = reminders.iter().skip(before).collect();
    let still_open = due_so_far.iter().filter(|t| t.due_at > down && t.close_at > now).count();
    assert!(still_open >= 1, "the test covers a window still open after the downtime");
    assert_eq!(late.len(), still_open);
    assert!(late.iter().all(|r| r.created_at == now));
    // Windows that ended are missed; the open ones still pending.
    for t in &due_so_far {
        let want = if t.close_at <= now { "missed" } else { "pending" };
        assert_eq!(t.state, want, "task due {} closing {}", t.due_at, t.close_at);
    }
    // The extension ran on coming back: tasks reach two weeks past the new now again.
    let ahead = w.tasks(now, now + Duration::days(30)).await;
    assert_eq!(dues(&of(&ahead, "blood-pressure")), shanghai_bp(now, now + Duration::days(14)));
    let next_extend = j::Entity::find()
        .filter(j::Column::Kind.eq(app::jobs::kind::PLAN_EXTEND))
        .filter(j::Column::DoneAt.is_null())
        .all(db)
        .await
        .unwrap();
    assert_eq!(next_extend.len(), 1, "{next_extend:?}");
    assert_eq!(next_extend[0].due_at, now + Duration::days(7));
}

#[tokio::test]
async fn readings_complete_tasks_on_time_or_late_and_the_rest_are_missed() {
    let w = world().await;
    let (other_inst, _) = w.t.institution("Another Hospital").await;
    let admin = care_support::staff(&w.t, "admin-care", Role::InstitutionAdmin, &w.inst).await;
    let other_admin = care_support::staff(&w.t, "admin-other", Role::InstitutionAdmin, &other_inst).await;
    let plan = w.hypertension_plan().await;
    let pid = plan["id"].as_str().unwrap();
    let wr = &w;
    let task_due = move |due: &str| {
        let due = at(due);
        async move {
            let all = wr.tasks(due - Duration::hours(1), due + Duration::hours(1)).await;
            of(&all, "blood-pressure").into_iter().find(|t| time_of(&t["due_at"]) == due).unwrap()
        }
    };

    // The worker runs as time passes. 19:00 task (11:00 UTC): measured an hour later → on time.
    w.walk_to(at("2026-11-25T12:00:00Z"), Duration::hours(1)).await;
    let r = w.reading(&w.patient_id, bp(128.0, 82.0)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let t = task_due("2026-11-25T11:00:00Z").await;
    assert_eq!((t["state"].as_str(), t["completed_at"].as_str()), (Some("done"), Some("2026-11-25T12:00:00Z")));
    // 07:00 task (23:00 UTC): the paired monitor sends a reading five hours later → late.
    let r = w
        .post(
            &format!("/api/v1/patients/{}/devices", w.patient_id),
            json!({"device_id": "bp-care-1", "kind": "blood-pressure"}),
            &w.patient_id,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let device = format!("Device bp-care-1:{}", r.json()["secret"].as_str().unwrap());
    w.walk_to(at("2026-11-26T04:00:00Z"), Duration::hours(1)).await;
    let reading = json!({"reading_id": "r-late", "type": "blood-pressure", "values": {"systolic": 132, "diastolic": 84},
        "unit": "mmHg", "measured_at": "2026-11-26T04:00:00Z"});
    let req = http::Request::builder()
        .method(http::Method::POST)
        .uri("/api/v1/device-readings")
        .header(http::header::AUTHORIZATION, device)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(reading.to_string()))
        .unwrap();
    let r = w.t.raw(req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(task_due("2026-11-25T23:00:00Z").await["state"], "late");
    // 90 minutes before the next 07:00 task, while the 19:00 one is still open: the nearest (07:00)
    // is done early; the 19:00 one, never measured, is missed when its window ends.
    w.walk_to(at("2026-11-26T21:30:00Z"), Duration::hours(1)).await;
    assert_eq!(w.reading(&w.patient_id, bp(126.0, 80.0)).await.status, StatusCode::CREATED);
    assert_eq!(task_due("2026-11-26T23:00:00Z").await["state"], "done");
    assert_eq!(task_due("2026-11-26T11:00:00Z").await["state"], "pending");
    w.walk_to(at("2026-11-26T23:00:00Z"), Duration::hours(1)).await;
    assert_eq!(task_due("2026-11-26T11:00:00Z").await["state"], "missed");
    let early = task_due("2026-11-26T23:00:00Z").await["id"].as_str().unwrap().to_owned();
    let reminded: Vec<_> =
        w.notifications(&w.patient_id, "task.reminder").await.into_iter().filter_map(|r| r.subject_id).collect();
    assert!(!reminded.contains(&early), "a task done before it is due is not reminded");
    assert_eq!(reminded.len(), 3, "the other three were reminded");
    assert_eq!(task_due("2026-11-26T11:00:00Z").await["completed_at"], json!(null));
    // (The institution's figure counts tasks due before now: the one due this second comes in later.)
    w.walk_to(at("2026-11-26T23:05:00Z"), Duration::hours(1)).await;

    let expected = json!({"done": 2, "late": 1, "missed": 1, "rate": 0.75, "on_time_rate": 0.5});
    for who in [&w.patient_id, &w.doctor_id] {
        let r = w.get(&format!("/api/v1/plans/{pid}/completion"), who).await;
        assert_eq!((r.status, r.json()), (StatusCode::OK, expected.clone()), "{}", r.text);
    }
    let r = w.get(&format!("/api/v1/plans/{pid}/completion"), &w.stranger_id).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The institution's admin sees its doctors' plans; another institution's admin does not.
    let r = w.get("/api/v1/institution/care-completion?days=30", &admin).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, expected), "{}", r.text);
    let r = w.get("/api/v1/institution/care-completion?days=30", &other_admin).await;
    let none = json!({"done": 0, "late": 0, "missed": 0, "rate": null, "on_time_rate": null});
    assert_eq!((r.status, r.json()), (StatusCode::OK, none), "{}", r.text);
    let r = w.get("/api/v1/institution/care-completion", &w.doctor_id).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_due_visit_reaches_the_doctor_and_starts_as_a_follow_up_consultation() {
    let w = world().await;
    w.hypertension_plan().await;
    let other = care_support::staff(&w.t, "dr-other", Role::Doctor, &w.inst).await;
    w.t.approve_doctor(&other, &w.inst, &w.dept).await;
    let due = at("2026-12-25T01:00:00Z");
    w.walk_to(due - Duration::seconds(1), Duration::days(1)).await;
    assert!(w.inbox_of_kind(&w.doctor_id, "visit.due").await.is_empty(), "not due yet");

    w.set_clock(due);
    w.run_jobs().await;
    let notes = w.inbox_of_kind(&w.doctor_id, "visit.due").await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["title"], format!("随访到期：{}", care_support::PATIENT_NAME));
    assert_eq!(notes[0]["link"], format!("/patients/{}/care", w.patient_id));
    assert!(notes[0]["body"].as_str().unwrap().starts_with("每月血压复查 Monthly BP review"), "{}", notes[0]);
    assert!(w.inbox_of_kind(&w.patient_id, "visit.due").await.is_empty(), "the doctor's, not the patient's");

    let r = w.get("/api/v1/visits/due", &w.doctor_id).await;
    let items = r.json()["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{}", r.text);
    let task = items[0]["task"].clone();
    assert_eq!((task["kind"].as_str(), time_of(&task["due_at"])), (Some("visit"), due));
    assert_eq!(items[0]["patient_name"], care_support::PATIENT_NAME);
    let tid = task["id"].as_str().unwrap();
    assert_eq!(w.get("/api/v1/visits/due", &other).await.json()["items"], json!([]), "another doctor's list");

    // Another doctor cannot start it; the plan's doctor can, once.
    let start = format!("/api/v1/tasks/{tid}/start");
    assert_eq!(w.post(&start, json!({}), &other).await.status, StatusCode::NOT_FOUND);
    assert_eq!(w.post(&start, json!({}), &w.patient_id).await.status, StatusCode::FORBIDDEN);
    let r = w.post(&start, json!({}), &w.doctor_id).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let cid = r.json()["consultation"].as_str().unwrap().to_owned();
    let again = w.post(&start, json!({}), &w.doctor_id).await;
    assert_eq!(again.json()["consultation"], cid.as_str(), "starting again answers the same consultation");

    let c = w.get(&format!("/api/v1/consultations/{cid}"), &w.patient_id).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let c = c.json();
    assert_eq!((c["kind"].as_str(), c["status"].as_str()), (Some("follow_up"), Some("active")));
    assert_eq!(
        (c["patient_id"].as_str(), c["doctor_id"].as_str()),
        (Some(w.patient_id.as_str()), Some(w.doctor_id.as_str()))
    );
    assert!(c["complaint"].as_str().unwrap().contains("每月血压复查"), "{c}");
    let tasks = w.tasks(due - Duration::hours(1), due + Duration::hours(1)).await;
    let done = of(&tasks, "visit");
    assert_eq!((done[0]["state"].as_str(), done[0]["consultation_id"].as_str()), (Some("done"), Some(cid.as_str())));
    assert_eq!(w.get("/api/v1/visits/due", &w.doctor_id).await.json()["items"], json!([]));
}

#[tokio::test]
async fn a_plan_started_before_dawn_includes_that_mornings_measurement() {
    let w = world().await;
    // 06:30 in Shanghai: the 07:00 blood pressure is half an hour after the start.
    w.set_clock(at("2026-11-25T22:30:00Z"));
    w.hypertension_plan().await;
    let tasks = w.tasks(w.now() - Duration::days(1), w.now() + Duration::days(2)).await;
    let got = dues(&of(&tasks, "blood-pressure"));
    assert_eq!(got.first().copied(), Some(at("2026-11-25T23:00:00Z")), "07:00 that morning comes first: {got:?}");
}

#[tokio::test]
async fn due_visits_are_those_due_today_not_tomorrows() {
    let w = world().await;
    w.hypertension_plan().await;
    w.walk_to(t0() + Duration::days(21), Duration::days(7)).await;
    // The visit is due on 25 December, 09:00 Shanghai (01:00 UTC).
    let wr = &w;
    let list = move || async move {
        wr.get("/api/v1/visits/due", &wr.doctor_id).await.json()["items"].as_array().map_or(0, Vec::len)
    };
    w.set_clock(at("2026-12-24T01:00:00Z"));
    assert_eq!(list().await, 0, "09:00 on the 24th: due tomorrow");
    w.set_clock(at("2026-12-25T00:30:00Z"));
    assert_eq!(list().await, 1, "08:30 on the 25th: due today");
    // 22:00 on the 24th (14:00 UTC): the visit is tomorrow's, yet within twelve hours.
    w.set_clock(at("2026-12-24T14:00:00Z"));
    assert_eq!(list().await, 0, "22:00 on the 24th: \"due today\" lists tomorrow's visit");
}

/// Runs `run_due` on each app in a task of its own, all at once, until each finds nothing due;
/// returns how many jobs each ran.
async fn race(apps: &[app::App]) -> Vec<usize> {
    let workers: Vec<_> = apps
        .iter()
        .cloned()
        .map(|app| {
            tokio::spawn(async move {
                let mut ran = 0;
                loop {
                    match app::jobs::run_due(&app).await {
                        Ok(0) => return Ok(ran),
                        Ok(k) => ran += k,
                        Err(e) => return Err(format!("{e:?}")),
                    }
                }
            })
        })
        .collect();
    let mut ran = Vec::new();
    for h in workers {
        ran.push(h.await.unwrap().unwrap_or_else(|e| panic!("a worker failed: {e}")));
    }
    ran
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_postgres_send_each_reminder_exactly_once() {
    let w = world().await;
    if !w.t.is_postgres() {
        eprintln!("SKIPPED on SQLite (one writer): set YIQIAO_TEST_POSTGRES to run it");
        return;
    }
    // Eight patients on plans: nine days of downtime leave 300-odd jobs, more than one worker's
    // claim (256), so both workers get a share.
    let mut patients = vec![w.patient_id.clone()];
    for k in 2..=8 {
        let id = care_support::register(&w.t, &format!("pat-care-{k}"), None).await;
        w.consults(&id).await;
        patients.push(id);
    }
    for p in &patients {
        w.plan_for(p, json!({"template": "hypertension"})).await;
    }
    w.set_clock(w.now() + Duration::hours(1));
    run_jobs(&w.t.app).await;
    // A second App on its own connection pool, as a second node would be.
    let mut second = w.t.app.clone();
    second.store = store::Store::connect(&w.t.db_url).await.unwrap();
    for round in 1..=2 {
        // Down for nine days (round 2: nine more): a backlog of reminders, closes and extensions.
        w.set_clock(w.now() + Duration::days(9));
        let ran = race(&[w.t.app.clone(), second.clone()]).await;
        // Closes that found their reminder held by the other worker wait 5 s.
        w.set_clock(w.now() + Duration::seconds(6));
        run_jobs(&w.t.app).await;
        assert_eq!(run_jobs(&w.t.app).await, 0, "the two workers left nothing due");
        eprintln!("round {round}: the workers ran {ran:?} jobs");

        let now = w.now();
        let db = &w.t.app.store.db;
        let retried = j::Entity::find().filter(j::Column::LastError.is_not_null()).all(db).await.unwrap();
        assert!(retried.is_empty(), "round {round}: {retried:?}");
        for p in &patients {
            let due_tasks: Vec<ct::Model> = ct::Entity::find()
                .filter(ct::Column::PatientId.eq(p.as_str()))
                .filter(ct::Column::DueAt.lte(now))
                .all(db)
                .await
                .unwrap();
            let reminders = w.notifications(p, "task.reminder").await;
            let subjects: Vec<String> = reminders.iter().filter_map(|r| r.subject_id.clone()).collect();
            let unique: BTreeSet<String> = subjects.iter().cloned().collect();
            assert_eq!(subjects.len(), unique.len(), "round {round}: a reminder sent twice to {p}");
            // Stale reminders (window closed during the downtime) are not sent; every task whose
            // window is still open was reminded, whichever worker held its job, and it is pending.
            let open: BTreeSet<String> = due_tasks.iter().filter(|t| t.close_at > now).map(|t| t.id.clone()).collect();
            assert!(!open.is_empty(), "round {round}: a window is open after the downtime");
            let lost: Vec<&String> = open.difference(&unique).collect();
            assert!(lost.is_empty(), "round {round}: open tasks of {p} never reminded: {lost:?}");
            for t in &due_tasks {
                let want = if t.close_at > now { "pending" } else { "missed" };
                assert_eq!(t.state, want, "round {round}: task due {} closing {}", t.due_at, t.close_at);
            }
            assert!(due_tasks.len() >= 18 * round, "a real backlog: {}", due_tasks.len());
        }
    }
}

#[tokio::test]
async fn a_task_is_not_closed_while_another_worker_holds_its_reminder() {
    let w = world().await;
    if !w.t.is_postgres() {
        eprintln!("SKIPPED on SQLite (one writer): set YIQIAO_TEST_POSTGRES to run it");
        return;
    }
    w.hypertension_plan().await;
    w.set_clock(t0() + Duration::hours(1));
    run_jobs(&w.t.app).await;
    let first = w.tasks(t0(), t0() + Duration::days(1)).await[0].clone();
    // Down for a day: the first reminder is overdue and so is the end of its window.
    w.set_clock(t0() + Duration::days(1));
    // Worker B (another node) has claimed the oldest due job, that reminder, and is not done yet…
    let node_b = store::Store::connect(&w.t.db_url).await.unwrap();
    let b = node_b.begin_write().await.unwrap();
    let held = store::repo::job::claim_due(&b, w.now(), 1).await.unwrap();
    assert_eq!(held[0].kind, app::jobs::kind::TASK_REMIND);
    assert!(held[0].payload.contains(first["id"].as_str().unwrap()), "{held:?}");
    // …while worker A drains the rest of the backlog: the task's `task.close` waits for the reminder.
    assert!(run_jobs(&w.t.app).await > 0);
    assert_eq!(w.tasks(t0(), t0() + Duration::days(1)).await[0]["state"], "pending", "not closed under B's feet");
    // B's claim ends (its batch rolls back, or it crashed); the reminder job runs — stale now (its
    // window closed during the downtime), so nothing is sent — and the deferred close then runs.
    b.rollback().await.unwrap();
    assert_eq!(run_jobs(&w.t.app).await, 1);
    let reminded: Vec<_> =
        w.notifications(&w.patient_id, "task.reminder").await.into_iter().filter_map(|n| n.subject_id).collect();
    assert!(!reminded.iter().any(|s| first["id"] == s.as_str()), "a stale reminder went out: {reminded:?}");
    w.set_clock(w.now() + Duration::seconds(6));
    assert_eq!(run_jobs(&w.t.app).await, 1, "the deferred close");
    assert_eq!(w.tasks(t0(), t0() + Duration::days(1)).await[0]["state"], "missed");
}
