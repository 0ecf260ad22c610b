//! Accounts (B1–B3): registration, login with lockout, sessions, TOTP second factor and step-up,
//! profile and consent. Passwords are argon2id with OWASP minimum parameters, hashed off the async
//! runtime; session tokens are random and stored only as SHA-256 hashes.

mod consent;
mod in_use;
mod invitation;
mod login;
mod profile;
mod register;
mod totp;

pub use consent::{ConsentView, list_consents, withdraw_consent};
pub(crate) use invitation::administers;
pub use invitation::{
    GrantOutcome, InvitationView, decide_invitation, grant_staff_role, my_invitations, pending_invitations,
};
pub use login::{LoginInput, LoginOutcome, authenticate, login, logout, revalidate};
pub use profile::{ProfileView, WardView, my_profile, set_locale};
pub use register::{
    RegisterDoctor, RegisterMinor, RegisterPatient, add_patient_identity, register_doctor, register_minor,
    register_patient,
};
pub use totp::{
    DEMO_TOTP_SECRET, TotpEnrolment, begin_totp_enrolment, confirm_totp_enrolment, pending_enrolment, step_up,
    totp_for_secret,
};

use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use sha2::{Digest, Sha256};

use crate::AppError;

/// OWASP minimum for argon2id: m = 19 MiB, t = 2, p = 1.
fn argon2() -> Result<Argon2<'static>, AppError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|_| AppError::Internal("argon2 params"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// At most one argon2 computation per CPU at a time: each needs 19 MiB, and an unbounded number of
/// blocking threads (a login storm) would multiply memory without adding throughput.
fn hash_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    })
}

pub async fn hash_password(password: String) -> Result<String, AppError> {
    let _permit = hash_permits().acquire().await.map_err(|_| AppError::Internal("hash permits"))?;
    tokio::task::spawn_blocking(move || {
        let h: PasswordHash =
            argon2()?.hash_password(password.as_bytes()).map_err(|_| AppError::Internal("argon2 hash"))?;
        Ok::<_, AppError>(h.to_string())
    })
    .await
    .map_err(|_| AppError::Internal("join"))?
}

/// A hash nobody's password matches, verified against for unknown logins so that the answer
/// takes as long as for a real account (no user enumeration by timing).
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        argon2()
            .ok()
            .and_then(|a| {
                let h: PasswordHash = a.hash_password_with_salt(b"not-a-password", b"yiqiao-dummy-salt").ok()?;
                Some(h.to_string())
            })
            .unwrap_or_default()
    })
}

pub(crate) async fn verify_password(hash: Option<String>, password: String) -> Result<bool, AppError> {
    let _permit = hash_permits().acquire().await.map_err(|_| AppError::Internal("hash permits"))?;
    tokio::task::spawn_blocking(move || {
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = hash
            .parse::<PasswordHash>()
            .is_ok_and(|h| argon2().is_ok_and(|a| a.verify_password(password.as_bytes(), &h).is_ok()));
        Ok(ok && real)
    })
    .await
    .map_err(|_| AppError::Internal("join"))?
}

/// 32 random bytes, URL-safe base64.
pub(crate) fn random_token() -> Result<String, AppError> {
    use base64::Engine;
    let mut b = [0_u8; 32];
    getrandom::fill(&mut b).map_err(|_| AppError::Internal("rng"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Tells a user's open sockets to close (issue 11 item 5): `session_id` names one session (logout),
/// `None` every session of the user (their roles changed, so what they may receive changed). The
/// socket of each session also re-checks it on its own, so a lost event only delays the close.
pub(crate) fn end_live_sessions(app: &crate::App, user_id: &str, session_id: Option<&str>, reason: &str) {
    app.bus.publish(crate::bus::Event {
        recipients: vec![user_id.to_owned()],
        payload: serde_json::json!({"type": "session_end", "session_id": session_id, "reason": reason}),
    });
}
