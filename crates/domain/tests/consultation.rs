//! Tests for online consultations: status/kind codes, follow-up rule,
//! SLA clocks (A2), transitions (A1, A7) and input validation.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use domain::ConsultationError::{
    AlreadyClosed, AlreadyRated, ClientIdInvalid, Closed, ComplaintInvalid, MessageInvalid, NotClosed, RatingInvalid,
};
use domain::ConsultationStatus::{Active, Closed as StClosed, Waiting};
use domain::{
    ConsultationError, ConsultationId, ConsultationKind, ConsultationStatus, MessageId, SlaPolicy, SlaState,
    after_message, can_close, can_rate, can_send, kind_for, sla_state, validate_client_id, validate_complaint,
    validate_message_text, validate_rating,
};
use proptest::prelude::*;
use rstest::rstest;
use serde::Deserialize;
use serde::de::value::{Error as DeError, MapDeserializer};
use serde::de::{IntoDeserializer, Visitor};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap()
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

#[rstest]
#[case(Waiting, "waiting")]
#[case(Active, "active")]
#[case(StClosed, "closed")]
fn status_codes(#[case] status: ConsultationStatus, #[case] code: &str) {
    assert_eq!(status.as_str(), code);
    assert_eq!(ConsultationStatus::from_str(code), Ok(status));
    assert!(ConsultationStatus::ALL.contains(&status));
}

#[rstest]
#[case(ConsultationKind::FollowUp, "follow_up", true)]
#[case(ConsultationKind::HealthConsultation, "health_consultation", false)]
fn kind_codes(#[case] kind: ConsultationKind, #[case] code: &str, #[case] prescribe: bool) {
    assert_eq!(kind.as_str(), code);
    assert_eq!(ConsultationKind::from_str(code), Ok(kind));
    assert_eq!(kind.may_prescribe(), prescribe);
}

#[rstest]
#[case::diagnosis_and_proof(Some("2型糖尿病"), true, ConsultationKind::FollowUp)]
#[case::diagnosis_no_proof(Some("2型糖尿病"), false, ConsultationKind::HealthConsultation)]
#[case::proof_no_diagnosis(None, true, ConsultationKind::HealthConsultation)]
#[case::blank_diagnosis(Some("  \t"), true, ConsultationKind::HealthConsultation)]
#[case::empty_diagnosis(Some(""), true, ConsultationKind::HealthConsultation)]
#[case::nothing(None, false, ConsultationKind::HealthConsultation)]
fn follow_up_rule(#[case] prior: Option<&str>, #[case] proof: bool, #[case] expected: ConsultationKind) {
    assert_eq!(kind_for(prior, proof), expected);
    assert_eq!(ConsultationKind::kind_for(prior, proof), expected);
}

#[test]
fn default_sla_is_15_and_30_minutes() {
    let p = SlaPolicy::default();
    assert_eq!((p.priority_secs, p.normal_secs), (900, 1800));
    assert_eq!(p.first_response_due(t0(), true), t0() + TimeDelta::minutes(15));
    assert_eq!(p.first_response_due(t0(), false), t0() + TimeDelta::minutes(30));
}

#[test]
fn sla_due_saturates_and_clamps() {
    let p = SlaPolicy { priority_secs: -5, normal_secs: i64::MAX };
    assert_eq!(p.first_response_due(t0(), true), t0());
    assert_eq!(p.first_response_due(t0(), false), DateTime::<Utc>::MAX_UTC);
}

#[rstest]
#[case::at_creation(0, SlaState::Pending { secs_left: 900 })]
#[case::one_before_due(899, SlaState::Pending { secs_left: 1 })]
#[case::at_due(900, SlaState::Pending { secs_left: 0 })]
#[case::one_after_due(901, SlaState::Breached { overdue_secs: 1 })]
#[case::long_after(900 + 3600, SlaState::Breached { overdue_secs: 3600 })]
fn sla_pending_priority(#[case] elapsed: i64, #[case] expected: SlaState) {
    let due = SlaPolicy::default().first_response_due(t0(), true);
    assert_eq!(sla_state(t0() + secs(elapsed), t0(), due, None), expected);
}

#[rstest]
#[case::priority_breached_normal_pending(901, true, SlaState::Breached { overdue_secs: 1 })]
#[case::normal_pending(901, false, SlaState::Pending { secs_left: 899 })]
#[case::normal_at_due(1800, false, SlaState::Pending { secs_left: 0 })]
#[case::normal_breached(1801, false, SlaState::Breached { overdue_secs: 1 })]
fn sla_priority_vs_normal(#[case] elapsed: i64, #[case] priority: bool, #[case] expected: SlaState) {
    let due = SlaPolicy::default().first_response_due(t0(), priority);
    assert_eq!(sla_state(t0() + secs(elapsed), t0(), due, None), expected);
}

#[test]
fn sla_is_whole_seconds() {
    let due = t0() + secs(900);
    let almost = due + TimeDelta::milliseconds(999);
    assert_eq!(sla_state(almost, t0(), due, None), SlaState::Pending { secs_left: 0 });
    assert_eq!(sla_state(due + secs(1), t0(), due, None), SlaState::Breached { overdue_secs: 1 });
    let answered = Some(almost);
    assert_eq!(sla_state(t0(), t0(), due, answered), SlaState::MetInTime { response_secs: 900 });
}

#[rstest]
#[case::quick(60, SlaState::MetInTime { response_secs: 60 })]
#[case::at_due(900, SlaState::MetInTime { response_secs: 900 })]
#[case::one_late(901, SlaState::MetLate { response_secs: 901 })]
#[case::clock_skew(-10, SlaState::MetInTime { response_secs: 0 })]
fn sla_met(#[case] response: i64, #[case] expected: SlaState) {
    let due = t0() + secs(900);
    // `now` does not matter once answered.
    for now in [t0(), due, due + secs(86_400)] {
        assert_eq!(sla_state(now, t0(), due, Some(t0() + secs(response))), expected);
    }
}

#[test]
fn sla_state_helpers() {
    assert!(!SlaState::Pending { secs_left: 1 }.is_late());
    assert!(SlaState::Breached { overdue_secs: 1 }.is_late());
    assert!(SlaState::MetLate { response_secs: 1 }.is_late());
    assert!(SlaState::MetInTime { response_secs: 1 }.is_met());
    assert!(!SlaState::Breached { overdue_secs: 1 }.is_met());
}

/// A JSON-like scalar so that `{"state": …, "…_secs": …}` maps can be fed
/// to serde without a JSON crate.
#[derive(Clone, Copy)]
enum Scalar {
    Str(&'static str),
    Int(i64),
}

impl<'de> serde::Deserializer<'de> for Scalar {
    type Error = DeError;
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Self::Str(s) => v.visit_borrowed_str(s),
            Self::Int(i) => v.visit_i64(i),
        }
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

impl IntoDeserializer<'_, DeError> for Scalar {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

#[rstest]
#[case("pending", "secs_left", SlaState::Pending { secs_left: 7 })]
#[case("breached", "overdue_secs", SlaState::Breached { overdue_secs: 7 })]
#[case("met_in_time", "response_secs", SlaState::MetInTime { response_secs: 7 })]
#[case("met_late", "response_secs", SlaState::MetLate { response_secs: 7 })]
fn sla_state_serde_shape(#[case] tag: &'static str, #[case] field: &'static str, #[case] expected: SlaState) {
    let map = [("state", Scalar::Str(tag)), (field, Scalar::Int(7))];
    let de: MapDeserializer<'_, _, DeError> = MapDeserializer::new(map.into_iter());
    assert_eq!(SlaState::deserialize(de).unwrap(), expected);
}

#[rstest]
#[case(Waiting, true, Ok(()))]
#[case(Waiting, false, Ok(()))]
#[case(Active, true, Ok(()))]
#[case(Active, false, Ok(()))]
#[case(StClosed, true, Err(Closed))]
#[case(StClosed, false, Err(Closed))]
fn send_rules(
    #[case] status: ConsultationStatus,
    #[case] patient: bool,
    #[case] expected: Result<(), ConsultationError>,
) {
    assert_eq!(can_send(status, patient), expected);
}

#[rstest]
#[case(Waiting, true, Active)]
#[case(Waiting, false, Waiting)]
#[case(Active, true, Active)]
#[case(Active, false, Active)]
#[case(StClosed, true, StClosed)]
#[case(StClosed, false, StClosed)]
fn message_transitions(#[case] status: ConsultationStatus, #[case] doctor: bool, #[case] expected: ConsultationStatus) {
    assert_eq!(after_message(status, doctor), expected);
}

#[rstest]
#[case(Waiting, Ok(()))]
#[case(Active, Ok(()))]
#[case(StClosed, Err(AlreadyClosed))]
fn close_rules(#[case] status: ConsultationStatus, #[case] expected: Result<(), ConsultationError>) {
    assert_eq!(can_close(status), expected);
}

#[rstest]
#[case(Waiting, false, Err(NotClosed))]
#[case(Active, false, Err(NotClosed))]
#[case(Active, true, Err(NotClosed))]
#[case(StClosed, false, Ok(()))]
#[case(StClosed, true, Err(AlreadyRated))]
fn rate_rules(
    #[case] status: ConsultationStatus,
    #[case] rated: bool,
    #[case] expected: Result<(), ConsultationError>,
) {
    assert_eq!(can_rate(status, rated), expected);
}

#[rstest]
#[case::zero(0, "", false)]
#[case::one(1, "", true)]
#[case::five(5, "很满意，医生很耐心", true)]
#[case::six(6, "", false)]
#[case::max_comment(3, &"好".repeat(500), true)]
#[case::max_comment_padded(3, &format!("  {}\n", "好".repeat(500)), true)]
#[case::long_comment(3, &"好".repeat(501), false)]
fn rating_bounds(#[case] stars: u8, #[case] comment: &str, #[case] ok: bool) {
    assert_eq!(validate_rating(stars, comment), if ok { Ok(()) } else { Err(RatingInvalid) });
}

#[rstest]
#[case::min("头痛", Ok("头痛"))]
#[case::trimmed("  咳嗽三天 \n", Ok("咳嗽三天"))]
#[case::max(&"痛".repeat(2000), Ok(&*"痛".repeat(2000)))]
#[case::one_char("痛", Err(ComplaintInvalid))]
#[case::blank("   ", Err(ComplaintInvalid))]
#[case::too_long(&"痛".repeat(2001), Err(ComplaintInvalid))]
fn complaint_bounds(#[case] raw: &str, #[case] expected: Result<&str, ConsultationError>) {
    assert_eq!(validate_complaint(raw), expected.map(str::to_owned));
}

#[rstest]
#[case::one("好", Ok("好"))]
#[case::trimmed(" ok ", Ok("ok"))]
#[case::max(&"a".repeat(4000), Ok(&*"a".repeat(4000)))]
#[case::max_multibyte(&"药".repeat(4000), Ok(&*"药".repeat(4000)))]
#[case::empty("", Err(MessageInvalid))]
#[case::blank(" \n\t ", Err(MessageInvalid))]
#[case::too_long(&"a".repeat(4001), Err(MessageInvalid))]
fn message_bounds(#[case] raw: &str, #[case] expected: Result<&str, ConsultationError>) {
    assert_eq!(validate_message_text(raw), expected.map(str::to_owned));
}

#[rstest]
#[case::uuid("0190a6b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b", true)]
#[case::one("a", true)]
#[case::max(&"A_-9".repeat(16), true)]
#[case::empty("", false)]
#[case::too_long(&"a".repeat(65), false)]
#[case::space("a b", false)]
#[case::padded(" a", false)]
#[case::dot("a.b", false)]
#[case::chinese("消息1", false)]
fn client_id(#[case] id: &str, #[case] ok: bool) {
    assert_eq!(validate_client_id(id), if ok { Ok(()) } else { Err(ClientIdInvalid) });
}

#[rstest]
#[case(Closed, "consultation_closed")]
#[case(AlreadyClosed, "already_closed")]
#[case(NotClosed, "not_closed")]
#[case(AlreadyRated, "already_rated")]
#[case(RatingInvalid, "rating_invalid")]
#[case(ComplaintInvalid, "complaint_invalid")]
#[case(MessageInvalid, "message_invalid")]
#[case(ClientIdInvalid, "client_id_invalid")]
fn error_codes(#[case] err: ConsultationError, #[case] code: &str) {
    assert_eq!(err.code(), code);
    assert_eq!(err.to_string(), err.message());
    assert!(err.message().is_ascii());
}

#[test]
fn ids_are_distinct_types() {
    let c = ConsultationId::new();
    let m = MessageId::new();
    assert_eq!(c.to_string().parse::<ConsultationId>(), Ok(c));
    assert_ne!(c.as_uuid(), m.as_uuid());
}

proptest! {
    #[test]
    fn complaint_ok_iff_trimmed_length_in_range(s in "\\s{0,3}\\PC{0,2100}\\s{0,3}") {
        let n = s.trim().chars().count();
        prop_assert_eq!(validate_complaint(&s).is_ok(), (2..=2000).contains(&n));
    }

    #[test]
    fn sla_pending_plus_left_is_due(elapsed in -100_000_i64..100_000, priority in any::<bool>()) {
        let due = SlaPolicy::default().first_response_due(t0(), priority);
        let now = t0() + secs(elapsed);
        match sla_state(now, t0(), due, None) {
            SlaState::Pending { secs_left } => prop_assert_eq!(now + secs(secs_left), due),
            SlaState::Breached { overdue_secs } => {
                prop_assert!(overdue_secs >= 1);
                prop_assert_eq!(due + secs(overdue_secs), now);
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn message_validation_is_trim_idempotent(s in "\\PC{0,80}") {
        if let Ok(v) = validate_message_text(&s) {
            prop_assert_eq!(validate_message_text(&v), Ok(v.clone()));
        }
    }
}
