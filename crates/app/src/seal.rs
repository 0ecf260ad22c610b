//! Sealed clinical text (S1, issue 11 item 10): helpers for the columns sealed by migration m0016 —
//! notification texts, diagnosis codes, red-flag categories, plan titles/templates/lines, device and
//! task labels, alert rules, review reasons — and the start-up conversion of the plaintext values that
//! migration set aside.
//!
//! Every value is sealed under the AAD (table, column, row id), like other clinical text, so a blob
//! copied to another row or column does not open. Diagnosis codes are found again through keyed blind
//! indexes: the whole code (`E11.9`) and its category (`E11`), under one domain, so a search for a
//! category matches both the bare category code and every code under it.

use crypto::{Aad, KeyRing};
use store::{Store, entity::consultation_diagnosis as d, repo};

use crate::{App, AppError};

/// Blind-index domain of ICD-10 codes and categories.
const ICD_DOMAIN: &str = "icd10";

impl App {
    /// Seals a text value for (table, column, row).
    pub(crate) fn seal_str(&self, table: &str, column: &str, row_id: &str, text: &str) -> Result<Vec<u8>, AppError> {
        self.seal(table, column, row_id, text.as_bytes())
    }

    /// Opens a sealed text column that may be empty (`None` reads as "").
    pub(crate) fn open_opt(
        &self,
        table: &str,
        column: &str,
        row_id: &str,
        blob: Option<&[u8]>,
    ) -> Result<String, AppError> {
        blob.map_or_else(|| Ok(String::new()), |b| self.open_str(table, column, row_id, b))
    }
}

/// The blind index a diagnosis search compares: an ICD-10 code or category, normalised.
pub fn icd_bidx(keys: &KeyRing, code: &str) -> String {
    keys.blind_index(ICD_DOMAIN, code)
}

/// The category of a normalised ICD-10 code: the part before the dot (`E11.9` → `E11`).
fn category(code: &str) -> &str {
    code.split_once('.').map_or(code, |(c, _)| c)
}

/// Diagnosis rows for normalised `codes` of a consultation: each code sealed under its own row id,
/// with its blind indexes.
pub fn diagnosis_rows(keys: &KeyRing, consultation_id: &str, codes: &[String]) -> Result<Vec<d::Model>, AppError> {
    codes
        .iter()
        .map(|code| {
            let id = uuid::Uuid::now_v7().to_string();
            let aad = Aad { table: "consultation_diagnoses", column: "code_enc", row_id: &id };
            Ok(d::Model {
                code_enc: keys.encrypt(code.as_bytes(), &aad)?,
                code_bidx: icd_bidx(keys, code),
                category_bidx: icd_bidx(keys, category(code)),
                consultation_id: consultation_id.to_owned(),
                id,
            })
        })
        .collect()
}

/// The codes of diagnosis rows, opened and in code order.
pub(crate) fn diagnosis_codes(app: &App, rows: &[d::Model]) -> Result<Vec<String>, AppError> {
    let mut codes = rows
        .iter()
        .map(|r| app.open_str("consultation_diagnoses", "code_enc", &r.id, &r.code_enc))
        .collect::<Result<Vec<_>, _>>()?;
    codes.sort();
    Ok(codes)
}

/// A consultation's diagnosis codes, opened and in code order.
pub(crate) async fn diagnoses(
    app: &App,
    db: &impl sea_orm::ConnectionTrait,
    consultation_id: &str,
) -> Result<Vec<String>, AppError> {
    diagnosis_codes(app, &repo::consultation::diagnoses(db, consultation_id).await?)
}

/// Comma-separated codes or categories as one sealed value (corrections, red flags).
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Seals the plaintext values migration m0016 set aside (`seal_backlog`), `batch` per transaction;
/// each transaction writes the sealed values and deletes their backlog rows, so an interrupted run
/// resumes where it stopped and a finished one has nothing left to do. Returns how many were sealed.
/// Runs at start-up, before the server answers, so no reader meets a value not yet moved.
pub async fn convert_backlog(store: &Store, keys: &KeyRing, batch: u64) -> Result<u64, AppError> {
    let mut sealed = 0_u64;
    loop {
        let txn = store.begin_write().await?;
        let rows = repo::seal::batch(&txn, batch).await?;
        if rows.is_empty() {
            return Ok(sealed);
        }
        let mut diagnoses = Vec::new();
        for r in &rows {
            if (r.tbl.as_str(), r.col.as_str()) == ("consultation_diagnoses", "code_enc") {
                // Stored codes were normalised when written.
                diagnoses.extend(diagnosis_rows(keys, &r.row_id, std::slice::from_ref(&r.value))?);
            } else {
                let aad = Aad { table: &r.tbl, column: &r.col, row_id: &r.row_id };
                repo::seal::write(&txn, &r.tbl, &r.col, &r.row_id, keys.encrypt(r.value.as_bytes(), &aad)?).await?;
            }
        }
        repo::consultation::insert_diagnoses(&txn, diagnoses).await?;
        let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
        repo::seal::delete(&txn, &ids).await?;
        txn.commit().await.map_err(store::StoreError::from)?;
        sealed += rows.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn categories_are_the_code_before_the_dot() {
        assert_eq!(super::category("E11.9"), "E11");
        assert_eq!(super::category("I10"), "I10");
        assert_eq!(super::split_list("cardiac,,stroke"), vec!["cardiac", "stroke"]);
    }
}
