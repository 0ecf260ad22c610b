//! Photos, report files and voice recordings in a consultation (A1, C1, S1): the type is checked by
//! content (JPEG, PNG, PDF; audio in [`super::voice`]), location and other metadata are stripped from photos (EXIF and XMP segments, PNG eXIf and
//! text chunks), a thumbnail is made for images, and both are stored encrypted in the blob store.
//! Only the consultation's participants can fetch them, and every fetch is audited.

use std::io::Cursor;

use bytes::Bytes;
use img_parts::{ImageEXIF, jpeg::Jpeg, png::Png};
use store::repo;

use super::{
    message::{AttachmentRef, MessageView, Outgoing, post_message},
    scope_for,
};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject, verification::sniff_document};

/// Attachments are limited to 10 MiB.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
const THUMB_EDGE: u32 = 320;

/// Removes metadata that may carry the patient's location or device from a photo.
pub fn strip_metadata(content_type: &str, bytes: Vec<u8>) -> Result<Vec<u8>, AppError> {
    let corrupt = |_| AppError::invalid("upload_corrupt", "The file could not be read; is it a valid image?");
    match content_type {
        "image/jpeg" => {
            let mut jpeg = Jpeg::from_bytes(Bytes::from(bytes)).map_err(corrupt)?;
            jpeg.set_exif(None);
            // APP1 also carries XMP (which can hold GPS); APP13 carries IPTC.
            jpeg.segments_mut()
                .retain(|s| !matches!(s.marker(), img_parts::jpeg::markers::APP1 | img_parts::jpeg::markers::APP13));
            Ok(jpeg.encoder().bytes().to_vec())
        }
        "image/png" => {
            let mut png = Png::from_bytes(Bytes::from(bytes)).map_err(corrupt)?;
            png.set_exif(None);
            png.chunks_mut().retain(|c| !matches!(&c.kind(), b"tEXt" | b"zTXt" | b"iTXt" | b"eXIf"));
            Ok(png.encoder().bytes().to_vec())
        }
        _ => Ok(bytes),
    }
}

/// A JPEG thumbnail no larger than 320 px on its longer side (decoded within the pixel budget).
fn thumbnail(bytes: &[u8], max_pixels: u64) -> Result<Vec<u8>, AppError> {
    let img = super::decode::decode(bytes, max_pixels)?;
    let thumb = img.thumbnail(THUMB_EDGE, THUMB_EDGE).to_rgb8();
    let mut out = Cursor::new(Vec::new());
    thumb.write_to(&mut out, image::ImageFormat::Jpeg).map_err(|_| AppError::Internal("thumbnail"))?;
    Ok(out.into_inner())
}

fn clean_name(name: &str, content_type: &str) -> String {
    let base: String =
        name.rsplit(['/', '\\']).next().unwrap_or("").chars().filter(|c| !c.is_control()).take(100).collect();
    if base.trim().is_empty() {
        match content_type {
            "application/pdf" => "report.pdf".into(),
            "image/png" => "photo.png".into(),
            _ => "photo.jpg".into(),
        }
    } else {
        base
    }
}

/// An upload as the client sent it (multipart `file`, `client_id` and, for a recording,
/// `duration_ms`).
#[derive(Debug, Default)]
pub struct CreateAttachment {
    pub client_id: String,
    pub name: String,
    pub bytes: Vec<u8>,
    /// The recorder's measurement, validated only for audio (A1).
    pub duration_ms: Option<String>,
}

/// A checked file ready to store, and the kind of message it becomes.
pub(super) struct NewAttachment {
    pub kind: &'static str,
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    pub thumb: Option<Vec<u8>>,
    pub duration_ms: Option<u32>,
}

/// Uploads a file into the conversation as an `image`, `file` or (for a recording) `voice` message.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn upload(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    consultation_id: &str,
    input: CreateAttachment,
) -> Result<(MessageView, bool), AppError> {
    let target = Subject { patient_id: None, resource: Some(consultation_id) };
    app.audit_denied(who, ctx, "attachment.upload", target, upload_inner(app, who, ctx, consultation_id, input)).await
}

async fn upload_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    consultation_id: &str,
    input: CreateAttachment,
) -> Result<(MessageView, bool), AppError> {
    if input.bytes.is_empty() {
        return Err(AppError::invalid("upload_missing", "Choose a photo or a PDF file."));
    }
    if input.bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(AppError::invalid("attachment_too_large", "Files must be under 10 MB."));
    }
    if let Some(audio) = super::voice::sniff_audio(&input.bytes) {
        return super::voice::upload(app, who, ctx, consultation_id, audio, input).await;
    }
    let content_type = sniff_document(&input.bytes)
        .ok_or_else(|| AppError::invalid("upload_type", "Files must be JPEG, PNG or PDF, or a voice recording."))?;
    // Check access before doing any work on the file.
    {
        let scope = scope_for(&app.store.db, who).await?;
        repo::consultation::find_scoped(&app.store.db, &scope, consultation_id).await?.ok_or(AppError::NotFound)?;
    }
    let is_image = content_type.starts_with("image/");
    // Issue 11 item 3: judged by the header before anything is decoded or stored, and decoded in one
    // of a bounded number of slots.
    let max_pixels = app.config.limits.image_max_pixels;
    let slot = if is_image {
        super::decode::check_header(&input.bytes, max_pixels)?;
        Some(super::decode::slot(app).await?)
    } else {
        None
    };
    let bytes = input.bytes;
    let (clean, thumb) = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, Option<Vec<u8>>), AppError> {
        let _slot = slot;
        let clean = strip_metadata(content_type, bytes)?;
        let thumb = if is_image { Some(thumbnail(&clean, max_pixels)?) } else { None };
        Ok((clean, thumb))
    })
    .await
    .map_err(|_| AppError::Internal("join"))??;
    let new = NewAttachment {
        kind: if is_image { "image" } else { "file" },
        name: clean_name(&input.name, content_type),
        content_type,
        bytes: clean,
        thumb,
        duration_ms: None,
    };
    store_and_post(app, who, ctx, consultation_id, &input.client_id, new).await
}

/// Stores the file (and its thumbnail) encrypted in the blob store (S1), then posts the message
/// that refers to it; the attachment row is written in the message's transaction.
pub(super) async fn store_and_post(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    consultation_id: &str,
    client_id: &str,
    new: NewAttachment,
) -> Result<(MessageView, bool), AppError> {
    // Access first: an outsider's file is never written.
    {
        let scope = scope_for(&app.store.db, who).await?;
        repo::consultation::find_scoped(&app.store.db, &scope, consultation_id).await?.ok_or(AppError::NotFound)?;
    }
    let id = domain::FileId::new().to_string();
    let blob_key = format!("attachments/{consultation_id}/{id}");
    let keys = app.keys.current();
    app.blobs.put(&keys, &blob_key, &new.bytes).await?;
    let thumb_key = match &new.thumb {
        Some(t) => {
            let k = format!("{blob_key}.thumb");
            app.blobs.put(&keys, &k, t).await?;
            Some(k)
        }
        None => None,
    };
    let reference = AttachmentRef {
        id: id.clone(),
        name: new.name.clone(),
        content_type: new.content_type.to_owned(),
        duration_ms: new.duration_ms,
    };
    let row = store::entity::attachment::Model {
        name_enc: app.seal("attachments", "name_enc", &id, new.name.as_bytes())?,
        id,
        consultation_id: consultation_id.to_owned(),
        owner_id: who.user_id.clone(),
        content_type: new.content_type.to_owned(),
        size_bytes: i64::try_from(new.bytes.len()).unwrap_or(i64::MAX),
        blob_key,
        thumb_key,
        created_at: app.clock.now(),
    };
    let body = serde_json::to_string(&reference).map_err(|_| AppError::Internal("json"))?;
    let out = Outgoing { kind: new.kind, body, attachment: Some(row), index: None };
    post_message(app, who, ctx, consultation_id, client_id, out).await
}

/// Fetches an attachment (or its thumbnail) for a participant; audited.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn fetch(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    thumb: bool,
) -> Result<(String, Vec<u8>), AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "attachment.view", target, fetch_inner(app, who, ctx, id, thumb)).await
}

async fn fetch_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    id: &str,
    thumb: bool,
) -> Result<(String, Vec<u8>), AppError> {
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let (row, patient_id) = repo::attachment::find_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    let (key, ct) = match (&row.thumb_key, thumb) {
        (Some(k), true) => (k.clone(), "image/jpeg".to_owned()),
        _ => (row.blob_key.clone(), row.content_type.clone()),
    };
    app.record(
        &txn,
        ctx,
        Some(who),
        "attachment.view",
        Subject { patient_id: Some(&patient_id), resource: Some(id) },
        "ok",
    )
    .await?;
    txn.commit().await?;
    let bytes = app.blobs.get(&app.keys.current(), &key).await?;
    Ok((ct, bytes))
}
