//! Blind-index search (C2): tokens are keyed hashes, so the index reveals no text. A search returns the
//! consultations the scope may see that hold every query token, filtered by date and diagnosis.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Alias, Expr, ExprTrait, OnConflict, Query},
};

use crate::{StoreError, entity::consultation as c, repo::scope::ConsultationScope};

/// Stores the hashed tokens of one text (a message, complaint or summary).
pub async fn index(
    db: &impl ConnectionTrait,
    consultation_id: &str,
    source_id: &str,
    hashed: &[String],
) -> Result<(), StoreError> {
    for chunk in hashed.chunks(200) {
        let mut q = Query::insert();
        q.into_table(Alias::new("search_tokens")).columns([
            Alias::new("token"),
            Alias::new("consultation_id"),
            Alias::new("source_id"),
        ]);
        for t in chunk {
            q.values([t.clone().into(), consultation_id.into(), source_id.into()]).map_err(|_| StoreError::Corrupt)?;
        }
        q.on_conflict(OnConflict::new().do_nothing().to_owned());
        db.execute(&q).await?;
    }
    Ok(())
}

/// Stores hashed tokens of many texts at once: `(consultation_id, source_id, token)` rows, as
/// [`index`] writes them one text at a time (bulk loads such as `yiqiao bench`).
pub async fn index_batch(db: &impl ConnectionTrait, rows: &[(String, String, String)]) -> Result<(), StoreError> {
    // 3 columns × 5,000 rows stays under both engines' bind-parameter limits.
    for chunk in rows.chunks(5_000) {
        let mut q = Query::insert();
        q.into_table(Alias::new("search_tokens")).columns([
            Alias::new("token"),
            Alias::new("consultation_id"),
            Alias::new("source_id"),
        ]);
        for (consultation_id, source_id, token) in chunk {
            q.values([token.clone().into(), consultation_id.clone().into(), source_id.clone().into()])
                .map_err(|_| StoreError::Corrupt)?;
        }
        q.on_conflict(OnConflict::new().do_nothing().to_owned());
        db.execute(&q).await?;
    }
    Ok(())
}

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Hashed tokens that must all be present.
    pub tokens: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The blind index of an ICD-10 code or category (e.g. `I10`, `E11`): matches that code, and
    /// every code of that category (issue 11 item 10: codes are sealed, only their indexes compare).
    pub icd_bidx: Option<String>,
    pub limit: u64,
}

pub async fn search(
    db: &impl ConnectionTrait,
    scope: &ConsultationScope,
    q: &SearchQuery,
) -> Result<Vec<c::Model>, StoreError> {
    // The caller's own consultations as patient, and those they are (or were) the doctor of.
    let mut visible = Condition::any().add(c::Column::DoctorId.eq(scope.user_id.clone()));
    if !scope.patient_ids.is_empty() {
        visible = visible.add(c::Column::PatientId.is_in(scope.patient_ids.clone()));
    }
    let mut find = c::Entity::find().filter(visible);
    // A correlated EXISTS per token probes the (token, consultation_id, …) primary key once per
    // visible consultation. `id IN (SELECT consultation_id … WHERE token = ?)` materialised every
    // row of the token first: for a common word over 1M messages, 250k rows per request.
    for t in &q.tokens {
        let sub = Query::select()
            .expr(Expr::val(1))
            .from_as(Alias::new("search_tokens"), Alias::new("st"))
            .and_where(Expr::col((Alias::new("st"), Alias::new("token"))).eq(t.clone()))
            .and_where(
                Expr::col((Alias::new("st"), Alias::new("consultation_id")))
                    .equals((Alias::new("consultations"), Alias::new("id"))),
            )
            .to_owned();
        find = find.filter(Expr::exists(sub));
    }
    if let Some(h) = q.icd_bidx.as_deref().filter(|s| !s.is_empty()) {
        let sub = Query::select()
            .column(Alias::new("consultation_id"))
            .from(Alias::new("consultation_diagnoses"))
            .cond_where(
                Condition::any()
                    .add(Expr::col(Alias::new("code_bidx")).eq(h.to_owned()))
                    .add(Expr::col(Alias::new("category_bidx")).eq(h.to_owned())),
            )
            .to_owned();
        find = find.filter(c::Column::Id.in_subquery(sub));
    }
    if let Some(from) = q.from {
        find = find.filter(c::Column::CreatedAt.gte(from));
    }
    if let Some(to) = q.to {
        find = find.filter(c::Column::CreatedAt.lt(to));
    }
    Ok(find.order_by_desc(c::Column::CreatedAt).limit(q.limit.clamp(1, 200)).all(db).await?)
}
