//! Strongly typed identifiers.
//!
//! Every entity gets its own newtype over [`uuid::Uuid`] so that a
//! [`UserId`] can never be passed where an [`InstitutionId`] is expected —
//! important for P1 (multi-tenant isolation: tenant and user ids must not be
//! confused) and for the audit trail.
//!
//! Invariants:
//! - `new()` produces a version 7 UUID (time-ordered, good B-tree locality).
//! - `Display` is the lower-case hyphenated form and `FromStr` accepts any
//!   form `uuid` accepts; serde is transparent (same as a bare `Uuid`).
//! - Parse errors never echo the rejected input.
//!
//! Other crates may define further ids with [`define_id!`](crate::define_id).

use thiserror::Error;

/// A string was not a valid identifier (UUID). The input is not retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("invalid identifier")]
pub struct ParseIdError;

/// Defines a UUID-backed identifier newtype.
///
/// ```
/// domain::define_id!(
///     /// Identifier of a widget.
///     WidgetId
/// );
/// let id = WidgetId::new();
/// assert_eq!(id.to_string().parse::<WidgetId>(), Ok(id));
/// ```
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($crate::__private::uuid::Uuid);

        #[allow(
            clippy::new_without_default,
            reason = "a random Default id would be a footgun in struct-update syntax"
        )]
        impl $name {
            /// Generates a fresh, time-ordered (version 7 UUID) identifier.
            pub fn new() -> Self {
                Self($crate::__private::uuid::Uuid::now_v7())
            }

            /// Wraps an existing UUID (e.g. loaded from storage).
            pub const fn from_uuid(uuid: $crate::__private::uuid::Uuid) -> Self {
                Self(uuid)
            }

            /// Returns the underlying UUID.
            pub const fn as_uuid(&self) -> $crate::__private::uuid::Uuid {
                self.0
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::ids::ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::__private::uuid::Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| $crate::ids::ParseIdError)
            }
        }

        impl ::core::convert::From<$crate::__private::uuid::Uuid> for $name {
            fn from(uuid: $crate::__private::uuid::Uuid) -> Self {
                Self(uuid)
            }
        }

        impl ::core::convert::From<$name> for $crate::__private::uuid::Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S>(&self, serializer: S) -> Result<S::Ok, S::Error>
            where
                S: $crate::__private::serde::Serializer,
            {
                $crate::__private::serde::Serialize::serialize(&self.0, serializer)
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D>(deserializer: D) -> Result<Self, D::Error>
            where
                D: $crate::__private::serde::Deserializer<'de>,
            {
                <$crate::__private::uuid::Uuid as $crate::__private::serde::Deserialize<'de>>::deserialize(
                    deserializer,
                )
                .map(Self)
            }
        }
    };
}

define_id!(
    /// A person with an account: patient or staff (B3).
    UserId
);
define_id!(
    /// A tenant: hospital, clinic, pharmacy, … (P1).
    InstitutionId
);
define_id!(
    /// A department inside one institution (P1).
    DepartmentId
);
define_id!(
    /// A login session.
    SessionId
);
define_id!(
    /// One entry of the append-only audit log.
    AuditEventId
);
define_id!(
    /// One doctor/staff credential verification request (B1).
    VerificationId
);
define_id!(
    /// One recorded PIPL consent (privacy notice / sensitive personal info).
    ConsentId
);
define_id!(
    /// An uploaded file (licence scan, report, image, …).
    FileId
);
define_id!(
    /// An online consultation between a patient and a doctor (A1).
    ConsultationId
);
define_id!(
    /// One message inside a consultation (A1, archived per C1).
    MessageId
);
