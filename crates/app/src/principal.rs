//! Who is calling (B3): the authenticated user with their roles and session facts, plus the
//! request context recorded in audit events. Policy checks are methods here so that every handler
//! states its rule in one line.

use chrono::{DateTime, Utc};
use domain::Role;

use crate::AppError;

/// Client address and request id, recorded with every audit event (S3).
#[derive(Debug, Clone, Default)]
pub struct RequestCtx {
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

/// One role held at one institution (`None`: platform-wide, or a patient). Every permission that a
/// role confers is exercised only at the institution of the grant (issue 11 item 1, P1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGrant {
    pub role: Role,
    pub institution_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub login: String,
    pub display_name: String,
    /// The distinct roles held anywhere: enough for a route's coarse policy, never for a decision
    /// about an institution's data (use [`Principal::holds_at`] / [`Principal::institution_of`]).
    pub roles: Vec<Role>,
    /// Each role with the institution it was granted at, oldest grant first.
    pub grants: Vec<RoleGrant>,
    pub session_id: String,
    pub csrf_token: String,
    /// Whether this session passed a second factor (TOTP) at login or enrolment.
    pub second_factor: bool,
    pub totp_enabled: bool,
    pub step_up_at: Option<DateTime<Utc>>,
    pub locale: String,
    /// For doctors: whether their verification is approved (B1).
    pub doctor_verified: bool,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// Whether `role` was granted at `institution_id` (not merely anywhere).
    pub fn holds_at(&self, role: Role, institution_id: &str) -> bool {
        self.grants.iter().any(|g| g.role == role && g.institution_id.as_deref() == Some(institution_id))
    }

    /// The institution where `role` is held (the oldest grant when there are several): the place
    /// whose data that role may act on.
    pub fn institution_of(&self, role: Role) -> Option<&str> {
        self.grants.iter().find(|g| g.role == role).and_then(|g| g.institution_id.as_deref())
    }

    /// Every institution where `role` is held.
    pub fn institutions_of(&self, role: Role) -> impl Iterator<Item = &str> {
        self.grants.iter().filter(move |g| g.role == role).filter_map(|g| g.institution_id.as_deref())
    }

    /// The institution shown as the caller's workplace: that of their most privileged staff role.
    pub fn workplace(&self) -> Option<&str> {
        let mut staff: Vec<&RoleGrant> = self.grants.iter().filter(|g| g.role.is_staff()).collect();
        staff.sort_by_key(|g| g.role as u8);
        staff.iter().find_map(|g| g.institution_id.as_deref())
    }

    pub fn is_staff(&self) -> bool {
        self.roles.iter().any(|r| r.is_staff())
    }

    /// The role recorded in audit events: the most privileged one held.
    pub fn primary_role(&self) -> Role {
        self.roles.iter().copied().filter(|r| r.is_staff()).min_by_key(|r| *r as u8).unwrap_or(Role::Patient)
    }

    /// Requires one of `roles`; staff must also have passed a second factor in this session before
    /// touching anything beyond their own account (B3).
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if !self.has_any(roles) {
            return Err(AppError::Forbidden);
        }
        if self.is_staff() && !self.second_factor {
            return Err(AppError::SecondFactorRequired);
        }
        Ok(())
    }

    /// Requires an approved doctor (B1: until approved a doctor can use nothing clinical).
    pub fn require_verified_doctor(&self) -> Result<(), AppError> {
        self.require(&[Role::Doctor])?;
        if !self.doctor_verified {
            return Err(AppError::NotVerified);
        }
        Ok(())
    }

    /// Requires a fresh second-factor check (B3 step-up) for sensitive operations.
    pub fn require_step_up(&self, now: DateTime<Utc>, max_age_secs: i64) -> Result<(), AppError> {
        match self.step_up_at {
            Some(at) if (now - at).num_seconds() <= max_age_secs && now >= at => Ok(()),
            _ => Err(AppError::StepUpRequired),
        }
    }
}
