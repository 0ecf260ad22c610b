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

#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    pub login: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// Institution of the user's staff roles, if any.
    pub institution_id: Option<String>,
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
