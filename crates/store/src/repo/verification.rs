//! Doctor verification requests (B1) and the admin review queue.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{StoreError, entity::doctor_verification as dv};

pub async fn insert(db: &impl ConnectionTrait, row: dv::Model) -> Result<(), StoreError> {
    let am: dv::ActiveModel = row.into();
    dv::Entity::insert(am).exec_without_returning(db).await?;
    Ok(())
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<dv::Model, StoreError> {
    dv::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or(StoreError::NotFound)
}

/// The doctor's most recent request.
pub async fn latest_for_user(db: &impl ConnectionTrait, user_id: &str) -> Result<Option<dv::Model>, StoreError> {
    Ok(dv::Entity::find().filter(dv::Column::UserId.eq(user_id)).order_by_desc(dv::Column::SubmittedAt).one(db).await?)
}

/// Pending requests, oldest first; limited to one institution when given.
pub async fn list_pending(
    db: &impl ConnectionTrait,
    institution_id: Option<&str>,
) -> Result<Vec<dv::Model>, StoreError> {
    let mut q = dv::Entity::find().filter(dv::Column::Status.eq("pending")).order_by_asc(dv::Column::SubmittedAt);
    if let Some(i) = institution_id {
        q = q.filter(dv::Column::InstitutionId.eq(i));
    }
    Ok(q.all(db).await?)
}

/// Whether another account already holds an approved or pending request for this licence.
pub async fn licence_in_use(db: &impl ConnectionTrait, bidx: &str, except_user: &str) -> Result<bool, StoreError> {
    Ok(dv::Entity::find()
        .filter(dv::Column::LicenceBidx.eq(bidx))
        .filter(dv::Column::Status.ne("rejected"))
        .filter(dv::Column::UserId.ne(except_user))
        .one(db)
        .await?
        .is_some())
}

pub async fn update(db: &impl ConnectionTrait, row: dv::Model) -> Result<(), StoreError> {
    let am: dv::ActiveModel = sea_orm::IntoActiveModel::into_active_model(row).reset_all();
    dv::Entity::update(am).exec(db).await?;
    Ok(())
}

/// User ids of doctors whose latest approved verification is in `department_id`.
pub async fn approved_doctors_in(db: &impl ConnectionTrait, department_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(dv::Entity::find()
        .filter(dv::Column::DepartmentId.eq(department_id))
        .filter(dv::Column::Status.eq("approved"))
        .all(db)
        .await?
        .into_iter()
        .map(|v| v.user_id)
        .collect())
}

/// Every approved verification (the doctor directory).
pub async fn list_approved(db: &impl ConnectionTrait) -> Result<Vec<dv::Model>, StoreError> {
    Ok(dv::Entity::find()
        .filter(dv::Column::Status.eq("approved"))
        .order_by_asc(dv::Column::SubmittedAt)
        .all(db)
        .await?)
}
