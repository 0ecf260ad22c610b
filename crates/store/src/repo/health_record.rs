//! The personal health record (A6): what a patient keeps for themself.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::OnConflict};

use crate::{StoreError, entity::saved_article as s, repo::scope::PatientScope};

/// Saves an article once (saving again changes nothing).
pub async fn save_article(db: &impl ConnectionTrait, scope: &PatientScope, row: s::Model) -> Result<(), StoreError> {
    if row.user_id != scope.patient_id() {
        return Err(StoreError::NotFound);
    }
    let am: s::ActiveModel = row.into();
    s::Entity::insert(am)
        .on_conflict(OnConflict::columns([s::Column::UserId, s::Column::Slug]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn articles(db: &impl ConnectionTrait, scope: &PatientScope) -> Result<Vec<s::Model>, StoreError> {
    Ok(s::Entity::find()
        .filter(s::Column::UserId.eq(scope.patient_id()))
        .order_by_desc(s::Column::SavedAt)
        .all(db)
        .await?)
}
