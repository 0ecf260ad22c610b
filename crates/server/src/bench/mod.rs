//! `yiqiao bench`: a bounded load test of the real router over loopback HTTP/1.1.
//!
//! The server (same router, middleware and use cases as `yiqiao serve`) runs in this process on
//! `127.0.0.1:<random port>` over a throwaway SQLite file (or an empty database named by
//! `--database`). One patient is registered, then each scenario drives N keep-alive connections
//! for a fixed time and records per-request latency. The load client is written by hand over
//! [`TcpStream`] (no extra dependencies); it shares the process, the runtime and the CPUs with the
//! server, so the CPU and memory figures cover both. Method and results: `docs/BENCHMARKS.md`.

mod care;
mod chat;
mod fixture;
mod http;
mod reminders;
mod search;
mod signal;
mod wire;

use http::{Report, Scenario, drive, get_request, print_table, run_scenario, verdict};
use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::JoinHandle,
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
    #[command(flatten)]
    pub care: care::CareArgs,
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
    /// S4: device readings (single and batches of 100) over HTTP; alerts on the doctor's WebSocket.
    Readings,
    /// S8: care-task reminders due at once; then a `yiqiao serve` worker killed with SIGKILL mid-spike.
    Reminders,
    /// All of the above.
    All,
}

/// Runs every scenario, prints the table, and fails when a scenario had no successful request,
/// more than 1 % errors, or (with `--smoke`) any error at all.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let BenchArgs { smoke, duration_secs, clients, database, scenario, consultations, rate, messages, care } = args;
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
                care,
                smoke,
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
    care: care::CareArgs,
    smoke: bool,
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
    if matches!(set, ScenarioSet::Reminders | ScenarioSet::All) {
        problems.extend(reminders::run(server, &sizes.care, sizes.smoke).await?);
    }
    if matches!(set, ScenarioSet::Readings | ScenarioSet::All) {
        problems.extend(care::run(server, dir, duration, clients, &sizes.care, sizes.smoke).await?);
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
    use super::{http::login_token, wire::Conn};

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
