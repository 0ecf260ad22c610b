//! S3: the audit trail is hash-chained; a row changed, deleted, inserted or reordered — or a tail cut
//! off — is detected and the first broken link is named. Also: actions write their audit event. Issue
//! 11 item 9: every chain holds a sealed genesis, so an emptied log (events deleted, head reset) or a
//! removed genesis does not verify, and a restart does not seal an emptied log again.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use app::Clock as _;
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
    // #1 is the genesis, #5 the failed login.
    t.exec("UPDATE audit_events SET outcome = 'ok' WHERE seq = 5").await;
    let b = t.audit_report().await.broken.expect("tampering must be detected");
    assert_eq!(b.seq, 5);
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

/// Deletes every audit event and resets the head to its pre-first-event state, as someone with
/// database access but without the audit key could.
async fn wipe_audit_log(t: &TestApp) {
    t.exec("DELETE FROM audit_events").await;
    t.exec(&format!("UPDATE audit_head SET seq = 0, hash = '{}', mac = '' WHERE id = 1", "0".repeat(64))).await;
}

/// What the next start does: bind the key ring again (which seals a missing genesis where sound).
async fn restart(t: &TestApp) {
    app::keys::check_binding_at(&t.app.store, &t.app.keys.current(), t.clock.now()).await.unwrap();
}

#[tokio::test]
async fn a_fresh_chain_opens_with_a_sealed_genesis_and_verifies() {
    // Issue 11 item 9.
    let t = TestApp::new().await;
    let report = t.audit_report().await;
    assert!(report.broken.is_none(), "{report:?}");
    assert_eq!(report.events, 1);
    let rows =
        store::repo::audit::list(&t.app.store.db, &store::repo::audit::AuditFilter { limit: 10, ..Default::default() })
            .await
            .unwrap();
    assert_eq!((rows[0].seq, rows[0].action.as_str()), (1, "audit.genesis"));
    // A second start writes no second genesis.
    restart(&t).await;
    assert_eq!(t.audit_report().await.events, 1);
}

#[tokio::test]
async fn a_wiped_log_with_a_reset_head_is_detected_and_not_resealed_by_a_restart() {
    // Issue 11 item 9: before, this verified as "0 events verified".
    let t = app_with_events().await;
    wipe_audit_log(&t).await;
    let b = t.audit_report().await.broken.expect("an emptied log must not verify");
    assert!(b.reason.contains("empty audit log"), "{b:?}");
    restart(&t).await;
    let b = t.audit_report().await.broken.expect("a restart must not seal the emptied log");
    assert!(b.reason.contains("empty audit log"), "{b:?}");
    // Later events do not make it whole either.
    t.register_patient("chain-c", &fresh_resident_id()).await;
    assert!(t.audit_report().await.broken.is_some());
}

#[tokio::test]
async fn deleting_the_genesis_alone_is_detected() {
    // Issue 11 item 9.
    let t = app_with_events().await;
    t.exec("DELETE FROM audit_events WHERE action = 'audit.genesis'").await;
    assert!(t.audit_report().await.broken.is_some(), "a chain without its genesis must not verify");
    restart(&t).await;
    assert!(t.audit_report().await.broken.is_some(), "an anchor appended later does not hide the gap");
}

#[tokio::test]
async fn the_genesis_of_a_fresh_database_alone_cannot_be_removed_either() {
    // Issue 11 item 9: the database has no accounts yet; removing the genesis and resetting the head
    // leaves an empty log, which does not verify.
    let t = TestApp::new().await;
    wipe_audit_log(&t).await;
    let b = t.audit_report().await.broken.expect("no genesis");
    assert!(b.reason.contains("genesis"), "{b:?}");
}

#[tokio::test]
async fn a_chain_begun_before_genesis_events_gets_an_anchor_at_the_next_start() {
    // Issue 11 item 9: a database written by an older version has events but no genesis; the next
    // start appends one that records the head it saw, and the chain verifies.
    let t = TestApp::new().await;
    wipe_audit_log(&t).await;
    let keys = t.app.keys.current();
    for action in ["account.register", "auth.login"] {
        let txn = t.app.store.begin_write().await.unwrap();
        let ev =
            store::repo::audit::NewAuditEvent { action: action.into(), outcome: "ok".into(), ..Default::default() };
        store::repo::audit::append(&txn, &keys, t.clock.now(), ev).await.unwrap();
        txn.commit().await.unwrap();
    }
    let b = t.audit_report().await.broken.expect("an old chain has no genesis yet");
    assert!(b.reason.contains("genesis"), "{b:?}");
    restart(&t).await;
    let report = t.audit_report().await;
    assert!(report.broken.is_none(), "{report:?}");
    assert_eq!(report.events, 3);
    let anchor =
        store::repo::audit::list(&t.app.store.db, &store::repo::audit::AuditFilter { limit: 1, ..Default::default() })
            .await
            .unwrap();
    assert_eq!(anchor[0].action, "audit.genesis");
    assert!(anchor[0].resource.as_deref().unwrap().starts_with("anchor seq=2 hash="), "{:?}", anchor[0].resource);
}
