//! Login, session authentication and logout (B3). Unknown accounts, wrong passwords and locked
//! accounts all get the same answer after the same argon2 work, so nobody can tell which accounts
//! exist.
//!
//! Guessing is slowed where the guesser is, not where the victim is (issue 11 item 8): five failures
//! on one account from one address, or twenty from one address on any accounts, pause that address
//! (`429`, before any password work). An account is locked for everyone only when it has no second
//! factor and failures pile up from many addresses (`lockout_threshold`); accounts with TOTP — every
//! member of staff — are never locked by wrong passwords, since a password alone never gets in.

use chrono::{DateTime, Duration, Utc};
use domain::Role;
use store::{entity::session, repo};

use super::{random_token, token_hash, totp::check_totp, verify_password};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject, throttle::Action};

#[derive(Debug, Clone, Default)]
pub struct LoginInput {
    pub login: String,
    pub password: String,
    pub totp: Option<String>,
    /// "web" (cookie) or "api" (bearer).
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub token: String,
    pub csrf_token: String,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
    pub second_factor: bool,
    /// Staff who have not enrolled TOTP yet must do so before anything else.
    pub needs_totp_enrolment: bool,
    pub locale: String,
}

/// The throttle keys of a sign-in attempt: the address, and the account at that address. Requests
/// without a peer address (in-process callers) are not throttled by address.
fn attempt_keys(ctx: &RequestCtx, login: &str) -> Option<(String, String)> {
    ctx.client_addr.as_ref().map(|a| (a.clone(), format!("{login}|{a}")))
}

/// Refuses an address that has failed too often, before any password work.
pub(crate) fn check_attempts(app: &App, ctx: &RequestCtx, login: &str) -> Result<(), AppError> {
    if let Some((addr, pair)) = attempt_keys(ctx, login) {
        app.throttle_check(Action::SignInFailuresByAddress, &addr)?;
        app.throttle_check(Action::SignInFailuresByAccountAddress, &pair)?;
    }
    Ok(())
}

/// Counts a failed sign-in or step-up against the address and the account at that address.
pub(crate) fn count_failure(app: &App, ctx: &RequestCtx, login: &str) {
    if let Some((addr, pair)) = attempt_keys(ctx, login) {
        // A refusal here only means the next attempt will be refused; this one already failed.
        let _ = app.throttle_hit(Action::SignInFailuresByAddress, &addr);
        let _ = app.throttle_hit(Action::SignInFailuresByAccountAddress, &pair);
    }
}

pub async fn login(app: &App, ctx: &RequestCtx, input: LoginInput) -> Result<LoginOutcome, AppError> {
    let now = app.clock.now();
    let login = input.login.trim().to_lowercase();
    if let Err(e) = check_attempts(app, ctx, &login) {
        tracing::warn!(addr = ?ctx.client_addr, "sign-in attempt throttled");
        return Err(e);
    }
    let user = repo::user::find_by_login(&app.store.db, &login).await?;
    let password_ok = verify_password(user.as_ref().map(|u| u.password_hash.clone()), input.password).await?;
    let txn = app.store.begin_write().await?;
    let Some(user) = user else {
        count_failure(app, ctx, &login);
        app.record_as(&txn, ctx, None, None, "auth.login", Subject::default(), "failed_unknown_account").await?;
        txn.commit().await?;
        return Err(AppError::InvalidCredentials);
    };
    // Re-read inside the write transaction so concurrent failures count correctly.
    let user = repo::user::get(&txn, &user.id).await?;
    let uid = Some(user.id.as_str());
    if user.locked_until.is_some_and(|t| t > now) || user.status != "active" {
        app.record_as(&txn, ctx, uid, None, "auth.login", Subject::default(), "failed_locked").await?;
        txn.commit().await?;
        return Err(AppError::InvalidCredentials);
    }
    if !password_ok {
        count_failure(app, ctx, &login);
        return fail_login(app, txn, ctx, user, "failed_password").await;
    }
    let mut second_factor = false;
    let mut user = user;
    if user.totp_enabled {
        let Some(code) = input.totp.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
            txn.rollback().await?;
            return Err(AppError::TotpRequired);
        };
        let Some(step) = check_totp(app, &user, code)? else {
            count_failure(app, ctx, &login);
            return fail_login(app, txn, ctx, user, "failed_totp").await;
        };
        user.totp_last_step = Some(i64::try_from(step).unwrap_or(i64::MAX));
        second_factor = true;
    }
    user.failed_logins = 0;
    if let Some((_, pair)) = attempt_keys(ctx, &login) {
        app.throttle.clear(Action::SignInFailuresByAccountAddress, &pair);
    }
    user.locked_until = None;
    let roles = repo::user::roles(&txn, &user.id).await?;
    let is_staff = roles.iter().any(|r| r.role.parse::<Role>().is_ok_and(Role::is_staff));
    let token = random_token()?;
    let csrf = random_token()?;
    let expires_at = now + Duration::seconds(app.config.session_absolute_secs);
    repo::session::insert(
        &txn,
        session::Model {
            id: uuid::Uuid::now_v7().to_string(),
            token_hash: token_hash(&token),
            user_id: user.id.clone(),
            csrf_token: csrf.clone(),
            kind: if input.kind == "api" { "api".into() } else { "web".into() },
            second_factor,
            step_up_at: second_factor.then_some(now),
            created_at: now,
            last_seen_at: now,
            expires_at,
            step_up_failures: 0,
        },
    )
    .await?;
    let locale = user.locale.clone();
    let user_id = user.id.clone();
    let totp_enabled = user.totp_enabled;
    repo::user::update(&txn, user).await?;
    let role = roles
        .iter()
        .filter_map(|r| r.role.parse::<Role>().ok())
        .min_by_key(|r| if r.is_staff() { *r as u8 } else { u8::MAX })
        .map(Role::as_str);
    app.record_as(&txn, ctx, Some(&user_id), role, "auth.login", Subject::default(), "ok").await?;
    txn.commit().await?;
    Ok(LoginOutcome {
        token,
        csrf_token: csrf,
        user_id,
        expires_at,
        second_factor,
        needs_totp_enrolment: is_staff && !totp_enabled,
        locale,
    })
}

/// Counts a failure (locking at the threshold), audits it, and answers with the generic error.
async fn fail_login(
    app: &App,
    txn: sea_orm::DatabaseTransaction,
    ctx: &RequestCtx,
    user: store::entity::user::Model,
    reason: &str,
) -> Result<LoginOutcome, AppError> {
    let now = app.clock.now();
    // A wrong password never locks an account with a second factor (staff): locking it would hand
    // anyone who knows a login name a way to keep its owner out. A wrong code after the right
    // password does count: only someone holding the password gets that far.
    let counts = !user.totp_enabled || reason == "failed_totp";
    let lock = (counts && user.failed_logins + 1 >= app.config.lockout_threshold)
        .then(|| now + Duration::seconds(app.config.lockout_secs));
    let uid = user.id.clone();
    if counts {
        repo::user::record_failed_login(&txn, user, lock).await?;
    }
    app.record_as(&txn, ctx, Some(&uid), None, "auth.login", Subject::default(), reason).await?;
    txn.commit().await?;
    Err(AppError::InvalidCredentials)
}

/// Resolves a session token to its principal, enforcing idle and absolute timeouts.
pub async fn authenticate(app: &App, token: &str) -> Result<Principal, AppError> {
    let Some(s) = repo::session::find_by_token_hash(&app.store.db, &token_hash(token)).await? else {
        return Err(AppError::Unauthenticated);
    };
    principal_of(app, s, true).await
}

/// Checks again the session behind a long-lived connection (issue 11 item 5): a WebSocket outlives
/// the request that opened it, so it must end when its session was ended (logout), expired, or its
/// roles or verification changed — what it may receive and do was decided with the old ones.
pub async fn revalidate(app: &App, who: &Principal) -> Result<(), AppError> {
    let Some(s) = repo::session::find(&app.store.db, &who.session_id).await? else {
        return Err(AppError::Unauthenticated);
    };
    let now = principal_of(app, s, false).await?;
    if now.grants != who.grants || now.doctor_verified != who.doctor_verified {
        return Err(AppError::Unauthenticated);
    }
    Ok(())
}

/// The principal of a live session; an expired one is deleted and refused. `touch` refreshes the
/// idle clock (requests do; a socket's re-check does not, so an idle open page still times out).
async fn principal_of(app: &App, s: session::Model, touch: bool) -> Result<Principal, AppError> {
    let now = app.clock.now();
    let db = &app.store.db;
    let idle = (now - s.last_seen_at).num_seconds() > app.config.session_idle_secs;
    if now >= s.expires_at || idle {
        repo::session::delete(db, &s.id).await?;
        return Err(AppError::Unauthenticated);
    }
    // Refresh the idle clock at most once a minute to spare the database.
    if touch && (now - s.last_seen_at).num_seconds() >= 60 {
        repo::session::touch(db, &s.id, now).await?;
    }
    let user = repo::user::get(db, &s.user_id).await?;
    let role_rows = repo::user::roles(db, &user.id).await?;
    let mut role_rows = role_rows;
    role_rows.sort_by(|a, b| a.granted_at.cmp(&b.granted_at).then_with(|| a.role.cmp(&b.role)));
    let grants: Vec<crate::principal::RoleGrant> = role_rows
        .into_iter()
        .filter_map(|r| {
            Some(crate::principal::RoleGrant { role: r.role.parse().ok()?, institution_id: r.institution_id })
        })
        .collect();
    let mut roles: Vec<Role> = grants.iter().map(|g| g.role).collect();
    roles.sort_by_key(|r| *r as u8);
    roles.dedup();
    let doctor_verified = if roles.contains(&Role::Doctor) {
        repo::verification::latest_for_user(db, &user.id).await?.is_some_and(|v| v.status == "approved")
    } else {
        false
    };
    Ok(Principal {
        display_name: app.open_str("users", "display_name_enc", &user.id, &user.display_name_enc)?,
        user_id: user.id,
        login: user.login,
        roles,
        grants,
        session_id: s.id,
        csrf_token: s.csrf_token,
        second_factor: s.second_factor,
        totp_enabled: user.totp_enabled,
        step_up_at: s.step_up_at,
        locale: user.locale,
        doctor_verified,
    })
}

/// Ends the session server-side.
pub async fn logout(app: &App, who: &Principal, ctx: &RequestCtx) -> Result<(), AppError> {
    let txn = app.store.begin_write().await?;
    repo::session::delete(&txn, &who.session_id).await?;
    app.record(&txn, ctx, Some(who), "auth.logout", Subject::default(), "ok").await?;
    txn.commit().await?;
    super::end_live_sessions(app, &who.user_id, Some(&who.session_id), "logout");
    Ok(())
}
