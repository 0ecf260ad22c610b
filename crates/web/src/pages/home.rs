//! The home page: one section per role the user holds, each with that person's own data.

use app::{
    account,
    audit::{self, AuditEventView, AuditQuery},
    institution,
    verification::{self, VerificationView},
};
use askama::Template;
use axum::{extract::State, response::Response};
use domain::Role;

use super::{Chrome, PageError, PageResult, render};
use crate::{
    AppState,
    auth::{Auth, Caller},
};

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub c: Chrome,
    pub profile: account::ProfileView,
    pub is_patient: bool,
    pub is_doctor: bool,
    pub is_admin: bool,
    pub is_auditor: bool,
    pub other_staff: Vec<String>,
    pub verification: Option<VerificationView>,
    pub pending_reviews: usize,
    pub institution_name: String,
    pub recent_audit: Vec<AuditEventView>,
}

pub async fn home(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth) -> PageResult {
    let err = |e| PageError::new(e, &a);
    let profile = account::my_profile(&s.app, &who, &a.ctx).await.map_err(err)?;
    let is_doctor = who.has(Role::Doctor);
    let is_admin = who.has_any(crate::api::ADMINS) && who.second_factor;
    let is_auditor = who.has_any(crate::api::AUDITORS) && who.second_factor;
    let verification = if is_doctor { verification::my_status(&s.app, &who).await.map_err(err)? } else { None };
    let pending_reviews =
        if is_admin { verification::queue(&s.app, &who, &a.ctx).await.map_err(err)?.len() } else { 0 };
    let recent_audit = if is_auditor {
        let mut v = audit::list_events(&s.app, &who, &a.ctx, AuditQuery::default()).await.map_err(err)?;
        v.truncate(8);
        v
    } else {
        Vec::new()
    };
    let t = crate::i18n::Tr(a.lang);
    let institution_name = match who.workplace() {
        Some(id) => institution::list(&s.app)
            .await
            .map_err(err)?
            .into_iter()
            .find(|i| i.id == id)
            .map(|i| t.pick(&i.name_zh, &i.name_en).to_owned())
            .unwrap_or_default(),
        None => String::new(),
    };
    let other_staff = who
        .roles
        .iter()
        .filter(|r| matches!(r, Role::Nurse | Role::Pharmacist | Role::Therapist | Role::QualityReviewer))
        .map(|r| t.t(super::role_key(*r)).to_owned())
        .collect();
    let page = HomePage {
        c: Chrome::new(&a, "/home"),
        profile,
        is_patient: who.has(Role::Patient),
        is_doctor,
        is_admin,
        is_auditor,
        other_staff,
        verification,
        pending_reviews,
        institution_name,
        recent_audit,
    };
    Ok::<Response, PageError>(render(&page))
}
