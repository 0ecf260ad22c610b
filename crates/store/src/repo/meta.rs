//! Key/value facts about the database itself (key-ring fingerprint, re-encryption cursor).

use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, sea_query::OnConflict};

use crate::{StoreError, entity::app_meta};

pub async fn find(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, StoreError> {
    Ok(app_meta::Entity::find_by_id(key.to_owned()).one(db).await?.map(|m| m.value))
}

pub async fn put(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<(), StoreError> {
    let row = app_meta::ActiveModel { key: Set(key.to_owned()), value: Set(value.to_owned()) };
    app_meta::Entity::insert(row)
        .on_conflict(OnConflict::column(app_meta::Column::Key).update_column(app_meta::Column::Value).to_owned())
        .exec(db)
        .await?;
    Ok(())
}
