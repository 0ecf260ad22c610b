//! Institutions and departments (P1: one platform, many institutions).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    StoreError,
    entity::{department, institution},
};

pub async fn insert(db: &impl ConnectionTrait, row: institution::Model) -> Result<(), StoreError> {
    let am: institution::ActiveModel = row.into();
    institution::Entity::insert(am).exec_without_returning(db).await.map_err(StoreError::from_insert)?;
    Ok(())
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<institution::Model>, StoreError> {
    Ok(institution::Entity::find()
        .order_by_desc(institution::Column::Tier)
        .order_by_asc(institution::Column::NameEn)
        .all(db)
        .await?)
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<institution::Model, StoreError> {
    institution::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or(StoreError::NotFound)
}

pub async fn insert_department(db: &impl ConnectionTrait, row: department::Model) -> Result<(), StoreError> {
    let am: department::ActiveModel = row.into();
    department::Entity::insert(am).exec_without_returning(db).await.map_err(StoreError::from_insert)?;
    Ok(())
}

pub async fn departments(
    db: &impl ConnectionTrait,
    institution_id: &str,
) -> Result<Vec<department::Model>, StoreError> {
    Ok(department::Entity::find()
        .filter(department::Column::InstitutionId.eq(institution_id))
        .order_by_asc(department::Column::Code)
        .all(db)
        .await?)
}

pub async fn all_departments(db: &impl ConnectionTrait) -> Result<Vec<department::Model>, StoreError> {
    Ok(department::Entity::find().order_by_asc(department::Column::Code).all(db).await?)
}

pub async fn get_department(db: &impl ConnectionTrait, id: &str) -> Result<department::Model, StoreError> {
    department::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or(StoreError::NotFound)
}

/// Sets (or clears) an institution's response-time limits.
pub async fn set_sla(
    db: &impl ConnectionTrait,
    id: &str,
    priority_secs: Option<i32>,
    normal_secs: Option<i32>,
) -> Result<(), StoreError> {
    use sea_orm::ActiveValue::Set;
    let am = institution::ActiveModel {
        id: Set(id.to_owned()),
        sla_priority_secs: Set(priority_secs),
        sla_normal_secs: Set(normal_secs),
        ..Default::default()
    };
    institution::Entity::update(am).exec(db).await?;
    Ok(())
}
