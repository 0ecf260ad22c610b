//! Issue 11 item 10 (S1): clinical text that sat in clear — notification titles and bodies,
//! diagnosis codes (with and after corrections), red-flag categories, plan titles, templates and
//! lines, device and task labels, alert rules, verification review reasons — moves to sealed `_enc`
//! columns; diagnosis codes become searchable through keyed blind indexes only.
//!
//! A migration has no keys, so it cannot seal. It moves every existing plaintext value into
//! `seal_backlog` (table, destination column, row id, value) and drops the plaintext column; the
//! first start that holds the key ring seals the backlog into the new columns and deletes each
//! backlog row in the same transaction (`app::seal::convert_backlog`), so the plaintext lives on only
//! in that table, and only until then. Each step checks the schema first, so a migration
//! interrupted on SQLite (no transactional DDL there) can run again.
//!
//! Also: an index on `audit_events (action, seq)`, so start-up finds the audit genesis (issue 11
//! item 9) without scanning the log.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, idx, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0016_seal_clinical_text"
    }
}

/// (table, primary key, plaintext column, sealed column that replaces it).
const MOVED: &[(&str, &str, &str, &str)] = &[
    ("notifications", "id", "title", "title_enc"),
    ("notifications", "id", "body", "body_enc"),
    ("consultations", "id", "red_flags", "red_flags_enc"),
    ("consultation_corrections", "id", "diagnoses", "diagnoses_enc"),
    ("followup_plans", "id", "template", "template_enc"),
    ("followup_plans", "id", "title", "title_enc"),
    ("followup_plans", "id", "measures", "measures_enc"),
    ("devices", "id", "label", "label_enc"),
    ("care_tasks", "id", "label", "label_enc"),
    ("alerts", "id", "rule", "rule_enc"),
    ("doctor_verifications", "id", "review_reason", "review_reason_enc"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("seal_backlog")
                .col(pk_auto("id"))
                .col(string("tbl"))
                .col(string("col"))
                .col(string("row_id"))
                .col(text("value"))
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        for (table, pk, plain, sealed) in MOVED {
            if !m.has_column(table, sealed).await? {
                m.alter_table(Table::alter().table(*table).add_column(blob_null(*sealed)).to_owned()).await?;
            }
            if m.has_column(table, plain).await? {
                db.execute_unprepared(&format!(
                    "INSERT INTO seal_backlog (tbl, col, row_id, value) SELECT '{table}', '{sealed}', {pk}, {plain} \
                     FROM {table} WHERE {plain} IS NOT NULL AND {plain} <> ''"
                ))
                .await?;
                m.alter_table(Table::alter().table(*table).drop_column(*plain).to_owned()).await?;
            }
        }
        // Diagnosis codes were part of the primary key: the table is rebuilt with a row id, the sealed
        // code and its blind indexes (whole code, and the category before the dot for prefix search).
        if m.has_column("consultation_diagnoses", "code").await? {
            db.execute_unprepared(
                "INSERT INTO seal_backlog (tbl, col, row_id, value) \
                 SELECT 'consultation_diagnoses', 'code_enc', consultation_id, code FROM consultation_diagnoses",
            )
            .await?;
            m.drop_table(Table::drop().table("consultation_diagnoses").to_owned()).await?;
        }
        m.create_table(
            t("consultation_diagnoses")
                .col(string("id").primary_key())
                .col(string("consultation_id"))
                .col(blob("code_enc"))
                .col(string("code_bidx"))
                .col(string("category_bidx"))
                .foreign_key(&mut fk("consultation_diagnoses", "consultation_id", "consultations"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("ux_diagnosis_code", "consultation_diagnoses", &["consultation_id", "code_bidx"], true))
            .await?;
        m.create_index(idx("ix_diagnosis_code_bidx", "consultation_diagnoses", &["code_bidx"], false)).await?;
        m.create_index(idx("ix_diagnosis_category_bidx", "consultation_diagnoses", &["category_bidx"], false)).await?;
        m.create_index(idx("ix_audit_action", "audit_events", &["action", "seq"], false)).await
    }
}
