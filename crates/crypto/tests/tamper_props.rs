//! Property tests for field encryption (S1): round trips for both ciphers,
//! and rejection of any bit flip, a rewritten key id, or a ciphertext moved
//! to another table, column or row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use crypto::{Aad, CipherKind, CryptoError, KeyRing, key_id_of};
use proptest::prelude::*;

/// Rings with two keys each (ids 1 and 2, 2 active) of the same cipher.
static RINGS: LazyLock<[KeyRing; 2]> = LazyLock::new(|| {
    [CipherKind::Aes256Gcm, CipherKind::Sm4Gcm].map(|kind| {
        let mut ring = KeyRing::generate(kind).unwrap();
        assert_eq!(ring.rotate(kind), 2);
        ring
    })
});

fn ring(sm4: bool) -> &'static KeyRing {
    &RINGS[usize::from(sm4)]
}

fn field() -> impl Strategy<Value = String> {
    "[a-z0-9_\\-]{0,12}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trip(
        sm4 in any::<bool>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        table in field(), column in field(), row in field(),
    ) {
        let ring = ring(sm4);
        let aad = Aad { table: &table, column: &column, row_id: &row };
        let blob = ring.encrypt(&plaintext, &aad).unwrap();
        prop_assert_eq!(blob.len(), 1 + 4 + 12 + plaintext.len() + 16);
        prop_assert_eq!(key_id_of(&blob).unwrap(), 2);
        prop_assert_eq!(ring.decrypt(&blob, &aad).unwrap(), plaintext);
    }

    #[test]
    fn str_round_trip(sm4 in any::<bool>(), text in ".{0,64}") {
        let ring = ring(sm4);
        let aad = Aad::new("patients", "name", "1");
        let encoded = ring.encrypt_str(&text, &aad).unwrap();
        prop_assert_eq!(ring.decrypt_str(&encoded, &aad).unwrap(), text);
    }

    #[test]
    fn any_bit_flip_is_rejected(
        sm4 in any::<bool>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..128),
        bit in any::<prop::sample::Index>(),
    ) {
        let ring = ring(sm4);
        let aad = Aad::new("consultations", "notes", "c-17");
        let mut blob = ring.encrypt(&plaintext, &aad).unwrap();
        let bit = bit.index(blob.len() * 8);
        blob[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(ring.decrypt(&blob, &aad).is_err());
    }

    #[test]
    fn rewritten_key_id_is_rejected(
        sm4 in any::<bool>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..128),
        other_id in any::<u32>(),
    ) {
        let ring = ring(sm4);
        let aad = Aad::new("patients", "phone", "p-1");
        let mut blob = ring.encrypt(&plaintext, &aad).unwrap();
        // Always exercise the existing-but-wrong key 1, then an arbitrary id.
        for id in [1, other_id] {
            prop_assume!(id != 2);
            blob[1..5].copy_from_slice(&id.to_be_bytes());
            let result = ring.decrypt(&blob, &aad);
            match id {
                1 => prop_assert!(matches!(result, Err(CryptoError::Decrypt))),
                _ => prop_assert!(matches!(result, Err(CryptoError::UnknownKey(k)) if k == id)),
            }
        }
    }

    #[test]
    fn moved_ciphertext_is_rejected(
        sm4 in any::<bool>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
        table in field(), column in field(), row in field(),
        other in field(), which in 0_usize..3,
    ) {
        let ring = ring(sm4);
        let aad = Aad { table: &table, column: &column, row_id: &row };
        let blob = ring.encrypt(&plaintext, &aad).unwrap();
        let mut moved = aad;
        match which {
            0 => { prop_assume!(other != table); moved.table = &other; }
            1 => { prop_assume!(other != column); moved.column = &other; }
            _ => { prop_assume!(other != row); moved.row_id = &other; }
        }
        prop_assert!(matches!(ring.decrypt(&blob, &moved), Err(CryptoError::Decrypt)));
    }
}

#[test]
fn shifting_bytes_between_aad_fields_is_rejected() {
    let ring = ring(false);
    let blob = ring.encrypt(b"x", &Aad::new("ab", "c", "1")).unwrap();
    assert!(ring.decrypt(&blob, &Aad::new("a", "bc", "1")).is_err());
    assert!(ring.decrypt(&blob, &Aad::new("ab", "", "c1")).is_err());
    assert!(ring.decrypt(&blob, &Aad::new("ab", "c", "1")).is_ok());
}

#[test]
fn truncated_blobs_are_rejected() {
    let ring = ring(true);
    let aad = Aad::new("t", "c", "r");
    let blob = ring.encrypt(b"hello world", &aad).unwrap();
    for len in 0..blob.len() {
        assert!(ring.decrypt(&blob[..len], &aad).is_err(), "len {len}");
    }
}

#[test]
fn ciphertext_from_another_ring_is_rejected() {
    let other = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    let aad = Aad::new("t", "c", "r");
    let blob = other.encrypt(b"secret", &aad).unwrap();
    assert!(matches!(ring(false).decrypt(&blob, &aad), Err(CryptoError::Decrypt)));
}
