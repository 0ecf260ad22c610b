//! The reminder spike (PERFORMANCE.md S8). N patients, each on a hypertension plan with one
//! pending blood-pressure task. The tasks fall due at the same instant (or spread over
//! `--spread-secs`), as a `BYHOUR=7;BYMINUTE=0` rule makes them fall due for every patient at 07:00.
//! Each task has its real `task.remind` job (and its `task.close` job, 12 h later) in the `jobs`
//! table, scheduled through `app::jobs::schedule` as `tasks::extend` does. Users, plans and tasks are
//! written through the store layer, so that 100,000 patients do not need 100,000 Argon2id hashes.
//!
//! 1. Spike: the real worker loop `app::jobs::work`, which `yiqiao serve` runs, drains the jobs in
//!    this process. Lateness of each reminder = its notification's `created_at` − its job's
//!    `due_at`. "Published" adds the batch commit: the instant the event reached the bus, as a
//!    socket would see it. Fires/s = N ÷ (last `created_at` − first due time).
//! 2. Crash test: the same seed in a new SQLite database. The worker is a real `yiqiao serve`
//!    child process on that data directory. It is killed with SIGKILL once 40 % of the reminders
//!    are committed, restarted, and left to finish. Then the database must hold exactly one
//!    `task.reminder` notification per task, and every job must be done with exactly one attempt.

use std::{
    collections::HashMap,
    os::unix::process::ExitStatusExt as _,
    path::Path,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::json;
use store::{entity, repo};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{
    CLOCK_TICKS_PER_SEC, ScratchDir, Server,
    care::CareArgs,
    cpu_ticks,
    fixture::{SEED_CHUNK, plan_row, seed_users},
    ms, peak_rss_kib, percentile_permille, reset_peak_rss, to_f64,
};

const DEFAULT_REMINDERS: usize = 100_000;
const SMOKE_REMINDERS: usize = 2_000;
/// The worker process is killed once this share of the reminders is committed.
const KILL_AT_PERCENT: usize = 40;
/// A run with no new reminder for this long has stalled.
const STALL: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(10);
/// How long a `yiqiao serve` child may take to start listening.
const START_TIMEOUT: Duration = Duration::from_mins(1);

/// One seeded task and the due time of its reminder.
struct Reminder {
    patient: String,
    task: String,
    due: DateTime<Utc>,
}

struct Seeded {
    reminders: Vec<Reminder>,
    first_due: DateTime<Utc>,
    /// Notifications created from here on are this run's.
    from: DateTime<Utc>,
    elapsed: Duration,
}

/// The next whole second at or after `t`.
fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0);
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::zero())
}

/// Seeds a doctor, `n` patients with a plan and one pending blood-pressure task each, and the
/// tasks' `task.remind` and `task.close` jobs. The first due time is a whole second, far enough
/// ahead for the rest of the seeding plus `lead`.
async fn seed(app: &app::App, tag: &str, n: usize, spread: Duration, lead: Duration) -> anyhow::Result<Seeded> {
    let from = Utc::now();
    let started = Instant::now();
    let doctor = seed_users(app, &format!("{tag}-d"), "doctor", 1).await?.pop().context("no doctor seeded")?;
    let patients = seed_users(app, &format!("{tag}-p"), "patient", n).await?;
    // Plans, tasks and two jobs per patient take about twice what users and roles took.
    let estimate = started.elapsed() * 2;
    let first_due = whole_second(Utc::now() + chrono_duration(estimate * 2 + lead));
    let span = chrono_duration(spread).num_microseconds().unwrap_or(0);
    let count = i64::try_from(n).unwrap_or(i64::MAX).max(1);
    let mut reminders = Vec::with_capacity(n);
    let per_txn = SEED_CHUNK / 2;
    let keys = app.keys.current();
    for (chunk, ids) in patients.chunks(per_txn).enumerate() {
        let now = Utc::now();
        let txn = app.store.begin_write().await?;
        for (k, patient) in ids.iter().enumerate() {
            let i = i64::try_from(chunk * per_txn + k).unwrap_or(0);
            let plan = plan_row(&keys, patient, &doctor, now)?;
            let due = first_due + chrono::Duration::microseconds(span * i / count);
            let close = due + chrono::Duration::hours(12);
            let task_id = uuid::Uuid::now_v7().to_string();
            let label_aad = crypto::Aad { table: "care_tasks", column: "label_enc", row_id: &task_id };
            let task = entity::care_task::Model {
                label_enc: Some(keys.encrypt("血压 blood pressure".as_bytes(), &label_aad)?),
                id: task_id.clone(),
                plan_id: plan.id.clone(),
                patient_id: patient.clone(),
                doctor_id: doctor.clone(),
                slot: 0,
                kind: "reading".into(),
                measure: "blood-pressure".into(),
                context: None,
                due_at: due,
                close_at: close,
                state: "pending".into(),
                completed_at: None,
                observation_id: None,
                consultation_id: None,
                created_at: now,
            };
            repo::monitoring::insert_plan(&txn, plan).await?;
            repo::care::insert_task(&txn, task.clone()).await?;
            let args = json!({"task": task.id});
            let remind = app::monitoring::tasks::remind_key(&task.id);
            app::jobs::schedule(&txn, app::jobs::kind::TASK_REMIND, &remind, &args, due, now).await?;
            let close_key = app::monitoring::tasks::close_key(&task.id);
            app::jobs::schedule(&txn, app::jobs::kind::TASK_CLOSE, &close_key, &args, close, now).await?;
            reminders.push(Reminder { patient: patient.clone(), task: task.id, due });
        }
        txn.commit().await?;
    }
    let ahead = (first_due - Utc::now()).num_milliseconds();
    if ahead < 500 {
        eprintln!("  reminders: warning: seeding ended {ahead} ms before the first due time (lateness includes it)");
    }
    Ok(Seeded { reminders, first_due, from, elapsed: started.elapsed() })
}

/// In-app deliveries created since `from`: one per reminder sent.
async fn fired(db: &store::DatabaseConnection, from: DateTime<Utc>) -> anyhow::Result<usize> {
    let counts = repo::care::delivery_counts(db, from, from + chrono::Duration::days(2), None).await?;
    let n: i64 = counts.iter().filter(|(channel, _, _)| channel == "inapp").map(|(_, _, n)| n).sum();
    Ok(usize::try_from(n).unwrap_or(0))
}

/// The instant from which a run without progress counts as stalled: now, or the first due time
/// when that is later (`Instant::elapsed` of a future instant is zero).
fn stall_clock(first_due: DateTime<Utc>) -> Instant {
    Instant::now() + (first_due - Utc::now()).to_std().unwrap_or_default()
}

/// Polls until `done(count)` holds or nothing new was sent for [`STALL`] after the first due time;
/// returns the last count.
async fn wait_for(
    db: &store::DatabaseConnection,
    from: DateTime<Utc>,
    first_due: DateTime<Utc>,
    done: impl Fn(usize) -> bool,
) -> anyhow::Result<usize> {
    let mut last = fired(db, from).await?;
    let mut progress = stall_clock(first_due);
    while !done(last) {
        if progress.elapsed() > STALL {
            bail!("no reminder sent for {} s ({last} so far)", STALL.as_secs());
        }
        tokio::time::sleep(POLL).await;
        let now = fired(db, from).await?;
        if now != last {
            progress = Instant::now();
            last = now;
        }
    }
    Ok(last)
}

/// What the database says about the seeded reminders.
#[derive(Default)]
struct Audit {
    /// Tasks with exactly one reminder.
    once: u64,
    lost: u64,
    duplicated: u64,
    /// Jobs not marked done.
    not_done: u64,
    /// Jobs done with attempts ≠ 1 or an outcome other than `done`.
    bad_attempts: u64,
    /// `created_at − due_at` of each reminder, µs (sorted).
    lateness: Vec<u64>,
    last_created: Option<DateTime<Utc>>,
}

async fn audit(db: &store::DatabaseConnection, reminders: &[Reminder]) -> anyhow::Result<Audit> {
    let rows = stream::iter(reminders)
        .map(|r| async move {
            let job = repo::job::find_by_key(db, &app::monitoring::tasks::remind_key(&r.task)).await?;
            let inbox = repo::care::inbox(db, &r.patient, None, 20).await?;
            let mine: Vec<_> = inbox
                .into_iter()
                .filter(|n| n.kind == "task.reminder" && n.subject_id.as_deref() == Some(r.task.as_str()))
                .collect();
            Ok::<_, anyhow::Error>((job, mine, r.due))
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    let mut a = Audit::default();
    for (job, notes, due) in rows {
        match notes.len() {
            0 => a.lost += 1,
            1 => a.once += 1,
            k => a.duplicated += u64::try_from(k - 1).unwrap_or(0),
        }
        let due = job.as_ref().map_or(due, |j| j.due_at);
        match &job {
            Some(j) if j.done_at.is_some() => {
                if j.attempts != 1 || j.outcome.as_deref() != Some("done") {
                    a.bad_attempts += 1;
                }
            }
            _ => a.not_done += 1,
        }
        if let Some(first) = notes.first() {
            let late = (first.created_at - due).num_microseconds().unwrap_or(i64::MAX);
            a.lateness.push(u64::try_from(late).unwrap_or(0));
            a.last_created = a.last_created.max(Some(first.created_at));
        }
    }
    a.lateness.sort_unstable();
    Ok(a)
}

/// The spike drained by the worker loop in this process.
struct Spike {
    n: usize,
    spread: Duration,
    seeded: Duration,
    audit: Audit,
    /// Bus arrival − due time, µs (sorted); partial when the collector lagged.
    published: Vec<u64>,
    lagged: u64,
    fires_per_sec: f64,
    drain: Duration,
    cpu_ticks: Option<u64>,
    peak_rss_kib: Option<u64>,
}

async fn spike(server: &Server, n: usize, spread: Duration, lead: Duration) -> anyhow::Result<Spike> {
    let app = &server.app;
    eprintln!("  reminders: seeding {n} tasks with their jobs…");
    let seeded = seed(app, "care-rm", n, spread, lead).await?;
    eprintln!(
        "  reminders: seeded in {:.1} s; first due in {:.1} s",
        seeded.elapsed.as_secs_f64(),
        to_f64(u64::try_from((seeded.first_due - Utc::now()).num_milliseconds()).unwrap_or(0)) / 1000.0
    );
    let due_of: HashMap<&str, DateTime<Utc>> = seeded.reminders.iter().map(|r| (r.patient.as_str(), r.due)).collect();
    let mut events = app.bus.subscribe();
    let worker = tokio::spawn(app::jobs::work(app.clone(), Duration::from_secs(1)));
    let peak_rss_reset = reset_peak_rss();
    let cpu_before = cpu_ticks();
    let mut published = Vec::with_capacity(n);
    let mut lagged = 0_u64;
    let mut progress = stall_clock(seeded.first_due);
    while published.len() + usize::try_from(lagged).unwrap_or(usize::MAX) < n && progress.elapsed() < STALL {
        match tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            Ok(Ok(ev)) => {
                let reminder =
                    ev.payload["type"] == "notification" && ev.payload["notification"]["kind"] == "task.reminder";
                if let (true, Some(due)) = (reminder, ev.recipients.first().and_then(|p| due_of.get(p.as_str()))) {
                    let late = (Utc::now() - *due).num_microseconds().unwrap_or(i64::MAX);
                    published.push(u64::try_from(late).unwrap_or(0));
                    progress = Instant::now();
                }
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(k))) => lagged += k,
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
            Err(_) => {}
        }
    }
    let settled = wait_for(&app.store.db, seeded.from, seeded.first_due, |c| c >= n).await;
    let cpu = cpu_before.zip(cpu_ticks()).map(|(a, b)| b.saturating_sub(a));
    let peak = peak_rss_kib().filter(|_| peak_rss_reset);
    worker.abort();
    let _ = worker.await;
    settled?;
    eprintln!("  reminders: checking every task in the database…");
    let audit = audit(&app.store.db, &seeded.reminders).await?;
    let drain =
        audit.last_created.map_or(Duration::ZERO, |last| (last - seeded.first_due).to_std().unwrap_or_default());
    published.sort_unstable();
    Ok(Spike {
        n,
        spread,
        seeded: seeded.elapsed,
        fires_per_sec: to_f64(audit.once + audit.duplicated) / drain.as_secs_f64().max(1e-6),
        audit,
        published,
        lagged,
        drain,
        cpu_ticks: cpu,
        peak_rss_kib: peak,
    })
}

/// Starts `yiqiao serve` on `dir` (its own `yiqiao.toml`, the data dir's key ring, a random
/// loopback port, no `YIQIAO_*` from this environment) and waits until it listens.
async fn start_worker(exe: &Path, dir: &Path) -> anyhow::Result<tokio::process::Child> {
    let log_path = dir.join("worker.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("serve")
        .arg("--config")
        .arg(dir.join("yiqiao.toml"))
        .arg("--data-dir")
        .arg(dir)
        .arg("--listen")
        .arg("127.0.0.1:0");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("YIQIAO_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("YIQIAO_LOG", "warn,sqlx=warn,sea_orm=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    let mut child = cmd.spawn().with_context(|| format!("cannot start {}", exe.display()))?;
    let stdout = child.stdout.take().context("the worker's stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(START_TIMEOUT, async {
        while let Some(line) = lines.next_line().await? {
            if line.contains("listening") {
                return Ok(true);
            }
        }
        Ok::<_, std::io::Error>(false)
    })
    .await;
    if !matches!(ready, Ok(Ok(true))) {
        let _ = child.start_kill();
        let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
        bail!("`yiqiao serve` did not start listening; its log ends: {}", tail.lines().last().unwrap_or("(empty)"));
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(child)
}

/// Sends SIGKILL and waits; returns whether the process died of it.
async fn kill9(child: &mut tokio::process::Child) -> anyhow::Result<bool> {
    child.start_kill()?;
    let status = child.wait().await?;
    Ok(status.signal() == Some(9))
}

/// The crash test's figures.
struct Crash {
    n: usize,
    /// Committed reminders seen by the last poll before the kill, and after the process died.
    seen_before_kill: usize,
    durable_after_kill: usize,
    killed_by_signal: bool,
    /// SIGKILL → the restarted process listening.
    restart: Duration,
    audit: Audit,
    first_due: DateTime<Utc>,
}

async fn crash_test(n: usize, spread: Duration, lead: Duration) -> anyhow::Result<Crash> {
    let dir = ScratchDir::create()?;
    let url = format!("sqlite://{}?mode=rwc", dir.0.join("yiqiao.sqlite").display());
    let store = store::Store::connect(&url).await.context("the crash test's database")?;
    store.migrate().await?;
    let keys = crypto::KeyRing::generate(crypto::CipherKind::Aes256Gcm)?;
    keys.save(&dir.0.join("keyring.json"))?;
    app::keys::check_binding(&store, &keys).await?;
    let blobs = store::blob::BlobStore::local(&dir.0.join("blobs"))?;
    let app = app::App::new(store, Arc::new(keys), Arc::new(app::SystemClock), app::AppConfig::default(), blobs);
    std::fs::write(dir.0.join("yiqiao.toml"), "# yiqiao bench: the reminders crash test's worker\n")?;
    eprintln!("  crash test: seeding {n} tasks in a new data dir…");
    let seeded = seed(&app, "care-kill", n, spread, lead).await?;
    // Where a server that had been running would have left its re-encryption cursors, so the child's
    // start-up pass finds nothing to do in the middle of the spike.
    app::keys::reencrypt_all(&app).await?;
    let exe = std::env::current_exe()?;
    let db = &app.store.db;
    let outcome = async {
        let mut child = start_worker(&exe, &dir.0).await?;
        if Utc::now() > seeded.first_due {
            eprintln!("  crash test: warning: the worker started after the first due time");
        }
        let kill_at = (n * KILL_AT_PERCENT / 100).max(1);
        eprintln!(
            "  crash test: `yiqiao serve` (pid {}) started; SIGKILL at {kill_at} reminders…",
            child.id().unwrap_or(0)
        );
        let seen = wait_for(db, seeded.from, seeded.first_due, |c| c >= kill_at).await?;
        let killed_by_signal = kill9(&mut child).await?;
        let killed = Instant::now();
        let durable = fired(db, seeded.from).await?;
        eprintln!("  crash test: killed at {seen} seen, {durable} durable; restarting…");
        let mut again = start_worker(&exe, &dir.0).await?;
        let restart = killed.elapsed();
        let finished = wait_for(db, seeded.from, seeded.first_due, |c| c >= n).await;
        kill9(&mut again).await?;
        finished?;
        Ok::<_, anyhow::Error>((seen, durable, killed_by_signal, restart))
    }
    .await;
    let result = match outcome {
        Ok((seen, durable, killed_by_signal, restart)) => {
            eprintln!("  crash test: checking every task in the database…");
            let audit = audit(db, &seeded.reminders).await?;
            Ok(Crash {
                n,
                seen_before_kill: seen,
                durable_after_kill: durable,
                killed_by_signal,
                restart,
                audit,
                first_due: seeded.first_due,
            })
        }
        Err(e) => Err(e.context(format!("crash test (worker log: {})", dir.0.join("worker.log").display()))),
    };
    let _ = app.store.db.close_by_ref().await;
    let _ = app.store.write_db.close_by_ref().await;
    if result.is_err() {
        // Keep the directory for a look at the worker's log.
        std::mem::forget(dir);
    }
    result
}

/// Seeds and drains the spike in this process, then runs the crash test in a child process; prints
/// the figures and returns the problems found.
pub(super) async fn run(server: &Server, args: &CareArgs, smoke: bool) -> anyhow::Result<Vec<String>> {
    let n = args
        .reminders
        .map_or(if smoke { SMOKE_REMINDERS } else { DEFAULT_REMINDERS }, |r| usize::try_from(r).unwrap_or(usize::MAX));
    let spread = Duration::from_secs(u64::from(args.spread_secs.unwrap_or(0)));
    // The worker (and, in the crash test, the child process) is up before the first due time.
    let (lead, child_lead) = if smoke {
        (Duration::from_millis(500), Duration::from_secs(1))
    } else {
        (Duration::from_secs(2), Duration::from_secs(3))
    };
    let s = spike(server, n, spread, lead).await?;
    let c = crash_test(n, spread, child_lead).await?;
    print_report(&s, &c);
    let mut problems = Vec::new();
    for (name, a) in [("reminders", &s.audit), ("reminders crash test", &c.audit)] {
        if a.lost > 0 || a.duplicated > 0 || a.not_done > 0 || a.bad_attempts > 0 {
            problems.push(format!(
                "{name}: {} lost, {} duplicated, {} jobs not done, {} jobs with attempts ≠ 1",
                a.lost, a.duplicated, a.not_done, a.bad_attempts
            ));
        }
    }
    if !c.killed_by_signal {
        problems.push("reminders crash test: the worker did not die of SIGKILL".into());
    }
    if c.durable_after_kill >= c.n || c.durable_after_kill == 0 {
        problems.push(format!(
            "reminders crash test: the kill did not land mid-spike ({} of {} sent)",
            c.durable_after_kill, c.n
        ));
    }
    Ok(problems)
}

fn secs(micros: u64) -> f64 {
    ms(micros) / 1000.0
}

/// A percentile of the bus arrivals, or `n/a` when the collector saw none.
fn published(sorted: &[u64], permille: usize) -> String {
    if sorted.is_empty() { "n/a".to_owned() } else { format!("{:.3}s", secs(percentile_permille(sorted, permille))) }
}

fn print_report(s: &Spike, c: &Crash) {
    let a = &s.audit;
    println!();
    println!(
        "{:<22} {:>8} {:>7} {:>9} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>8}",
        "reminders",
        "tasks",
        "spread",
        "fires/s",
        "drain s",
        "late p50",
        "late p99",
        "late max",
        "pub p50",
        "pub p99",
        "CPU-s/1k",
        "peak MiB",
    );
    let cpu = s.cpu_ticks.filter(|_| s.n > 0).map_or_else(
        || "n/a".to_owned(),
        |t| format!("{:.3}", to_f64(t) / CLOCK_TICKS_PER_SEC * 1000.0 / to_f64(u64::try_from(s.n).unwrap_or(1))),
    );
    println!(
        "{:<22} {:>8} {:>6}s {:>9.0} {:>8.2} {:>9.3}s {:>9.3}s {:>9.3}s {:>10} {:>10} {:>9} {:>8}",
        "in-process worker",
        s.n,
        s.spread.as_secs(),
        s.fires_per_sec,
        s.drain.as_secs_f64(),
        secs(percentile_permille(&a.lateness, 500)),
        secs(percentile_permille(&a.lateness, 990)),
        secs(a.lateness.last().copied().unwrap_or(0)),
        published(&s.published, 500),
        published(&s.published, 990),
        cpu,
        s.peak_rss_kib.map_or_else(|| "n/a".to_owned(), |k| format!("{:.1}", to_f64(k) / 1024.0)),
    );
    println!(
        "late = notification created_at − job due_at; pub = event on the bus (after the batch's commit) − due_at{}; \
         fires/s = reminders ÷ (last created_at − first due time); seeding took {:.1} s; CPU is the whole process.",
        if s.lagged > 0 { format!(" ({} events missed by a lagging collector)", s.lagged) } else { String::new() },
        s.seeded.as_secs_f64(),
    );
    println!(
        "reminders durability: {} tasks reminded once, {} lost, {} duplicated, {} jobs not done, {} with attempts ≠ 1",
        a.once, a.lost, a.duplicated, a.not_done, a.bad_attempts
    );
    let b = &c.audit;
    let span = b
        .last_created
        .map_or(0.0, |l| to_f64(u64::try_from((l - c.first_due).num_milliseconds()).unwrap_or(0)) / 1000.0);
    println!(
        "crash test (`yiqiao serve` child, SIGKILL at {KILL_AT_PERCENT} %): {} tasks; killed with {} reminders seen \
         ({:.0} %), {} durable after the kill; {}; restarted and listening {:.2} s after the kill; all sent {:.2} s \
         after the first due time; lateness p50 {:.3} s, p99 {:.3} s, max {:.3} s",
        c.n,
        c.seen_before_kill,
        to_f64(u64::try_from(c.seen_before_kill).unwrap_or(0)) * 100.0 / to_f64(u64::try_from(c.n).unwrap_or(1)),
        c.durable_after_kill,
        if c.killed_by_signal { "exit by signal 9" } else { "NOT killed by signal 9" },
        c.restart.as_secs_f64(),
        span,
        secs(percentile_permille(&b.lateness, 500)),
        secs(percentile_permille(&b.lateness, 990)),
        secs(b.lateness.last().copied().unwrap_or(0)),
    );
    println!(
        "crash test durability: {} tasks reminded once, {} lost, {} duplicated, {} jobs not done, {} with attempts ≠ 1",
        b.once, b.lost, b.duplicated, b.not_done, b.bad_attempts
    );
    let p99 = secs(percentile_permille(&a.lateness, 990));
    let verdict = if s.n < DEFAULT_REMINDERS {
        "not judged: the goal is stated for 100,000"
    } else if p99 <= 1.0 && s.fires_per_sec >= 20_000.0 {
        "met"
    } else {
        "not met"
    };
    println!(
        "S8 goal (100,000 reminders) lateness p99 ≤1 s at ≥20,000 fires/s: {} reminders, p99 {p99:.3} s at {:.0} \
         fires/s — {verdict}",
        s.n, s.fires_per_sec,
    );
}

#[cfg(test)]
mod tests {
    use super::whole_second;

    #[test]
    fn due_times_start_on_a_whole_second() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-01T07:00:00.250Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(whole_second(t).to_rfc3339(), "2026-12-01T07:00:01+00:00");
        let exact = chrono::DateTime::parse_from_rfc3339("2026-12-01T07:00:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(whole_second(exact), exact);
    }
}
