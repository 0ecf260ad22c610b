//! Sessions: only a SHA-256 hash of the opaque token is stored, so a database leak yields no
//! usable session.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{StoreError, entity::session};

pub async fn insert(db: &impl ConnectionTrait, row: session::Model) -> Result<(), StoreError> {
    let am: session::ActiveModel = row.into();
    session::Entity::insert(am).exec_without_returning(db).await?;
    Ok(())
}

pub async fn find_by_token_hash(db: &impl ConnectionTrait, hash: &str) -> Result<Option<session::Model>, StoreError> {
    Ok(session::Entity::find().filter(session::Column::TokenHash.eq(hash)).one(db).await?)
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<session::Model>, StoreError> {
    Ok(session::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn touch(db: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    let am = session::ActiveModel { id: Set(id.to_owned()), last_seen_at: Set(at), ..Default::default() };
    session::Entity::update(am).exec(db).await?;
    Ok(())
}

pub async fn mark_second_factor(db: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    let am = session::ActiveModel {
        id: Set(id.to_owned()),
        second_factor: Set(true),
        step_up_at: Set(Some(at)),
        ..Default::default()
    };
    session::Entity::update(am).exec(db).await?;
    Ok(())
}

pub async fn set_step_up(db: &impl ConnectionTrait, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    let am = session::ActiveModel { id: Set(id.to_owned()), step_up_at: Set(Some(at)), ..Default::default() };
    session::Entity::update(am).exec(db).await?;
    Ok(())
}

/// Counts one wrong step-up answer; returns the session's count so far.
pub async fn add_step_up_failure(db: &impl ConnectionTrait, id: &str) -> Result<i32, StoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    session::Entity::update_many()
        .col_expr(session::Column::StepUpFailures, Expr::col(session::Column::StepUpFailures).add(1))
        .filter(session::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(find(db, id).await?.map_or(0, |s| s.step_up_failures))
}

pub async fn delete(db: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    session::Entity::delete_by_id(id.to_owned()).exec(db).await?;
    Ok(())
}

pub async fn delete_for_user(db: &impl ConnectionTrait, user_id: &str) -> Result<(), StoreError> {
    session::Entity::delete_many().filter(session::Column::UserId.eq(user_id)).exec(db).await?;
    Ok(())
}
