//! Pages of one's own account: landing, sign-in (password + TOTP), registration, two-factor
//! enrolment, step-up, language switch, profile with consents and family members.

use app::{
    AppError,
    account::{self, LoginInput, ProfileView, RegisterDoctor, RegisterMinor, RegisterPatient, TotpEnrolment},
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
};

use super::{Chrome, FormData, PageError, PageResult, redirect_with_cookie, render, safe_next, session_cookie};
use crate::{
    AppState,
    auth::{Auth, Caller},
};

#[derive(Template)]
#[template(path = "landing.html")]
pub struct LandingPage {
    pub c: Chrome,
}

pub async fn landing(Caller(a): Caller) -> Response {
    if a.principal.is_some() {
        return Redirect::to("/home").into_response();
    }
    render(&LandingPage { c: Chrome::new(&a, "/") })
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub c: Chrome,
    pub f: FormData,
    pub need_totp: bool,
}

pub async fn login_form(Caller(a): Caller, Query(mut f): Query<FormData>) -> Response {
    // Issue 11 item 4: the form never carries a return target the submit would refuse.
    let next = safe_next(f.v("next")).to_owned();
    f.0.insert("next".into(), next);
    render(&LoginPage { c: Chrome::new(&a, "/login"), f, need_totp: false })
}

/// Signs in and starts a web session; staff without TOTP go to enrolment first.
async fn start_session(
    s: &AppState,
    a: &crate::auth::Authed,
    login: &str,
    password: &str,
    totp: Option<String>,
) -> Result<(account::LoginOutcome, HeaderValue), AppError> {
    let out = account::login(
        &s.app,
        &a.ctx,
        LoginInput { login: login.into(), password: password.into(), totp, kind: "web".into() },
    )
    .await?;
    let cookie = session_cookie(&out.token, s.app.config.session_absolute_secs, s.secure_cookies);
    Ok((out, cookie))
}

pub async fn login_submit(State(s): State<AppState>, Caller(a): Caller, Form(mut f): Form<FormData>) -> Response {
    let totp = Some(f.v("totp").to_owned()).filter(|t| !t.is_empty());
    match start_session(&s, &a, f.v("login"), f.v("password"), totp).await {
        Ok((out, cookie)) => {
            let to = if out.needs_totp_enrolment { "/totp" } else { safe_next(f.v("next")) };
            redirect_with_cookie(to, cookie)
        }
        Err(e) => {
            let need_totp = matches!(e, AppError::TotpRequired) || !f.v("totp").is_empty();
            f.0.remove("password");
            f.0.remove("totp");
            let c = Chrome::new(&a, "/login").with_error(&e);
            super::failed_with(render(&LoginPage { c, f, need_totp }), &e)
        }
    }
}

pub async fn logout(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth) -> Response {
    let _ = account::logout(&s.app, &who, &a.ctx).await;
    redirect_with_cookie("/", session_cookie("", 0, s.secure_cookies))
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub c: Chrome,
    pub f: FormData,
    pub doctor: bool,
}

pub async fn register_form(Caller(a): Caller, Query(f): Query<FormData>) -> Response {
    let doctor = f.is("as", "doctor");
    render(&RegisterPage { c: Chrome::new(&a, "/register"), f, doctor })
}

fn register_failed(a: &crate::auth::Authed, mut f: FormData, doctor: bool, e: &AppError) -> Response {
    f.0.remove("password");
    super::failed_with(render(&RegisterPage { c: Chrome::new(a, "/register").with_error(e), f, doctor }), e)
}

pub async fn register_patient(State(s): State<AppState>, Caller(a): Caller, Form(f): Form<FormData>) -> Response {
    let input = RegisterPatient {
        login: f.v("login").into(),
        password: f.v("password").into(),
        name: f.v("name").into(),
        phone: Some(f.v("phone").to_owned()),
        id_kind: f.v("id_kind").into(),
        id_number: f.v("id_number").into(),
        accept_privacy: f.checked("accept_privacy"),
        accept_sensitive: f.checked("accept_sensitive"),
        locale: a.lang.code().into(),
    };
    let res = async {
        account::register_patient(&s.app, &a.ctx, input).await?;
        start_session(&s, &a, f.v("login"), f.v("password"), None).await
    }
    .await;
    match res {
        Ok((_, cookie)) => redirect_with_cookie("/home", cookie),
        Err(e) => register_failed(&a, f, false, &e),
    }
}

pub async fn register_doctor(State(s): State<AppState>, Caller(a): Caller, Form(f): Form<FormData>) -> Response {
    let input = RegisterDoctor {
        login: f.v("login").into(),
        password: f.v("password").into(),
        name: f.v("name").into(),
        phone: Some(f.v("phone").to_owned()),
        accept_privacy: f.checked("accept_privacy"),
        accept_sensitive: f.checked("accept_sensitive"),
        locale: a.lang.code().into(),
    };
    let res = async {
        account::register_doctor(&s.app, &a.ctx, input).await?;
        start_session(&s, &a, f.v("login"), f.v("password"), None).await
    }
    .await;
    match res {
        // Staff enrol their second factor first, then submit verification.
        Ok((_, cookie)) => redirect_with_cookie("/totp", cookie),
        Err(e) => register_failed(&a, f, true, &e),
    }
}

#[derive(Template)]
#[template(path = "totp.html")]
pub struct TotpPage {
    pub c: Chrome,
    pub enrolment: Option<TotpEnrolment>,
    pub enabled: bool,
}

pub async fn totp_form(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth) -> PageResult {
    let enrolment = if who.totp_enabled {
        None
    } else if let Some(p) = account::pending_enrolment(&s.app, &who).await.map_err(|e| PageError::new(e, &a))? {
        Some(p)
    } else {
        Some(account::begin_totp_enrolment(&s.app, &who, &a.ctx).await.map_err(|e| PageError::new(e, &a))?)
    };
    Ok(render(&TotpPage { c: Chrome::new(&a, "/totp"), enabled: who.totp_enabled, enrolment }))
}

pub async fn totp_confirm(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    match account::confirm_totp_enrolment(&s.app, &who, &a.ctx, f.v("totp")).await {
        Ok(()) => {
            let to =
                if who.has(domain::Role::Doctor) && !who.doctor_verified { "/doctor/verification" } else { "/home" };
            Ok(Redirect::to(to).into_response())
        }
        Err(e) => {
            let enrolment = account::pending_enrolment(&s.app, &who).await.map_err(|e| PageError::new(e, &a))?;
            let page = render(&TotpPage { c: Chrome::new(&a, "/totp").with_error(&e), enabled: false, enrolment });
            Ok(super::failed_with(page, &e))
        }
    }
}

#[derive(Template)]
#[template(path = "step_up.html")]
pub struct StepUpPage {
    pub c: Chrome,
    pub next: String,
    pub use_totp: bool,
}

pub async fn step_up_form(Caller(a): Caller, Auth(who): Auth, Query(f): Query<FormData>) -> Response {
    let next = safe_next(f.v("next")).to_owned();
    render(&StepUpPage { c: Chrome::new(&a, "/step-up"), next, use_totp: who.totp_enabled })
}

pub async fn step_up_submit(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> Response {
    let totp = Some(f.v("totp")).filter(|t| !t.is_empty());
    let password = Some(f.v("password").to_owned()).filter(|p| !p.is_empty());
    match account::step_up(&s.app, &who, &a.ctx, totp, password).await {
        Ok(()) => Redirect::to(safe_next(f.v("next"))).into_response(),
        // Issue 11 item 12: too many wrong answers ended the session; sign in again.
        Err(AppError::Unauthenticated) => Redirect::to("/login").into_response(),
        Err(e) => {
            let page = render(&StepUpPage {
                c: Chrome::new(&a, "/step-up").with_error(&e),
                next: safe_next(f.v("next")).into(),
                use_totp: who.totp_enabled,
            });
            super::failed_with(page, &e)
        }
    }
}

pub async fn switch_lang(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(code): Path<String>,
    Query(f): Query<FormData>,
) -> Response {
    let lang = crate::i18n::Lang::from_code(&code);
    if let Some(p) = &a.principal {
        let _ = account::set_locale(&s.app, p, lang.code()).await;
    }
    let mut r = Redirect::to(safe_next(f.v("next"))).into_response();
    let cookie = format!("{}={}; Path=/; Max-Age=31536000; SameSite=Lax", crate::auth::LANG_COOKIE, lang.code());
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Template)]
#[template(path = "profile.html")]
pub struct ProfilePage {
    pub c: Chrome,
    pub p: ProfileView,
    pub consents: Vec<account::ConsentView>,
    pub f: FormData,
}

async fn profile_page(
    s: &AppState,
    a: &crate::auth::Authed,
    who: &app::Principal,
    err: Option<&AppError>,
    f: FormData,
) -> PageResult {
    let p = account::my_profile(&s.app, who, &a.ctx).await.map_err(|e| PageError::new(e, a))?;
    let consents = account::list_consents(&s.app, who).await.map_err(|e| PageError::new(e, a))?;
    let mut c = Chrome::new(a, "/profile");
    if let Some(e) = err {
        c = c.with_error(e);
    }
    Ok(render(&ProfilePage { c, p, consents, f }))
}

pub async fn profile(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth) -> PageResult {
    profile_page(&s, &a, &who, None, FormData::default()).await
}

pub async fn add_ward(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    let input =
        RegisterMinor { name: f.v("name").into(), id_kind: f.v("id_kind").into(), id_number: f.v("id_number").into() };
    match account::register_minor(&s.app, &who, &a.ctx, input).await {
        Ok(_) => Ok(Redirect::to("/profile#family").into_response()),
        Err(e) => profile_page(&s, &a, &who, Some(&e), f).await,
    }
}

pub async fn withdraw_consent(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    match account::withdraw_consent(&s.app, &who, &a.ctx, f.v("kind")).await {
        Ok(()) => Ok(Redirect::to("/profile#consents").into_response()),
        Err(e) => profile_page(&s, &a, &who, Some(&e), FormData::default()).await,
    }
}

pub async fn add_patient(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    match account::add_patient_identity(&s.app, &who, &a.ctx, f.v("id_kind"), f.v("id_number")).await {
        Ok(()) => Ok(Redirect::to("/profile").into_response()),
        Err(e) => profile_page(&s, &a, &who, Some(&e), f).await,
    }
}

/// `POST /profile/invitations/{id}/{accept|decline}`: the invited person answers (issue 11 item 1).
pub async fn decide_invitation(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path((id, action)): Path<(String, String)>,
) -> PageResult {
    let accept = match action.as_str() {
        "accept" => true,
        "decline" => false,
        _ => return Err(PageError::new(AppError::NotFound, &a)),
    };
    match account::decide_invitation(&s.app, &who, &a.ctx, &id, accept).await {
        Ok(()) => Ok(Redirect::to("/profile").into_response()),
        Err(e) => profile_page(&s, &a, &who, Some(&e), FormData::default()).await,
    }
}
