//! Attachment records. Reading one requires the consultation to be within the caller's scope.

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::{
    StoreError,
    entity::attachment as a,
    repo::{consultation, scope::ConsultationScope},
};

pub async fn insert(db: &impl ConnectionTrait, row: a::Model) -> Result<(), StoreError> {
    let am: a::ActiveModel = row.into();
    a::Entity::insert(am).exec_without_returning(db).await?;
    Ok(())
}

/// The attachment and its consultation's patient, if the scope may see that consultation.
pub async fn find_scoped(
    db: &impl ConnectionTrait,
    scope: &ConsultationScope,
    id: &str,
) -> Result<Option<(a::Model, String)>, StoreError> {
    let Some(row) = a::Entity::find_by_id(id.to_owned()).one(db).await? else { return Ok(None) };
    Ok(consultation::find_scoped(db, scope, &row.consultation_id).await?.map(|c| (row, c.patient_id)))
}
