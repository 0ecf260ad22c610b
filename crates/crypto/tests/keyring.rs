//! Key-ring behaviour: rotation, JSON and file persistence, blind indexes,
//! audit-chain key use (S3) and redaction of secrets (S1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use crypto::{Aad, BlindAlg, CipherKind, CryptoError, GENESIS, KeyRing, chain_hash, key_id_of};
use serde_json::Value;

const AAD: Aad<'static> = Aad { table: "patients", column: "id_number", row_id: "p-1" };

#[test]
fn rotation_keeps_old_blobs_readable() {
    let mut ring = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    assert_eq!(ring.active_key_id(), 1);
    let old = ring.encrypt(b"before", &AAD).unwrap();
    assert_eq!(key_id_of(&old).unwrap(), 1);

    assert_eq!(ring.rotate(CipherKind::Sm4Gcm), 2);
    assert_eq!(ring.active_key_id(), 2);
    let new = ring.encrypt(b"after", &AAD).unwrap();
    assert_eq!(key_id_of(&new).unwrap(), 2);
    assert_eq!(ring.decrypt(&old, &AAD).unwrap(), b"before");
    assert_eq!(ring.decrypt(&new, &AAD).unwrap(), b"after");

    let again = ring.reencrypt(&old, &AAD).unwrap();
    assert_eq!(key_id_of(&again).unwrap(), 2);
    assert_eq!(ring.decrypt(&again, &AAD).unwrap(), b"before");

    let infos = ring.key_ids();
    assert_eq!(infos.len(), 2);
    assert_eq!((infos[0].id, infos[0].cipher, infos[0].active), (1, CipherKind::Aes256Gcm, false));
    assert_eq!((infos[1].id, infos[1].cipher, infos[1].active), (2, CipherKind::Sm4Gcm, true));
    assert!(infos[1].created_at_unix > 1_600_000_000);
    let json = serde_json::to_value(infos[1]).unwrap();
    assert_eq!(json["cipher"], "sm4-gcm");
    // The blind-index algorithm never follows rotation.
    assert_eq!(ring.blind_alg(), BlindAlg::HmacSha256);
}

#[test]
fn ring_without_old_key_reports_unknown_key() {
    let mut ring = KeyRing::generate(CipherKind::Sm4Gcm).unwrap();
    let old = ring.encrypt(b"before", &AAD).unwrap();
    ring.rotate(CipherKind::Sm4Gcm);

    let mut doc: Value = serde_json::from_str(&ring.to_json()).unwrap();
    doc["keys"].as_array_mut().unwrap().retain(|k| k["id"] != 1);
    let trimmed = KeyRing::from_json(&doc.to_string()).unwrap();
    assert!(matches!(trimmed.decrypt(&old, &AAD), Err(CryptoError::UnknownKey(1))));
}

#[test]
fn json_round_trip_preserves_everything() {
    let mut ring = KeyRing::generate(CipherKind::Sm4Gcm).unwrap();
    ring.rotate(CipherKind::Aes256Gcm);
    let blob = ring.encrypt(b"data", &AAD).unwrap();
    let json = ring.to_json();
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["format"], 1);
    assert_eq!(doc["active"], 2);
    assert_eq!(doc["blind_alg"], "hmac-sm3");
    assert_eq!(doc["keys"][0]["cipher"], "sm4-gcm");

    let back = KeyRing::from_json(&json).unwrap();
    assert_eq!(back.decrypt(&blob, &AAD).unwrap(), b"data");
    assert_eq!(back.key_ids(), ring.key_ids());
    assert_eq!(back.audit_key(), ring.audit_key());
    assert_eq!(back.blind_index("phone", "1"), ring.blind_index("phone", "1"));
    assert_eq!(back.to_json(), json);
}

#[test]
fn invalid_documents_are_rejected_without_leaking_keys() {
    let ring = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    let doc: Value = serde_json::from_str(&ring.to_json()).unwrap();
    let key_b64 = doc["keys"][0]["key"].as_str().unwrap().to_owned();
    let mutations: [fn(&mut Value); 6] = [
        |d| d["format"] = 2.into(),
        |d| d["active"] = 9.into(),
        |d| d["keys"][0]["cipher"] = "sm4-gcm".into(), // 32-byte key for SM4
        |d| d["blind_key"] = "c2hvcnQ=".into(),
        |d| d["keys"][0]["id"] = 0.into(),
        |d| {
            let dup = d["keys"][0].clone();
            d["keys"].as_array_mut().unwrap().push(dup);
        },
    ];
    for mutate in mutations {
        let mut bad = doc.clone();
        mutate(&mut bad);
        let err = KeyRing::from_json(&bad.to_string()).unwrap_err();
        assert!(matches!(err, CryptoError::KeyRingFormat(_)), "{err}");
        assert!(!err.to_string().contains(&key_b64));
    }
    let truncated = &ring.to_json()[..60];
    let err = KeyRing::from_json(truncated).unwrap_err();
    assert!(matches!(err, CryptoError::KeyRingFormat(_)));
    assert!(!err.to_string().contains(&key_b64[..8]));
}

#[test]
fn save_load_round_trip_with_private_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("keyring.json");
    let ring = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    ring.save(&path).unwrap();
    let loaded = KeyRing::load(&path).unwrap();
    assert_eq!(loaded.to_json(), ring.to_json());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Overwrite after rotation, and no temporary files are left behind.
    let mut rotated = loaded;
    rotated.rotate(CipherKind::Aes256Gcm);
    rotated.save(&path).unwrap();
    assert_eq!(KeyRing::load(&path).unwrap().active_key_id(), 2);
    let entries: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn load_or_create_creates_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    assert!(matches!(
        KeyRing::load(&path),
        Err(CryptoError::KeyRingMissing(p)) if p == path
    ));
    let (first, created) = KeyRing::load_or_create(&path, CipherKind::Sm4Gcm).unwrap();
    assert!(created);
    assert_eq!(first.blind_alg(), BlindAlg::HmacSm3);
    let blob = first.encrypt(b"kept", &AAD).unwrap();

    let (second, created) = KeyRing::load_or_create(&path, CipherKind::Aes256Gcm).unwrap();
    assert!(!created);
    assert_eq!(second.decrypt(&blob, &AAD).unwrap(), b"kept");
    assert_eq!(second.key_ids()[0].cipher, CipherKind::Sm4Gcm);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn blind_index_properties() {
    let aes = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    let other = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    let sm = KeyRing::generate(CipherKind::Sm4Gcm).unwrap();
    assert_eq!(aes.blind_alg(), BlindAlg::HmacSha256);
    assert_eq!(sm.blind_alg(), BlindAlg::HmacSm3);

    let a = aes.blind_index("phone", "13800138000");
    assert_eq!(a, aes.blind_index("phone", "13800138000"));
    assert_ne!(a, aes.blind_index("id_number", "13800138000"));
    assert_ne!(a, aes.blind_index("phone", "13800138001"));
    assert_ne!(a, other.blind_index("phone", "13800138000"));
    for idx in [&a, &sm.blind_index("phone", "13800138000")] {
        assert_eq!(idx.len(), 64);
        assert!(idx.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    // Same blind key, different algorithm: SM rings really use HMAC-SM3.
    let mut doc: Value = serde_json::from_str(&aes.to_json()).unwrap();
    doc["blind_alg"] = "hmac-sm3".into();
    let as_sm3 = KeyRing::from_json(&doc.to_string()).unwrap();
    let expected = crypto::blind::blind_index(BlindAlg::HmacSm3, &blind_key(&aes), "phone", "1");
    assert_eq!(as_sm3.blind_index("phone", "1"), expected);
    assert_ne!(as_sm3.blind_index("phone", "1"), aes.blind_index("phone", "1"));
}

fn blind_key(ring: &KeyRing) -> Vec<u8> {
    let doc: Value = serde_json::from_str(&ring.to_json()).unwrap();
    B64.decode(doc["blind_key"].as_str().unwrap()).unwrap()
}

#[test]
fn chain_hash_uses_audit_key() {
    let ring = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    assert_eq!(ring.audit_key().len(), 32);
    assert_ne!(ring.audit_key(), blind_key(&ring).as_slice());
    let h1 = ring.chain_hash(&GENESIS, b"{\"event\":1}");
    assert_eq!(h1, chain_hash(ring.audit_key(), &GENESIS, b"{\"event\":1}"));
    let other = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    assert_ne!(h1, other.chain_hash(&GENESIS, b"{\"event\":1}"));
}

#[test]
fn debug_output_redacts_all_secrets() {
    let mut ring = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    ring.rotate(CipherKind::Sm4Gcm);
    let debug = format!("{ring:?} {ring:#?}");
    assert!(debug.contains("KeyRing"));
    let doc: Value = serde_json::from_str(&ring.to_json()).unwrap();
    let mut secrets =
        vec![doc["blind_key"].as_str().unwrap().to_owned(), doc["audit_key"].as_str().unwrap().to_owned()];
    for key in doc["keys"].as_array().unwrap() {
        secrets.push(key["key"].as_str().unwrap().to_owned());
    }
    for secret in secrets {
        let raw = B64.decode(&secret).unwrap();
        assert!(!debug.contains(&secret));
        assert!(!debug.contains(&secret[..12]));
        assert!(!debug.contains(&hex::encode(&raw)[..16]));
        assert!(!debug.contains(&format!("{:?}", &raw[..4])[1..]));
    }
}

#[test]
fn decrypt_str_rejects_bad_input() {
    let ring = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    assert!(matches!(ring.decrypt_str("not base64!", &AAD), Err(CryptoError::Malformed)));
    let binary = B64.encode(ring.encrypt(&[0xff, 0xfe], &AAD).unwrap());
    assert!(matches!(ring.decrypt_str(&binary, &AAD), Err(CryptoError::Malformed)));
    let text = ring.encrypt_str("张三", &AAD).unwrap();
    assert_eq!(crypto::key_id_of_str(&text).unwrap(), 1);
}
