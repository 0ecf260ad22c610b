//! TOTP second factor (B3): enrolment with a QR code and manual key, verification with replay
//! protection (a code's time step is accepted once), and step-up re-authentication.

use base64::Engine;
use store::repo;
use totp_rs::{Algorithm, Builder, Totp};

use super::verify_password;
use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

/// The published demo secret; accepted only in demo mode.
pub const DEMO_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXP";

/// What the enrolment page shows.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub secret_base32: String,
    pub otpauth_url: String,
    /// A data: URL of an SVG QR code (no external service sees the secret).
    pub qr_data_url: String,
}

/// Builds a TOTP (SHA-1, 6 digits, 30 s, ±1 step) for a raw secret.
pub fn totp_for_secret(secret: &[u8], account: &str) -> Totp {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_secret(secret.to_vec())
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some("Yiqiao"))
        .build_noncompliant()
}

/// Returns the accepted time step, or `None` for a wrong or replayed code.
pub(crate) fn check_totp(app: &App, user: &store::entity::user::Model, code: &str) -> Result<Option<u64>, AppError> {
    let Some(enc) = &user.totp_secret_enc else { return Ok(None) };
    let secret = app.open("users", "totp_secret_enc", &user.id, enc)?;
    // The published demo secret only works on a server started with --demo.
    if !app.config.demo
        && totp_rs::Secret::try_from_base32(DEMO_TOTP_SECRET).is_ok_and(|d| d.as_bytes() == secret.as_slice())
    {
        return Ok(None);
    }
    let now = u64::try_from(app.clock.now().timestamp()).unwrap_or(0);
    let step = totp_for_secret(&secret, &user.login).check(code, now);
    Ok(step.filter(|s| user.totp_last_step.is_none_or(|last| i64::try_from(*s).unwrap_or(i64::MAX) > last)))
}

/// Starts (or restarts, while not yet confirmed) enrolment with a fresh secret.
pub async fn begin_totp_enrolment(app: &App, who: &Principal, ctx: &RequestCtx) -> Result<TotpEnrolment, AppError> {
    // Issue 11 item 8: each start mints a secret; bound how often one account can do it.
    app.throttle_hit(crate::throttle::Action::CodeByAccount, &who.user_id)?;
    let txn = app.store.begin_write().await?;
    let mut user = repo::user::get(&txn, &who.user_id).await?;
    if user.totp_enabled {
        return Err(AppError::Conflict("Two-factor authentication is already set up."));
    }
    let mut secret = [0_u8; 20];
    getrandom::fill(&mut secret).map_err(|_| AppError::Internal("rng"))?;
    user.totp_secret_enc = Some(app.seal("users", "totp_secret_enc", &user.id, &secret)?);
    let enrolment = enrolment_view(&secret, &user.login)?;
    repo::user::update(&txn, user).await?;
    app.record(&txn, ctx, Some(who), "auth.totp_enrol_start", Subject::default(), "ok").await?;
    txn.commit().await?;
    Ok(enrolment)
}

/// Re-shows the pending enrolment (same secret) after a wrong code.
pub(crate) fn enrolment_view(secret: &[u8], login: &str) -> Result<TotpEnrolment, AppError> {
    let totp = totp_for_secret(secret, login);
    let url = totp.to_url().map_err(|_| AppError::Internal("otpauth url"))?;
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(|_| AppError::Internal("qr"))?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build();
    Ok(TotpEnrolment {
        secret_base32: totp_rs::Secret::from(secret.to_vec()).to_base32(),
        otpauth_url: url,
        qr_data_url: format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)),
    })
}

/// Pending enrolment for the page (after a failed confirmation).
pub async fn pending_enrolment(app: &App, who: &Principal) -> Result<Option<TotpEnrolment>, AppError> {
    let user = repo::user::get(&app.store.db, &who.user_id).await?;
    match (&user.totp_secret_enc, user.totp_enabled) {
        (Some(enc), false) => {
            Ok(Some(enrolment_view(&app.open("users", "totp_secret_enc", &user.id, enc)?, &user.login)?))
        }
        _ => Ok(None),
    }
}

/// Confirms enrolment with a first code; the session then counts as second-factor verified.
pub async fn confirm_totp_enrolment(app: &App, who: &Principal, ctx: &RequestCtx, code: &str) -> Result<(), AppError> {
    let txn = app.store.begin_write().await?;
    let mut user = repo::user::get(&txn, &who.user_id).await?;
    if user.totp_enabled {
        return Err(AppError::Conflict("Two-factor authentication is already set up."));
    }
    let Some(step) = check_totp(app, &user, code.trim())? else {
        app.record(&txn, ctx, Some(who), "auth.totp_enrol_confirm", Subject::default(), "failed_code").await?;
        txn.commit().await?;
        return Err(AppError::invalid(
            "totp_invalid",
            "That code did not match. Check the time on your phone and enter the newest code.",
        ));
    };
    user.totp_enabled = true;
    user.totp_last_step = Some(i64::try_from(step).unwrap_or(i64::MAX));
    repo::user::update(&txn, user).await?;
    repo::session::mark_second_factor(&txn, &who.session_id, app.clock.now()).await?;
    app.record(&txn, ctx, Some(who), "auth.totp_enrol_confirm", Subject::default(), "ok").await?;
    txn.commit().await?;
    Ok(())
}

/// Wrong step-up answers after which the session ends (issue 11 item 12).
pub const STEP_UP_FAILURES_PER_SESSION: i32 = 5;

/// Step-up (B3): a fresh TOTP code (anyone enrolled) or, for patients without TOTP, the password.
pub async fn step_up(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    totp: Option<&str>,
    password: Option<String>,
) -> Result<(), AppError> {
    super::login::check_attempts(app, ctx, &who.login)?;
    let user = repo::user::get(&app.store.db, &who.user_id).await?;
    let ok_step = if user.totp_enabled {
        let code = totp
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AppError::invalid("totp_required", "Enter the 6-digit code from your authenticator app."))?;
        check_totp(app, &user, code)?
    } else if who.is_staff() {
        return Err(AppError::SecondFactorRequired);
    } else {
        let pw = password.ok_or_else(|| AppError::invalid("password_required", "Enter your password."))?;
        verify_password(Some(user.password_hash.clone()), pw).await?.then_some(0)
    };
    let txn = app.store.begin_write().await?;
    let Some(step) = ok_step else {
        // Issue 11 item 12: wrong answers count like failed sign-ins, and a session that keeps
        // guessing is ended — whoever holds it must sign in again, with the password and code.
        super::login::count_failure(app, ctx, &who.login);
        let failures = repo::session::add_step_up_failure(&txn, &who.session_id).await?;
        if failures >= STEP_UP_FAILURES_PER_SESSION {
            repo::session::delete(&txn, &who.session_id).await?;
            app.record(&txn, ctx, Some(who), "auth.step_up", Subject::default(), "failed_session_ended").await?;
            txn.commit().await?;
            super::end_live_sessions(app, &who.user_id, Some(&who.session_id), "step_up_failures");
            return Err(AppError::Unauthenticated);
        }
        app.record(&txn, ctx, Some(who), "auth.step_up", Subject::default(), "failed").await?;
        txn.commit().await?;
        return Err(AppError::invalid(
            "step_up_failed",
            "That code or password did not match. Try again with the newest code.",
        ));
    };
    if user.totp_enabled {
        let mut u = repo::user::get(&txn, &who.user_id).await?;
        u.totp_last_step = Some(i64::try_from(step).unwrap_or(i64::MAX));
        repo::user::update(&txn, u).await?;
    }
    repo::session::set_step_up(&txn, &who.session_id, app.clock.now()).await?;
    app.record(&txn, ctx, Some(who), "auth.step_up", Subject::default(), "ok").await?;
    txn.commit().await?;
    Ok(())
}
