//! The plaintext backlog of migration m0016 (issue 11 item 10): values that were stored in clear
//! before their columns were sealed. `app::seal::convert_backlog` seals them batch by batch; each
//! batch writes the sealed values and deletes its backlog rows in one transaction, so the
//! conversion is resumable and never seals a value twice.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Alias, Expr, ExprTrait, Query},
};

use crate::{StoreError, dialect, entity::seal_backlog as b};

/// The sealed columns a backlog row may name (table, column); all keyed by `id`. Diagnosis codes
/// (`consultation_diagnoses.code_enc`) are not updated in place but inserted as new rows.
pub const BACKLOG_COLUMNS: &[(&str, &str)] = &[
    ("notifications", "title_enc"),
    ("notifications", "body_enc"),
    ("consultations", "red_flags_enc"),
    ("consultation_corrections", "diagnoses_enc"),
    ("followup_plans", "template_enc"),
    ("followup_plans", "title_enc"),
    ("followup_plans", "measures_enc"),
    ("devices", "label_enc"),
    ("care_tasks", "label_enc"),
    ("alerts", "rule_enc"),
    ("doctor_verifications", "review_reason_enc"),
];

pub use b::Model as BacklogRow;

/// The oldest `limit` backlog rows, held by this transaction (other nodes converting at the same
/// time skip them on PostgreSQL; SQLite's single writer already serialises).
pub async fn batch(txn: &DatabaseTransaction, limit: u64) -> Result<Vec<BacklogRow>, StoreError> {
    let q = b::Entity::find().order_by_asc(b::Column::Id).limit(limit);
    Ok(dialect::skip_locked(q, txn.get_database_backend()).all(txn).await?)
}

/// Writes a sealed value into `table.column` of row `id`, unless the row already has one (written by
/// the new code meanwhile). `table`/`column` must be one of [`BACKLOG_COLUMNS`].
pub async fn write(
    txn: &DatabaseTransaction,
    table: &str,
    column: &str,
    id: &str,
    sealed: Vec<u8>,
) -> Result<(), StoreError> {
    if !BACKLOG_COLUMNS.contains(&(table, column)) {
        return Err(StoreError::Corrupt);
    }
    let q = Query::update()
        .table(Alias::new(table))
        .value(Alias::new(column), sealed)
        .and_where(Expr::col(Alias::new("id")).eq(id.to_owned()))
        .and_where(Expr::col(Alias::new(column)).is_null())
        .to_owned();
    txn.execute(&q).await?;
    Ok(())
}

pub async fn delete(txn: &DatabaseTransaction, ids: &[i32]) -> Result<(), StoreError> {
    b::Entity::delete_many().filter(b::Column::Id.is_in(ids.iter().copied())).exec(txn).await?;
    Ok(())
}

/// Values still waiting to be sealed.
pub async fn pending(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(b::Entity::find().count(db).await?)
}
