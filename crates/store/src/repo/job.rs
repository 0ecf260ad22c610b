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

/// Up to `limit` jobs due at `now` that no other worker holds, oldest first, locked until `txn` ends.
pub async fn claim_due(
    txn: &DatabaseTransaction,
    now: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<Vec<j::Model>, StoreError> {
    let q = j::Entity::find()
        .filter(j::Column::DoneAt.is_null())
        .filter(j::Column::DueAt.lte(now))
        .order_by_asc(j::Column::DueAt)
        .order_by_asc(j::Column::Id)
        .limit(limit);
    Ok(dialect::skip_locked(q, txn.get_database_backend()).all(txn).await?)
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

/// Marks these jobs done by one statement (a batch of handlers that all succeeded).
pub async fn mark_done_many(
    db: &impl ConnectionTrait,
    ids: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait as _};
    for chunk in ids.chunks(500) {
        j::Entity::update_many()
            .col_expr(j::Column::Attempts, Expr::col(j::Column::Attempts).add(1))
            .col_expr(j::Column::DoneAt, Expr::value(now))
            .col_expr(j::Column::Outcome, Expr::value("done"))
            .col_expr(j::Column::LastError, Expr::value(Option::<String>::None))
            .filter(j::Column::Id.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
    }
    Ok(())
}
