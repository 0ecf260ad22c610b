//! Known-answer tests pinning the primitives to published vectors:
//! NIST AES-GCM (GCM spec and CAVP gcmEncryptExtIV256), SM4 (GB/T 32907),
//! SM4-GCM (RFC 8998), SM3 (GB/T 32905) and HMAC-SHA256 (RFC 4231), plus a
//! vector that pins the documented blob/AAD layout (S1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload, array::Array};
use crypto::cipher::Sm4Gcm;
use crypto::{Aad, KeyRing, hmac_sha256, sm3_hex};
use sm4::cipher::BlockCipherEncrypt;

struct Vector {
    key: &'static str,
    nonce: &'static str,
    plaintext: &'static str,
    aad: &'static str,
    ciphertext: &'static str,
    tag: &'static str,
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn check<C: Aead + KeyInit>(v: &Vector) {
    let cipher = C::new_from_slice(&h(v.key)).unwrap();
    let nonce = Array::try_from(h(v.nonce).as_slice()).unwrap();
    let out = cipher.encrypt(&nonce, Payload { msg: &h(v.plaintext), aad: &h(v.aad) }).unwrap();
    assert_eq!(hex::encode(&out), format!("{}{}", v.ciphertext, v.tag));
    let back = cipher.decrypt(&nonce, Payload { msg: &out, aad: &h(v.aad) }).unwrap();
    assert_eq!(hex::encode(back), v.plaintext);
}

#[test]
fn aes_256_gcm_spec_test_case_14_no_aad() {
    check::<Aes256Gcm>(&Vector {
        key: "0000000000000000000000000000000000000000000000000000000000000000",
        nonce: "000000000000000000000000",
        plaintext: "00000000000000000000000000000000",
        aad: "",
        ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
        tag: "d0d1c8a799996bf0265b98b5d48ab919",
    });
}

#[test]
fn aes_256_gcm_spec_test_case_16_with_aad() {
    check::<Aes256Gcm>(&Vector {
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        nonce: "cafebabefacedbaddecaf888",
        plaintext: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                    1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        ciphertext: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                     8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        tag: "76fc6ece0f4e1768cddf8853bb2d551b",
    });
}

#[test]
fn aes_256_gcm_cavp_ext_iv_256_with_aad() {
    check::<Aes256Gcm>(&Vector {
        key: "92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b",
        nonce: "ac93a1a6145299bde902f21a",
        plaintext: "2d71bcfa914e4ac045b2aa60955fad24",
        aad: "1e0889016f67601c8ebea4943bc23ad6",
        ciphertext: "8995ae2e6df3dbf96fac7b7137bae67f",
        tag: "eca5aa77d51d4a0a14d9c51e1da474ab",
    });
}

#[test]
fn aes_256_gcm_cavp_ext_iv_256_without_aad() {
    check::<Aes256Gcm>(&Vector {
        key: "31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22",
        nonce: "0d18e06c7c725ac9e362e1ce",
        plaintext: "2db5168e932556f8089a0622981d017d",
        aad: "",
        ciphertext: "fa4362189661d163fcd6a56d8bf0405a",
        tag: "d636ac1bbedd5cc3ee727dc2ab4a9489",
    });
}

#[test]
fn sm4_gcm_rfc_8998_appendix_a() {
    check::<Sm4Gcm>(&Vector {
        key: "0123456789abcdeffedcba9876543210",
        nonce: "00001234567800000000abcd",
        plaintext: "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd\
                    eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        ciphertext: "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735\
                     d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d",
        tag: "83de3541e4c2b58177e065a9bf7b62ec",
    });
}

#[test]
fn sm4_block_gbt_32907_example() {
    let key = h("0123456789abcdeffedcba9876543210");
    let cipher = sm4::Sm4::new_from_slice(&key).unwrap();
    let mut block = Array::try_from(key.as_slice()).unwrap();
    cipher.encrypt_block(&mut block);
    assert_eq!(hex::encode(block), "681edf34d206965e86b3e94f536e4246");
}

#[test]
fn sm3_abc() {
    assert_eq!(sm3_hex(b"abc"), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

#[test]
fn hmac_sha256_rfc_4231_test_cases_1_and_2() {
    assert_eq!(
        hex::encode(hmac_sha256(&[0x0b; 20], b"Hi There")),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
    assert_eq!(
        hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// Builds a blob by hand from the documented layout and checks the key ring
/// accepts it: pins header and AAD encoding so stored data stays readable.
#[test]
fn documented_blob_layout_decrypts() {
    let key = [0x42_u8; 32];
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let json = format!(
        r#"{{"format":1,"active":7,"blind_alg":"hmac-sha256","blind_key":"{}",
            "audit_key":"{}","keys":[{{"id":7,"cipher":"aes-256-gcm","key":"{}","created_at":0}}]}}"#,
        b64(&[1; 32]),
        b64(&[2; 32]),
        b64(&key)
    );
    let ring = KeyRing::from_json(&json).unwrap();

    let header = [1_u8, 0, 0, 0, 7];
    let nonce = [9_u8; 12];
    let mut aad = b"yiqiao/field-aead/v1".to_vec();
    aad.extend_from_slice(&header);
    for part in ["patients", "id_number", "row-1"] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    let sealed = Aes256Gcm::new_from_slice(&key)
        .unwrap()
        .encrypt(&Array::from(nonce), Payload { msg: b"110101199003077777", aad: &aad })
        .unwrap();
    let mut blob = header.to_vec();
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&sealed);

    let location = Aad::new("patients", "id_number", "row-1");
    assert_eq!(ring.decrypt(&blob, &location).unwrap(), b"110101199003077777");
}
