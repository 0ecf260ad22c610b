//! Multi-party call rooms (F3): who is in a call (users and guests with a one-time link), their
//! consent to recording, and the recordings themselves, stored as encrypted chunks uploaded while
//! the call runs.

#![allow(clippy::wildcard_imports, reason = "migration DSL: the prelude and schema helpers are used throughout")]

use sea_orm_migration::{prelude::*, schema::*};

use super::dsl::{fk, idx, t};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m0011_call_rooms"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            t("call_participants")
                .col(string("id").primary_key())
                .col(string("call_id"))
                // The user's id, or `guest-<hex>` for a guest.
                .col(string("participant_id"))
                .col(string_null("user_id"))
                // A guest's name as the doctor typed it, sealed.
                .col(blob_null("name_enc"))
                .col(string("role"))
                .col(string("state"))
                .col(string("invited_by"))
                .col(timestamp_with_time_zone("invited_at"))
                .col(timestamp_with_time_zone_null("joined_at"))
                .col(timestamp_with_time_zone_null("left_at"))
                .col(string_null("consent"))
                .col(timestamp_with_time_zone_null("consent_at"))
                .col(string_null("token_hash"))
                .col(timestamp_with_time_zone_null("token_expires_at"))
                .col(timestamp_with_time_zone_null("token_used_at"))
                .col(string_null("secret_hash"))
                .col(string_null("csrf"))
                .foreign_key(&mut fk("call_participants", "call_id", "calls"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("call_participants_member", "call_participants", &["call_id", "participant_id"], true))
            .await?;
        m.create_index(idx("call_participants_user", "call_participants", &["user_id", "state"], false)).await?;
        m.create_index(idx("call_participants_token", "call_participants", &["token_hash"], true)).await?;
        m.create_index(idx("call_participants_secret", "call_participants", &["secret_hash"], true)).await?;
        m.alter_table(
            Table::alter()
                .table("calls")
                .add_column(ColumnDef::new("recording_requested_at").timestamp_with_time_zone().null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            t("call_recordings")
                .col(string("id").primary_key())
                .col(string("call_id"))
                .col(string("consultation_id"))
                .col(string("started_by"))
                // `recording`, `complete`, `purged`.
                .col(string("state"))
                .col(string("content_type"))
                .col(timestamp_with_time_zone("started_at"))
                .col(timestamp_with_time_zone_null("ended_at"))
                .col(big_integer("size_bytes"))
                .col(integer("chunks"))
                .col(timestamp_with_time_zone("retain_until"))
                .foreign_key(&mut fk("call_recordings", "call_id", "calls"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("call_recordings_call", "call_recordings", &["call_id"], false)).await?;
        m.create_table(
            t("call_recording_chunks")
                .col(string("id").primary_key())
                .col(string("recording_id"))
                .col(integer("seq"))
                .col(string("blob_key"))
                .col(big_integer("size_bytes"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("call_recording_chunks", "recording_id", "call_recordings"))
                .to_owned(),
        )
        .await?;
        m.create_index(idx("call_recording_chunks_seq", "call_recording_chunks", &["recording_id", "seq"], true))
            .await?;
        // Calls made before rooms existed: their caller (host) and callee become participants.
        let db = m.get_connection();
        for (who, role, state) in [
            ("caller_id", "'host'", "CASE WHEN state IN ('ringing', 'active') THEN 'joined' ELSE 'left' END"),
            (
                "callee_id",
                "'member'",
                "CASE state WHEN 'ringing' THEN 'invited' WHEN 'active' THEN 'joined' WHEN 'ended' THEN 'left' \
                 WHEN 'declined' THEN 'declined' ELSE 'missed' END",
            ),
        ] {
            db.execute_unprepared(&format!(
                "INSERT INTO call_participants (id, call_id, participant_id, user_id, role, state, invited_by, \
                 invited_at, joined_at, left_at) SELECT id || ':' || {who}, id, {who}, {who}, {role}, {state}, \
                 caller_id, created_at, answered_at, ended_at FROM calls"
            ))
            .await?;
        }
        Ok(())
    }
}
