//! Writing and reading the audit trail (S3). `record` appends inside the caller's transaction, so
//! if the audit write fails the action fails with it. A refused read ([`App::audit_denied`]) and a
//! list view ([`App::record_view`]) are recorded in a transaction of their own (issue 11 item 11).

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

/// The outcome of a refused read (issue 11 item 11); the auditor's page filters on it.
pub const DENIED: &str = "denied";

/// How much of a caller-supplied target id an event keeps: ids are 32–36 characters, and a probe
/// may send anything.
const TARGET_MAX_CHARS: usize = 100;

/// A caller-supplied id as recorded: bounded, and with control characters (which a WebSocket frame
/// can still carry) shown as U+FFFD so the event can be stored on every engine.
fn recorded_target(id: &str) -> String {
    id.chars().take(TARGET_MAX_CHARS).map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect()
}

impl App {
    /// Runs `use_case`; when it answers `NotFound` or `Forbidden`, appends `action` with outcome
    /// `denied` and the target the caller asked for, then returns the same error.
    ///
    /// Issue 11 item 11 (S3): a refused read of someone else's record must leave a trace, or probing
    /// for record ids is invisible. The use case's own transaction rolled back with its failure, so the
    /// event gets a write transaction of its own (the hash chain is appended under the same head lock
    /// as every other event). If that append fails, the request fails with it (fail closed). The use
    /// case is boxed here so that wrapping it does not double the size of every caller's future.
    pub fn audit_denied<'a, T: Send + 'a>(
        &'a self,
        who: &'a Principal,
        ctx: &'a RequestCtx,
        action: &'a str,
        target: Subject<'a>,
        use_case: impl Future<Output = Result<T, AppError>> + Send + 'a,
    ) -> impl Future<Output = Result<T, AppError>> + Send + 'a {
        let role = who.primary_role().as_str();
        self.audit_denied_as(Some(&who.user_id), Some(role), ctx, action, target, use_case)
    }

    /// Like [`App::audit_denied`] for an actor known only by id and role (a call guest).
    pub(crate) fn audit_denied_as<'a, T: Send + 'a>(
        &'a self,
        actor_user_id: Option<&'a str>,
        actor_role: Option<&'a str>,
        ctx: &'a RequestCtx,
        action: &'a str,
        target: Subject<'a>,
        use_case: impl Future<Output = Result<T, AppError>> + Send + 'a,
    ) -> impl Future<Output = Result<T, AppError>> + Send + 'a {
        let use_case = Box::pin(use_case);
        async move {
            let result = use_case.await;
            if matches!(result, Err(AppError::NotFound | AppError::Forbidden)) {
                let patient = target.patient_id.map(recorded_target);
                let resource = target.resource.map(recorded_target);
                let subject = Subject { patient_id: patient.as_deref(), resource: resource.as_deref() };
                let txn = self.store.begin_write().await?;
                self.record_as(&txn, ctx, actor_user_id, actor_role, action, subject, DENIED).await?;
                txn.commit().await?;
            }
            result
        }
    }

    /// Records that `who` was shown a list revealing names or readings (issue 11 item 11): one event
    /// per view, not per row, in a transaction of its own (list reads open none). An empty list
    /// reveals nothing and is not recorded: the pages poll some lists (alerts, ringing calls) on
    /// every load, and an event per empty poll would bury the ones that matter.
    pub async fn record_view(
        &self,
        who: &Principal,
        ctx: &RequestCtx,
        action: &str,
        subject: Subject<'_>,
        rows: usize,
    ) -> Result<(), AppError> {
        if rows == 0 {
            return Ok(());
        }
        let txn = self.store.begin_write().await?;
        self.record(&txn, ctx, Some(who), action, subject, "ok").await?;
        txn.commit().await?;
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
    /// `denied` lists refused reads (issue 11 item 11); any other value matches exactly.
    pub outcome: Option<String>,
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
        outcome: q.outcome.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
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
