//! Registration (B2 patients with real-name documents, B1 doctors, guardians registering minors),
//! with PIPL consent recorded in the same transaction.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use domain::{
    ConsentKind, PRIVACY_NOTICE_VERSION, Role, SENSITIVE_CONSENT_VERSION,
    id_document::{IdDocumentKind, age_on, validate_id_document},
    validate::{normalize_phone, validate_login, validate_password},
};
use sea_orm::DatabaseTransaction;
use store::{
    entity::{consent, patient_profile, user},
    repo,
};

use super::hash_password;
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

/// Children younger than this are registered by a guardian (B2).
pub const GUARDIAN_REQUIRED_UNDER: u32 = 6;

#[derive(Debug, Clone, Default)]
pub struct RegisterPatient {
    pub login: String,
    pub password: String,
    pub name: String,
    pub phone: Option<String>,
    pub id_kind: String,
    pub id_number: String,
    pub accept_privacy: bool,
    pub accept_sensitive: bool,
    pub locale: String,
}

#[derive(Debug, Clone, Default)]
pub struct RegisterDoctor {
    pub login: String,
    pub password: String,
    pub name: String,
    pub phone: Option<String>,
    pub accept_privacy: bool,
    pub accept_sensitive: bool,
    pub locale: String,
}

#[derive(Debug, Clone, Default)]
pub struct RegisterMinor {
    pub name: String,
    pub id_kind: String,
    pub id_number: String,
}

/// Today's date in China (identity documents carry local dates).
pub(crate) fn today_cn(now: DateTime<Utc>) -> NaiveDate {
    FixedOffset::east_opt(8 * 3600).map_or(now.date_naive(), |cst| now.with_timezone(&cst).date_naive())
}

fn check_name(name: &str) -> Result<String, AppError> {
    let n = name.trim();
    let len = n.chars().count();
    if !(1..=50).contains(&len) || n.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name_format",
            "Enter the name as it appears on the identity document (1–50 characters).",
        ));
    }
    Ok(n.to_owned())
}

fn check_consents(privacy: bool, sensitive: bool) -> Result<(), AppError> {
    if !privacy || !sensitive {
        return Err(AppError::invalid(
            "consent_required",
            "Registration needs your agreement to the privacy notice and your separate consent to processing sensitive personal information.",
        ));
    }
    Ok(())
}

fn normalize_locale(l: &str) -> String {
    if l.starts_with("en") { "en".into() } else { "zh-CN".into() }
}

impl App {
    /// Creates the `users` row with encrypted name and phone.
    pub(crate) async fn insert_user(
        &self,
        txn: &DatabaseTransaction,
        id: &str,
        login: &str,
        password_hash: String,
        name: &str,
        phone: Option<&str>,
        locale: &str,
        status: &str,
    ) -> Result<(), AppError> {
        let phone_bidx = phone.map(|p| self.keys.current().blind_index("phone", p));
        if let Some(b) = &phone_bidx
            && repo::user::find_by_phone_bidx(txn, b).await?.is_some()
        {
            return Err(super::in_use::refusal());
        }
        if repo::user::find_by_login(txn, login).await?.is_some() {
            return Err(AppError::invalid("login_taken", "This account name is taken; choose another."));
        }
        let row = user::Model {
            id: id.to_owned(),
            login: login.to_owned(),
            password_hash,
            display_name_enc: self.seal("users", "display_name_enc", id, name.as_bytes())?,
            phone_enc: phone.map(|p| self.seal("users", "phone_enc", id, p.as_bytes())).transpose()?,
            phone_bidx,
            locale: normalize_locale(locale),
            totp_secret_enc: None,
            totp_enabled: false,
            totp_last_step: None,
            failed_logins: 0,
            locked_until: None,
            status: status.to_owned(),
            created_at: self.clock.now(),
        };
        repo::user::insert(txn, row).await.map_err(|e| match e {
            store::StoreError::Conflict => {
                AppError::invalid("login_taken", "This account name is taken; choose another.")
            }
            other => other.into(),
        })
    }

    pub(crate) async fn insert_consents(&self, txn: &DatabaseTransaction, user_id: &str) -> Result<(), AppError> {
        for (kind, version) in [
            (ConsentKind::PrivacyNotice, PRIVACY_NOTICE_VERSION),
            (ConsentKind::SensitivePersonalInfo, SENSITIVE_CONSENT_VERSION),
        ] {
            let row = consent::Model {
                id: uuid::Uuid::now_v7().to_string(),
                user_id: user_id.to_owned(),
                kind: kind.as_str().to_owned(),
                version: version.to_owned(),
                granted_at: self.clock.now(),
                withdrawn_at: None,
            };
            let am: consent::ActiveModel = row.into();
            sea_orm::EntityTrait::insert(am).exec_without_returning(txn).await?;
        }
        Ok(())
    }

    /// Validates a document and writes the encrypted patient profile.
    pub(crate) async fn insert_patient_profile(
        &self,
        txn: &DatabaseTransaction,
        user_id: &str,
        name: &str,
        kind: IdDocumentKind,
        number: &str,
        guardian: Option<&str>,
    ) -> Result<u32, AppError> {
        let today = today_cn(self.clock.now());
        let valid = validate_id_document(kind, number, today)?;
        let bidx = self.keys.current().blind_index("id_number", &valid.normalized);
        if repo::patient::id_taken(txn, &bidx).await? {
            return Err(super::in_use::refusal());
        }
        let birth = valid.birth_date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
        let row = patient_profile::Model {
            user_id: user_id.to_owned(),
            real_name_enc: self.seal("patient_profiles", "real_name_enc", user_id, name.as_bytes())?,
            id_kind: kind.as_str().to_owned(),
            id_number_enc: self.seal("patient_profiles", "id_number_enc", user_id, valid.normalized.as_bytes())?,
            id_bidx: bidx,
            birth_date_enc: self.seal("patient_profiles", "birth_date_enc", user_id, birth.as_bytes())?,
            sex: valid.sex.map(|s| s.as_str().to_owned()),
            guardian_user_id: guardian.map(str::to_owned),
            verified_at: self.clock.now(),
        };
        repo::patient::insert(txn, row).await.map_err(|e| match e {
            store::StoreError::Conflict => super::in_use::refusal(),
            other => other.into(),
        })?;
        Ok(valid.birth_date.map_or(u32::MAX, |b| age_on(b, today)))
    }
}

/// Refuses (generically, telling the owner) a phone number or document that belongs to an account
/// already (issue 11 item 13). Runs after the password hash, so a taken detail answers no faster.
async fn check_free(
    app: &App,
    ctx: &RequestCtx,
    phone: Option<&str>,
    document: Option<(IdDocumentKind, &str)>,
) -> Result<(), AppError> {
    let keys = app.keys.current();
    let phone_bidx = phone.map(|p| keys.blind_index("phone", p));
    let id_bidx = match document {
        Some((kind, number)) => Some(
            keys.blind_index("id_number", &validate_id_document(kind, number, today_cn(app.clock.now()))?.normalized),
        ),
        None => None,
    };
    match super::in_use::owner(app, phone_bidx.as_deref(), id_bidx.as_deref()).await? {
        Some((owner, detail)) => Err(super::in_use::refuse(app, ctx, &owner, detail).await),
        None => Ok(()),
    }
}

/// Issue 11 item 8: new accounts per address are bounded (refused before any work).
fn throttle_registration(app: &App, ctx: &RequestCtx) -> Result<(), AppError> {
    match &ctx.client_addr {
        Some(addr) => app.throttle_hit(crate::throttle::Action::RegisterByAddress, addr),
        None => Ok(()),
    }
}

fn parse_kind(s: &str) -> Result<IdDocumentKind, AppError> {
    s.parse().map_err(|_| AppError::invalid("id_kind", "Choose the type of identity document."))
}

/// B2: a patient registers with a real-name document; returns the new user id.
pub async fn register_patient(app: &App, ctx: &RequestCtx, input: RegisterPatient) -> Result<String, AppError> {
    throttle_registration(app, ctx)?;
    let login = validate_login(&input.login)?;
    validate_password(&input.password, &login)?;
    let name = check_name(&input.name)?;
    let phone = input.phone.as_deref().filter(|p| !p.trim().is_empty()).map(normalize_phone).transpose()?;
    let kind = parse_kind(&input.id_kind)?;
    // Validate the document before the slow password hash so a typo answers at once.
    let valid = validate_id_document(kind, &input.id_number, today_cn(app.clock.now()))?;
    if let Some(b) = valid.birth_date
        && age_on(b, today_cn(app.clock.now())) < GUARDIAN_REQUIRED_UNDER
    {
        return Err(AppError::invalid(
            "guardian_required",
            "Children under 6 are registered by a parent or guardian from the guardian's own account (Profile → Family members).",
        ));
    }
    check_consents(input.accept_privacy, input.accept_sensitive)?;
    let hash = hash_password(input.password).await?;
    check_free(app, ctx, phone.as_deref(), Some((kind, &valid.normalized))).await?;
    let id = domain::UserId::new().to_string();
    let txn = app.store.begin_write().await?;
    app.insert_user(&txn, &id, &login, hash, &name, phone.as_deref(), &input.locale, "active").await?;
    repo::user::grant_role(&txn, &id, Role::Patient.as_str(), None, app.clock.now()).await?;
    app.insert_patient_profile(&txn, &id, &name, kind, &valid.normalized, None).await?;
    app.insert_consents(&txn, &id).await?;
    app.record_as(
        &txn,
        ctx,
        Some(&id),
        Some("patient"),
        "account.register",
        Subject { patient_id: Some(&id), resource: Some("patient_profile") },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// B1: a doctor registers; clinical use waits for verification.
pub async fn register_doctor(app: &App, ctx: &RequestCtx, input: RegisterDoctor) -> Result<String, AppError> {
    throttle_registration(app, ctx)?;
    let login = validate_login(&input.login)?;
    validate_password(&input.password, &login)?;
    let name = check_name(&input.name)?;
    let phone = input.phone.as_deref().filter(|p| !p.trim().is_empty()).map(normalize_phone).transpose()?;
    check_consents(input.accept_privacy, input.accept_sensitive)?;
    let hash = hash_password(input.password).await?;
    check_free(app, ctx, phone.as_deref(), None).await?;
    let id = domain::UserId::new().to_string();
    let txn = app.store.begin_write().await?;
    app.insert_user(&txn, &id, &login, hash, &name, phone.as_deref(), &input.locale, "active").await?;
    repo::user::grant_role(&txn, &id, Role::Doctor.as_str(), None, app.clock.now()).await?;
    app.insert_consents(&txn, &id).await?;
    app.record_as(
        &txn,
        ctx,
        Some(&id),
        Some("doctor"),
        "account.register",
        Subject { patient_id: None, resource: Some("doctor") },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// B3: one person may hold several roles — a doctor (or any staff member) adds a verified patient
/// identity to their own account and can then consult as a patient too.
pub async fn add_patient_identity(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id_kind: &str,
    id_number: &str,
) -> Result<(), AppError> {
    let kind = parse_kind(id_kind)?;
    check_free(app, ctx, None, Some((kind, id_number))).await?;
    let txn = app.store.begin_write().await?;
    if repo::patient::find(
        &txn,
        &store::repo::scope::PatientScope::granted(&who.user_id, store::repo::scope::Grant::SelfOrGuardian),
    )
    .await?
    .is_some()
    {
        return Err(AppError::Conflict("This account already has a patient identity."));
    }
    let age = app.insert_patient_profile(&txn, &who.user_id, &who.display_name, kind, id_number, None).await?;
    if age < GUARDIAN_REQUIRED_UNDER {
        return Err(AppError::invalid("guardian_required", "Children under 6 are registered by a guardian."));
    }
    repo::user::grant_role(&txn, &who.user_id, Role::Patient.as_str(), None, app.clock.now()).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "account.add_patient_identity",
        Subject { patient_id: Some(&who.user_id), resource: Some("patient_profile") },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// B2: a guardian registers a child (required under 6) who is linked to them and cannot sign in.
pub async fn register_minor(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    input: RegisterMinor,
) -> Result<String, AppError> {
    who.require(&[Role::Patient])?;
    let name = check_name(&input.name)?;
    let kind = parse_kind(&input.id_kind)?;
    check_free(app, ctx, None, Some((kind, &input.id_number))).await?;
    let id = domain::UserId::new().to_string();
    let login = format!("ward-{}", &id[id.len() - 12..]);
    let txn = app.store.begin_write().await?;
    // "!" is not a PHC string, so no password ever matches: wards act through their guardian.
    app.insert_user(&txn, &id, &login, "!".into(), &name, None, &who.locale, "ward").await?;
    repo::user::grant_role(&txn, &id, Role::Patient.as_str(), None, app.clock.now()).await?;
    let age = app.insert_patient_profile(&txn, &id, &name, kind, &input.id_number, Some(&who.user_id)).await?;
    if age >= 18 {
        return Err(AppError::invalid("not_a_minor", "Adults register with their own account."));
    }
    app.record(
        &txn,
        ctx,
        Some(who),
        "account.register_minor",
        Subject { patient_id: Some(&id), resource: Some("patient_profile") },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}
