//! Calls (A1, F3): the call rows, their participants and recordings. Reads go through the
//! consultation's access check in `app`; these functions only move rows.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use crate::{
    StoreError, dialect,
    entity::{call as k, call_participant as p, call_recording as r, call_recording_chunk as rc},
};

pub async fn insert(db: &impl ConnectionTrait, row: k::Model) -> Result<(), StoreError> {
    k::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<k::Model>, StoreError> {
    Ok(k::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// The call row locked for a state change (participants change under this lock too).
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

/// Live calls that ring for `user_id` (an invitation still open), newest first.
pub async fn ringing_for(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<k::Model>, StoreError> {
    let calls: Vec<String> = p::Entity::find()
        .filter(p::Column::UserId.eq(user_id))
        .filter(p::Column::State.eq("invited"))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.call_id)
        .collect();
    if calls.is_empty() {
        return Ok(Vec::new());
    }
    Ok(k::Entity::find()
        .filter(k::Column::Id.is_in(calls))
        .filter(k::Column::State.is_in(["ringing", "active"]))
        .order_by_desc(k::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Everyone ever invited to a call, in invitation order.
pub async fn participants(db: &impl ConnectionTrait, call_id: &str) -> Result<Vec<p::Model>, StoreError> {
    Ok(p::Entity::find()
        .filter(p::Column::CallId.eq(call_id))
        .order_by_asc(p::Column::InvitedAt)
        .order_by_asc(p::Column::Id)
        .all(db)
        .await?)
}

pub async fn participant(
    db: &impl ConnectionTrait,
    call_id: &str,
    participant_id: &str,
) -> Result<Option<p::Model>, StoreError> {
    Ok(p::Entity::find()
        .filter(p::Column::CallId.eq(call_id))
        .filter(p::Column::ParticipantId.eq(participant_id))
        .one(db)
        .await?)
}

pub async fn insert_participant(db: &impl ConnectionTrait, row: p::Model) -> Result<(), StoreError> {
    p::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

pub async fn update_participant(db: &impl ConnectionTrait, row: p::Model) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

/// A guest invitation by the hash of its link token.
pub async fn guest_by_token(db: &impl ConnectionTrait, token_hash: &str) -> Result<Option<p::Model>, StoreError> {
    Ok(p::Entity::find().filter(p::Column::TokenHash.eq(token_hash)).one(db).await?)
}

/// A guest by the hash of the cookie secret their link was exchanged for.
pub async fn guest_by_secret(db: &impl ConnectionTrait, secret_hash: &str) -> Result<Option<p::Model>, StoreError> {
    Ok(p::Entity::find().filter(p::Column::SecretHash.eq(secret_hash)).one(db).await?)
}

pub async fn insert_recording(db: &impl ConnectionTrait, row: r::Model) -> Result<(), StoreError> {
    r::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

pub async fn find_recording(db: &impl ConnectionTrait, id: &str) -> Result<Option<r::Model>, StoreError> {
    Ok(r::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn lock_recording(txn: &DatabaseTransaction, id: &str) -> Result<Option<r::Model>, StoreError> {
    dialect::find_for_update::<r::Entity>(txn, id.to_owned()).await
}

pub async fn update_recording(db: &impl ConnectionTrait, row: r::Model) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

/// Recordings of a call, oldest first.
pub async fn recordings_of(db: &impl ConnectionTrait, call_id: &str) -> Result<Vec<r::Model>, StoreError> {
    Ok(r::Entity::find().filter(r::Column::CallId.eq(call_id)).order_by_asc(r::Column::StartedAt).all(db).await?)
}

pub async fn insert_chunk(db: &impl ConnectionTrait, row: rc::Model) -> Result<(), StoreError> {
    rc::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

/// A recording's chunks in order.
pub async fn chunks(db: &impl ConnectionTrait, recording_id: &str) -> Result<Vec<rc::Model>, StoreError> {
    Ok(rc::Entity::find()
        .filter(rc::Column::RecordingId.eq(recording_id))
        .order_by_asc(rc::Column::Seq)
        .all(db)
        .await?)
}

pub async fn delete_chunks(db: &impl ConnectionTrait, recording_id: &str) -> Result<(), StoreError> {
    rc::Entity::delete_many().filter(rc::Column::RecordingId.eq(recording_id)).exec(db).await?;
    Ok(())
}
