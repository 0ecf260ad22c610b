//! Notifications (E3): reminders, due follow-up visits and clinical alerts reach people through
//! the channels they chose. Every notification is stored (the inbox) and pushed live in-app; e-mail
//! and SMS deliveries are rows of their own, sent by a worker outside any database transaction and
//! retried with back-off, so a slow provider never holds the writer. Each delivery records
//! `pending → sent → delivered → read` or `failed`, which gives the reach rate per channel (E3:
//! ≥ 95 %). Quiet hours hold back e-mail and SMS (never urgent alerts) until they end, in the user's
//! time zone (default Asia/Shanghai).

mod cap;
pub mod channels;
mod deliver;
pub mod prefs;

use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, Utc};
use sea_orm::DatabaseTransaction;
use serde::Serialize;
use serde_json::json;
use store::{
    entity::{notification as n, notification_delivery as d},
    repo,
};

pub use cap::SMS_CAP_REASON;
pub use deliver::{deliver_due, sms_receipt, work};
pub use prefs::{Prefs, PrefsInput};

use crate::{App, AppError, Principal, RequestCtx, audit::Subject, bus::Event};

/// The outbound channels this deployment has configured (`[email]`, `[sms]`); in-app is always on.
#[derive(Default, Clone)]
pub struct Outbound {
    pub channels: BTreeMap<&'static str, Arc<dyn channels::Channel>>,
    /// Token an SMS gateway presents when it posts delivery receipts.
    pub sms_receipt_token: Option<String>,
}

impl Outbound {
    pub fn with(mut self, channel: Arc<dyn channels::Channel>) -> Self {
        self.channels.insert(channel.name(), channel);
        self
    }

    /// Names of the configured outbound channels (`email`, `sms`).
    pub fn names(&self) -> Vec<&'static str> {
        self.channels.keys().copied().collect()
    }
}

/// Text in both languages; the recipient's locale picks one.
#[derive(Debug, Clone)]
pub struct Bilingual {
    pub zh: String,
    pub en: String,
}

impl Bilingual {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self { zh: zh.into(), en: en.into() }
    }

    fn pick(&self, locale: &str) -> &str {
        if locale.starts_with("en") { &self.en } else { &self.zh }
    }
}

/// Something to tell one user.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub user_id: String,
    /// `task.reminder`, `visit.due`, `alert`, `alert.escalated`.
    pub kind: &'static str,
    pub title: Bilingual,
    pub body: Bilingual,
    /// Where to act on it (a path in the app).
    pub link: Option<String>,
    /// Urgent clinical alerts ignore quiet hours.
    pub urgent: bool,
    pub subject_id: Option<String>,
}

/// One notification as its recipient sees it.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationView {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub urgent: bool,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// Delivery state per channel (`inapp`, `email`, `sms`).
    pub channels: BTreeMap<String, String>,
}

/// The recipient's view of a stored notification (title and body opened: S1, issue 11 item 10).
fn view(app: &App, row: n::Model, deliveries: &[d::Model]) -> Result<NotificationView, AppError> {
    let (title, body) = texts(app, &row)?;
    Ok(view_of(row, title, body, deliveries))
}

/// A notification's title and body, opened.
pub(crate) fn texts(app: &App, row: &n::Model) -> Result<(String, String), AppError> {
    Ok((
        app.open_opt("notifications", "title_enc", &row.id, row.title_enc.as_deref())?,
        app.open_opt("notifications", "body_enc", &row.id, row.body_enc.as_deref())?,
    ))
}

fn view_of(row: n::Model, title: String, body: String, deliveries: &[d::Model]) -> NotificationView {
    NotificationView {
        channels: deliveries.iter().map(|d| (d.channel.clone(), d.state.clone())).collect(),
        id: row.id,
        kind: row.kind,
        title,
        body,
        link: row.link,
        urgent: row.urgent,
        created_at: row.created_at,
        read_at: row.read_at,
    }
}

fn delivery_row(notification: &n::Model, channel: &str, state: &str, next_at: DateTime<Utc>) -> d::Model {
    let now = notification.created_at;
    d::Model {
        id: uuid::Uuid::now_v7().to_string(),
        notification_id: notification.id.clone(),
        user_id: notification.user_id.clone(),
        channel: channel.to_owned(),
        state: state.to_owned(),
        attempts: 0,
        next_at,
        lease_until: None,
        last_error: None,
        external_id: None,
        sent_at: (state == "sent").then_some(now),
        delivered_at: None,
        created_at: now,
    }
}

/// Stores a notification inside the caller's transaction, with its in-app delivery (sent now) and
/// one pending delivery per outbound channel the user chose and can be reached on (held until quiet
/// hours end unless urgent). Returns the live event to publish after commit.
pub async fn notify(app: &App, txn: &DatabaseTransaction, new: NewNotification) -> Result<Event, AppError> {
    notify_many(app, txn, vec![new]).await?.pop().ok_or(AppError::Internal("notification"))
}

/// [`notify`] for many at once (a spike of reminders): the recipients and their preferences are read
/// in one query each and the rows written in multi-row statements. One event per notification.
pub async fn notify_many(
    app: &App,
    txn: &DatabaseTransaction,
    news: Vec<NewNotification>,
) -> Result<Vec<Event>, AppError> {
    let now = app.clock.now();
    let mut ids: Vec<String> = news.iter().map(|n| n.user_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let users: BTreeMap<String, store::entity::user::Model> =
        repo::user::get_many(txn, &ids).await?.into_iter().map(|u| (u.id.clone(), u)).collect();
    let mut prefs_of = BTreeMap::new();
    for row in repo::care::prefs_many(txn, &ids).await? {
        prefs_of.insert(row.user_id.clone(), prefs::of_row(app, &row)?);
    }
    let default_prefs = Prefs::default();
    let (mut rows, mut deliveries, mut events) = (Vec::new(), Vec::new(), Vec::new());
    let mut sms_cap = cap::SmsCap::default();
    for new in news {
        let user = users.get(&new.user_id).ok_or(AppError::NotFound)?;
        let prefs = prefs_of.get(&new.user_id).unwrap_or(&default_prefs);
        let id = uuid::Uuid::now_v7().to_string();
        let title: String = new.title.pick(&user.locale).chars().take(200).collect();
        let body: String = new.body.pick(&user.locale).chars().take(2000).collect();
        let row = n::Model {
            title_enc: Some(app.seal_str("notifications", "title_enc", &id, &title)?),
            body_enc: Some(app.seal_str("notifications", "body_enc", &id, &body)?),
            id,
            user_id: new.user_id.clone(),
            kind: new.kind.to_owned(),
            link: new.link,
            urgent: new.urgent,
            subject_id: new.subject_id,
            created_at: now,
            read_at: None,
        };
        let mut mine = vec![delivery_row(&row, "inapp", "sent", now)];
        let held_until = if row.urgent { now } else { prefs.quiet_release(now) };
        for channel in &prefs.channels {
            let reachable = match channel.as_str() {
                "email" => prefs.email.is_some(),
                "sms" => user.phone_enc.is_some(),
                _ => false,
            };
            if reachable && app.outbound.channels.contains_key(channel.as_str()) {
                let mut delivery = delivery_row(&row, channel, "pending", held_until);
                if channel == "sms" && !sms_cap.allows(app, txn, &row.user_id, held_until).await? {
                    delivery.state = "skipped".into();
                    delivery.last_error = Some(SMS_CAP_REASON.into());
                }
                mine.push(delivery);
            }
        }
        let quiet = !row.urgent && held_until > now;
        events.push(Event {
            recipients: vec![new.user_id],
            payload: json!({"type": "notification", "notification": view_of(row.clone(), title, body, &mine), "quiet": quiet}),
        });
        rows.push(row);
        deliveries.extend(mine);
    }
    repo::care::insert_notifications(txn, rows).await?;
    repo::care::insert_deliveries(txn, deliveries).await?;
    Ok(events)
}

/// The caller's inbox, newest first (`before`: pages back), with the unread count. Notifications
/// name patients, so showing them is audited (issue 11 item 11).
pub async fn inbox(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    before: Option<DateTime<Utc>>,
) -> Result<(Vec<NotificationView>, u64), AppError> {
    let (items, unread) = inbox_page(app, who, before).await?;
    app.record_view(who, ctx, "notification.list", Subject { patient_id: None, resource: None }, items.len()).await?;
    Ok((items, unread))
}

async fn inbox_page(
    app: &App,
    who: &Principal,
    before: Option<DateTime<Utc>>,
) -> Result<(Vec<NotificationView>, u64), AppError> {
    let db = &app.store.db;
    let rows = repo::care::inbox(db, &who.user_id, before, 50).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let deliveries = repo::care::deliveries_of(db, &row.id).await?;
        out.push(view(app, row, &deliveries)?);
    }
    Ok((out, repo::care::unread_count(db, &who.user_id).await?))
}

pub async fn unread_count(app: &App, who: &Principal) -> Result<u64, AppError> {
    Ok(repo::care::unread_count(&app.store.db, &who.user_id).await?)
}

/// The recipient's page received these notifications (in-app `delivered`). Others' ids are ignored.
pub async fn mark_delivered(app: &App, who: &Principal, ids: &[String]) -> Result<usize, AppError> {
    let now = app.clock.now();
    let txn = app.store.begin_write().await?;
    let mut n = 0;
    for id in ids.iter().take(200) {
        for mut dl in repo::care::deliveries_of(&txn, id).await? {
            if dl.user_id == who.user_id && dl.channel == "inapp" && dl.state == "sent" {
                dl.state = "delivered".into();
                dl.delivered_at = Some(now);
                repo::care::update_delivery(&txn, dl).await?;
                n += 1;
            }
        }
    }
    txn.commit().await?;
    Ok(n)
}

/// The recipient opened a notification (from the inbox, or through the link in an e-mail or SMS:
/// `via`). Marks it read, and the deliveries it was read through. Someone else's id is refused and
/// the refusal audited (issue 11 item 11).
pub async fn open(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    via: Option<&str>,
) -> Result<NotificationView, AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "notification.open", target, open_one(app, who, id, via)).await
}

async fn open_one(app: &App, who: &Principal, id: &str, via: Option<&str>) -> Result<NotificationView, AppError> {
    let now = app.clock.now();
    let txn = app.store.begin_write().await?;
    let mut row =
        repo::care::notification(&txn, id).await?.filter(|r| r.user_id == who.user_id).ok_or(AppError::NotFound)?;
    if row.read_at.is_none() {
        row.read_at = Some(now);
        repo::care::update_notification(&txn, row.clone()).await?;
    }
    let mut deliveries = repo::care::deliveries_of(&txn, id).await?;
    for dl in &mut deliveries {
        let through = dl.channel == "inapp" || Some(dl.channel.as_str()) == via;
        if through && matches!(dl.state.as_str(), "sent" | "delivered") {
            dl.state = "read".into();
            dl.delivered_at.get_or_insert(now);
            repo::care::update_delivery(&txn, dl.clone()).await?;
        }
    }
    txn.commit().await?;
    view(app, row, &deliveries)
}

/// Marks all of the caller's notifications read.
pub async fn open_all(app: &App, who: &Principal) -> Result<usize, AppError> {
    let mut n = 0;
    loop {
        let (items, _) = inbox_page(app, who, None).await?;
        let unread: Vec<_> = items.into_iter().filter(|i| i.read_at.is_none()).collect();
        if unread.is_empty() {
            return Ok(n);
        }
        for item in unread {
            open_one(app, who, &item.id, None).await?;
            n += 1;
        }
        if n > 5000 {
            return Ok(n);
        }
    }
}

/// Reach per channel over a period (E3 asks ≥ 95 %): of the deliveries created, how many reached
/// the person (`delivered` or `read`), failed, or are still under way.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reach {
    pub channel: String,
    pub total: i64,
    pub reached: i64,
    pub read: i64,
    pub failed: i64,
    pub pending: i64,
    /// Not attempted (the SMS cap): counted apart, outside `total`.
    pub skipped: i64,
    /// `reached / (total − pending)`, or `None` when nothing has finished yet.
    pub rate: Option<f64>,
}

/// Reach per channel for deliveries created in `[from, to)` (institution and platform admins).
pub async fn reach(app: &App, who: &Principal, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Reach>, AppError> {
    if !(who.has(domain::Role::InstitutionAdmin) || who.has(domain::Role::PlatformAdmin)) {
        return Err(AppError::Forbidden);
    }
    // An institution admin sees their institution's share: its staff, and the patients its doctors
    // follow up; a platform admin sees everyone's.
    let db = &app.store.db;
    let users = match (who.has(domain::Role::PlatformAdmin), who.institution_of(domain::Role::InstitutionAdmin)) {
        (true, _) => None,
        (false, Some(inst)) => {
            let staff = repo::user::list_staff_of(db, inst).await?;
            let doctors: Vec<String> =
                staff.iter().filter(|s| s.role == domain::Role::Doctor.as_str()).map(|s| s.user_id.clone()).collect();
            let mut users: Vec<String> = staff.into_iter().map(|s| s.user_id).collect();
            users.extend(repo::monitoring::patients_of_doctors(db, &doctors).await?);
            users.sort();
            users.dedup();
            Some(users)
        }
        (false, None) => Some(Vec::new()),
    };
    let mut by: BTreeMap<String, Reach> = BTreeMap::new();
    for (channel, state, count) in repo::care::delivery_counts(db, from, to, users.as_deref()).await? {
        let r = by.entry(channel.clone()).or_insert(Reach {
            channel,
            total: 0,
            reached: 0,
            read: 0,
            failed: 0,
            pending: 0,
            skipped: 0,
            rate: None,
        });
        if state == "skipped" {
            r.skipped += count;
            continue;
        }
        r.total += count;
        match state.as_str() {
            "delivered" => r.reached += count,
            "read" => {
                r.reached += count;
                r.read += count;
            }
            "failed" => r.failed += count,
            // In-app `sent`: on the way to a page that has not said it arrived yet.
            _ => r.pending += count,
        }
    }
    Ok(by
        .into_values()
        .map(|mut r| {
            let finished = r.total - r.pending;
            #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
            let rate = (finished > 0).then(|| r.reached as f64 / finished as f64);
            r.rate = rate;
            r
        })
        .collect())
}
