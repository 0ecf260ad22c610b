//! PIPL consent: what the user agreed to, which text version, and withdrawal (recorded, audited).

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use store::entity::consent;

use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsentView {
    pub kind: String,
    pub version: String,
    pub granted_at: chrono::DateTime<Utc>,
    pub withdrawn_at: Option<chrono::DateTime<Utc>>,
}

pub async fn list_consents(app: &App, who: &Principal) -> Result<Vec<ConsentView>, AppError> {
    let rows = consent::Entity::find()
        .filter(consent::Column::UserId.eq(who.user_id.clone()))
        .order_by_asc(consent::Column::GrantedAt)
        .all(&app.store.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|c| ConsentView {
            kind: c.kind,
            version: c.version,
            granted_at: c.granted_at,
            withdrawn_at: c.withdrawn_at,
        })
        .collect())
}

/// Withdraws an active consent of `kind`. Withdrawal never deletes the record of having consented.
pub async fn withdraw_consent(app: &App, who: &Principal, ctx: &RequestCtx, kind: &str) -> Result<(), AppError> {
    let kind: domain::ConsentKind = kind.parse().map_err(|_| AppError::invalid("consent_kind", "Unknown consent."))?;
    let txn = app.store.begin_write().await?;
    let active = consent::Entity::find()
        .filter(consent::Column::UserId.eq(who.user_id.clone()))
        .filter(consent::Column::Kind.eq(kind.as_str()))
        .filter(consent::Column::WithdrawnAt.is_null())
        .all(&txn)
        .await?;
    if active.is_empty() {
        return Err(AppError::Conflict("This consent is not active."));
    }
    for c in active {
        let am = consent::ActiveModel { id: Set(c.id), withdrawn_at: Set(Some(app.clock.now())), ..Default::default() };
        consent::Entity::update(am).exec(&txn).await?;
    }
    app.record(
        &txn,
        ctx,
        Some(who),
        "consent.withdraw",
        Subject { patient_id: Some(&who.user_id), resource: Some(kind.as_str()) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
