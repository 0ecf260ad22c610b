//! The patient's personal health record (A6): education articles saved with one tap from a
//! consultation (or from the article page).

use chrono::{DateTime, Utc};
use domain::Role;
use serde::Serialize;
use store::repo::{
    self,
    scope::{Grant, PatientScope},
};

use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

#[derive(Debug, Clone, Serialize)]
pub struct SavedArticle {
    pub slug: String,
    pub title_zh: String,
    pub title_en: String,
    pub consultation_id: Option<String>,
    pub saved_at: DateTime<Utc>,
}

/// Saves an education article to the caller's record (idempotent). `consultation_id` names the
/// consultation it was saved from: one of the caller's own (or their ward's), else 404 like any
/// other record they cannot see, and the refusal is audited (issue 11 item 18). `None` means it was
/// saved from the article library, not from a consultation; the record then shows no link.
pub async fn save_article(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    slug: &str,
    consultation_id: Option<&str>,
) -> Result<(), AppError> {
    let target = Subject { patient_id: None, resource: consultation_id.or(Some(slug)) };
    let save = save_article_inner(app, who, ctx, slug, consultation_id);
    app.audit_denied(who, ctx, "health_record.save_article", target, save).await
}

async fn save_article_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    slug: &str,
    consultation_id: Option<&str>,
) -> Result<(), AppError> {
    who.require(&[Role::Patient])?;
    domain::education::find(slug).ok_or(AppError::NotFound)?;
    let txn = app.store.begin_write().await?;
    if let Some(id) = consultation_id {
        // As the patient side only: a doctor who is also a patient links nothing they treat.
        let seen = crate::consultation::scope_for(&txn, who).await?;
        let row = repo::consultation::find_scoped(&txn, &seen, id).await?.ok_or(AppError::NotFound)?;
        if !seen.patient_ids.contains(&row.patient_id) {
            return Err(AppError::NotFound);
        }
    }
    let scope = PatientScope::granted(&who.user_id, Grant::SelfOrGuardian);
    repo::health_record::save_article(
        &txn,
        &scope,
        store::entity::saved_article::Model {
            user_id: who.user_id.clone(),
            slug: slug.to_owned(),
            consultation_id: consultation_id.map(str::to_owned),
            saved_at: app.clock.now(),
        },
    )
    .await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "health_record.save_article",
        Subject { patient_id: Some(&who.user_id), resource: Some(slug) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn articles(app: &App, who: &Principal) -> Result<Vec<SavedArticle>, AppError> {
    who.require(&[Role::Patient])?;
    let scope = PatientScope::granted(&who.user_id, Grant::SelfOrGuardian);
    Ok(repo::health_record::articles(&app.store.db, &scope)
        .await?
        .into_iter()
        .filter_map(|r| {
            domain::education::find(&r.slug).map(|a| SavedArticle {
                slug: r.slug,
                title_zh: a.title_zh.to_owned(),
                title_en: a.title_en.to_owned(),
                consultation_id: r.consultation_id,
                saved_at: r.saved_at,
            })
        })
        .collect())
}
