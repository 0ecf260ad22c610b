//! Writing and reading the audit trail (S3). `record` appends inside the caller's transaction, so
//! if the audit write fails the action fails with it.

use sea_orm::DatabaseTransaction;
use serde::Serialize;
use store::repo::audit::{self, AuditFilter, NewAuditEvent};

use crate::{App, AppError, Principal, RequestCtx};
use domain::Role;

/// What an event is about.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    pub patient_id: Option<&'a str>,
    pub resource: Option<&'a str>,
}

impl App {
    /// Appends one audit event in `txn`.
    pub async fn record(
        &self,
        txn: &DatabaseTransaction,
        ctx: &RequestCtx,
        actor: Option<&Principal>,
        action: &str,
        subject: Subject<'_>,
        outcome: &str,
    ) -> Result<(), AppError> {
        let role = actor.map(|p| p.primary_role().as_str());
        self.record_as(txn, ctx, actor.map(|p| p.user_id.as_str()), role, action, subject, outcome).await
    }

    /// Like [`App::record`] for an actor known only by id (before a session exists).
    pub(crate) async fn record_as(
        &self,
        txn: &DatabaseTransaction,
        ctx: &RequestCtx,
        actor_user_id: Option<&str>,
        actor_role: Option<&str>,
        action: &str,
        subject: Subject<'_>,
        outcome: &str,
    ) -> Result<(), AppError> {
        let ev = NewAuditEvent {
            actor_user_id: actor_user_id.map(str::to_owned),
            actor_role: actor_role.map(str::to_owned),
            action: action.to_owned(),
            subject_patient_id: subject.patient_id.map(str::to_owned),
            resource: subject.resource.map(str::to_owned),
            outcome: outcome.to_owned(),
            client_addr: ctx.client_addr.clone(),
            request_id: ctx.request_id.clone(),
        };
        audit::append(txn, &self.keys.current(), self.clock.now(), ev).await?;
        Ok(())
    }
}

/// One row of the auditor's log viewer.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEventView {
    pub seq: i64,
    pub at: String,
    pub actor_user_id: Option<String>,
    pub actor_login: Option<String>,
    pub actor_role: Option<String>,
    pub action: String,
    pub subject_patient_id: Option<String>,
    pub subject_login: Option<String>,
    pub resource: Option<String>,
    pub outcome: String,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

/// Query from the auditor's page or API.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor_login: Option<String>,
    pub subject_patient_id: Option<String>,
    pub action: Option<String>,
    pub before_seq: Option<i64>,
}

/// Account name of a user id, cached per listing.
async fn login_of(
    db: &impl sea_orm::ConnectionTrait,
    cache: &mut std::collections::HashMap<String, Option<String>>,
    id: Option<&str>,
) -> Result<Option<String>, AppError> {
    let Some(id) = id else { return Ok(None) };
    if !cache.contains_key(id) {
        let login = store::repo::user::find(db, id).await?.map(|u| u.login);
        cache.insert(id.to_owned(), login);
    }
    Ok(cache.get(id).cloned().flatten())
}

/// Lists audit events for an auditor (or platform admin). Looking at the log is itself audited.
pub async fn list_events(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    q: AuditQuery,
) -> Result<Vec<AuditEventView>, AppError> {
    who.require(&[Role::Auditor, Role::PlatformAdmin])?;
    let txn = app.store.begin_write().await?;
    let actor_user_id = match q.actor_login.as_deref().filter(|s| !s.is_empty()) {
        Some(login) => match store::repo::user::find_by_login(&txn, &login.to_lowercase()).await? {
            Some(u) => Some(u.id),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    // "Who viewed patient X": X may be given as an account name or an id.
    let subject_patient_id = match q.subject_patient_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.parse::<domain::UserId>().is_ok() => Some(s.to_owned()),
        Some(login) => match store::repo::user::find_by_login(&txn, &login.to_lowercase()).await? {
            Some(u) => Some(u.id),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let filter = AuditFilter {
        actor_user_id,
        subject_patient_id,
        action: q.action.filter(|s| !s.is_empty()),
        before_seq: q.before_seq,
        limit: 100,
    };
    let rows = audit::list(&txn, &filter).await?;
    let mut logins = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let actor_login = login_of(&txn, &mut logins, r.actor_user_id.as_deref()).await?;
        let subject_login = login_of(&txn, &mut logins, r.subject_patient_id.as_deref()).await?;
        out.push(AuditEventView {
            seq: r.seq,
            at: crate::china_time(r.at),
            actor_user_id: r.actor_user_id,
            actor_login,
            actor_role: r.actor_role,
            action: r.action,
            subject_patient_id: r.subject_patient_id,
            subject_login,
            resource: r.resource,
            outcome: r.outcome,
            client_addr: r.client_addr,
            request_id: r.request_id,
        });
    }
    app.record(&txn, ctx, Some(who), "audit.view", Subject { patient_id: None, resource: Some("audit_events") }, "ok")
        .await?;
    txn.commit().await?;
    Ok(out)
}
