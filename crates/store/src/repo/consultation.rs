//! Consultations and their messages (A1, C1, S2). Every read takes a [`ConsultationScope`], so a
//! consultation is visible only to its patient (or guardian), its doctor, or — while nobody has
//! claimed it — the doctors of its department.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, sea_query::OnConflict,
};

use crate::{
    StoreError, dialect,
    entity::{consultation as c, consultation_diagnosis as d, consultation_message as m, consultation_read as r},
    repo::scope::ConsultationScope,
};

/// Rows the scope may see.
fn visible(scope: &ConsultationScope) -> Condition {
    let mut cond = Condition::any().add(c::Column::DoctorId.eq(scope.user_id.clone()));
    if !scope.patient_ids.is_empty() {
        cond = cond.add(c::Column::PatientId.is_in(scope.patient_ids.clone()));
    }
    if !scope.department_ids.is_empty() {
        cond = cond.add(
            Condition::all()
                .add(c::Column::DoctorId.is_null())
                .add(c::Column::DepartmentId.is_in(scope.department_ids.clone())),
        );
    }
    cond
}

pub async fn insert(db: &impl ConnectionTrait, row: c::Model) -> Result<(), StoreError> {
    let am: c::ActiveModel = row.into();
    c::Entity::insert(am).exec_without_returning(db).await?;
    Ok(())
}

pub async fn find_scoped(
    db: &impl ConnectionTrait,
    scope: &ConsultationScope,
    id: &str,
) -> Result<Option<c::Model>, StoreError> {
    Ok(c::Entity::find().filter(c::Column::Id.eq(id)).filter(visible(scope)).one(db).await?)
}

/// Locks the consultation for a write (message sequence, state change) after checking the scope.
pub async fn lock_scoped(
    txn: &DatabaseTransaction,
    scope: &ConsultationScope,
    id: &str,
) -> Result<Option<c::Model>, StoreError> {
    if find_scoped(txn, scope, id).await?.is_none() {
        return Ok(None);
    }
    dialect::find_for_update::<c::Entity>(txn, id.to_owned()).await
}

/// The patient side: their own and their wards' consultations, newest first.
pub async fn list_as_patient(
    db: &impl ConnectionTrait,
    scope: &ConsultationScope,
) -> Result<Vec<c::Model>, StoreError> {
    if scope.patient_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(c::Entity::find()
        .filter(c::Column::PatientId.is_in(scope.patient_ids.clone()))
        .order_by_desc(c::Column::CreatedAt)
        .limit(200)
        .all(db)
        .await?)
}

/// The doctor side: assigned to them or unclaimed in their departments; open ones by due time first.
pub async fn list_as_doctor(db: &impl ConnectionTrait, scope: &ConsultationScope) -> Result<Vec<c::Model>, StoreError> {
    let mut cond = Condition::any().add(c::Column::DoctorId.eq(scope.user_id.clone()));
    if !scope.department_ids.is_empty() {
        cond = cond.add(
            Condition::all()
                .add(c::Column::DoctorId.is_null())
                .add(c::Column::DepartmentId.is_in(scope.department_ids.clone())),
        );
    }
    Ok(c::Entity::find()
        .filter(cond)
        .order_by_asc(c::Column::ClosedAt)
        .order_by_asc(c::Column::FirstResponseDueAt)
        .limit(200)
        .all(db)
        .await?)
}

/// A consultation by id, unscoped (callers checked access another way).
pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<c::Model, StoreError> {
    c::Entity::find_by_id(id.to_owned()).one(db).await?.ok_or(StoreError::NotFound)
}

/// One consultation locked for update, for internal follow-ups whose access was checked on another
/// row (a call's participants).
pub async fn get_for_update(txn: &DatabaseTransaction, id: &str) -> Result<c::Model, StoreError> {
    dialect::find_for_update::<c::Entity>(txn, id.to_owned()).await?.ok_or(StoreError::NotFound)
}

pub async fn update(db: &impl ConnectionTrait, row: c::Model) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

pub async fn insert_message(db: &impl ConnectionTrait, row: m::Model) -> Result<(), StoreError> {
    let am: m::ActiveModel = row.into();
    m::Entity::insert(am).exec_without_returning(db).await?;
    Ok(())
}

/// Inserts many messages in one statement per chunk (bulk loads such as `yiqiao bench`; the send
/// path inserts one at a time through [`insert_message`]).
pub async fn insert_messages(db: &impl ConnectionTrait, rows: Vec<m::Model>) -> Result<(), StoreError> {
    // 9 columns × 1,000 rows stays under both engines' bind-parameter limits.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<m::ActiveModel> = rows.by_ref().take(1_000).map(Into::into).collect();
        m::Entity::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

/// The message a sender already sent with this client id (idempotent resend).
pub async fn find_by_client_id(
    db: &impl ConnectionTrait,
    consultation_id: &str,
    sender_id: &str,
    client_id: &str,
) -> Result<Option<m::Model>, StoreError> {
    Ok(m::Entity::find()
        .filter(m::Column::ConsultationId.eq(consultation_id))
        .filter(m::Column::SenderId.eq(sender_id))
        .filter(m::Column::ClientId.eq(client_id))
        .one(db)
        .await?)
}

/// Messages after `after_seq`, in order. The caller has already checked the scope.
pub async fn messages_after(
    db: &impl ConnectionTrait,
    consultation_id: &str,
    after_seq: i64,
    limit: u64,
) -> Result<Vec<m::Model>, StoreError> {
    Ok(m::Entity::find()
        .filter(m::Column::ConsultationId.eq(consultation_id))
        .filter(m::Column::Seq.gt(after_seq))
        .order_by_asc(m::Column::Seq)
        .limit(limit)
        .all(db)
        .await?)
}

/// Replaces the consultation's diagnoses with `rows` (sealed codes and their blind indexes, built
/// by the caller: the store holds no keys).
pub async fn set_diagnoses(
    db: &impl ConnectionTrait,
    consultation_id: &str,
    rows: Vec<d::Model>,
) -> Result<(), StoreError> {
    d::Entity::delete_many().filter(d::Column::ConsultationId.eq(consultation_id)).exec(db).await?;
    insert_diagnoses(db, rows).await
}

/// Inserts diagnosis rows; a code the consultation already has (same blind index) is skipped, so the
/// backlog conversion can run twice.
pub async fn insert_diagnoses(db: &impl ConnectionTrait, rows: Vec<d::Model>) -> Result<(), StoreError> {
    for chunk in rows.chunks(500) {
        d::Entity::insert_many(chunk.iter().cloned().map(IntoActiveModel::into_active_model))
            .on_conflict(OnConflict::columns([d::Column::ConsultationId, d::Column::CodeBidx]).do_nothing().to_owned())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The consultation's diagnosis rows (codes sealed; the caller opens and sorts them).
pub async fn diagnoses(db: &impl ConnectionTrait, consultation_id: &str) -> Result<Vec<d::Model>, StoreError> {
    Ok(d::Entity::find().filter(d::Column::ConsultationId.eq(consultation_id)).all(db).await?)
}

/// Raises a participant's delivered/read positions (never lowers them).
pub async fn mark_position(
    db: &impl ConnectionTrait,
    consultation_id: &str,
    user_id: &str,
    delivered: i64,
    read: i64,
) -> Result<r::Model, StoreError> {
    let existing = r::Entity::find_by_id((consultation_id.to_owned(), user_id.to_owned())).one(db).await?;
    let (old_d, old_r) = existing.as_ref().map_or((0, 0), |e| (e.delivered_seq, e.read_seq));
    let row = r::Model {
        consultation_id: consultation_id.to_owned(),
        user_id: user_id.to_owned(),
        delivered_seq: old_d.max(delivered).max(read),
        read_seq: old_r.max(read),
    };
    let am: r::ActiveModel = row.clone().into();
    r::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([r::Column::ConsultationId, r::Column::UserId])
                .update_columns([r::Column::DeliveredSeq, r::Column::ReadSeq])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

pub async fn positions(db: &impl ConnectionTrait, consultation_id: &str) -> Result<Vec<r::Model>, StoreError> {
    Ok(r::Entity::find().filter(r::Column::ConsultationId.eq(consultation_id)).all(db).await?)
}

/// All diagnoses of many consultations at once (list pages).
pub async fn diagnoses_of(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<d::Model>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(d::Entity::find().filter(d::Column::ConsultationId.is_in(ids.to_vec())).all(db).await?)
}

/// All consultations of the patient the scope grants (the doctor's history panel, A3).
pub async fn list_for_patient(
    db: &impl ConnectionTrait,
    scope: &crate::repo::scope::PatientScope,
) -> Result<Vec<c::Model>, StoreError> {
    Ok(c::Entity::find()
        .filter(c::Column::PatientId.eq(scope.patient_id()))
        .order_by_desc(c::Column::CreatedAt)
        .limit(100)
        .all(db)
        .await?)
}

/// The consultations of one patient that the scope may see, oldest first (the whole-record export, C3).
pub async fn list_scoped_for_patient(
    db: &impl ConnectionTrait,
    scope: &ConsultationScope,
    patient_id: &str,
) -> Result<Vec<c::Model>, StoreError> {
    Ok(c::Entity::find()
        .filter(c::Column::PatientId.eq(patient_id))
        .filter(visible(scope))
        .order_by_asc(c::Column::CreatedAt)
        .limit(200)
        .all(db)
        .await?)
}
