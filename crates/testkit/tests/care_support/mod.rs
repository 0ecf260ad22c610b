//! Shared fixtures of the chronic-care follow-up tests (`care.rs`, `care_scheduler.rs`): a doctor who
//! cares for a patient (a consultation between them), fresh sessions at whatever time the fake clock
//! shows, HTTP helpers, job and delivery runs, direct reads of notifications and deliveries, and the
//! SMTP sink / fake SMS gateway processes of `tests/support`.

#![allow(dead_code, reason = "shared by two test binaries; each uses a part")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Utc};
use domain::Role;
use http::{Method, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use store::entity::{notification as n, notification_delivery as d};
use testkit::{PASSWORD, Resp, TestApp, fresh_resident_id};

/// The fake clock's start (`TestApp`): Wednesday 2026-11-25 08:00 UTC, 16:00 in Shanghai.
pub const T0: &str = "2026-11-25T08:00:00Z";
/// The patient's mobile number (SMS reminders).
pub const PATIENT_PHONE: &str = "13800138000";
/// How the patients are named at registration (notifications name them).
pub const PATIENT_NAME: &str = "测试患者";

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s}: {e}")).with_timezone(&Utc)
}

pub fn t0() -> DateTime<Utc> {
    at(T0)
}

/// An instant as a query parameter (`Z`, no `+` to escape).
pub fn q(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A JSON timestamp field as an instant.
pub fn time_of(v: &Value) -> DateTime<Utc> {
    at(v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}")))
}

pub struct World {
    pub t: TestApp,
    pub inst: String,
    pub dept: String,
    pub doctor_id: String,
    pub patient_id: String,
    /// A patient who has nothing to do with the doctor or the patient.
    pub stranger_id: String,
}

/// A verified doctor of "Follow-up Hospital" and a patient (with a phone) who consulted them.
pub async fn world() -> World {
    let t = TestApp::new().await;
    let (inst, dept) = t.institution("Follow-up Hospital").await;
    let doctor_id = staff(&t, "dr-care", Role::Doctor, &inst).await;
    t.approve_doctor(&doctor_id, &inst, &dept).await;
    let patient_id = register(&t, "pat-care", Some(PATIENT_PHONE)).await;
    let stranger_id = register(&t, "pat-stranger", None).await;
    let w = World { t, inst, dept, doctor_id, patient_id, stranger_id };
    w.consults(&w.patient_id.clone()).await;
    w
}

/// Staff with `role` in `inst` (no API: see `TestApp::user_with_role`).
pub async fn staff(t: &TestApp, login: &str, role: Role, inst: &str) -> String {
    t.user_with_role(login, role, Some(inst.to_owned())).await.0
}

/// Registers a patient through the API, with a phone when given; returns the user id.
pub async fn register(t: &TestApp, login: &str, phone: Option<&str>) -> String {
    let r = t
        .post(
            "/api/v1/auth/register/patient",
            json!({
                "login": login, "password": PASSWORD, "name": PATIENT_NAME, "phone": phone,
                "id_kind": "resident_id", "id_number": fresh_resident_id(),
                "accept_privacy": true, "accept_sensitive": true
            }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "register {login}: {}", r.text);
    r.json()["user_id"].as_str().unwrap_or_default().to_owned()
}

impl World {
    /// Sends a request as `user` through a session opened now (sessions idle out as the clock moves).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>, user: &str) -> Resp {
        let token = self.t.session_for(user).await;
        self.t.send(method, path, body, Some(&token)).await
    }

    pub async fn get(&self, path: &str, user: &str) -> Resp {
        self.call(Method::GET, path, None, user).await
    }

    pub async fn post(&self, path: &str, body: Value, user: &str) -> Resp {
        self.call(Method::POST, path, Some(body), user).await
    }

    pub async fn put(&self, path: &str, body: Value, user: &str) -> Resp {
        self.call(Method::PUT, path, Some(body), user).await
    }

    /// `patient` opens a consultation with the world's doctor, which makes the doctor part of their care.
    pub async fn consults(&self, patient: &str) {
        let body = json!({"doctor": self.doctor_id, "complaint": "高血压复诊，想加入随访"});
        let r = self.post("/api/v1/consultations", body, patient).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }

    /// The doctor starts a plan for `patient`; returns the plan.
    pub async fn plan_for(&self, patient: &str, body: Value) -> Value {
        let r = self.post(&format!("/api/v1/patients/{patient}/plans"), body, &self.doctor_id).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()
    }

    /// The doctor starts the built-in hypertension plan for the world's patient.
    pub async fn hypertension_plan(&self) -> Value {
        self.plan_for(&self.patient_id, json!({"template": "hypertension"})).await
    }

    /// `patient`'s tasks due in `[from, to)`, as the patient sees them.
    pub async fn tasks_of(&self, patient: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Value> {
        let r = self.get(&format!("/api/v1/patients/{patient}/tasks?from={}&to={}", q(from), q(to)), patient).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()["items"].as_array().cloned().unwrap_or_default()
    }

    /// The world's patient's tasks due in `[from, to)`.
    pub async fn tasks(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Value> {
        self.tasks_of(&self.patient_id, from, to).await
    }

    /// `user`'s inbox (the newest 50) and its unread count.
    pub async fn inbox(&self, user: &str) -> (Vec<Value>, u64) {
        let r = self.get("/api/v1/notifications", user).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let v = r.json();
        (v["items"].as_array().cloned().unwrap_or_default(), v["unread"].as_u64().unwrap_or(u64::MAX))
    }

    /// `user`'s inbox entries of `kind`.
    pub async fn inbox_of_kind(&self, user: &str, kind: &str) -> Vec<Value> {
        self.inbox(user).await.0.into_iter().filter(|n| n["kind"] == kind).collect()
    }

    /// Every stored notification of `kind` for `user` (no 50-item page), oldest first.
    pub async fn notifications(&self, user: &str, kind: &str) -> Vec<n::Model> {
        n::Entity::find()
            .filter(n::Column::UserId.eq(user))
            .filter(n::Column::Kind.eq(kind))
            .order_by_asc(n::Column::CreatedAt)
            .all(&self.t.app.store.db)
            .await
            .unwrap_or_else(|e| panic!("notifications: {e}"))
    }

    /// The deliveries of a notification on `channel`.
    pub async fn delivery(&self, notification_id: &str, channel: &str) -> d::Model {
        let all = d::Entity::find()
            .filter(d::Column::NotificationId.eq(notification_id))
            .filter(d::Column::Channel.eq(channel))
            .all(&self.t.app.store.db)
            .await
            .unwrap_or_else(|e| panic!("deliveries: {e}"));
        assert_eq!(all.len(), 1, "one {channel} delivery of {notification_id}: {all:?}");
        all.into_iter().next().unwrap_or_else(|| unreachable!())
    }

    pub fn set_clock(&self, to: DateTime<Utc>) {
        self.t.clock.set(to);
    }

    pub fn now(&self) -> DateTime<Utc> {
        app::Clock::now(&*self.t.clock)
    }

    /// Runs due jobs until none is left; returns how many ran.
    pub async fn run_jobs(&self) -> usize {
        run_jobs(&self.t.app).await
    }

    /// Moves the clock to `to` a step at a time (running due jobs after each step), as a server that
    /// never stopped would have.
    pub async fn walk_to(&self, to: DateTime<Utc>, step: chrono::Duration) {
        while self.now() < to {
            self.set_clock((self.now() + step).min(to));
            self.run_jobs().await;
        }
    }

    /// Records a reading by hand as `user` for the world's patient.
    pub async fn reading(&self, user: &str, body: Value) -> Resp {
        self.post(&format!("/api/v1/patients/{}/readings", self.patient_id), body, user).await
    }

    /// Replaces the app's outbound channels (e-mail, SMS), and the router with it.
    pub fn with_outbound(&mut self, outbound: app::notify::Outbound) {
        self.t.app = self.t.app.clone().with_outbound(outbound);
        self.t.router = web::router(self.t.app.clone(), false);
    }
}

/// Runs due jobs on `app` until none is left; returns how many ran.
pub async fn run_jobs(app: &app::App) -> usize {
    let mut total = 0;
    loop {
        let n = app::jobs::run_due(app).await.unwrap_or_else(|e| panic!("run_due: {e:?}"));
        if n == 0 {
            return total;
        }
        total += n;
    }
}

/// A blood pressure reading entered by hand, measured now.
pub fn bp(systolic: f64, diastolic: f64) -> Value {
    json!({"type": "blood-pressure", "values": {"systolic": systolic, "diastolic": diastolic}, "unit": "mmHg"})
}

/// Tasks of one measure (`blood-pressure`, `weight`) or kind (`visit`).
pub fn of(tasks: &[Value], what: &str) -> Vec<Value> {
    tasks.iter().filter(|t| t["measure"] == what || t["kind"] == what).cloned().collect()
}

pub fn dues(tasks: &[Value]) -> Vec<DateTime<Utc>> {
    tasks.iter().map(|t| time_of(&t["due_at"])).collect()
}

// ---------------------------------------------------------------------------------------------
// Helper processes (tests/support): the SMTP sink and the fake SMS gateway.

fn support(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/support").join(script)
}

/// False (after saying why) when python3 is not installed: the caller skips its test.
pub fn have_python() -> bool {
    let ok = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: python3 is not installed; the e-mail and SMS tests need it");
    }
    ok
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_or(9, |a| a.port())
}

/// A helper process for one test, stopped when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Runs `python3 <script> --port P <args>` and waits (at most 10 s) until P accepts connections.
    pub async fn start(script: &str, args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let port = free_port();
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap_or_else(|e| panic!("log: {e}"));
        let child = Command::new("python3")
            .arg(support(script))
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {script}: {e}"));
        let mut server = Server { child, port, dir };
        let deadline = Instant::now() + StdDuration::from_secs(10);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{script} exited ({status}) before listening:\n{}", server.stderr());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            assert!(Instant::now() < deadline, "{script} not listening on {port} after 10 s:\n{}", server.stderr());
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

/// The SMTP sink (aiosmtpd) and the directory it writes what it receives to.
pub async fn smtp_sink() -> (Server, tempfile::TempDir) {
    let ok = Command::new("python3").args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success());
    assert!(ok, "python3 lacks aiosmtpd: python3 -m pip install aiosmtpd (scripts/test installs it)");
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dir = out.path().to_str().unwrap_or_default().to_owned();
    (Server::start("smtp_sink.py", &["--out", &dir]).await, out)
}

/// The e-mails the sink received, as Python's e-mail parser decoded them, in arrival order.
pub fn received_mail(out: &Path) -> Vec<Value> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(out)
        .map(|rd| {
            rd.filter_map(|e| {
                let path = e.ok()?.path();
                let k = path.file_name()?.to_str()?.strip_suffix(".json")?.parse().ok()?;
                Some((k, path))
            })
            .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .map(|(_, p)| serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_default()).unwrap_or(Value::Null))
        .collect()
}

/// An SMTP channel to `127.0.0.1:port` (plain, as to a local relay).
pub fn smtp_channel(port: u16) -> std::sync::Arc<dyn app::notify::channels::Channel> {
    let cfg = app::notify::channels::SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: "none".into(),
        username: None,
        password: None,
        from: "医桥 Yiqiao <noreply@hospital.example>".into(),
        timeout_secs: Some(5),
    };
    std::sync::Arc::new(app::notify::channels::SmtpChannel::new(&cfg).unwrap_or_else(|e| panic!("smtp: {e}")))
}

/// `GET <path>` on a plain-HTTP server on 127.0.0.1, as JSON.
pub async fn get_json(port: u16, path: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap_or_else(|e| panic!("{e}"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap_or(Value::Null)
}
