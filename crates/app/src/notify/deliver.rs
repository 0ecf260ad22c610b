//! The outbound delivery worker (E3). A pass claims due e-mail/SMS deliveries in a short
//! transaction (a lease, so other workers and other nodes skip them), talks to the providers with
//! no transaction open, then records each outcome in a transaction of its own. A crash between the
//! two leaves the lease to lapse and the delivery is tried again: e-mail and SMS are
//! at-least-once (the delivery id goes to the gateway as its idempotency key and into the e-mail's
//! Message-ID, so providers can drop a repeat). Temporary failures back off (1, 2, 4, 8 min);
//! permanent ones and the fifth failure end as `failed`.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use store::{entity::notification_delivery as d, repo};

use super::channels::{ChannelError, Outgoing};
use crate::{App, AppError};

/// Attempts before a delivery is given up.
const MAX_ATTEMPTS: i32 = 5;
/// How long a worker holds a claimed delivery before another may try it.
const LEASE_SECS: i64 = 120;
/// Deliveries claimed per pass.
const BATCH: u64 = 50;

fn backoff(attempts: i32) -> Duration {
    Duration::seconds((30_i64 << attempts.clamp(0, 6)).min(1800))
}

/// Sends every outbound delivery due now (up to a batch); returns how many were attempted.
pub async fn deliver_due(app: &App) -> Result<usize, AppError> {
    let now = app.clock.now();
    let txn = app.store.begin_write().await?;
    let mut claimed = repo::care::claim_deliveries(&txn, now, BATCH).await?;
    for dl in &mut claimed {
        dl.lease_until = Some(now + Duration::seconds(LEASE_SECS));
        dl.attempts += 1;
        repo::care::update_delivery(&txn, dl.clone()).await?;
    }
    txn.commit().await?;
    for dl in &claimed {
        let outcome = send_one(app, dl).await;
        record(app, &dl.id, outcome).await?;
    }
    Ok(claimed.len())
}

/// What one attempt gave.
enum Outcome {
    Sent { external_id: Option<String>, delivered: bool },
    Temporary(String),
    Permanent(String),
}

async fn send_one(app: &App, dl: &d::Model) -> Outcome {
    let Some(channel) = app.outbound.channels.get(dl.channel.as_str()).cloned() else {
        return Outcome::Permanent("channel_not_configured".into());
    };
    let msg = match outgoing(app, dl).await {
        Ok(Some(m)) => m,
        Ok(None) => return Outcome::Permanent("no_address".into()),
        Err(e) => return Outcome::Temporary(e.code().into()),
    };
    match tokio::time::timeout(StdDuration::from_secs(30), channel.send(&msg)).await {
        Ok(Ok(r)) => Outcome::Sent { external_id: r.external_id, delivered: r.delivered },
        Ok(Err(ChannelError::Temporary(e))) => Outcome::Temporary(e),
        Ok(Err(ChannelError::Permanent(e))) => Outcome::Permanent(e),
        Err(_) => Outcome::Temporary("timeout".into()),
    }
}

/// The message for one delivery: the recipient's address on its channel and the notification's text.
async fn outgoing(app: &App, dl: &d::Model) -> Result<Option<Outgoing>, AppError> {
    let db = &app.store.db;
    let Some(n) = repo::care::notification(db, &dl.notification_id).await? else { return Ok(None) };
    let to = match dl.channel.as_str() {
        "email" => super::prefs::load(app, db, &dl.user_id).await?.email,
        "sms" => {
            let user = repo::user::get(db, &dl.user_id).await?;
            user.phone_enc.as_ref().map(|p| app.open_str("users", "phone_enc", &user.id, p)).transpose()?
        }
        _ => None,
    };
    let Some(to) = to else { return Ok(None) };
    let (subject, body) = super::texts(app, &n)?;
    let base = app.config.public_url.trim_end_matches('/');
    Ok(Some(Outgoing {
        delivery_id: dl.id.clone(),
        to,
        subject,
        body,
        link: Some(format!("{base}/inbox/{}?via={}", n.id, dl.channel)),
    }))
}

async fn record(app: &App, id: &str, outcome: Outcome) -> Result<(), AppError> {
    let now = app.clock.now();
    let txn = app.store.begin_write().await?;
    let Some(mut dl) = repo::care::lock_delivery(&txn, id).await? else { return Ok(()) };
    dl.lease_until = None;
    match outcome {
        Outcome::Sent { external_id, delivered } => {
            // A gateway receipt (or the person opening the link) may have come first: keep it.
            if !matches!(dl.state.as_str(), "delivered" | "read" | "failed") {
                dl.state = if delivered { "delivered" } else { "sent" }.into();
                dl.delivered_at = delivered.then_some(now);
            }
            dl.sent_at = Some(now);
            dl.external_id = external_id;
            dl.last_error = None;
        }
        Outcome::Temporary(e) if dl.attempts < MAX_ATTEMPTS => {
            tracing::info!(delivery = %dl.id, channel = %dl.channel, error = %e, "delivery will be retried");
            dl.next_at = now + backoff(dl.attempts);
            dl.last_error = Some(e);
        }
        Outcome::Temporary(e) | Outcome::Permanent(e) => {
            tracing::warn!(delivery = %dl.id, channel = %dl.channel, error = %e, "delivery failed");
            dl.state = "failed".into();
            dl.last_error = Some(e);
        }
    }
    repo::care::update_delivery(&txn, dl).await?;
    txn.commit().await?;
    Ok(())
}

/// An SMS gateway's delivery receipt (`POST /api/v1/notify/sms-receipts`, bearer token from
/// `[sms] receipt_token`). Unknown ids are ignored; a receipt never moves a read delivery back.
pub async fn sms_receipt(app: &App, token: Option<&str>, body: &Value) -> Result<(), AppError> {
    let expected = app.outbound.sms_receipt_token.as_deref().ok_or(AppError::NotFound)?;
    let given = token.ok_or(AppError::Unauthenticated)?;
    if crypto::hmac_sha256(expected.as_bytes(), b"receipt") != crypto::hmac_sha256(given.as_bytes(), b"receipt") {
        return Err(AppError::Unauthenticated);
    }
    let (id, delivered) = super::channels::parse_sms_receipt(body)
        .ok_or_else(|| AppError::invalid("receipt", "A receipt has an id and a status."))?;
    let txn = app.store.begin_write().await?;
    let open = |d: &store::entity::notification_delivery::Model| {
        d.channel == "sms" && matches!(d.state.as_str(), "pending" | "sent")
    };
    if let Some(mut dl) = repo::care::lock_delivery(&txn, &id).await?.filter(open) {
        let now = app.clock.now();
        dl.state = if delivered { "delivered" } else { "failed" }.into();
        if delivered {
            dl.delivered_at = Some(now);
        } else {
            dl.last_error = Some(body["error"].as_str().unwrap_or("undelivered").chars().take(200).collect());
        }
        repo::care::update_delivery(&txn, dl).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The worker loop of `yiqiao serve`: sends due deliveries, then sleeps until the next is due (at
/// most `idle`).
pub async fn work(app: App, idle: StdDuration) {
    loop {
        let sent = deliver_due(&app).await.unwrap_or_else(|e| {
            tracing::error!(error = ?e, "delivery pass failed; retrying");
            0
        });
        if sent > 0 {
            continue;
        }
        let next: Option<DateTime<Utc>> = repo::care::next_delivery_due(&app.store.db).await.ok().flatten();
        let wait = next.map_or(idle, |due| (due - app.clock.now()).to_std().unwrap_or_default().min(idle));
        tokio::time::sleep(wait.max(StdDuration::from_millis(50))).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(super::backoff(1).num_seconds(), 60);
        assert_eq!(super::backoff(2).num_seconds(), 120);
        assert_eq!(super::backoff(30).num_seconds(), 1800);
    }
}
