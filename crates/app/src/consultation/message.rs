//! The conversation (A1, C1): messages are stored encrypted with a gap-free sequence per
//! consultation; a resend with the same client id returns the original message (no duplicates after
//! a dropped connection); readers catch up with `after=SEQ`; delivered/read positions drive the
//! "sent / delivered / read" marks.

use chrono::{DateTime, Utc};
use domain::{
    Role,
    consultation::{ConsultationStatus, after_message, can_send, validate_client_id, validate_message_text},
};
use serde::Serialize;
use store::{entity::consultation_message as m, repo};

use super::{doctor_side, domain_err, recipients, scope_for};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: String,
    pub consultation_id: String,
    pub seq: i64,
    pub sender: String,
    pub sender_role: String,
    pub sender_name: String,
    pub client_id: String,
    pub kind: String,
    pub text: String,
    pub sent_at: DateTime<Utc>,
    /// For `image`, `file` and `voice` messages: what to show, play or download.
    pub attachment: Option<AttachmentRef>,
    /// For `medication_plan` messages: the plan as a table (A5).
    pub plan: Option<domain::card::MedicationPlan>,
    /// For `article` messages: the education article sent (A6).
    pub article: Option<ArticleRef>,
    /// For `calculator` messages: inputs, result and its meaning (A6).
    pub calculator: Option<domain::calculator::CalculatorCard>,
    /// For `call` messages: the call's kind, outcome and length (A1).
    pub call: Option<CallRecord>,
    /// For `recording` messages: a consented call recording (F3).
    pub recording: Option<RecordingRef>,
}

/// An education article as a message refers to it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ArticleRef {
    pub slug: String,
    pub title_zh: String,
    pub title_en: String,
}

/// A6: the doctor sends a health-education article the patient can save to their record.
pub async fn send_article(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    client_id: &str,
    slug: &str,
) -> Result<(MessageView, bool), AppError> {
    who.require_verified_doctor()?;
    let a = domain::education::find(slug)
        .ok_or_else(|| AppError::invalid("article_unknown", "Choose an article from the library."))?;
    let r = ArticleRef { slug: a.slug.to_owned(), title_zh: a.title_zh.to_owned(), title_en: a.title_en.to_owned() };
    let body = serde_json::to_string(&r).map_err(|_| AppError::Internal("json"))?;
    let index = Some(format!("{} {}", a.title_zh, a.title_en));
    post_message(app, who, ctx, id, client_id, Outgoing { kind: "article", body, attachment: None, index }).await
}

/// An attachment as a message refers to it (stored encrypted as the message body).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct AttachmentRef {
    pub id: String,
    pub name: String,
    pub content_type: String,
    /// For `voice` messages: the recording's length as measured by the recorder (A1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u32>,
}

impl AttachmentRef {
    /// The recording's length as `m:ss` (at least `0:01`), as a chat shows it; empty for non-voice.
    #[must_use]
    pub fn duration_label(&self) -> String {
        self.duration_ms.map(super::voice::duration_label).unwrap_or_default()
    }
}

impl App {
    pub(crate) async fn message_view(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        row: m::Model,
    ) -> Result<MessageView, AppError> {
        let u = repo::user::get(db, &row.sender_id).await?;
        let body = self.open_str("consultation_messages", "body_enc", &row.id, &row.body_enc)?;
        let attachment = match row.kind.as_str() {
            "image" | "file" | "voice" => serde_json::from_str::<AttachmentRef>(&body).ok(),
            _ => None,
        };
        let plan = if row.kind == "medication_plan" {
            serde_json::from_str::<domain::card::MedicationPlan>(&body).ok()
        } else {
            None
        };
        let article = if row.kind == "article" { serde_json::from_str::<ArticleRef>(&body).ok() } else { None };
        let calculator = if row.kind == "calculator" {
            serde_json::from_str::<domain::calculator::CalculatorCard>(&body).ok()
        } else {
            None
        };
        let call = if row.kind == "call" { serde_json::from_str::<CallRecord>(&body).ok() } else { None };
        let recording = if row.kind == "recording" { serde_json::from_str::<RecordingRef>(&body).ok() } else { None };
        let text = match (&attachment, &plan) {
            _ if call.is_some() => call.as_ref().map(CallRecord::summary).unwrap_or_default(),
            _ if recording.is_some() => recording.as_ref().map(RecordingRef::summary).unwrap_or_default(),
            _ if article.is_some() => article.as_ref().map(|a| a.title_zh.clone()).unwrap_or_default(),
            _ if calculator.is_some() => {
                calculator.as_ref().map(domain::calculator::CalculatorCard::summary).unwrap_or_default()
            }
            (Some(a), _) => a.name.clone(),
            (None, Some(p)) => p.summary(),
            (None, None) => body,
        };
        Ok(MessageView {
            text,
            attachment,
            plan,
            article,
            calculator,
            call,
            recording,
            sender_name: self.open_str("users", "display_name_enc", &u.id, &u.display_name_enc)?,
            id: row.id,
            consultation_id: row.consultation_id,
            seq: row.seq,
            sender: row.sender_id,
            sender_role: row.sender_role,
            client_id: row.client_id,
            kind: row.kind,
            sent_at: row.sent_at,
        })
    }
}

/// A call as the conversation keeps it (A1).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CallRecord {
    pub call_id: String,
    /// `voice` or `video`.
    pub kind: String,
    /// `ended`, `declined`, `missed` or `cancelled`.
    pub state: String,
    pub duration_secs: i64,
}

impl CallRecord {
    /// `03:25`.
    pub fn duration(&self) -> String {
        format!("{:02}:{:02}", self.duration_secs / 60, self.duration_secs % 60)
    }

    /// A one-line text for notifications, search and exports: "视频通话 03:25" or "语音通话 未接听".
    pub fn summary(&self) -> String {
        let kind = if self.kind == "video" { "视频通话 video call" } else { "语音通话 voice call" };
        match self.state.as_str() {
            "ended" => format!("{kind} {}", self.duration()),
            "declined" => format!("{kind} 已拒绝 declined"),
            "missed" => format!("{kind} 未接听 missed"),
            _ => format!("{kind} 已取消 cancelled"),
        }
    }
}

/// A call recording as the conversation keeps it (F3).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RecordingRef {
    pub recording_id: String,
    pub call_id: String,
    /// The call's kind: `voice` or `video`.
    pub kind: String,
    pub content_type: String,
    pub duration_secs: i64,
    pub size_bytes: i64,
}

impl RecordingRef {
    /// `03:25`.
    pub fn duration(&self) -> String {
        format!("{:02}:{:02}", self.duration_secs / 60, self.duration_secs % 60)
    }

    pub fn is_video(&self) -> bool {
        self.content_type.starts_with("video/")
    }

    /// A one-line text for notifications, search and exports.
    pub fn summary(&self) -> String {
        format!("通话录制 call recording {}", self.duration())
    }
}

/// A line the system adds to the conversation on `by`'s behalf (a call's outcome, A1), appended with
/// the next sequence number inside the caller's transaction; returns the event to send after commit.
pub(crate) async fn system_entry(
    app: &App,
    txn: &sea_orm::DatabaseTransaction,
    consultation_id: &str,
    by: &str,
    kind: &'static str,
    body: &str,
    client_id: &str,
) -> Result<Vec<crate::bus::Event>, AppError> {
    let mut row = repo::consultation::get_for_update(txn, consultation_id).await?;
    let now = app.clock.now();
    row.last_seq += 1;
    row.updated_at = now;
    let msg_id = domain::MessageId::new().to_string();
    let msg = m::Model {
        body_enc: app.seal("consultation_messages", "body_enc", &msg_id, body.as_bytes())?,
        id: msg_id,
        consultation_id: consultation_id.to_owned(),
        seq: row.last_seq,
        sender_id: by.to_owned(),
        sender_role: if by == row.patient_id { Role::Patient } else { Role::Doctor }.as_str().into(),
        client_id: client_id.to_owned(),
        kind: kind.into(),
        sent_at: now,
    };
    repo::consultation::insert_message(txn, msg.clone()).await?;
    repo::consultation::update(txn, row.clone()).await?;
    let to = recipients(txn, &row).await?;
    let view = app.message_view(txn, msg).await?;
    Ok(vec![crate::bus::Event {
        recipients: to,
        payload: serde_json::json!({"type": "message", "message": view, "status": row.status}),
    }])
}

/// Sends a text message; returns it and whether it was new (false for an idempotent resend).
pub async fn send_message(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    client_id: &str,
    text: &str,
) -> Result<(MessageView, bool), AppError> {
    let text = validate_message_text(text).map_err(domain_err)?;
    let index = Some(text.clone());
    post_message(app, who, ctx, id, client_id, Outgoing { kind: "text", body: text, attachment: None, index }).await
}

/// What a message carries.
pub(crate) struct Outgoing {
    pub kind: &'static str,
    /// The text, or the attachment reference as JSON.
    pub body: String,
    /// An attachment row written in the same transaction.
    pub attachment: Option<store::entity::attachment::Model>,
    /// Text to add to the search index.
    pub index: Option<String>,
}

/// A7/A5: the doctor sends a medication plan as a table card.
pub async fn send_medication_plan(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    client_id: &str,
    plan: domain::card::MedicationPlan,
) -> Result<(MessageView, bool), AppError> {
    who.require_verified_doctor()?;
    let plan = plan.validated().map_err(|e| AppError::invalid(e.code(), e.message()))?;
    let body = serde_json::to_string(&plan).map_err(|_| AppError::Internal("json"))?;
    let index = Some(plan.summary());
    post_message(app, who, ctx, id, client_id, Outgoing { kind: "medication_plan", body, attachment: None, index })
        .await
}

/// A6: the doctor sends a calculator result. The server computes it from the inputs; the date for
/// gestational age is today in China Standard Time.
pub async fn send_calculator(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    client_id: &str,
    input: &domain::calculator::CalcInput,
) -> Result<(MessageView, bool), AppError> {
    who.require_verified_doctor()?;
    let today = (app.clock.now() + chrono::Duration::hours(8)).date_naive();
    let card = input.compute(today).map_err(|e| AppError::invalid(e.code(), e.message()))?;
    let body = serde_json::to_string(&card).map_err(|_| AppError::Internal("json"))?;
    let index = Some(card.summary());
    post_message(app, who, ctx, id, client_id, Outgoing { kind: "calculator", body, attachment: None, index }).await
}

/// Appends a message to the conversation (text or attachment) in one transaction with its audit
/// event, the clock update and the search tokens; then tells the participants. A refusal is
/// audited too (issue 11 item 11).
pub(crate) async fn post_message(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    client_id: &str,
    out: Outgoing,
) -> Result<(MessageView, bool), AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "consultation.message", target, append_message(app, who, ctx, id, client_id, out)).await
}

async fn append_message(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    client_id: &str,
    out: Outgoing,
) -> Result<(MessageView, bool), AppError> {
    validate_client_id(client_id).map_err(domain_err)?;
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let mut row = repo::consultation::lock_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    if let Some(existing) = repo::consultation::find_by_client_id(&txn, id, &who.user_id, client_id).await? {
        let view = app.message_view(&txn, existing).await?;
        txn.commit().await?;
        return Ok((view, false));
    }
    let as_doctor = doctor_side(who, &row, &scope);
    if !as_doctor
        && (matches!(out.kind, "medication_plan" | "article" | "calculator")
            || who.is_staff() && !scope.patient_ids.contains(&row.patient_id))
    {
        return Err(AppError::Forbidden);
    }
    let status: ConsultationStatus = row.status.parse().map_err(|_| AppError::Internal("status"))?;
    can_send(status, !as_doctor).map_err(domain_err)?;
    let now = app.clock.now();
    if as_doctor {
        // A team consultation is claimed by the first doctor who answers (A2).
        if row.doctor_id.is_none() {
            row.doctor_id = Some(who.user_id.clone());
        }
        if row.first_response_at.is_none() {
            row.first_response_at = Some(now);
            row.first_responder_id = Some(who.user_id.clone());
        }
    }
    row.status = after_message(status, as_doctor).as_str().into();
    row.last_seq += 1;
    row.updated_at = now;
    if let Some(att) = out.attachment {
        repo::attachment::insert(&txn, att).await?;
    }
    let msg_id = domain::MessageId::new().to_string();
    let msg = m::Model {
        body_enc: app.seal("consultation_messages", "body_enc", &msg_id, out.body.as_bytes())?,
        id: msg_id,
        consultation_id: id.to_owned(),
        seq: row.last_seq,
        sender_id: who.user_id.clone(),
        sender_role: if as_doctor { Role::Doctor } else { Role::Patient }.as_str().into(),
        client_id: client_id.to_owned(),
        kind: out.kind.into(),
        sent_at: now,
    };
    repo::consultation::insert_message(&txn, msg.clone()).await?;
    if let Some(text) = &out.index {
        super::index_text(app, &txn, id, &msg.id, text).await?;
    }
    repo::consultation::update(&txn, row.clone()).await?;
    repo::consultation::mark_position(&txn, id, &who.user_id, row.last_seq, row.last_seq).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "consultation.message",
        Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
        "ok",
    )
    .await?;
    let to = recipients(&txn, &row).await?;
    let view = app.message_view(&txn, msg).await?;
    txn.commit().await?;
    app.publish(to, serde_json::json!({"type": "message", "message": view, "status": row.status}));
    Ok((view, true))
}

/// Messages after `after` (at most 500), for participants only. Audited as a record view, a
/// refusal too (issue 11 item 11).
pub async fn messages(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    after: i64,
) -> Result<Vec<MessageView>, AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "consultation.messages_view", target, messages_after(app, who, ctx, id, after)).await
}

async fn messages_after(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    after: i64,
) -> Result<Vec<MessageView>, AppError> {
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let row = repo::consultation::find_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    let mut out = Vec::new();
    for msg in repo::consultation::messages_after(&txn, id, after.max(0), 500).await? {
        out.push(app.message_view(&txn, msg).await?);
    }
    if let Some(last) = out.last() {
        repo::consultation::mark_position(&txn, id, &who.user_id, last.seq, 0).await?;
    }
    app.record(
        &txn,
        ctx,
        Some(who),
        "consultation.messages_view",
        Subject { patient_id: Some(&row.patient_id), resource: Some(id) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(out)
}

/// Marks messages up to `seq` as read by the caller and tells the other side. A refusal is audited
/// (issue 11 item 11: a read receipt for an unknown id is a probe like any other).
pub async fn mark_read(app: &App, who: &Principal, ctx: &RequestCtx, id: &str, seq: i64) -> Result<(), AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "consultation.read", target, read_up_to(app, who, id, seq)).await
}

async fn read_up_to(app: &App, who: &Principal, id: &str, seq: i64) -> Result<(), AppError> {
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let row = repo::consultation::find_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    let pos =
        repo::consultation::mark_position(&txn, id, &who.user_id, seq.min(row.last_seq), seq.min(row.last_seq)).await?;
    let to = recipients(&txn, &row).await?;
    txn.commit().await?;
    app.publish(
        to,
        serde_json::json!({"type": "read", "consultation_id": id, "user": who.user_id, "read_seq": pos.read_seq}),
    );
    Ok(())
}

/// Tells the other side that `who` is typing (not stored; a refusal is audited, issue 11 item 11).
pub async fn typing(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<(), AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "consultation.typing", target, tell_typing(app, who, id)).await
}

async fn tell_typing(app: &App, who: &Principal, id: &str) -> Result<(), AppError> {
    let db = &app.store.db;
    let scope = scope_for(db, who).await?;
    let row = repo::consultation::find_scoped(db, &scope, id).await?.ok_or(AppError::NotFound)?;
    let to: Vec<String> = recipients(db, &row).await?.into_iter().filter(|u| u != &who.user_id).collect();
    app.publish(to, serde_json::json!({"type": "typing", "consultation_id": id, "user": who.user_id}));
    Ok(())
}
