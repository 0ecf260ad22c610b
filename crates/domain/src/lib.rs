//! Yiqiao domain: pure types and rules shared by every other crate.
//!
//! No IO, no async, no database — only value types, validation and
//! masking, so that the rules can be tested exhaustively.
//!
//! Requirements covered:
//! - B1 doctor verification: [`VerificationStatus`], [`DoctorTitle`],
//!   [`validate_licence_number`].
//! - B2 real-name registration: [`id_document`], [`mask`].
//! - B3 roles: [`Role`], [`validate_login`], [`validate_password`].
//! - P1 multi-tenant: typed [`ids`] (tenant ids cannot be confused with user
//!   ids), [`InstitutionKind`].
//! - PIPL consent: [`ConsentKind`] and the current notice versions.
//! - A1/A2/A7 online consultations: [`consultation`] (status, kind, SLA,
//!   transitions, input validation).
//! - C2 search by disease: [`icd10`] (normalisation, common-code catalogue).
//! - Q1 red-flag screening ("call 120" notice): [`screening`].
//!
//! Invariants: all enums have stable `snake_case` codes; errors never echo
//! personal data.

// `enum_code` defines `string_enum!`, used by the modules below: it must come first.
#[macro_use]
pub mod enum_code;

pub mod annotation;
pub mod audio;
pub mod calculator;
pub mod card;
pub mod consultation;
pub mod education;
pub mod icd10;
pub mod id_document;
pub mod ids;
pub mod mask;
pub mod reading;
pub mod role;
pub mod screening;
pub mod search;
pub mod validate;

pub use consultation::{
    ConsultationError, ConsultationKind, ConsultationStatus, SlaPolicy, SlaState, after_message, can_close, can_rate,
    can_send, kind_for, sla_state, validate_client_id, validate_complaint, validate_message_text, validate_rating,
};
pub use enum_code::ParseEnumError;
pub use icd10::{ICD10_COMMON, Icd10Entry, Icd10Error, lookup, normalize_icd10, search};
pub use id_document::{IdDocumentKind, IdError, Sex, ValidId, age_on, gb11643_check_char, validate_id_document};
pub use ids::{
    AuditEventId, ConsentId, ConsultationId, DepartmentId, FileId, InstitutionId, MessageId, ParseIdError, SessionId,
    UserId, VerificationId,
};
pub use mask::{mask_id_number, mask_name, mask_phone};
pub use role::{DoctorTitle, InstitutionKind, Role, VerificationStatus};
pub use screening::{RED_FLAG_NOTICE_EN, RED_FLAG_NOTICE_ZH, RedFlagHit, RedFlagLexicon, normalize_for_matching};
pub use validate::{
    ValidationError, normalize_phone, validate_licence_number, validate_login, validate_password, validate_region_code,
};

/// Version of the privacy notice (隐私政策) users currently accept (PIPL).
pub const PRIVACY_NOTICE_VERSION: &str = "2026-11-01";

/// Version of the separate consent for sensitive personal information
/// (敏感个人信息, e.g. health data) required by PIPL art. 29.
pub const SENSITIVE_CONSENT_VERSION: &str = "2026-11-01";

string_enum! {
    /// Kinds of consent recorded under PIPL.
    pub enum ConsentKind("consent kind") {
        /// Acceptance of the privacy notice.
        PrivacyNotice => "privacy_notice",
        /// Separate consent to process sensitive personal information.
        SensitivePersonalInfo => "sensitive_personal_info",
    }
}

impl ConsentKind {
    /// The notice version a fresh consent of this kind refers to.
    pub const fn current_version(self) -> &'static str {
        match self {
            Self::PrivacyNotice => PRIVACY_NOTICE_VERSION,
            Self::SensitivePersonalInfo => SENSITIVE_CONSENT_VERSION,
        }
    }
}

#[doc(hidden)]
pub mod __private {
    //! Re-exports used by [`define_id!`](crate::define_id) so that calling
    //! crates need no direct `uuid`/`serde` dependency.
    pub use serde;
    pub use uuid;
}
