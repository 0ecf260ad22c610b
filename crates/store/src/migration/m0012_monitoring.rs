//! Chronic care, first part (D2, D4, D5): follow-up plans (who is responsible, what is measured,
//! alert thresholds), paired devices with their sealed secrets, readings (observations, values
//! sealed), and alerts that must be acknowledged.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, idx, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0012_monitoring"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("followup_plans")
                .col(string("id").primary_key())
                .col(string("patient_id"))
                .col(string("doctor_id"))
                // `hypertension`, `diabetes`, `custom`.
                .col(string("template"))
                .col(string("title"))
                // JSON: the reading kinds measured and how often (RFC 5545 rules).
                .col(text("measures"))
                // JSON: `domain::reading::Thresholds`.
                .col(text("thresholds"))
                // `active`, `ended`.
                .col(string("state"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("ended_at"))
                .foreign_key(&mut fk("followup_plans", "patient_id", "users"))
                .foreign_key(&mut fk("followup_plans", "doctor_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("followup_plans_patient", "followup_plans", &["patient_id", "state"], false)).await?;
        m.create_index(idx("followup_plans_doctor", "followup_plans", &["doctor_id", "state"], false)).await?;
        m.create_table(
            t("devices")
                // The maker's device id (what the device sends).
                .col(string("id").primary_key())
                .col(string("patient_id"))
                // `domain::reading::ReadingKind` it measures.
                .col(string("kind"))
                .col(string("label"))
                // The per-device secret, sealed: the server needs it to check MQTT payload HMACs.
                .col(blob("secret_enc"))
                .col(string("paired_by"))
                .col(timestamp_with_time_zone("paired_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .foreign_key(&mut fk("devices", "patient_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("devices_patient", "devices", &["patient_id"], false)).await?;
        m.create_table(
            t("observations")
                .col(string("id").primary_key())
                .col(string("patient_id"))
                .col(string("kind"))
                // LOINC code of the kind.
                .col(string("code"))
                // JSON `domain::reading::Reading`, sealed.
                .col(blob("values_enc"))
                .col(timestamp_with_time_zone("measured_at"))
                .col(timestamp_with_time_zone("received_at"))
                // `device` or `manual`.
                .col(string("source"))
                .col(string_null("device_id"))
                .col(string_null("reading_id"))
                .col(boolean("above_target"))
                .foreign_key(&mut fk("observations", "patient_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("observations_patient", "observations", &["patient_id", "kind", "measured_at"], false))
            .await?;
        m.create_index(idx("observations_reading", "observations", &["device_id", "reading_id"], true)).await?;
        m.create_table(
            t("alerts")
                .col(string("id").primary_key())
                .col(string("patient_id"))
                .col(string("plan_id"))
                .col(string("doctor_id"))
                .col(string("observation_id"))
                // `warning` or `urgent`.
                .col(string("severity"))
                .col(string("rule"))
                // `open`, `acknowledged`.
                .col(string("state"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("acknowledged_at"))
                .col(string_null("acknowledged_by"))
                .col(timestamp_with_time_zone_null("escalated_at"))
                .foreign_key(&mut fk("alerts", "observation_id", "observations"))
                .foreign_key(&mut fk("alerts", "plan_id", "followup_plans"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("alerts_doctor", "alerts", &["doctor_id", "state"], false)).await?;
        m.create_index(idx("alerts_patient", "alerts", &["patient_id", "created_at"], false)).await?;
        Ok(())
    }
}
