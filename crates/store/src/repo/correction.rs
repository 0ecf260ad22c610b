//! Versions of a closed record; the caller has checked access to the consultation.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{StoreError, entity::consultation_correction as c};

pub async fn insert(db: &impl ConnectionTrait, row: c::Model) -> Result<(), StoreError> {
    let am: c::ActiveModel = row.into();
    c::Entity::insert(am).exec_without_returning(db).await.map_err(StoreError::from_insert)?;
    Ok(())
}

/// All corrections, oldest first.
pub async fn list(db: &impl ConnectionTrait, consultation_id: &str) -> Result<Vec<c::Model>, StoreError> {
    Ok(c::Entity::find()
        .filter(c::Column::ConsultationId.eq(consultation_id))
        .order_by_asc(c::Column::Version)
        .all(db)
        .await?)
}
