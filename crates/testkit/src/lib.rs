//! Test harness: a [`TestApp`] with the real router in process, a fake clock, and a fresh database
//! per test — SQLite in a temp dir, or a new PostgreSQL database when `YIQIAO_TEST_POSTGRES` holds an
//! admin URL (CI sets it, so every test runs on both engines).

#![expect(clippy::expect_used, reason = "test harness: a failed set-up must abort the test loudly")]

pub mod media;

use std::sync::Arc;

use app::{App, AppConfig, Clock, FakeClock, RequestCtx};
use axum::{Router, body::Body};
use chrono::{TimeZone, Utc};
use crypto::{CipherKind, KeyRing};
use domain::Role;
use http::{Method, Request, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use store::Store;
use tower::ServiceExt;

pub const PASSWORD: &str = "Test-pass-2026";

/// A response as the tests see it.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub text: String,
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get(http::header::LOCATION).and_then(|v| v.to_str().ok())
    }
}

pub struct TestApp {
    pub app: App,
    pub router: Router,
    pub clock: Arc<FakeClock>,
    pub db_url: String,
    dir: tempfile::TempDir,
}

/// Builds a valid GB 11643 resident ID from a 17-digit body.
pub fn resident_id(body17: &str) -> String {
    format!("{body17}{}", domain::gb11643_check_char(body17).unwrap_or('0'))
}

/// A fresh valid resident ID (born 1980, unique sequence).
pub fn fresh_resident_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 1000;
    let d = (uuid::Uuid::new_v4().as_u128() % 28) + 1;
    resident_id(&format!("11010519800{}{:02}{:03}", 1 + (n % 9), d, n))
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_cipher(CipherKind::Aes256Gcm).await
    }

    pub async fn with_cipher(cipher: CipherKind) -> Self {
        Self::build(cipher, |_| {}).await
    }

    /// A test app whose configuration `tune` adjusts (small limits, short timeouts).
    pub async fn with_config(tune: impl FnOnce(&mut AppConfig)) -> Self {
        Self::build(CipherKind::Aes256Gcm, tune).await
    }

    async fn build(cipher: CipherKind, tune: impl FnOnce(&mut AppConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db_url = fresh_database_url(dir.path()).await;
        Self::on_database_tuned(db_url, KeyRing::generate(cipher).expect("keys"), dir, tune).await
    }

    /// A test app on a database that may already hold data (upgrade tests: rows written by an older
    /// version), with its key ring: migrates and binds the ring as a start does. `dir` holds the
    /// SQLite file (if any) and the blobs.
    pub async fn on_database(db_url: String, keys: KeyRing, dir: tempfile::TempDir) -> Self {
        Self::on_database_tuned(db_url, keys, dir, |_| {}).await
    }

    async fn on_database_tuned(
        db_url: String,
        keys: KeyRing,
        dir: tempfile::TempDir,
        tune: impl FnOnce(&mut AppConfig),
    ) -> Self {
        let store = Store::connect(&db_url).await.expect("connect");
        store.migrate().await.expect("migrate");
        let clock = Arc::new(FakeClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).single().expect("time")));
        // As `yiqiao serve` does: bind the key ring to the database (and seal the audit genesis).
        app::keys::check_binding_at(&store, &keys, clock.now()).await.expect("bind key ring");
        let mut config = AppConfig { demo: false, ..AppConfig::default() };
        tune(&mut config);
        let blobs = store::blob::BlobStore::local(&dir.path().join("blobs")).expect("blob dir");
        let app = App::new(store, Arc::new(keys), clock.clone(), config, blobs);
        let router = web::router(app.clone(), false);
        Self { app, router, clock, db_url, dir }
    }

    /// Where this app's encrypted attachments live.
    pub fn blob_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("blobs")
    }

    pub fn is_postgres(&self) -> bool {
        self.app.store.backend == store::Backend::Postgres
    }

    /// Sends one request through the real router.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, token: Option<&str>) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b.header(http::header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        self.raw(req).await
    }

    /// [`TestApp::send`] from a client address (per-address throttles see it as `axum::serve` does).
    pub async fn send_from(
        &self,
        addr: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let mut req = match body {
            Some(v) => b.header(http::header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        let peer: std::net::SocketAddr = format!("{addr}:40000").parse().expect("client address");
        req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        self.raw(req).await
    }

    /// Serves the router on a loopback port (for WebSocket tests); the server stops with the test.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = self.router.clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        addr
    }

    pub async fn raw(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.expect("router");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
        Resp { status, headers, text: String::from_utf8_lossy(&bytes).into_owned(), bytes: bytes.to_vec() }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.send(Method::GET, path, None, token).await
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Resp {
        self.send(Method::POST, path, Some(body), token).await
    }

    /// Registers a patient through the API; returns the user id.
    pub async fn register_patient(&self, login: &str, id_number: &str) -> String {
        let r = self
            .post(
                "/api/v1/auth/register/patient",
                serde_json::json!({
                    "login": login, "password": PASSWORD, "name": "测试患者", "phone": null,
                    "id_kind": "resident_id", "id_number": id_number,
                    "accept_privacy": true, "accept_sensitive": true
                }),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "register {login}: {}", r.text);
        r.json()["user_id"].as_str().expect("id").to_owned()
    }

    pub async fn login(&self, login: &str, password: &str, totp: Option<&str>) -> Resp {
        self.post("/api/v1/auth/login", serde_json::json!({"login": login, "password": password, "totp": totp}), None)
            .await
    }

    /// Logs in and returns the bearer token (panics on failure).
    pub async fn token(&self, login: &str, totp: Option<&str>) -> String {
        let r = self.login(login, PASSWORD, totp).await;
        assert_eq!(r.status, StatusCode::OK, "login {login}: {}", r.text);
        r.json()["token"].as_str().expect("token").to_owned()
    }

    /// The TOTP code for `secret` at the fake clock's current time.
    pub fn totp(&self, secret: &[u8]) -> String {
        let now = u64::try_from(self.app.clock.now().timestamp()).unwrap_or(0);
        app::account::totp_for_secret(secret, "x").generate(now).to_string()
    }

    /// Creates an account with `role` (TOTP enrolled for staff, secret returned) without the API.
    pub async fn user_with_role(&self, login: &str, role: Role, institution_id: Option<String>) -> (String, Vec<u8>) {
        let id = app::account::register_doctor(
            &self.app,
            &RequestCtx::default(),
            app::account::RegisterDoctor {
                login: login.into(),
                password: PASSWORD.into(),
                name: "测试人员".into(),
                phone: None,
                accept_privacy: true,
                accept_sensitive: true,
                locale: "zh-CN".into(),
            },
        )
        .await
        .expect("register staff");
        let db = &self.app.store.db;
        store::repo::user::revoke_role(db, &id, "doctor").await.expect("revoke");
        store::repo::user::grant_role(db, &id, role.as_str(), institution_id, self.app.clock.now())
            .await
            .expect("grant");
        let secret = format!("secret-for-{login}").into_bytes();
        if role.is_staff() {
            let mut u = store::repo::user::get(db, &id).await.expect("user");
            u.totp_secret_enc = Some(
                self.app
                    .keys
                    .current()
                    .encrypt(&secret, &crypto::Aad { table: "users", column: "totp_secret_enc", row_id: &id })
                    .expect("enc"),
            );
            u.totp_enabled = true;
            store::repo::user::update(db, u).await.expect("update");
        }
        (id, secret)
    }

    /// Marks a doctor as verified in `department` (what an admin's approval does).
    pub async fn approve_doctor(&self, user_id: &str, institution_id: &str, department_id: &str) {
        self.insert_verification(user_id, institution_id, department_id, "approved").await;
    }

    /// A doctor's verification request waiting for review (without the uploaded documents); its id.
    pub async fn pending_verification(&self, user_id: &str, institution_id: &str, department_id: &str) -> String {
        self.insert_verification(user_id, institution_id, department_id, "pending").await
    }

    async fn insert_verification(
        &self,
        user_id: &str,
        institution_id: &str,
        department_id: &str,
        status: &str,
    ) -> String {
        let id = domain::VerificationId::new().to_string();
        let licence = format!("{:015}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000_000);
        store::repo::verification::insert(
            &self.app.store.db,
            store::entity::doctor_verification::Model {
                licence_number_enc: self
                    .app
                    .keys
                    .current()
                    .encrypt(
                        licence.as_bytes(),
                        &crypto::Aad { table: "doctor_verifications", column: "licence_number_enc", row_id: &id },
                    )
                    .expect("enc"),
                licence_bidx: self.app.keys.current().blind_index("licence", &licence),
                id: id.clone(),
                user_id: user_id.to_owned(),
                title: "attending".into(),
                institution_id: institution_id.to_owned(),
                department_id: department_id.to_owned(),
                specialties: String::new(),
                licence_file_id: String::new(),
                employment_file_id: String::new(),
                status: status.into(),
                reviewer_id: None,
                review_reason_enc: None,
                submitted_at: self.app.clock.now(),
                reviewed_at: (status != "pending").then(|| self.app.clock.now()),
            },
        )
        .await
        .expect("verification");
        id
    }

    /// A session for `user_id` created directly (fast; second factor already passed).
    pub async fn session_for(&self, user_id: &str) -> String {
        use sha2::Digest;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let now = self.app.clock.now();
        store::repo::session::insert(
            &self.app.store.db,
            store::entity::session::Model {
                id: uuid::Uuid::now_v7().to_string(),
                token_hash: hex::encode(sha2::Sha256::digest(token.as_bytes())),
                user_id: user_id.to_owned(),
                csrf_token: "csrf-test".into(),
                kind: "api".into(),
                second_factor: true,
                step_up_at: None,
                created_at: now,
                last_seen_at: now,
                expires_at: now + chrono::Duration::hours(12),
                step_up_failures: 0,
            },
        )
        .await
        .expect("session");
        token
    }

    /// A session for `user_id` that has also just stepped up (role grants, exports).
    pub async fn stepped_up_session(&self, user_id: &str) -> String {
        use sha2::Digest;
        let token = self.session_for(user_id).await;
        let db = &self.app.store.db;
        let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
        let s = store::repo::session::find_by_token_hash(db, &hash).await.expect("find").expect("session");
        store::repo::session::set_step_up(db, &s.id, self.app.clock.now()).await.expect("step up");
        token
    }

    /// Runs raw SQL (tamper tests).
    pub async fn exec(&self, sql: &str) {
        self.app.store.db.execute_unprepared(sql).await.expect("sql");
    }

    pub async fn audit_report(&self) -> store::repo::audit::VerifyReport {
        store::repo::audit::verify(&self.app.store.db, &self.app.keys.current()).await.expect("verify")
    }

    /// The first institution and department created by [`TestApp::institution`].
    pub async fn institution(&self, name: &str) -> (String, String) {
        let inst = domain::InstitutionId::new().to_string();
        let dept = domain::DepartmentId::new().to_string();
        let now = self.app.clock.now();
        store::repo::institution::insert(
            &self.app.store.db,
            store::entity::institution::Model {
                id: inst.clone(),
                name_zh: name.into(),
                name_en: name.into(),
                kind: "tertiary_hospital".into(),
                tier: 3,
                region_code: "110105".into(),
                created_at: now,
                sla_priority_secs: None,
                sla_normal_secs: None,
            },
        )
        .await
        .expect("institution");
        store::repo::institution::insert_department(
            &self.app.store.db,
            store::entity::department::Model {
                id: dept.clone(),
                institution_id: inst.clone(),
                code: "cardiology".into(),
                name_zh: "心内科".into(),
                name_en: "Cardiology".into(),
                created_at: now,
            },
        )
        .await
        .expect("department");
        (inst, dept)
    }
}

/// A new empty database: a SQLite file in `dir`, or a PostgreSQL database when `YIQIAO_TEST_POSTGRES`
/// holds an admin URL.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("YIQIAO_TEST_POSTGRES") {
        Ok(admin) if !admin.is_empty() => fresh_pg_database(&admin).await,
        _ => format!("sqlite://{}/test.sqlite?mode=rwc", dir.display()),
    }
}

/// Creates an empty database on the PostgreSQL server of `admin_url`; returns its URL.
pub async fn fresh_pg_database(admin_url: &str) -> String {
    let name = format!("yiqiao_t_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(admin_url).await.expect("postgres admin connection");
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create database");
    admin.close().await.ok();
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    format!("{base}/{name}")
}
