//! Doctor verification (B1): the doctor submits the practising licence number (15 digits), photos of
//! the licence and the employment proof, title, institution, department and specialties; institution
//! or platform admins approve or reject with a reason. Every decision and every look at the
//! documents is audited.

use domain::{DoctorTitle, Role, validate::validate_licence_number};
use serde::Serialize;
use store::{
    entity::{doctor_verification as dv, file},
    repo,
};

use crate::{App, AppError, Principal, RequestCtx, audit::Subject};

/// Uploaded documents are limited to 5 MiB.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct SubmitVerification {
    pub licence_number: String,
    pub title: String,
    pub institution_id: String,
    pub department_id: String,
    pub specialties: String,
    pub licence_photo: Upload,
    pub employment_proof: Upload,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerificationView {
    pub id: String,
    pub user_id: String,
    pub doctor_login: String,
    pub doctor_name: String,
    pub licence_number: String,
    pub title: String,
    pub institution_id: String,
    pub institution_name_zh: String,
    pub institution_name_en: String,
    pub department_name_zh: String,
    pub department_name_en: String,
    pub specialties: String,
    pub status: String,
    pub review_reason: Option<String>,
    pub submitted_at: String,
}

/// Detects JPEG, PNG or PDF by content, never by file name.
pub fn sniff_document(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

fn check_upload(u: &Upload, what: &str) -> Result<&'static str, AppError> {
    if u.bytes.is_empty() {
        return Err(AppError::invalid("upload_missing", format!("Attach the {what} (JPEG, PNG or PDF).")));
    }
    if u.bytes.len() > MAX_UPLOAD_BYTES {
        return Err(AppError::invalid("upload_too_large", format!("The {what} is larger than 5 MB.")));
    }
    sniff_document(&u.bytes)
        .ok_or_else(|| AppError::invalid("upload_type", format!("The {what} must be a JPEG, PNG or PDF file.")))
}

impl App {
    pub(crate) async fn store_file(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        owner: &str,
        purpose: &str,
        ct: &str,
        bytes: &[u8],
    ) -> Result<String, AppError> {
        let id = domain::FileId::new().to_string();
        repo::file::insert(
            txn,
            file::Model {
                id: id.clone(),
                owner_user_id: owner.to_owned(),
                purpose: purpose.to_owned(),
                content_type: ct.to_owned(),
                size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                data_enc: self.seal("files", "data_enc", &id, bytes)?,
                created_at: self.clock.now(),
            },
        )
        .await?;
        Ok(id)
    }

    async fn verification_view(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        v: dv::Model,
    ) -> Result<VerificationView, AppError> {
        let user = repo::user::get(db, &v.user_id).await?;
        let inst = repo::institution::get(db, &v.institution_id).await?;
        let dept = repo::institution::get_department(db, &v.department_id).await?;
        Ok(VerificationView {
            review_reason: v
                .review_reason_enc
                .as_deref()
                .map(|b| self.open_str("doctor_verifications", "review_reason_enc", &v.id, b))
                .transpose()?,
            licence_number: self.open_str(
                "doctor_verifications",
                "licence_number_enc",
                &v.id,
                &v.licence_number_enc,
            )?,
            doctor_name: self.open_str("users", "display_name_enc", &user.id, &user.display_name_enc)?,
            doctor_login: user.login,
            id: v.id,
            user_id: v.user_id,
            title: v.title,
            institution_id: v.institution_id,
            institution_name_zh: inst.name_zh,
            institution_name_en: inst.name_en,
            department_name_zh: dept.name_zh,
            department_name_en: dept.name_en,
            specialties: v.specialties,
            status: v.status,
            submitted_at: crate::china_time(v.submitted_at),
        })
    }
}

/// A doctor submits (or resubmits after rejection) their verification.
pub async fn submit(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    input: SubmitVerification,
) -> Result<String, AppError> {
    who.require(&[Role::Doctor])?;
    let licence = validate_licence_number(&input.licence_number)?;
    let title: DoctorTitle =
        input.title.parse().map_err(|_| AppError::invalid("title", "Choose your professional title."))?;
    let licence_ct = check_upload(&input.licence_photo, "licence photo")?;
    let employment_ct = check_upload(&input.employment_proof, "employment proof")?;
    let specialties = input.specialties.trim().to_owned();
    if specialties.chars().count() > 200 {
        return Err(AppError::invalid("specialties", "Keep specialties under 200 characters."));
    }
    let txn = app.store.begin_write().await?;
    let inst = repo::institution::get(&txn, &input.institution_id)
        .await
        .map_err(|_| AppError::invalid("institution", "Choose your institution."))?;
    let dept = repo::institution::get_department(&txn, &input.department_id)
        .await
        .map_err(|_| AppError::invalid("department", "Choose your department."))?;
    if dept.institution_id != inst.id {
        return Err(AppError::invalid("department", "That department belongs to another institution."));
    }
    if let Some(prev) = repo::verification::latest_for_user(&txn, &who.user_id).await?
        && prev.status != "rejected"
    {
        return Err(AppError::Conflict("Your verification is already submitted."));
    }
    let bidx = app.keys.current().blind_index("licence", &licence);
    if repo::verification::licence_in_use(&txn, &bidx, &who.user_id).await? {
        return Err(AppError::invalid(
            "licence_registered",
            "This licence number is already registered to another account.",
        ));
    }
    let licence_file = app.store_file(&txn, &who.user_id, "licence", licence_ct, &input.licence_photo.bytes).await?;
    let employment_file =
        app.store_file(&txn, &who.user_id, "employment", employment_ct, &input.employment_proof.bytes).await?;
    let id = domain::VerificationId::new().to_string();
    repo::verification::insert(
        &txn,
        dv::Model {
            licence_number_enc: app.seal("doctor_verifications", "licence_number_enc", &id, licence.as_bytes())?,
            id: id.clone(),
            user_id: who.user_id.clone(),
            licence_bidx: bidx,
            title: title.as_str().to_owned(),
            institution_id: inst.id,
            department_id: dept.id,
            specialties,
            licence_file_id: licence_file,
            employment_file_id: employment_file,
            status: "pending".into(),
            reviewer_id: None,
            review_reason_enc: None,
            submitted_at: app.clock.now(),
            reviewed_at: None,
        },
    )
    .await?;
    app.record(&txn, ctx, Some(who), "verification.submit", Subject { patient_id: None, resource: Some(&id) }, "ok")
        .await?;
    txn.commit().await?;
    Ok(id)
}

/// The doctor's own latest request.
pub async fn my_status(app: &App, who: &Principal) -> Result<Option<VerificationView>, AppError> {
    if !who.has(Role::Doctor) {
        return Err(AppError::Forbidden);
    }
    match repo::verification::latest_for_user(&app.store.db, &who.user_id).await? {
        Some(v) => Ok(Some(app.verification_view(&app.store.db, v).await?)),
        None => Ok(None),
    }
}

/// Which institution an admin reviews for (`None` = all, for platform admins).
fn review_scope(who: &Principal) -> Result<Option<String>, AppError> {
    who.require(&[Role::InstitutionAdmin, Role::PlatformAdmin])?;
    if who.has(Role::PlatformAdmin) {
        return Ok(None);
    }
    who.institution_of(Role::InstitutionAdmin).map(|i| Some(i.to_owned())).ok_or(AppError::Forbidden)
}

/// The review queue, oldest first. Viewing it is audited.
pub async fn queue(app: &App, who: &Principal, ctx: &RequestCtx) -> Result<Vec<VerificationView>, AppError> {
    let scope = review_scope(who)?;
    let txn = app.store.begin_write().await?;
    let mut out = Vec::new();
    for v in repo::verification::list_pending(&txn, scope.as_deref()).await? {
        out.push(app.verification_view(&txn, v).await?);
    }
    app.record(
        &txn,
        ctx,
        Some(who),
        "verification.queue_view",
        Subject { patient_id: None, resource: Some("doctor_verifications") },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok(out)
}

/// Approve or reject; a rejection needs a reason the doctor will read.
pub async fn decide(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    approve: bool,
    reason: &str,
) -> Result<(), AppError> {
    let scope = review_scope(who)?;
    let reason = reason.trim();
    if !approve && reason.is_empty() {
        return Err(AppError::invalid("reason_required", "Give the doctor a reason for the rejection."));
    }
    let txn = app.store.begin_write().await?;
    let mut v = repo::verification::get(&txn, id).await?;
    if scope.as_deref().is_some_and(|i| i != v.institution_id) {
        return Err(AppError::NotFound);
    }
    if v.status != "pending" {
        return Err(AppError::Conflict("This request was already decided."));
    }
    v.status = if approve { "approved" } else { "rejected" }.into();
    v.reviewer_id = Some(who.user_id.clone());
    // Sealed (issue 11 item 10).
    v.review_reason_enc = (!reason.is_empty())
        .then(|| {
            app.seal_str("doctor_verifications", "review_reason_enc", id, &reason.chars().take(500).collect::<String>())
        })
        .transpose()?;
    v.reviewed_at = Some(app.clock.now());
    let (doctor, inst) = (v.user_id.clone(), v.institution_id.clone());
    repo::verification::update(&txn, v).await?;
    if approve {
        // The doctor's role is now attached to the institution that employs them (P1): the role
        // held since registration without an institution becomes the role at this one.
        repo::user::revoke_role_at(&txn, &doctor, Role::Doctor.as_str(), None).await?;
        repo::user::grant_role(&txn, &doctor, Role::Doctor.as_str(), Some(inst), app.clock.now()).await?;
    }
    let action = if approve { "verification.approve" } else { "verification.reject" };
    app.record(&txn, ctx, Some(who), action, Subject { patient_id: None, resource: Some(id) }, "ok").await?;
    txn.commit().await?;
    if approve {
        crate::account::end_live_sessions(app, &doctor, None, "roles_changed");
    }
    Ok(())
}

/// A reviewer (or the doctor) downloads one of the uploaded documents; audited.
pub async fn document(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    which: &str,
) -> Result<(String, Vec<u8>), AppError> {
    let txn = app.store.begin_write().await?;
    let v = repo::verification::get(&txn, id).await?;
    if v.user_id != who.user_id {
        let scope = review_scope(who)?;
        if scope.as_deref().is_some_and(|i| i != v.institution_id) {
            return Err(AppError::NotFound);
        }
    }
    let file_id = match which {
        "licence" => v.licence_file_id,
        "employment" => v.employment_file_id,
        _ => return Err(AppError::NotFound),
    };
    let f = repo::file::get(&txn, &file_id).await?;
    let bytes = app.open("files", "data_enc", &f.id, &f.data_enc)?;
    app.record(
        &txn,
        ctx,
        Some(who),
        "verification.document_view",
        Subject { patient_id: None, resource: Some(&file_id) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    Ok((f.content_type, bytes))
}
