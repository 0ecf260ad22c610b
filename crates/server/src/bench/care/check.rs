//! The checks and the report of the readings scenario: every device's readings read back from
//! storage, the storage ceiling (store-layer inserts without HTTP), the table and the verdict.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::{Duration, Instant},
};

use chrono::Utc;
use futures::{StreamExt, TryStreamExt, stream};
use store::{entity, repo};

use super::{Fleet, PhaseReport, parse_reading_id, sent_micros};
use crate::bench::{CLOCK_TICKS_PER_SEC, ms, percentile_permille, to_f64};

/// What reading every device's rows back found.
#[derive(Default)]
pub(super) struct Stored {
    rows: u64,
    missing: u64,
    duplicated: u64,
    /// Stored without a 201 (the answer was lost after the commit): not an error.
    unacknowledged: u64,
    urgent_rows: u64,
    /// Urgent readings counted on alerts: repeats join the open alert (issue 11 item 16).
    alerts: u64,
}

pub(super) async fn verify(app: &app::App, fleet: &Fleet, reports: &[PhaseReport]) -> anyhow::Result<Stored> {
    let mut expected: Vec<Vec<u32>> = vec![Vec::new(); fleet.devices.len()];
    for r in reports {
        for &(d, first, k) in &r.acked {
            if let Some(list) = expected.get_mut(usize::try_from(d).unwrap_or(usize::MAX)) {
                list.extend(first..first + k);
            }
        }
    }
    let db = &app.store.db;
    let since = fleet.since;
    let per_device = stream::iter(fleet.devices.iter().zip(&expected).enumerate())
        .map(|(i, (device, want))| async move {
            let rows = repo::monitoring::observations(db, &device.patient, None, None, None, 10_000_000).await?;
            let alerts = repo::monitoring::alerts_of_patient_since(db, &device.patient, since).await?;
            let mut s = Stored { rows: u64::try_from(rows.len()).unwrap_or(0), ..Stored::default() };
            s.alerts = alerts.iter().map(|a| u64::try_from(a.repeat_count).unwrap_or(0)).sum();
            let mut count: HashMap<u32, u32> = HashMap::with_capacity(rows.len());
            for row in &rows {
                let id = row.reading_id.as_deref().unwrap_or_default();
                if sent_micros(id).is_some() {
                    s.urgent_rows += 1;
                }
                match parse_reading_id(id) {
                    Some((d, n)) if usize::try_from(d).ok() == Some(i) => *count.entry(n).or_default() += 1,
                    _ => s.unacknowledged += 1,
                }
            }
            let wanted: HashSet<u32> = want.iter().copied().collect();
            for n in want {
                if !count.contains_key(n) {
                    s.missing += 1;
                }
            }
            for (n, c) in &count {
                s.duplicated += u64::from(c.saturating_sub(1));
                if !wanted.contains(n) {
                    s.unacknowledged += 1;
                }
            }
            Ok::<_, anyhow::Error>(s)
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    let mut total = Stored::default();
    for s in per_device {
        total.rows += s.rows;
        total.missing += s.missing;
        total.duplicated += s.duplicated;
        total.unacknowledged += s.unacknowledged;
        total.urgent_rows += s.urgent_rows;
        total.alerts += s.alerts;
    }
    Ok(total)
}

/// Store-layer inserts of sealed blood-pressure observation rows, `per_txn` rows per write
/// transaction, for `budget`; returns rows and wall time.
pub(super) async fn ceiling(
    app: &app::App,
    patient: &str,
    per_txn: usize,
    budget: Duration,
) -> anyhow::Result<(u64, Duration)> {
    let values: BTreeMap<String, f64> = [("systolic".to_owned(), 128.0), ("diastolic".to_owned(), 82.0)].into();
    let reading =
        domain::reading::Reading::normalize(domain::reading::ReadingKind::BloodPressure, &values, "mmHg", None)?;
    let plain = serde_json::to_vec(&reading)?;
    let keys = app.keys.current();
    let start = Instant::now();
    let mut rows = 0_u64;
    while start.elapsed() < budget {
        let now = Utc::now();
        let txn = app.store.begin_write().await?;
        for _ in 0..per_txn {
            let id = domain::FileId::new().to_string();
            let aad = crypto::Aad { table: "observations", column: "values_enc", row_id: &id };
            let row = entity::observation::Model {
                values_enc: keys.encrypt(&plain, &aad)?,
                id,
                patient_id: patient.to_owned(),
                kind: "blood-pressure".into(),
                code: "85354-9".into(),
                measured_at: now,
                received_at: now,
                source: "manual".into(),
                device_id: None,
                reading_id: None,
                above_target: false,
                alert_id: None,
            };
            repo::monitoring::insert_observation(&txn, row).await?;
        }
        txn.commit().await?;
        rows += u64::try_from(per_txn).unwrap_or(0);
    }
    Ok((rows, start.elapsed()))
}

pub(super) fn print_report(reports: &[PhaseReport], stored: &Stored, ceilings: &[(usize, (u64, Duration))]) {
    println!();
    println!(
        "{:<14} {:>7} {:>7} {:>9} {:>9} {:>10} {:>8} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "readings",
        "per req",
        "conns",
        "offered/s",
        "acked",
        "readings/s",
        "req p50",
        "req p99",
        "alerts",
        "alert p50",
        "alert p99",
        "alert max",
        "CPU-s/1k",
        "peak MiB",
    );
    for r in reports {
        let cpu = r.cpu_ticks.filter(|_| r.readings > 0).map_or_else(
            || "n/a".to_owned(),
            |t| format!("{:.3}", to_f64(t) / CLOCK_TICKS_PER_SEC * 1000.0 / to_f64(r.readings)),
        );
        let rss = r.peak_rss_kib.map_or_else(|| "n/a".to_owned(), |k| format!("{:.1}", to_f64(k) / 1024.0));
        println!(
            "{:<14} {:>7} {:>7} {:>9} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9} {:>8}",
            r.name,
            r.per_request,
            r.senders,
            r.offered.map_or_else(|| "max".to_owned(), |o| format!("{o:.0}")),
            r.readings,
            r.rate(),
            ms(percentile_permille(&r.latencies, 500)),
            ms(percentile_permille(&r.latencies, 990)),
            r.alert_latencies.len(),
            ms(percentile_permille(&r.alert_latencies, 500)),
            ms(percentile_permille(&r.alert_latencies, 990)),
            ms(r.alert_latencies.last().copied().unwrap_or(0)),
            cpu,
            rss,
        );
        println!(
            "               urgent acked {}, alerts lost {}, duplicated {}, stray {}, resync {}, unexpected frames {}, \
             notifications {}, errors {}{}",
            r.urgent,
            r.alerts_lost,
            r.alerts_duplicated,
            r.alerts_stray,
            r.resyncs,
            r.unexpected,
            r.notifications,
            r.errors(),
            r.last_error.as_deref().map(|e| format!(" (last: {e})")).unwrap_or_default(),
        );
        for (status, n) in &r.statuses {
            println!("               HTTP {status} ×{n}");
        }
    }
    println!(
        "readings/s = readings in 201 answers (committed before the answer) ÷ time to the last answer; req = POST \
         written → answer read; alert = POST written → alert frame read on the doctor's WebSocket; CPU and RSS are \
         the whole process (server, senders, socket)."
    );
    println!(
        "readings durability: {} rows read back, {} acknowledged readings missing, {} duplicated, {} stored without \
         an answer; {} readings counted on alerts for {} urgent readings stored",
        stored.rows, stored.missing, stored.duplicated, stored.unacknowledged, stored.alerts, stored.urgent_rows
    );
    let parts: Vec<String> = ceilings
        .iter()
        .map(|(per, (rows, wall))| {
            let secs = wall.as_secs_f64().max(1e-9);
            format!("{per} row(s)/txn {:.0} rows/s", to_f64(*rows) / secs)
        })
        .collect();
    println!(
        "storage ceiling (store-layer inserts of the same sealed observation rows, no HTTP, no checks): {}",
        parts.join(", ")
    );
    let best = reports.iter().map(PhaseReport::rate).fold(0.0, f64::max);
    println!(
        "S4 goal ≥50,000 durable readings/s: best {best:.0}/s — {}",
        if best >= 50_000.0 { "met" } else { "not met" }
    );
}

pub(super) fn problems(reports: &[PhaseReport], stored: &Stored, smoke: bool) -> Vec<String> {
    let mut out = Vec::new();
    for r in reports {
        if r.readings == 0 {
            out.push(format!("{}: no reading acknowledged", r.name));
        }
        let errors = r.errors();
        let requests = u64::try_from(r.acked.len()).unwrap_or(u64::MAX) + errors;
        if (smoke && errors > 0) || errors * 100 > requests {
            out.push(format!("{}: {errors} failed requests of {requests}", r.name));
        }
        if r.alerts_duplicated > 0 || r.unexpected > 0 {
            out.push(format!(
                "{}: {} duplicated alerts, {} unexpected frames",
                r.name, r.alerts_duplicated, r.unexpected
            ));
        }
        // A socket too slow for the bus is told to resync (and catches up through the API); a loss
        // without that is a bug.
        if r.alerts_lost > 0 && (smoke || r.resyncs == 0) {
            out.push(format!("{}: {} alerts never reached the doctor's socket", r.name, r.alerts_lost));
        }
    }
    if stored.missing > 0 || stored.duplicated > 0 {
        out.push(format!(
            "readings: {} acknowledged readings missing from storage, {} duplicated",
            stored.missing, stored.duplicated
        ));
    }
    if stored.alerts != stored.urgent_rows {
        out.push(format!(
            "readings: {} readings counted on alerts for {} urgent readings",
            stored.alerts, stored.urgent_rows
        ));
    }
    out
}
