//! Calls (A1, F3). Reads go through the consultation's access check in `app`; these functions only
//! move rows.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
};

use crate::{StoreError, dialect, entity::call as k};

pub async fn insert(db: &impl ConnectionTrait, row: k::Model) -> Result<(), StoreError> {
    k::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<k::Model>, StoreError> {
    Ok(k::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// The call row locked for a state change.
pub async fn lock(txn: &DatabaseTransaction, id: &str) -> Result<Option<k::Model>, StoreError> {
    dialect::find_for_update::<k::Entity>(txn, id.to_owned()).await
}

/// A call of this consultation that is ringing or active, if any.
pub async fn live_in(db: &impl ConnectionTrait, consultation_id: &str) -> Result<Option<k::Model>, StoreError> {
    Ok(k::Entity::find()
        .filter(k::Column::ConsultationId.eq(consultation_id))
        .filter(k::Column::State.is_in(["ringing", "active"]))
        .one(db)
        .await?)
}

pub async fn update(db: &impl ConnectionTrait, row: k::Model) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

/// Calls ringing for `user_id` (they are the callee), newest first.
pub async fn ringing_for(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<k::Model>, StoreError> {
    use sea_orm::QueryOrder;
    Ok(k::Entity::find()
        .filter(k::Column::CalleeId.eq(user_id))
        .filter(k::Column::State.eq("ringing"))
        .order_by_desc(k::Column::CreatedAt)
        .all(db)
        .await?)
}
