//! Call pages (F3): the call screen for users and for guests who came through a one-time link, the
//! guest's join page, and the pre-call check.

use app::call::{CallView, Party};
use askama::Template;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue},
};

use super::{Chrome, PageError, PageResult, redirect_with_cookie, render};
use crate::{
    AppState,
    api::calls::{GUEST_COOKIE, guest_of},
    auth::{Auth, Caller},
};

#[derive(Template)]
#[template(path = "call_check.html")]
pub struct CheckPage {
    pub c: Chrome,
    pub ice_json: String,
}

/// The pre-call check (F3): camera, microphone, connection and TURN relay, with advice.
pub async fn check(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth) -> PageResult {
    let ice_json = app::call::ice_servers(&s.app, &who.user_id).to_string();
    Ok(render(&CheckPage { c: Chrome::new(&a, "/consultations"), ice_json }))
}

#[derive(Template)]
#[template(path = "call.html")]
pub struct CallPage {
    pub c: Chrome,
    pub call: CallView,
    pub ice_json: String,
    /// Whom the title names: the other side of a two-person call, or the room's size.
    pub title: String,
    pub guest: bool,
}

impl CallPage {
    fn new(c: Chrome, call: CallView, guest: bool) -> Self {
        let others: Vec<&str> = call
            .participants
            .iter()
            .filter(|p| p.id != call.me && matches!(p.state.as_str(), "joined" | "invited"))
            .map(|p| p.name.as_str())
            .collect();
        let title = if others.is_empty() {
            if call.is_caller { call.callee_name.clone() } else { call.caller_name.clone() }
        } else {
            others.join("、")
        };
        Self { c, ice_json: call.ice_servers.to_string(), call, title, guest }
    }
}

/// The call screen: video tiles, roster, controls and live state; WebRTC runs in `static/call.js`.
pub async fn page(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth, Path(id): Path<String>) -> PageResult {
    let call = app::call::get(&s.app, Party::User(&who), &a.ctx, &id).await.map_err(|e| PageError::new(e, &a))?;
    Ok(render(&CallPage::new(Chrome::new(&a, "/consultations"), call, false)))
}

#[derive(Template)]
#[template(path = "join.html")]
pub struct JoinPage {
    pub c: Chrome,
    pub preview: app::call::GuestPreview,
    pub token: String,
}

/// What the link's guest sees first: who invites them, to what, until when; nothing is used up yet.
pub async fn join_page(State(s): State<AppState>, Caller(a): Caller, Path(token): Path<String>) -> PageResult {
    let preview = app::call::guest_preview(&s.app, &token).await.map_err(|e| PageError::new(e, &a))?;
    Ok(render(&JoinPage { c: Chrome::new(&a, ""), preview, token }))
}

/// The guest clicks "Join": the link is used up and exchanged for a cookie good for this call only.
pub async fn join(State(s): State<AppState>, Caller(a): Caller, Path(token): Path<String>) -> PageResult {
    let (secret, _) = app::call::guest_join(&s.app, &a.ctx, &token).await.map_err(|e| PageError::new(e, &a))?;
    let cookie = format!(
        "{GUEST_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{}",
        if s.secure_cookies { "; Secure" } else { "" }
    );
    let value = HeaderValue::from_str(&cookie).map_err(|_| PageError::new(app::AppError::Internal("cookie"), &a))?;
    Ok(redirect_with_cookie("/guest/call", value))
}

/// The call screen for a guest.
pub async fn guest_page(State(s): State<AppState>, Caller(a): Caller, headers: HeaderMap) -> PageResult {
    let g = match guest_of(&s, &headers, false).await {
        Ok(g) => g,
        // The call ended or the cookie is gone: nothing to rejoin.
        Err(app::AppError::Unauthenticated) => {
            return Err(PageError::new(app::AppError::invalid("call_state", "The call has ended."), &a));
        }
        Err(e) => return Err(PageError::new(e, &a)),
    };
    let call = app::call::get(&s.app, Party::Guest(&g), &a.ctx, &g.call_id).await.map_err(|e| PageError::new(e, &a))?;
    let mut c = Chrome::new(&a, "");
    c.csrf = g.csrf;
    Ok(render(&CallPage::new(c, call, true)))
}
