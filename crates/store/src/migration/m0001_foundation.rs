//! Foundation schema (P1 institutions, B1–B3 identity, S1 encrypted columns, S3 audit chain).
//! Columns ending in `_enc` hold `crypto` blobs; `_bidx` columns hold blind indexes (keyed HMAC),
//! never plaintext.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, idx, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0001_foundation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("institutions")
                .col(string("id").primary_key())
                .col(string("name_zh"))
                .col(string("name_en"))
                .col(string("kind"))
                .col(integer("tier"))
                .col(string("region_code"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            t("departments")
                .col(string("id").primary_key())
                .col(string("institution_id"))
                .col(string("code"))
                .col(string("name_zh"))
                .col(string("name_en"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("departments", "institution_id", "institutions"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("ux_departments_code", "departments", &["institution_id", "code"], true)).await?;
        m.create_table(
            t("users")
                .col(string("id").primary_key())
                .col(string_uniq("login"))
                .col(string("password_hash"))
                .col(blob("display_name_enc"))
                .col(blob_null("phone_enc"))
                .col(string_null("phone_bidx"))
                .col(string("locale"))
                .col(blob_null("totp_secret_enc"))
                .col(boolean("totp_enabled"))
                .col(big_integer_null("totp_last_step"))
                .col(integer("failed_logins"))
                .col(timestamp_with_time_zone_null("locked_until"))
                .col(string("status"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("ux_users_phone_bidx", "users", &["phone_bidx"], true)).await?;
        m.create_table(
            t("user_roles")
                .col(string("user_id"))
                .col(string("role"))
                .col(string_null("institution_id"))
                .col(timestamp_with_time_zone("granted_at"))
                .primary_key(Index::create().col("user_id").col("role"))
                .foreign_key(&mut fk("user_roles", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            t("patient_profiles")
                .col(string("user_id").primary_key())
                .col(blob("real_name_enc"))
                .col(string("id_kind"))
                .col(blob("id_number_enc"))
                .col(string_uniq("id_bidx"))
                .col(blob("birth_date_enc"))
                .col(string_null("sex"))
                .col(string_null("guardian_user_id"))
                .col(timestamp_with_time_zone("verified_at"))
                .foreign_key(&mut fk("patient_profiles", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            t("files")
                .col(string("id").primary_key())
                .col(string("owner_user_id"))
                .col(string("purpose"))
                .col(string("content_type"))
                .col(big_integer("size_bytes"))
                .col(blob("data_enc"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("files", "owner_user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            t("doctor_verifications")
                .col(string("id").primary_key())
                .col(string("user_id"))
                .col(blob("licence_number_enc"))
                .col(string("licence_bidx"))
                .col(string("title"))
                .col(string("institution_id"))
                .col(string("department_id"))
                .col(string("specialties"))
                .col(string("licence_file_id"))
                .col(string("employment_file_id"))
                .col(string("status"))
                .col(string_null("reviewer_id"))
                .col(string_null("review_reason"))
                .col(timestamp_with_time_zone("submitted_at"))
                .col(timestamp_with_time_zone_null("reviewed_at"))
                .foreign_key(&mut fk("doctor_verifications", "user_id", "users"))
                .foreign_key(&mut fk("doctor_verifications", "institution_id", "institutions"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("ix_verif_status", "doctor_verifications", &["status", "submitted_at"], false)).await?;
        m.create_index(idx("ix_verif_user", "doctor_verifications", &["user_id"], false)).await?;
        m.create_table(
            t("sessions")
                .col(string("id").primary_key())
                .col(string_uniq("token_hash"))
                .col(string("user_id"))
                .col(string("csrf_token"))
                .col(string("kind"))
                .col(boolean("second_factor"))
                .col(timestamp_with_time_zone_null("step_up_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("last_seen_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .foreign_key(&mut fk("sessions", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            t("consents")
                .col(string("id").primary_key())
                .col(string("user_id"))
                .col(string("kind"))
                .col(string("version"))
                .col(timestamp_with_time_zone("granted_at"))
                .col(timestamp_with_time_zone_null("withdrawn_at"))
                .foreign_key(&mut fk("consents", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            t("audit_events")
                .col(big_integer("seq").primary_key())
                .col(string("id"))
                .col(timestamp_with_time_zone("at"))
                .col(string_null("actor_user_id"))
                .col(string_null("actor_role"))
                .col(string("action"))
                .col(string_null("subject_patient_id"))
                .col(string_null("resource"))
                .col(string("outcome"))
                .col(string_null("client_addr"))
                .col(string_null("request_id"))
                .col(string("prev_hash"))
                .col(string("hash"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("ix_audit_subject", "audit_events", &["subject_patient_id", "seq"], false)).await?;
        m.create_index(idx("ix_audit_actor", "audit_events", &["actor_user_id", "seq"], false)).await?;
        m.create_table(
            t("audit_head")
                .col(integer("id").primary_key())
                .col(big_integer("seq"))
                .col(string("hash"))
                .col(string("mac"))
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, 0, '{}', '')",
                "0".repeat(64)
            ))
            .await?;
        m.create_table(t("app_meta").col(string("key").primary_key()).col(string("value")).to_owned()).await?;
        Ok(())
    }
}
