//! Accounts and their roles (B3). Names and phones are encrypted; the phone has a blind index.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use crate::{
    StoreError,
    entity::{user, user_role},
};

pub async fn insert(db: &impl ConnectionTrait, row: user::Model) -> Result<(), StoreError> {
    let am: user::ActiveModel = row.into();
    user::Entity::insert(am).exec_without_returning(db).await.map_err(StoreError::from_insert)?;
    Ok(())
}

pub async fn find_by_login(db: &impl ConnectionTrait, login: &str) -> Result<Option<user::Model>, StoreError> {
    Ok(user::Entity::find().filter(user::Column::Login.eq(login)).one(db).await?)
}

pub async fn find_by_phone_bidx(db: &impl ConnectionTrait, bidx: &str) -> Result<Option<user::Model>, StoreError> {
    Ok(user::Entity::find().filter(user::Column::PhoneBidx.eq(bidx)).one(db).await?)
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<user::Model, StoreError> {
    user::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or(StoreError::NotFound)
}

/// Several users at once (bulk reminders).
pub async fn get_many(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<user::Model>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(user::Entity::find().filter(user::Column::Id.is_in(ids.iter().cloned())).all(db).await?)
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<user::Model>, StoreError> {
    Ok(user::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn update(db: &impl ConnectionTrait, row: user::Model) -> Result<(), StoreError> {
    // Every column is marked changed so the whole row is written.
    let mut am = row.into_active_model();
    am = am.reset_all();
    am.update(db).await?;
    Ok(())
}

pub async fn record_failed_login(
    db: &impl ConnectionTrait,
    mut row: user::Model,
    lock_until: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    row.failed_logins += 1;
    if lock_until.is_some() {
        row.locked_until = lock_until;
        row.failed_logins = 0;
    }
    update(db, row).await
}

pub async fn list_all(db: &impl ConnectionTrait) -> Result<Vec<user::Model>, StoreError> {
    Ok(user::Entity::find().order_by_asc(user::Column::Login).all(db).await?)
}

pub async fn roles(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<user_role::Model>, StoreError> {
    Ok(user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(user_id))
        .order_by_asc(user_role::Column::Role)
        .all(db)
        .await?)
}

/// Grants `role` at `institution_id` (or without one); granting what is already held changes nothing.
/// A role held at one institution never moves to another (issue 11 item 1): each grant is its own row.
pub async fn grant_role(
    db: &impl ConnectionTrait,
    user_id: &str,
    role: &str,
    institution_id: Option<String>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = user_role::ActiveModel {
        user_id: Set(user_id.to_owned()),
        role: Set(role.to_owned()),
        institution_key: Set(institution_id.clone().unwrap_or_default()),
        institution_id: Set(institution_id),
        granted_at: Set(at),
    };
    user_role::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                user_role::Column::UserId,
                user_role::Column::Role,
                user_role::Column::InstitutionKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Removes `role` wherever it is held.
pub async fn revoke_role(db: &impl ConnectionTrait, user_id: &str, role: &str) -> Result<(), StoreError> {
    user_role::Entity::delete_many()
        .filter(user_role::Column::UserId.eq(user_id))
        .filter(user_role::Column::Role.eq(role))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes `role` held at `institution_id` (`None`: the row without an institution) only.
pub async fn revoke_role_at(
    db: &impl ConnectionTrait,
    user_id: &str,
    role: &str,
    institution_id: Option<&str>,
) -> Result<(), StoreError> {
    user_role::Entity::delete_many()
        .filter(user_role::Column::UserId.eq(user_id))
        .filter(user_role::Column::Role.eq(role))
        .filter(user_role::Column::InstitutionKey.eq(institution_id.unwrap_or_default()))
        .exec(db)
        .await?;
    Ok(())
}

/// Staff (any non-patient role) attached to an institution.
pub async fn list_staff_of(
    db: &impl ConnectionTrait,
    institution_id: &str,
) -> Result<Vec<user_role::Model>, StoreError> {
    Ok(user_role::Entity::find()
        .filter(user_role::Column::InstitutionId.eq(institution_id))
        .order_by_asc(user_role::Column::UserId)
        .all(db)
        .await?)
}

/// Institution admins of an institution (escalation recipients).
pub async fn admins_of(db: &impl ConnectionTrait, institution_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(user_role::Entity::find()
        .filter(user_role::Column::InstitutionId.eq(institution_id))
        .filter(user_role::Column::Role.eq("institution_admin"))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.user_id)
        .collect())
}
