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

pub async fn save_article(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    slug: &str,
    consultation_id: Option<&str>,
) -> Result<(), AppError> {
    who.require(&[Role::Patient])?;
    domain::education::find(slug).ok_or(AppError::NotFound)?;
    let txn = app.store.begin_write().await?;
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
