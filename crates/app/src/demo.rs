//! Demo fixtures (`--demo`, `yiqiao demo`): institutions and one account per role, seeded
//! idempotently. Every account's password is `Yiqiao-demo-2026`; staff use the published TOTP secret
//! `JBSWY3DPEHPK3PXP`. Scripts and the README rely on these names; tests build their own fixtures.

use domain::{InstitutionKind, Role};
use store::{
    entity::{department, doctor_verification as dv, institution},
    repo,
};

use crate::{App, AppError, RequestCtx, account::DEMO_TOTP_SECRET, audit::Subject};

pub const DEMO_PASSWORD: &str = "Yiqiao-demo-2026";

struct Inst {
    key: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    kind: InstitutionKind,
    region: &'static str,
    depts: &'static [(&'static str, &'static str, &'static str)],
}

const INSTITUTIONS: &[Inst] = &[
    Inst {
        key: "tertiary",
        name_zh: "北京协和示范医院",
        name_en: "Peking Union Demo Hospital",
        kind: InstitutionKind::TertiaryHospital,
        region: "110105",
        depts: &[
            ("cardiology", "心内科", "Cardiology"),
            ("endocrinology", "内分泌科", "Endocrinology"),
            ("radiology", "放射科", "Radiology"),
        ],
    },
    Inst {
        key: "township",
        name_zh: "城关镇卫生院",
        name_en: "Chengguan Township Health Centre",
        kind: InstitutionKind::TownshipHealthCentre,
        region: "130123",
        depts: &[("general-practice", "全科", "General practice")],
    },
    Inst {
        key: "pharmacy",
        name_zh: "仁心大药房",
        name_en: "Renxin Pharmacy",
        kind: InstitutionKind::Pharmacy,
        region: "110105",
        depts: &[("dispensary", "调剂室", "Dispensary")],
    },
];

/// (login, name, role, institution key, department code, title, id number, phone)
type Account = (
    &'static str,
    &'static str,
    Role,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

const ACCOUNTS: &[Account] = &[
    ("patient", "张三", Role::Patient, None, None, None, Some("11010519491231002X"), Some("13800138000")),
    ("patient2", "李四", Role::Patient, None, None, None, Some("110108198507150015"), Some("13900139000")),
    ("doctor", "王医生", Role::Doctor, Some("township"), Some("general-practice"), Some("attending"), None, None),
    ("specialist", "陈专家", Role::Doctor, Some("tertiary"), Some("cardiology"), Some("associate_chief"), None, None),
    ("nurse", "刘护士", Role::Nurse, Some("tertiary"), None, None, None, None),
    ("pharmacist", "赵药师", Role::Pharmacist, Some("pharmacy"), None, None, None, None),
    ("therapist", "孙康复", Role::Therapist, Some("township"), None, None, None, None),
    ("reviewer", "周质控", Role::QualityReviewer, Some("tertiary"), None, None, None, None),
    ("inst-admin", "吴管理", Role::InstitutionAdmin, Some("tertiary"), None, None, None, None),
    ("admin", "郑平台", Role::PlatformAdmin, None, None, None, None, None),
    ("auditor", "冯审计", Role::Auditor, None, None, None, None, None),
];

/// A 1×1 PNG standing in for the demo doctors' licence scans.
const DEMO_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8,
    6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89, 0, 0, 0, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0,
    0xF0, 0x1F, 0, 0x05, 0, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60,
    0x82,
];

/// Seeds everything that is missing; running it again changes nothing.
pub async fn seed(app: &App) -> Result<(), AppError> {
    if !app.config.demo {
        return Err(AppError::Forbidden);
    }
    let now = app.clock.now();
    let txn = app.store.begin_write().await?;
    let existing = repo::institution::list(&txn).await?;
    let mut inst_ids = std::collections::HashMap::new();
    let mut dept_ids = std::collections::HashMap::new();
    for i in INSTITUTIONS {
        let id = if let Some(e) = existing.iter().find(|e| e.name_en == i.name_en) {
            e.id.clone()
        } else {
            let id = domain::InstitutionId::new().to_string();
            repo::institution::insert(
                &txn,
                institution::Model {
                    id: id.clone(),
                    name_zh: i.name_zh.into(),
                    name_en: i.name_en.into(),
                    kind: i.kind.as_str().into(),
                    tier: i32::from(i.kind.tier()),
                    region_code: i.region.into(),
                    created_at: now,
                    sla_priority_secs: None,
                    sla_normal_secs: None,
                },
            )
            .await?;
            id
        };
        let have = repo::institution::departments(&txn, &id).await?;
        for (code, zh, en) in i.depts {
            let did = if let Some(d) = have.iter().find(|d| d.code == *code) {
                d.id.clone()
            } else {
                let did = domain::DepartmentId::new().to_string();
                repo::institution::insert_department(
                    &txn,
                    department::Model {
                        id: did.clone(),
                        institution_id: id.clone(),
                        code: (*code).into(),
                        name_zh: (*zh).into(),
                        name_en: (*en).into(),
                        created_at: now,
                    },
                )
                .await?;
                did
            };
            dept_ids.insert((i.key, *code), did);
        }
        inst_ids.insert(i.key, id);
    }
    let hash = super::account::hash_password(DEMO_PASSWORD.to_owned()).await?;
    let totp_secret =
        totp_rs::Secret::try_from_base32(DEMO_TOTP_SECRET).map_err(|_| AppError::Internal("demo secret"))?;
    let totp_secret = totp_secret.as_bytes().to_vec();
    for &(login, name, role, inst, dept, title, id_number, phone) in ACCOUNTS {
        if repo::user::find_by_login(&txn, login).await?.is_some() {
            continue;
        }
        let id = domain::UserId::new().to_string();
        app.insert_user(&txn, &id, login, hash.clone(), name, phone, "zh-CN", "active").await?;
        let inst_id = inst.and_then(|k| inst_ids.get(k).cloned());
        repo::user::grant_role(&txn, &id, role.as_str(), inst_id.clone(), now).await?;
        app.insert_consents(&txn, &id).await?;
        if let Some(number) = id_number {
            app.insert_patient_profile(&txn, &id, name, domain::IdDocumentKind::ResidentIdCard, number, None).await?;
        }
        if role.is_staff() {
            let mut u = repo::user::get(&txn, &id).await?;
            u.totp_secret_enc = Some(app.seal("users", "totp_secret_enc", &id, &totp_secret)?);
            u.totp_enabled = true;
            repo::user::update(&txn, u).await?;
        }
        if let (Some(inst_key), Some(dept_code), Some(title), Some(inst_id)) = (inst, dept, title, inst_id) {
            let vid = domain::VerificationId::new().to_string();
            let licence = if login == "doctor" { "110130000000001" } else { "110110000000002" };
            let f1 = app.store_file(&txn, &id, "licence", "image/png", DEMO_PNG).await?;
            let f2 = app.store_file(&txn, &id, "employment", "image/png", DEMO_PNG).await?;
            repo::verification::insert(
                &txn,
                dv::Model {
                    licence_number_enc: app.seal(
                        "doctor_verifications",
                        "licence_number_enc",
                        &vid,
                        licence.as_bytes(),
                    )?,
                    id: vid,
                    user_id: id.clone(),
                    licence_bidx: app.keys.current().blind_index("licence", licence),
                    title: title.into(),
                    institution_id: inst_id,
                    department_id: dept_ids
                        .get(&(inst_key, dept_code))
                        .cloned()
                        .ok_or(AppError::Internal("demo dept"))?,
                    specialties: if login == "doctor" {
                        "全科, 慢病管理".into()
                    } else {
                        "高血压, 冠心病".into()
                    },
                    licence_file_id: f1,
                    employment_file_id: f2,
                    status: "approved".into(),
                    reviewer_id: None,
                    review_reason_enc: None,
                    submitted_at: now,
                    reviewed_at: Some(now),
                },
            )
            .await?;
        }
        app.record_as(
            &txn,
            &RequestCtx::default(),
            None,
            Some("operator"),
            "demo.seed_account",
            Subject { patient_id: None, resource: Some(&id) },
            "ok",
        )
        .await?;
    }
    txn.commit().await?;
    // D5: the demo patient is on a hypertension plan run by the demo doctor, with a paired BP monitor.
    let patient =
        repo::user::find_by_login(&app.store.db, "patient").await?.ok_or(AppError::Internal("demo patient"))?;
    let doctor = repo::user::find_by_login(&app.store.db, "doctor").await?.ok_or(AppError::Internal("demo doctor"))?;
    crate::monitoring::seed_demo(app, &patient.id, &doctor.id, "demo-bp-1", "demo-device-secret").await
}

/// Logins and roles, for the banner `serve --demo` prints.
pub fn accounts() -> Vec<(&'static str, &'static str)> {
    ACCOUNTS.iter().map(|a| (a.0, a.2.as_str())).collect()
}
