//! The red-flag lexicon as data (A-red flags, Q1): platform admins see and edit the words that
//! trigger the "call 120" notice and make a consultation priority. While nobody has edited it, the
//! built-in list applies; the first edit stores the built-in list so that it can be changed freely.

use domain::{Role, screening::normalize_for_matching};
use serde::Serialize;
use store::repo;

use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

/// The categories a term can belong to.
pub const CATEGORIES: [&str; 6] = ["cardiac", "respiratory", "neuro", "bleeding", "stroke", "mental_health"];

#[derive(Debug, Clone, Serialize)]
pub struct TermView {
    pub term: String,
    pub category: String,
}

/// The lexicon in force, and whether it is the built-in one.
pub async fn list_terms(app: &App, who: &Principal) -> Result<(Vec<TermView>, bool), AppError> {
    who.require(&[Role::PlatformAdmin])?;
    let stored = repo::red_flag::list(&app.store.db).await?;
    if stored.is_empty() {
        let builtin = domain::screening::RedFlagLexicon::default_terms()
            .into_iter()
            .map(|(t, c)| TermView { term: t.to_owned(), category: c.to_owned() })
            .collect();
        return Ok((builtin, true));
    }
    Ok((stored.into_iter().map(|t| TermView { term: t.term, category: t.category }).collect(), false))
}

async fn materialise_defaults(app: &App, txn: &sea_orm::DatabaseTransaction) -> Result<(), AppError> {
    if repo::red_flag::list(txn).await?.is_empty() {
        for (t, c) in domain::screening::RedFlagLexicon::default_terms() {
            repo::red_flag::upsert(txn, t, c, app.clock.now()).await?;
        }
    }
    Ok(())
}

pub async fn add_term(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    term: &str,
    category: &str,
) -> Result<(), AppError> {
    who.require(&[Role::PlatformAdmin])?;
    let term = term.trim();
    if term.is_empty() || term.chars().count() > 40 || normalize_for_matching(term).is_empty() {
        return Err(AppError::invalid("term_invalid", "Enter a word or phrase of up to 40 characters."));
    }
    if !CATEGORIES.contains(&category) {
        return Err(AppError::invalid("category_invalid", "Choose a category."));
    }
    let txn = app.store.begin_write().await?;
    materialise_defaults(app, &txn).await?;
    repo::red_flag::upsert(&txn, term, category, app.clock.now()).await?;
    app.record(&txn, ctx, Some(who), "red_flag.add", Subject { patient_id: None, resource: Some(term) }, "ok").await?;
    txn.commit().await?;
    Ok(())
}

pub async fn delete_term(app: &App, who: &Principal, ctx: &RequestCtx, term: &str) -> Result<(), AppError> {
    who.require(&[Role::PlatformAdmin])?;
    let txn = app.store.begin_write().await?;
    materialise_defaults(app, &txn).await?;
    repo::red_flag::delete(&txn, term).await?;
    if repo::red_flag::list(&txn).await?.is_empty() {
        return Err(AppError::invalid("lexicon_empty", "Keep at least one term; the notice must not go silent."));
    }
    app.record(&txn, ctx, Some(who), "red_flag.delete", Subject { patient_id: None, resource: Some(term) }, "ok")
        .await?;
    txn.commit().await?;
    Ok(())
}
