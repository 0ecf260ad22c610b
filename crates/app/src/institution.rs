//! Institutions, departments and staff (P1 multi-tenancy). Platform admins create institutions;
//! institution admins manage their own departments and staff roles. Role changes need step-up (B3).

use domain::{InstitutionKind, Role, validate::validate_region_code};
use serde::Serialize;
use store::{
    entity::{department, institution},
    repo,
};

use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentView {
    pub id: String,
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstitutionView {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub kind: String,
    pub tier: i32,
    pub region_code: String,
    pub departments: Vec<DepartmentView>,
    /// A2: first-response limits in minutes (platform default when unset).
    pub sla_priority_mins: i64,
    pub sla_normal_mins: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaffView {
    pub user_id: String,
    pub login: String,
    pub name_masked: String,
    pub role: String,
}

fn dept_view(d: department::Model) -> DepartmentView {
    DepartmentView { id: d.id, code: d.code, name_zh: d.name_zh, name_en: d.name_en }
}

/// Public directory of institutions with their departments (registration and verification forms).
pub async fn list(app: &App) -> Result<Vec<InstitutionView>, AppError> {
    let db = &app.store.db;
    let mut depts = repo::institution::all_departments(db).await?;
    let mut out = Vec::new();
    for i in repo::institution::list(db).await? {
        let (mine, rest): (Vec<_>, Vec<_>) = depts.into_iter().partition(|d| d.institution_id == i.id);
        depts = rest;
        out.push(InstitutionView {
            id: i.id,
            name_zh: i.name_zh,
            name_en: i.name_en,
            kind: i.kind,
            tier: i.tier,
            region_code: i.region_code,
            departments: mine.into_iter().map(dept_view).collect(),
            sla_priority_mins: sla_policy(i.sla_priority_secs, i.sla_normal_secs).priority_secs / 60,
            sla_normal_mins: sla_policy(i.sla_priority_secs, i.sla_normal_secs).normal_secs / 60,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Default)]
pub struct CreateInstitution {
    pub name_zh: String,
    pub name_en: String,
    pub kind: String,
    pub region_code: String,
}

fn check_label(s: &str, code: &'static str) -> Result<String, AppError> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 100 {
        return Err(AppError::invalid(code, "Enter a name of 1–100 characters."));
    }
    Ok(s.to_owned())
}

/// Platform admins add institutions.
pub async fn create(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    input: CreateInstitution,
) -> Result<String, AppError> {
    who.require(&[Role::PlatformAdmin])?;
    let kind: InstitutionKind =
        input.kind.parse().map_err(|_| AppError::invalid("institution_kind", "Choose the kind of institution."))?;
    let region = validate_region_code(&input.region_code)?;
    let id = domain::InstitutionId::new().to_string();
    let txn = app.store.begin_write().await?;
    repo::institution::insert(
        &txn,
        institution::Model {
            id: id.clone(),
            name_zh: check_label(&input.name_zh, "name")?,
            name_en: check_label(&input.name_en, "name")?,
            kind: kind.as_str().to_owned(),
            tier: i32::from(kind.tier()),
            region_code: region,
            created_at: app.clock.now(),
            sla_priority_secs: None,
            sla_normal_secs: None,
        },
    )
    .await?;
    app.record(&txn, ctx, Some(who), "institution.create", Subject { patient_id: None, resource: Some(&id) }, "ok")
        .await?;
    txn.commit().await?;
    Ok(id)
}

/// The institution an admin manages: their own (where their admin role was granted), or any for
/// platform admins.
fn managed(who: &Principal, institution_id: &str) -> Result<(), AppError> {
    crate::account::administers(who, institution_id)
}

pub async fn add_department(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    institution_id: &str,
    code: &str,
    name_zh: &str,
    name_en: &str,
) -> Result<String, AppError> {
    managed(who, institution_id)?;
    let code = code.trim().to_lowercase();
    if code.is_empty() || code.len() > 32 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(AppError::invalid("department_code", "Use 1–32 letters, digits, - or _ for the code."));
    }
    let id = domain::DepartmentId::new().to_string();
    let txn = app.store.begin_write().await?;
    repo::institution::get(&txn, institution_id).await?;
    repo::institution::insert_department(
        &txn,
        department::Model {
            id: id.clone(),
            institution_id: institution_id.to_owned(),
            code,
            name_zh: check_label(name_zh, "name")?,
            name_en: check_label(name_en, "name")?,
            created_at: app.clock.now(),
        },
    )
    .await
    .map_err(|e| match e {
        store::StoreError::Conflict => AppError::invalid("department_code", "A department with this code exists."),
        other => other.into(),
    })?;
    app.record(&txn, ctx, Some(who), "department.create", Subject { patient_id: None, resource: Some(&id) }, "ok")
        .await?;
    txn.commit().await?;
    Ok(id)
}

/// An institution's staff with masked names, and the invitations it is waiting on.
#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub items: Vec<StaffView>,
    pub invitations: Vec<crate::account::InvitationView>,
}

pub async fn staff(app: &App, who: &Principal, institution_id: &str) -> Result<Staff, AppError> {
    managed(who, institution_id)?;
    let db = &app.store.db;
    let mut out = Vec::new();
    for r in repo::user::list_staff_of(db, institution_id).await? {
        let u = repo::user::get(db, &r.user_id).await?;
        let name = app.open_str("users", "display_name_enc", &u.id, &u.display_name_enc)?;
        out.push(StaffView {
            user_id: u.id,
            login: u.login,
            name_masked: domain::mask::mask_name(&name),
            role: r.role,
        });
    }
    let invitations = crate::account::pending_invitations(app, who, institution_id).await?;
    Ok(Staff { items: out, invitations })
}

/// The response-time policy of an institution: its own limits where set, else the platform's (A2).
pub fn sla_policy(priority_secs: Option<i32>, normal_secs: Option<i32>) -> domain::consultation::SlaPolicy {
    let d = domain::consultation::SlaPolicy::default();
    domain::consultation::SlaPolicy {
        priority_secs: priority_secs.map_or(d.priority_secs, i64::from),
        normal_secs: normal_secs.map_or(d.normal_secs, i64::from),
    }
}

/// Sets an institution's first-response limits in minutes (priority 5–60, normal up to 24 h and not
/// shorter than priority). Audited.
pub async fn set_sla(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    institution_id: &str,
    priority_mins: i64,
    normal_mins: i64,
) -> Result<(), AppError> {
    managed(who, institution_id)?;
    if !(5..=60).contains(&priority_mins) || !(priority_mins..=1440).contains(&normal_mins) {
        return Err(AppError::invalid(
            "sla_invalid",
            "Priority consultations need an answer within 5–60 minutes; normal ones within that and 24 hours.",
        ));
    }
    let txn = app.store.begin_write().await?;
    repo::institution::get(&txn, institution_id).await?;
    let secs = |m: i64| i32::try_from(m * 60).ok();
    repo::institution::set_sla(&txn, institution_id, secs(priority_mins), secs(normal_mins)).await?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "institution.sla",
        Subject { patient_id: None, resource: Some(institution_id) },
        &format!("{priority_mins}/{normal_mins} min"),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
