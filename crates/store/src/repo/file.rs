//! Uploaded documents (licence photos, employment proofs), stored encrypted.

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::{StoreError, entity::file};

pub async fn insert(db: &impl ConnectionTrait, row: file::Model) -> Result<(), StoreError> {
    let am: file::ActiveModel = row.into();
    file::Entity::insert(am).exec_without_returning(db).await?;
    Ok(())
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<file::Model, StoreError> {
    file::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or(StoreError::NotFound)
}
