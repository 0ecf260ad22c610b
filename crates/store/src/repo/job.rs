//! The durable job queue (A2, E3). A job is claimed inside the transaction that runs it, so its
//! effects and its `done` mark commit together: after a crash a job is either done or still due,
//! never half-run, and two workers never run the same job.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, sea_query::OnConflict,
};

use crate::{StoreError, dialect, entity::job as j};

/// Adds a job unless one with the same idempotency key exists; returns whether it was added.
pub async fn enqueue(db: &impl ConnectionTrait, row: j::Model) -> Result<bool, StoreError> {
    let am: j::ActiveModel = row.into();
    let res = j::Entity::insert(am)
        .on_conflict(OnConflict::column(j::Column::IdemKey).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(res > 0)
}

/// The oldest job due at `now` that no other worker holds, locked until `txn` ends.
pub async fn claim_next(
    txn: &DatabaseTransaction,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<j::Model>, StoreError> {
    let q = j::Entity::find()
        .filter(j::Column::DoneAt.is_null())
        .filter(j::Column::DueAt.lte(now))
        .order_by_asc(j::Column::DueAt)
        .order_by_asc(j::Column::Id)
        .limit(1);
    Ok(dialect::skip_locked(q, txn.get_database_backend()).one(txn).await?)
}

/// Re-reads one job under lock (to record a failed attempt after its transaction rolled back).
pub async fn lock(txn: &DatabaseTransaction, id: &str) -> Result<Option<j::Model>, StoreError> {
    dialect::find_for_update::<j::Entity>(txn, id.to_owned()).await
}

pub async fn update(db: &impl ConnectionTrait, row: j::Model) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

/// When the earliest pending job is due.
pub async fn next_due(db: &impl ConnectionTrait) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
    Ok(j::Entity::find()
        .filter(j::Column::DoneAt.is_null())
        .order_by_asc(j::Column::DueAt)
        .one(db)
        .await?
        .map(|r| r.due_at))
}

pub async fn find_by_key(db: &impl ConnectionTrait, key: &str) -> Result<Option<j::Model>, StoreError> {
    Ok(j::Entity::find().filter(j::Column::IdemKey.eq(key)).one(db).await?)
}
