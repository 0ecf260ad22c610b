//! Server-rendered pages (askama, zh-CN + English, mobile first). Each handler builds a page struct
//! holding a [`Chrome`] (language, the signed-in user, CSRF token, messages) and renders it; form
//! errors re-render the same form with the message and the input kept.

mod account;
mod admin;
mod call;
mod care;
mod consult;
mod home;
mod inbox;
mod red_flags;

use std::collections::BTreeMap;

use app::{AppError, Principal};
use askama::Template;
use axum::{
    handler::Handler,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use domain::Role;

use crate::{
    auth::Authed,
    error::{public_message, status_of},
    i18n::{Lang, Tr},
    registry::{Policy, Routes},
};

pub fn routes(r: Routes) -> Routes {
    use Policy::{Authenticated, Public, Roles};
    let admins = crate::api::ADMINS;
    r.get("/", Public, "Landing page", account::landing)
        .get("/login", Public, "Sign-in form", account::login_form)
        .post("/login", Public, "Sign in", account::login_submit)
        .post("/logout", Authenticated, "Sign out", account::logout)
        .get("/register", Public, "Registration form (patient, or ?as=doctor)", account::register_form)
        .post("/register", Public, "Register a patient", account::register_patient)
        .post("/register/doctor", Public, "Register a doctor", account::register_doctor)
        .get("/totp", Authenticated, "Two-factor enrolment", account::totp_form)
        .post("/totp", Authenticated, "Confirm two-factor enrolment", account::totp_confirm)
        .get("/step-up", Authenticated, "Confirm identity for a sensitive operation", account::step_up_form)
        .post("/step-up", Authenticated, "Submit step-up code", account::step_up_submit)
        .get("/lang/{code}", Public, "Switch language", account::switch_lang)
        .get("/home", Authenticated, "Home page for the user's roles", home::home)
        .get("/profile", Authenticated, "Profile, consents and family members", account::profile)
        .post("/profile/patient", Authenticated, "Add a patient identity to one's account", account::add_patient)
        .post("/profile/wards", Roles(&[Role::Patient]), "Register a child", account::add_ward)
        .post("/profile/consents/withdraw", Authenticated, "Withdraw a consent", account::withdraw_consent)
        .post(
            "/profile/invitations/{id}/{action}",
            Authenticated,
            "Accept or decline a staff-role invitation",
            account::decide_invitation,
        )
        .get("/doctor/verification", Authenticated, "Doctor verification form and status", admin::verification_form)
        .post(
            "/doctor/verification",
            Roles(&[Role::Doctor]),
            "Submit doctor verification",
            admin::verification_submit.layer(crate::api::admin::verification_body_limit()),
        )
        .get("/admin/verifications", Roles(admins), "Verification review queue", admin::queue)
        .post("/admin/verifications/{id}/decision", Roles(admins), "Approve or reject", admin::decide)
        .get("/admin/verifications/{id}/documents/{which}", Roles(admins), "View an uploaded document", admin::document)
        .get("/institution", Roles(admins), "Institution admin: departments and staff", admin::institution)
        .post("/institution/create", Roles(&[Role::PlatformAdmin]), "Create an institution", admin::create_institution)
        .post("/institution/sla", Roles(admins), "Set response-time limits", admin::set_sla)
        .get("/articles/{slug}", Public, "A health-education article", consult::article)
        .get("/health-record", Roles(&[Role::Patient]), "My health record (saved articles)", consult::health_record)
        .post(
            "/health-record/articles",
            Roles(&[Role::Patient]),
            "Save an article to my health record",
            consult::save_article,
        )
        .post("/consultations/{id}/article", Roles(&[Role::Doctor]), "Send an education article", consult::article_card)
        .post("/consultations/{id}/call", Authenticated, "Start a voice or video call", consult::start_call)
        .get("/calls/check", Authenticated, "Pre-call check: camera, microphone, network", call::check)
        .get("/calls/{id}", Authenticated, "The call screen (participants only)", call::page)
        .get("/join/{token}", Public, "A guest's one-time call link: who invites them, and Join", call::join_page)
        .post("/join/{token}", Public, "A guest joins: the link is used up, a call-only cookie is set", call::join)
        .get("/guest/call", Public, "The call screen for a guest (cookie from a one-time link)", call::guest_page)
        .post(
            "/consultations/{id}/calculator",
            Roles(&[Role::Doctor]),
            "Send a calculator result card",
            consult::calculator_card,
        )
        .post("/institution/departments", Roles(admins), "Add a department", admin::add_department)
        .post("/institution/staff", Roles(admins), "Grant a staff role", admin::grant_role)
        .get("/audit", Roles(crate::api::AUDITORS), "Audit log viewer", admin::audit)
        .get("/api/docs", Public, "API reference page", admin::api_docs)
        .get("/admin/red-flags", Roles(&[Role::PlatformAdmin]), "Red-flag word list (120 notice)", red_flags::show)
        .post("/admin/red-flags", Roles(&[Role::PlatformAdmin]), "Add a red-flag term", red_flags::add)
        .post("/admin/red-flags/delete", Roles(&[Role::PlatformAdmin]), "Remove a red-flag term", red_flags::delete)
        .get("/search", Authenticated, "Search my records", consult::search)
        .get("/consultations", Authenticated, "My consultations and the doctor's queue", consult::list)
        .get("/consultations/new", Roles(&[Role::Patient]), "New consultation form", consult::new_form)
        .post("/consultations", Roles(&[Role::Patient]), "Start a consultation", consult::start)
        .get("/consultations/{id}", Authenticated, "The conversation", consult::show)
        .post("/consultations/{id}/messages", Authenticated, "Send a message (form)", consult::send)
        .post("/consultations/{id}/claim", Roles(&[Role::Doctor]), "Take a team consultation", consult::claim)
        .get("/attachments/{id}", Authenticated, "An image with its annotations", consult::image)
        .post(
            "/consultations/{id}/correct",
            Roles(&[Role::Doctor]),
            "Correct a closed record (new version)",
            consult::correct,
        )
        .get(
            "/consultations/{id}/export/fhir",
            Authenticated,
            "Download the record as FHIR R4 (step-up)",
            consult::export_fhir,
        )
        .get(
            "/consultations/{id}/export/pdf",
            Authenticated,
            "Download the record as PDF (step-up)",
            consult::export_pdf,
        )
        .get(
            "/patients/{id}/export/pdf",
            Authenticated,
            "Download a patient's whole record as PDF (step-up)",
            consult::export_record_pdf,
        )
        .post("/consultations/{id}/plan", Roles(&[Role::Doctor]), "Send a medication plan card", consult::plan)
        .post(
            "/consultations/{id}/attachments",
            Authenticated,
            "Attach a photo or PDF (form)",
            consult::upload.layer(crate::api::consultation::upload_body_limit()),
        )
        .post("/consultations/{id}/handover", Roles(&[Role::Doctor]), "Hand over to another doctor", consult::handover)
        .post("/consultations/{id}/close", Roles(&[Role::Doctor]), "Close with summary and diagnoses", consult::close)
        .post("/consultations/{id}/rating", Roles(&[Role::Patient]), "Rate the consultation", consult::rate)
        .get("/care", Roles(&[Role::Patient]), "My follow-up: readings due, trends, devices (D1–D5)", care::mine)
        .post("/care/readings", Roles(&[Role::Patient]), "Record a reading by hand", care::record)
        .post("/care/devices", Roles(&[Role::Patient]), "Pair a device (its secret is shown once)", care::pair)
        .get(
            "/care/patients",
            Roles(&[Role::Doctor, Role::Nurse]),
            "My follow-up patients and visits due",
            care::followed,
        )
        .get(
            "/patients/{id}/care",
            Roles(&[Role::Doctor, Role::Nurse]),
            "A patient's care panel: plans, alerts, tasks, trends",
            care::panel,
        )
        .post("/patients/{id}/care/plans", Roles(&[Role::Doctor]), "Start a follow-up plan (form)", care::create_plan)
        .post("/plans/{id}/end", Roles(&[Role::Doctor]), "End a follow-up plan", care::end_plan)
        .post(
            "/tasks/{id}/start",
            Roles(&[Role::Doctor]),
            "Start a due follow-up visit as a consultation",
            care::start_visit,
        )
        .get("/inbox", Authenticated, "My notifications", inbox::inbox)
        .get("/inbox/{id}", Authenticated, "Open a notification (marks it read) ?via=email|sms", inbox::open)
        .post("/inbox/read-all", Authenticated, "Mark every notification read", inbox::read_all)
        .get("/settings/notifications", Authenticated, "Notification channels, quiet hours, time zone", inbox::settings)
        .post("/settings/notifications", Authenticated, "Save notification settings", inbox::save_settings)
        .get(
            "/institution/care",
            Roles(&[Role::InstitutionAdmin]),
            "Plan templates, completion and reach",
            inbox::care_settings,
        )
        .post(
            "/institution/care/templates/{key}",
            Roles(&[Role::InstitutionAdmin]),
            "Save the institution's version of a plan template",
            inbox::save_template,
        )
        .get("/static/{*path}", Public, "Embedded assets", crate::assets::serve)
}

/// A navigation link.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
}

/// What every page shows around its content.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub t: Tr,
    pub user: Option<Principal>,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub path: String,
}

impl Chrome {
    pub fn new(a: &Authed, path: &str) -> Self {
        let t = Tr(a.lang);
        let nav = a.principal.as_ref().map(|p| nav_for(p, t)).unwrap_or_default();
        Self {
            t,
            csrf: a.principal.as_ref().map(|p| p.csrf_token.clone()).unwrap_or_default(),
            user: a.principal.clone(),
            nav,
            error: None,
            notice: None,
            path: path.to_owned(),
        }
    }

    pub fn with_error(mut self, e: &AppError) -> Self {
        self.error = Some(localized_error(e, self.t));
        self
    }

    pub fn other_lang(&self) -> &'static str {
        self.t.0.other().code()
    }

    pub fn other_lang_label(&self) -> &'static str {
        match self.t.0 {
            Lang::Zh => "English",
            Lang::En => "中文",
        }
    }

    pub fn role_labels(&self) -> String {
        self.user
            .as_ref()
            .map(|p| p.roles.iter().map(|r| self.t.t(role_key(*r))).collect::<Vec<_>>().join(" · "))
            .unwrap_or_default()
    }
}

pub fn role_key(r: Role) -> &'static str {
    match r {
        Role::Patient => "role.patient",
        Role::Doctor => "role.doctor",
        Role::Nurse => "role.nurse",
        Role::Pharmacist => "role.pharmacist",
        Role::Therapist => "role.therapist",
        Role::QualityReviewer => "role.quality_reviewer",
        Role::InstitutionAdmin => "role.institution_admin",
        Role::PlatformAdmin => "role.platform_admin",
        Role::Auditor => "role.auditor",
    }
}

fn nav_for(p: &Principal, t: Tr) -> Vec<NavItem> {
    let mut v = vec![NavItem { href: "/home", label: t.t("nav.home") }];
    if p.has(Role::Patient) || p.doctor_verified {
        v.push(NavItem { href: "/consultations", label: t.t("nav.consultations") });
        v.push(NavItem { href: "/search", label: t.t("nav.search") });
        if p.has(Role::Patient) {
            v.push(NavItem { href: "/health-record", label: t.t("nav.health_record") });
        }
    }
    if p.has(Role::Patient) {
        v.push(NavItem { href: "/care", label: t.t("nav.care") });
    }
    if p.has_any(&[Role::Doctor, Role::Nurse]) {
        v.push(NavItem { href: "/care/patients", label: t.t("nav.followup") });
    }
    if p.has(Role::Doctor) {
        v.push(NavItem { href: "/doctor/verification", label: t.t("nav.verification") });
    }
    if p.has(Role::InstitutionAdmin) {
        v.push(NavItem { href: "/institution/care", label: t.t("nav.care_settings") });
    }
    v.push(NavItem { href: "/inbox", label: t.t("nav.inbox") });
    if p.has_any(crate::api::ADMINS) {
        v.push(NavItem { href: "/admin/verifications", label: t.t("nav.review") });
        v.push(NavItem { href: "/institution", label: t.t("nav.institution") });
    }
    if p.has(Role::PlatformAdmin) {
        v.push(NavItem { href: "/admin/red-flags", label: t.t("nav.red_flags") });
    }
    if p.has_any(crate::api::AUDITORS) {
        v.push(NavItem { href: "/audit", label: t.t("nav.audit") });
    }
    v.push(NavItem { href: "/profile", label: t.t("nav.profile") });
    v
}

/// The user-facing message for an error, in the page's language where we have one.
pub fn localized_error(e: &AppError, t: Tr) -> String {
    let key = format!("err.{}", e.code());
    let msg = t.t(&key);
    if msg == key { public_message(e) } else { msg.to_owned() }
}

/// Submitted form values, kept so a failed form comes back filled in.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct FormData(pub BTreeMap<String, String>);

impl FormData {
    pub fn v(&self, k: &str) -> &str {
        self.0.get(k).map_or("", String::as_str)
    }

    pub fn checked(&self, k: &str) -> bool {
        matches!(self.v(k), "on" | "true" | "1" | "yes")
    }

    pub fn is(&self, k: &str, value: &str) -> bool {
        self.v(k) == value
    }
}

pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub c: Chrome,
    pub status: u16,
}

/// An error on a page that has no form to re-render.
pub struct PageError {
    err: AppError,
    authed: Authed,
}

impl PageError {
    pub fn plain(err: AppError, lang: Lang) -> Self {
        Self { err, authed: Authed { lang, ..Authed::default() } }
    }

    pub fn new(err: AppError, authed: &Authed) -> Self {
        Self { err, authed: authed.clone() }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self.err {
            AppError::Unauthenticated => return Redirect::to("/login").into_response(),
            AppError::SecondFactorRequired => return Redirect::to("/totp").into_response(),
            _ => {}
        }
        let status = status_of(&self.err);
        let c = Chrome::new(&self.authed, "").with_error(&self.err);
        let mut resp = render(&ErrorPage { c, status: status.as_u16() });
        *resp.status_mut() = status;
        crate::error::with_retry_after(resp, &self.err)
    }
}

pub type PageResult = Result<Response, PageError>;

/// A form page re-rendered with `e`: its status, and `Retry-After` when throttled (issue 11 item 8).
pub fn failed_with(mut page: Response, e: &AppError) -> Response {
    *page.status_mut() = status_of(e);
    crate::error::with_retry_after(page, e)
}

/// Percent-encodes a value for a query string.
pub fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Only same-origin paths are accepted as redirect targets (issue 11 item 4: no open redirects).
pub use crate::redirect::safe_next;

/// The `Set-Cookie` header value for a session.
pub fn session_cookie(token: &str, max_age: i64, secure: bool) -> HeaderValue {
    let v = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        crate::auth::SESSION_COOKIE,
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static(""))
}

pub fn redirect_with_cookie(to: &str, cookie: HeaderValue) -> Response {
    let mut r = Redirect::to(to).into_response();
    r.headers_mut().append(header::SET_COOKIE, cookie);
    r
}
