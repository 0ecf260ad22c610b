//! Tests for typed identifiers (P1: ids of different entities never mix).
#![allow(clippy::unwrap_used, reason = "tests")]

use domain::{
    AuditEventId, ConsentId, DepartmentId, FileId, InstitutionId, ParseIdError, SessionId, UserId, VerificationId,
};
use proptest::prelude::*;
use rstest::rstest;
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::{Error as DeError, StrDeserializer};
use uuid::Uuid;

domain::define_id!(
    /// An id defined outside the crate's own list, as other crates will.
    WidgetId
);

#[test]
fn new_ids_are_version_7_and_distinct() {
    let a = UserId::new();
    let b = UserId::new();
    assert_eq!(a.as_uuid().get_version_num(), 7);
    assert_ne!(a, b);
}

#[test]
fn every_declared_id_generates_v7() {
    let versions = [
        UserId::new().as_uuid(),
        InstitutionId::new().as_uuid(),
        DepartmentId::new().as_uuid(),
        SessionId::new().as_uuid(),
        AuditEventId::new().as_uuid(),
        VerificationId::new().as_uuid(),
        ConsentId::new().as_uuid(),
        FileId::new().as_uuid(),
        WidgetId::new().as_uuid(),
    ];
    assert!(versions.iter().all(|u| u.get_version_num() == 7));
}

#[test]
fn display_is_lowercase_hyphenated() {
    let uuid = Uuid::parse_str("0190A6B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B").unwrap();
    let id = InstitutionId::from_uuid(uuid);
    assert_eq!(id.to_string(), "0190a6b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b");
    assert_eq!(id.as_uuid(), uuid);
    assert_eq!(Uuid::from(id), uuid);
    assert_eq!(InstitutionId::from(uuid), id);
}

#[rstest]
#[case::hyphenated("0190a6b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b")]
#[case::simple("0190a6b27c3d7e4f8a9b0c1d2e3f4a5b")]
#[case::upper("0190A6B2-7C3D-7E4F-8A9B-0C1D2E3F4A5B")]
fn parses_standard_forms(#[case] text: &str) {
    let id: UserId = text.parse().unwrap();
    assert_eq!(id.to_string(), "0190a6b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b");
}

#[rstest]
#[case::empty("")]
#[case::garbage("not-a-uuid")]
#[case::too_short("0190a6b2-7c3d-7e4f-8a9b")]
#[case::personal_data("11010519491231002X")]
fn rejects_invalid_without_echo(#[case] text: &str) {
    let err = text.parse::<UserId>().unwrap_err();
    assert_eq!(err, ParseIdError);
    if !text.is_empty() {
        assert!(!err.to_string().contains(text));
    }
}

#[test]
fn serde_is_transparent() {
    let text = "0190a6b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
    let de: StrDeserializer<'_, DeError> = text.into_deserializer();
    let id = SessionId::deserialize(de).unwrap();
    assert_eq!(id, text.parse().unwrap());
    let bad: StrDeserializer<'_, DeError> = "nope".into_deserializer();
    assert!(SessionId::deserialize(bad).is_err());
}

proptest! {
    #[test]
    fn display_parse_round_trip(bytes in any::<[u8; 16]>()) {
        let id = FileId::from_uuid(Uuid::from_bytes(bytes));
        prop_assert_eq!(id.to_string().parse::<FileId>(), Ok(id));
    }

    #[test]
    fn ordering_follows_uuid(a in any::<u128>(), b in any::<u128>()) {
        let (x, y) = (UserId::from_uuid(Uuid::from_u128(a)), UserId::from_uuid(Uuid::from_u128(b)));
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
    }
}
