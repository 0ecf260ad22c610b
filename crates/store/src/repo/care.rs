//! Chronic care, second part (D1, D2, E3): plan templates, care tasks and notifications with their
//! deliveries and preferences. Access is checked in `app`; these functions only move rows.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::OnConflict,
};

use crate::{
    StoreError, dialect,
    entity::{
        care_task as t, notification as n, notification_delivery as d, notification_pref as p, plan_template as pt,
    },
};

// --- Plan templates -------------------------------------------------------------------------------

pub async fn template(
    db: &impl ConnectionTrait,
    institution_id: &str,
    key: &str,
) -> Result<Option<pt::Model>, StoreError> {
    Ok(pt::Entity::find()
        .filter(pt::Column::InstitutionId.eq(institution_id))
        .filter(pt::Column::Key.eq(key))
        .one(db)
        .await?)
}

/// Inserts or replaces an institution's template.
pub async fn save_template(db: &impl ConnectionTrait, row: pt::Model) -> Result<(), StoreError> {
    pt::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::columns([pt::Column::InstitutionId, pt::Column::Key])
                .update_columns([
                    pt::Column::Title,
                    pt::Column::Measures,
                    pt::Column::Thresholds,
                    pt::Column::UpdatedBy,
                    pt::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

// --- Care tasks -----------------------------------------------------------------------------------

/// Inserts a task unless its occurrence (plan, slot, due time) exists; returns whether it was added.
pub async fn insert_task(db: &impl ConnectionTrait, row: t::Model) -> Result<bool, StoreError> {
    let res = t::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::columns([t::Column::PlanId, t::Column::Slot, t::Column::DueAt]).do_nothing().to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(res > 0)
}

/// Several tasks at once (bulk reminders).
pub async fn tasks_by_ids(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<t::Model>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(t::Entity::find().filter(t::Column::Id.is_in(ids.iter().cloned())).all(db).await?)
}

pub async fn task(db: &impl ConnectionTrait, id: &str) -> Result<Option<t::Model>, StoreError> {
    Ok(t::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn lock_task(txn: &DatabaseTransaction, id: &str) -> Result<Option<t::Model>, StoreError> {
    dialect::find_for_update::<t::Entity>(txn, id.to_owned()).await
}

pub async fn update_task(db: &impl ConnectionTrait, row: t::Model) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

/// A patient's pending reading tasks of `measure` whose window holds `at` (due − `early` … close).
pub async fn open_reading_tasks(
    db: &impl ConnectionTrait,
    patient_id: &str,
    measure: &str,
    at: DateTime<Utc>,
    early: chrono::Duration,
) -> Result<Vec<t::Model>, StoreError> {
    Ok(t::Entity::find()
        .filter(t::Column::PatientId.eq(patient_id))
        .filter(t::Column::Kind.eq("reading"))
        .filter(t::Column::Measure.eq(measure))
        .filter(t::Column::State.eq("pending"))
        .filter(t::Column::DueAt.lte(at + early))
        .filter(t::Column::CloseAt.gt(at))
        .order_by_asc(t::Column::DueAt)
        .all(db)
        .await?)
}

/// A patient's tasks due in `[from, to)`, soonest first.
pub async fn tasks_of_patient(
    db: &impl ConnectionTrait,
    patient_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<t::Model>, StoreError> {
    Ok(t::Entity::find()
        .filter(t::Column::PatientId.eq(patient_id))
        .filter(t::Column::DueAt.gte(from))
        .filter(t::Column::DueAt.lt(to))
        .order_by_asc(t::Column::DueAt)
        .limit(2000)
        .all(db)
        .await?)
}

/// A doctor's pending follow-up visits due by `until`, soonest first.
pub async fn due_visits(
    db: &impl ConnectionTrait,
    doctor_id: &str,
    until: DateTime<Utc>,
) -> Result<Vec<t::Model>, StoreError> {
    Ok(t::Entity::find()
        .filter(t::Column::DoctorId.eq(doctor_id))
        .filter(t::Column::Kind.eq("visit"))
        .filter(t::Column::State.eq("pending"))
        .filter(t::Column::DueAt.lte(until))
        .order_by_asc(t::Column::DueAt)
        .limit(200)
        .all(db)
        .await?)
}

/// Pending tasks of a plan (to cancel them when it ends).
pub async fn pending_tasks_of_plan(db: &impl ConnectionTrait, plan_id: &str) -> Result<Vec<t::Model>, StoreError> {
    Ok(t::Entity::find().filter(t::Column::PlanId.eq(plan_id)).filter(t::Column::State.eq("pending")).all(db).await?)
}

/// Counts of closed tasks by state (`done`, `late`, `missed`) for one plan or for the plans of an
/// institution's doctors (`plans` = their ids), due in `[from, to)`.
pub async fn completion_counts(
    db: &impl ConnectionTrait,
    plan_ids: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, StoreError> {
    if plan_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, i64)> = t::Entity::find()
        .select_only()
        .column(t::Column::State)
        .column_as(t::Column::Id.count(), "n")
        .filter(t::Column::PlanId.is_in(plan_ids.iter().cloned()))
        .filter(t::Column::DueAt.gte(from))
        .filter(t::Column::DueAt.lt(to))
        .filter(t::Column::State.is_in(["done", "late", "missed"]))
        .group_by(t::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows)
}

// --- Notifications --------------------------------------------------------------------------------

/// Inserts notifications in multi-row statements.
pub async fn insert_notifications(db: &impl ConnectionTrait, rows: Vec<n::Model>) -> Result<(), StoreError> {
    for chunk in rows.chunks(200) {
        n::Entity::insert_many(chunk.iter().cloned().map(IntoActiveModel::into_active_model))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub async fn notification(db: &impl ConnectionTrait, id: &str) -> Result<Option<n::Model>, StoreError> {
    Ok(n::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn update_notification(db: &impl ConnectionTrait, row: n::Model) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

/// A user's notifications, newest first (`before` pages back).
pub async fn inbox(
    db: &impl ConnectionTrait,
    user_id: &str,
    before: Option<DateTime<Utc>>,
    limit: u64,
) -> Result<Vec<n::Model>, StoreError> {
    let mut q = n::Entity::find().filter(n::Column::UserId.eq(user_id));
    if let Some(b) = before {
        q = q.filter(n::Column::CreatedAt.lt(b));
    }
    Ok(q.order_by_desc(n::Column::CreatedAt).order_by_desc(n::Column::Id).limit(limit).all(db).await?)
}

pub async fn unread_count(db: &impl ConnectionTrait, user_id: &str) -> Result<u64, StoreError> {
    Ok(n::Entity::find().filter(n::Column::UserId.eq(user_id)).filter(n::Column::ReadAt.is_null()).count(db).await?)
}

/// Inserts deliveries in multi-row statements.
pub async fn insert_deliveries(db: &impl ConnectionTrait, rows: Vec<d::Model>) -> Result<(), StoreError> {
    for chunk in rows.chunks(200) {
        d::Entity::insert_many(chunk.iter().cloned().map(IntoActiveModel::into_active_model))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub async fn deliveries_of(db: &impl ConnectionTrait, notification_id: &str) -> Result<Vec<d::Model>, StoreError> {
    Ok(d::Entity::find().filter(d::Column::NotificationId.eq(notification_id)).all(db).await?)
}

pub async fn delivery(db: &impl ConnectionTrait, id: &str) -> Result<Option<d::Model>, StoreError> {
    Ok(d::Entity::find_by_id(id.to_owned()).one(db).await?)
}

pub async fn lock_delivery(txn: &DatabaseTransaction, id: &str) -> Result<Option<d::Model>, StoreError> {
    dialect::find_for_update::<d::Entity>(txn, id.to_owned()).await
}

pub async fn update_delivery(db: &impl ConnectionTrait, row: d::Model) -> Result<(), StoreError> {
    row.into_active_model().reset_all().update(db).await?;
    Ok(())
}

/// SMS deliveries to `user_id` planned strictly between `from` and `to`, leaving out those the
/// hourly cap held back (issue 11 item 16).
pub async fn sms_planned_between(
    db: &impl ConnectionTrait,
    user_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<u64, StoreError> {
    Ok(d::Entity::find()
        .filter(d::Column::UserId.eq(user_id))
        .filter(d::Column::Channel.eq("sms"))
        .filter(d::Column::NextAt.gt(from))
        .filter(d::Column::NextAt.lt(to))
        .filter(d::Column::State.ne("skipped"))
        .count(db)
        .await?)
}

/// Outbound deliveries due at `now` that no worker holds, locked until `txn` ends (at most `limit`).
pub async fn claim_deliveries(
    txn: &DatabaseTransaction,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<d::Model>, StoreError> {
    let q = d::Entity::find()
        .filter(d::Column::State.eq("pending"))
        .filter(d::Column::NextAt.lte(now))
        .filter(Condition::any().add(d::Column::LeaseUntil.is_null()).add(d::Column::LeaseUntil.lte(now)))
        .order_by_asc(d::Column::NextAt)
        .limit(limit);
    Ok(dialect::skip_locked(q, txn.get_database_backend()).all(txn).await?)
}

/// When the next pending outbound delivery is due.
pub async fn next_delivery_due(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(d::Entity::find()
        .filter(d::Column::State.eq("pending"))
        .order_by_asc(d::Column::NextAt)
        .one(db)
        .await?
        .map(|r| r.lease_until.map_or(r.next_at, |l| l.max(r.next_at))))
}

/// The delivery an SMS gateway's receipt is about.
pub async fn delivery_by_external(
    db: &impl ConnectionTrait,
    channel: &str,
    external_id: &str,
) -> Result<Option<d::Model>, StoreError> {
    Ok(d::Entity::find()
        .filter(d::Column::Channel.eq(channel))
        .filter(d::Column::ExternalId.eq(external_id))
        .one(db)
        .await?)
}

/// Deliveries per channel and state created in `[from, to)`: the reach rate's inputs.
/// `users`: only deliveries to these people (an institution's share); `None`: everyone's.
pub async fn delivery_counts(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    users: Option<&[String]>,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let mut q = d::Entity::find();
    if let Some(users) = users {
        q = q.filter(d::Column::UserId.is_in(users.iter().cloned()));
    }
    Ok(q.select_only()
        .column(d::Column::Channel)
        .column(d::Column::State)
        .column_as(d::Column::Id.count(), "n")
        .filter(d::Column::CreatedAt.gte(from))
        .filter(d::Column::CreatedAt.lt(to))
        .group_by(d::Column::Channel)
        .group_by(d::Column::State)
        .into_tuple()
        .all(db)
        .await?)
}

// --- Preferences ----------------------------------------------------------------------------------

pub async fn prefs(db: &impl ConnectionTrait, user_id: &str) -> Result<Option<p::Model>, StoreError> {
    Ok(p::Entity::find_by_id(user_id.to_owned()).one(db).await?)
}

/// Several users' preferences at once.
pub async fn prefs_many(db: &impl ConnectionTrait, user_ids: &[String]) -> Result<Vec<p::Model>, StoreError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(p::Entity::find().filter(p::Column::UserId.is_in(user_ids.iter().cloned())).all(db).await?)
}

pub async fn save_prefs(db: &impl ConnectionTrait, row: p::Model) -> Result<(), StoreError> {
    p::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::column(p::Column::UserId)
                .update_columns([
                    p::Column::Channels,
                    p::Column::EmailEnc,
                    p::Column::QuietStart,
                    p::Column::QuietEnd,
                    p::Column::TimeZone,
                    p::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
