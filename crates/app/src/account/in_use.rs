//! When a registration names a phone number or identity document that already belongs to an account
//! (issue 11 item 13): the person registering gets one generic answer that does not say which detail
//! is taken or whether any is, and the owner of the matching account hears of the attempt on their
//! own channels (inbox, and e-mail/SMS as they chose) — at most once an hour, so the notice cannot be
//! turned into a way to flood them. A registration that succeeds necessarily shows that its details
//! were free; that costs the prober a real account per number and is throttled per address (item 8).

use store::repo;

use crate::{
    App, AppError, RequestCtx,
    audit::Subject,
    notify::{self, Bilingual, NewNotification},
    throttle::{Action, Limit},
};

/// The one answer for every taken detail.
pub(crate) fn refusal() -> AppError {
    AppError::invalid(
        "registration_refused",
        "These details cannot be used for a new account. If you already have an account, sign in; if you think this is wrong, contact the hospital's support desk. Nothing was registered.",
    )
}

/// Which detail matched, for the owner's notice only.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Detail {
    Phone,
    IdDocument,
}

/// The account that owns `phone_bidx` or `id_bidx`, if any: for a child's document, the guardian,
/// who is the one to tell.
pub(crate) async fn owner(
    app: &App,
    phone_bidx: Option<&str>,
    id_bidx: Option<&str>,
) -> Result<Option<(String, Detail)>, AppError> {
    let db = &app.store.db;
    if let Some(b) = phone_bidx
        && let Some(u) = repo::user::find_by_phone_bidx(db, b).await?
    {
        return Ok(Some((u.id, Detail::Phone)));
    }
    if let Some(b) = id_bidx
        && let Some(p) = repo::patient::find_by_id_bidx(db, b).await?
    {
        return Ok(Some((p.guardian_user_id.unwrap_or(p.user_id), Detail::IdDocument)));
    }
    Ok(None)
}

/// Audits the refused attempt, tells the owner (once an hour at most) and returns the refusal.
pub(crate) async fn refuse(app: &App, ctx: &RequestCtx, owner_id: &str, detail: Detail) -> AppError {
    match tell(app, ctx, owner_id, detail).await {
        Ok(()) => refusal(),
        Err(e) => e,
    }
}

async fn tell(app: &App, ctx: &RequestCtx, owner_id: &str, detail: Detail) -> Result<(), AppError> {
    let txn = app.store.begin_write().await?;
    let outcome = match detail {
        Detail::Phone => "refused_phone_in_use",
        Detail::IdDocument => "refused_id_in_use",
    };
    app.record_as(
        &txn,
        ctx,
        None,
        None,
        "account.register",
        Subject { patient_id: None, resource: Some(owner_id) },
        outcome,
    )
    .await?;
    let once_an_hour = Limit::new(1, 3600);
    let key = format!("registration-notice:{owner_id}");
    let notice = app.throttle.hit(app.clock.now(), Action::CodeByAccount, &key, once_an_hour).is_ok();
    let event = if notice {
        let (zh, en) = match detail {
            Detail::Phone => ("您的手机号", "your phone number"),
            Detail::IdDocument => {
                ("您（或您监护的家人）的证件号", "the identity document of you (or a child in your care)")
            }
        };
        let when = crate::china_time(app.clock.now());
        Some(
            notify::notify(
                app,
                &txn,
                NewNotification {
                    user_id: owner_id.to_owned(),
                    kind: "account.registration_attempt",
                    title: Bilingual::new(
                        format!("有人尝试用{zh}注册新账号"),
                        format!("Someone tried to register a new account with {en}"),
                    ),
                    body: Bilingual::new(
                        format!("时间：{when}。未创建任何账号。如果是您本人，请直接用现有账号登录；如果不是，您的账号仍然安全，可联系客服。"),
                        format!("At {when} (China time). No account was created. If it was you, sign in with your existing account; if not, your account is still safe — you may contact support."),
                    ),
                    link: Some("/login".into()),
                    urgent: false,
                    subject_id: None,
                },
            )
            .await?,
        )
    } else {
        None
    };
    txn.commit().await?;
    if let Some(ev) = event {
        app.bus.publish(ev);
    }
    Ok(())
}
