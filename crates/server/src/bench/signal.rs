//! The call-signaling scenario (issue 4, F3): one accepted call between a patient and a doctor, both
//! on the real WebSocket. The patient's socket sends `signal` frames (ICE-candidate sized) one at a
//! time; each is authorised by the server (participant of this call, call live) and forwarded to the
//! doctor's socket. Latency is frame written → frame read on the other socket: two loopback hops plus
//! the server's receive → check → forward, i.e. an upper bound on the overhead one hop adds.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::{Directory, REQUEST_TIMEOUT, chat, fixture, percentile, percentile_permille};

/// What the scenario measured (microseconds).
pub(super) struct SignalReport {
    pub relayed: usize,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub per_sec: f64,
}

/// Runs for `duration` (or at most `max_signals` round trips) and reports.
pub(super) async fn run(
    app: &app::App,
    dir: &Directory,
    addr: std::net::SocketAddr,
    duration: Duration,
    max_signals: usize,
) -> anyhow::Result<SignalReport> {
    let cast = fixture::cast(app, dir, "signal", 8_000, 1, 1).await?;
    let (patient, doctor) = (&cast.patients[0], &cast.doctors[0]);
    let who = app::account::authenticate(app, &patient.token).await?;
    let ctx = app::RequestCtx::default();
    let input = app::consultation::StartConsultation {
        doctor: Some(doctor.user_id.clone()),
        complaint: "基准：视频复诊".into(),
        ..Default::default()
    };
    let consultation = app::consultation::start(app, &who, &ctx, input).await?;
    let call = app::call::start(app, &who, &ctx, &consultation.s.id, "video").await?;
    let doc = app::account::authenticate(app, &doctor.token).await?;
    app::call::act(app, app::call::Party::User(&doc), &ctx, &call.id, "accept").await?;

    let mut tx = chat::open_socket(addr, &patient.token).await?;
    let mut rx = chat::open_socket(addr, &doctor.token).await?;
    // An ICE candidate line of realistic size.
    let candidate = "candidate:842163049 1 udp 1677729535 203.0.113.10 46154 typ srflx raddr 10.0.0.2 rport 46154 generation 0 ufrag EsAw network-cost 999";
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < duration && samples.len() < max_signals {
        let seq = samples.len();
        let frame = serde_json::json!({
            "type": "signal",
            "call_id": call.id,
            "data": {"candidate": {"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0}, "seq": seq},
        });
        let sent = Instant::now();
        tx.send(Message::text(frame.to_string())).await?;
        loop {
            let got = tokio::time::timeout(REQUEST_TIMEOUT, rx.next()).await.context("signal not relayed in time")?;
            let Some(Ok(Message::Text(text))) = got else { bail!("the callee's socket closed") };
            let ev: serde_json::Value = serde_json::from_str(&text)?;
            if ev["type"] == "signal" && ev["data"]["seq"] == seq {
                samples.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                break;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = tx.close(None).await;
    let _ = rx.close(None).await;
    samples.sort_unstable();
    Ok(SignalReport {
        relayed: samples.len(),
        p50: percentile(&samples, 50),
        p99: percentile(&samples, 99),
        p999: percentile_permille(&samples, 999),
        max: samples.last().copied().unwrap_or(0),
        per_sec: super::to_f64(super::len_u64_n(samples.len())) / elapsed.max(1e-9),
    })
}
