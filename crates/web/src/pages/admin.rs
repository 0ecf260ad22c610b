//! Work pages: doctor verification (form and status), the admin review queue, institution admin,
//! the auditor's log viewer and the API reference.

use app::{
    AppError,
    audit::{self, AuditEventView, AuditQuery},
    institution::{self, InstitutionView, Staff},
    verification::{self, VerificationView},
};
use askama::Template;
use axum::{
    Form,
    extract::{Multipart, Path, Query, State},
    http::header,
    response::{IntoResponse, Redirect, Response},
};

use super::{Chrome, FormData, PageError, PageResult, render};
use crate::{
    AppState, RouteSpec,
    auth::{Auth, Authed, Caller},
};

#[derive(Template)]
#[template(path = "verification.html")]
pub struct VerificationPage {
    pub c: Chrome,
    pub status: Option<VerificationView>,
    pub institutions: Vec<InstitutionView>,
    pub f: FormData,
    pub is_doctor: bool,
    /// No request yet, or the last one was rejected.
    pub can_submit: bool,
}

async fn verification_page(s: &AppState, a: &Authed, err: Option<&AppError>, f: FormData) -> PageResult {
    let who = a.principal.as_ref().ok_or_else(|| PageError::new(AppError::Unauthenticated, a))?;
    let is_doctor = who.has(domain::Role::Doctor);
    let status =
        if is_doctor { verification::my_status(&s.app, who).await.map_err(|e| PageError::new(e, a))? } else { None };
    let institutions = institution::list(&s.app).await.map_err(|e| PageError::new(e, a))?;
    let mut c = Chrome::new(a, "/doctor/verification");
    if let Some(e) = err {
        c = c.with_error(e);
    }
    let can_submit = status.as_ref().is_none_or(|v| v.status == "rejected");
    Ok(render(&VerificationPage { c, status, institutions, f, is_doctor, can_submit }))
}

pub async fn verification_form(State(s): State<AppState>, Caller(a): Caller) -> PageResult {
    verification_page(&s, &a, None, FormData::default()).await
}

pub async fn verification_submit(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    form: Multipart,
) -> PageResult {
    let res = async {
        let input = crate::api::read_verification(form).await.map_err(|e| (e, FormData::default()))?;
        let kept = FormData(
            [
                ("licence_number", &input.licence_number),
                ("title", &input.title),
                ("institution_id", &input.institution_id),
                ("department_id", &input.department_id),
                ("specialties", &input.specialties),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect(),
        );
        verification::submit(&s.app, &who, &a.ctx, input).await.map_err(|e| (e, kept))
    }
    .await;
    match res {
        Ok(_) => Ok(Redirect::to("/doctor/verification").into_response()),
        Err((e, kept)) => verification_page(&s, &a, Some(&e), kept).await,
    }
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    pub c: Chrome,
    pub items: Vec<VerificationView>,
}

pub async fn queue(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth) -> PageResult {
    let items = verification::queue(&s.app, &who, &a.ctx).await.map_err(|e| PageError::new(e, &a))?;
    Ok(render(&QueuePage { c: Chrome::new(&a, "/admin/verifications"), items }))
}

pub async fn decide(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let approve = f.is("decision", "approve");
    match verification::decide(&s.app, &who, &a.ctx, &id, approve, f.v("reason")).await {
        Ok(()) => Ok(Redirect::to("/admin/verifications").into_response()),
        Err(e) => {
            let items = verification::queue(&s.app, &who, &a.ctx).await.map_err(|e| PageError::new(e, &a))?;
            Ok(render(&QueuePage { c: Chrome::new(&a, "/admin/verifications").with_error(&e), items }))
        }
    }
}

pub async fn document(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path((id, which)): Path<(String, String)>,
) -> PageResult {
    let (ct, bytes) =
        verification::document(&s.app, &who, &a.ctx, &id, &which).await.map_err(|e| PageError::new(e, &a))?;
    Ok(([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "no-store".to_owned())], bytes).into_response())
}

#[derive(Template)]
#[template(path = "institution.html")]
pub struct InstitutionPage {
    pub c: Chrome,
    pub inst: Option<InstitutionView>,
    pub all: Vec<InstitutionView>,
    pub staff: Staff,
    /// Platform admins add institutions.
    pub can_create: bool,
    pub f: FormData,
    /// B3: the grant form asks for a fresh authenticator code in place.
    pub need_step_up: bool,
}

async fn institution_page(
    s: &AppState,
    a: &Authed,
    who: &app::Principal,
    selected: Option<&str>,
    err: Option<&AppError>,
    f: FormData,
) -> PageResult {
    let all = institution::list(&s.app).await.map_err(|e| PageError::new(e, a))?;
    let id = selected
        .map(str::to_owned)
        .or_else(|| who.institution_of(domain::Role::InstitutionAdmin).map(str::to_owned))
        .or_else(|| all.first().map(|i| i.id.clone()));
    let inst = all.iter().find(|i| Some(&i.id) == id.as_ref()).cloned();
    let staff = match &inst {
        Some(i) => institution::staff(&s.app, who, &i.id).await.map_err(|e| PageError::new(e, a))?,
        None => Staff { items: Vec::new(), invitations: Vec::new() },
    };
    let mut c = Chrome::new(a, "/institution");
    if let Some(e) = err {
        c = c.with_error(e);
    }
    // The chooser: every institution for platform admins; for an admin of several, those they administer.
    let can_create = who.has(domain::Role::PlatformAdmin);
    let all: Vec<InstitutionView> = if can_create {
        all
    } else {
        let mine: Vec<_> = all.into_iter().filter(|i| who.holds_at(domain::Role::InstitutionAdmin, &i.id)).collect();
        if mine.len() > 1 { mine } else { Vec::new() }
    };
    let need_step_up = matches!(err, Some(AppError::StepUpRequired));
    Ok(render(&InstitutionPage { c, inst, all, staff, can_create, f, need_step_up }))
}

pub async fn institution(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Query(q): Query<FormData>,
) -> PageResult {
    let sel = Some(q.v("id")).filter(|v| !v.is_empty());
    institution_page(&s, &a, &who, sel, None, FormData::default()).await
}

pub async fn create_institution(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    let input = institution::CreateInstitution {
        name_zh: f.v("name_zh").into(),
        name_en: f.v("name_en").into(),
        kind: f.v("kind").into(),
        region_code: f.v("region_code").into(),
    };
    match institution::create(&s.app, &who, &a.ctx, input).await {
        Ok(id) => Ok(Redirect::to(&format!("/institution?id={id}")).into_response()),
        Err(e) => institution_page(&s, &a, &who, None, Some(&e), f).await,
    }
}

pub async fn add_department(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    let inst = f.v("institution_id").to_owned();
    match institution::add_department(&s.app, &who, &a.ctx, &inst, f.v("code"), f.v("name_zh"), f.v("name_en")).await {
        Ok(_) => Ok(Redirect::to(&format!("/institution?id={inst}")).into_response()),
        Err(e) => institution_page(&s, &a, &who, Some(&inst), Some(&e), f).await,
    }
}

pub async fn grant_role(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    let inst = f.v("institution_id").to_owned();
    let res = async {
        // B3: a code typed into the grant form is the step-up; the grant then runs with it.
        let mut who = who.clone();
        if !f.v("totp").is_empty() {
            app::account::step_up(&s.app, &who, &a.ctx, Some(f.v("totp")), None).await?;
            who.step_up_at = Some(s.app.clock.now());
        }
        app::account::grant_staff_role(&s.app, &who, &a.ctx, &inst, f.v("login"), f.v("role")).await
    }
    .await;
    match res {
        Ok(_) => Ok(Redirect::to(&format!("/institution?id={inst}#staff")).into_response()),
        Err(e) => {
            let mut kept = f;
            kept.0.remove("totp");
            institution_page(&s, &a, &who, Some(&inst), Some(&e), kept).await
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub c: Chrome,
    pub items: Vec<AuditEventView>,
    pub f: FormData,
    pub next_before: Option<i64>,
}

pub async fn audit(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Query(f): Query<FormData>,
) -> PageResult {
    let q = AuditQuery {
        actor_login: Some(f.v("actor").to_owned()),
        subject_patient_id: Some(f.v("patient").to_owned()),
        action: Some(f.v("action").to_owned()),
        outcome: Some(f.v("outcome").to_owned()),
        before_seq: f.v("before").parse().ok(),
    };
    let items = audit::list_events(&s.app, &who, &a.ctx, q).await.map_err(|e| PageError::new(e, &a))?;
    let next_before = (items.len() >= 100).then(|| items.last().map(|e| e.seq)).flatten();
    Ok(render(&AuditPage { c: Chrome::new(&a, "/audit"), items, f, next_before }))
}

#[derive(Template)]
#[template(path = "api_docs.html")]
pub struct ApiDocsPage {
    pub c: Chrome,
    pub routes: Vec<RouteSpec>,
}

pub async fn api_docs(State(s): State<AppState>, Caller(a): Caller) -> Response {
    let routes = s.routes.iter().filter(|r| r.is_api()).cloned().collect();
    render(&ApiDocsPage { c: Chrome::new(&a, "/api/docs"), routes })
}

pub async fn set_sla(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    let inst = f.v("institution_id").to_owned();
    let priority = f.v("priority_mins").parse().unwrap_or(0);
    let normal = f.v("normal_mins").parse().unwrap_or(0);
    match institution::set_sla(&s.app, &who, &a.ctx, &inst, priority, normal).await {
        Ok(()) => Ok(Redirect::to(&format!("/institution?id={inst}")).into_response()),
        Err(e) => institution_page(&s, &a, &who, Some(&inst), Some(&e), f).await,
    }
}
