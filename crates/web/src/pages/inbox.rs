//! Notifications for people (E3): the inbox, opening a notification (also from an e-mail or SMS
//! link), notification settings (channels, quiet hours, time zone), and the institution's care
//! settings page (plan templates, completion rate, reach per channel).

use app::{
    AppError, china_time,
    monitoring::{plans, tasks},
    notify,
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect},
};
use chrono::Duration;

use super::{
    Chrome, FormData, PageError, PageResult,
    care::{MeasureRow, measure_rows, measures_from, threshold_fields, thresholds_from},
    render, safe_next,
};
use crate::{
    AppState,
    auth::{Auth, Authed, Caller},
};

#[derive(Template)]
#[template(path = "inbox.html")]
pub struct InboxPage {
    pub c: Chrome,
    pub items: Vec<(notify::NotificationView, String)>,
    pub unread: u64,
    pub more: Option<String>,
}

#[derive(serde::Deserialize, Default)]
pub struct InboxQuery {
    #[serde(default)]
    before: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    via: Option<String>,
}

/// `GET /inbox`.
pub async fn inbox(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Query(q): Query<InboxQuery>,
) -> PageResult {
    let (items, unread) = notify::inbox(&s.app, &who, &a.ctx, q.before).await.map_err(|e| PageError::new(e, &a))?;
    // This page shows them: the in-app deliveries arrived.
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    notify::mark_delivered(&s.app, &who, &ids).await.map_err(|e| PageError::new(e, &a))?;
    let more = (items.len() == 50).then(|| items.last().map(|i| i.created_at.to_rfc3339())).flatten();
    let items = items.into_iter().map(|i| {
        let when = china_time(i.created_at);
        (i, when)
    });
    Ok(render(&InboxPage { c: Chrome::new(&a, "/inbox"), items: items.collect(), unread, more }))
}

/// `GET /inbox/{id}?via=email|sms`: opens a notification (marks it read) and goes where it points.
pub async fn open(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(q): Query<InboxQuery>,
) -> PageResult {
    let via = q.via.as_deref().filter(|v| matches!(*v, "email" | "sms"));
    let n = notify::open(&s.app, &who, &a.ctx, &id, via).await.map_err(|e| PageError::new(e, &a))?;
    Ok(Redirect::to(safe_next(n.link.as_deref().unwrap_or("/inbox"))).into_response())
}

/// `POST /inbox/read-all`.
pub async fn read_all(State(s): State<AppState>, Caller(a): Caller, Auth(who): Auth) -> PageResult {
    notify::open_all(&s.app, &who).await.map_err(|e| PageError::new(e, &a))?;
    Ok(Redirect::to("/inbox").into_response())
}

#[derive(Template)]
#[template(path = "notify_settings.html")]
pub struct SettingsPage {
    pub c: Chrome,
    pub available: Vec<&'static str>,
    pub channels: Vec<String>,
    pub email: String,
    pub quiet_start: String,
    pub quiet_end: String,
    pub time_zone: String,
    pub saved: bool,
}

async fn settings_page(
    s: &AppState,
    a: &Authed,
    err: Option<&AppError>,
    f: Option<&FormData>,
    saved: bool,
) -> PageResult {
    let who = a.principal.as_ref().ok_or_else(|| PageError::new(AppError::Unauthenticated, a))?;
    let p = notify::prefs::get(&s.app, who).await.map_err(|e| PageError::new(e, a))?;
    let mut c = Chrome::new(a, "/settings/notifications");
    if let Some(e) = err {
        c = c.with_error(e);
    }
    let page = match f {
        Some(f) => SettingsPage {
            c,
            available: s.app.outbound.names(),
            channels: ["email", "sms"].iter().filter(|ch| f.checked(ch)).map(|ch| (*ch).to_owned()).collect(),
            email: f.v("email").to_owned(),
            quiet_start: f.v("quiet_start").to_owned(),
            quiet_end: f.v("quiet_end").to_owned(),
            time_zone: f.v("time_zone").to_owned(),
            saved,
        },
        None => SettingsPage {
            c,
            available: s.app.outbound.names(),
            channels: p.channels,
            email: p.email.unwrap_or_default(),
            quiet_start: notify::prefs::hhmm(p.quiet_start),
            quiet_end: notify::prefs::hhmm(p.quiet_end),
            time_zone: p.time_zone.name().to_owned(),
            saved,
        },
    };
    Ok(render(&page))
}

#[derive(serde::Deserialize, Default)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /settings/notifications`.
pub async fn settings(State(s): State<AppState>, Caller(a): Caller, Query(q): Query<SavedQuery>) -> PageResult {
    settings_page(&s, &a, None, None, q.saved.is_some()).await
}

/// `POST /settings/notifications`.
pub async fn save_settings(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Form(f): Form<FormData>,
) -> PageResult {
    let input = notify::PrefsInput {
        channels: ["email", "sms"].iter().filter(|c| f.checked(c)).map(|c| (*c).to_owned()).collect(),
        email: Some(f.v("email").to_owned()),
        quiet_start: Some(f.v("quiet_start").to_owned()),
        quiet_end: Some(f.v("quiet_end").to_owned()),
        time_zone: Some(f.v("time_zone").to_owned()),
    };
    match notify::prefs::save(&s.app, &who, &a.ctx, input).await {
        Ok(_) => Ok(Redirect::to("/settings/notifications?saved=1").into_response()),
        Err(e) => settings_page(&s, &a, Some(&e), Some(&f), false).await,
    }
}

/// One template in the editor.
pub struct TemplateForm {
    pub key: String,
    pub title: String,
    pub customised: bool,
    pub rows: Vec<MeasureRow>,
    pub thresholds: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "care_settings.html")]
pub struct CareSettingsPage {
    pub c: Chrome,
    pub templates: Vec<TemplateForm>,
    pub completion: tasks::Completion,
    pub completion_pct: String,
    pub on_time_pct: String,
    /// Each channel with its rate as a percentage.
    pub reach: Vec<(notify::Reach, String)>,
    pub kinds: Vec<&'static str>,
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".into(), |r| format!("{:.1}%", r * 100.0))
}

async fn care_settings_page(s: &AppState, a: &Authed, err: Option<(&AppError, &str, &FormData)>) -> PageResult {
    let who = a.principal.as_ref().ok_or_else(|| PageError::new(AppError::Unauthenticated, a))?;
    let e = |e| PageError::new(e, a);
    let mut templates = Vec::new();
    for t in plans::templates(&s.app, who).await.map_err(e)? {
        let form = match err {
            Some((_, key, f)) if key == t.key => TemplateForm {
                key: t.key.clone(),
                title: f.v("title").to_owned(),
                customised: t.customised,
                rows: measure_rows(&measures_from(f).unwrap_or_default()),
                thresholds: threshold_fields(&thresholds_from(f).unwrap_or_default()),
            },
            _ => TemplateForm {
                rows: measure_rows(&t.measures),
                thresholds: threshold_fields(&t.thresholds),
                key: t.key,
                title: t.title,
                customised: t.customised,
            },
        };
        templates.push(form);
    }
    let completion = tasks::institution_completion(&s.app, who, 30).await.map_err(e)?;
    let now = s.app.clock.now();
    let reach = notify::reach(&s.app, who, now - Duration::days(30), now).await.map_err(e)?;
    let reach = reach.into_iter().map(|r| {
        let pct = percent(r.rate);
        (r, pct)
    });
    let mut c = Chrome::new(a, "/institution/care");
    if let Some((err, _, _)) = err {
        c = c.with_error(err);
    }
    let kinds = domain::reading::ReadingKind::ALL.iter().map(|k| k.as_str()).collect();
    Ok(render(&CareSettingsPage {
        c,
        templates,
        completion_pct: percent(completion.rate),
        on_time_pct: percent(completion.on_time_rate),
        completion,
        reach: reach.collect(),
        kinds,
    }))
}

/// `GET /institution/care`: plan templates, completion and reach (institution admins).
pub async fn care_settings(State(s): State<AppState>, Caller(a): Caller) -> PageResult {
    care_settings_page(&s, &a, None).await
}

/// `POST /institution/care/templates/{key}`.
pub async fn save_template(
    State(s): State<AppState>,
    Caller(a): Caller,
    Auth(who): Auth,
    Path(key): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let input = measures_from(&f).and_then(|measures| {
        Ok(plans::TemplateInput { title: f.v("title").to_owned(), measures, thresholds: thresholds_from(&f)? })
    });
    match input {
        Ok(input) => match plans::save_template(&s.app, &who, &a.ctx, &key, input).await {
            Ok(_) => Ok(Redirect::to(&format!("/institution/care#tpl-{key}")).into_response()),
            Err(e) => care_settings_page(&s, &a, Some((&e, &key, &f))).await,
        },
        Err(e) => care_settings_page(&s, &a, Some((&e, &key, &f))).await,
    }
}
