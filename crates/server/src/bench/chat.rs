//! The chat scenario (PERFORMANCE.md S2): N open consultations, every participant online on the
//! real WebSocket `GET /api/v1/ws`, messages sent through the real HTTP API
//! `POST /api/v1/consultations/{id}/messages` (committed with `synchronous=FULL` before the 201),
//! alternately by the patient and by the doctor of each consultation.
//!
//! Latency is send → receive: from just before the POST is written to the moment the other
//! party's socket yields the `message` event. The send instant travels in the `client_id`
//! (microseconds since the run's epoch), so nothing is shared between senders and receivers.
//! At the end every acknowledged message must have reached the other party exactly once, and
//! every consultation is read back through `GET …/messages?after=` to check each acknowledged
//! `client_id` was stored exactly once with a gap-free `seq` (durability before the ack).

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt, TryStreamExt, stream};
use tokio::{sync::watch, task::JoinSet};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use super::{
    Directory, REQUEST_TIMEOUT, cpu_ticks, fixture, peak_rss_kib, reset_peak_rss,
    wire::{Conn, Response},
};

/// Accounts per side: each hash costs ~20 ms of CPU, so consultations share participants.
const MAX_ACCOUNTS_PER_SIDE: usize = 100;
/// How long the receivers may take to drain after the last acknowledgement.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// `GET …/messages` pages hold at most this many messages.
const PAGE: usize = 500;

pub(super) struct ChatOpts {
    pub consultations: usize,
    pub senders: usize,
    pub duration: Duration,
    /// Offered load in messages/s; `None` = as fast as the senders get answers.
    pub rate: Option<f64>,
}

/// One consultation of the run.
struct Consult {
    id: String,
    patient: usize,
    doctor: usize,
}

/// The fixture of a chat run, kept across its phases.
pub(super) struct ChatSetup {
    cast: fixture::Cast,
    consults: Arc<Vec<Consult>>,
    epoch: Instant,
    /// Every acknowledged client id of every phase, by consultation index.
    acked: Vec<Vec<String>>,
}

/// What one phase measured.
pub(super) struct ChatReport {
    pub name: String,
    pub consultations: usize,
    pub sockets: usize,
    pub senders: usize,
    pub offered: Option<f64>,
    pub wall: Duration,
    pub acked: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub transport_errors: u64,
    pub last_error: Option<String>,
    /// Sorted send → receive latencies (µs) of the messages delivered to the other party.
    pub latencies: Vec<u64>,
    /// Sorted POST → 201 latencies (µs).
    pub ack_latencies: Vec<u64>,
    pub lost: u64,
    pub duplicated: u64,
    pub unexpected: u64,
    pub resyncs: u64,
    pub cpu_ticks: Option<u64>,
    pub peak_rss_kib: Option<u64>,
}

impl ChatReport {
    pub fn delivered_rate(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 { super::to_f64(super::len_u64(&self.latencies)) / secs } else { 0.0 }
    }

    pub fn errors(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.transport_errors
    }
}

/// Registers the participants, starts the consultations through the use case.
pub(super) async fn setup(app: &app::App, dir: &Directory, consultations: usize) -> anyhow::Result<ChatSetup> {
    let per_side = consultations.clamp(1, MAX_ACCOUNTS_PER_SIDE);
    let cast = fixture::cast(app, dir, "chat", 0, per_side, per_side).await?;
    let plan: Vec<(usize, usize)> = (0..consultations).map(|i| (i % per_side, (i + i / per_side) % per_side)).collect();
    let consults = stream::iter(plan)
        .map(|(patient, doctor)| {
            let (p, d) = (cast.patients[patient].clone(), cast.doctors[doctor].clone());
            async move {
                let who = app::account::authenticate(app, &p.token).await?;
                let input = app::consultation::StartConsultation {
                    doctor: Some(d.user_id),
                    complaint: "基准咨询：最近血压偏高，想请医生看看用药是否需要调整。".into(),
                    ..Default::default()
                };
                let view = app::consultation::start(app, &who, &app::RequestCtx::default(), input).await?;
                Ok::<_, anyhow::Error>(Consult { id: view.s.id, patient, doctor })
            }
        })
        .buffered(8)
        .try_collect::<Vec<_>>()
        .await
        .context("cannot start the benchmark consultations")?;
    let acked = vec![Vec::new(); consults.len()];
    Ok(ChatSetup { cast, consults: Arc::new(consults), epoch: Instant::now(), acked })
}

/// What one socket saw.
#[derive(Default)]
struct SocketStats {
    /// (client id, send → receive µs) of messages from the other party.
    received: Vec<(String, u64)>,
    /// Own messages echoed back (the sender's other devices would show them).
    echoes: u64,
    resyncs: u64,
    /// Anything else that was not expected (errors, unparsable frames).
    unexpected: u64,
}

#[derive(serde::Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    message: Option<EventMessage>,
}

#[derive(serde::Deserialize)]
struct EventMessage {
    client_id: String,
    sender: String,
}

/// The send instant carried in a bench client id `b{consultation}-{n}-{micros}`.
fn sent_micros(client_id: &str) -> Option<u64> {
    client_id.strip_prefix('b')?.rsplit('-').next()?.parse().ok()
}

fn micros_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

pub(super) type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// Opens the socket with a bearer token and waits until the server's loop runs (and so is
/// subscribed to the bus): an unknown event is answered with an `error` event by that loop.
pub(super) async fn open_socket(addr: SocketAddr, token: &str) -> anyhow::Result<Socket> {
    let mut req = format!("ws://{addr}/api/v1/ws").into_client_request()?;
    req.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {token}"))?);
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (mut ws, resp) = tokio::time::timeout(REQUEST_TIMEOUT, tokio_tungstenite::client_async(req, tcp))
        .await
        .context("WebSocket handshake timed out")??;
    if resp.status().as_u16() != 101 {
        bail!("WebSocket upgrade answered {}", resp.status());
    }
    ws.send(Message::text(r#"{"type":"bench-probe"}"#)).await?;
    loop {
        let frame = tokio::time::timeout(REQUEST_TIMEOUT, ws.next()).await.context("no answer to the probe")?;
        match frame {
            Some(Ok(Message::Text(t))) if t.contains(r#""bad_event""#) => return Ok(ws),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("socket closed before answering the probe"),
        }
    }
}

async fn read_socket(
    mut ws: Socket,
    user_id: String,
    epoch: Instant,
    delivered: Arc<AtomicU64>,
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
        match serde_json::from_str::<Event>(&text) {
            Ok(Event { kind, message: Some(m) }) if kind == "message" => {
                if m.sender == user_id {
                    s.echoes += 1;
                } else if let Some(sent) = sent_micros(&m.client_id) {
                    s.received.push((m.client_id, now.saturating_sub(sent)));
                    delivered.fetch_add(1, Ordering::Relaxed);
                } else {
                    s.unexpected += 1;
                }
            }
            Ok(Event { kind, .. }) if kind == "resync" => s.resyncs += 1,
            // Typing and read receipts are not sent by this scenario; anything else is unexpected.
            _ => s.unexpected += 1,
        }
    }
    let _ = ws.close(None).await;
    s
}

/// What one sender saw.
#[derive(Default)]
struct SenderStats {
    /// (consultation index, client id) of each 201.
    acked: Vec<(usize, String)>,
    ack_latencies: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    last_error: Option<String>,
}

fn post_message(addr: SocketAddr, consultation: &str, token: &str, client_id: &str, text: &str) -> Vec<u8> {
    let body = serde_json::json!({"client_id": client_id, "text": text}).to_string();
    format!(
        "POST /api/v1/consultations/{consultation}/messages HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: yiqiao-bench\r\n\
         Accept: application/json\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends to the consultations `mine` in turn (patient, doctor, patient, …) until `deadline`,
/// one request in flight, paced to `interval` when given.
async fn sender(
    addr: SocketAddr,
    setup: Arc<(Vec<String>, Vec<String>)>,
    consults: Arc<Vec<Consult>>,
    mine: Vec<usize>,
    epoch: Instant,
    deadline: Instant,
    interval: Option<Duration>,
    offset: Duration,
    phase: char,
) -> SenderStats {
    let (patient_tokens, doctor_tokens) = &*setup;
    let mut st = SenderStats::default();
    let mut conn: Option<Conn> = None;
    let mut counters = vec![0_u64; mine.len()];
    // Senders start staggered over one interval, so a paced run offers a steady stream rather
    // than bursts of one request per sender at the same instant.
    let mut next_at = tokio::time::Instant::now() + offset;
    let mut turn = 0_usize;
    while Instant::now() < deadline && !mine.is_empty() {
        if let Some(every) = interval {
            tokio::time::sleep_until(next_at).await;
            next_at += every;
        }
        let slot = turn % mine.len();
        turn += 1;
        let ci = mine[slot];
        let c = &consults[ci];
        let n = counters[slot];
        counters[slot] += 1;
        let token = if n.is_multiple_of(2) { &patient_tokens[c.patient] } else { &doctor_tokens[c.doctor] };
        if conn.is_none() {
            match Conn::connect(addr).await {
                Ok(fresh) => conn = Some(fresh),
                Err(e) => {
                    st.transport_errors += 1;
                    st.last_error = Some(format!("{e:#}"));
                    continue;
                }
            }
        }
        let Some(cn) = conn.as_mut() else { continue };
        let sent = micros_since(epoch);
        let client_id = format!("b{ci}{phase}{n}-{sent}");
        let text = format!("第{n}条基准消息：今天血压平稳，继续按时服药，有头晕请告诉我。");
        let req = post_message(addr, &c.id, token, &client_id, &text);
        match tokio::time::timeout(REQUEST_TIMEOUT, cn.exchange(&req, false)).await {
            Ok(Ok(Response { status: 201, close, .. })) => {
                st.ack_latencies.push(micros_since(epoch).saturating_sub(sent));
                st.acked.push((ci, client_id));
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

/// One phase: every participant's socket open, senders for `duration`, then a bounded drain.
pub(super) async fn phase(
    addr: SocketAddr,
    setup: &mut ChatSetup,
    name: &str,
    opts: &ChatOpts,
) -> anyhow::Result<ChatReport> {
    let epoch = setup.epoch;
    let delivered = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let everyone: Vec<fixture::Account> =
        setup.cast.patients.iter().chain(setup.cast.doctors.iter()).cloned().collect();
    let sockets = stream::iter(everyone.iter().map(|a| open_socket(addr, &a.token)))
        .buffered(16)
        .try_collect::<Vec<_>>()
        .await
        .context("cannot open the participants' WebSockets")?;
    let mut readers = JoinSet::new();
    for (ws, a) in sockets.into_iter().zip(&everyone) {
        readers.spawn(read_socket(ws, a.user_id.clone(), epoch, Arc::clone(&delivered), stop_rx.clone()));
    }

    let senders = opts.senders.clamp(1, setup.consults.len().max(1));
    let interval = opts.rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(super::to_f64(senders as u64) / r));
    let tokens = Arc::new((
        setup.cast.patients.iter().map(|a| a.token.clone()).collect::<Vec<_>>(),
        setup.cast.doctors.iter().map(|a| a.token.clone()).collect::<Vec<_>>(),
    ));
    let phase_tag = name.chars().next().unwrap_or('x');
    let peak_rss_reset = reset_peak_rss();
    let cpu_before = cpu_ticks();
    let start = Instant::now();
    let deadline = start + opts.duration;
    let mut tasks = JoinSet::new();
    for s in 0..senders {
        let mine: Vec<usize> = (s..setup.consults.len()).step_by(senders).collect();
        let offset = interval.map_or(Duration::ZERO, |i| {
            i.mul_f64(super::to_f64(super::len_u64_n(s)) / super::to_f64(super::len_u64_n(senders)))
        });
        tasks.spawn(sender(
            addr,
            Arc::clone(&tokens),
            Arc::clone(&setup.consults),
            mine,
            epoch,
            deadline,
            interval,
            offset,
            phase_tag,
        ));
    }
    let mut sent = SenderStats::default();
    while let Some(joined) = tasks.join_next().await {
        let s = joined.context("a sender panicked")?;
        sent.acked.extend(s.acked);
        sent.ack_latencies.extend(s.ack_latencies);
        for (k, v) in s.statuses {
            *sent.statuses.entry(k).or_default() += v;
        }
        sent.transport_errors += s.transport_errors;
        if s.last_error.is_some() {
            sent.last_error = s.last_error;
        }
    }
    let acked = super::len_u64(&sent.acked);
    // Drain: wait (bounded) until the sockets have seen as many messages as were acknowledged.
    let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
    while delivered.load(Ordering::Relaxed) < acked && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let wall = start.elapsed();
    let cpu = cpu_before.zip(cpu_ticks()).map(|(a, b)| b.saturating_sub(a));
    let peak = peak_rss_kib().filter(|_| peak_rss_reset);
    let _ = stop_tx.send(true);
    let mut seen: HashMap<String, u32> = HashMap::with_capacity(sent.acked.len());
    let mut latencies = Vec::with_capacity(sent.acked.len());
    let (mut resyncs, mut unexpected) = (0, 0);
    while let Some(joined) = readers.join_next().await {
        let s = joined.context("a socket reader panicked")?;
        resyncs += s.resyncs;
        unexpected += s.unexpected;
        let _ = s.echoes;
        for (id, us) in s.received {
            latencies.push(us);
            *seen.entry(id).or_default() += 1;
        }
    }
    let lost = sent.acked.iter().filter(|(_, id)| !seen.contains_key(id)).count();
    let duplicated: u32 = seen.values().map(|n| n.saturating_sub(1)).sum();
    let acked_ids: std::collections::HashSet<&str> = sent.acked.iter().map(|(_, id)| id.as_str()).collect();
    let stray = seen.keys().filter(|id| !acked_ids.contains(id.as_str())).count();
    latencies.sort_unstable();
    sent.ack_latencies.sort_unstable();
    for (ci, id) in sent.acked {
        setup.acked[ci].push(id);
    }
    Ok(ChatReport {
        name: name.to_owned(),
        consultations: setup.consults.len(),
        sockets: everyone.len(),
        senders,
        offered: opts.rate,
        wall,
        acked,
        statuses: sent.statuses,
        transport_errors: sent.transport_errors,
        last_error: sent.last_error,
        latencies,
        ack_latencies: sent.ack_latencies,
        lost: lost as u64,
        duplicated: u64::from(duplicated),
        unexpected: unexpected + stray as u64,
        resyncs,
        cpu_ticks: cpu,
        peak_rss_kib: peak,
    })
}

/// Reads every consultation back through the API (as its patient) and checks that each
/// acknowledged client id is stored exactly once and that `seq` has no gap. Returns the number
/// of problems found (0 = every acknowledged message is durable and unique).
pub(super) async fn verify_stored(addr: SocketAddr, setup: &ChatSetup) -> anyhow::Result<u64> {
    let checks = setup.consults.iter().zip(&setup.acked).map(|(c, acked)| {
        let token = setup.cast.patients[c.patient].token.clone();
        async move {
            let mut conn = Conn::connect(addr).await?;
            let mut stored: HashMap<String, u32> = HashMap::new();
            let mut after = 0_i64;
            let mut problems = 0_u64;
            loop {
                let path = format!("/api/v1/consultations/{}/messages?after={after}", c.id);
                let req = super::get_request(addr, &path, Some(&token));
                let r = tokio::time::timeout(REQUEST_TIMEOUT, conn.exchange(&req, true)).await.context("timeout")??;
                if r.status != 200 {
                    bail!("GET {path} answered {}", r.status);
                }
                let v: serde_json::Value = serde_json::from_slice(&r.body)?;
                let items = v["items"].as_array().cloned().unwrap_or_default();
                for m in &items {
                    let seq = m["seq"].as_i64().unwrap_or(-1);
                    if seq != after + 1 {
                        problems += 1;
                    }
                    after = seq;
                    *stored.entry(m["client_id"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
                }
                if items.len() < PAGE {
                    break;
                }
            }
            for id in acked {
                match stored.get(id) {
                    Some(1) => {}
                    _ => problems += 1,
                }
            }
            Ok::<u64, anyhow::Error>(problems)
        }
    });
    let per: Vec<u64> = stream::iter(checks).buffer_unordered(8).try_collect().await?;
    Ok(per.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::sent_micros;

    #[test]
    fn the_send_instant_rides_in_the_client_id() {
        assert_eq!(sent_micros("b12m7-123456"), Some(123_456));
        assert_eq!(sent_micros("start"), None);
        assert_eq!(sent_micros("b1-x"), None);
    }
}
