//! Accounts for the chat and search scenarios: patients registered through the real use case
//! (Argon2id included), doctors registered and approved as an administrator's review would, and
//! API sessions inserted directly (as `testkit::TestApp::session_for` does) so that a run needs
//! one password hash per account rather than a login, and doctors hold a passed second factor
//! without a TOTP round trip. Few accounts carry many consultations: each hash costs ~20 ms.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use sha2::Digest;
use store::{entity, repo};

use super::{BENCH_PASSWORD, Directory};

/// One account with a bearer token.
#[derive(Debug, Clone)]
pub(super) struct Account {
    pub user_id: String,
    pub token: String,
}

/// Patients and approved doctors of one scenario.
pub(super) struct Cast {
    pub patients: Vec<Account>,
    pub doctors: Vec<Account>,
}

/// Concurrent registrations: Argon2 work is bounded by the app itself (one hash per CPU).
const REGISTER_CONCURRENCY: usize = 4;

/// Registers `patients` patients and `doctors` approved doctors of `dir`'s department, logins
/// prefixed with `tag` and identity numbers from `first_id` on (so several scenarios can share
/// one database; the numbers below 9,000 never meet the `http` scenarios' patient).
pub(super) async fn cast(
    app: &app::App,
    dir: &Directory,
    tag: &str,
    first_id: usize,
    patients: usize,
    doctors: usize,
) -> anyhow::Result<Cast> {
    let app = Arc::new(app.clone());
    let p = stream::iter(0..patients)
        .map(|i| {
            let app = Arc::clone(&app);
            let login = format!("{tag}-p{i:05}");
            async move { patient(&app, &login, first_id + i).await }
        })
        .buffered(REGISTER_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    let d = stream::iter(0..doctors)
        .map(|i| {
            let app = Arc::clone(&app);
            let login = format!("{tag}-d{i:05}");
            async move { doctor(&app, dir, &login).await }
        })
        .buffered(REGISTER_CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(Cast { patients: p, doctors: d })
}

/// A valid GB 11643 number for the `n`-th patient: Beijing Chaoyang, born 1960-01-01 + n days.
fn resident_id(n: usize) -> anyhow::Result<String> {
    let base = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).context("date")?;
    let days = u64::try_from(n % 15_000).unwrap_or(0);
    let born = base.checked_add_days(chrono::Days::new(days)).context("date")?;
    let body = format!("110105{}{:03}", born.format("%Y%m%d"), n / 15_000 + 1);
    let check = domain::gb11643_check_char(&body).context("resident ID body is not 17 digits")?;
    Ok(format!("{body}{check}"))
}

async fn patient(app: &app::App, login: &str, n: usize) -> anyhow::Result<Account> {
    let input = app::account::RegisterPatient {
        login: login.into(),
        password: BENCH_PASSWORD.into(),
        name: "基准患者".into(),
        phone: None,
        id_kind: "resident_id".into(),
        id_number: resident_id(n)?,
        accept_privacy: true,
        accept_sensitive: true,
        locale: "zh-CN".into(),
    };
    let user_id = app::account::register_patient(app, &app::RequestCtx::default(), input)
        .await
        .with_context(|| format!("cannot register patient {login}"))?;
    let token = session(app, &user_id).await?;
    Ok(Account { user_id, token })
}

async fn doctor(app: &app::App, dir: &Directory, login: &str) -> anyhow::Result<Account> {
    let input = app::account::RegisterDoctor {
        login: login.into(),
        password: BENCH_PASSWORD.into(),
        name: "基准医生".into(),
        phone: None,
        accept_privacy: true,
        accept_sensitive: true,
        locale: "zh-CN".into(),
    };
    let user_id = app::account::register_doctor(app, &app::RequestCtx::default(), input)
        .await
        .with_context(|| format!("cannot register doctor {login}"))?;
    approve(app, dir, &user_id).await?;
    let token = session(app, &user_id).await?;
    Ok(Account { user_id, token })
}

/// What an administrator's approval writes: an approved verification in the bench department.
async fn approve(app: &app::App, dir: &Directory, user_id: &str) -> anyhow::Result<()> {
    let id = domain::VerificationId::new().to_string();
    let licence = format!("{:015}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000_000);
    let keys = app.keys.current();
    let aad = crypto::Aad { table: "doctor_verifications", column: "licence_number_enc", row_id: &id };
    let now = chrono::Utc::now();
    let row = store::entity::doctor_verification::Model {
        licence_number_enc: keys.encrypt(licence.as_bytes(), &aad)?,
        licence_bidx: keys.blind_index("licence", &licence),
        id,
        user_id: user_id.to_owned(),
        title: "attending".into(),
        institution_id: dir.institution_id.clone(),
        department_id: dir.department_id.clone(),
        specialties: String::new(),
        licence_file_id: String::new(),
        employment_file_id: String::new(),
        status: "approved".into(),
        reviewer_id: None,
        review_reason_enc: None,
        submitted_at: now,
        reviewed_at: Some(now),
    };
    store::repo::verification::insert(&app.store.db, row).await?;
    Ok(())
}

/// An API session with the second factor passed, as a TOTP login would leave it.
async fn session(app: &app::App, user_id: &str) -> anyhow::Result<String> {
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let now = chrono::Utc::now();
    let row = store::entity::session::Model {
        id: uuid::Uuid::now_v7().to_string(),
        token_hash: hex::encode(sha2::Sha256::digest(token.as_bytes())),
        user_id: user_id.to_owned(),
        csrf_token: "bench-no-cookie".into(),
        kind: "api".into(),
        second_factor: true,
        step_up_at: Some(now),
        created_at: now,
        last_seen_at: now,
        expires_at: now + chrono::Duration::hours(12),
        step_up_failures: 0,
    };
    store::repo::session::insert(&app.store.db, row).await?;
    Ok(token)
}

/// Rows per seeding transaction.
pub(super) const SEED_CHUNK: usize = 5_000;

// ---------------------------------------------------------------------------------------------
// Seeding for the chronic-care scenarios (readings, reminders)

/// Writes `n` patients through the store layer: a `users` row, with the name sealed as
/// registration seals it and no usable password, and the patient role. Returns their ids.
/// Registration through the use case costs one Argon2id hash (~20 ms) each. The paths under test
/// read nothing more: the user row, their notification preferences, their name.
pub(super) async fn seed_users(app: &app::App, tag: &str, role: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let keys = app.keys.current();
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(SEED_CHUNK) {
        let now = Utc::now();
        let txn = app.store.begin_write().await?;
        for i in start..(start + SEED_CHUNK).min(n) {
            let id = domain::UserId::new().to_string();
            let name = format!("基准{i}号");
            let aad = crypto::Aad { table: "users", column: "display_name_enc", row_id: &id };
            let row = entity::user::Model {
                display_name_enc: keys.encrypt(name.as_bytes(), &aad)?,
                id: id.clone(),
                login: format!("{tag}-{i:06}"),
                password_hash: "!".into(),
                phone_enc: None,
                phone_bidx: None,
                locale: "zh-CN".into(),
                totp_secret_enc: None,
                totp_enabled: false,
                totp_last_step: None,
                failed_logins: 0,
                locked_until: None,
                status: "active".into(),
                created_at: now,
            };
            repo::user::insert(&txn, row).await?;
            repo::user::grant_role(&txn, &id, role, None, now).await?;
            ids.push(id);
        }
        txn.commit().await?;
    }
    Ok(ids)
}

/// An active hypertension plan (the built-in template: blood pressure at 07:00 and 19:00, weight
/// weekly, a monthly review; guideline thresholds) run by `doctor`; sealed as the app seals it.
pub(super) fn plan_row(
    keys: &crypto::KeyRing,
    patient: &str,
    doctor: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<entity::followup_plan::Model> {
    let t = app::monitoring::plans::builtin("hypertension").context("the hypertension template is missing")?;
    let id = domain::FileId::new().to_string();
    let seal = |column: &str, text: &str| -> anyhow::Result<Option<Vec<u8>>> {
        Ok(Some(keys.encrypt(text.as_bytes(), &crypto::Aad { table: "followup_plans", column, row_id: &id })?))
    };
    Ok(entity::followup_plan::Model {
        template_enc: seal("template_enc", &t.key)?,
        title_enc: seal("title_enc", &t.title)?,
        measures_enc: seal("measures_enc", &serde_json::to_string(&t.measures)?)?,
        id,
        patient_id: patient.to_owned(),
        doctor_id: doctor.to_owned(),
        thresholds: serde_json::to_string(&t.thresholds)?,
        state: "active".into(),
        created_at: now,
        ended_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::resident_id;

    #[test]
    fn patient_identity_numbers_are_valid_and_distinct() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let ids: std::collections::BTreeSet<String> = (0..2_000).map(|n| resident_id(n).unwrap()).collect();
        assert_eq!(ids.len(), 2_000);
        for id in ids.iter().take(50) {
            assert!(domain::validate_id_document(domain::IdDocumentKind::ResidentIdCard, id, today).is_ok(), "{id}");
        }
    }
}
