//! The patient's history beside the conversation (A3, C4): the doctor of a consultation sees the
//! patient's earlier consultations with their diagnoses and summaries, so nobody asks twice. Only a
//! doctor in a care relationship (this consultation) gets it, and every look is audited.

use chrono::{DateTime, Utc};
use serde::Serialize;
use store::repo::{
    self,
    scope::{Grant, PatientScope},
};

use super::{open_text, scope_for};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

#[derive(Debug, Clone, Serialize)]
pub struct HistoryItem {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub status: String,
    pub doctor_name: Option<String>,
    pub complaint: String,
    pub summary: Option<String>,
    pub diagnoses: Vec<String>,
}

/// Earlier consultations of the patient of `consultation_id` (excluding it), newest first.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn patient_history(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    consultation_id: &str,
) -> Result<Vec<HistoryItem>, AppError> {
    let target = Subject { patient_id: None, resource: Some(consultation_id) };
    app.audit_denied(who, ctx, "patient.history.view", target, patient_history_inner(app, who, ctx, consultation_id))
        .await
}

async fn patient_history_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    consultation_id: &str,
) -> Result<Vec<HistoryItem>, AppError> {
    who.require_verified_doctor()?;
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let row = repo::consultation::find_scoped(&txn, &scope, consultation_id).await?.ok_or(AppError::NotFound)?;
    if !super::doctor_side(who, &row, &scope) {
        return Err(AppError::Forbidden);
    }
    let patient = PatientScope::granted(&row.patient_id, Grant::CareRelationship);
    let mut out = Vec::new();
    for c in repo::consultation::list_for_patient(&txn, &patient).await? {
        if c.id == row.id {
            continue;
        }
        let doctor_name = match &c.doctor_id {
            Some(d) => {
                let u = repo::user::get(&txn, d).await?;
                Some(app.open_str("users", "display_name_enc", &u.id, &u.display_name_enc)?)
            }
            None => None,
        };
        out.push(HistoryItem {
            complaint: open_text(app, "complaint_enc", &c.id, Some(&c.complaint_enc))?.unwrap_or_default(),
            summary: open_text(app, "summary_enc", &c.id, c.summary_enc.as_ref())?,
            diagnoses: crate::seal::diagnoses(app, &txn, &c.id).await?,
            id: c.id,
            created_at: c.created_at,
            status: c.status,
            doctor_name,
        });
    }
    app.record(
        &txn,
        ctx,
        Some(who),
        "patient.history.view",
        Subject { patient_id: Some(&row.patient_id), resource: Some(consultation_id) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(out)
}
