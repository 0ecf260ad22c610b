//! PDF export of consultation records (C3): one consultation, or a patient's whole record as far as
//! the caller may see it. The document holds the header (patient, doctor, institution, dates,
//! status, kind), the complaint, the conversation in order (text, medication-plan tables, articles,
//! photos with the doctor's annotation drawn over them, files by name), the closing summary with
//! ICD-10 diagnoses, corrections (current version, earlier ones with their reason) and the rating.
//!
//! Like the FHIR export it needs a fresh step-up (B3) and is audited in the transaction that reads
//! the record (S3): one `record.export_pdf` event per exported consultation. The data is decrypted
//! in memory only; photos are fetched and drawn after the transaction commits, so the write lock is
//! not held while the document is drawn.

mod layout;
mod overlay;

use chrono::{DateTime, Utc};
use domain::{
    annotation::Shape,
    card::MedicationPlan,
    consultation::{ConsultationKind, ConsultationStatus},
};
use sea_orm::ConnectionTrait;
use store::{entity::consultation as c, repo};

use self::layout::{ACCENT, BLACK, CONTENT_W, GREY, Layout, MARGIN, Op};
use super::{correction::CorrectionView, message::ArticleRef, open_text, scope_for, view::name_of};
use crate::{App, AppError, Principal, RequestCtx, audit::Subject, china_time};

/// A finished export.
#[derive(Debug, Clone)]
pub struct PdfExport {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// One consultation as loaded for the document.
struct Record {
    id: String,
    patient_name: String,
    doctor_name: Option<String>,
    institution: String,
    department: Option<String>,
    created_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    status: String,
    priority: bool,
    kind: String,
    complaint: String,
    prior_diagnosis: Option<String>,
    entries: Vec<Entry>,
    summary: Option<String>,
    diagnoses: Vec<String>,
    corrections: Vec<CorrectionView>,
    rating: Option<i32>,
    rating_comment: Option<String>,
}

struct Entry {
    sender: String,
    doctor: bool,
    sent_at: DateTime<Utc>,
    body: Body,
}

enum Body {
    Text(String),
    Handover(String),
    Plan(MedicationPlan),
    Article(ArticleRef),
    Calculator(domain::calculator::CalculatorCard),
    /// A photo: its blob until fetched, then its bytes.
    Image {
        name: String,
        blob_key: String,
        bytes: Option<Vec<u8>>,
        shapes: Vec<Shape>,
    },
    File {
        name: String,
    },
    /// A1: a voice message, listed with its length (the sound itself stays in the app).
    Voice {
        duration: String,
    },
}

/// One consultation as a PDF (participants only; step-up required; audited).
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn consultation_pdf(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<PdfExport, AppError> {
    let target = Subject { patient_id: None, resource: Some(id) };
    app.audit_denied(who, ctx, "record.export_pdf", target, consultation_pdf_inner(app, who, ctx, id)).await
}

async fn consultation_pdf_inner(app: &App, who: &Principal, ctx: &RequestCtx, id: &str) -> Result<PdfExport, AppError> {
    who.require_step_up(app.clock.now(), app.config.step_up_secs)?;
    // Issue 11 item 8: exports are heavy (decodes, fonts); bound how many one account starts.
    app.throttle_hit(crate::throttle::Action::ExportByAccount, &who.user_id)?;
    // Issue 11 item 3: an export decodes photos, so it holds a decode slot like an upload does —
    // taken before the audited read, so a `busy` answer leaves no export event.
    let slot = super::decode::slot(app).await?;
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let row = repo::consultation::find_scoped(&txn, &scope, id).await?.ok_or(AppError::NotFound)?;
    let record = load(app, &txn, &scope, &row).await?;
    audit_export(app, &txn, who, ctx, &row).await?;
    txn.commit().await?;
    let filename = format!("consultation-{id}.pdf");
    finish(app, slot, vec![record], Vec::new(), filename).await
}

/// All consultations of `patient_id` that the caller may see, oldest first: the patient's (or
/// guardian's) whole record, or for a doctor the consultations they share with the patient.
/// Nothing visible → 404, so the answer does not reveal whether the patient exists.
/// A refusal (not found, forbidden) is audited too (issue 11 item 11).
pub async fn record_pdf(app: &App, who: &Principal, ctx: &RequestCtx, patient_id: &str) -> Result<PdfExport, AppError> {
    let target = Subject { patient_id: Some(patient_id), resource: None };
    app.audit_denied(who, ctx, "record.export_pdf", target, record_pdf_inner(app, who, ctx, patient_id)).await
}

async fn record_pdf_inner(
    app: &App,
    who: &Principal,
    ctx: &RequestCtx,
    patient_id: &str,
) -> Result<PdfExport, AppError> {
    who.require_step_up(app.clock.now(), app.config.step_up_secs)?;
    // Issue 11 item 8: exports are heavy (decodes, fonts); bound how many one account starts.
    app.throttle_hit(crate::throttle::Action::ExportByAccount, &who.user_id)?;
    let slot = super::decode::slot(app).await?;
    let txn = app.store.begin_write().await?;
    let scope = scope_for(&txn, who).await?;
    let rows = repo::consultation::list_scoped_for_patient(&txn, &scope, patient_id).await?;
    if rows.is_empty() {
        return Err(AppError::NotFound);
    }
    let mut records = Vec::new();
    for row in &rows {
        records.push(load(app, &txn, &scope, row).await?);
        audit_export(app, &txn, who, ctx, row).await?;
    }
    txn.commit().await?;
    // D3: the whole record carries the monitoring trends of the last three months.
    let mut charts = Vec::new();
    for kind in domain::reading::ReadingKind::ALL {
        let (svg, n) =
            crate::monitoring::trend::render_unaudited(app, patient_id, kind, 90, crate::monitoring::chart::Lang::Zh)
                .await?;
        if n > 0 {
            charts.push(svg);
        }
    }
    finish(app, slot, records, charts, format!("record-{patient_id}.pdf")).await
}

async fn audit_export(
    app: &App,
    txn: &sea_orm::DatabaseTransaction,
    who: &Principal,
    ctx: &RequestCtx,
    row: &c::Model,
) -> Result<(), AppError> {
    let subject = Subject { patient_id: Some(&row.patient_id), resource: Some(&row.id) };
    app.record(txn, ctx, Some(who), "record.export_pdf", subject, "ok").await
}

/// Fetches the photos, then lays out and draws the document off the async runtime.
async fn finish(
    app: &App,
    slot: tokio::sync::OwnedSemaphorePermit,
    mut records: Vec<Record>,
    charts: Vec<String>,
    filename: String,
) -> Result<PdfExport, AppError> {
    let keys = app.keys.current();
    for r in &mut records {
        for e in &mut r.entries {
            if let Body::Image { blob_key, bytes, .. } = &mut e.body {
                match app.blobs.get(&keys, blob_key).await {
                    Ok(b) => *bytes = Some(b),
                    // A missing photo is noted in the document rather than failing the export.
                    Err(err) => tracing::warn!(error = ?err, "photo for the pdf export could not be read"),
                }
            }
        }
    }
    let generated = app.clock.now();
    let max_pixels = app.config.limits.image_max_pixels;
    let bytes = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        draw(&records, &charts, generated, max_pixels)
    })
    .await
    .map_err(|_| AppError::Internal("join"))??;
    Ok(PdfExport { filename, bytes })
}

async fn load(
    app: &App,
    db: &impl ConnectionTrait,
    scope: &repo::scope::ConsultationScope,
    row: &c::Model,
) -> Result<Record, AppError> {
    let institution = repo::institution::get(db, &row.institution_id).await?;
    let department_id = match (&row.department_id, &row.doctor_id) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(doc)) => repo::verification::latest_for_user(db, doc).await?.map(|v| v.department_id),
        (None, None) => None,
    };
    let department = match department_id {
        Some(d) => {
            let d = repo::institution::get_department(db, &d).await?;
            Some(format!("{} {}", d.name_zh, d.name_en))
        }
        None => None,
    };
    let mut entries = Vec::new();
    for m in repo::consultation::messages_after(db, &row.id, 0, 10_000).await? {
        let kind = m.kind.clone();
        let v = app.message_view(db, m).await?;
        let calculator = v.calculator;
        let body = match (kind.as_str(), v.attachment, v.plan, v.article) {
            ("image", Some(a), _, _) => {
                let (att, _) = repo::attachment::find_scoped(db, scope, &a.id).await?.ok_or(AppError::NotFound)?;
                let shapes = match repo::annotation::find(db, &a.id).await? {
                    Some(s) => {
                        let json = app.open_str("annotations", "shapes_enc", &a.id, &s.shapes_enc)?;
                        serde_json::from_str(&json).map_err(|_| AppError::Internal("annotation json"))?
                    }
                    None => Vec::new(),
                };
                Body::Image { name: a.name, blob_key: att.blob_key, bytes: None, shapes }
            }
            ("voice", Some(a), _, _) => Body::Voice { duration: a.duration_label() },
            (_, Some(a), _, _) => Body::File { name: a.name },
            (_, _, Some(plan), _) => Body::Plan(plan),
            (_, _, _, Some(article)) => Body::Article(article),
            ("calculator", ..) => match calculator {
                Some(c) => Body::Calculator(c),
                None => Body::Text(v.text),
            },
            ("handover", ..) => Body::Handover(v.text),
            _ => Body::Text(v.text),
        };
        entries.push(Entry { doctor: v.sender_role == "doctor", sender: v.sender_name, sent_at: v.sent_at, body });
    }
    Ok(Record {
        id: row.id.clone(),
        patient_name: name_of(app, db, &row.patient_id).await?,
        doctor_name: match &row.doctor_id {
            Some(d) => Some(name_of(app, db, d).await?),
            None => None,
        },
        institution: format!("{} {}", institution.name_zh, institution.name_en),
        department,
        created_at: row.created_at,
        closed_at: row.closed_at,
        status: row.status.clone(),
        priority: row.priority,
        kind: row.kind.clone(),
        complaint: open_text(app, "complaint_enc", &row.id, Some(&row.complaint_enc))?.unwrap_or_default(),
        prior_diagnosis: open_text(app, "prior_diagnosis_enc", &row.id, row.prior_diagnosis_enc.as_ref())?,
        entries,
        summary: open_text(app, "summary_enc", &row.id, row.summary_enc.as_ref())?,
        diagnoses: crate::seal::diagnoses(app, db, &row.id).await?,
        corrections: super::correction::list(app, db, &row.id).await?,
        rating: row.rating,
        rating_comment: open_text(app, "rating_comment_enc", &row.id, row.rating_comment_enc.as_ref())?,
    })
}

fn status_label(status: &str) -> &'static str {
    match status.parse::<ConsultationStatus>() {
        Ok(ConsultationStatus::Waiting) => "待接诊 Waiting for a doctor",
        Ok(ConsultationStatus::Active) => "进行中 In progress",
        Ok(ConsultationStatus::Closed) => "已结束 Closed",
        Err(_) => "—",
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind.parse::<ConsultationKind>() {
        Ok(ConsultationKind::FollowUp) => "复诊 Follow-up of an existing diagnosis",
        Ok(ConsultationKind::HealthConsultation) => "健康咨询 Health consultation (advice only)",
        Err(_) => "—",
    }
}

/// Bilingual names for calculator cards (A6); the card itself stores codes and values.
fn calc_label(key: &str) -> &str {
    match key {
        "bmi" => "体重指数 BMI",
        "egfr" => "估算肾小球滤过率 eGFR",
        "blood_pressure" => "血压分级 Blood-pressure grade",
        "due_date" => "预产期 Due date",
        "height" => "身高 Height",
        "weight" => "体重 Weight",
        "creatinine" => "血肌酐 Serum creatinine",
        "age" => "年龄 Age",
        "sex" => "性别 Sex",
        "female" => "女 female",
        "male" => "男 male",
        "systolic" => "收缩压 Systolic",
        "diastolic" => "舒张压 Diastolic",
        "last_period" => "末次月经 Last period",
        "gestational_age" => "今日孕周 Gestational age",
        other => other,
    }
}

fn time_label(t: &str) -> &str {
    match t {
        "morning" => "早 morning",
        "noon" => "中 noon",
        "evening" => "晚 evening",
        "bedtime" => "睡前 bedtime",
        other => other,
    }
}

fn diagnosis_line(code: &str) -> String {
    match domain::icd10::lookup(code) {
        Some(e) => format!("{code}  {} · {}", e.name_zh, e.name_en),
        None => code.to_owned(),
    }
}

/// Lays out and draws all records (CPU-bound; runs on a blocking thread).
fn draw(records: &[Record], charts: &[String], generated: DateTime<Utc>, max_pixels: u64) -> Result<Vec<u8>, AppError> {
    let mut l = Layout::default();
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            l.new_page();
        }
        draw_record(&mut l, r, generated, max_pixels);
    }
    if !charts.is_empty() {
        l.new_page();
        l.heading("健康监测趋势（近 3 个月） Monitoring trends (last 3 months)");
        for svg in charts {
            l.svg(svg);
        }
    }
    let footer = match records {
        [one] => format!("医桥 Yiqiao · 问诊记录 Consultation record {}", one.id),
        _ => format!("医桥 Yiqiao · 健康档案 Health record · {} 次问诊 consultations", records.len()),
    };
    layout::render(l.pages, "医桥 Yiqiao — 问诊记录 Consultation record", &footer)
}

fn draw_record(l: &mut Layout, r: &Record, generated: DateTime<Utc>, max_pixels: u64) {
    l.push(Op::Text { x: MARGIN, y: l.y + 18.0, size: 18.0, color: ACCENT, text: "医桥 Yiqiao".into() });
    l.y += 26.0;
    l.push(Op::Text {
        x: MARGIN,
        y: l.y + 13.0,
        size: 13.0,
        color: BLACK,
        text: "问诊记录 Consultation record".into(),
    });
    l.y += 22.0;
    l.text(MARGIN, CONTENT_W, &format!("导出时间 Exported {} (UTC+8)", china_time(generated)), 8.5, GREY);
    l.gap(6.0);
    l.field("患者 Patient", &r.patient_name);
    l.field("医生 Doctor", r.doctor_name.as_deref().unwrap_or("未接诊 Not yet assigned"));
    l.field("机构 Institution", &r.institution);
    if let Some(d) = &r.department {
        l.field("科室 Department", d);
    }
    l.field("开始 Started", &china_time(r.created_at));
    if let Some(t) = r.closed_at {
        l.field("结束 Closed", &china_time(t));
    }
    l.field("状态 Status", status_label(&r.status));
    l.field("优先 Priority", if r.priority { "优先 Priority" } else { "普通 Normal" });
    l.field("类型 Kind", kind_label(&r.kind));
    if let Some(p) = &r.prior_diagnosis {
        l.field("既往诊断 Prior diagnosis", p);
    }
    l.field("编号 Record id", &r.id);

    l.heading("主诉 Complaint");
    l.text(MARGIN, CONTENT_W, &r.complaint, 10.5, BLACK);

    l.heading("对话 Conversation");
    for e in &r.entries {
        draw_entry(l, e, max_pixels);
    }

    draw_closing(l, r);
    if let Some(stars) = r.rating {
        l.heading("评价 Rating");
        let filled = usize::try_from(stars.clamp(0, 5)).unwrap_or(0);
        let line = format!("{}{} {stars} / 5", "★".repeat(filled), "☆".repeat(5 - filled));
        l.text(MARGIN, CONTENT_W, &line, 11.0, BLACK);
        if let Some(c) = &r.rating_comment {
            l.text(MARGIN, CONTENT_W, c, 10.0, BLACK);
        }
    }
}

fn draw_entry(l: &mut Layout, e: &Entry, max_pixels: u64) {
    const INDENT: f32 = 14.0;
    let x = MARGIN + INDENT;
    let w = CONTENT_W - INDENT;
    let role = if e.doctor { "医生 Doctor" } else { "患者 Patient" };
    let photo = match &e.body {
        Body::Image { bytes, .. } => bytes.as_deref().and_then(|b| prepare_image(b, max_pixels)),
        _ => None,
    };
    // Keep the sender line and both captions on the page of the photo.
    let photo_h = photo.as_ref().and_then(|p| Layout::image_size(p, w)).map_or(0.0, |(_, h)| h);
    l.ensure(34.0 + if photo_h > 0.0 { photo_h + 16.0 } else { 0.0 });
    l.gap(4.0);
    let head = format!("{} · {role} · {}", e.sender, china_time(e.sent_at));
    l.text(MARGIN, CONTENT_W, &head, 8.5, if e.doctor { ACCENT } else { GREY });
    match &e.body {
        Body::Text(t) => l.text(x, w, t, 10.0, BLACK),
        Body::Handover(t) => l.text(x, w, &format!("转交 Handed over {t}"), 10.0, GREY),
        Body::Article(a) => {
            l.text(x, w, &format!("健康宣教 Education article: {} / {}", a.title_zh, a.title_en), 10.0, BLACK);
        }
        Body::File { name } => l.text(x, w, &format!("附件 Attachment (PDF): {name}"), 10.0, BLACK),
        Body::Voice { duration } => l.text(x, w, &format!("语音消息 Voice message ({duration})"), 10.0, BLACK),
        Body::Calculator(c) => {
            l.text(x, w, &format!("计算结果 Calculator: {}", calc_label(&c.calculator)), 10.0, BLACK);
            let rows: Vec<Vec<String>> = c
                .inputs
                .iter()
                .map(|f| {
                    let value = if f.key == "sex" { calc_label(&f.value).to_owned() } else { f.value.clone() };
                    vec![calc_label(&f.key).to_owned(), value]
                })
                .chain(std::iter::once(vec![
                    "结果 Result".to_owned(),
                    format!("{} {} — {} / {}", c.value, c.unit, c.band_zh, c.band_en),
                ]))
                .collect();
            l.table(x, &[w * 0.35, w * 0.65], &["项目 Item", "数值 Value"], &rows);
            l.text(x, w, &format!("依据 Basis: {}", c.basis), 8.0, GREY);
        }
        Body::Plan(plan) => {
            l.text(x, w, "用药计划 Medication plan", 10.0, BLACK);
            let rows: Vec<Vec<String>> = plan
                .rows
                .iter()
                .map(|r| {
                    let times: Vec<&str> = r.times.iter().map(|t| time_label(t)).collect();
                    vec![
                        r.drug.clone(),
                        r.dose.clone(),
                        times.join("、"),
                        format!("{} 天 days", r.days),
                        r.note.clone(),
                    ]
                })
                .collect();
            let widths = [w * 0.26, w * 0.16, w * 0.24, w * 0.12, w * 0.22];
            l.table(x, &widths, &["药品 Drug", "剂量 Dose", "服用时间 When", "疗程 Days", "备注 Note"], &rows);
        }
        Body::Image { name, shapes, .. } => {
            l.text(x, w, &format!("图片 Photo: {name}"), 9.0, GREY);
            match photo {
                Some(img) => {
                    l.image(x, w, img, shapes.clone());
                    if !shapes.is_empty() {
                        l.text(x, w, "红色标注为医生所画 Red marks: the doctor's annotation", 8.0, GREY);
                    }
                }
                None => l.text(x, w, "（图片无法显示 The photo could not be shown）", 9.0, GREY),
            }
        }
    }
}

/// The closing record (C1): the current version of the summary and diagnoses, then the history.
fn draw_closing(l: &mut Layout, r: &Record) {
    let Some(original) = &r.summary else { return };
    l.heading("小结与诊断 Summary and diagnoses");
    let (summary, diagnoses, version) = match r.corrections.last() {
        Some(c) => (&c.summary, &c.diagnoses, c.version),
        None => (original, &r.diagnoses, 1),
    };
    if version > 1 {
        l.text(
            MARGIN,
            CONTENT_W,
            &format!("当前为第 {version} 版（已更正） Current version {version} (corrected)"),
            9.0,
            GREY,
        );
    }
    l.text(MARGIN, CONTENT_W, summary, 10.5, BLACK);
    l.gap(4.0);
    l.text(MARGIN, CONTENT_W, "诊断 Diagnoses (ICD-10)", 9.0, GREY);
    for d in diagnoses {
        l.text(MARGIN + 14.0, CONTENT_W - 14.0, &diagnosis_line(d), 10.0, BLACK);
    }
    if r.corrections.is_empty() {
        return;
    }
    l.heading("更正记录 Corrections");
    let closed = r.closed_at.map(china_time).unwrap_or_default();
    l.text(MARGIN, CONTENT_W, &format!("第 1 版（原始）Version 1 (original) · {closed}"), 9.5, BLACK);
    l.text(MARGIN + 14.0, CONTENT_W - 14.0, original, 9.0, GREY);
    l.text(MARGIN + 14.0, CONTENT_W - 14.0, &r.diagnoses.join(", "), 9.0, GREY);
    for c in &r.corrections {
        let current = if c.version == version { "（当前）current" } else { "" };
        let head = format!(
            "第 {} 版 Version {} {current} · {} · {}",
            c.version,
            c.version,
            c.author_name,
            china_time(c.created_at)
        );
        l.text(MARGIN, CONTENT_W, &head, 9.5, BLACK);
        l.text(MARGIN + 14.0, CONTENT_W - 14.0, &format!("更正原因 Reason: {}", c.reason), 9.0, BLACK);
        if c.version != version {
            l.text(MARGIN + 14.0, CONTENT_W - 14.0, &c.summary, 9.0, GREY);
            l.text(MARGIN + 14.0, CONTENT_W - 14.0, &c.diagnoses.join(", "), 9.0, GREY);
        }
    }
}

/// Decodes a stored photo (JPEG or PNG) and re-encodes it as a JPEG of at most 1600 px, which the
/// PDF embeds as is (DCT), keeping exports small. `None` if it cannot be read, or has more pixels
/// than the budget (one stored before the budget existed: issue 11 item 3).
fn prepare_image(bytes: &[u8], max_pixels: u64) -> Option<krilla::image::Image> {
    const MAX_EDGE: u32 = 1600;
    let img = super::decode::decode(bytes, max_pixels).ok()?;
    let img = if img.width() > MAX_EDGE || img.height() > MAX_EDGE { img.thumbnail(MAX_EDGE, MAX_EDGE) } else { img };
    let rgb = img.to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88).encode_image(&rgb).ok()?;
    krilla::image::Image::from_jpeg(out.into(), true).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: u64 = 40_000_000;

    fn sample(entries: Vec<Entry>) -> Record {
        let t = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        Record {
            id: "0190-test".into(),
            patient_name: "张三".into(),
            doctor_name: Some("李医生".into()),
            institution: "城关镇卫生院 Chengguan".into(),
            department: Some("全科 General practice".into()),
            created_at: t,
            closed_at: Some(t),
            status: "closed".into(),
            priority: true,
            kind: "follow_up".into(),
            complaint: "头痛三天".into(),
            prior_diagnosis: Some("高血压".into()),
            entries,
            summary: Some("血压控制欠佳".into()),
            diagnoses: vec!["I10".into()],
            corrections: Vec::new(),
            rating: Some(4),
            rating_comment: Some("很好".into()),
        }
    }

    #[test]
    fn a_long_conversation_flows_onto_more_pages() {
        let t = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let one = draw(&[sample(Vec::new())], &[], t, BUDGET).unwrap();
        assert!(one.starts_with(b"%PDF"));
        let many: Vec<Entry> = (0..80)
            .map(|i| Entry {
                sender: "张三".into(),
                doctor: i % 2 == 0,
                sent_at: t,
                body: Body::Text(format!("第{i}条消息")),
            })
            .collect();
        let mut l = Layout::default();
        draw_record(&mut l, &sample(many), t, BUDGET);
        assert!(l.pages.len() > 1);
    }

    #[test]
    fn trend_charts_are_drawn_as_vectors_on_a_page_of_their_own() {
        use crate::monitoring::chart::{self, ChartPoint, ChartSpec};
        let t = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let points: Vec<ChartPoint> = (0..30_i32)
            .map(|i| ChartPoint {
                at: t - chrono::Duration::days(i64::from(i)),
                values: [("systolic".to_owned(), 130.0 + f64::from(i % 7)), ("diastolic".to_owned(), 85.0)].into(),
                context: None,
                alert: None,
            })
            .collect();
        let spec = ChartSpec {
            kind: domain::reading::ReadingKind::BloodPressure,
            from: t - chrono::Duration::days(90),
            to: t,
            bands: vec![(90.0, 140.0), (60.0, 90.0)],
            lang: chart::Lang::Zh,
        };
        let svg = chart::render(&spec, &points);
        assert!(layout::parse_svg(&svg).is_some(), "our chart parses as SVG");
        let mut l = Layout::default();
        l.svg(&svg);
        assert!(
            matches!(l.pages[0].first(), Some(Op::Svg { w, h, .. }) if (*w - layout::CONTENT_W).abs() < 0.1 && *h > 100.0)
        );
        let without = draw(&[sample(Vec::new())], &[], t, BUDGET).unwrap();
        let with = draw(&[sample(Vec::new())], &[svg], t, BUDGET).unwrap();
        assert!(with.len() > without.len() + 1000, "the chart adds its drawing");
    }

    #[test]
    fn photos_are_embedded_and_unreadable_ones_noted() {
        let mut png = Vec::new();
        image::RgbImage::from_pixel(40, 30, image::Rgb([200, 180, 160]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert_eq!(prepare_image(&png, BUDGET).map(|i| i.size()), Some((40, 30)));
        assert!(prepare_image(b"not an image", BUDGET).is_none());
        assert!(prepare_image(&png, 40 * 29).is_none(), "over the pixel budget");
    }
}
