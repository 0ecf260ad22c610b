//! Corrections of a closed record (C1, B3): the consultation's doctor issues a new version of the
//! summary and diagnoses with a reason. It needs a fresh step-up and is audited; earlier versions
//! stay visible to everyone allowed to see the consultation.

use chrono::{DateTime, Utc};
use serde::Serialize;
use store::repo;

use super::{recipients, scope_for};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

#[derive(Debug, Clone, Serialize)]
pub struct CorrectionView {
    pub version: i32,
    pub author_id: String,
    pub author_name: String,
    pub reason: String,
    pub summary: String,
    pub diagnoses: Vec<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn list(
    app: &App,
    db: &impl sea_orm::ConnectionTrait,
    consultation_id: &str,
) -> Result<Vec<CorrectionView>, AppError> {
    let mut out = Vec::new();
    for c in repo::correction::list(db, consultation_id).await? {
        let author = repo::user::get(db, &c.author_id).await?;
        out.push(CorrectionView {
            version: c.version,
            author_name: app.open_str("users", "display_name_enc", &author.id, &author.display_name_enc)?,
            author_id: c.author_id,
            reason: app.open_str("consultation_corrections", "reason_enc", &c.id, &c.reason_enc)?,
            summary: app.open_str("consultation_corrections", "summary_enc", &c.id, &c.summary_enc)?,
            diagnoses: crate::seal::split_list(&app.open_opt(
                "consultation_corrections",
                "diagnoses_enc",
                &c.id,
                c.diagnoses_enc.as_deref(),
            )?),
            created_at: c.created_at,
        });
    }
    Ok(out)
}

/// A refusal (not found, forbidden) is audited (issue 11 item 11).
pub async fn correct(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    reason: &str,
    summary: &str,
    diagnoses: &[String],
) -> Result<i32, AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(
        who,
        ctx,
        "consultation.correct",
        target,
        correct_inner(app, who, ctx, id, reason, summary, diagnoses),
    )
    .await
}

async fn correct_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    reason: &str,
    summary: &str,
    diagnoses: &[String],
) -> Result<i32, AppError> {
    who.require_verified_doctor()?;
    who.require_step_up(app.clock.now(), app.config.step_up_secs)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::invalid("reason_required", "Say why the record is corrected (up to 500 characters)."));
    }
    let (summary, codes) = super::closing_record(summary, diagnoses)?;
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let row = repo::consultation::lock_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    if row.doctor_id.as_deref() != Some(who.user_id.as_str()) {
        return Err(AppError::Forbidden);
    }
    if row.closed_at.is_none() {
        return Err(AppError::invalid(
            "not_closed",
            "Open consultations are edited by closing them; corrections are for closed records.",
        ));
    }
    let version = i32::try_from(repo::correction::list(&txn, id).await?.len()).unwrap_or(i32::MAX - 1) + 2;
    let cid = domain::VerificationId::new().to_string();
    repo::correction::insert(
        &txn,
        store::entity::consultation_correction::Model {
            reason_enc: app.seal("consultation_corrections", "reason_enc", &cid, reason.as_bytes())?,
            summary_enc: app.seal("consultation_corrections", "summary_enc", &cid, summary.as_bytes())?,
            diagnoses_enc: Some(app.seal_str("consultation_corrections", "diagnoses_enc", &cid, &codes.join(","))?),
            id: cid,
            consultation_id: id.to_owned(),
            version,
            author_id: who.user_id.clone(),
            created_at: app.clock.now(),
        },
    )
    .await?;
    super::index_text(app, &txn, id, &format!("correction-{version}"), &summary).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "consultation.correct",
        Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
        &format!("version={version}"),
    )
    .await?;
    let to = recipients(&txn, &row).await?;
    txn.commit().await?;
    app.publish(to, serde_json::json!({"type": "corrected", "consultation_id": id, "version": version}));
    Ok(version)
}
