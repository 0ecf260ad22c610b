//! Patient identity profiles (B2). Real name, document number and birth date are encrypted; the
//! document number has a blind index so the same number cannot register twice.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{StoreError, entity::patient_profile, repo::scope::PatientScope};

pub async fn insert(db: &impl ConnectionTrait, row: patient_profile::Model) -> Result<(), StoreError> {
    let am: patient_profile::ActiveModel = row.into();
    patient_profile::Entity::insert(am).exec_without_returning(db).await.map_err(StoreError::from_insert)?;
    Ok(())
}

/// Whether a document with this blind index is registered (no patient data is returned).
pub async fn id_taken(db: &impl ConnectionTrait, id_bidx: &str) -> Result<bool, StoreError> {
    Ok(patient_profile::Entity::find().filter(patient_profile::Column::IdBidx.eq(id_bidx)).one(db).await?.is_some())
}

/// The profile holding a document with this blind index: only to tell its owner of a registration
/// attempt (issue 11 item 13), never shown to the one registering.
pub async fn find_by_id_bidx(
    db: &impl ConnectionTrait,
    id_bidx: &str,
) -> Result<Option<patient_profile::Model>, StoreError> {
    Ok(patient_profile::Entity::find().filter(patient_profile::Column::IdBidx.eq(id_bidx)).one(db).await?)
}

/// The profile the scope grants access to.
pub async fn find(
    db: &impl ConnectionTrait,
    scope: &PatientScope,
) -> Result<Option<patient_profile::Model>, StoreError> {
    Ok(patient_profile::Entity::find_by_id(scope.patient_id().to_owned()).one(db).await?)
}

/// Patients a guardian registered (minors under 6).
pub async fn list_wards(db: &impl ConnectionTrait, guardian_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(patient_profile::Entity::find()
        .filter(patient_profile::Column::GuardianUserId.eq(guardian_id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.user_id)
        .collect())
}

pub async fn set_guardian(db: &impl ConnectionTrait, patient_id: &str, guardian: &str) -> Result<(), StoreError> {
    let am = patient_profile::ActiveModel {
        user_id: Set(patient_id.to_owned()),
        guardian_user_id: Set(Some(guardian.to_owned())),
        ..Default::default()
    };
    patient_profile::Entity::update(am).exec(db).await?;
    Ok(())
}
