//! A WebSocket lives only as long as the session that opened it (issue 11 item 5, B3): signing out
//! closes that session's sockets, a change of roles closes all of the user's sockets, and a socket
//! whose session expired refuses to act and closes.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use testkit::{TestApp, fresh_resident_id};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(addr: std::net::SocketAddr, token: &str) -> Socket {
    let mut req = format!("ws://{addr}/api/v1/ws").into_client_request().unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// What arrives next: a JSON event, a close code, or nothing within two seconds.
#[derive(Debug, PartialEq)]
enum Next {
    Event(Value),
    Closed(Option<u16>),
    Nothing,
}

async fn next(ws: &mut Socket) -> Next {
    match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
        Err(_) => Next::Nothing,
        Ok(Some(Ok(tungstenite::Message::Text(t)))) => Next::Event(serde_json::from_str(&t).unwrap()),
        Ok(Some(Ok(tungstenite::Message::Close(f)))) => Next::Closed(f.map(|f| u16::from(f.code))),
        Ok(None | Some(Err(_))) => Next::Closed(None),
        Ok(Some(Ok(_))) => Box::pin(next(ws)).await,
    }
}

async fn expect_ended(ws: &mut Socket, reason: &str) {
    match next(ws).await {
        Next::Event(ev) => {
            assert_eq!(ev["type"], "session_end", "{ev}");
            assert_eq!(ev["reason"], reason, "{ev}");
        }
        other => panic!("expected the session_end event, got {other:?}"),
    }
    assert_eq!(next(ws).await, Next::Closed(Some(4401)), "then the socket closes with 4401");
}

/// The socket still serves its session: an unknown event is answered, not ignored.
async fn expect_alive(ws: &mut Socket) {
    ws.send(tungstenite::Message::Text(json!({"type": "nonsense"}).to_string().into())).await.unwrap();
    match next(ws).await {
        Next::Event(ev) => assert_eq!(ev["code"], "bad_event", "{ev}"),
        other => panic!("expected the socket to answer, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_closes_that_sessions_sockets_and_leaves_the_others_open() {
    let t = TestApp::new().await;
    t.register_patient("ws-out", &fresh_resident_id()).await;
    let phone = t.token("ws-out", None).await;
    let laptop = t.token("ws-out", None).await;
    let addr = t.serve().await;
    let mut on_phone = socket(addr, &phone).await;
    let mut on_laptop = socket(addr, &laptop).await;
    expect_alive(&mut on_phone).await;
    let r = t.post("/api/v1/auth/logout", json!({}), Some(&phone)).await;
    assert_eq!(r.status, 204);
    expect_ended(&mut on_phone, "logout").await;
    expect_alive(&mut on_laptop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_roles_closes_every_socket_of_the_user() {
    let t = TestApp::new().await;
    let (inst, _) = t.institution("WS Hospital").await;
    let (admin, _) = t.user_with_role("ws-admin", domain::Role::InstitutionAdmin, Some(inst.clone())).await;
    t.register_patient("ws-roles", &fresh_resident_id()).await;
    let token = t.token("ws-roles", None).await;
    let addr = t.serve().await;
    let mut ws = socket(addr, &token).await;
    expect_alive(&mut ws).await;
    // The admin invites the patient; accepting makes them staff at the hospital.
    let admin_token = t.stepped_up_session(&admin).await;
    let r = t
        .post(
            &format!("/api/v1/institutions/{inst}/staff"),
            json!({"login": "ws-roles", "role": "nurse"}),
            Some(&admin_token),
        )
        .await;
    let id = r.json()["invitation_id"].as_str().unwrap().to_owned();
    // The invitation arrives live as a notification; the socket stays open for it.
    let ev = next(&mut ws).await;
    assert!(matches!(&ev, Next::Event(e) if e["type"] == "notification"), "{ev:?}");
    let r = t.post(&format!("/api/v1/me/invitations/{id}/accept"), json!({}), Some(&token)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    expect_ended(&mut ws, "roles_changed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_whose_session_expired_refuses_to_act_and_closes() {
    let t = TestApp::new().await;
    t.register_patient("ws-idle", &fresh_resident_id()).await;
    let token = t.token("ws-idle", None).await;
    let addr = t.serve().await;
    let mut ws = socket(addr, &token).await;
    expect_alive(&mut ws).await;
    t.clock.advance(chrono::Duration::minutes(31));
    ws.send(tungstenite::Message::Text(json!({"type": "nonsense"}).to_string().into())).await.unwrap();
    expect_ended(&mut ws, "expired").await;
    assert_eq!(t.get("/api/v1/me", Some(&token)).await.status, 401, "the session is over for HTTP too");
}
