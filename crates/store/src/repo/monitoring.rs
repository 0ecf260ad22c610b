//! Chronic-care monitoring (D2, D4, D5): plans, devices, observations and alerts. Access is checked
//! in `app::monitoring`; these functions only move rows.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    StoreError, dialect,
    entity::{alert as a, device as d, followup_plan as p, observation as o},
};

pub async fn insert_plan(db: &impl ConnectionTrait, row: p::Model) -> Result<(), StoreError> {
    p::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

pub async fn plan(db: &impl ConnectionTrait, id: &str) -> Result<Option<p::Model>, StoreError> {
    Ok(p::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn update_plan(db: &impl ConnectionTrait, row: p::Model) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

/// Ids of the plans run by these doctors (an institution's completion rate).
pub async fn plan_ids_of_doctors(db: &impl ConnectionTrait, doctor_ids: &[String]) -> Result<Vec<String>, StoreError> {
    if doctor_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(p::Entity::find()
        .select_only()
        .column(p::Column::Id)
        .filter(p::Column::DoctorId.is_in(doctor_ids.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?)
}

/// A patient's active plans, newest first.
pub async fn active_plans(db: &impl ConnectionTrait, patient_id: &str) -> Result<Vec<p::Model>, StoreError> {
    Ok(p::Entity::find()
        .filter(p::Column::PatientId.eq(patient_id))
        .filter(p::Column::State.eq("active"))
        .order_by_desc(p::Column::CreatedAt)
        .all(db)
        .await?)
}

/// A doctor's active plans, oldest first.
pub async fn active_plans_of_doctor(db: &impl ConnectionTrait, doctor_id: &str) -> Result<Vec<p::Model>, StoreError> {
    Ok(p::Entity::find()
        .filter(p::Column::DoctorId.eq(doctor_id))
        .filter(p::Column::State.eq("active"))
        .order_by_asc(p::Column::CreatedAt)
        .limit(500)
        .all(db)
        .await?)
}

/// Whether `doctor_id` runs an active plan for `patient_id` (a care relationship).
pub async fn doctor_has_plan(db: &impl ConnectionTrait, doctor_id: &str, patient_id: &str) -> Result<bool, StoreError> {
    Ok(p::Entity::find()
        .filter(p::Column::PatientId.eq(patient_id))
        .filter(p::Column::DoctorId.eq(doctor_id))
        .filter(p::Column::State.eq("active"))
        .count(db)
        .await?
        > 0)
}

pub async fn insert_device(db: &impl ConnectionTrait, row: d::Model) -> Result<(), StoreError> {
    d::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

pub async fn device(db: &impl ConnectionTrait, id: &str) -> Result<Option<d::Model>, StoreError> {
    Ok(d::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn devices_of(db: &impl ConnectionTrait, patient_id: &str) -> Result<Vec<d::Model>, StoreError> {
    Ok(d::Entity::find().filter(d::Column::PatientId.eq(patient_id)).order_by_asc(d::Column::PairedAt).all(db).await?)
}

pub async fn insert_observation(db: &impl ConnectionTrait, row: o::Model) -> Result<(), StoreError> {
    o::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

/// The reading a device already sent under this id, if any (duplicates are stored once).
pub async fn observation_by_reading(
    db: &impl ConnectionTrait,
    device_id: &str,
    reading_id: &str,
) -> Result<Option<o::Model>, StoreError> {
    Ok(o::Entity::find()
        .filter(o::Column::DeviceId.eq(device_id))
        .filter(o::Column::ReadingId.eq(reading_id))
        .one(db)
        .await?)
}

pub async fn observation(db: &impl ConnectionTrait, id: &str) -> Result<Option<o::Model>, StoreError> {
    Ok(o::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// How many readings of `kind` since `since` were above target.
pub async fn above_target_since(
    db: &impl ConnectionTrait,
    patient_id: &str,
    kind: &str,
    since: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(o::Entity::find()
        .filter(o::Column::PatientId.eq(patient_id))
        .filter(o::Column::Kind.eq(kind))
        .filter(o::Column::AboveTarget.eq(true))
        .filter(o::Column::MeasuredAt.gte(since))
        .count(db)
        .await?)
}

/// A patient's readings, oldest first, optionally by LOINC code and time window (at most `limit`).
pub async fn observations(
    db: &impl ConnectionTrait,
    patient_id: &str,
    code: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: u64,
) -> Result<Vec<o::Model>, StoreError> {
    let mut q = o::Entity::find().filter(o::Column::PatientId.eq(patient_id));
    if let Some(c) = code {
        q = q.filter(o::Column::Code.eq(c));
    }
    if let Some(f) = from {
        q = q.filter(o::Column::MeasuredAt.gte(f));
    }
    if let Some(t) = to {
        q = q.filter(o::Column::MeasuredAt.lt(t));
    }
    Ok(q.order_by_asc(o::Column::MeasuredAt).limit(limit).all(db).await?)
}

pub async fn insert_alert(db: &impl ConnectionTrait, row: a::Model) -> Result<(), StoreError> {
    a::Entity::insert(row.into_active_model()).exec_without_returning(db).await?;
    Ok(())
}

pub async fn lock_alert(txn: &DatabaseTransaction, id: &str) -> Result<Option<a::Model>, StoreError> {
    dialect::find_for_update::<a::Entity>(txn, id.to_owned()).await
}

pub async fn update_alert(db: &impl ConnectionTrait, row: a::Model) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

/// Open alerts for a doctor, newest first.
pub async fn open_alerts_for(db: &impl ConnectionTrait, doctor_id: &str) -> Result<Vec<a::Model>, StoreError> {
    Ok(a::Entity::find()
        .filter(a::Column::DoctorId.eq(doctor_id))
        .filter(a::Column::State.eq("open"))
        .order_by_desc(a::Column::CreatedAt)
        .limit(200)
        .all(db)
        .await?)
}

/// Alerts raised by one observation.
pub async fn alerts_of(db: &impl ConnectionTrait, observation_id: &str) -> Result<Vec<a::Model>, StoreError> {
    Ok(a::Entity::find().filter(a::Column::ObservationId.eq(observation_id)).all(db).await?)
}

/// Alerts by id (the ones readings name).
pub async fn alerts_by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<a::Model>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(a::Entity::find().filter(a::Column::Id.is_in(ids.iter().cloned())).all(db).await?)
}

/// A patient's open alerts raised since `since`, newest first: the ones a repeat reading may join
/// (issue 11 item 16).
pub async fn open_alerts_of_patient_since(
    db: &impl ConnectionTrait,
    patient_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<a::Model>, StoreError> {
    Ok(a::Entity::find()
        .filter(a::Column::PatientId.eq(patient_id))
        .filter(a::Column::State.eq("open"))
        .filter(a::Column::CreatedAt.gte(since))
        .order_by_desc(a::Column::CreatedAt)
        .limit(50)
        .all(db)
        .await?)
}

/// Open alerts of these doctors that were escalated to their team.
pub async fn open_escalated_of(db: &impl ConnectionTrait, doctor_ids: &[String]) -> Result<Vec<a::Model>, StoreError> {
    if doctor_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(a::Entity::find()
        .filter(a::Column::DoctorId.is_in(doctor_ids.iter().cloned()))
        .filter(a::Column::State.eq("open"))
        .filter(a::Column::EscalatedAt.is_not_null())
        .order_by_desc(a::Column::CreatedAt)
        .limit(200)
        .all(db)
        .await?)
}

/// A patient's alerts raised since `since` (chart markers).
pub async fn alerts_of_patient_since(
    db: &impl ConnectionTrait,
    patient_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<a::Model>, StoreError> {
    Ok(a::Entity::find()
        .filter(a::Column::PatientId.eq(patient_id))
        .filter(a::Column::CreatedAt.gte(since))
        .limit(5000)
        .all(db)
        .await?)
}

/// Patients with a plan (running or ended) run by one of these doctors.
pub async fn patients_of_doctors(db: &impl ConnectionTrait, doctor_ids: &[String]) -> Result<Vec<String>, StoreError> {
    if doctor_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(p::Entity::find()
        .select_only()
        .column(p::Column::PatientId)
        .distinct()
        .filter(p::Column::DoctorId.is_in(doctor_ids.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?)
}
