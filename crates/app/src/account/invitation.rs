//! Staff roles at an institution (B3, P1; issue 11 item 1). Every role is held at one institution
//! and acts only there. An institution admin (or a platform admin) grants roles only at an
//! institution they administer, and only to an account that already works there; anyone else — a
//! patient's account, a doctor of another hospital — receives an invitation and holds the role only
//! after accepting it themselves. Platform admins and auditors are never given institution roles:
//! their oversight must stay separate from the institutions they oversee.

use chrono::Duration;
use domain::Role;
use serde::Serialize;
use store::{entity::role_invitation, repo};

use crate::{
    App, AppError, Principal, RequestCtx,
    audit::Subject,
    notify::{self, Bilingual, NewNotification},
};

/// How long an invitation waits for its answer.
const INVITATION_DAYS: i64 = 14;

/// Roles an institution hands out here (doctors join through licence verification, B1).
const GRANTABLE: [Role; 5] =
    [Role::Nurse, Role::Pharmacist, Role::Therapist, Role::QualityReviewer, Role::InstitutionAdmin];

/// What a grant did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum GrantOutcome {
    /// The account already works at the institution: the role is held now.
    Granted,
    /// The account's owner must accept first.
    Invited { invitation_id: String },
}

/// An invitation as its recipient or the inviting institution sees it.
#[derive(Debug, Clone, Serialize)]
pub struct InvitationView {
    pub id: String,
    pub institution_id: String,
    pub institution_name_zh: String,
    pub institution_name_en: String,
    pub role: String,
    pub login: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The admin must administer `institution_id` through a role granted there (platform admins: any).
pub(crate) fn administers(who: &Principal, institution_id: &str) -> Result<(), AppError> {
    who.require(&[Role::InstitutionAdmin, Role::PlatformAdmin])?;
    if who.has(Role::PlatformAdmin) || who.holds_at(Role::InstitutionAdmin, institution_id) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Grants `role` at `institution_id` to the account `login`, or invites it (step-up required).
pub async fn grant_staff_role(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    institution_id: &str,
    login: &str,
    role: &str,
) -> Result<GrantOutcome, AppError> {
    administers(who, institution_id)?;
    who.require_step_up(app.clock.now(), app.config.step_up_secs)?;
    let role: Role = role.parse().map_err(|_| AppError::invalid("role", "Choose a role."))?;
    if !GRANTABLE.contains(&role) {
        return Err(AppError::invalid("role", "This role cannot be granted here (doctors are added by verification)."));
    }
    let now = app.clock.now();
    let txn = app.store.begin_write().await?;
    let inst = repo::institution::get(&txn, institution_id).await?;
    let user = repo::user::find_by_login(&txn, &login.trim().to_lowercase())
        .await?
        .ok_or_else(|| AppError::invalid("login_unknown", "No account with this name."))?;
    let theirs = repo::user::roles(&txn, &user.id).await?;
    let platform = theirs.iter().any(|r| r.role == Role::PlatformAdmin.as_str() || r.role == Role::Auditor.as_str());
    if platform {
        return Err(AppError::invalid(
            "role_target_forbidden",
            "Platform administrators and auditors cannot hold roles at an institution.",
        ));
    }
    let works_here = theirs.iter().any(|r| {
        r.institution_id.as_deref() == Some(institution_id) && r.role.parse::<Role>().is_ok_and(Role::is_staff)
    });
    let target = format!("{}:{}@{}", user.id, role.as_str(), institution_id);
    if works_here {
        repo::user::grant_role(&txn, &user.id, role.as_str(), Some(institution_id.to_owned()), now).await?;
        app.record(&txn, ctx, Some(who), "role.grant", Subject { patient_id: None, resource: Some(&target) }, "ok")
            .await?;
        txn.commit().await?;
        super::end_live_sessions(app, &user.id, None, "roles_changed");
        return Ok(GrantOutcome::Granted);
    }
    // Someone else's account: only its owner can say yes (no staff role without consent).
    let pending = repo::invitation::list_pending_for_user(&txn, &user.id, now).await?;
    if let Some(same) = pending.iter().find(|i| i.institution_id == institution_id && i.role == role.as_str()) {
        txn.rollback().await?;
        return Ok(GrantOutcome::Invited { invitation_id: same.id.clone() });
    }
    let id = uuid::Uuid::now_v7().to_string();
    repo::invitation::insert(
        &txn,
        role_invitation::Model {
            id: id.clone(),
            institution_id: institution_id.to_owned(),
            user_id: user.id.clone(),
            role: role.as_str().to_owned(),
            invited_by: who.user_id.clone(),
            status: "pending".into(),
            created_at: now,
            expires_at: now + Duration::days(INVITATION_DAYS),
            decided_at: None,
        },
    )
    .await?;
    let event = notify::notify(
        app,
        &txn,
        NewNotification {
            user_id: user.id.clone(),
            kind: "staff.invitation",
            title: Bilingual::new(
                format!("{}邀请您担任{}", inst.name_zh, role.name_zh()),
                format!("{} invites you as {}", inst.name_en, role.as_str().replace('_', " ")),
            ),
            body: Bilingual::new(
                "在“我的”页面接受或拒绝。接受前您不会获得任何权限。",
                "Accept or decline on your profile page. Nothing changes until you accept.",
            ),
            link: Some("/profile".into()),
            urgent: false,
            subject_id: Some(id.clone()),
        },
    )
    .await?;
    app.record(&txn, ctx, Some(who), "role.invite", Subject { patient_id: None, resource: Some(&target) }, "ok")
        .await?;
    txn.commit().await?;
    app.bus.publish(event);
    Ok(GrantOutcome::Invited { invitation_id: id })
}

async fn views(app: &App, rows: Vec<role_invitation::Model>) -> Result<Vec<InvitationView>, AppError> {
    let db = &app.store.db;
    let institutions = repo::institution::list(db).await?;
    let users = repo::user::get_many(db, &rows.iter().map(|r| r.user_id.clone()).collect::<Vec<_>>()).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let inst = institutions.iter().find(|i| i.id == r.institution_id);
            InvitationView {
                institution_name_zh: inst.map(|i| i.name_zh.clone()).unwrap_or_default(),
                institution_name_en: inst.map(|i| i.name_en.clone()).unwrap_or_default(),
                login: users.iter().find(|u| u.id == r.user_id).map(|u| u.login.clone()).unwrap_or_default(),
                id: r.id,
                institution_id: r.institution_id,
                role: r.role,
                created_at: r.created_at,
                expires_at: r.expires_at,
            }
        })
        .collect())
}

/// The caller's own pending invitations.
pub async fn my_invitations(app: &App, who: &Principal) -> Result<Vec<InvitationView>, AppError> {
    let rows = repo::invitation::list_pending_for_user(&app.store.db, &who.user_id, app.clock.now()).await?;
    views(app, rows).await
}

/// Invitations an institution is waiting on (its admins).
pub async fn pending_invitations(
    app: &App,
    who: &Principal,
    institution_id: &str,
) -> Result<Vec<InvitationView>, AppError> {
    administers(who, institution_id)?;
    let rows = repo::invitation::list_pending_for_institution(&app.store.db, institution_id, app.clock.now()).await?;
    views(app, rows).await
}

/// The invited person accepts (the role is held from now on) or declines.
pub async fn decide_invitation(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    accept: bool,
) -> Result<(), AppError> {
    let now = app.clock.now();
    let txn = app.store.begin_write().await?;
    let inv = repo::invitation::get(&txn, id).await?;
    // Someone else's invitation does not exist for the caller.
    if inv.user_id != who.user_id {
        return Err(AppError::NotFound);
    }
    if inv.status != "pending" || inv.expires_at <= now {
        return Err(AppError::invalid("invitation_closed", "This invitation was already answered or has expired."));
    }
    let status = if accept { "accepted" } else { "declined" };
    repo::invitation::decide(&txn, id, status, now).await?;
    if accept {
        repo::user::grant_role(&txn, &who.user_id, &inv.role, Some(inv.institution_id.clone()), now).await?;
    }
    let target = format!("{}:{}@{}", who.user_id, inv.role, inv.institution_id);
    let action = if accept { "role.invitation.accept" } else { "role.invitation.decline" };
    app.record(&txn, ctx, Some(who), action, Subject { patient_id: None, resource: Some(&target) }, "ok").await?;
    txn.commit().await?;
    if accept {
        super::end_live_sessions(app, &who.user_id, None, "roles_changed");
    }
    Ok(())
}
