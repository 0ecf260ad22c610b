//! Online consultations (A1–A7, S2): a patient asks a doctor (or a department's team), the doctor
//! answers within the response-time guarantee, everything said is stored encrypted and can be read
//! only by the participants. Each use case checks access through a [`ConsultationScope`], writes
//! and audits in one transaction, then publishes realtime events.

pub mod annotation;
pub mod attachment;
pub mod correction;
pub mod decode;
pub mod export;
mod history;
mod lifecycle;
mod message;
pub mod pdf;
pub mod red_flag;
mod search;
mod start;
mod view;
pub mod voice;

pub use history::{HistoryItem, patient_history};
pub use lifecycle::{claim, close, escalate_if_unanswered, handover, rate};
pub(crate) use message::system_entry;
pub use message::{
    AttachmentRef, CallRecord, MessageView, RecordingRef, mark_read, messages, send_article, send_calculator,
    send_medication_plan, send_message, typing,
};
pub use search::{SearchHit, SearchInput, search};
pub(crate) use start::start_followup;
pub use start::{DoctorListing, StartConsultation, list_doctors, start};
pub(crate) use view::name_of as display_name;
pub use view::{ConsultationSummary, ConsultationView, get, list_mine};

use domain::Role;
use sea_orm::ConnectionTrait;
use store::{
    entity::consultation as c,
    repo::{self, scope::ConsultationScope},
};

use crate::{App, AppError, Principal, bus::Event};

/// What `who` may see (S2): as a patient their own and their wards' consultations; as a verified
/// doctor those assigned to them and the unclaimed ones of their department.
pub async fn scope_for(db: &impl ConnectionTrait, who: &Principal) -> Result<ConsultationScope, AppError> {
    let mut scope = ConsultationScope { user_id: who.user_id.clone(), ..ConsultationScope::default() };
    if who.has(Role::Patient) {
        scope.patient_ids.push(who.user_id.clone());
        scope.patient_ids.extend(repo::patient::list_wards(db, &who.user_id).await?);
    }
    if who.has(Role::Doctor)
        && who.doctor_verified
        && who.second_factor
        && let Some(v) = repo::verification::latest_for_user(db, &who.user_id).await?
    {
        scope.department_ids.push(v.department_id);
    }
    Ok(scope)
}

/// Everyone who should hear about changes to `row`: the patient (and guardian), the doctor, or —
/// while unclaimed — the verified doctors of its department.
pub(crate) async fn recipients(db: &impl ConnectionTrait, row: &c::Model) -> Result<Vec<String>, AppError> {
    let mut out = vec![row.patient_id.clone()];
    if let Some(g) = repo::patient::find(
        db,
        &repo::scope::PatientScope::granted(&row.patient_id, repo::scope::Grant::CareRelationship),
    )
    .await?
    .and_then(|p| p.guardian_user_id)
    {
        out.push(g);
    }
    match (&row.doctor_id, &row.department_id) {
        (Some(d), _) => out.push(d.clone()),
        (None, Some(dept)) => out.extend(repo::verification::approved_doctors_in(db, dept).await?),
        (None, None) => {}
    }
    Ok(out)
}

impl App {
    pub(crate) fn publish(&self, recipients: Vec<String>, payload: serde_json::Value) {
        self.bus.publish(Event { recipients, payload });
    }
}

/// Whether `who` acts as the doctor of `row`: assigned to it, or a doctor of its department while
/// nobody has claimed it.
pub(crate) fn doctor_side(who: &Principal, row: &c::Model, scope: &ConsultationScope) -> bool {
    row.doctor_id.as_deref() == Some(who.user_id.as_str())
        || (row.doctor_id.is_none() && row.department_id.as_ref().is_some_and(|d| scope.department_ids.contains(d)))
}

/// Checks a closing summary and its ICD-10 diagnoses (normalised, deduplicated, at least one).
pub(crate) fn closing_record(summary: &str, diagnoses: &[String]) -> Result<(String, Vec<String>), AppError> {
    let summary = summary.trim();
    if summary.is_empty() || summary.chars().count() > 4000 {
        return Err(AppError::invalid("summary_invalid", "Write a summary (up to 4000 characters)."));
    }
    let mut codes = Vec::new();
    for d in diagnoses.iter().filter(|d| !d.trim().is_empty()) {
        let code = domain::icd10::normalize_icd10(d)
            .map_err(|_| AppError::invalid("icd10_format", "Diagnoses are ICD-10 codes such as I10 or E11.9."))?;
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    if codes.is_empty() {
        return Err(AppError::invalid("diagnosis_required", "Add at least one ICD-10 diagnosis."));
    }
    Ok((summary.to_owned(), codes))
}

pub(crate) fn domain_err(e: domain::consultation::ConsultationError) -> AppError {
    AppError::invalid(e.code(), e.message())
}

/// Adds the blind-index search tokens of `text` (C2) in the caller's transaction.
pub(crate) async fn index_text(
    app: &App,
    db: &impl ConnectionTrait,
    consultation_id: &str,
    source_id: &str,
    text: &str,
) -> Result<(), AppError> {
    let keys = app.keys.current();
    let hashed: Vec<String> = domain::search::tokens(text, 400).iter().map(|t| keys.blind_index("search", t)).collect();
    repo::search::index(db, consultation_id, source_id, &hashed).await?;
    Ok(())
}

/// Text stored encrypted in `consultations`.
pub(crate) fn seal_text(app: &App, column: &str, id: &str, text: &str) -> Result<Vec<u8>, AppError> {
    app.seal("consultations", column, id, text.as_bytes())
}

pub(crate) fn open_text(app: &App, column: &str, id: &str, blob: Option<&Vec<u8>>) -> Result<Option<String>, AppError> {
    blob.map(|b| app.open_str("consultations", column, id, b)).transpose()
}
