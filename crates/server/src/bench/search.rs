//! The search scenario (PERFORMANCE.md S5, requirement C2): a database of many stored messages,
//! then `GET /api/v1/search` from a patient and from a doctor over the consultations they hold.
//!
//! Seeding goes through the store layer in large write transactions (sending a million messages
//! over HTTP would take an hour here), but writes exactly what the send path writes: bodies sealed
//! with the key ring under the same AAD (`consultation_messages.body_enc` bound to the row id),
//! and blind-index tokens from `domain::search::tokens` + `KeyRing::blind_index("search", …)` in
//! `search_tokens`, as `app::consultation::index_text` does. Consultations, complaints, closing
//! summaries and ICD-10 diagnoses are written as `start` and `close` write them.

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use store::entity::{consultation as c, consultation_message as m};

use super::{Directory, Report, Scenario, fixture, get_request, run_scenario};

/// Messages per consultation in the seeded database.
const MESSAGES_PER_CONSULTATION: usize = 100;
/// Messages written per transaction.
const BATCH_MESSAGES: usize = 10_000;
const ICD: [&str; 6] = ["I10", "E11.9", "J45.9", "K29.7", "I25.1", "E78.5"];
/// Everyday phrases of a follow-up conversation (each a run of CJK characters → bigram tokens).
const PHRASES: [&str; 20] = [
    "最近血压有点高",
    "早上起来头晕",
    "晚上睡眠不好",
    "按时服药了",
    "空腹血糖七点二",
    "胸口偶尔发闷",
    "谢谢医生",
    "好的我明白了",
    "需要复查吗",
    "饮食清淡少盐",
    "多喝水注意休息",
    "心率每分钟八十次",
    "咳嗽两天了",
    "有点发烧",
    "药吃完了要不要续方",
    "下周去医院拿报告",
    "运动后气短",
    "腿有点肿",
    "血脂检查结果出来了",
    "胃不舒服",
];
/// A drug named in about 1 % of messages, and one in about 0.2 %.
const UNCOMMON: &str = "二甲双胍";
const RARE: &str = "阿托伐他汀";

/// A small deterministic generator (xorshift64*), so every run seeds the same texts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

fn message_text(rng: &mut Rng) -> String {
    let parts = 1 + rng.below(3);
    let mut out: Vec<&str> = (0..parts).map(|_| PHRASES[rng.below(PHRASES.len())]).collect();
    match rng.below(500) {
        0 => out.push(RARE),
        1..=5 => out.push(UNCOMMON),
        _ => {}
    }
    out.join("，")
}

/// Rows of one seeding transaction.
#[derive(Default)]
struct Batch {
    consultations: Vec<c::Model>,
    messages: Vec<m::Model>,
    tokens: Vec<(String, String, String)>,
    diagnoses: Vec<(String, String)>,
}

/// Builds consultations `range` (CPU only: sealing and blind indexing).
fn build_batch(
    app: &app::App,
    dir: &Directory,
    cast: &fixture::Cast,
    range: std::ops::Range<usize>,
    total_consultations: usize,
    total_messages: usize,
    start: DateTime<Utc>,
) -> anyhow::Result<Batch> {
    let keys = app.keys.current();
    let mut b = Batch::default();
    let year = chrono::Duration::days(365);
    let seal = |table: &str, column: &str, id: &str, text: &str| -> anyhow::Result<Vec<u8>> {
        Ok(keys.encrypt(text.as_bytes(), &crypto::Aad { table, column, row_id: id })?)
    };
    let index = |b: &mut Batch, cid: &str, source: &str, text: &str| {
        for t in domain::search::tokens(text, 400) {
            b.tokens.push((cid.to_owned(), source.to_owned(), keys.blind_index("search", &t)));
        }
    };
    for k in range {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (u64::try_from(k).unwrap_or(0) + 1));
        let id = domain::ConsultationId::new().to_string();
        let patient = &cast.patients[k % cast.patients.len()];
        let doctor = &cast.doctors[k % cast.doctors.len()];
        let offset = year * i32::try_from(k).unwrap_or(0) / i32::try_from(total_consultations.max(1)).unwrap_or(1);
        let created = start + offset;
        // Messages of consultation k: an even share of the total (the first ones take the rest).
        let n = total_messages / total_consultations + usize::from(k < total_messages % total_consultations);
        let closed = k % 3 == 0;
        let complaint = message_text(&mut rng);
        for seq in 1..=n {
            let msg_id = domain::MessageId::new().to_string();
            let text = if seq == 1 { complaint.clone() } else { message_text(&mut rng) };
            let from_patient = seq % 2 == 1;
            index(&mut b, &id, &msg_id, &text);
            b.messages.push(m::Model {
                body_enc: seal("consultation_messages", "body_enc", &msg_id, &text)?,
                consultation_id: id.clone(),
                seq: i64::try_from(seq).unwrap_or(i64::MAX),
                sender_id: if from_patient { &patient.user_id } else { &doctor.user_id }.clone(),
                sender_role: if from_patient { "patient" } else { "doctor" }.into(),
                client_id: if seq == 1 { "start".into() } else { format!("seed-{seq}") },
                kind: "text".into(),
                sent_at: created + chrono::Duration::minutes(i64::try_from(seq).unwrap_or(0)),
                id: msg_id,
            });
        }
        let summary = "血压控制良好，继续原方案，一个月后复查";
        if closed {
            index(&mut b, &id, "summary", summary);
            b.diagnoses.push((id.clone(), ICD[(k / 3) % ICD.len()].to_owned()));
        }
        let last = created + chrono::Duration::minutes(i64::try_from(n).unwrap_or(0));
        b.consultations.push(c::Model {
            complaint_enc: seal("consultations", "complaint_enc", &id, &complaint)?,
            summary_enc: if closed { Some(seal("consultations", "summary_enc", &id, summary)?) } else { None },
            id,
            patient_id: patient.user_id.clone(),
            doctor_id: Some(doctor.user_id.clone()),
            department_id: Some(dir.department_id.clone()),
            institution_id: dir.institution_id.clone(),
            status: if closed { "closed" } else { "active" }.into(),
            kind: "follow_up".into(),
            priority: false,
            prior_diagnosis_enc: None,
            red_flags_enc: None,
            created_at: created,
            first_response_due_at: created + chrono::Duration::hours(24),
            first_response_at: Some(created + chrono::Duration::minutes(2)),
            first_responder_id: Some(doctor.user_id.clone()),
            escalated_at: None,
            closed_at: closed.then_some(last),
            rating: None,
            rating_comment_enc: None,
            rated_at: None,
            last_seq: i64::try_from(n).unwrap_or(0),
            updated_at: last,
        });
    }
    Ok(b)
}

async fn write_batch(app: &app::App, b: Batch) -> anyhow::Result<()> {
    let txn = app.store.begin_write().await?;
    for row in b.consultations {
        store::repo::consultation::insert(&txn, row).await?;
    }
    store::repo::consultation::insert_messages(&txn, b.messages).await?;
    store::repo::search::index_batch(&txn, &b.tokens).await?;
    let keys = app.keys.current();
    for (id, code) in b.diagnoses {
        let rows = app::seal::diagnosis_rows(&keys, &id, &[code]).context("seal diagnosis")?;
        store::repo::consultation::set_diagnoses(&txn, &id, rows).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// What seeding took.
pub(super) struct Seeded {
    pub cast: fixture::Cast,
    pub messages: usize,
    pub consultations: usize,
    pub tokens: usize,
    pub elapsed: Duration,
}

/// Seeds `messages` messages; generation of the next batch overlaps the write of the current.
pub(super) async fn seed(app: &app::App, dir: &Directory, messages: usize) -> anyhow::Result<Seeded> {
    let consultations = messages.div_ceil(MESSAGES_PER_CONSULTATION).max(1);
    let patients = (consultations / 10).clamp(1, 100);
    let doctors = (consultations / 100).clamp(1, 20);
    let cast = fixture::cast(app, dir, "search", 1_000, patients, doctors).await?;
    let started = Instant::now();
    let start = Utc::now() - chrono::Duration::days(366);
    let per_batch = (BATCH_MESSAGES / MESSAGES_PER_CONSULTATION).max(1);
    let cast = std::sync::Arc::new(cast);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<Batch>>(2);
    let producer = {
        let (app, dir, cast) = (app.clone(), dir.clone(), std::sync::Arc::clone(&cast));
        tokio::task::spawn_blocking(move || {
            let mut k = 0;
            while k < consultations {
                let end = (k + per_batch).min(consultations);
                let batch = build_batch(&app, &dir, &cast, k..end, consultations, messages, start);
                let failed = batch.is_err();
                if tx.blocking_send(batch).is_err() || failed {
                    break;
                }
                k = end;
            }
        })
    };
    let mut tokens = 0;
    let mut written = 0;
    let mut last_report = Instant::now();
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        tokens += batch.tokens.len();
        written += batch.messages.len();
        write_batch(app, batch).await.context("seeding failed")?;
        if last_report.elapsed() > Duration::from_secs(15) {
            last_report = Instant::now();
            eprintln!("    seeded {written} messages in {:.0} s…", started.elapsed().as_secs_f64());
        }
    }
    producer.await.context("the seeding generator panicked")?;
    let cast = std::sync::Arc::try_unwrap(cast).map_err(|_| anyhow::anyhow!("seeding cast still shared"))?;
    Ok(Seeded { cast, messages: written, consultations, tokens, elapsed: started.elapsed() })
}

/// The query classes of S5, each run as its own scenario.
pub(super) fn scenarios(addr: std::net::SocketAddr, seeded: &Seeded) -> Vec<(Scenario, bool)> {
    let patient = &seeded.cast.patients[0].token;
    let doctor = &seeded.cast.doctors[0].token;
    let today = Utc::now().date_naive();
    let from = (today - chrono::Duration::days(270)).format("%Y-%m-%d");
    let to = (today - chrono::Duration::days(180)).format("%Y-%m-%d");
    let enc = |s: &str| {
        s.bytes().fold(String::new(), |mut out, b| {
            let _ = write!(out, "%{b:02X}");
            out
        })
    };
    let q = |user: &str, query: String| get_request(addr, &format!("/api/v1/search?{query}"), Some(user));
    // (scenario, whether it must find something)
    vec![
        (Scenario { name: "search-patient", request: q(patient, format!("q={}", enc("血压"))) }, true),
        (
            Scenario {
                name: "search-doc-date", request: q(doctor, format!("q={}&from={from}&to={to}", enc("头晕")))
            },
            true,
        ),
        (Scenario { name: "search-doc-icd", request: q(doctor, format!("q={}&icd=I10", enc("血压"))) }, true),
        (Scenario { name: "search-doc-rare", request: q(doctor, format!("q={}", enc(RARE))) }, false),
        (Scenario { name: "search-doc-2kw", request: q(doctor, format!("q={}", enc("头晕 发烧"))) }, true),
    ]
}

/// Runs one query once and returns its number of hits.
pub(super) async fn hits(addr: std::net::SocketAddr, s: &Scenario) -> anyhow::Result<usize> {
    let mut conn = super::wire::Conn::connect(addr).await?;
    let r = conn.exchange(&s.request, true).await?;
    if r.status != 200 {
        anyhow::bail!("{} answered HTTP {}: {}", s.name, r.status, String::from_utf8_lossy(&r.body));
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    Ok(v["items"].as_array().map_or(0, Vec::len))
}

/// Runs every query class for `duration` with `clients` connections.
pub(super) async fn run(
    addr: std::net::SocketAddr,
    seeded: &Seeded,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Vec<Report>> {
    let mut out = Vec::new();
    for (s, must_hit) in scenarios(addr, seeded) {
        let n = hits(addr, &s).await?;
        eprintln!("  {:<16} {n} hits; {} s, {clients} clients…", s.name, duration.as_secs());
        if must_hit && n == 0 {
            anyhow::bail!("{} found nothing in the seeded messages", s.name);
        }
        out.push(run_scenario(addr, &s, clients, duration).await?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_texts_are_deterministic_and_tokenise() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        for _ in 0..100 {
            let t = message_text(&mut a);
            assert_eq!(t, message_text(&mut b));
            assert!(!domain::search::tokens(&t, 400).is_empty());
        }
    }
}
