//! Chronic care, second part (D1, D2, E3): institution-edited plan templates, the tasks a plan's
//! recurrence rules produce (readings to take, follow-up visits) with their completion, and
//! notifications with one delivery row per channel (in-app, e-mail, SMS) and each user's channel
//! choices and quiet hours.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, idx, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0013_care"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("plan_templates")
                .col(string("id").primary_key())
                .col(string("institution_id"))
                // `hypertension`, `diabetes`.
                .col(string("key"))
                .col(string("title"))
                // JSON: what is measured and how often (RFC 5545 rules), and the follow-up visits.
                .col(text("measures"))
                // JSON: `domain::reading::Thresholds`.
                .col(text("thresholds"))
                .col(string("updated_by"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("plan_templates", "institution_id", "institutions"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("plan_templates_key", "plan_templates", &["institution_id", "key"], true)).await?;
        m.create_table(
            t("care_tasks")
                .col(string("id").primary_key())
                .col(string("plan_id"))
                .col(string("patient_id"))
                .col(string("doctor_id"))
                // Index of the plan's measure this task comes from.
                .col(integer("slot"))
                // `reading` (the patient measures) or `visit` (the doctor reviews).
                .col(string("kind"))
                // The reading kind, or empty for visits.
                .col(string("measure"))
                .col(string_null("context"))
                .col(string("label"))
                .col(timestamp_with_time_zone("due_at"))
                // After this the task is missed (the next occurrence, or a grace period for visits).
                .col(timestamp_with_time_zone("close_at"))
                // `pending`, `done` (on time), `late`, `missed`, `cancelled`.
                .col(string("state"))
                .col(timestamp_with_time_zone_null("completed_at"))
                .col(string_null("observation_id"))
                .col(string_null("consultation_id"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("care_tasks", "plan_id", "followup_plans"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("care_tasks_occurrence", "care_tasks", &["plan_id", "slot", "due_at"], true)).await?;
        m.create_index(idx("care_tasks_patient", "care_tasks", &["patient_id", "state", "due_at"], false)).await?;
        m.create_index(idx("care_tasks_doctor", "care_tasks", &["doctor_id", "kind", "state"], false)).await?;
        m.create_table(
            t("notifications")
                .col(string("id").primary_key())
                .col(string("user_id"))
                // What it is about: `task.reminder`, `visit.due`, `alert`, …
                .col(string("kind"))
                .col(string("title"))
                .col(text("body"))
                .col(string_null("link"))
                // Urgent clinical alerts ignore quiet hours.
                .col(boolean("urgent"))
                // The task / alert / consultation it is about.
                .col(string_null("subject_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("read_at"))
                .foreign_key(&mut fk("notifications", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("notifications_user", "notifications", &["user_id", "created_at"], false)).await?;
        m.create_table(
            t("notification_deliveries")
                .col(string("id").primary_key())
                .col(string("notification_id"))
                .col(string("user_id"))
                // `inapp`, `email`, `sms`.
                .col(string("channel"))
                // `pending`, `sent`, `delivered`, `read`, `failed`.
                .col(string("state"))
                .col(integer("attempts"))
                // When the next attempt may run (quiet hours and back-off move it).
                .col(timestamp_with_time_zone("next_at"))
                // A worker's claim while it talks to the provider (crash → the claim lapses).
                .col(timestamp_with_time_zone_null("lease_until"))
                .col(string_null("last_error"))
                .col(string_null("external_id"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .col(timestamp_with_time_zone_null("delivered_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("notification_deliveries", "notification_id", "notifications"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("deliveries_due", "notification_deliveries", &["state", "next_at"], false)).await?;
        m.create_index(idx("deliveries_notification", "notification_deliveries", &["notification_id"], false)).await?;
        m.create_index(idx("deliveries_channel", "notification_deliveries", &["channel", "created_at"], false)).await?;
        m.create_table(
            t("notification_prefs")
                .col(string("user_id").primary_key())
                // JSON list of channels besides in-app (always on): `email`, `sms`.
                .col(text("channels"))
                .col(blob_null("email_enc"))
                // Minutes after local midnight; both null = no quiet hours.
                .col(integer_null("quiet_start"))
                .col(integer_null("quiet_end"))
                // IANA zone, default Asia/Shanghai.
                .col(string("time_zone"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("notification_prefs", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
