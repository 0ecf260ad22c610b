//! Annotating images (A4): the consultation's doctor draws shapes over a photo or report; the
//! patient sees them as an overlay they can switch off. Shapes are stored encrypted, apart from the
//! untouched original; a closed record's annotations no longer change (C1).

use chrono::{DateTime, Utc};
use domain::annotation::{Shape, validate_shapes};
use serde::Serialize;
use store::repo;

use super::{recipients, scope_for};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

#[derive(Debug, Clone, Serialize)]
pub struct AnnotationView {
    pub attachment_id: String,
    pub consultation_id: String,
    pub shapes: Vec<Shape>,
    pub author_id: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Whether the caller may edit (the consultation's doctor, while it is open).
    pub editable: bool,
}

/// A refusal (not found, forbidden) is audited (issue 11 item 11).
pub async fn get(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    attachment_id: &str,
) -> Result<AnnotationView, AppError> {
    let target = Subject { patient_id: None, resource: Some(attachment_id) };
    app.audit_denied(who, ctx, "attachment.annotation_view", target, get_inner(app, who, ctx, attachment_id)).await
}

async fn get_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    attachment_id: &str,
) -> Result<AnnotationView, AppError> {
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let (att, patient_id) =
        repo::attachment::find_scoped(&txn, &scope, attachment_id).await?.ok_or(AppError::NotFound)?;
    let consultation =
        repo::consultation::find_scoped(&txn, &scope, &att.consultation_id).await?.ok_or(AppError::NotFound)?;
    let stored = repo::annotation::find(&txn, attachment_id).await?;
    let shapes = match &stored {
        Some(a) => {
            let json = app.open_str("annotations", "shapes_enc", attachment_id, &a.shapes_enc)?;
            serde_json::from_str(&json).map_err(|_| AppError::Internal("annotation json"))?
        }
        None => Vec::new(),
    };
    app.record(
        &txn,
        ctx,
        Some(who),
        "attachment.annotation_view",
        Subject { patient_id: Some(&patient_id), resource: Some(attachment_id) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(AnnotationView {
        attachment_id: attachment_id.to_owned(),
        consultation_id: att.consultation_id,
        shapes,
        author_id: stored.as_ref().map(|a| a.author_id.clone()),
        updated_at: stored.map(|a| a.updated_at),
        editable: who.doctor_verified
            && consultation.doctor_id.as_deref() == Some(who.user_id.as_str())
            && consultation.closed_at.is_none()
            && att.content_type.starts_with("image/"),
    })
}

/// Replaces the shapes on an image (the consultation's doctor only, while it is open).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn save(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    attachment_id: &str,
    shapes: Vec<Shape>,
) -> Result<(), AppError> {
    let target = Subject { patient_id: None, resource: Some(attachment_id) };
    app.audit_denied(who, ctx, "attachment.annotate", target, save_inner(app, who, ctx, attachment_id, shapes)).await
}

async fn save_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    attachment_id: &str,
    shapes: Vec<Shape>,
) -> Result<(), AppError> {
    who.require_verified_doctor()?;
    validate_shapes(&shapes).map_err(|e| AppError::invalid(e.code(), e.message()))?;
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let (att, patient_id) =
        repo::attachment::find_scoped(&txn, &scope, attachment_id).await?.ok_or(AppError::NotFound)?;
    let row = repo::consultation::lock_scoped(&txn, &scope, &att.consultation_id).await?.ok_or(AppError::NotFound)?;
    if row.doctor_id.as_deref() != Some(who.user_id.as_str()) {
        return Err(AppError::Forbidden);
    }
    if row.closed_at.is_some() {
        return Err(AppError::invalid("consultation_closed", "This consultation is closed."));
    }
    if !att.content_type.starts_with("image/") {
        return Err(AppError::invalid("annotation_invalid", "Only images can be annotated."));
    }
    let json = serde_json::to_string(&shapes).map_err(|_| AppError::Internal("annotation json"))?;
    repo::annotation::upsert(
        &txn,
        store::entity::annotation::Model {
            shapes_enc: app.seal("annotations", "shapes_enc", attachment_id, json.as_bytes())?,
            attachment_id: attachment_id.to_owned(),
            consultation_id: att.consultation_id.clone(),
            author_id: who.user_id.clone(),
            updated_at: app.clock.now(),
        },
    )
    .await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "attachment.annotate",
        Subject { patient_id: Some(&patient_id), resource: Some(attachment_id) },
        "ok",
    )
    .await?;
    let to = recipients(&txn, &row).await?;
    txn.commit().await?;
    app.publish(to, serde_json::json!({"type": "annotation", "attachment_id": attachment_id, "consultation_id": att.consultation_id}));
    Ok(())
}
