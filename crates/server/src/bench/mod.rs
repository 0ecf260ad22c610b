//! `yiqiao bench`: a bounded load test of the real router over loopback HTTP/1.1.
//!
//! The server (same router, middleware and use cases as `yiqiao serve`) runs in this process on
//! `127.0.0.1:<random port>` over a throwaway SQLite file (or an empty database named by
//! `--database`). One patient is registered, then each scenario drives N keep-alive connections
//! for a fixed time and records per-request latency. The load client is written by hand over
//! [`TcpStream`] (no extra dependencies); it shares the process, the runtime and the CPUs with the
//! server, so the CPU and memory figures cover both. Method and results: `docs/BENCHMARKS.md`.

mod chat;
mod fixture;
mod search;
mod signal;
mod wire;

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use wire::Conn;

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::{JoinHandle, JoinSet},
};

const DEFAULT_SECS: u64 = 10;
/// The chat scenario's open consultations (S2 asks for 1,000).
const DEFAULT_CONSULTATIONS: usize = 1_000;
const SMOKE_CONSULTATIONS: usize = 10;
/// Messages seeded for the search scenario (S5's documented run is 1M; 10M is the goal's scale).
const DEFAULT_MESSAGES: usize = 1_000_000;
const SMOKE_MESSAGES: usize = 2_000;
const DEFAULT_CLIENTS: usize = 32;
const SMOKE_SECS: u64 = 2;
const SMOKE_CLIENTS: usize = 4;
/// One request may take at most this long; a scenario ends at most this long after its deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Caps the latency samples kept per scenario (8 bytes each).
const MAX_REQUESTS_PER_SCENARIO: usize = 5_000_000;
/// A client gives up after this many transport failures in a row (server gone, port closed).
const MAX_CONSECUTIVE_FAILURES: u32 = 20;
/// `utime`/`stime` in `/proc/self/stat` count clock ticks; USER_HZ is 100 on Linux.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

const BENCH_LOGIN: &str = "bench-patient";
const BENCH_PASSWORD: &str = "Bench-Passw0rd!";
/// Region 110105 (Beijing, Chaoyang), born 1985-03-12, sequence 001; the check character is computed.
const BENCH_ID_BODY: &str = "11010519850312001";

/// Options of `yiqiao bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Short run for CI: 2 s per scenario and 4 clients unless given; fails on any error.
    #[arg(long)]
    pub smoke: bool,
    /// Seconds of load per scenario [default: 10, or 2 with --smoke].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub duration_secs: Option<u64>,
    /// Concurrent keep-alive connections per scenario [default: 32, or 4 with --smoke].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub clients: Option<u16>,
    /// `sqlite://…` or `postgres://…` of an EMPTY database (a throwaway key ring is bound to it).
    /// Default: a fresh SQLite file in a temporary directory, removed afterwards.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Which scenarios to run [default: http, or all with --smoke].
    #[arg(long, value_enum)]
    pub scenario: Option<ScenarioSet>,
    /// Chat: open consultations [default: 1000, or 10 with --smoke].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub consultations: Option<u32>,
    /// Chat: offered load in messages/s. Default: a run as fast as answers come, then one at
    /// half that rate (the S2 latency goal is stated at half load).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Search: messages to seed [default: 1000000, or 2000 with --smoke].
    #[arg(long, value_parser = clap::value_parser!(u64).range(100..=100_000_000))]
    pub messages: Option<u64>,
}

/// Groups of scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioSet {
    /// healthz, institutions, me, login.
    Http,
    /// S2: messages over HTTP, delivered on the other party's WebSocket.
    Chat,
    /// S5: `GET /api/v1/search` over seeded messages.
    Search,
    /// F3: call signaling relayed between the two participants' WebSockets.
    Signal,
    /// All of the above.
    All,
}

/// Runs every scenario, prints the table, and fails when a scenario had no successful request,
/// more than 1 % errors, or (with `--smoke`) any error at all.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let BenchArgs { smoke, duration_secs, clients, database, scenario, consultations, rate, messages } = args;
    let set = scenario.unwrap_or(if smoke { ScenarioSet::All } else { ScenarioSet::Http });
    let duration = Duration::from_secs(duration_secs.unwrap_or(if smoke { SMOKE_SECS } else { DEFAULT_SECS }));
    let clients = clients.map_or(if smoke { SMOKE_CLIENTS } else { DEFAULT_CLIENTS }, usize::from);
    // Declared before the server so the directory outlives the database pool.
    let (url, _scratch) = if let Some(url) = database {
        (url, None)
    } else {
        let dir = ScratchDir::create()?;
        (dir.sqlite_url(), Some(dir))
    };
    let server = Server::start(&url).await?;
    println!(
        "yiqiao bench: {} on {} ({}), {} s per scenario, {clients} clients, {} CPUs visible",
        if smoke { "smoke run" } else { "full run" },
        server.addr,
        crate::config::redact_url(&url),
        duration.as_secs(),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
    );
    let dir = seed(&server.app).await;
    let outcome = match dir {
        Ok(dir) => {
            let sizes = Sizes {
                consultations: consultations
                    .map_or(if smoke { SMOKE_CONSULTATIONS } else { DEFAULT_CONSULTATIONS }, |n| {
                        usize::try_from(n).unwrap_or(usize::MAX)
                    }),
                messages: messages.map_or(if smoke { SMOKE_MESSAGES } else { DEFAULT_MESSAGES }, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
                rate,
            };
            drive_all(&server, &dir, set, duration, clients, &sizes).await
        }
        Err(e) => Err(e),
    };
    server.stop().await;
    let (reports, chats, problems) = outcome?;
    if !reports.is_empty() {
        print_table(&reports);
    }
    if !chats.is_empty() {
        print_chat_table(&chats);
    }
    let mut failures: Vec<String> = problems;
    if let Err(e) = verdict(&reports, smoke) {
        failures.push(format!("{e:#}"));
    }
    failures.extend(chat_verdict(&chats, smoke));
    if failures.is_empty() { Ok(()) } else { bail!("{}", failures.join("; ")) }
}

/// Sizes of the chat and search scenarios.
struct Sizes {
    consultations: usize,
    messages: usize,
    rate: Option<f64>,
}

type Outcome = (Vec<Report>, Vec<chat::ChatReport>, Vec<String>);

async fn drive_all(
    server: &Server,
    dir: &Directory,
    set: ScenarioSet,
    duration: Duration,
    clients: usize,
    sizes: &Sizes,
) -> anyhow::Result<Outcome> {
    let mut reports = Vec::new();
    let mut chats = Vec::new();
    let mut problems = Vec::new();
    if matches!(set, ScenarioSet::Http | ScenarioSet::All) {
        reports.extend(drive(server, duration, clients).await?);
    }
    if matches!(set, ScenarioSet::Chat | ScenarioSet::All) {
        let (c, p) = drive_chat(server, dir, duration, clients, sizes).await?;
        chats.extend(c);
        problems.extend(p);
    }
    if matches!(set, ScenarioSet::Search | ScenarioSet::All) {
        eprintln!("  search: seeding {} messages…", sizes.messages);
        let seeded = search::seed(&server.app, dir, sizes.messages).await?;
        let secs = seeded.elapsed.as_secs_f64();
        println!(
            "search seed: {} messages in {} consultations, {} index tokens, {secs:.1} s ({:.0} messages/s)",
            seeded.messages,
            seeded.consultations,
            seeded.tokens,
            to_f64(len_u64_n(seeded.messages)) / secs.max(1e-9),
        );
        if let Some(bytes) = database_bytes(&server.url) {
            println!("database size after seeding: {:.0} MiB", to_f64(bytes) / 1024.0 / 1024.0);
        }
        reports.extend(search::run(server.addr, &seeded, clients, duration).await?);
    }
    if matches!(set, ScenarioSet::Signal | ScenarioSet::All) {
        eprintln!("  signal: one accepted call, {} s of signals, one in flight…", duration.as_secs());
        let r = signal::run(&server.app, dir, server.addr, duration, 1_000_000).await?;
        println!(
            "\nsignal: {} frames relayed ({:.0}/s, one in flight); frame written → read on the other socket: \
             p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
            r.relayed,
            r.per_sec,
            ms(r.p50),
            ms(r.p99),
            ms(r.p999),
            ms(r.max)
        );
        if r.relayed == 0 {
            problems.push("signal: no frame was relayed".into());
        }
    }
    Ok((reports, chats, problems))
}

/// The chat phases: as fast as answers come, then at half that rate (or once at `--rate`);
/// afterwards every consultation is read back through the API.
async fn drive_chat(
    server: &Server,
    dir: &Directory,
    duration: Duration,
    clients: usize,
    sizes: &Sizes,
) -> anyhow::Result<(Vec<chat::ChatReport>, Vec<String>)> {
    eprintln!("  chat: starting {} consultations…", sizes.consultations);
    let t = Instant::now();
    let mut setup = chat::setup(&server.app, dir, sizes.consultations).await?;
    eprintln!("  chat: set up in {:.1} s", t.elapsed().as_secs_f64());
    let mut opts = chat::ChatOpts { consultations: sizes.consultations, senders: clients, duration, rate: sizes.rate };
    let mut out = Vec::new();
    let first = if opts.rate.is_some() { "chat-rate" } else { "chat-max" };
    eprintln!("  {first:<13} {} s, {clients} senders…", duration.as_secs());
    out.push(chat::phase(server.addr, &mut setup, first, &opts).await?);
    if sizes.rate.is_none() && out[0].delivered_rate() > 0.0 {
        opts.rate = Some(out[0].delivered_rate() / 2.0);
        eprintln!("  chat-half     {} s at {:.0} msgs/s…", duration.as_secs(), out[0].delivered_rate() / 2.0);
        out.push(chat::phase(server.addr, &mut setup, "chat-half", &opts).await?);
    }
    let _ = opts.consultations;
    let problems = chat::verify_stored(server.addr, &setup).await?;
    let mut failures = Vec::new();
    println!("chat durability: {problems} problems reading every consultation back through the API");
    if problems > 0 {
        failures
            .push(format!("chat: {problems} acknowledged messages missing, duplicated or out of sequence in storage"));
    }
    Ok((out, failures))
}

fn print_chat_table(reports: &[chat::ChatReport]) {
    println!();
    println!(
        "{:<10} {:>6} {:>7} {:>7} {:>9} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10} {:>9}",
        "chat",
        "consult",
        "sockets",
        "senders",
        "offered/s",
        "acked",
        "deliv msg/s",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "max ms",
        "ack p50",
        "ack p99",
        "CPU-s/1k",
        "peak MiB",
    );
    for r in reports {
        let cpu = r.cpu_ticks.filter(|_| r.acked > 0).map_or_else(
            || "n/a".to_owned(),
            |t| format!("{:.3}", to_f64(t) / CLOCK_TICKS_PER_SEC * 1000.0 / to_f64(r.acked)),
        );
        let rss = r.peak_rss_kib.map_or_else(|| "n/a".to_owned(), |k| format!("{:.1}", to_f64(k) / 1024.0));
        println!(
            "{:<10} {:>6} {:>7} {:>7} {:>9} {:>9} {:>10.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>9.2} {:>10} {:>9}",
            r.name,
            r.consultations,
            r.sockets,
            r.senders,
            r.offered.map_or_else(|| "max".to_owned(), |o| format!("{o:.0}")),
            r.acked,
            r.delivered_rate(),
            ms(percentile_permille(&r.latencies, 500)),
            ms(percentile_permille(&r.latencies, 990)),
            ms(percentile_permille(&r.latencies, 999)),
            ms(r.latencies.last().copied().unwrap_or(0)),
            ms(percentile_permille(&r.ack_latencies, 500)),
            ms(percentile_permille(&r.ack_latencies, 990)),
            cpu,
            rss,
        );
        println!(
            "           lost {}, duplicated {}, resync {}, unexpected frames {}, errors {}{}",
            r.lost,
            r.duplicated,
            r.resyncs,
            r.unexpected,
            r.errors(),
            r.last_error.as_deref().map(|e| format!(" (last: {e})")).unwrap_or_default(),
        );
        for (status, n) in &r.statuses {
            println!("           HTTP {status} ×{n}");
        }
    }
    println!(
        "latency = POST written → message event read on the other party's WebSocket; deliv msg/s = \
         messages delivered to the other party ÷ wall time (send phase + drain); CPU and RSS are the \
         whole process (server, senders and sockets)."
    );
}

fn chat_verdict(reports: &[chat::ChatReport], smoke: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for r in reports {
        if r.acked == 0 {
            problems.push(format!("{}: no message acknowledged", r.name));
        }
        if r.lost > 0 || r.duplicated > 0 || r.resyncs > 0 || r.unexpected > 0 {
            problems.push(format!(
                "{}: {} lost, {} duplicated, {} resyncs, {} unexpected frames",
                r.name, r.lost, r.duplicated, r.resyncs, r.unexpected
            ));
        }
        let errors = r.errors();
        if (smoke && errors > 0) || errors * 100 > r.acked + errors {
            problems.push(format!("{}: {errors} failed sends", r.name));
        }
    }
    problems
}

/// The size of a SQLite database file and its WAL (None for other URLs).
fn database_bytes(url: &str) -> Option<u64> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    let main = std::fs::metadata(path).ok()?.len();
    let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
    Some(main + wal)
}

fn len_u64<T>(v: &[T]) -> u64 {
    len_u64_n(v.len())
}

fn len_u64_n(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Server and fixtures

/// The in-process server and the handle to stop it.
struct Server {
    addr: SocketAddr,
    url: String,
    app: app::App,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    _blob_dir: ScratchDir,
}

impl Server {
    async fn start(url: &str) -> anyhow::Result<Self> {
        let shown = crate::config::redact_url(url);
        let store = store::Store::connect(url).await.with_context(|| format!("cannot open database {shown}"))?;
        store.migrate().await.context("migrations failed")?;
        match app::keys::ensure_no_orphaned_data(&store).await {
            Ok(()) => {}
            Err(app::keys::KeyCheckError::Missing) => bail!(
                "{shown} already holds Yiqiao data; `yiqiao bench` needs an empty database \
                 (it binds a throwaway key ring to it)"
            ),
            Err(e) => return Err(e.into()),
        }
        let keys = crypto::KeyRing::generate(crypto::CipherKind::Aes256Gcm)?;
        app::keys::check_binding(&store, &keys).await?;
        let blob_dir = ScratchDir::create()?;
        let blobs = store::blob::BlobStore::local(&blob_dir.0)?;
        let app = app::App::new(store, Arc::new(keys), Arc::new(app::SystemClock), app::AppConfig::default(), blobs);
        let router = web::router(app.clone(), false);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.context("cannot bind 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(crate::no_delay(listener), router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self { addr, url: url.to_owned(), app, shutdown, task, _blob_dir: blob_dir })
    }

    /// Graceful shutdown (bounded), then closes the database pool.
    async fn stop(self) {
        let Self { app, shutdown, mut task, .. } = self;
        let _ = shutdown.send(());
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "bench server ended with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "bench server task failed"),
            Err(_) => {
                tracing::warn!("bench server did not stop in time; aborting it");
                task.abort();
            }
        }
        if let Err(e) = app.store.db.close_by_ref().await {
            tracing::warn!(error = %e, "closing the bench database failed");
        }
    }
}

/// A private temporary directory for the default SQLite database, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create() -> anyhow::Result<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("yiqiao-bench-{}-{nanos}", std::process::id()));
        // `create_dir`, not `create_dir_all`: never reuse a directory that already exists.
        std::fs::create_dir(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }

    fn sqlite_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("bench.sqlite").display())
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A valid GB 11643 resident identity number for the benchmark patient.
fn bench_id_number() -> anyhow::Result<String> {
    let check = domain::gb11643_check_char(BENCH_ID_BODY).context("benchmark ID body is not 17 digits")?;
    Ok(format!("{BENCH_ID_BODY}{check}"))
}

/// An institution of the benchmark directory: names, kind, region, departments (code, zh, en).
struct SeedInstitution {
    name_zh: &'static str,
    name_en: &'static str,
    kind: domain::InstitutionKind,
    region: &'static str,
    departments: &'static [(&'static str, &'static str, &'static str)],
}

const DIRECTORY: [SeedInstitution; 3] = [
    SeedInstitution {
        name_zh: "基准三级医院",
        name_en: "Bench Tertiary Hospital",
        kind: domain::InstitutionKind::TertiaryHospital,
        region: "110105",
        departments: &[
            ("cardiology", "心内科", "Cardiology"),
            ("endocrinology", "内分泌科", "Endocrinology"),
            ("radiology", "放射科", "Radiology"),
        ],
    },
    SeedInstitution {
        name_zh: "基准镇卫生院",
        name_en: "Bench Township Health Centre",
        kind: domain::InstitutionKind::TownshipHealthCentre,
        region: "130123",
        departments: &[("general-practice", "全科", "General practice")],
    },
    SeedInstitution {
        name_zh: "基准大药房",
        name_en: "Bench Pharmacy",
        kind: domain::InstitutionKind::Pharmacy,
        region: "110105",
        departments: &[("dispensary", "调剂室", "Dispensary")],
    },
];

/// The institution and department the chat and search doctors work in.
#[derive(Debug, Clone)]
struct Directory {
    institution_id: String,
    department_id: String,
}

/// Registers the benchmark patient and a small institution directory (so that
/// `GET /api/v1/institutions` returns a realistic body rather than an empty list).
async fn seed(app: &app::App) -> anyhow::Result<Directory> {
    let patient = app::account::RegisterPatient {
        login: BENCH_LOGIN.into(),
        password: BENCH_PASSWORD.into(),
        name: "基准患者".into(),
        phone: None,
        id_kind: "resident_id".into(),
        id_number: bench_id_number()?,
        accept_privacy: true,
        accept_sensitive: true,
        locale: "zh-CN".into(),
    };
    app::account::register_patient(app, &app::RequestCtx::default(), patient)
        .await
        .context("cannot register the benchmark patient")?;

    let now = chrono::Utc::now();
    let txn = app.store.begin_write().await?;
    let mut first: Option<Directory> = None;
    for inst in DIRECTORY {
        let id = domain::InstitutionId::new().to_string();
        store::repo::institution::insert(
            &txn,
            store::entity::institution::Model {
                id: id.clone(),
                name_zh: inst.name_zh.into(),
                name_en: inst.name_en.into(),
                kind: inst.kind.as_str().into(),
                tier: i32::from(inst.kind.tier()),
                region_code: inst.region.into(),
                created_at: now,
                sla_priority_secs: None,
                sla_normal_secs: None,
            },
        )
        .await?;
        for (code, zh, en) in inst.departments {
            let dept = domain::DepartmentId::new().to_string();
            if first.is_none() {
                first = Some(Directory { institution_id: id.clone(), department_id: dept.clone() });
            }
            store::repo::institution::insert_department(
                &txn,
                store::entity::department::Model {
                    id: dept,
                    institution_id: id.clone(),
                    code: (*code).into(),
                    name_zh: (*zh).into(),
                    name_en: (*en).into(),
                    created_at: now,
                },
            )
            .await?;
        }
    }
    txn.commit().await?;
    first.context("the benchmark directory has no department")
}

// ---------------------------------------------------------------------------------------------
// Scenarios

struct Scenario {
    name: &'static str,
    request: Arc<[u8]>,
}

fn get_request(addr: SocketAddr, path: &str, bearer: Option<&str>) -> Arc<[u8]> {
    let auth = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: yiqiao-bench\r\nAccept: application/json\r\n{auth}\r\n")
        .into_bytes()
        .into()
}

fn post_json_request(addr: SocketAddr, path: &str, body: &str) -> Arc<[u8]> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: yiqiao-bench\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
    .into()
}

fn login_request(addr: SocketAddr) -> Arc<[u8]> {
    let body = serde_json::json!({"login": BENCH_LOGIN, "password": BENCH_PASSWORD}).to_string();
    post_json_request(addr, "/api/v1/auth/login", &body)
}

/// Logs in once and returns the bearer token.
async fn login_token(addr: SocketAddr) -> anyhow::Result<String> {
    let mut conn = Conn::connect(addr).await?;
    let resp = tokio::time::timeout(REQUEST_TIMEOUT, conn.exchange(&login_request(addr), true))
        .await
        .context("login timed out")??;
    if resp.status != 200 {
        bail!("login answered HTTP {}: {}", resp.status, String::from_utf8_lossy(&resp.body));
    }
    let v: serde_json::Value = serde_json::from_slice(&resp.body).context("login answer is not JSON")?;
    v.get("token").and_then(serde_json::Value::as_str).map(str::to_owned).context("login answer has no token")
}

async fn drive(server: &Server, duration: Duration, clients: usize) -> anyhow::Result<Vec<Report>> {
    let addr = server.addr;
    let token = login_token(addr).await?;
    // Cheapest first, login last: glibc keeps the Argon2 buffers (19 MiB each) after the logins,
    // which would otherwise show up in the peak RSS of every later scenario.
    let scenarios = [
        Scenario { name: "healthz", request: get_request(addr, "/healthz", None) },
        Scenario { name: "institutions", request: get_request(addr, "/api/v1/institutions", None) },
        Scenario { name: "me", request: get_request(addr, "/api/v1/me", Some(&token)) },
        Scenario { name: "login", request: login_request(addr) },
    ];
    if let Some(kib) = rss_kib("VmRSS:") {
        eprintln!("  RSS after setup: {:.1} MiB", to_f64(kib) / 1024.0);
    }
    let mut reports = Vec::with_capacity(scenarios.len());
    for s in &scenarios {
        eprintln!("  {:<13} {} s, {clients} clients…", s.name, duration.as_secs());
        reports.push(run_scenario(addr, s, clients, duration).await?);
    }
    Ok(reports)
}

/// What one load client saw.
#[derive(Default)]
struct ClientStats {
    /// Microseconds per successful (HTTP 200) request.
    latencies: Vec<u64>,
    /// Non-200 answers by status.
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    last_transport_error: Option<String>,
}

impl ClientStats {
    fn completed(&self) -> usize {
        let other: u64 = self.statuses.values().sum::<u64>() + self.transport_errors;
        self.latencies.len().saturating_add(usize::try_from(other).unwrap_or(usize::MAX))
    }

    fn merge(&mut self, other: ClientStats) {
        self.latencies.extend(other.latencies);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        if other.last_transport_error.is_some() {
            self.last_transport_error = other.last_transport_error;
        }
    }
}

/// One keep-alive connection sending `request` back to back until `deadline` (reconnecting
/// after a transport error or `Connection: close`), at most `max_requests` times.
async fn client_loop(addr: SocketAddr, request: Arc<[u8]>, deadline: Instant, max_requests: usize) -> ClientStats {
    let mut stats = ClientStats::default();
    let mut conn: Option<Conn> = None;
    let mut failures_in_a_row = 0_u32;
    while Instant::now() < deadline && stats.completed() < max_requests {
        if conn.is_none() {
            match Conn::connect(addr).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    stats.transport_errors += 1;
                    stats.last_transport_error = Some(format!("{e:#}"));
                    failures_in_a_row += 1;
                    if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES {
                        break;
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let started = Instant::now();
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, c.exchange(&request, false)).await;
        let elapsed = started.elapsed();
        match outcome {
            Ok(Ok(resp)) => {
                failures_in_a_row = 0;
                if resp.status == 200 {
                    stats.latencies.push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
                } else {
                    *stats.statuses.entry(resp.status).or_default() += 1;
                }
                if resp.close {
                    conn = None;
                }
            }
            Ok(Err(e)) => {
                stats.transport_errors += 1;
                stats.last_transport_error = Some(format!("{e:#}"));
                conn = None;
                failures_in_a_row += 1;
            }
            Err(_) => {
                stats.transport_errors += 1;
                stats.last_transport_error = Some(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()));
                conn = None;
                failures_in_a_row += 1;
            }
        }
        if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES {
            break;
        }
    }
    stats
}

/// The result of one scenario.
struct Report {
    name: &'static str,
    clients: usize,
    wall: Duration,
    /// Sorted microseconds of the successful requests.
    latencies: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    last_transport_error: Option<String>,
    /// Process CPU (user + system) during the scenario, in clock ticks.
    cpu_ticks: Option<u64>,
    /// Peak resident set during the scenario (whole process so far if the reset failed).
    peak_rss_kib: Option<u64>,
    peak_rss_reset: bool,
}

impl Report {
    fn ok(&self) -> u64 {
        u64::try_from(self.latencies.len()).unwrap_or(u64::MAX)
    }

    fn errors(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.transport_errors
    }

    fn requests(&self) -> u64 {
        self.ok() + self.errors()
    }

    /// Successful responses per wall-clock second.
    fn rate(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 { to_f64(self.ok()) / secs } else { 0.0 }
    }

    /// Process CPU seconds (server + load client) per 1,000 completed requests.
    fn cpu_per_1000(&self) -> Option<f64> {
        let ticks = self.cpu_ticks?;
        let requests = self.requests();
        (requests > 0).then(|| to_f64(ticks) / CLOCK_TICKS_PER_SEC * 1000.0 / to_f64(requests))
    }
}

async fn run_scenario(
    addr: SocketAddr,
    scenario: &Scenario,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Report> {
    let peak_rss_reset = reset_peak_rss();
    let cpu_before = cpu_ticks();
    let start = Instant::now();
    let deadline = start + duration;
    let per_client = MAX_REQUESTS_PER_SCENARIO / clients.max(1);
    let mut set = JoinSet::new();
    for _ in 0..clients {
        set.spawn(client_loop(addr, Arc::clone(&scenario.request), deadline, per_client));
    }
    let mut stats = ClientStats::default();
    while let Some(joined) = set.join_next().await {
        stats.merge(joined.context("a load client panicked")?);
    }
    let wall = start.elapsed();
    let cpu_ticks = cpu_before.zip(cpu_ticks()).map(|(a, b)| b.saturating_sub(a));
    let mut latencies = stats.latencies;
    latencies.sort_unstable();
    Ok(Report {
        name: scenario.name,
        clients,
        wall,
        latencies,
        statuses: stats.statuses,
        transport_errors: stats.transport_errors,
        last_transport_error: stats.last_transport_error,
        cpu_ticks,
        peak_rss_kib: peak_rss_kib(),
        peak_rss_reset,
    })
}

// ---------------------------------------------------------------------------------------------
// Report

#[expect(clippy::cast_precision_loss, reason = "counts and microseconds stay far below 2^52")]
fn to_f64(n: u64) -> f64 {
    n as f64
}

/// Nearest-rank percentile of an ascending slice (0 when empty).
fn percentile(sorted: &[u64], pct: usize) -> u64 {
    let n = sorted.len();
    if n == 0 {
        return 0;
    }
    let rank = (pct.min(100) * n).div_ceil(100).max(1);
    sorted[rank.min(n) - 1]
}

/// Nearest-rank percentile in thousandths (999 = p99.9) of an ascending slice (0 when empty).
fn percentile_permille(sorted: &[u64], permille: usize) -> u64 {
    let n = sorted.len();
    if n == 0 {
        return 0;
    }
    let rank = (permille.min(1000) * n).div_ceil(1000).max(1);
    sorted[rank.min(n) - 1]
}

fn ms(micros: u64) -> f64 {
    to_f64(micros) / 1000.0
}

fn print_table(reports: &[Report]) {
    println!();
    println!(
        "{:<16} {:>7} {:>9} {:>6} {:>9} {:>8} {:>8} {:>8} {:>10} {:>12}",
        "scenario", "clients", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms", "CPU-s/1k", "peak RSS MiB"
    );
    for r in reports {
        let cpu = r.cpu_per_1000().map_or_else(|| "n/a".to_owned(), |c| format!("{c:.3}"));
        let rss = r.peak_rss_kib.map_or_else(|| "n/a".to_owned(), |k| format!("{:.1}", to_f64(k) / 1024.0));
        println!(
            "{:<16} {:>7} {:>9} {:>6} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>10} {:>12}",
            r.name,
            r.clients,
            r.requests(),
            r.errors(),
            r.rate(),
            ms(percentile(&r.latencies, 50)),
            ms(percentile(&r.latencies, 99)),
            ms(r.latencies.last().copied().unwrap_or(0)),
            cpu,
            rss,
        );
    }
    println!(
        "req/s and latencies count HTTP 200 answers only; CPU and RSS are the whole process \
         (server and load client share it and the CPUs)."
    );
    if reports.iter().any(|r| !r.peak_rss_reset) {
        println!("note: /proc/self/clear_refs could not reset VmHWM; peak RSS is the process peak so far.");
    }
    for r in reports.iter().filter(|r| r.errors() > 0) {
        let mut parts: Vec<String> = r.statuses.iter().map(|(s, n)| format!("HTTP {s} ×{n}")).collect();
        if r.transport_errors > 0 {
            let last = r.last_transport_error.as_deref().unwrap_or("?");
            parts.push(format!("transport ×{} (last: {last})", r.transport_errors));
        }
        println!("errors in {}: {}", r.name, parts.join(", "));
    }
}

fn verdict(reports: &[Report], smoke: bool) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for r in reports {
        if r.ok() == 0 {
            problems.push(format!("{}: no successful request", r.name));
        } else if smoke && r.errors() > 0 {
            problems.push(format!("{}: {} errors", r.name, r.errors()));
        } else if r.errors() * 100 > r.requests() {
            problems.push(format!("{}: {} errors in {} requests (over 1 %)", r.name, r.errors(), r.requests()));
        }
    }
    if problems.is_empty() { Ok(()) } else { bail!("benchmark failed: {}", problems.join("; ")) }
}

// ---------------------------------------------------------------------------------------------
// /proc

/// User + system CPU of this process, in clock ticks (`/proc/self/stat` fields 14 and 15).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may contain spaces; count after it.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmHWM` (peak resident set) of this process, in KiB.
fn peak_rss_kib() -> Option<u64> {
    rss_kib("VmHWM:")
}

/// A `… kB` line of `/proc/self/status` (`VmHWM:`, `VmRSS:`), in KiB.
fn rss_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0) so each scenario reports its own peak.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

// ---------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 client: one outstanding request per connection, Content-Length bodies only.

#[cfg(test)]
mod tests {
    use super::wire::{Head, parse_head};
    use super::*;

    #[test]
    fn parses_a_keep_alive_head() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17").unwrap();
        assert_eq!(h, Head { status: 200, content_length: 17, close: false });
    }

    #[test]
    fn notices_connection_close_and_empty_bodies() {
        let h = parse_head(b"HTTP/1.1 204 No Content\r\nConnection: close").unwrap();
        assert_eq!(h, Head { status: 204, content_length: 0, close: true });
    }

    #[test]
    fn refuses_framing_it_cannot_follow() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2").is_err());
        assert!(parse_head(b"SSH-2.0-OpenSSH").is_err());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 99), 99);
        assert_eq!(percentile(&v, 100), 100);
        assert_eq!(percentile(&[7], 99), 7);
        assert_eq!(percentile(&[], 50), 0);
    }

    #[test]
    fn the_bench_identity_number_is_valid() {
        let id = bench_id_number().unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        assert!(domain::validate_id_document(domain::IdDocumentKind::ResidentIdCard, &id, today).is_ok());
    }

    fn report(ok: u64, statuses: &[(u16, u64)]) -> Report {
        Report {
            name: "t",
            clients: 1,
            wall: Duration::from_secs(1),
            latencies: vec![1_000; usize::try_from(ok).unwrap()],
            statuses: statuses.iter().copied().collect(),
            transport_errors: 0,
            last_transport_error: None,
            cpu_ticks: Some(10),
            peak_rss_kib: Some(1024),
            peak_rss_reset: true,
        }
    }

    #[test]
    fn verdict_fails_on_errors_as_documented() {
        assert!(verdict(&[report(100, &[])], true).is_ok());
        assert!(verdict(&[report(0, &[])], false).is_err(), "no successful request");
        assert!(verdict(&[report(100, &[(500, 1)])], true).is_err(), "smoke tolerates no error");
        assert!(verdict(&[report(99, &[(500, 1)])], false).is_ok(), "1 % is tolerated in a full run");
        assert!(verdict(&[report(98, &[(429, 2)])], false).is_err(), "2 % is not");
        let r = report(1000, &[]);
        assert!((r.cpu_per_1000().unwrap() - 0.1).abs() < 1e-9);
        assert!((r.rate() - 1000.0).abs() < 1e-9);
    }

    /// The hand-written client against the real router: seed, log in, two requests on one connection.
    #[tokio::test]
    async fn client_speaks_to_the_real_router() {
        let dir = ScratchDir::create().unwrap();
        let server = Server::start(&dir.sqlite_url()).await.unwrap();
        seed(&server.app).await.unwrap();
        let token = login_token(server.addr).await.unwrap();
        let mut conn = Conn::connect(server.addr).await.unwrap();
        let me = get_request(server.addr, "/api/v1/me", Some(&token));
        for _ in 0..2 {
            let r = conn.exchange(&me, true).await.unwrap();
            assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
            assert!(!r.close);
        }
        let r = conn.exchange(&get_request(server.addr, "/api/v1/institutions", None), true).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["items"].as_array().map(Vec::len), Some(DIRECTORY.len()));
        let r = conn.exchange(&get_request(server.addr, "/api/v1/me", Some("wrong")), false).await.unwrap();
        assert_eq!(r.status, 401);
        server.stop().await;
    }

    #[test]
    fn reads_own_cpu_and_memory() {
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(cpu_ticks().is_some());
            assert!(peak_rss_kib().is_some_and(|k| k > 0));
        }
    }
}
