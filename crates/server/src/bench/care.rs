//! The device-readings scenario (PERFORMANCE.md S4). N blood-pressure monitors are paired, one per
//! patient, and every patient follows a hypertension plan run by one approved doctor. C keep-alive
//! connections post readings through the real `POST /api/v1/device-readings`
//! (`Authorization: Device <id>:<secret>`, the compact JSON form), first one reading per request,
//! then batches of 100. Each device is driven by one connection at a time. The product commits
//! (SQLite `synchronous=FULL`) before it answers 201, so an acknowledged reading is a durable one.
//!
//! Alert latency: one reading in 200 is urgent (186/112 mmHg). Its alert must reach the doctor's
//! real WebSocket `GET /api/v1/ws` as a `{"type":"alert"}` frame. The latency runs from just before
//! the request is written to that frame. The send instant rides in the reading id, so senders and
//! the socket share nothing. Each shape runs as fast as answers come, then paced at half that rate.
//!
//! Afterwards every device's readings are read back from storage: each acknowledged reading must be
//! stored exactly once, and every stored urgent reading counted on an alert (a repeat joins the
//! patient's open alert: issue 11 item 16). Then a loop of store-layer inserts
//! of the same sealed observation rows, without HTTP or checks, gives the storage ceiling.
//!
//! Patients, plans and devices are written through the store layer, with the same sealing as
//! pairing: registering 1,000 patients through the use case would cost 1,000 Argon2id hashes.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt::Write as _,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use store::{entity, repo};
use tokio::{sync::watch, task::JoinSet};
use tokio_tungstenite::tungstenite::Message;

use super::{
    Directory, REQUEST_TIMEOUT, Server, chat, cpu_ticks,
    fixture::{self, SEED_CHUNK, plan_row, seed_users},
    peak_rss_kib, reset_peak_rss, to_f64,
    wire::{Conn, Response},
};

mod check;

/// Options of the chronic-care scenarios (`--scenario readings|reminders`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CareArgs {
    /// Readings (S4): paired devices, one per patient [default: 1000, or 20 with --smoke].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub devices: Option<u32>,
    /// Reminders (S8): care tasks whose reminders fall due together [default: 100000, or 2000 with --smoke].
    #[arg(long, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
    pub reminders: Option<u32>,
    /// Reminders: spread the due times evenly over this many seconds [default: 0, one instant].
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=60))]
    pub spread_secs: Option<u32>,
}

const DEFAULT_DEVICES: usize = 1_000;
const SMOKE_DEVICES: usize = 20;
/// Readings per request in the batch phases.
const BATCH: usize = 100;
/// One reading in this many is urgent; in a smoke run more often, so a few hundred readings still
/// raise alerts.
const URGENT_EVERY: u64 = 200;
const SMOKE_URGENT_EVERY: u64 = 20;
/// A smoke phase also stops after this many readings.
const SMOKE_SINGLE_READINGS: u64 = 400;
const SMOKE_BATCH_READINGS: u64 = 2_000;
/// A device's readings are 6 h apart, from a year back, as a monitor used 4 times a day uploads
/// them. A year holds 1,460 of them, and the trend rule's 7-day window holds at most 28.
const STEP_HOURS: i64 = 6;
const SLOTS: u32 = 1_460;
/// How long the doctor's socket may take to show the last alerts after the last answer.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows per transaction in the storage-ceiling loop.
const CEILING_BATCHES: [usize; 3] = [1, 100, 1_000];

struct Device {
    patient: String,
    /// `Device <id>:<secret>`.
    auth: String,
}

/// The paired devices and the doctor watching their alerts.
struct Fleet {
    devices: Vec<Device>,
    /// Next sequence number per device.
    next: Vec<AtomicU32>,
    doctor: fixture::Account,
    /// The first `measured_at`.
    base: DateTime<Utc>,
    /// A patient without a device: the storage ceiling's rows are theirs.
    spare: String,
    /// When seeding ended (alerts are counted from here).
    since: DateTime<Utc>,
}

async fn setup(app: &app::App, dir: &Directory, devices: usize) -> anyhow::Result<Fleet> {
    let cast = fixture::cast(app, dir, "care", 0, 0, 1).await?;
    let doctor = cast.doctors.into_iter().next().context("no bench doctor")?;
    let mut patients = seed_users(app, "care-bp", "patient", devices + 1).await?;
    let spare = patients.pop().context("no spare patient")?;
    let keys = app.keys.current();
    let mut out = Vec::with_capacity(devices);
    for (chunk, ids) in patients.chunks(SEED_CHUNK / 2).enumerate() {
        let now = Utc::now();
        let txn = app.store.begin_write().await?;
        for (k, patient) in ids.iter().enumerate() {
            let i = chunk * (SEED_CHUNK / 2) + k;
            repo::monitoring::insert_plan(&txn, plan_row(&keys, patient, &doctor.user_id, now)?).await?;
            let id = format!("bench-bp-{i:06}");
            let secret = uuid::Uuid::new_v4().simple().to_string();
            let aad = crypto::Aad { table: "devices", column: "secret_enc", row_id: &id };
            let row = entity::device::Model {
                secret_enc: keys.encrypt(secret.as_bytes(), &aad)?,
                id: id.clone(),
                patient_id: patient.clone(),
                kind: "blood-pressure".into(),
                label_enc: Some(keys.encrypt(
                    "基准血压计 Bench BP monitor".as_bytes(),
                    &crypto::Aad { table: "devices", column: "label_enc", row_id: &id },
                )?),
                paired_by: doctor.user_id.clone(),
                paired_at: now,
                revoked_at: None,
            };
            repo::monitoring::insert_device(&txn, row).await?;
            out.push(Device { patient: patient.clone(), auth: format!("Device {id}:{secret}") });
        }
        txn.commit().await?;
    }
    let now = Utc::now();
    Ok(Fleet {
        next: (0..out.len()).map(|_| AtomicU32::new(0)).collect(),
        devices: out,
        doctor,
        base: now - chrono::Duration::days(365),
        spare,
        since: now,
    })
}

// ---------------------------------------------------------------------------------------------
// Load

/// What one phase offers: readings per request, as fast as answers come or paced.
struct PhaseOpts {
    name: &'static str,
    per_request: usize,
    clients: usize,
    duration: Duration,
    /// Offered readings/s; `None` = closed loop.
    rate: Option<f64>,
    /// Readings this phase may send at most.
    cap: u64,
    urgent_every: u64,
}

/// State the senders of one phase share.
struct Shared {
    fleet: Arc<Fleet>,
    addr: SocketAddr,
    epoch: Instant,
    deadline: Instant,
    budget: AtomicU64,
    /// Readings sent in this phase; every `urgent_every`-th is urgent.
    counter: AtomicU64,
    urgent_every: u64,
    urgent_acked: AtomicU64,
}

#[derive(Default)]
struct SenderStats {
    /// (device, first sequence number, readings) of each 201.
    acked: Vec<(u32, u32, u32)>,
    /// Reading ids of the acknowledged urgent readings.
    urgent: Vec<String>,
    /// Request written → answer read, µs.
    latencies: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    last_error: Option<String>,
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// The send instant carried by an urgent reading id `{device}-{n}-u{micros}`.
fn sent_micros(reading_id: &str) -> Option<u64> {
    reading_id.rsplit_once("-u")?.1.parse().ok()
}

/// `(device, n)` of a bench reading id.
fn parse_reading_id(reading_id: &str) -> Option<(u32, u32)> {
    let mut parts = reading_id.split('-');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Appends one compact reading. Urgent ones carry the send instant in their id.
fn push_reading(out: &mut String, base: DateTime<Utc>, device: u32, n: u32, urgent_sent: Option<u64>) {
    let at = base + chrono::Duration::hours(STEP_HOURS * i64::from(n % SLOTS));
    let (systolic, diastolic) = if urgent_sent.is_some() { (186, 112) } else { (118 + n % 20, 72 + n % 15) };
    let suffix = urgent_sent.map(|s| format!("-u{s}")).unwrap_or_default();
    let _ = write!(
        out,
        r#"{{"reading_id":"{device}-{n}{suffix}","type":"blood-pressure","values":{{"systolic":{systolic},"diastolic":{diastolic}}},"unit":"mmHg","measured_at":"{}"}}"#,
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
}

fn post_readings(addr: SocketAddr, auth: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /api/v1/device-readings HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: yiqiao-bench\r\n\
         Accept: application/json\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends readings of the devices `mine` in turn until the deadline or the budget runs out, one
/// request in flight, paced to `interval` when given.
async fn sender(
    sh: Arc<Shared>,
    mine: Vec<u32>,
    per_request: usize,
    interval: Option<Duration>,
    offset: Duration,
) -> SenderStats {
    let mut st = SenderStats::default();
    let mut conn: Option<Conn> = None;
    let per = u32::try_from(per_request).unwrap_or(u32::MAX);
    let mut next_at = tokio::time::Instant::now() + offset;
    let mut turn = 0_usize;
    let mut body = String::with_capacity(per_request * 200);
    while Instant::now() < sh.deadline && !mine.is_empty() {
        if let Some(every) = interval {
            tokio::time::sleep_until(next_at).await;
            next_at += every;
            if Instant::now() >= sh.deadline {
                break;
            }
        }
        if sh.budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(u64::from(per))).is_err() {
            break;
        }
        let device = mine[turn % mine.len()];
        turn += 1;
        let d = usize::try_from(device).unwrap_or(usize::MAX);
        if conn.is_none() {
            match Conn::connect(sh.addr).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    st.transport_errors += 1;
                    st.last_error = Some(format!("{e:#}"));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let first = sh.fleet.next[d].fetch_add(per, Ordering::Relaxed);
        let counted = sh.counter.fetch_add(u64::from(per), Ordering::Relaxed);
        let sent = micros_since(sh.epoch);
        body.clear();
        let mut urgent = Vec::new();
        if per > 1 {
            body.push('[');
        }
        for k in 0..per {
            if k > 0 {
                body.push(',');
            }
            let is_urgent = (counted + u64::from(k)) % sh.urgent_every == sh.urgent_every / 2;
            let n = first + k;
            if is_urgent {
                urgent.push(format!("{device}-{n}-u{sent}"));
            }
            push_reading(&mut body, sh.fleet.base, device, n, is_urgent.then_some(sent));
        }
        if per > 1 {
            body.push(']');
        }
        let req = post_readings(sh.addr, &sh.fleet.devices[d].auth, &body);
        match tokio::time::timeout(REQUEST_TIMEOUT, c.exchange(&req, false)).await {
            Ok(Ok(Response { status: 201, close, .. })) => {
                st.latencies.push(micros_since(sh.epoch).saturating_sub(sent));
                st.acked.push((device, first, per));
                sh.urgent_acked.fetch_add(u64::try_from(urgent.len()).unwrap_or(0), Ordering::Relaxed);
                st.urgent.extend(urgent);
                if close {
                    conn = None;
                }
            }
            Ok(Ok(r)) => {
                *st.statuses.entry(r.status).or_default() += 1;
                if r.close {
                    conn = None;
                }
            }
            Ok(Err(e)) => {
                st.transport_errors += 1;
                st.last_error = Some(format!("{e:#}"));
                conn = None;
            }
            Err(_) => {
                st.transport_errors += 1;
                st.last_error = Some("no answer in time".into());
                conn = None;
            }
        }
    }
    st
}

/// What the doctor's socket saw in one phase.
#[derive(Default)]
struct SocketStats {
    /// Request written → alert frame read, µs.
    latencies: Vec<u64>,
    /// Alert frames by reading id.
    seen: HashMap<String, u32>,
    notifications: u64,
    resyncs: u64,
    unexpected: u64,
}

async fn read_alerts(
    mut ws: chat::Socket,
    epoch: Instant,
    alerts: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> SocketStats {
    let mut s = SocketStats::default();
    loop {
        let frame = tokio::select! {
            f = ws.next() => f,
            _ = stop.changed() => break,
        };
        let text = match frame {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(_) | Err(_)) | None => {
                s.unexpected += 1;
                break;
            }
        };
        let now = micros_since(epoch);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match v["type"].as_str() {
            Some("alert") => {
                let id = v["alert"]["reading"]["reading_id"].as_str().unwrap_or_default();
                match sent_micros(id) {
                    Some(sent) => {
                        s.latencies.push(now.saturating_sub(sent));
                        *s.seen.entry(id.to_owned()).or_default() += 1;
                        alerts.fetch_add(1, Ordering::Relaxed);
                    }
                    None => s.unexpected += 1,
                }
            }
            Some("notification") => s.notifications += 1,
            Some("resync") => s.resyncs += 1,
            _ => s.unexpected += 1,
        }
    }
    let _ = ws.close(None).await;
    s
}

/// One phase's figures.
struct PhaseReport {
    name: &'static str,
    per_request: usize,
    senders: usize,
    offered: Option<f64>,
    /// Start → the last sender's last answer.
    wall: Duration,
    readings: u64,
    acked: Vec<(u32, u32, u32)>,
    /// Sorted µs.
    latencies: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    last_error: Option<String>,
    urgent: u64,
    /// Sorted µs.
    alert_latencies: Vec<u64>,
    alerts_lost: u64,
    alerts_duplicated: u64,
    /// Alerts for readings whose request did not get a 201 (answer lost after the commit).
    alerts_stray: u64,
    notifications: u64,
    resyncs: u64,
    unexpected: u64,
    cpu_ticks: Option<u64>,
    peak_rss_kib: Option<u64>,
}

impl PhaseReport {
    fn rate(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 { to_f64(self.readings) / secs } else { 0.0 }
    }

    fn errors(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.transport_errors
    }
}

async fn phase(addr: SocketAddr, fleet: &Arc<Fleet>, opts: &PhaseOpts) -> anyhow::Result<PhaseReport> {
    let ws = chat::open_socket(addr, &fleet.doctor.token).await.context("the doctor's WebSocket")?;
    let epoch = Instant::now();
    let alerts = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let reader = tokio::spawn(read_alerts(ws, epoch, Arc::clone(&alerts), stop_rx));
    let senders = opts.clients.clamp(1, fleet.devices.len().max(1));
    let per_request = to_f64(u64::try_from(opts.per_request).unwrap_or(1));
    let interval = opts
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(to_f64(u64::try_from(senders).unwrap_or(1)) * per_request / r));
    let peak_rss_reset = reset_peak_rss();
    let cpu_before = cpu_ticks();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        fleet: Arc::clone(fleet),
        addr,
        epoch,
        deadline: start + opts.duration,
        budget: AtomicU64::new(opts.cap),
        counter: AtomicU64::new(0),
        urgent_every: opts.urgent_every.max(1),
        urgent_acked: AtomicU64::new(0),
    });
    let mut tasks = JoinSet::new();
    let count = u32::try_from(fleet.devices.len()).unwrap_or(u32::MAX);
    let step = u32::try_from(senders).unwrap_or(1);
    for s in 0..step {
        let mine: Vec<u32> = (s..count).step_by(senders).collect();
        let offset = interval.map_or(Duration::ZERO, |i| i.mul_f64(f64::from(s) / f64::from(step)));
        tasks.spawn(sender(Arc::clone(&shared), mine, opts.per_request, interval, offset));
    }
    let mut sent = SenderStats::default();
    while let Some(joined) = tasks.join_next().await {
        let s = joined.context("a reading sender panicked")?;
        sent.acked.extend(s.acked);
        sent.urgent.extend(s.urgent);
        sent.latencies.extend(s.latencies);
        for (k, v) in s.statuses {
            *sent.statuses.entry(k).or_default() += v;
        }
        sent.transport_errors += s.transport_errors;
        if s.last_error.is_some() {
            sent.last_error = s.last_error;
        }
    }
    let wall = start.elapsed();
    let cpu = cpu_before.zip(cpu_ticks()).map(|(a, b)| b.saturating_sub(a));
    let peak = peak_rss_kib().filter(|_| peak_rss_reset);
    let urgent = u64::try_from(sent.urgent.len()).unwrap_or(u64::MAX);
    let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
    while alerts.load(Ordering::Relaxed) < urgent && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop_tx.send(true);
    let mut socket = reader.await.context("the doctor's socket reader panicked")?;
    let acked_urgent: HashSet<&str> = sent.urgent.iter().map(String::as_str).collect();
    let lost = sent.urgent.iter().filter(|id| !socket.seen.contains_key(*id)).count();
    let duplicated: u32 = socket.seen.values().map(|n| n.saturating_sub(1)).sum();
    let stray = socket.seen.keys().filter(|id| !acked_urgent.contains(id.as_str())).count();
    socket.latencies.sort_unstable();
    sent.latencies.sort_unstable();
    Ok(PhaseReport {
        name: opts.name,
        per_request: opts.per_request,
        senders,
        offered: opts.rate,
        wall,
        readings: sent.acked.iter().map(|(_, _, k)| u64::from(*k)).sum(),
        acked: sent.acked,
        latencies: sent.latencies,
        statuses: sent.statuses,
        transport_errors: sent.transport_errors,
        last_error: sent.last_error,
        urgent,
        alert_latencies: socket.latencies,
        alerts_lost: u64::try_from(lost).unwrap_or(u64::MAX),
        alerts_duplicated: u64::from(duplicated),
        alerts_stray: u64::try_from(stray).unwrap_or(u64::MAX),
        notifications: socket.notifications,
        resyncs: socket.resyncs,
        unexpected: socket.unexpected,
        cpu_ticks: cpu,
        peak_rss_kib: peak,
    })
}

// ---------------------------------------------------------------------------------------------
// The scenario

/// Seeds the fleet, runs single and batched readings at full and half load, reads everything back,
/// measures the storage ceiling, prints the figures; returns the problems found.
pub(super) async fn run(
    server: &Server,
    dir: &Directory,
    duration: Duration,
    clients: usize,
    args: &CareArgs,
    smoke: bool,
) -> anyhow::Result<Vec<String>> {
    let devices = args
        .devices
        .map_or(if smoke { SMOKE_DEVICES } else { DEFAULT_DEVICES }, |n| usize::try_from(n).unwrap_or(usize::MAX));
    eprintln!("  readings: pairing {devices} devices (one patient and plan each)…");
    let t = Instant::now();
    let fleet = Arc::new(setup(&server.app, dir, devices).await?);
    eprintln!("  readings: set up in {:.1} s", t.elapsed().as_secs_f64());
    let urgent_every = if smoke { SMOKE_URGENT_EVERY } else { URGENT_EVERY };
    let mut reports = Vec::new();
    for (per_request, max_name, half_name, smoke_cap) in [
        (1, "single-max", "single-half", SMOKE_SINGLE_READINGS),
        (BATCH, "batch100-max", "batch100-half", SMOKE_BATCH_READINGS),
    ] {
        let cap = if smoke { smoke_cap } else { u64::MAX };
        let mut opts = PhaseOpts { name: max_name, per_request, clients, duration, rate: None, cap, urgent_every };
        eprintln!("  {max_name:<14} {} s, {clients} connections…", duration.as_secs());
        let max = phase(server.addr, &fleet, &opts).await?;
        let half = max.rate() / 2.0;
        reports.push(max);
        if half > 0.0 {
            opts.name = half_name;
            opts.rate = Some(half);
            eprintln!("  {half_name:<14} {} s at {half:.0} readings/s…", duration.as_secs());
            reports.push(phase(server.addr, &fleet, &opts).await?);
        }
    }
    let stored = check::verify(&server.app, &fleet, &reports).await?;
    let budget = if smoke { Duration::from_millis(300) } else { duration.min(Duration::from_secs(3)) };
    let mut ceilings = Vec::new();
    for per_txn in CEILING_BATCHES {
        ceilings.push((per_txn, check::ceiling(&server.app, &fleet.spare, per_txn, budget).await?));
    }
    check::print_report(&reports, &stored, &ceilings);
    Ok(check::problems(&reports, &stored, smoke))
}

#[cfg(test)]
mod tests {
    use super::{parse_reading_id, push_reading, sent_micros};

    #[test]
    fn reading_ids_carry_device_sequence_and_send_instant() {
        assert_eq!(parse_reading_id("12-345"), Some((12, 345)));
        assert_eq!(parse_reading_id("12-345-u678"), Some((12, 345)));
        assert_eq!(sent_micros("12-345-u678"), Some(678));
        assert_eq!(sent_micros("12-345"), None);
        assert_eq!(parse_reading_id("x"), None);
    }

    #[test]
    fn readings_are_valid_compact_json() {
        let base = chrono::Utc::now() - chrono::Duration::days(365);
        let mut s = String::new();
        push_reading(&mut s, base, 3, 7, Some(42));
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["reading_id"], "3-7-u42");
        assert_eq!(v["values"]["systolic"], 186);
        assert_eq!(v["type"], "blood-pressure");
    }
}
