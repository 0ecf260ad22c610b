//! Blind indexes: deterministic keyed hashes of normalised values, stored
//! next to encrypted columns so equality lookups (e.g. "find patient by
//! ID-card number") work without decrypting (supports requirement S1).
//!
//! Invariants:
//! - output = lowercase hex (64 characters) of
//!   `HMAC(blind_key, "yiqiao/blind-index/v1" ‖ u64be(len(domain)) ‖ domain ‖ u64be(len(value)) ‖ value)`;
//! - the domain (e.g. `"id_number"`, `"phone"`) separates columns, so equal
//!   values in different columns do not correlate;
//! - the algorithm ([`BlindAlg`]) is chosen when the key ring is created and
//!   never changes afterwards, otherwise existing indexes stop matching;
//! - the caller normalises values (trim, case, formatting) before hashing.

use std::fmt;

use hmac::Hmac;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sm3::Sm3;

use crate::chain::{hmac_parts, len_prefix};

/// Domain-separation label opening every blind-index input.
const BLIND_DOMAIN: &[u8] = b"yiqiao/blind-index/v1";

/// Keyed hash used for blind indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BlindAlg {
    /// HMAC-SHA256; default for AES-256-GCM rings.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// HMAC-SM3; default for SM4-GCM rings.
    #[serde(rename = "hmac-sm3")]
    HmacSm3,
}

impl BlindAlg {
    /// Canonical name, identical to the serde representation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSm3 => "hmac-sm3",
        }
    }
}

impl fmt::Display for BlindAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Computes the blind index of `value` in `domain` (see module docs).
pub fn blind_index(alg: BlindAlg, key: &[u8], domain: &str, value: &str) -> String {
    let parts: [&[u8]; 5] = [
        BLIND_DOMAIN,
        &len_prefix(domain.as_bytes()),
        domain.as_bytes(),
        &len_prefix(value.as_bytes()),
        value.as_bytes(),
    ];
    let mac = match alg {
        BlindAlg::HmacSha256 => hmac_parts::<Hmac<Sha256>>(key, &parts),
        BlindAlg::HmacSm3 => hmac_parts::<Hmac<Sm3>>(key, &parts),
    };
    hex::encode(mac)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_and_domains_separate() {
        let key = [3_u8; 32];
        let sha = blind_index(BlindAlg::HmacSha256, &key, "phone", "13800000000");
        let sm3 = blind_index(BlindAlg::HmacSm3, &key, "phone", "13800000000");
        assert_eq!(sha.len(), 64);
        assert_eq!(sm3.len(), 64);
        assert_ne!(sha, sm3);
        assert_ne!(sha, blind_index(BlindAlg::HmacSha256, &key, "id_number", "13800000000"));
        assert_ne!(
            blind_index(BlindAlg::HmacSha256, &key, "ab", "c"),
            blind_index(BlindAlg::HmacSha256, &key, "a", "bc")
        );
    }

    #[test]
    fn serde_names() {
        assert_eq!(serde_json::to_string(&BlindAlg::HmacSm3).unwrap(), "\"hmac-sm3\"");
        assert_eq!(BlindAlg::HmacSha256.as_str(), "hmac-sha256");
    }
}
