//! Tests for roles (B3), doctor titles (B1/B4), institution kinds (P1),
//! verification status and consent kinds.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::str::FromStr;

use domain::{
    ConsentKind, DoctorTitle, InstitutionKind, PRIVACY_NOTICE_VERSION, ParseEnumError, Role, SENSITIVE_CONSENT_VERSION,
    VerificationStatus,
};
use rstest::rstest;
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::{Error as DeError, StrDeserializer};

fn de<T: for<'a> Deserialize<'a>>(s: &str) -> Result<T, DeError> {
    let d: StrDeserializer<'_, DeError> = s.into_deserializer();
    T::deserialize(d)
}

#[rstest]
#[case(Role::Patient, "patient", false, false)]
#[case(Role::Doctor, "doctor", true, true)]
#[case(Role::Nurse, "nurse", true, true)]
#[case(Role::Pharmacist, "pharmacist", true, true)]
#[case(Role::Therapist, "therapist", true, true)]
#[case(Role::QualityReviewer, "quality_reviewer", true, false)]
#[case(Role::InstitutionAdmin, "institution_admin", true, false)]
#[case(Role::PlatformAdmin, "platform_admin", true, false)]
#[case(Role::Auditor, "auditor", true, false)]
fn role_table(#[case] role: Role, #[case] code: &str, #[case] staff: bool, #[case] clinical: bool) {
    assert_eq!(role.as_str(), code);
    assert_eq!(role.to_string(), code);
    assert_eq!(Role::from_str(code), Ok(role));
    assert_eq!(de::<Role>(code).unwrap(), role);
    assert_eq!(role.is_staff(), staff);
    assert_eq!(role.is_clinical(), clinical);
    assert!(!role.name_zh().is_empty());
    assert!(Role::ALL.contains(&role));
}

#[test]
fn role_all_is_complete_and_unique() {
    assert_eq!(Role::ALL.len(), 9);
    let mut codes: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), 9);
    // Clinical implies staff.
    assert!(Role::ALL.iter().all(|r| !r.is_clinical() || r.is_staff()));
}

#[rstest]
#[case::unknown("surgeon")]
#[case::case_sensitive("Doctor")]
#[case::spaced(" doctor")]
#[case::camel("qualityReviewer")]
#[case::empty("")]
fn role_rejects_unknown(#[case] code: &str) {
    let err = Role::from_str(code).unwrap_err();
    assert_eq!(err, ParseEnumError::new("role"));
    assert_eq!(err.to_string(), "unknown role code");
    assert!(de::<Role>(code).is_err());
}

#[rstest]
#[case(DoctorTitle::Resident, "resident", "住院医师", false)]
#[case(DoctorTitle::Attending, "attending", "主治医师", false)]
#[case(DoctorTitle::AssociateChief, "associate_chief", "副主任医师", true)]
#[case(DoctorTitle::Chief, "chief", "主任医师", true)]
fn doctor_title_table(#[case] title: DoctorTitle, #[case] code: &str, #[case] zh: &str, #[case] expert: bool) {
    assert_eq!(title.as_str(), code);
    assert_eq!(DoctorTitle::from_str(code), Ok(title));
    assert_eq!(de::<DoctorTitle>(code).unwrap(), title);
    assert_eq!(title.name_zh(), zh);
    assert_eq!(title.may_be_remote_expert(), expert);
}

#[test]
fn doctor_titles_are_ordered_by_seniority() {
    let all = DoctorTitle::ALL;
    assert!(all.windows(2).all(|w| w[0] < w[1]));
}

#[rstest]
#[case(InstitutionKind::TertiaryHospital, "tertiary_hospital", 3, "三级医院")]
#[case(InstitutionKind::SecondaryHospital, "secondary_hospital", 2, "二级医院")]
#[case(InstitutionKind::TownshipHealthCentre, "township_health_centre", 1, "乡镇卫生院")]
#[case(InstitutionKind::VillageClinic, "village_clinic", 0, "村卫生室")]
#[case(InstitutionKind::Pharmacy, "pharmacy", 0, "药店")]
#[case(InstitutionKind::HealthManagement, "health_management", 0, "健康管理机构")]
fn institution_kind_table(#[case] kind: InstitutionKind, #[case] code: &str, #[case] tier: u8, #[case] zh: &str) {
    assert_eq!(kind.as_str(), code);
    assert_eq!(InstitutionKind::from_str(code), Ok(kind));
    assert_eq!(de::<InstitutionKind>(code).unwrap(), kind);
    assert_eq!(kind.tier(), tier);
    assert_eq!(kind.name_zh(), zh);
    assert!(!kind.name_en().is_empty());
}

#[rstest]
#[case(VerificationStatus::Pending, "pending")]
#[case(VerificationStatus::Approved, "approved")]
#[case(VerificationStatus::Rejected, "rejected")]
fn verification_status_table(#[case] status: VerificationStatus, #[case] code: &str) {
    assert_eq!(status.as_str(), code);
    assert_eq!(VerificationStatus::from_str(code), Ok(status));
    assert_eq!(de::<VerificationStatus>(code).unwrap(), status);
}

#[rstest]
#[case(ConsentKind::PrivacyNotice, "privacy_notice", PRIVACY_NOTICE_VERSION)]
#[case(ConsentKind::SensitivePersonalInfo, "sensitive_personal_info", SENSITIVE_CONSENT_VERSION)]
fn consent_kind_table(#[case] kind: ConsentKind, #[case] code: &str, #[case] version: &str) {
    assert_eq!(kind.as_str(), code);
    assert_eq!(ConsentKind::from_str(code), Ok(kind));
    assert_eq!(de::<ConsentKind>(code).unwrap(), kind);
    assert_eq!(kind.current_version(), version);
}

#[test]
fn consent_versions() {
    assert_eq!(PRIVACY_NOTICE_VERSION, "2026-11-01");
    assert_eq!(SENSITIVE_CONSENT_VERSION, "2026-11-01");
}
