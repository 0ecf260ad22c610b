//! Staff-role invitations (issue 11 item 1): offered by an institution admin, decided by the
//! invited account's owner.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

use crate::{StoreError, entity::role_invitation as ri};

pub async fn insert(db: &impl ConnectionTrait, row: ri::Model) -> Result<(), StoreError> {
    ri::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<ri::Model, StoreError> {
    ri::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or(StoreError::NotFound)
}

/// Pending invitations of one account that have not expired, newest first.
pub async fn list_pending_for_user(
    db: &impl ConnectionTrait,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ri::Model>, StoreError> {
    list_pending(db, ri::Column::UserId, user_id, now).await
}

/// Pending invitations an institution sent that have not expired, newest first.
pub async fn list_pending_for_institution(
    db: &impl ConnectionTrait,
    institution_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ri::Model>, StoreError> {
    list_pending(db, ri::Column::InstitutionId, institution_id, now).await
}

async fn list_pending(
    db: &impl ConnectionTrait,
    by: ri::Column,
    value: &str,
    now: DateTime<Utc>,
) -> Result<Vec<ri::Model>, StoreError> {
    Ok(ri::Entity::find()
        .filter(by.eq(value))
        .filter(ri::Column::Status.eq("pending"))
        .filter(ri::Column::ExpiresAt.gt(now))
        .order_by_desc(ri::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Records the owner's decision.
pub async fn decide(db: &impl ConnectionTrait, id: &str, status: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    ri::Entity::update_many()
        .col_expr(ri::Column::Status, Expr::value(status))
        .col_expr(ri::Column::DecidedAt, Expr::value(at))
        .filter(ri::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
