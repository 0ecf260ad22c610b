//! Reading consultations: the list for each side (patient, doctor queue) and one consultation in
//! full. Opening a consultation is audited (S2, S3).

use chrono::{DateTime, Utc};
use domain::{
    consultation::{ConsultationKind, SlaState, sla_state},
    mask::mask_name,
};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use store::{
    entity::consultation as c,
    repo::{self, scope::ConsultationScope},
};

use super::{open_text, scope_for};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

/// One line of a list (queue or "my consultations").
#[derive(Debug, Clone, Serialize)]
pub struct ConsultationSummary {
    pub id: String,
    pub patient_id: String,
    pub patient_name_masked: String,
    pub doctor_id: Option<String>,
    pub doctor_name: Option<String>,
    pub department_id: Option<String>,
    pub status: String,
    pub kind: String,
    pub priority: bool,
    pub red_flags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub first_response_due_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub sla: SlaState,
    pub escalated: bool,
    pub last_seq: i64,
    pub unread: i64,
}

/// One consultation in full, for its participants.
#[derive(Debug, Clone, Serialize)]
pub struct ConsultationView {
    #[serde(flatten)]
    pub s: ConsultationSummary,
    pub complaint: String,
    pub prior_diagnosis: Option<String>,
    pub may_prescribe: bool,
    pub summary_text: Option<String>,
    pub diagnoses: Vec<DiagnosisView>,
    pub rating: Option<i32>,
    pub rating_comment: Option<String>,
    /// The caller is the patient (or guardian) side.
    pub as_patient: bool,
    /// C1: later versions of the closed record, oldest first (the original stays above).
    pub corrections: Vec<super::correction::CorrectionView>,
    /// The highest sequence the other side has read (for "read" marks).
    pub other_read_seq: i64,
    pub other_delivered_seq: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiagnosisView {
    pub code: String,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
}

/// A user's display name, decrypted.
pub(crate) async fn name_of(app: &App, db: &impl ConnectionTrait, user_id: &str) -> Result<String, AppError> {
    let u = repo::user::get(db, user_id).await?;
    app.open_str("users", "display_name_enc", &u.id, &u.display_name_enc)
}

impl ConsultationSummary {
    pub(crate) async fn build(
        app: &App,
        db: &impl ConnectionTrait,
        row: &c::Model,
        viewer: &str,
    ) -> Result<Self, AppError> {
        let patient = name_of(app, db, &row.patient_id).await?;
        let doctor_name = match &row.doctor_id {
            Some(d) => Some(name_of(app, db, d).await?),
            None => None,
        };
        let read = repo::consultation::positions(db, &row.id)
            .await?
            .into_iter()
            .find(|p| p.user_id == viewer)
            .map_or(0, |p| p.read_seq);
        Ok(Self {
            id: row.id.clone(),
            patient_id: row.patient_id.clone(),
            patient_name_masked: mask_name(&patient),
            doctor_id: row.doctor_id.clone(),
            doctor_name,
            department_id: row.department_id.clone(),
            status: row.status.clone(),
            kind: row.kind.clone(),
            priority: row.priority,
            red_flags: crate::seal::split_list(&app.open_opt(
                "consultations",
                "red_flags_enc",
                &row.id,
                row.red_flags_enc.as_deref(),
            )?),
            created_at: row.created_at,
            first_response_due_at: row.first_response_due_at,
            first_response_at: row.first_response_at,
            sla: sla_state(app.clock.now(), row.created_at, row.first_response_due_at, row.first_response_at),
            escalated: row.escalated_at.is_some(),
            last_seq: row.last_seq,
            unread: (row.last_seq - read).max(0),
        })
    }
}

impl ConsultationView {
    pub(crate) async fn build(
        app: &App,
        db: &impl ConnectionTrait,
        row: &c::Model,
        who: &Principal,
        scope: &ConsultationScope,
    ) -> Result<Self, AppError> {
        let s = ConsultationSummary::build(app, db, row, &who.user_id).await?;
        let as_patient =
            scope.patient_ids.contains(&row.patient_id) && row.doctor_id.as_deref() != Some(who.user_id.as_str());
        let mut diagnoses = Vec::new();
        for code in crate::seal::diagnoses(app, db, &row.id).await? {
            let entry = domain::icd10::lookup(&code);
            diagnoses.push(DiagnosisView {
                name_zh: entry.map(|e| e.name_zh.to_owned()),
                name_en: entry.map(|e| e.name_en.to_owned()),
                code,
            });
        }
        let others: Vec<_> = repo::consultation::positions(db, &row.id)
            .await?
            .into_iter()
            .filter(|p| p.user_id != who.user_id)
            .collect();
        Ok(Self {
            complaint: open_text(app, "complaint_enc", &row.id, Some(&row.complaint_enc))?.unwrap_or_default(),
            prior_diagnosis: open_text(app, "prior_diagnosis_enc", &row.id, row.prior_diagnosis_enc.as_ref())?,
            may_prescribe: row.kind.parse::<ConsultationKind>().is_ok_and(ConsultationKind::may_prescribe),
            summary_text: open_text(app, "summary_enc", &row.id, row.summary_enc.as_ref())?,
            diagnoses,
            rating: row.rating,
            rating_comment: open_text(app, "rating_comment_enc", &row.id, row.rating_comment_enc.as_ref())?,
            as_patient,
            corrections: super::correction::list(app, db, &row.id).await?,
            other_read_seq: others.iter().map(|p| p.read_seq).max().unwrap_or(0),
            other_delivered_seq: others.iter().map(|p| p.delivered_seq).max().unwrap_or(0),
            s,
        })
    }

    pub fn summary(&self) -> &ConsultationSummary {
        &self.s
    }
}

/// One consultation for a participant; anyone else gets 404. Audited, a refusal too (issue 11 item 11).
pub async fn get(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<ConsultationView, AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "consultation.view", target, view(app, who, ctx, id)).await
}

async fn view(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<ConsultationView, AppError> {
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let row = repo::consultation::find_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    let view = ConsultationView::build(app, &txn, &row, who, &scope).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "consultation.view",
        Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(view)
}

/// The caller's consultations: as a patient (own and wards') and as a doctor (assigned + queue).
pub async fn list_mine(
    app: &App,
    who: &Principal,
) -> Result<(Vec<ConsultationSummary>, Vec<ConsultationSummary>), AppError> {
    let db = &app.store.db;
    let scope = scope_for(db, who).await?;
    let mut as_patient = Vec::new();
    for row in repo::consultation::list_as_patient(db, &scope).await? {
        as_patient.push(ConsultationSummary::build(app, db, &row, &who.user_id).await?);
    }
    let mut as_doctor = Vec::new();
    if !scope.department_ids.is_empty() {
        for row in repo::consultation::list_as_doctor(db, &scope).await? {
            as_doctor.push(ConsultationSummary::build(app, db, &row, &who.user_id).await?);
        }
    }
    Ok((as_patient, as_doctor))
}
