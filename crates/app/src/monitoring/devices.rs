//! Devices (D5): pairing with a sealed per-device secret (shown once), the patient's device list,
//! and the credential check of the HTTP and MQTT ingest paths.

use chrono::{DateTime, Utc};
use domain::reading::ReadingKind;
use serde::Serialize;
use store::{entity::device as d, repo};

use super::require_care;
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

/// A new device row with its secret sealed.
pub(super) fn device_row(
    app: &App,
    patient_id: &str,
    device_id: &str,
    kind: ReadingKind,
    label: &str,
    secret: &str,
    paired_by: &str,
) -> Result<d::Model, AppError> {
    Ok(d::Model {
        id: device_id.to_owned(),
        patient_id: patient_id.to_owned(),
        kind: kind.as_str().to_owned(),
        label_enc: Some(app.seal_str("devices", "label_enc", device_id, &device_label(label))?),
        secret_enc: app.seal("devices", "secret_enc", device_id, secret.as_bytes())?,
        paired_by: paired_by.to_owned(),
        paired_at: app.clock.now(),
        revoked_at: None,
    })
}

/// A device's label as stored (sealed: people name devices after the patient; issue 11 item 10).
fn device_label(label: &str) -> String {
    label.trim().chars().take(60).collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct PairedDevice {
    pub device_id: String,
    pub patient_id: String,
    pub kind: ReadingKind,
    pub label: String,
    /// Shown once, at pairing: configure it in the device (or its gateway).
    pub secret: String,
}

/// Pairs a device to the patient (the patient, or staff caring for them). `secret` is generated
/// unless given (demo and makers' factory secrets); at least 16 characters.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn pair_device(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    device_id: &str,
    kind: ReadingKind,
    label: &str,
    secret: Option<&str>,
) -> Result<PairedDevice, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    app.audit_denied(
        who,
        ctx,
        "device.pair",
        target,
        pair_device_inner(app, who, ctx, patient_id, device_id, kind, label, secret),
    )
    .await
}

async fn pair_device_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
    device_id: &str,
    kind: ReadingKind,
    label: &str,
    secret: Option<&str>,
) -> Result<PairedDevice, AppError> {
    require_care(app, who, patient_id).await?;
    // Issue 11 item 8: each pairing mints a device credential.
    app.throttle_hit(crate::throttle::Action::PairByAccount, &who.user_id)?;
    let device_id = device_id.trim();
    if device_id.is_empty()
        || device_id.len() > 64
        || !device_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err(AppError::invalid("device_id", "A device id is 1 to 64 letters, digits, - _ . or :."));
    }
    let secret = match secret {
        Some(s) if s.len() >= 16 => s.to_owned(),
        Some(_) => return Err(AppError::invalid("device_secret", "A device secret has at least 16 characters.")),
        None => crate::account::random_token()?,
    };
    let txn = app.store.begin_write().await?;
    if repo::monitoring::device(&txn, device_id).await?.is_some() {
        return Err(AppError::invalid("device_paired", "This device is already paired."));
    }
    let row = device_row(app, patient_id, device_id, kind, label, &secret, &who.user_id)?;
    repo::monitoring::insert_device(&txn, row.clone()).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "device.pair",
        Subject { patient_id: Some(patient_id), resource: Some(device_id) },
        kind.as_str(),
    )
    .await?;
    txn.commit().await?;
    Ok(PairedDevice { device_id: row.id, patient_id: row.patient_id, kind, label: device_label(label), secret })
}

/// A paired device as its owner and care team see it (never the secret).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    pub id: String,
    pub kind: ReadingKind,
    pub label: String,
    pub paired_at: DateTime<Utc>,
}

/// The patient's paired devices; a refusal is audited (issue 11 item 11).
pub async fn devices(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
) -> Result<Vec<DeviceView>, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    app.audit_denied(who, ctx, "device.list", target, devices_of(app, who, patient_id)).await
}

async fn devices_of(app: &App, who: &Principal, patient_id: &str) -> Result<Vec<DeviceView>, AppError> {
    require_care(app, who, patient_id).await?;
    repo::monitoring::devices_of(&app.store.db, patient_id)
        .await?
        .into_iter()
        .filter(|d| d.revoked_at.is_none())
        .map(|d| {
            Ok(DeviceView {
                kind: d.kind.parse().unwrap_or(ReadingKind::BloodPressure),
                label: app.open_opt("devices", "label_enc", &d.id, d.label_enc.as_deref())?,
                id: d.id,
                paired_at: d.paired_at,
            })
        })
        .collect()
}

/// A paired (not revoked) device and its secret, for checking what it signs.
pub(crate) async fn device_secret(app: &App, device_id: &str) -> Result<(d::Model, Vec<u8>), AppError> {
    let row = repo::monitoring::device(&app.store.db, device_id).await?.filter(|d| d.revoked_at.is_none());
    let row = row.ok_or(AppError::Unauthenticated)?;
    let secret = app.open("devices", "secret_enc", &row.id, &row.secret_enc)?;
    Ok((row, secret))
}

/// The paired device behind `Authorization: Device <id>:<secret>`.
pub async fn authenticate_device(app: &App, device_id: &str, secret: &str) -> Result<d::Model, AppError> {
    let (row, stored) = device_secret(app, device_id).await?;
    // Compare digests, so the time taken says nothing about the secret.
    if crypto::hmac_sha256(&stored, b"device") != crypto::hmac_sha256(secret.as_bytes(), b"device") {
        return Err(AppError::Unauthenticated);
    }
    Ok(row)
}
