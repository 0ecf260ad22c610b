//! The HTTP scenarios of `yiqiao bench`: `healthz`, `institutions`, `me` and `login`, each driving N
//! keep-alive connections against one request for a fixed time; their report table and verdict.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use tokio::task::JoinSet;

use super::{
    BENCH_LOGIN, BENCH_PASSWORD, CLOCK_TICKS_PER_SEC, MAX_CONSECUTIVE_FAILURES, MAX_REQUESTS_PER_SCENARIO,
    REQUEST_TIMEOUT, Server, cpu_ticks, ms, peak_rss_kib, percentile, reset_peak_rss, rss_kib, to_f64, wire::Conn,
};

pub(super) struct Scenario {
    pub(super) name: &'static str,
    pub(super) request: Arc<[u8]>,
}

pub(super) fn get_request(addr: SocketAddr, path: &str, bearer: Option<&str>) -> Arc<[u8]> {
    let auth = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: yiqiao-bench\r\nAccept: application/json\r\n{auth}\r\n")
        .into_bytes()
        .into()
}

pub(super) fn post_json_request(addr: SocketAddr, path: &str, body: &str) -> Arc<[u8]> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: yiqiao-bench\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
    .into()
}

pub(super) fn login_request(addr: SocketAddr) -> Arc<[u8]> {
    let body = serde_json::json!({"login": BENCH_LOGIN, "password": BENCH_PASSWORD}).to_string();
    post_json_request(addr, "/api/v1/auth/login", &body)
}

/// Logs in once and returns the bearer token.
pub(super) async fn login_token(addr: SocketAddr) -> anyhow::Result<String> {
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

pub(super) async fn drive(server: &Server, duration: Duration, clients: usize) -> anyhow::Result<Vec<Report>> {
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
pub(super) struct ClientStats {
    /// Microseconds per successful (HTTP 200) request.
    pub(super) latencies: Vec<u64>,
    /// Non-200 answers by status.
    pub(super) statuses: BTreeMap<u16, u64>,
    pub(super) transport_errors: u64,
    pub(super) last_transport_error: Option<String>,
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
pub(super) async fn client_loop(
    addr: SocketAddr,
    request: Arc<[u8]>,
    deadline: Instant,
    max_requests: usize,
) -> ClientStats {
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
pub(super) struct Report {
    pub(super) name: &'static str,
    pub(super) clients: usize,
    pub(super) wall: Duration,
    /// Sorted microseconds of the successful requests.
    pub(super) latencies: Vec<u64>,
    pub(super) statuses: BTreeMap<u16, u64>,
    pub(super) transport_errors: u64,
    pub(super) last_transport_error: Option<String>,
    /// Process CPU (user + system) during the scenario, in clock ticks.
    pub(super) cpu_ticks: Option<u64>,
    /// Peak resident set during the scenario (whole process so far if the reset failed).
    pub(super) peak_rss_kib: Option<u64>,
    pub(super) peak_rss_reset: bool,
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
    pub(super) fn rate(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 { to_f64(self.ok()) / secs } else { 0.0 }
    }

    /// Process CPU seconds (server + load client) per 1,000 completed requests.
    pub(super) fn cpu_per_1000(&self) -> Option<f64> {
        let ticks = self.cpu_ticks?;
        let requests = self.requests();
        (requests > 0).then(|| to_f64(ticks) / CLOCK_TICKS_PER_SEC * 1000.0 / to_f64(requests))
    }
}

pub(super) async fn run_scenario(
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

pub(super) fn print_table(reports: &[Report]) {
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

pub(super) fn verdict(reports: &[Report], smoke: bool) -> anyhow::Result<()> {
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
