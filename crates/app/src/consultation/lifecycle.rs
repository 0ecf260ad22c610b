//! Claiming a team consultation, closing with summary and ICD-10 diagnoses (C1: a closed record is
//! immutable), the patient's rating (A7), and the response-time sweep that escalates consultations
//! whose first-response clock ran out (A2).

use domain::{
    Role,
    consultation::{ConsultationStatus, can_close, can_rate, validate_rating},
};
use store::repo;

use super::{domain_err, recipients, scope_for, seal_text};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

/// A department doctor takes an unclaimed team consultation.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn claim(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<(), AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "consultation.claim", target, claim_inner(app, who, ctx, id)).await
}

async fn claim_inner(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<(), AppError> {
    who.require_verified_doctor()?;
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let mut row = repo::consultation::lock_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    match &row.doctor_id {
        Some(d) if d == &who.user_id => return Ok(()),
        Some(_) => return Err(AppError::Conflict("Another doctor has taken this consultation.")),
        None => {}
    }
    row.doctor_id = Some(who.user_id.clone());
    row.updated_at = app.clock.now();
    repo::consultation::update(&txn, row.clone()).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "consultation.claim",
        Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
        "ok",
    )
    .await?;
    let to = recipients(&txn, &row).await?;
    let dept_doctors = match &row.department_id {
        Some(d) => repo::verification::approved_doctors_in(&txn, d).await?,
        None => Vec::new(),
    };
    txn.commit().await?;
    let mut all = to;
    all.extend(dept_doctors);
    app.publish(all, serde_json::json!({"type": "claimed", "consultation_id": id, "doctor": who.user_id}));
    Ok(())
}

/// The doctor closes the consultation with a summary and diagnoses.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn close(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    summary: &str,
    diagnoses: &[String],
) -> Result<(), AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "consultation.close", target, close_inner(app, who, ctx, id, summary, diagnoses)).await
}

async fn close_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    summary: &str,
    diagnoses: &[String],
) -> Result<(), AppError> {
    who.require_verified_doctor()?;
    let (summary, codes) = super::closing_record(summary, diagnoses)?;
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let mut row = repo::consultation::lock_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    if !super::doctor_side(who, &row, &scope) {
        return Err(AppError::Forbidden);
    }
    // Closing a team consultation takes it, as answering does.
    row.doctor_id = Some(who.user_id.clone());
    let status: ConsultationStatus = row.status.parse().map_err(|_| AppError::Internal("status"))?;
    can_close(status).map_err(domain_err)?;
    let now = app.clock.now();
    row.status = ConsultationStatus::Closed.as_str().into();
    row.closed_at = Some(now);
    row.summary_enc = Some(seal_text(app, "summary_enc", id, &summary)?);
    row.updated_at = now;
    repo::consultation::update(&txn, row.clone()).await?;
    let diagnoses = crate::seal::diagnosis_rows(&app.keys.current(), id, &codes)?;
    repo::consultation::set_diagnoses(&txn, id, diagnoses).await?;
    super::index_text(app, &txn, id, "summary", &summary).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "consultation.close",
        Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
        "ok",
    )
    .await?;
    let to = recipients(&txn, &row).await?;
    txn.commit().await?;
    app.publish(to, serde_json::json!({"type": "closed", "consultation_id": id}));
    Ok(())
}

/// The patient rates a closed consultation once (A7).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn rate(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    stars: u8,
    comment: &str,
) -> Result<(), AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "consultation.rate", target, rate_inner(app, who, ctx, id, stars, comment)).await
}

async fn rate_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    stars: u8,
    comment: &str,
) -> Result<(), AppError> {
    who.require(&[Role::Patient])?;
    validate_rating(stars, comment).map_err(domain_err)?;
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let mut row = repo::consultation::lock_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    if !scope.patient_ids.contains(&row.patient_id) {
        return Err(AppError::Forbidden);
    }
    let status: ConsultationStatus = row.status.parse().map_err(|_| AppError::Internal("status"))?;
    can_rate(status, row.rating.is_some()).map_err(domain_err)?;
    row.rating = Some(i32::from(stars));
    let comment = comment.trim();
    row.rating_comment_enc =
        (!comment.is_empty()).then(|| seal_text(app, "rating_comment_enc", id, comment)).transpose()?;
    row.rated_at = Some(app.clock.now());
    repo::consultation::update(&txn, row.clone()).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "consultation.rate",
        Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The first-response job of a consultation (A2): when its clock runs out with no doctor's answer,
/// the breach is recorded once and the department's doctors and the institution's admins are told.
/// Runs inside the job's transaction ([`crate::jobs`]); returns the events to send after commit.
pub async fn escalate_if_unanswered(
    app: &App,
    txn: &sea_orm::DatabaseTransaction,
    id: &str,
) -> Result<Vec<crate::bus::Event>, AppError> {
    let now = app.clock.now();
    let Some(mut row) =
        store::dialect::find_for_update::<store::entity::consultation::Entity>(txn, id.to_owned()).await?
    else {
        return Ok(Vec::new());
    };
    if row.escalated_at.is_some() || row.first_response_at.is_some() || row.closed_at.is_some() {
        return Ok(Vec::new());
    }
    row.escalated_at = Some(now);
    row.updated_at = now;
    repo::consultation::update(txn, row.clone()).await?;
    app.record_as(
        txn,
        &RequestCtx::default(),
        None,
        Some("system"),
        "consultation.sla_breach",
        Subject { patient_id: Some(&row.patient_id), resource: Some(&row.id) },
        "escalated",
    )
    .await?;
    let mut to = recipients(txn, &row).await?;
    if let Some(d) = &row.department_id {
        to.extend(repo::verification::approved_doctors_in(txn, d).await?);
        to.extend(repo::user::admins_of(txn, &row.institution_id).await?);
    }
    to.sort();
    to.dedup();
    Ok(vec![crate::bus::Event {
        recipients: to,
        payload: serde_json::json!({"type": "escalated", "consultation_id": row.id, "priority": row.priority}),
    }])
}

/// Hands a consultation over to another verified doctor with a note (A2); the note appears in the
/// conversation as a system line and the response clock keeps running.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn handover(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    to: &str,
    note: &str,
) -> Result<(), AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "consultation.handover", target, handover_inner(app, who, ctx, id, to, note)).await
}

async fn handover_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    to: &str,
    note: &str,
) -> Result<(), AppError> {
    who.require_verified_doctor()?;
    let note = note.trim();
    if note.chars().count() > 500 {
        return Err(AppError::invalid("note_too_long", "Keep the handover note under 500 characters."));
    }
    if to == who.user_id {
        return Err(AppError::invalid("handover_self", "Choose another doctor."));
    }
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let mut row = repo::consultation::lock_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    if !super::doctor_side(who, &row, &scope) {
        return Err(AppError::Forbidden);
    }
    let status: ConsultationStatus = row.status.parse().map_err(|_| AppError::Internal("status"))?;
    can_close(status).map_err(domain_err)?;
    let target = repo::verification::latest_for_user(&txn, to)
        .await?
        .filter(|v| v.status == "approved")
        .ok_or_else(|| AppError::invalid("doctor_unavailable", "This doctor cannot take consultations."))?;
    let target_user = repo::user::get(&txn, to).await?;
    let target_name = app.open_str("users", "display_name_enc", &target_user.id, &target_user.display_name_enc)?;
    let before = recipients(&txn, &row).await?;
    let now = app.clock.now();
    row.doctor_id = Some(to.to_owned());
    row.department_id = Some(target.department_id);
    row.last_seq += 1;
    row.updated_at = now;
    let msg_id = domain::MessageId::new().to_string();
    let text = if note.is_empty() { format!("→ {target_name}") } else { format!("→ {target_name}: {note}") };
    repo::consultation::insert_message(
        &txn,
        store::entity::consultation_message::Model {
            body_enc: app.seal("consultation_messages", "body_enc", &msg_id, text.as_bytes())?,
            id: msg_id,
            consultation_id: id.to_owned(),
            seq: row.last_seq,
            sender_id: who.user_id.clone(),
            sender_role: Role::Doctor.as_str().into(),
            client_id: format!("handover-{}", row.last_seq),
            kind: "handover".into(),
            sent_at: now,
        },
    )
    .await?;
    repo::consultation::update(&txn, row.clone()).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "consultation.handover",
        Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
        "ok",
    )
    .await?;
    let mut to_notify = recipients(&txn, &row).await?;
    to_notify.extend(before);
    to_notify.sort();
    to_notify.dedup();
    txn.commit().await?;
    app.publish(to_notify, serde_json::json!({"type": "claimed", "consultation_id": id, "doctor": to}));
    Ok(())
}
