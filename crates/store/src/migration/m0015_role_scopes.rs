//! Roles are per institution (issue 11 item 1, B3/P1): a person may be a nurse at one hospital and an
//! institution admin at another, each role acting only where it was granted. The old key
//! `(user_id, role)` allowed one institution per role and let a later grant silently move it, so
//! the table is rebuilt keyed by `(user_id, role, institution_key)`, where `institution_key` is the
//! institution id or `''` for roles without one (patients, platform admins, auditors, doctors
//! before verification) — a primary key column cannot hold NULL.
//!
//! Sessions count wrong step-up answers (issue 11 item 12).
//!
//! Staff roles reach an account that does not already work at the institution only through an
//! invitation the account's owner accepts (`role_invitations`).

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, idx, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0015_role_scopes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("user_roles_scoped")
                .col(string("user_id"))
                .col(string("role"))
                .col(string_null("institution_id"))
                .col(string("institution_key"))
                .col(timestamp_with_time_zone("granted_at"))
                .primary_key(Index::create().col("user_id").col("role").col("institution_key"))
                .foreign_key(&mut fk("user_roles_scoped", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        // One script, so that copy, drop and rename run on one connection (SQLite pools several).
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO user_roles_scoped (user_id, role, institution_id, institution_key, granted_at) \
                 SELECT user_id, role, institution_id, COALESCE(institution_id, ''), granted_at FROM user_roles; \
                 DROP TABLE user_roles; \
                 ALTER TABLE user_roles_scoped RENAME TO user_roles;",
            )
            .await?;
        m.create_index(idx("user_roles_institution", "user_roles", &["institution_id", "role"], false)).await?;

        m.create_table(
            t("role_invitations")
                .col(string("id").primary_key())
                .col(string("institution_id"))
                .col(string("user_id"))
                .col(string("role"))
                .col(string("invited_by"))
                // `pending`, `accepted`, `declined`, `expired`.
                .col(string("status"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .foreign_key(&mut fk("role_invitations", "institution_id", "institutions"))
                .foreign_key(&mut fk("role_invitations", "user_id", "users"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("role_invitations_user", "role_invitations", &["user_id", "status"], false)).await?;
        m.create_index(idx("role_invitations_institution", "role_invitations", &["institution_id", "status"], false))
            .await?;
        // Issue 11 item 12: wrong step-up answers are counted per session, on every node alike.
        m.alter_table(Table::alter().table("sessions").add_column(integer("step_up_failures").default(0)).to_owned())
            .await
    }
}
