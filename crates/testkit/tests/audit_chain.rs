//! S3: the audit trail is hash-chained; a row changed, deleted, inserted or reordered — or a tail cut
//! off — is detected and the first broken link is named. Also: actions write their audit event.

use testkit::{TestApp, fresh_resident_id};

/// A chain of several events: registrations, logins and a failed login.
async fn app_with_events() -> TestApp {
    let t = TestApp::new().await;
    t.register_patient("chain-a", &fresh_resident_id()).await;
    t.register_patient("chain-b", &fresh_resident_id()).await;
    t.token("chain-a", None).await;
    let _ = t.login("chain-b", "wrong-password-1A!", None).await;
    let report = t.audit_report().await;
    assert!(report.broken.is_none(), "fresh chain must verify: {report:?}");
    assert!(report.events >= 4);
    t
}

#[tokio::test]
async fn untouched_chain_verifies_and_actions_are_recorded() {
    let t = app_with_events().await;
    let rows = store::repo::audit::list(
        &t.app.store.db,
        &store::repo::audit::AuditFilter { limit: 100, ..Default::default() },
    )
    .await
    .unwrap();
    let actions: Vec<(&str, &str)> = rows.iter().map(|r| (r.action.as_str(), r.outcome.as_str())).collect();
    assert!(actions.contains(&("account.register", "ok")));
    assert!(actions.contains(&("auth.login", "ok")));
    assert!(actions.contains(&("auth.login", "failed_password")));
}

#[tokio::test]
async fn a_changed_row_is_detected() {
    let t = app_with_events().await;
    t.exec("UPDATE audit_events SET outcome = 'ok' WHERE seq = 4").await;
    let b = t.audit_report().await.broken.expect("tampering must be detected");
    assert_eq!(b.seq, 4);
    assert!(b.reason.contains("altered"), "{b:?}");
}

#[tokio::test]
async fn a_deleted_row_is_detected() {
    let t = app_with_events().await;
    t.exec("DELETE FROM audit_events WHERE seq = 2").await;
    let b = t.audit_report().await.broken.expect("deletion must be detected");
    assert_eq!(b.seq, 3);
}

#[tokio::test]
async fn an_inserted_row_is_detected() {
    let t = app_with_events().await;
    // Make room by shifting later events up, then insert a forged one in the gap.
    t.exec("UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 3").await;
    t.exec("UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1003").await;
    t.exec(
        "INSERT INTO audit_events (seq, id, at, action, outcome, prev_hash, hash) \
         SELECT 3, 'forged', at, 'auth.login', 'ok', hash, hash FROM audit_events WHERE seq = 2",
    )
    .await;
    let b = t.audit_report().await.broken.expect("insertion must be detected");
    assert_eq!(b.seq, 3);
}

#[tokio::test]
async fn reordered_rows_are_detected() {
    let t = app_with_events().await;
    // Swap the sequence numbers of events 2 and 3.
    t.exec("UPDATE audit_events SET seq = -2 WHERE seq = 2").await;
    t.exec("UPDATE audit_events SET seq = 2 WHERE seq = 3").await;
    t.exec("UPDATE audit_events SET seq = 3 WHERE seq = -2").await;
    let b = t.audit_report().await.broken.expect("reordering must be detected");
    assert_eq!(b.seq, 2);
}

#[tokio::test]
async fn a_truncated_tail_is_detected() {
    let t = app_with_events().await;
    let last = t.audit_report().await.events;
    t.exec(&format!("DELETE FROM audit_events WHERE seq = {last}")).await;
    let b = t.audit_report().await.broken.expect("truncation must be detected");
    assert!(b.reason.contains("head"), "{b:?}");
}

#[tokio::test]
async fn a_chain_rebuilt_without_the_key_does_not_verify() {
    let t = app_with_events().await;
    // An attacker who rewrites a row and recomputes a plain SHA-256 cannot produce the keyed hash.
    t.exec("UPDATE audit_events SET outcome = 'ok', hash = prev_hash WHERE seq = 4").await;
    assert!(t.audit_report().await.broken.is_some());
}

#[tokio::test]
async fn a_rewound_head_hiding_deleted_events_is_detected() {
    let t = app_with_events().await;
    let last = t.audit_report().await.events;
    // Delete the newest event and point the head at the one before, as an attacker with database
    // access but without the audit key would.
    let prev = i64::try_from(last).unwrap() - 1;
    t.exec(&format!("DELETE FROM audit_events WHERE seq = {last}")).await;
    t.exec(&format!(
        "UPDATE audit_head SET seq = {prev}, hash = (SELECT hash FROM audit_events WHERE seq = {prev}) WHERE id = 1"
    ))
    .await;
    let b = t.audit_report().await.broken.expect("a rewound head must be detected");
    assert!(b.reason.contains("head"), "{b:?}");
}
