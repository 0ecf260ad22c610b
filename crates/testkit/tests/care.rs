//! Chronic-care follow-up through the API (D1–D5, E3) on both engines: readings entered by hand
//! (checked, alerting the plan's doctor), notifications on e-mail (a real SMTP sink) and SMS (the
//! fake gateway) with quiet hours, delivery states, retries and reach, SMS receipts, institution plan
//! templates, ending a plan, and the trend chart (SVG, audited).

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

mod care_support;

use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use app::notify::{
    Outbound,
    channels::{Channel, ChannelError, Outgoing, Receipt, SmsChannel, SmsConfig},
};
use care_support::{
    PATIENT_NAME, PATIENT_PHONE, Server, World, at, bp, free_port, get_json, have_python, received_mail, smtp_channel,
    smtp_sink, t0, time_of, world,
};
use chrono::Duration;
use domain::Role;
use http::{Method, StatusCode, header};
use serde_json::{Value, json};

const GATEWAY_TOKEN: &str = "gateway-test-token";
const RECEIPT_TOKEN: &str = "receipt-test-token";

async fn observations(w: &World) -> Vec<Value> {
    let r = w.get(&format!("/api/v1/patients/{}/observations", w.patient_id), &w.patient_id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn manual_readings_are_checked_and_an_urgent_one_alerts_the_plans_doctor() {
    let w = world().await;
    w.hypertension_plan().await;
    let now = w.now();
    let with = |mut body: Value, key: &str, v: Value| {
        body[key] = v;
        body
    };
    let cases = [
        (bp(400.0, 90.0), "reading_implausible"),
        (bp(80.0, 120.0), "reading_implausible"),
        (with(bp(120.0, 80.0), "unit", json!("psi")), "reading_unit"),
        (with(bp(120.0, 80.0), "measured_at", json!(now + Duration::hours(1))), "reading_time"),
        (with(bp(120.0, 80.0), "measured_at", json!(now - Duration::days(31))), "reading_time"),
    ];
    for (body, code) in cases {
        let r = w.reading(&w.patient_id, body.clone()).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, code.to_owned()), "{body}");
    }
    let r = w.reading(&w.stranger_id, bp(120.0, 80.0)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "not the stranger's patient");
    // Nothing changed: no reading, no alert, no notification, every task still open.
    assert!(observations(&w).await.is_empty());
    assert_eq!(w.get("/api/v1/alerts", &w.doctor_id).await.json()["items"], json!([]));
    assert!(w.inbox(&w.doctor_id).await.0.is_empty());
    let tasks = w.tasks(now, now + Duration::days(2)).await;
    assert!(!tasks.is_empty() && tasks.iter().all(|t| t["state"] == "pending"));

    // 190/115 by hand: urgent, to the plan's doctor (live list and inbox), and said to the patient.
    let r = w.reading(&w.patient_id, bp(190.0, 115.0)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let obs = r.json();
    assert_eq!((obs["source"].as_str(), obs["device_id"].as_str()), (Some("manual"), None));
    assert_eq!(obs["values"], json!({"systolic": 190.0, "diastolic": 115.0}));
    assert_eq!((obs["alert"]["severity"].as_str(), obs["alert"]["rule"].as_str()), (Some("urgent"), Some("bp_urgent")));
    let alerts = w.get("/api/v1/alerts", &w.doctor_id).await.json()["items"].clone();
    assert_eq!(alerts.as_array().map(Vec::len), Some(1), "{alerts}");
    assert_eq!(
        (alerts[0]["id"].clone(), alerts[0]["patient"].clone()),
        (obs["alert"]["id"].clone(), json!(w.patient_id))
    );
    let notes = w.inbox_of_kind(&w.doctor_id, "alert").await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["urgent"], true);
    assert_eq!(notes[0]["title"], format!("紧急读数：{PATIENT_NAME}"));
    assert!(notes[0]["body"].as_str().unwrap().contains("血压达到紧急阈值"), "{}", notes[0]);
    assert_eq!(notes[0]["link"], format!("/patients/{}/care", w.patient_id));
    assert!(w.inbox_of_kind(&w.patient_id, "alert").await.is_empty(), "the doctor is alerted, not the patient");
    let stored = observations(&w).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], obs["id"]);
}

#[tokio::test]
async fn a_listed_observation_carries_the_alert_it_raised() {
    let w = world().await;
    w.hypertension_plan().await;
    let posted = w.reading(&w.patient_id, bp(190.0, 115.0)).await.json();
    assert_eq!(posted["alert"]["severity"], "urgent");
    // `ObservationView.alert`: "The alert this reading raised, if any" — also when listed again.
    let listed = observations(&w).await;
    assert_eq!(listed[0]["alert"], posted["alert"], "GET …/observations drops the reading's alert");
}

#[tokio::test]
async fn quiet_hours_hold_email_reminders_until_morning_but_not_urgent_alerts() {
    if !have_python() {
        return;
    }
    let (sink, mail) = smtp_sink().await;
    let mut w = world().await;
    w.with_outbound(Outbound::default().with(smtp_channel(sink.port)));
    let quiet =
        |email: &str| json!({"channels": ["email"], "email": email, "quiet_start": "22:00", "quiet_end": "07:00"});
    for (user, email) in [(&w.patient_id, "patient@example.org"), (&w.doctor_id, "doctor@hospital.example")] {
        let r = w.put("/api/v1/notification-prefs", quiet(email), user).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!((r.json()["quiet_start"].as_u64(), r.json()["quiet_end"].as_u64()), (Some(22 * 60), Some(7 * 60)));
    }
    let r = w.get("/api/v1/notification-prefs", &w.patient_id).await.json();
    assert_eq!((r["available"].clone(), r["prefs"]["email"].clone()), (json!(["email"]), json!("patient@example.org")));
    let evening = json!({"template": "custom", "title": "晚间血压",
        "measures": [{"kind": "blood-pressure", "rrule": "FREQ=DAILY;BYHOUR=23;BYMINUTE=0"}]});
    w.plan_for(&w.patient_id, evening).await;

    // 23:00 Shanghai (15:00 UTC): the reminder is in the inbox at once; its e-mail waits for 07:00.
    let due = at("2026-11-25T15:00:00Z");
    w.set_clock(due);
    w.run_jobs().await;
    let rem = w.inbox_of_kind(&w.patient_id, "task.reminder").await;
    assert_eq!(rem.len(), 1);
    assert_eq!(rem[0]["channels"], json!({"inapp": "sent", "email": "pending"}));
    let morning = at("2026-11-25T23:00:00Z");
    let held = w.delivery(rem[0]["id"].as_str().unwrap(), "email").await;
    assert_eq!((held.state.as_str(), held.next_at, held.attempts), ("pending", morning, 0));
    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 0, "quiet hours");

    // An urgent alert at 23:00 goes to the doctor's e-mail now, quiet hours or not.
    w.set_clock(due + Duration::minutes(1));
    assert_eq!(w.reading(&w.patient_id, bp(190.0, 115.0)).await.status, StatusCode::CREATED);
    let alert = w.inbox_of_kind(&w.doctor_id, "alert").await;
    assert_eq!(alert[0]["channels"], json!({"inapp": "sent", "email": "pending"}));
    assert_eq!(w.delivery(alert[0]["id"].as_str().unwrap(), "email").await.next_at, w.now());
    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 1, "the alert only");
    let got = received_mail(mail.path());
    assert_eq!(got.len(), 1, "{got:?}\n{}", sink.stderr());
    assert_eq!(got[0]["rcpt_tos"], json!(["doctor@hospital.example"]));
    assert_eq!(got[0]["subject"], format!("紧急读数：{PATIENT_NAME}"));
    assert_eq!(w.inbox_of_kind(&w.doctor_id, "alert").await[0]["channels"]["email"], "delivered");

    w.set_clock(morning - Duration::seconds(1));
    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 0, "06:59:59 is still quiet");
    w.set_clock(morning);
    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 1);
    let got = received_mail(mail.path());
    assert_eq!(got.len(), 2, "{got:?}");
    let m = &got[1];
    assert_eq!(m["rcpt_tos"], json!(["patient@example.org"]));
    assert_eq!(m["subject"], "该测量血压了", "the Chinese subject decodes back");
    let body = m["body"].as_str().unwrap();
    assert!(body.contains("请测量血压"), "{body}");
    assert!(body.contains(&format!("/inbox/{}?via=email", rem[0]["id"].as_str().unwrap())), "{body}");
    let sent = w.delivery(rem[0]["id"].as_str().unwrap(), "email").await;
    assert_eq!((sent.state.as_str(), sent.sent_at, sent.attempts), ("delivered", Some(morning), 1));
    assert_eq!(sent.external_id.as_deref(), m["queue_id"].as_str(), "the SMTP queue id");
    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 0, "sent once");
}

#[tokio::test]
async fn deliveries_go_sent_delivered_read_or_fail_after_five_tries_and_reach_adds_up() {
    let mut w = world().await;
    let admin = care_support::staff(&w.t, "admin-reach", Role::InstitutionAdmin, &w.inst).await;
    // E-mail through an SMTP server that is down (nothing listens on the port).
    w.with_outbound(Outbound::default().with(smtp_channel(free_port())));
    w.hypertension_plan().await;
    w.set_clock(at("2026-11-25T11:00:00Z"));
    w.run_jobs().await;
    let (items, unread) = w.inbox(&w.patient_id).await;
    let first = items[0]["id"].as_str().unwrap().to_owned();
    assert_eq!((items.len(), unread, items[0]["channels"].clone()), (1, 1, json!({"inapp": "sent"})));

    // Only the recipient moves their notification along: sent → delivered → read.
    let r = w.post("/api/v1/notifications/delivered", json!({"ids": [first]}), &w.stranger_id).await;
    assert_eq!(r.json()["delivered"], 0);
    assert_eq!(
        w.post(&format!("/api/v1/notifications/{first}/read"), json!({}), &w.stranger_id).await.status,
        StatusCode::NOT_FOUND
    );
    let r = w.post("/api/v1/notifications/delivered", json!({"ids": [first, "nope"]}), &w.patient_id).await;
    assert_eq!(r.json()["delivered"], 1, "{}", r.text);
    assert_eq!(w.inbox(&w.patient_id).await.0[0]["channels"], json!({"inapp": "delivered"}));
    let r = w.post(&format!("/api/v1/notifications/{first}/read"), json!({}), &w.patient_id).await;
    assert_eq!((r.status, r.json()["channels"].clone()), (StatusCode::OK, json!({"inapp": "read"})), "{}", r.text);
    assert_eq!(time_of(&r.json()["read_at"]), w.now());
    assert_eq!(w.inbox(&w.patient_id).await.1, 0, "nothing unread");

    // E-mail chosen: the next reminder (07:00 Shanghai) fails five times with growing gaps, then stops.
    let prefs = json!({"channels": ["email"], "email": "patient@example.org"});
    assert_eq!(w.put("/api/v1/notification-prefs", prefs, &w.patient_id).await.status, StatusCode::OK);
    w.set_clock(at("2026-11-25T23:00:00Z"));
    w.run_jobs().await;
    let second = w.inbox_of_kind(&w.patient_id, "task.reminder").await[0]["id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let mut gaps = Vec::new();
    for attempt in 1..=5 {
        assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 1, "attempt {attempt}");
        let dl = w.delivery(&second, "email").await;
        assert_eq!(dl.attempts, attempt);
        assert!(dl.last_error.as_deref().unwrap_or_default().to_lowercase().contains("connection"), "{dl:?}");
        assert_eq!(dl.lease_until, None, "the lease is released with the outcome");
        if attempt == 5 {
            assert_eq!(dl.state, "failed", "given up after the fifth attempt");
            break;
        }
        assert_eq!(dl.state, "pending", "temporary: tried again later");
        gaps.push((dl.next_at - w.now()).num_seconds());
        w.set_clock(dl.next_at - Duration::seconds(1));
        assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 0, "not before its back-off");
        w.set_clock(dl.next_at);
    }
    assert!(gaps[0] >= 30 && gaps.windows(2).all(|g| g[1] == 2 * g[0]), "back-off doubles: {gaps:?}");
    w.set_clock(w.now() + Duration::hours(2));
    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 0, "a failed delivery is not retried");
    let view = w.inbox(&w.patient_id).await.0[0].clone();
    assert_eq!(view["channels"], json!({"inapp": "sent", "email": "failed"}));

    // Reach (E3): in-app 1 read + 1 still on its way; e-mail 1 failed.
    assert_eq!(w.get("/api/v1/notify/reach", &w.patient_id).await.status, StatusCode::FORBIDDEN);
    let r = w.get("/api/v1/notify/reach?days=30", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let expected = json!([
        {"channel": "email", "total": 1, "reached": 0, "read": 0, "failed": 1, "pending": 0, "skipped": 0, "rate": 0.0},
        {"channel": "inapp", "total": 2, "reached": 1, "read": 1, "failed": 0, "pending": 1, "skipped": 0, "rate": 1.0}
    ]);
    assert_eq!(r.json()["channels"], expected);
    // Once the page says the second arrived: 2 of 2.
    w.post("/api/v1/notifications/delivered", json!({"ids": [second]}), &w.patient_id).await;
    let inapp = w.get("/api/v1/notify/reach", &admin).await.json()["channels"][1].clone();
    assert_eq!(
        (inapp["reached"].as_i64(), inapp["pending"].as_i64(), inapp["rate"].as_f64()),
        (Some(2), Some(0), Some(1.0))
    );
}

fn sms_outbound(port: u16) -> Outbound {
    let cfg = SmsConfig {
        url: format!("http://127.0.0.1:{port}/v1/messages"),
        token: GATEWAY_TOKEN.into(),
        sender: "【医桥】".into(),
        timeout_secs: Some(5),
    };
    let mut out = Outbound::default().with(Arc::new(SmsChannel::new(&cfg).unwrap()));
    out.sms_receipt_token = Some(RECEIPT_TOKEN.into());
    out
}

async fn sms_receipt(w: &World, token: Option<&str>, body: &Value) -> StatusCode {
    w.t.send(Method::POST, "/api/v1/notify/sms-receipts", Some(body.clone()), token).await.status
}

#[tokio::test]
async fn sms_reminders_go_through_the_gateway_and_receipts_need_the_token() {
    if !have_python() {
        return;
    }
    let gw = Server::start("fake_sms_gateway.py", &["--token", GATEWAY_TOKEN]).await;
    let mut w = world().await;
    w.with_outbound(sms_outbound(gw.port));
    let r = w.put("/api/v1/notification-prefs", json!({"channels": ["sms"]}), &w.stranger_id).await;
    assert_eq!(r.code(), "phone_required", "no phone on the stranger's account");
    let r = w.put("/api/v1/notification-prefs", json!({"channels": ["sms"]}), &w.patient_id).await;
    assert_eq!((r.status, r.json()["channels"].clone()), (StatusCode::OK, json!(["sms"])), "{}", r.text);
    w.hypertension_plan().await;
    w.set_clock(at("2026-11-25T11:00:00Z"));
    w.run_jobs().await;
    let rem = w.inbox_of_kind(&w.patient_id, "task.reminder").await;
    let nid = rem[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(rem[0]["channels"], json!({"inapp": "sent", "sms": "pending"}));

    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 1);
    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 0);
    let sent = get_json(gw.port, "/messages").await;
    assert_eq!(sent.as_array().map(Vec::len), Some(1), "{sent}\n{}", gw.stderr());
    let dl = w.delivery(&nid, "sms").await;
    let m = &sent[0];
    assert_eq!((m["id"].as_str(), m["to"].as_str()), (Some(dl.id.as_str()), Some(PATIENT_PHONE)));
    let text = m["text"].as_str().unwrap();
    assert!(text.starts_with("【医桥】该测量血压了: 请测量血压"), "{text}");
    assert!(text.ends_with(&format!("/inbox/{nid}?via=sms")), "{text}");
    assert_eq!((dl.state.as_str(), dl.external_id.as_deref()), ("sent", m["message_id"].as_str()));

    // The gateway's receipt: refused without the right token, changing nothing.
    let receipt = json!({"id": dl.id, "message_id": m["message_id"], "status": "delivered"});
    assert_eq!(sms_receipt(&w, Some("wrong-token"), &receipt).await, StatusCode::UNAUTHORIZED);
    assert_eq!(sms_receipt(&w, None, &receipt).await, StatusCode::UNAUTHORIZED);
    assert_eq!(w.delivery(&nid, "sms").await.state, "sent");
    assert_eq!(
        sms_receipt(&w, Some(RECEIPT_TOKEN), &json!({"status": "delivered"})).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(sms_receipt(&w, Some(RECEIPT_TOKEN), &receipt).await, StatusCode::NO_CONTENT);
    let dl = w.delivery(&nid, "sms").await;
    assert_eq!((dl.state.as_str(), dl.delivered_at), ("delivered", Some(w.now())));
    assert_eq!(w.inbox_of_kind(&w.patient_id, "task.reminder").await[0]["channels"]["sms"], "delivered");
    // A late "failed" for the same id does not undo it.
    let failed = json!({"id": dl.id, "status": "failed", "error": "late"});
    assert_eq!(sms_receipt(&w, Some(RECEIPT_TOKEN), &failed).await, StatusCode::NO_CONTENT);
    assert_eq!(w.delivery(&nid, "sms").await.state, "delivered");
}

/// An SMS gateway so quick that its delivery receipt comes in while our `send` call is still
/// waiting for the answer (a receipt POSTed together with the 200, as fake_sms_gateway.py does).
struct QuickGateway(Arc<OnceLock<app::App>>);

impl Channel for QuickGateway {
    fn name(&self) -> &'static str {
        "sms"
    }

    fn send<'s, 'm, 'f>(
        &'s self,
        msg: &'m Outgoing,
    ) -> Pin<Box<dyn Future<Output = Result<Receipt, ChannelError>> + Send + 'f>>
    where
        's: 'f,
        'm: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            let app = self.0.get().unwrap();
            let receipt = json!({"id": msg.delivery_id, "message_id": "quick-1", "status": "delivered"});
            app::notify::sms_receipt(app, Some(RECEIPT_TOKEN), &receipt).await.unwrap();
            Ok(Receipt { external_id: Some("quick-1".into()), delivered: false })
        })
    }
}

#[tokio::test]
async fn an_sms_receipt_that_beats_the_send_outcome_is_kept() {
    let mut w = world().await;
    let handle = Arc::new(OnceLock::new());
    let mut out = Outbound::default().with(Arc::new(QuickGateway(handle.clone())));
    out.sms_receipt_token = Some(RECEIPT_TOKEN.into());
    w.with_outbound(out);
    handle.set(w.t.app.clone()).ok();
    assert_eq!(
        w.put("/api/v1/notification-prefs", json!({"channels": ["sms"]}), &w.patient_id).await.status,
        StatusCode::OK
    );
    w.hypertension_plan().await;
    w.set_clock(at("2026-11-25T11:00:00Z"));
    w.run_jobs().await;
    let nid = w.inbox_of_kind(&w.patient_id, "task.reminder").await[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(app::notify::deliver_due(&w.t.app).await.unwrap(), 1);
    let dl = w.delivery(&nid, "sms").await;
    assert_eq!(dl.external_id.as_deref(), Some("quick-1"));
    assert_eq!(
        (dl.state.as_str(), dl.delivered_at),
        ("delivered", Some(w.now())),
        "the receipt was overwritten: {dl:?}"
    );
}

fn template_input(systolic_target: f64, rrule: &str) -> Value {
    json!({
        "title": "高血压随访（本院版）",
        "measures": [{"kind": "blood-pressure", "rrule": rrule}],
        "thresholds": {
            "systolic_target": systolic_target, "diastolic_target": 80.0, "systolic_urgent": 180.0,
            "diastolic_urgent": 110.0, "glucose_low_urgent": 3.9, "glucose_high_urgent": 16.7,
            "glucose_fasting_target": 7.0, "glucose_post_meal_target": 10.0, "spo2_urgent": 90.0
        }
    })
}

#[tokio::test]
async fn institution_templates_shape_new_plans_and_an_ended_plan_stops_reminding() {
    let w = world().await;
    let admin = care_support::staff(&w.t, "admin-tpl", Role::InstitutionAdmin, &w.inst).await;
    let colleague = care_support::staff(&w.t, "dr-colleague", Role::Doctor, &w.inst).await;
    let (elsewhere_inst, _) = w.t.institution("Elsewhere Hospital").await;
    let elsewhere = care_support::staff(&w.t, "dr-elsewhere", Role::Doctor, &elsewhere_inst).await;
    let path = "/api/v1/plan-templates/hypertension";
    let mine = template_input(130.0, "FREQ=DAILY;BYHOUR=8;BYMINUTE=0");
    for who in [&w.patient_id, &w.doctor_id] {
        assert_eq!(w.put(path, mine.clone(), who).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(w.put(path, template_input(130.0, "FREQ=SOMETIMES"), &admin).await.code(), "plan_rrule");
    assert_eq!(w.put(path, template_input(190.0, "FREQ=DAILY"), &admin).await.code(), "plan_thresholds");
    let r = w.put(path, mine.clone(), &admin).await;
    assert_eq!((r.status, r.json()["customised"].as_bool()), (StatusCode::OK, Some(true)), "{}", r.text);

    let listed = w.get("/api/v1/plan-templates", &admin).await.json()["items"].clone();
    assert_eq!((listed[0]["key"].as_str(), listed[0]["customised"].as_bool()), (Some("hypertension"), Some(true)));
    assert_eq!(
        (listed[0]["measures"].clone(), listed[0]["thresholds"]["systolic_target"].as_f64()),
        (mine["measures"].clone(), Some(130.0))
    );
    assert_eq!((listed[1]["key"].as_str(), listed[1]["customised"].as_bool()), (Some("diabetes"), Some(false)));
    let theirs = w.get("/api/v1/plan-templates", &elsewhere).await.json()["items"][0].clone();
    assert_eq!(
        (theirs["customised"].as_bool(), theirs["thresholds"]["systolic_target"].as_f64()),
        (Some(false), Some(140.0))
    );
    assert_eq!(w.get("/api/v1/plan-templates", &w.patient_id).await.status, StatusCode::FORBIDDEN);

    // A doctor of the institution: a bad rule is refused; the template gives the changed plan.
    let plans = format!("/api/v1/patients/{}/plans", w.patient_id);
    let bad = json!({"template": "hypertension", "measures": [{"kind": "blood-pressure", "rrule": "FREQ=SOMETIMES"}]});
    let r = w.post(&plans, bad, &w.doctor_id).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "plan_rrule".to_owned()));
    let plan = w.hypertension_plan().await;
    assert_eq!((plan["title"].clone(), plan["measures"].clone()), (mine["title"].clone(), mine["measures"].clone()));
    assert_eq!(plan["thresholds"], mine["thresholds"]);
    let tasks = w.tasks(t0(), t0() + Duration::days(3)).await;
    let expected: Vec<_> = ["2026-11-26T00:00:00Z", "2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z"].map(at).to_vec();
    assert_eq!(care_support::dues(&tasks), expected, "08:00 Shanghai, once a day, nothing else");
    // Its target (130): three readings of 135 in a week now make a trend warning.
    for days_ago in [2, 1, 0] {
        let body = json!({"type": "blood-pressure", "values": {"systolic": 135, "diastolic": 78},
            "measured_at": w.now() - Duration::days(days_ago)});
        let r = w.reading(&w.patient_id, body).await;
        let alert = r.json()["alert"]["rule"].as_str().map(str::to_owned);
        assert_eq!(alert.as_deref(), (days_ago == 0).then_some("above_target_trend"), "{}", r.text);
    }

    // Ending the plan (its doctor only) cancels what is pending; no reminder fires afterwards.
    let pid = plan["id"].as_str().unwrap();
    assert_eq!(w.post(&format!("/api/v1/plans/{pid}/end"), json!({}), &colleague).await.status, StatusCode::NOT_FOUND);
    let r = w.post(&format!("/api/v1/plans/{pid}/end"), json!({}), &w.doctor_id).await;
    assert_eq!((r.status, r.json()["state"].as_str()), (StatusCode::OK, Some("ended")), "{}", r.text);
    let after = w.tasks(t0(), t0() + Duration::days(20)).await;
    assert_eq!(after.len(), 14);
    assert!(after.iter().all(|t| t["state"] == "cancelled"), "{after:?}");
    w.walk_to(t0() + Duration::days(10), Duration::hours(12)).await;
    assert!(w.notifications(&w.patient_id, "task.reminder").await.is_empty(), "an ended plan reminds nobody");
    assert_eq!(w.get(&plans, &w.patient_id).await.json()["items"], json!([]));
    assert!(w.tasks(t0(), t0() + Duration::days(30)).await.iter().all(|t| t["state"] == "cancelled"));
}

/// Audit events of `action` about `patient`.
async fn audited(w: &World, action: &str) -> Vec<store::entity::audit_event::Model> {
    let filter = store::repo::audit::AuditFilter {
        action: Some(action.into()),
        subject_patient_id: Some(w.patient_id.clone()),
        limit: 100,
        ..Default::default()
    };
    store::repo::audit::list(&w.t.app.store.db, &filter).await.unwrap()
}

/// The part of the chart plotters drew (before the text labels and the legend).
fn plot_part(svg: &str) -> &str {
    &svg[..svg.find(r#"<g class="axis-labels""#).unwrap_or(svg.len())]
}

#[tokio::test]
async fn the_blood_pressure_chart_marks_every_reading_and_the_urgent_one() {
    let w = world().await;
    w.hypertension_plan().await;
    let now = w.now();
    for (days_ago, sys, dia) in [(20, 128.0, 82.0), (10, 135.0, 85.0), (5, 190.0, 115.0), (1, 125.0, 80.0)] {
        let body = json!({"type": "blood-pressure", "values": {"systolic": sys, "diastolic": dia}, "measured_at": now - Duration::days(days_ago)});
        assert_eq!(w.reading(&w.patient_id, body).await.status, StatusCode::CREATED);
    }
    let path = format!("/api/v1/patients/{}/charts/blood-pressure", w.patient_id);
    let r = w.get(&format!("{path}?days=90"), &w.patient_id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.headers[header::CONTENT_TYPE], "image/svg+xml; charset=utf-8");
    assert_eq!(
        r.headers[header::CACHE_CONTROL],
        "no-store, private",
        "issue 11 item 7: one value on every authenticated answer"
    );
    let svg = &r.text;
    assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#), "{svg}");
    let china_day = |d: chrono::DateTime<chrono::Utc>| (d + Duration::hours(8)).format("%Y-%m-%d").to_string();
    let (d0, d1) = (china_day(now - Duration::days(90)), china_day(now));
    assert!(svg.contains(&format!("<title>血压趋势图，{d0} 至 {d1}，共 4 次读数</title>")), "{svg}");
    let plot = plot_part(svg);
    assert_eq!(plot.matches(r#"r="4""#).count(), 8, "a point per value: systolic and diastolic of 4 readings");
    let ring = |colour: &str| format!(r#"r="9" opacity="1" fill="none" stroke="{colour}""#);
    assert_eq!(
        (plot.matches(&ring("#D92D20")).count(), plot.matches(&ring("#F79009")).count()),
        (1, 0),
        "one urgent ring"
    );
    assert!(
        svg.contains(">收缩压<") && svg.contains(">紧急<") && svg.contains(">目标范围<") && !svg.contains(">Systolic<")
    );
    assert!(!svg.contains("<script") && !svg.contains("href"));

    let en = w.get(&format!("{path}?days=90&lang=en"), &w.doctor_id).await;
    assert_eq!(en.status, StatusCode::OK);
    for label in [">Systolic<", ">Diastolic<", ">Target range<", ">Urgent<", ">mmHg<"] {
        assert!(en.text.contains(label), "missing {label}");
    }
    assert!(en.text.contains(&format!("<title>Blood pressure trend, {d0} to {d1}, 4 readings</title>")));
    assert!(!en.text.contains(">收缩压<"));
    // A week: the last two readings, the urgent one among them.
    let week = w.get(&format!("{path}?days=7"), &w.patient_id).await.text;
    assert_eq!(
        (plot_part(&week).matches(r#"r="4""#).count(), plot_part(&week).matches(&ring("#D92D20")).count()),
        (4, 1)
    );

    assert_eq!(w.get(&format!("{path}?days=90"), &w.stranger_id).await.status, StatusCode::NOT_FOUND);
    let r = w.get(&format!("/api/v1/patients/{}/charts/cholesterol", w.patient_id), &w.patient_id).await;
    assert_eq!(r.code(), "reading_type");
    // Each view shown is audited, with who looked and how many readings it showed.
    let (refused, views): (Vec<_>, Vec<_>) =
        audited(&w, "observation.chart").await.into_iter().partition(|e| e.outcome == "denied");
    assert_eq!(views.len(), 3, "{views:?}");
    // Issue 11 item 11: the stranger's refused look is audited too, naming the patient.
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].actor_user_id.as_deref(), Some(w.stranger_id.as_str()));
    let outcomes: Vec<&str> = views.iter().rev().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["4", "4", "2"]);
    assert_eq!(views[1].actor_user_id.as_deref(), Some(w.doctor_id.as_str()));
    assert!(views.iter().all(|e| e.resource.as_deref() == Some("blood-pressure")));
}
