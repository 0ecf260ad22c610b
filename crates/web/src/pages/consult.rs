//! Consultation pages (A1–A7): the patient's list and "new consultation" form, the doctor's queue
//! with live countdowns, and the conversation page. Everything works as plain forms; the small
//! `consult.js` module adds live messages, receipts, typing and countdowns over the WebSocket.

use app::{
    AppError,
    consultation::{self, ConsultationSummary, ConsultationView, DoctorListing, MessageView, StartConsultation},
    institution::{self, InstitutionView},
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};

use super::{Chrome, FormData, PageError, PageResult, render};
use crate::{
    AppState,
    auth::{Auth, Authed, Caller},
};

#[derive(Template)]
#[template(path = "consultations.html")]
pub struct ListPage {
    pub c: Chrome,
    pub mine: Vec<ConsultationSummary>,
    pub queue: Vec<ConsultationSummary>,
    pub is_patient: bool,
    pub is_doctor: bool,
}

pub async fn list(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth) -> PageResult {
    let (mine, queue) = consultation::list_mine(&s.app, &who).await.map_err(|e| PageError::new(e, &a))?;
    let is_doctor = who.doctor_verified && who.second_factor;
    Ok(render(&ListPage {
        c: Chrome::new(&a, "/consultations"),
        mine,
        queue,
        is_patient: who.has(domain::Role::Patient),
        is_doctor,
    }))
}

#[derive(Template)]
#[template(path = "consultation_new.html")]
pub struct NewPage {
    pub c: Chrome,
    pub institutions: Vec<InstitutionView>,
    pub doctors: Vec<DoctorListing>,
    pub f: FormData,
}

async fn new_page(s: &AppState, a: &Authed, err: Option<&AppError>, f: FormData) -> PageResult {
    let institutions = institution::list(&s.app).await.map_err(|e| PageError::new(e, a))?;
    let doctors = consultation::list_doctors(&s.app, f.v("q"), None).await.map_err(|e| PageError::new(e, a))?;
    let mut c = Chrome::new(a, "/consultations/new");
    if let Some(e) = err {
        c = c.with_error(e);
    }
    Ok(render(&NewPage { c, institutions, doctors, f }))
}

pub async fn new_form(State(s): State<AppState>, Caller(a): Caller, Query(f): Query<FormData>) -> PageResult {
    new_page(&s, &a, None, f).await
}

pub async fn start(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    let target = f.v("target");
    let (doctor, department) = match target.split_once(':') {
        Some(("doctor", id)) => (Some(id.to_owned()), None),
        Some(("department", id)) => (None, Some(id.to_owned())),
        _ => (None, None),
    };
    let input = StartConsultation {
        doctor,
        department,
        complaint: f.v("complaint").into(),
        priority: f.checked("priority"),
        prior_diagnosis: Some(f.v("prior_diagnosis").to_owned()),
        has_proof: f.checked("has_proof"),
        patient: Some(f.v("patient").to_owned()).filter(|p| !p.is_empty()),
    };
    match consultation::start(&s.app, &who, &a.ctx, input).await {
        Ok(v) => Ok(Redirect::to(&format!("/consultations/{}", v.s.id)).into_response()),
        Err(e) => new_page(&s, &a, Some(&e), f).await,
    }
}

#[derive(Template)]
#[template(path = "consultation.html")]
pub struct ConversationPage {
    pub c: Chrome,
    pub v: ConsultationView,
    pub messages: Vec<MessageView>,
    pub me: String,
    pub can_close: bool,
    pub can_claim: bool,
    pub can_rate: bool,
    /// C1: the consultation's doctor may issue a corrected version of a closed record.
    pub can_correct: bool,
    pub icd10: Vec<&'static domain::icd10::Icd10Entry>,
    pub f: FormData,
    /// A3: the patient's earlier consultations, for the doctor side.
    pub history: Option<Vec<consultation::HistoryItem>>,
    /// Colleagues a consultation can be handed over to.
    pub colleagues: Vec<DoctorListing>,
    pub plan_rows: Vec<usize>,
    pub articles: &'static [domain::education::Article],
    pub times_of_day: [&'static str; 4],
    pub calculators: [&'static str; 4],
    /// Label keys under `calc.` the page hands to the script for live calculator cards.
    pub calc_labels: &'static [&'static str],
    /// D3: the doctor's side panel shows the patient's 3-month trend when they are on a plan.
    pub trend: Option<String>,
}

/// Every `calc.*` label a calculator card can show.
const CALC_LABELS: &[&str] = &[
    "bmi",
    "egfr",
    "blood_pressure",
    "due_date",
    "basis",
    "field.height",
    "field.weight",
    "field.creatinine",
    "field.age",
    "field.sex",
    "field.systolic",
    "field.diastolic",
    "field.last_period",
    "field.gestational_age",
    "sex.female",
    "sex.male",
];

async fn conversation(s: &AppState, a: &Authed, id: &str, err: Option<&AppError>, f: FormData) -> PageResult {
    let who = a.principal.as_ref().ok_or_else(|| PageError::new(AppError::Unauthenticated, a))?;
    let v = consultation::get(&s.app, who, &a.ctx, id).await.map_err(|e| PageError::new(e, a))?;
    let messages = consultation::messages(&s.app, who, &a.ctx, id, 0).await.map_err(|e| PageError::new(e, a))?;
    let history = if v.as_patient || !who.doctor_verified {
        None
    } else {
        Some(consultation::patient_history(&s.app, who, &a.ctx, id).await.map_err(|e| PageError::new(e, a))?)
    };
    let colleagues = if history.is_some() {
        consultation::list_doctors(&s.app, "", None)
            .await
            .map_err(|e| PageError::new(e, a))?
            .into_iter()
            .filter(|d| d.id != who.user_id)
            .collect()
    } else {
        Vec::new()
    };
    let trend = match &history {
        Some(_) => super::care::side_trend(s, a, who, &v.s.patient_id).await?,
        None => None,
    };
    let open = v.s.status != "closed";
    let mine = v.s.doctor_id.as_deref() == Some(who.user_id.as_str());
    let mut c = Chrome::new(a, "/consultations");
    if let Some(e) = err {
        c = c.with_error(e);
    }
    Ok(render(&ConversationPage {
        can_close: open && (mine || (v.s.doctor_id.is_none() && !v.as_patient)),
        can_claim: open && v.s.doctor_id.is_none() && !v.as_patient,
        can_rate: !open && v.as_patient && v.rating.is_none(),
        can_correct: !open && mine,
        icd10: domain::icd10::ICD10_COMMON.iter().collect(),
        me: who.user_id.clone(),
        c,
        v,
        messages,
        f,
        history,
        colleagues,
        plan_rows: (0..PLAN_ROWS).collect(),
        articles: domain::education::ARTICLES,
        times_of_day: domain::card::TIMES_OF_DAY,
        calculators: domain::calculator::CALCULATORS,
        calc_labels: CALC_LABELS,
        trend,
    }))
}

pub async fn show(State(s): State<AppState>, Caller(a): Caller, Path(id): Path<String>) -> PageResult {
    conversation(&s, &a, &id, None, FormData::default()).await
}

pub async fn send(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let client_id = Some(f.v("client_id").to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    match consultation::send_message(&s.app, &who, &a.ctx, &id, &client_id, f.v("text")).await {
        Ok(_) => Ok(Redirect::to(&format!("/consultations/{id}#end")).into_response()),
        Err(e) => conversation(&s, &a, &id, Some(&e), f).await,
    }
}

pub async fn claim(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> PageResult {
    match consultation::claim(&s.app, &who, &a.ctx, &id).await {
        Ok(()) => Ok(Redirect::to(&format!("/consultations/{id}")).into_response()),
        Err(e) => conversation(&s, &a, &id, Some(&e), FormData::default()).await,
    }
}

pub async fn close(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let codes: Vec<String> = diagnosis_list(f.v("diagnoses"));
    match consultation::close(&s.app, &who, &a.ctx, &id, f.v("summary"), &codes).await {
        Ok(()) => Ok(Redirect::to(&format!("/consultations/{id}")).into_response()),
        Err(e) => conversation(&s, &a, &id, Some(&e), f).await,
    }
}

pub async fn rate(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let stars = f.v("stars").parse().unwrap_or(0);
    match consultation::rate(&s.app, &who, &a.ctx, &id, stars, f.v("comment")).await {
        Ok(()) => Ok(Redirect::to(&format!("/consultations/{id}")).into_response()),
        Err(e) => conversation(&s, &a, &id, Some(&e), f).await,
    }
}

pub async fn handover(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    match consultation::handover(&s.app, &who, &a.ctx, &id, f.v("to"), f.v("note")).await {
        Ok(()) => Ok(Redirect::to("/consultations").into_response()),
        Err(e) => conversation(&s, &a, &id, Some(&e), f).await,
    }
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub c: Chrome,
    pub f: FormData,
    pub hits: Option<Vec<consultation::SearchHit>>,
}

pub async fn search(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Query(f): Query<FormData>,
) -> PageResult {
    let asked = ["q", "from", "to", "icd"].iter().any(|k| !f.v(k).is_empty());
    let mut c = Chrome::new(&a, "/search");
    let hits = if asked {
        let input = async {
            Ok::<_, AppError>(consultation::SearchInput {
                q: f.v("q").to_owned(),
                from: crate::api::consultation::date_param(Some(f.v("from")))?,
                to: crate::api::consultation::date_param(Some(f.v("to")))?,
                icd: Some(f.v("icd").to_owned()),
            })
        }
        .await;
        match input {
            Ok(i) => match consultation::search(&s.app, &who, &a.ctx, i).await {
                Ok(h) => Some(h),
                Err(e) => {
                    c = c.with_error(&e);
                    None
                }
            },
            Err(e) => {
                c = c.with_error(&e);
                None
            }
        }
    } else {
        None
    };
    Ok(render(&SearchPage { c, f, hits }))
}

pub async fn upload(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    form: axum::extract::Multipart,
) -> PageResult {
    let res = async {
        let up = crate::api::consultation::read_upload(form).await?;
        consultation::attachment::upload(&s.app, &who, &a.ctx, &id, up).await
    }
    .await;
    match res {
        Ok(_) => Ok(Redirect::to(&format!("/consultations/{id}#end")).into_response()),
        Err(e) => conversation(&s, &a, &id, Some(&e), FormData::default()).await,
    }
}

/// The medication-plan form: rows `drug_N`, `dose_N`, `days_N`, `note_N` and checkboxes `time_N_<slot>`.
pub async fn plan(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let rows = (0..PLAN_ROWS)
        .map(|i| domain::card::MedicationRow {
            drug: f.v(&format!("drug_{i}")).to_owned(),
            dose: f.v(&format!("dose_{i}")).to_owned(),
            times: domain::card::TIMES_OF_DAY
                .iter()
                .filter(|t| f.checked(&format!("time_{i}_{t}")))
                .map(|t| (*t).to_owned())
                .collect(),
            days: f.v(&format!("days_{i}")).parse().unwrap_or(0),
            note: f.v(&format!("note_{i}")).to_owned(),
        })
        .collect();
    let client_id = Some(f.v("client_id").to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    match consultation::send_medication_plan(
        &s.app,
        &who,
        &a.ctx,
        &id,
        &client_id,
        domain::card::MedicationPlan { rows },
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/consultations/{id}#end")).into_response()),
        Err(e) => conversation(&s, &a, &id, Some(&e), f).await,
    }
}

/// How many rows the plan form offers.
pub const PLAN_ROWS: usize = 4;

/// Downloads the FHIR export; asks for step-up first when it is not fresh (B3).
pub async fn export_fhir(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> PageResult {
    match consultation::export::fhir_bundle(&s.app, &who, &a.ctx, &id).await {
        Ok(bundle) => Ok(crate::api::consultation::fhir_response(&id, &bundle)),
        Err(AppError::StepUpRequired) => Ok(Redirect::to(&format!(
            "/step-up?next={}",
            super::url_encode(&format!("/consultations/{id}/export/fhir"))
        ))
        .into_response()),
        Err(e) => Err(PageError::new(e, &a)),
    }
}

/// Downloads the PDF export of one consultation; asks for step-up first when it is not fresh (C3, B3).
pub async fn export_pdf(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> PageResult {
    let res = consultation::pdf::consultation_pdf(&s.app, &who, &a.ctx, &id).await;
    pdf_download(res, &format!("/consultations/{id}/export/pdf")).map_err(|e| PageError::new(e, &a))
}

/// Downloads a patient's whole record as PDF (own, a ward's, or as their doctor); step-up first.
pub async fn export_record_pdf(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> PageResult {
    let res = consultation::pdf::record_pdf(&s.app, &who, &a.ctx, &id).await;
    pdf_download(res, &format!("/patients/{id}/export/pdf")).map_err(|e| PageError::new(e, &a))
}

/// The file, or the step-up page that comes back to `here` (B3).
fn pdf_download(res: Result<consultation::pdf::PdfExport, AppError>, here: &str) -> Result<Response, AppError> {
    match res {
        Ok(export) => Ok(crate::api::export::pdf_response(export)),
        Err(AppError::StepUpRequired) => {
            Ok(Redirect::to(&format!("/step-up?next={}", super::url_encode(here))).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template)]
#[template(path = "image.html")]
pub struct ImagePage {
    pub c: Chrome,
    pub a: consultation::annotation::AnnotationView,
    pub shapes_json: String,
}

/// An image with its annotation overlay; the consultation's doctor can draw on it (A4).
pub async fn image(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> PageResult {
    let view = consultation::annotation::get(&s.app, &who, &a.ctx, &id).await.map_err(|e| PageError::new(e, &a))?;
    let shapes_json = serde_json::to_string(&view.shapes).unwrap_or_else(|_| "[]".into());
    Ok(render(&ImagePage { c: Chrome::new(&a, "/consultations"), a: view, shapes_json }))
}

/// A correction of a closed record; the authenticator code in the form is the step-up (B3).
pub async fn correct(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let res = async {
        let mut who = who.clone();
        if !f.v("totp").is_empty() {
            app::account::step_up(&s.app, &who, &a.ctx, Some(f.v("totp")), None).await?;
            who.step_up_at = Some(s.app.clock.now());
        }
        let codes: Vec<String> = diagnosis_list(f.v("diagnoses"));
        consultation::correction::correct(&s.app, &who, &a.ctx, &id, f.v("reason"), f.v("summary"), &codes).await
    }
    .await;
    match res {
        Ok(_) => Ok(Redirect::to(&format!("/consultations/{id}#closing")).into_response()),
        Err(e) => {
            let mut kept = f;
            kept.0.remove("totp");
            conversation(&s, &a, &id, Some(&e), kept).await
        }
    }
}

pub async fn article_card(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let client_id = uuid::Uuid::new_v4().simple().to_string();
    match consultation::send_article(&s.app, &who, &a.ctx, &id, &client_id, f.v("slug")).await {
        Ok(_) => Ok(Redirect::to(&format!("/consultations/{id}#end")).into_response()),
        Err(e) => conversation(&s, &a, &id, Some(&e), f).await,
    }
}

/// A6: the calculator form — `calculator` picks which inputs count; the server computes the result.
pub async fn calculator_card(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    use domain::calculator::CalcInput;
    let num = |k: &str| f.v(k).trim().parse::<f64>().unwrap_or(f64::NAN);
    let input = match f.v("calculator") {
        "bmi" => Some(CalcInput::Bmi { height_cm: num("height_cm"), weight_kg: num("weight_kg") }),
        "egfr" => Some(CalcInput::Egfr {
            creatinine_umol_l: num("creatinine_umol_l"),
            age_years: num("age_years"),
            female: f.is("sex", "female"),
        }),
        "blood_pressure" => Some(CalcInput::BloodPressure { systolic: num("systolic"), diastolic: num("diastolic") }),
        "due_date" => f.v("last_period").parse().ok().map(|d| CalcInput::DueDate { last_period: d }),
        _ => None,
    };
    let client_id = Some(f.v("client_id").to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let res = match input {
        Some(input) => consultation::send_calculator(&s.app, &who, &a.ctx, &id, &client_id, &input).await,
        None => Err(AppError::invalid(
            domain::calculator::CalcError::OutOfRange.code(),
            domain::calculator::CalcError::OutOfRange.message(),
        )),
    };
    match res {
        Ok(_) => Ok(Redirect::to(&format!("/consultations/{id}#end")).into_response()),
        Err(e) => conversation(&s, &a, &id, Some(&e), f).await,
    }
}

/// Starts a call from the conversation and opens the call screen (A1, F3).
pub async fn start_call(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    match app::call::start(&s.app, &who, &a.ctx, &id, f.v("kind")).await {
        Ok(call) => Ok(Redirect::to(&format!("/calls/{}", call.id)).into_response()),
        Err(e) => conversation(&s, &a, &id, Some(&e), f).await,
    }
}

#[derive(Template)]
#[template(path = "article.html")]
pub struct ArticlePage {
    pub c: Chrome,
    pub a: &'static domain::education::Article,
    pub from: String,
}

/// An education article (public: it is general guidance).
pub async fn article(Caller(a): Caller, Path(slug): Path<String>, Query(f): Query<FormData>) -> PageResult {
    let art = domain::education::find(&slug).ok_or_else(|| PageError::new(AppError::NotFound, &a))?;
    Ok(render(&ArticlePage { c: Chrome::new(&a, "/health-record"), a: art, from: f.v("from").to_owned() }))
}

#[derive(Template)]
#[template(path = "health_record.html")]
pub struct HealthRecordPage {
    pub c: Chrome,
    pub articles: Vec<app::health_record::SavedArticle>,
    /// The patient whose whole record the PDF button exports (C3).
    pub patient_id: String,
}

pub async fn health_record(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth) -> PageResult {
    let articles = app::health_record::articles(&s.app, &who).await.map_err(|e| PageError::new(e, &a))?;
    Ok(render(&HealthRecordPage { c: Chrome::new(&a, "/health-record"), articles, patient_id: who.user_id.clone() }))
}

pub async fn save_article(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    let from = Some(f.v("consultation_id")).filter(|c| !c.is_empty());
    app::health_record::save_article(&s.app, &who, &a.ctx, f.v("slug"), from)
        .await
        .map_err(|e| PageError::new(e, &a))?;
    let back = match from {
        Some(c) => format!("/consultations/{c}#end"),
        None => "/health-record".to_owned(),
    };
    Ok(Redirect::to(super::safe_next(&back)).into_response())
}

/// The ICD-10 codes typed into a form field, separated by commas, spaces or semicolons.
fn diagnosis_list(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '，', ';']).map(str::to_owned).filter(|c| !c.is_empty()).collect()
}
