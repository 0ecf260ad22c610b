//! The red-flag lexicon admins edit (terms that trigger the "call 120" notice).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryOrder, sea_query::OnConflict};

use crate::{StoreError, entity::red_flag_term as t};

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<t::Model>, StoreError> {
    Ok(t::Entity::find().order_by_asc(t::Column::Category).order_by_asc(t::Column::Term).all(db).await?)
}

pub async fn upsert(
    db: &impl ConnectionTrait,
    term: &str,
    category: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let am = t::ActiveModel { term: Set(term.to_owned()), category: Set(category.to_owned()), created_at: Set(at) };
    t::Entity::insert(am)
        .on_conflict(OnConflict::column(t::Column::Term).update_column(t::Column::Category).to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn delete(db: &impl ConnectionTrait, term: &str) -> Result<(), StoreError> {
    t::Entity::delete_by_id(term.to_owned()).exec(db).await?;
    Ok(())
}
