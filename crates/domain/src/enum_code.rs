//! Closed, string-coded enums shared by the whole domain.
//!
//! Many domain enums (roles, doctor titles, institution kinds, consent kinds,
//! identity-document kinds, …) are persisted, sent over the wire and shown in
//! URLs as short `snake_case` codes. The internal [`string_enum!`] macro
//! generates one consistent implementation for all of them.
//!
//! Invariants:
//! - `as_str()` and the serde representation are the same code, and
//!   `FromStr` accepts exactly those codes (round-trip is lossless).
//! - `ALL` lists every variant in declaration order.
//! - Parsing errors never echo the rejected input (no personal data in
//!   errors, PIPL).
//!
//! Used by B3 (roles), B1 (doctor titles, verification status), B2
//! (identity documents) and P1 (institution kinds).

use thiserror::Error;

/// A string did not match any code of a closed domain enum.
///
/// The rejected value is deliberately not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("unknown {type_name} code")]
pub struct ParseEnumError {
    type_name: &'static str,
}

impl ParseEnumError {
    /// Creates an error for the enum described by `type_name`.
    pub const fn new(type_name: &'static str) -> Self {
        Self { type_name }
    }

    /// Human-readable name of the enum that failed to parse.
    pub const fn type_name(&self) -> &'static str {
        self.type_name
    }
}

/// Defines a `Copy` enum whose variants map one-to-one to string codes.
///
/// Generates: derives (`Debug`, `Clone`, `Copy`, `Eq`, `Ord`, `Hash`, serde
/// with the code as representation), `ALL`, `as_str()`, `Display` and
/// `FromStr` (error [`ParseEnumError`]).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($label:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $code:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $code)] $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [Self; [$($code),+].len()] = [$(Self::$variant),+];

            /// Stable `snake_case` code used in storage, URLs and serde.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $code, )+
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::enum_code::ParseEnumError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $code => Ok(Self::$variant), )+
                    _ => Err($crate::enum_code::ParseEnumError::new($label)),
                }
            }
        }
    };
}
