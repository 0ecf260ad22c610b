//! Attachments on S3-compatible storage (S1 at scale, issue 3): against a real S3 server on loopback
//! (`scripts/test` starts SeaweedFS `weed mini` and sets `YIQIAO_TEST_S3`), a blob round-trips, the
//! bucket holds only ciphertext bound to the key, and a missing key is `NotFound`.
//! `YIQIAO_TEST_S3` = `s3://bucket|endpoint|access_key_id|secret_access_key`.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use crypto::{CipherKind, KeyRing};
use store::{
    StoreError,
    blob::{BlobStore, S3Options},
};

fn s3_from_env() -> Option<(String, S3Options)> {
    let v = std::env::var("YIQIAO_TEST_S3").ok()?;
    let parts: Vec<&str> = v.split('|').collect();
    let [url, endpoint, key, secret] = parts[..] else { panic!("YIQIAO_TEST_S3 = url|endpoint|key|secret") };
    let opts = S3Options {
        endpoint: endpoint.into(),
        region: "us-east-1".into(),
        access_key_id: key.into(),
        secret_access_key: secret.into(),
        allow_http: true,
    };
    Some((format!("{url}/t-{}", uuid::Uuid::new_v4().simple()), opts))
}

#[tokio::test]
async fn blobs_on_s3_are_encrypted_before_upload_and_round_trip() {
    let Some((url, opts)) = s3_from_env() else {
        eprintln!("skipped: set YIQIAO_TEST_S3 (scripts/test does)");
        return;
    };
    let store = BlobStore::from_url(&url, std::path::Path::new("/nonexistent"), &opts).unwrap();
    let keys = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    let plain = "胸片报告：右下肺纹理增多 — chest X-ray report".repeat(50);
    store.put(&keys, "att/one", plain.as_bytes()).await.unwrap();
    assert_eq!(store.get(&keys, "att/one").await.unwrap(), plain.as_bytes());
    let raw = store.raw("att/one").await.unwrap();
    assert!(raw.len() > plain.len(), "sealed: nonce and tag added");
    assert!(!raw.windows(6).any(|w| w == "胸片".as_bytes()), "the bucket never holds plaintext");
    assert!(!raw.windows(5).any(|w| w == b"chest"));
    // The ciphertext is bound to its key: moved under another name it does not open.
    store.put(&keys, "att/two", b"other").await.unwrap();
    let other_ring = KeyRing::generate(CipherKind::Aes256Gcm).unwrap();
    assert!(store.get(&other_ring, "att/one").await.is_err(), "a foreign key ring cannot read it");
    assert!(matches!(store.get(&keys, "att/missing").await, Err(StoreError::NotFound)));
}

#[test]
fn unknown_blob_urls_are_refused() {
    let err = BlobStore::from_url("ftp://x", std::path::Path::new("/tmp"), &S3Options::default()).unwrap_err();
    assert!(err.to_string().contains("s3://"), "{err}");
}
