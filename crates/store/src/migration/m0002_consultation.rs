//! Online consultations (A1–A7, C1): consultations, their messages (encrypted bodies, idempotent by
//! client id, gap-free per-consultation sequence), diagnoses, read positions, and the admin-editable
//! red-flag lexicon.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, idx, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0002_consultation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("consultations")
                .col(string("id").primary_key())
                .col(string("patient_id"))
                .col(string_null("doctor_id"))
                .col(string_null("department_id"))
                .col(string("institution_id"))
                .col(string("status"))
                .col(string("kind"))
                .col(boolean("priority"))
                .col(blob("complaint_enc"))
                .col(blob_null("prior_diagnosis_enc"))
                .col(string("red_flags"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("first_response_due_at"))
                .col(timestamp_with_time_zone_null("first_response_at"))
                .col(string_null("first_responder_id"))
                .col(timestamp_with_time_zone_null("escalated_at"))
                .col(timestamp_with_time_zone_null("closed_at"))
                .col(blob_null("summary_enc"))
                .col(integer_null("rating"))
                .col(blob_null("rating_comment_enc"))
                .col(timestamp_with_time_zone_null("rated_at"))
                .col(big_integer("last_seq"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("consultations", "patient_id", "users"))
                .foreign_key(&mut fk("consultations", "institution_id", "institutions"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("ix_consult_patient", "consultations", &["patient_id", "created_at"], false)).await?;
        m.create_index(idx("ix_consult_doctor", "consultations", &["doctor_id", "status"], false)).await?;
        m.create_index(idx(
            "ix_consult_queue",
            "consultations",
            &["department_id", "status", "first_response_due_at"],
            false,
        ))
        .await?;
        m.create_table(
            t("consultation_messages")
                .col(string("id").primary_key())
                .col(string("consultation_id"))
                .col(big_integer("seq"))
                .col(string("sender_id"))
                .col(string("sender_role"))
                .col(string("client_id"))
                .col(string("kind"))
                .col(blob("body_enc"))
                .col(timestamp_with_time_zone("sent_at"))
                .foreign_key(&mut fk("consultation_messages", "consultation_id", "consultations"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("ux_msg_seq", "consultation_messages", &["consultation_id", "seq"], true)).await?;
        m.create_index(idx(
            "ux_msg_client",
            "consultation_messages",
            &["consultation_id", "sender_id", "client_id"],
            true,
        ))
        .await?;
        m.create_table(
            t("consultation_diagnoses")
                .col(string("consultation_id"))
                .col(string("code"))
                .primary_key(Index::create().col("consultation_id").col("code"))
                .foreign_key(&mut fk("consultation_diagnoses", "consultation_id", "consultations"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("ix_diag_code", "consultation_diagnoses", &["code"], false)).await?;
        m.create_table(
            t("consultation_reads")
                .col(string("consultation_id"))
                .col(string("user_id"))
                .col(big_integer("delivered_seq"))
                .col(big_integer("read_seq"))
                .primary_key(Index::create().col("consultation_id").col("user_id"))
                .foreign_key(&mut fk("consultation_reads", "consultation_id", "consultations"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            t("red_flag_terms")
                .col(string("term").primary_key())
                .col(string("category"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
