//! `yiqiao audit-verify` (S3, issue 11 item 9) as operators run it: exit 0 on an intact chain, exit 2
//! once the log was emptied (every event deleted, head reset) or its genesis removed — also when
//! run again, since the key-ring binding it does at start must not seal an emptied log anew. Runs on
//! SQLite, and on PostgreSQL when `YIQIAO_TEST_POSTGRES` is set.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use std::process::Command;

use testkit::{TestApp, fresh_resident_id};

/// Runs `yiqiao audit-verify` against the test app's database with its key ring; returns the exit
/// code and what it printed.
fn audit_verify(t: &TestApp, data_dir: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_yiqiao"))
        .args(["audit-verify", "--database", &t.db_url, "--data-dir"])
        .arg(data_dir)
        .env_remove("YIQIAO_KEYRING")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

async fn app_with_ring_on_disk() -> (TestApp, tempfile::TempDir) {
    let t = TestApp::new().await;
    t.register_patient("cli-a", &fresh_resident_id()).await;
    t.token("cli-a", None).await;
    let dir = tempfile::tempdir().unwrap();
    t.app.keys.current().save(&dir.path().join("keyring.json")).unwrap();
    (t, dir)
}

#[tokio::test]
async fn audit_verify_fails_on_an_emptied_log() {
    let (t, dir) = app_with_ring_on_disk().await;
    let (code, text) = audit_verify(&t, dir.path());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("audit chain intact"), "{text}");
    t.exec("DELETE FROM audit_events").await;
    t.exec(&format!("UPDATE audit_head SET seq = 0, hash = '{}', mac = '' WHERE id = 1", "0".repeat(64))).await;
    let (code, text) = audit_verify(&t, dir.path());
    assert_eq!(code, 2, "an emptied log must not verify: {text}");
    assert!(text.contains("BROKEN") && text.contains("empty audit log"), "{text}");
    let (code, text) = audit_verify(&t, dir.path());
    assert_eq!(code, 2, "nor on the next run: {text}");
}

#[tokio::test]
async fn audit_verify_fails_without_the_genesis() {
    let (t, dir) = app_with_ring_on_disk().await;
    t.exec("DELETE FROM audit_events WHERE action = 'audit.genesis'").await;
    let (code, text) = audit_verify(&t, dir.path());
    assert_eq!(code, 2, "{text}");
    let (code, text) = audit_verify(&t, dir.path());
    assert_eq!(code, 2, "{text}");
}

#[tokio::test]
async fn audit_verify_passes_on_a_fresh_database() {
    let t = TestApp::new().await;
    let dir = tempfile::tempdir().unwrap();
    t.app.keys.current().save(&dir.path().join("keyring.json")).unwrap();
    let (code, text) = audit_verify(&t, dir.path());
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 events verified"), "{text}");
}
