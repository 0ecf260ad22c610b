//! Moves encrypted columns forward to the active key after `yiqiao keys rotate` (S1).
//! Resumable: a per-column cursor in `app_meta` records the last primary key done. Idempotent: rows
//! already under the active key are skipped, so running twice changes nothing the second time.

use crypto::{Aad, KeyRing, key_id_of};
use sea_orm::{
    ConnectionTrait, DatabaseConnection,
    sea_query::{Alias, Expr, ExprTrait, Order, Query},
};

use crate::{StoreError, repo::meta};

/// Every encrypted column in the schema: (table, primary-key column, encrypted column).
/// A new encrypted column must be listed here, or rotation would leave it behind.
pub const ENCRYPTED_COLUMNS: &[(&str, &str, &str)] = &[
    ("users", "id", "display_name_enc"),
    ("users", "id", "phone_enc"),
    ("users", "id", "totp_secret_enc"),
    ("patient_profiles", "user_id", "real_name_enc"),
    ("patient_profiles", "user_id", "id_number_enc"),
    ("patient_profiles", "user_id", "birth_date_enc"),
    ("doctor_verifications", "id", "licence_number_enc"),
    ("files", "id", "data_enc"),
    ("consultations", "id", "complaint_enc"),
    ("consultations", "id", "prior_diagnosis_enc"),
    ("consultations", "id", "summary_enc"),
    ("consultations", "id", "rating_comment_enc"),
    ("consultation_messages", "id", "body_enc"),
    ("attachments", "id", "name_enc"),
    ("annotations", "attachment_id", "shapes_enc"),
    ("consultation_corrections", "id", "reason_enc"),
    ("consultation_corrections", "id", "summary_enc"),
    // Sealed since D5/E3/F3 but missing here, so rotation left them behind (found for issue 11).
    ("call_participants", "id", "name_enc"),
    ("devices", "id", "secret_enc"),
    ("observations", "id", "values_enc"),
    ("notification_prefs", "user_id", "email_enc"),
    // Issue 11 item 10.
    ("consultation_corrections", "id", "diagnoses_enc"),
    ("consultations", "id", "red_flags_enc"),
    ("consultation_diagnoses", "id", "code_enc"),
    ("notifications", "id", "title_enc"),
    ("notifications", "id", "body_enc"),
    ("followup_plans", "id", "template_enc"),
    ("followup_plans", "id", "title_enc"),
    ("followup_plans", "id", "measures_enc"),
    ("devices", "id", "label_enc"),
    ("care_tasks", "id", "label_enc"),
    ("alerts", "id", "rule_enc"),
    ("doctor_verifications", "id", "review_reason_enc"),
];

/// Outcome of one pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReencryptStats {
    pub scanned: u64,
    pub rewritten: u64,
}

/// Re-encrypts up to `batch` rows per transaction until every column is done.
pub async fn run(store: &crate::Store, keys: &KeyRing, batch: u64) -> Result<ReencryptStats, StoreError> {
    let db = &store.db;
    let mut stats = ReencryptStats::default();
    let active = keys.active_key_id();
    for (table, pk, col) in ENCRYPTED_COLUMNS {
        let cursor_key = format!("reencrypt:{active}:{table}.{col}");
        let mut cursor = meta::find(db, &cursor_key).await?.unwrap_or_default();
        loop {
            let q = Query::select()
                .column(Alias::new(*pk))
                .column(Alias::new(*col))
                .from(Alias::new(*table))
                .and_where(Expr::col(Alias::new(*pk)).gt(cursor.clone()))
                .and_where(Expr::col(Alias::new(*col)).is_not_null())
                .order_by(Alias::new(*pk), Order::Asc)
                .limit(batch)
                .to_owned();
            let txn = store.begin_write().await?;
            let rows = txn.query_all(&q).await?;
            let n = rows.len() as u64;
            for row in rows {
                let id: String = row.try_get("", pk)?;
                let blob: Vec<u8> = row.try_get("", col)?;
                stats.scanned += 1;
                cursor.clone_from(&id);
                if key_id_of(&blob)? == active {
                    continue;
                }
                let aad = Aad { table, column: col, row_id: &id };
                let plain = keys.decrypt(&blob, &aad)?;
                let fresh = keys.encrypt(&plain, &aad)?;
                let upd = Query::update()
                    .table(Alias::new(*table))
                    .value(Alias::new(*col), fresh)
                    .and_where(Expr::col(Alias::new(*pk)).eq(id.clone()))
                    .to_owned();
                txn.execute(&upd).await?;
                stats.rewritten += 1;
            }
            meta::put(&txn, &cursor_key, &cursor).await?;
            txn.commit().await?;
            if n < batch {
                break;
            }
        }
    }
    Ok(stats)
}

/// How many encrypted values are not yet under the active key (for `yiqiao keys` status).
pub async fn pending(db: &DatabaseConnection, keys: &KeyRing) -> Result<u64, StoreError> {
    let active = keys.active_key_id();
    let mut n = 0;
    for (table, _pk, col) in ENCRYPTED_COLUMNS {
        let q = Query::select()
            .column(Alias::new(*col))
            .from(Alias::new(*table))
            .and_where(Expr::col(Alias::new(*col)).is_not_null())
            .to_owned();
        for row in db.query_all(&q).await? {
            let blob: Vec<u8> = row.try_get("", col)?;
            if key_id_of(&blob)? != active {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Whether the database holds any encrypted value at all (then a missing key ring is fatal).
pub async fn any_encrypted(db: &DatabaseConnection) -> Result<bool, StoreError> {
    let q = Query::select().expr(Expr::cust("1")).from(Alias::new("users")).limit(1).to_owned();
    Ok(db.query_one(&q).await?.is_some())
}
