//! Platform admin page for the red-flag lexicon.

use app::{
    AppError,
    consultation::red_flag::{self, TermView},
};
use askama::Template;
use axum::{
    Form,
    extract::State,
    response::{IntoResponse, Redirect},
};

use super::{Chrome, FormData, PageError, PageResult, render};
use crate::{
    AppState,
    auth::{Auth, Authed, Caller},
};

#[derive(Template)]
#[template(path = "red_flags.html")]
pub struct RedFlagsPage {
    pub c: Chrome,
    pub terms: Vec<TermView>,
    pub builtin: bool,
    pub categories: [&'static str; 6],
    pub f: FormData,
}

async fn page(s: &AppState, a: &Authed, err: Option<&AppError>, f: FormData) -> PageResult {
    let who = a.principal.as_ref().ok_or_else(|| PageError::new(AppError::Unauthenticated, a))?;
    let (terms, builtin) = red_flag::list_terms(&s.app, who).await.map_err(|e| PageError::new(e, a))?;
    let mut c = Chrome::new(a, "/admin/red-flags");
    if let Some(e) = err {
        c = c.with_error(e);
    }
    Ok(render(&RedFlagsPage { c, terms, builtin, categories: red_flag::CATEGORIES, f }))
}

pub async fn show(State(s): State<AppState>, Caller(a): Caller) -> PageResult {
    page(&s, &a, None, FormData::default()).await
}

pub async fn add(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth, Form(f): Form<FormData>) -> PageResult {
    match red_flag::add_term(&s.app, &who, &a.ctx, f.v("term"), f.v("category")).await {
        Ok(()) => Ok(Redirect::to("/admin/red-flags").into_response()),
        Err(e) => page(&s, &a, Some(&e), f).await,
    }
}

pub async fn delete(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    match red_flag::delete_term(&s.app, &who, &a.ctx, f.v("term")).await {
        Ok(()) => Ok(Redirect::to("/admin/red-flags").into_response()),
        Err(e) => page(&s, &a, Some(&e), FormData::default()).await,
    }
}
