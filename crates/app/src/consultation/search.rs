//! Finding records again (C2): by keyword (blind-index tokens over messages, complaints and
//! summaries), by date range (China time) and by ICD-10 diagnosis — for a patient over their own
//! consultations and for a doctor over the consultations they hold. Every search is audited.

use chrono::{NaiveDate, TimeZone, Utc};
use serde::Serialize;
use store::repo::{self, search::SearchQuery};

use super::{ConsultationSummary, open_text, scope_for};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

#[derive(Debug, Clone, Default)]
pub struct SearchInput {
    pub q: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub icd: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    #[serde(flatten)]
    pub s: ConsultationSummary,
    pub complaint_preview: String,
    pub diagnoses: Vec<String>,
}

/// Midnight of `d` in China Standard Time, as UTC.
fn cst_midnight(d: NaiveDate) -> Option<chrono::DateTime<Utc>> {
    let cst = chrono::FixedOffset::east_opt(8 * 3600)?;
    cst.from_local_datetime(&d.and_hms_opt(0, 0, 0)?).single().map(|t| t.with_timezone(&Utc))
}

pub async fn search(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    input: SearchInput,
) -> Result<Vec<SearchHit>, AppError> {
    if input.q.chars().count() > 100 {
        return Err(AppError::invalid("query_too_long", "Search for at most 100 characters."));
    }
    let icd = match input.icd.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => Some(
            domain::icd10::normalize_icd10(raw)
                .map_err(|_| AppError::invalid("icd10_format", "Diagnoses are ICD-10 codes such as I10 or E11.9."))?,
        ),
        None => None,
    };
    let keys = app.keys.current();
    let tokens: Vec<String> =
        domain::search::tokens(&input.q, 20).iter().map(|t| keys.blind_index("search", t)).collect();
    // The search reads on the read pool, so searches run in parallel and never hold the single
    // writer; the audit event is committed before any result is returned (S3: no view unrecorded).
    let db = &app.store.db;
    let scope = scope_for(db, who).await?;
    let query = SearchQuery {
        tokens,
        from: input.from.and_then(cst_midnight),
        to: input.to.and_then(|d| d.succ_opt()).and_then(cst_midnight),
        // Codes are sealed; a code or category is found by its blind index (issue 11 item 10).
        icd_bidx: icd.map(|c| crate::seal::icd_bidx(&keys, &c)),
        limit: 50,
    };
    let mut out = Vec::new();
    for row in repo::search::search(db, &scope, &query).await? {
        let complaint = open_text(app, "complaint_enc", &row.id, Some(&row.complaint_enc))?.unwrap_or_default();
        out.push(SearchHit {
            complaint_preview: complaint.chars().take(80).collect(),
            diagnoses: crate::seal::diagnoses(app, db, &row.id).await?,
            s: ConsultationSummary::build(app, db, &row, &who.user_id).await?,
        });
    }
    let txn = app.store.begin_write().await?;
    let outcome = format!("hits={}", out.len());
    app.record(
        &txn,
        ctx,
        Some(who),
        "record.search",
        Subject { patient_id: None, resource: Some("consultations") },
        &outcome,
    )
    .await?;
    txn.commit().await?;
    Ok(out)
}
