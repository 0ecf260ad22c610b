//! The signed-in user's own profile: their identity (decrypted for them, numbers masked — B2),
//! family members they registered, and the language preference (P3). Reads are audited (S3).

use domain::mask::{mask_id_number, mask_name, mask_phone};
use store::repo::{
    self,
    scope::{Grant, PatientScope},
};

use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

#[derive(Debug, Clone, serde::Serialize)]
pub struct PatientIdentityView {
    pub real_name: String,
    pub id_kind: String,
    pub id_number_masked: String,
    pub birth_date: String,
    pub sex: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct WardView {
    pub user_id: String,
    pub name_masked: String,
    pub birth_date: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ProfileView {
    pub user_id: String,
    pub login: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub phone_masked: Option<String>,
    pub locale: String,
    pub totp_enabled: bool,
    pub patient: Option<PatientIdentityView>,
    pub wards: Vec<WardView>,
    /// Staff roles offered to this account, waiting for its owner's answer (issue 11 item 1).
    pub invitations: Vec<super::InvitationView>,
}

impl App {
    async fn identity(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        scope: &PatientScope,
    ) -> Result<Option<PatientIdentityView>, AppError> {
        let Some(p) = repo::patient::find(db, scope).await? else { return Ok(None) };
        let id = &p.user_id;
        let number = self.open_str("patient_profiles", "id_number_enc", id, &p.id_number_enc)?;
        Ok(Some(PatientIdentityView {
            real_name: self.open_str("patient_profiles", "real_name_enc", id, &p.real_name_enc)?,
            id_kind: p.id_kind,
            id_number_masked: mask_id_number(&number),
            birth_date: self.open_str("patient_profiles", "birth_date_enc", id, &p.birth_date_enc)?,
            sex: p.sex,
        }))
    }
}

pub async fn my_profile(app: &App, who: &Principal, ctx: &RequestCtx) -> Result<ProfileView, AppError> {
    let txn = app.store.begin_write().await?;
    let user = repo::user::get(&txn, &who.user_id).await?;
    let patient = app.identity(&txn, &PatientScope::granted(&who.user_id, Grant::SelfOrGuardian)).await?;
    let mut wards = Vec::new();
    for ward_id in repo::patient::list_wards(&txn, &who.user_id).await? {
        if let Some(w) = app.identity(&txn, &PatientScope::granted(&ward_id, Grant::SelfOrGuardian)).await? {
            wards.push(WardView { user_id: ward_id, name_masked: mask_name(&w.real_name), birth_date: w.birth_date });
        }
    }
    let phone = user.phone_enc.as_ref().map(|p| app.open_str("users", "phone_enc", &user.id, p)).transpose()?;
    if patient.is_some() {
        app.record(
            &txn,
            ctx,
            Some(who),
            "patient.identity.view",
            Subject { patient_id: Some(&who.user_id), resource: Some("patient_profile") },
            "ok",
        )
        .await?;
    }
    txn.commit().await?;
    let invitations = super::my_invitations(app, who).await?;
    Ok(ProfileView {
        user_id: user.id,
        login: user.login,
        display_name: who.display_name.clone(),
        roles: who.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        phone_masked: phone.as_deref().map(mask_phone),
        locale: user.locale,
        totp_enabled: user.totp_enabled,
        patient,
        wards,
        invitations,
    })
}

/// Remembers the language per user (P3).
pub async fn set_locale(app: &App, who: &Principal, locale: &str) -> Result<String, AppError> {
    let locale = if locale.starts_with("en") { "en" } else { "zh-CN" };
    let mut user = repo::user::get(&app.store.db, &who.user_id).await?;
    user.locale = locale.to_owned();
    repo::user::update(&app.store.db, user).await?;
    Ok(locale.to_owned())
}
