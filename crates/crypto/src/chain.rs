//! Keyed hash chain for the tamper-evident audit log (requirement S3), plus
//! the shared HMAC / SM3 helpers.
//!
//! Each audit event stores `hash_n = chain_hash(audit_key, hash_{n-1},
//! canonical_event_n)`, starting from [`GENESIS`]. Editing, inserting,
//! deleting or reordering any event breaks every later link, and without the
//! audit key an attacker cannot recompute the chain.
//!
//! Invariants:
//! - `chain_hash` = HMAC-SHA256(audit_key, u64be(len(prev)) ‖ prev ‖
//!   u64be(len(event)) ‖ event); the length prefixes make the split between
//!   `prev` and `event` unambiguous. This definition is persisted in stored
//!   hashes and must never change.
//! - the canonical event encoding is the store crate's responsibility.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sm3::{Digest, Sm3};

/// Previous-hash value used for the first event of a chain.
pub const GENESIS: [u8; 32] = [0; 32];

/// Computes the next link of the audit chain (see module docs for the exact
/// input encoding).
pub fn chain_hash(audit_key: &[u8], prev_hash: &[u8], event_canonical_bytes: &[u8]) -> [u8; 32] {
    hmac_parts::<Hmac<Sha256>>(
        audit_key,
        &[&len_prefix(prev_hash), prev_hash, &len_prefix(event_canonical_bytes), event_canonical_bytes],
    )
}

/// HMAC-SHA256 (RFC 2104 / RFC 4231).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    hmac_parts::<Hmac<Sha256>>(key, &[data])
}

/// HMAC-SM3 (RFC 2104 construction over the GB/T 32905 hash).
pub fn hmac_sm3(key: &[u8], data: &[u8]) -> [u8; 32] {
    hmac_parts::<Hmac<Sm3>>(key, &[data])
}

/// Lowercase hex of the SM3 digest of `data`.
pub fn sm3_hex(data: &[u8]) -> String {
    hex::encode(Sm3::digest(data))
}

/// HMAC-SHA1, for the TURN REST credential that coturn's `use-auth-secret` mode checks (F3). SHA-1
/// is what that protocol defines; nothing stored by Yiqiao depends on it.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let Ok(mut mac) = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length");
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Big-endian u64 length prefix used by all length-prefixed encodings here.
pub(crate) fn len_prefix(part: &[u8]) -> [u8; 8] {
    (part.len() as u64).to_be_bytes()
}

/// HMAC over the concatenation of `parts` with a 32-byte output.
pub(crate) fn hmac_parts<M>(key: &[u8], parts: &[&[u8]]) -> [u8; 32]
where
    M: Mac + KeyInit,
    hmac::digest::Output<M>: Into<[u8; 32]>,
{
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length");
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        // RFC 2202 test case 1.
        assert_eq!(hex::encode(hmac_sha1(&[0x0b; 20], b"Hi There")), "b617318655057264e28bc0b6fb378c8ef146be00");
    }

    #[test]
    fn chain_links_depend_on_every_input() {
        let key = [5_u8; 32];
        let h1 = chain_hash(&key, &GENESIS, b"event-1");
        let h2 = chain_hash(&key, &h1, b"event-2");
        assert_ne!(h1, h2);
        assert_eq!(h1, chain_hash(&key, &GENESIS, b"event-1"));
        assert_ne!(h1, chain_hash(&[6_u8; 32], &GENESIS, b"event-1"));
        assert_ne!(h2, chain_hash(&key, &GENESIS, b"event-2"));
        // Moving bytes across the prev/event boundary changes the hash.
        assert_ne!(chain_hash(&key, b"ab", b"c"), chain_hash(&key, b"a", b"bc"));
    }

    #[test]
    fn hmac_sm3_differs_from_hmac_sha256() {
        assert_ne!(hmac_sm3(b"k", b"data"), hmac_sha256(b"k", b"data"));
        assert_eq!(sm3_hex(b"").len(), 64);
    }
}
