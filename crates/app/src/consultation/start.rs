//! Starting a consultation (A1, A2): with a chosen doctor or a department's team, red-flag
//! screening of the complaint (the 120 notice, priority forced), and the first-response clock.

use domain::{
    Role,
    consultation::{ConsultationStatus, kind_for, validate_complaint},
    screening::RedFlagLexicon,
};
use serde::Serialize;
use store::{entity::consultation as c, entity::consultation_message as m, repo};

use super::{recipients, scope_for, seal_text, view::ConsultationView};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

#[derive(Debug, Clone, Default)]
pub struct StartConsultation {
    /// A chosen doctor (user id) …
    pub doctor: Option<String>,
    /// … or a department's team ("first available doctor").
    pub department: Option<String>,
    pub complaint: String,
    pub priority: bool,
    pub prior_diagnosis: Option<String>,
    /// The patient confirms they can show the earlier diagnosis (discharge summary, record).
    pub has_proof: bool,
    /// A ward of the caller (guardian starting for a child); the caller by default.
    pub patient: Option<String>,
}

/// One bookable doctor.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorListing {
    pub id: String,
    pub name: String,
    pub title: String,
    pub department: String,
    pub department_id: String,
    pub institution: String,
    pub specialties: String,
}

/// Verified doctors, filtered by a query (name, specialty, department) and a department.
pub async fn list_doctors(app: &App, q: &str, department: Option<&str>) -> Result<Vec<DoctorListing>, AppError> {
    let db = &app.store.db;
    let q = q.trim().to_lowercase();
    let mut out = Vec::new();
    for v in repo::verification::list_approved(db).await? {
        if department.is_some_and(|d| d != v.department_id) {
            continue;
        }
        let user = repo::user::get(db, &v.user_id).await?;
        let name = app.open_str("users", "display_name_enc", &user.id, &user.display_name_enc)?;
        let dept = repo::institution::get_department(db, &v.department_id).await?;
        let inst = repo::institution::get(db, &v.institution_id).await?;
        let hay = format!("{name} {} {} {} {}", v.specialties, dept.name_zh, dept.name_en, inst.name_zh).to_lowercase();
        if !q.is_empty() && !hay.contains(&q) {
            continue;
        }
        out.push(DoctorListing {
            id: user.id,
            name,
            title: v.title,
            department: format!("{} / {}", dept.name_zh, dept.name_en),
            department_id: dept.id,
            institution: format!("{} / {}", inst.name_zh, inst.name_en),
            specialties: v.specialties,
        });
    }
    Ok(out)
}

/// The red-flag lexicon: the admin-edited terms, or the built-in ones while none are stored.
pub(crate) async fn lexicon(app: &App) -> Result<RedFlagLexicon, AppError> {
    let stored = repo::red_flag::list(&app.store.db).await?;
    Ok(if stored.is_empty() {
        RedFlagLexicon::new(RedFlagLexicon::default_terms().into_iter().map(|(t, c)| (t.to_owned(), c.to_owned())))
    } else {
        RedFlagLexicon::new(stored.into_iter().map(|t| (t.term, t.category)))
    })
}

pub async fn start(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    input: StartConsultation,
) -> Result<ConsultationView, AppError> {
    who.require(&[Role::Patient])?;
    let complaint = validate_complaint(&input.complaint).map_err(super::domain_err)?;
    let hits = lexicon(app).await?.scan(&complaint);
    let priority = input.priority || !hits.is_empty();
    let prior = input.prior_diagnosis.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let kind = kind_for(prior.as_deref(), input.has_proof);
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let patient_id = input.patient.clone().unwrap_or_else(|| who.user_id.clone());
    if !scope.patient_ids.contains(&patient_id) {
        return Err(AppError::NotFound);
    }
    if !repo::consent::is_active(&txn, &patient_id, domain::ConsentKind::SensitivePersonalInfo.as_str()).await? {
        return Err(AppError::invalid(
            "consent_withdrawn",
            "Online consultations need your consent to processing health information (Profile → Consents).",
        ));
    }
    // The doctor (verified) or the department decides the institution.
    let (doctor_id, department_id, institution_id) = match (&input.doctor, &input.department) {
        (Some(d), _) => {
            let v = repo::verification::latest_for_user(&txn, d)
                .await?
                .filter(|v| v.status == "approved")
                .ok_or_else(|| AppError::invalid("doctor_unavailable", "This doctor cannot take consultations."))?;
            (Some(d.clone()), Some(v.department_id), v.institution_id)
        }
        (None, Some(dept)) => {
            let dep = repo::institution::get_department(&txn, dept)
                .await
                .map_err(|_| AppError::invalid("department", "Choose a department."))?;
            (None, Some(dep.id), dep.institution_id)
        }
        (None, None) => return Err(AppError::invalid("target_required", "Choose a doctor or a department.")),
    };
    let now = app.clock.now();
    let inst = repo::institution::get(&txn, &institution_id).await?;
    let policy = crate::institution::sla_policy(inst.sla_priority_secs, inst.sla_normal_secs);
    let id = domain::ConsultationId::new().to_string();
    let row = c::Model {
        id: id.clone(),
        patient_id: patient_id.clone(),
        doctor_id,
        department_id,
        institution_id,
        status: ConsultationStatus::Waiting.as_str().into(),
        kind: kind.as_str().into(),
        priority,
        complaint_enc: seal_text(app, "complaint_enc", &id, &complaint)?,
        prior_diagnosis_enc: prior.as_deref().map(|p| seal_text(app, "prior_diagnosis_enc", &id, p)).transpose()?,
        // Sealed: a red flag's category names the emergency (issue 11 item 10).
        red_flags_enc: (!hits.is_empty())
            .then(|| {
                let categories = hits.iter().map(|h| h.category.as_str()).collect::<Vec<_>>().join(",");
                app.seal_str("consultations", "red_flags_enc", &id, &categories)
            })
            .transpose()?,
        created_at: now,
        first_response_due_at: policy.first_response_due(now, priority),
        first_response_at: None,
        first_responder_id: None,
        escalated_at: None,
        closed_at: None,
        summary_enc: None,
        rating: None,
        rating_comment_enc: None,
        rated_at: None,
        last_seq: 1,
        updated_at: now,
    };
    repo::consultation::insert(&txn, row.clone()).await?;
    // A2: the response clock is a durable job, committed with the consultation. An answer at the
    // deadline itself is on time, so the breach fires in the second after it.
    crate::jobs::schedule(
        &txn,
        crate::jobs::kind::FIRST_RESPONSE,
        &format!("first_response:{id}"),
        &serde_json::json!({"consultation": id}),
        row.first_response_due_at + chrono::Duration::seconds(1),
        now,
    )
    .await?;
    // The complaint opens the conversation as the patient's first message.
    opening_message(app, &txn, &id, who, Role::Patient, &complaint, now).await?;
    if let Some(p) = &prior {
        super::index_text(app, &txn, &id, "prior_diagnosis", p).await?;
    }
    app.record(
        &txn,
        ctx,
        Some(who),
        "consultation.start",
        Subject { patient_id: Some(&patient_id), resource: Some(&id) },
        "ok",
    )
    .await?;
    let to = recipients(&txn, &row).await?;
    let view = ConsultationView::build(app, &txn, &row, who, &scope).await?;
    txn.commit().await?;
    app.publish(to, serde_json::json!({"type": "consultation", "consultation": view.summary()}));
    Ok(view)
}

/// A follow-up visit of a chronic-care plan, started by the plan's doctor (D2): a follow-up
/// consultation (复诊, the patient is on a plan for a diagnosed condition), already answered by the
/// doctor's opening message, so no first-response clock runs. Written in the caller's transaction;
/// returns the row and who to tell.
pub(crate) async fn start_followup(
    app: &App,
    txn: &sea_orm::DatabaseTransaction,
    doctor: &Principal,
    patient_id: &str,
    opening: &str,
) -> Result<(c::Model, Vec<String>), AppError> {
    if !repo::consent::is_active(txn, patient_id, domain::ConsentKind::SensitivePersonalInfo.as_str()).await? {
        return Err(AppError::invalid(
            "consent_withdrawn",
            "The patient has withdrawn consent to online consultations.",
        ));
    }
    let v = repo::verification::latest_for_user(txn, &doctor.user_id)
        .await?
        .filter(|v| v.status == "approved")
        .ok_or(AppError::NotVerified)?;
    let now = app.clock.now();
    let id = domain::ConsultationId::new().to_string();
    let complaint = opening.trim().to_owned();
    let row = c::Model {
        id: id.clone(),
        patient_id: patient_id.to_owned(),
        doctor_id: Some(doctor.user_id.clone()),
        department_id: Some(v.department_id),
        institution_id: v.institution_id,
        status: ConsultationStatus::Active.as_str().into(),
        kind: domain::consultation::ConsultationKind::FollowUp.as_str().into(),
        priority: false,
        complaint_enc: seal_text(app, "complaint_enc", &id, &complaint)?,
        prior_diagnosis_enc: None,
        red_flags_enc: None,
        created_at: now,
        first_response_due_at: now,
        first_response_at: Some(now),
        first_responder_id: Some(doctor.user_id.clone()),
        escalated_at: None,
        closed_at: None,
        summary_enc: None,
        rating: None,
        rating_comment_enc: None,
        rated_at: None,
        last_seq: 1,
        updated_at: now,
    };
    repo::consultation::insert(txn, row.clone()).await?;
    opening_message(app, txn, &id, doctor, Role::Doctor, &complaint, now).await?;
    app.record(
        txn,
        &RequestCtx::default(),
        Some(doctor),
        "consultation.start_followup",
        Subject { patient_id: Some(patient_id), resource: Some(&id) },
        "ok",
    )
    .await?;
    let to = recipients(txn, &row).await?;
    Ok((row, to))
}

/// The first message of a consultation (sequence 1), sealed and indexed for search.
async fn opening_message(
    app: &App,
    txn: &sea_orm::DatabaseTransaction,
    consultation_id: &str,
    sender: &Principal,
    role: Role,
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    let msg_id = domain::MessageId::new().to_string();
    super::index_text(app, txn, consultation_id, &msg_id, text).await?;
    repo::consultation::insert_message(
        txn,
        m::Model {
            body_enc: app.seal("consultation_messages", "body_enc", &msg_id, text.as_bytes())?,
            id: msg_id,
            consultation_id: consultation_id.to_owned(),
            seq: 1,
            sender_id: sender.user_id.clone(),
            sender_role: role.as_str().into(),
            client_id: if role == Role::Patient { "start" } else { "followup" }.into(),
            kind: "text".into(),
            sent_at: now,
        },
    )
    .await?;
    Ok(())
}
