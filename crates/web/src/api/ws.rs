//! `GET /api/v1/ws`: the realtime channel (A1). Server → client: JSON events with a `type`
//! (`message`, `read`, `typing`, `consultation`, `claimed`, `closed`, `escalated`). Client → server:
//! `{"type":"typing","consultation_id"}`, `{"type":"read","consultation_id","seq"}` and
//! `{"type":"send","consultation_id","client_id","text"}` (answered by `{"type":"ack",…}`).
//! After a reconnect the client asks `GET …/messages?after=SEQ` for exactly what it missed.

use app::{Principal, RequestCtx, consultation};
use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    AppState,
    auth::{Auth, Caller},
};

pub async fn upgrade(
    State(s): State<AppState>,
    Caller(c): Caller,
    Auth(who): Auth,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Cookie sessions only from our own pages: a cross-site page must not open a socket with the
    // user's cookie (bearer clients send no Origin or their own, and carry no ambient credential).
    if c.via_cookie && !same_origin(&headers) {
        return axum::http::StatusCode::FORBIDDEN.into_response();
    }
    ws.on_upgrade(move |socket| serve(s, Peer::User(who), c.ctx, socket))
}

/// Whether the `Origin` header, when present, names the host the request was sent to.
fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    let Some(origin) = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(axum::http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientEvent {
    Typing {
        consultation_id: String,
    },
    Read {
        consultation_id: String,
        seq: i64,
    },
    Send {
        consultation_id: String,
        client_id: String,
        text: String,
    },
    /// WebRTC signaling for a call (F3): relayed to one joined participant (`to`) or to all of them.
    Signal {
        call_id: String,
        #[serde(default)]
        to: Option<String>,
        data: serde_json::Value,
    },
}

/// Who is on the other end of a socket: a signed-in user, or a guest of one call (signaling only).
enum Peer {
    User(Principal),
    Guest(app::call::Guest),
}

impl Peer {
    fn id(&self) -> &str {
        match self {
            Self::User(p) => &p.user_id,
            Self::Guest(g) => &g.participant_id,
        }
    }
}

/// `GET /api/v1/guest/ws`: a guest's socket (the cookie from their one-time link), for their call's
/// signaling and state only.
pub async fn guest_upgrade(
    State(s): State<AppState>,
    Caller(c): Caller,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return axum::http::StatusCode::FORBIDDEN.into_response();
    }
    match super::calls::guest_of(&s, &headers, false).await {
        Ok(g) => ws.on_upgrade(move |socket| serve(s, Peer::Guest(g), c.ctx, socket)),
        Err(e) => crate::error::ApiError(e).into_response(),
    }
}

/// How often a user's socket checks its session again even when nothing happens (issue 11 item 5).
const RECHECK_SECS: u64 = 30;

/// Close code for "your session ended" (4000–4999 are the application's own).
const SESSION_ENDED: u16 = 4401;

/// Whether `payload` ends the session this socket serves: a logout of this very session, or any
/// change to the user's roles (`session_id` null).
fn ends_session(who: &Peer, payload: &serde_json::Value) -> bool {
    let Peer::User(p) = who else { return false };
    payload["type"] == "session_end"
        && (payload["session_id"].is_null() || payload["session_id"].as_str() == Some(p.session_id.as_str()))
}

/// Whether the user's session still stands (guests' sockets end with their call).
async fn still_valid(s: &AppState, who: &Peer) -> bool {
    match who {
        Peer::User(p) => app::account::revalidate(&s.app, p).await.is_ok(),
        Peer::Guest(_) => true,
    }
}

async fn close_ended(socket: &mut WebSocket, reason: &str) {
    let end = json!({"type": "session_end", "reason": reason});
    let _ = socket.send(Message::Text(end.to_string().into())).await;
    let frame = axum::extract::ws::CloseFrame { code: SESSION_ENDED, reason: "session ended".into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

async fn serve(s: AppState, who: Peer, ctx: RequestCtx, mut socket: WebSocket) {
    let mut events = s.app.bus.subscribe();
    let mut recheck = tokio::time::interval(std::time::Duration::from_secs(RECHECK_SECS));
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.tick().await;
    loop {
        tokio::select! {
            _ = recheck.tick() => {
                if !still_valid(&s, &who).await {
                    close_ended(&mut socket, "expired").await;
                    break;
                }
            }
            ev = events.recv() => match ev {
                Ok(ev) if ev.recipients.iter().any(|r| r == who.id()) => {
                    if ends_session(&who, &ev.payload) {
                        close_ended(&mut socket, ev.payload["reason"].as_str().unwrap_or("ended")).await;
                        break;
                    }
                    // Another session of the same user ended: nothing for this page.
                    if ev.payload["type"] == "session_end" {
                        continue;
                    }
                    if socket.send(Message::Text(ev.payload.to_string().into())).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                // Too slow to keep up: tell the client to catch up by sequence.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    if socket.send(Message::Text(json!({"type": "resync"}).to_string().into())).await.is_err() {
                        break;
                    }
                }
                Err(_) => break,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    // Nothing is done in the name of a session that has ended since the socket opened.
                    if !still_valid(&s, &who).await {
                        close_ended(&mut socket, "expired").await;
                        break;
                    }
                    if let Some(r) = handle(&s, &who, &ctx, &text).await
                        && socket.send(Message::Text(r.to_string().into())).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Issue 11 item 15: ids and text in a frame pass the same control-character check as HTTP input. A
/// signal's `data` (SDP, whose lines end in CRLF) is only relayed, never stored, and is left alone.
fn refused_characters(text: &str) -> Option<serde_json::Value> {
    let mut frame = serde_json::from_str::<serde_json::Value>(text).ok()?;
    if let Some(o) = frame.as_object_mut() {
        o.remove("data");
    }
    let e = crate::input::check_json(&frame, "").err()?;
    Some(json!({"type": "error", "code": e.code(), "message": crate::error::public_message(&e)}))
}

async fn handle(s: &AppState, peer: &Peer, ctx: &RequestCtx, text: &str) -> Option<serde_json::Value> {
    let Ok(ev) = serde_json::from_str::<ClientEvent>(text) else {
        return Some(json!({"type": "error", "code": "bad_event", "message": "Unknown event."}));
    };
    if let Some(refusal) = refused_characters(text) {
        return Some(refusal);
    }
    let who = match (peer, ev) {
        (Peer::Guest(g), ClientEvent::Signal { call_id, to, data }) => {
            let party = app::call::Party::Guest(g);
            return app::call::signal(&s.app, party, ctx, &call_id, to.as_deref(), data)
                .await
                .err()
                .map(|e| json!({"type": "error", "code": e.code(), "message": crate::error::public_message(&e)}));
        }
        (Peer::Guest(_), _) => {
            return Some(json!({"type": "error", "code": "bad_event", "message": "Guests only signal."}));
        }
        (Peer::User(p), ev) => (p, ev),
    };
    let (who, ev) = who;
    let result = match ev {
        ClientEvent::Typing { consultation_id } => {
            consultation::typing(&s.app, who, ctx, &consultation_id).await.map(|()| None)
        }
        ClientEvent::Read { consultation_id, seq } => {
            consultation::mark_read(&s.app, who, ctx, &consultation_id, seq).await.map(|()| None)
        }
        ClientEvent::Signal { call_id, to, data } => {
            app::call::signal(&s.app, app::call::Party::User(who), ctx, &call_id, to.as_deref(), data)
                .await
                .map(|()| None)
        }
        ClientEvent::Send { consultation_id, client_id, text } => {
            consultation::send_message(&s.app, who, ctx, &consultation_id, &client_id, &text)
                .await
                .map(|(m, _)| Some(json!({"type": "ack", "client_id": client_id, "message": m})))
        }
    };
    match result {
        Ok(reply) => reply,
        Err(e) => Some(json!({"type": "error", "code": e.code(), "message": crate::error::public_message(&e)})),
    }
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    fn headers(origin: Option<&str>, host: &str) -> axum::http::HeaderMap {
        let mut h = axum::http::HeaderMap::new();
        h.insert(axum::http::header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(axum::http::header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_our_own_pages_open_cookie_sockets() {
        assert!(same_origin(&headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080")));
        assert!(same_origin(&headers(Some("https://yiqiao.example"), "yiqiao.example")));
        assert!(same_origin(&headers(None, "127.0.0.1:8080")), "non-browser clients send no Origin");
        assert!(!same_origin(&headers(Some("https://evil.example"), "127.0.0.1:8080")));
        assert!(!same_origin(&headers(Some("null"), "127.0.0.1:8080")));
    }
}
