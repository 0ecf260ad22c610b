//! Multi-party call rooms (F3) on both engines: the consultation's doctor rings other verified doctors
//! in (up to 6 people), hands out one-time guest links that expire, and signaling reaches only the
//! people in the room.

#![allow(clippy::unwrap_used, reason = "a test: a failed step should stop it with its message")]

mod call_support;

use app::call::Party;
use axum::body::Body;
#[allow(clippy::wildcard_imports, reason = "the shared fixtures")]
use call_support::*;
use chrono::Duration;
use http::{Method, Request, StatusCode, header};
use serde_json::json;

#[tokio::test]
async fn three_party_room_with_invited_doctor() {
    let w = world().await;
    let t = &w.t;
    let (second_id, second) = other_doctor(t, "dr-second", "Second Opinion Hospital", true).await;
    let (unverified_id, unverified) = other_doctor(t, "dr-unverified", "Unverified Clinic", false).await;
    let (late_id, late) = other_doctor(t, "dr-late", "Late Hospital", true).await;

    // The doctor calls: host and joined; the patient is a member who is ringing.
    let (status, call) = start(&w, &w.doctor, "video").await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(call["state"], "ringing");
    assert_eq!((call["me"].as_str(), call["my_role"].as_str()), (Some(w.doctor_id.as_str()), Some("host")));
    assert_eq!((call["my_state"].as_str(), call["can_manage"].as_bool()), (Some("joined"), Some(true)));
    assert_eq!(call["participants"].as_array().unwrap().len(), 2);
    assert_eq!(member(&call, &w.patient_id)["role"], "member");
    assert_eq!(member(&call, &w.patient_id)["state"], "invited");
    assert_eq!(call["recording_requested"], false);
    assert!(call["recording_id"].is_null());
    let ringing = t.get("/api/v1/calls", Some(&w.patient)).await.json();
    assert_eq!(ringing["items"][0]["id"], id.as_str());
    let v = view(&w, &w.patient, &id).await;
    assert_eq!((v["my_role"].as_str(), v["my_state"].as_str()), (Some("member"), Some("invited")));
    assert_eq!(v["can_manage"], false, "the patient never manages the room");
    // The patient answers: the call is active; the patient still does not manage it.
    assert_eq!(act(&w, &w.patient, &id, "accept").await.1["state"], "active");
    assert_eq!(view(&w, &w.patient, &id).await["can_manage"], false);

    // Who can be invited: verified doctors not in the call.
    let r = t.get(&format!("/api/v1/calls/{id}/invitable?q=Second%20Opinion"), Some(&w.doctor)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(item_ids(&r.json()), vec![second_id.clone()]);
    let all = item_ids(&t.get(&format!("/api/v1/calls/{id}/invitable"), Some(&w.doctor)).await.json());
    assert_eq!(sorted(all), sorted(vec![second_id.clone(), late_id.clone()]), "not the doctor, not the unverified");

    // Only the consultation's doctor invites, only verified doctors, each once.
    assert_eq!(invite(&w, &w.patient, &id, &second_id).await.status, StatusCode::FORBIDDEN);
    let r = invite(&w, &w.doctor, &id, &w.patient_id).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invitee_invalid".to_owned()));
    assert_eq!(invite(&w, &w.doctor, &id, &unverified_id).await.code(), "invitee_invalid");
    assert_eq!(invite(&w, &w.doctor, &id, "no-such-user").await.code(), "invitee_invalid");
    assert_eq!(invite(&w, &w.doctor, &id, &w.doctor_id).await.code(), "already_invited");
    let r = invite(&w, &w.doctor, &id, &second_id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (member(&v, &second_id)["role"].as_str(), member(&v, &second_id)["state"].as_str()),
        (Some("doctor"), Some("invited"))
    );
    assert_eq!(invite(&w, &w.doctor, &id, &second_id).await.code(), "already_invited");
    let left = item_ids(&t.get(&format!("/api/v1/calls/{id}/invitable"), Some(&w.doctor)).await.json());
    assert_eq!(left, vec![late_id.clone()], "an invited doctor is no longer offered");
    // The unverified doctor cannot see the room; the invited one has it ringing.
    assert_eq!(t.get(&format!("/api/v1/calls/{id}"), Some(&unverified)).await.status, StatusCode::NOT_FOUND);
    let ringing = t.get("/api/v1/calls", Some(&second)).await.json();
    assert_eq!(ringing["items"].as_array().unwrap().len(), 1);
    assert_eq!(ringing["items"][0]["id"], id.as_str());
    assert_eq!(ringing["items"][0]["my_state"], "invited");
    assert_eq!(ringing["items"][0]["my_role"], "doctor");

    // The invited doctor answers: three people in the room.
    let (status, v) = act(&w, &second, &id, "accept").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!((v["state"].as_str(), v["my_state"].as_str()), (Some("active"), Some("joined")));
    let joined = v["participants"].as_array().unwrap().iter().filter(|p| p["state"] == "joined").count();
    assert_eq!(joined, 3);
    assert_eq!(t.get("/api/v1/calls", Some(&second)).await.json()["items"].as_array().unwrap().len(), 0);
    // A doctor who was invited in does not manage the room.
    assert_eq!(v["can_manage"], false);
    assert_eq!(invite(&w, &second, &id, &late_id).await.status, StatusCode::FORBIDDEN);
    let r = call_post(&w, &second, &id, "guests", json!({"name": "张三", "role": "family"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(call_post(&w, &second, &id, "recording-request", json!({})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.get(&format!("/api/v1/calls/{id}/invitable"), Some(&second)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(act(&w, &second, &id, "end").await.1["error"]["code"], "call_state", "only the doctor ends it for all");

    // A doctor who does not answer is missed by the ring-timeout job; the call goes on.
    assert_eq!(invite(&w, &w.doctor, &id, &late_id).await.status, StatusCode::OK);
    t.clock.advance(Duration::seconds(app::call::RING_SECS));
    app::jobs::run_due(&t.app).await.unwrap();
    let v = view(&w, &w.doctor, &id).await;
    assert_eq!((v["state"].as_str(), member(&v, &late_id)["state"].as_str()), (Some("active"), Some("missed")));
    assert_eq!(t.get("/api/v1/calls", Some(&late)).await.json()["items"].as_array().unwrap().len(), 0);
    // … and may be rung again.
    let r = invite(&w, &w.doctor, &id, &late_id).await;
    assert_eq!((r.status, member(&r.json(), &late_id)["state"].as_str()), (StatusCode::OK, Some("invited")));

    // The patient leaves: the two doctors stay in an active call.
    let (status, v) = act(&w, &w.patient, &id, "hangup").await;
    assert_eq!((status, v["state"].as_str(), v["my_state"].as_str()), (StatusCode::OK, Some("active"), Some("left")));
    assert_eq!(view(&w, &second, &id).await["state"], "active");

    // The consultation's doctor ends it for everyone.
    t.clock.advance(Duration::seconds(60));
    let (status, v) = act(&w, &w.doctor, &id, "end").await;
    assert_eq!((status, v["state"].as_str()), (StatusCode::OK, Some("ended")), "{v}");
    assert_eq!(v["can_manage"], false, "nothing to manage in an ended call");
    let v = view(&w, &second, &id).await;
    assert_eq!((v["state"].as_str(), v["my_state"].as_str()), (Some("ended"), Some("left")));
    assert_eq!(member(&v, &late_id)["state"], "missed", "the doctor still ringing is out too");
    assert_eq!(member(&v, &w.doctor_id)["state"], "left");
    assert_eq!(t.get("/api/v1/calls", Some(&late)).await.json()["items"].as_array().unwrap().len(), 0);
    assert_eq!(act(&w, &late, &id, "accept").await.1["error"]["code"], "call_state", "too late to join");
    let calls = timeline(&w, "call").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["call"]["state"], "ended");
    assert_eq!(calls[0]["call"]["call_id"], id.as_str());
    // A new call may ring now.
    assert_eq!(start(&w, &w.patient, "voice").await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_room_holds_at_most_six_people() {
    let w = world().await;
    let t = &w.t;
    let (second_id, second) = other_doctor(t, "dr-six", "Sixth Seat Hospital", true).await;
    let (third_id, _) = other_doctor(t, "dr-seven", "Seventh Seat Hospital", true).await;
    let (status, call) = start(&w, &w.doctor, "video").await;
    assert_eq!(status, StatusCode::CREATED);
    let id = call["id"].as_str().unwrap().to_owned();
    // Host + ringing patient + four guests = six seats.
    for n in 0..4 {
        guest_link(&w, &id, &format!("家属{n}"), "family").await;
    }
    let v = view(&w, &w.doctor, &id).await;
    assert_eq!(v["participants"].as_array().unwrap().len(), 6);
    let r = invite(&w, &w.doctor, &id, &second_id).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "call_full".to_owned()), "{}", r.text);
    let r = call_post(&w, &w.doctor, &id, "guests", json!({"name": "译员", "role": "interpreter"})).await;
    assert_eq!(r.code(), "call_full");
    // The patient declines: a seat frees up (the call still rings for the guests).
    let (status, v) = act(&w, &w.patient, &id, "decline").await;
    assert_eq!((status, v["state"].as_str()), (StatusCode::OK, Some("ringing")), "{v}");
    let r = invite(&w, &w.doctor, &id, &second_id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(invite(&w, &w.doctor, &id, &third_id).await.code(), "call_full");
    // The invited doctor answers: the call is active with six seats taken.
    let (status, v) = act(&w, &second, &id, "accept").await;
    assert_eq!((status, v["state"].as_str()), (StatusCode::OK, Some("active")));
    assert_eq!(invite(&w, &w.doctor, &id, &third_id).await.code(), "call_full");
}

#[tokio::test]
async fn guest_link_is_one_time_and_expires() {
    let w = world().await;
    let t = &w.t;
    let id = live_call(&w).await;
    // Only the consultation's doctor hands out links; names and roles are checked.
    let r = call_post(&w, &w.patient, &id, "guests", json!({"name": "王翻译", "role": "interpreter"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call_post(&w, &w.doctor, &id, "guests", json!({"name": "王翻译", "role": "surgeon"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "guest_role".to_owned()));
    assert_eq!(
        call_post(&w, &w.doctor, &id, "guests", json!({"name": " ", "role": "family"})).await.code(),
        "guest_name"
    );
    let created = t.app.clock.now();
    let r = call_post(&w, &w.doctor, &id, "guests", json!({"name": "王翻译", "role": "interpreter"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let link = r.json();
    let guest_id = link["participant_id"].as_str().unwrap().to_owned();
    let path = link["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("/join/") && path.len() > "/join/".len() + 16, "{path}");
    assert_eq!(time(&link["expires_at"]), created + Duration::seconds(app::call::room::GUEST_LINK_SECS));
    assert_eq!(app::call::room::GUEST_LINK_SECS, 30 * 60);
    let v = view(&w, &w.patient, &id).await;
    let g = member(&v, &guest_id);
    assert_eq!(
        (g["name"].as_str(), g["role"].as_str(), g["state"].as_str()),
        (Some("王翻译"), Some("interpreter"), Some("invited"))
    );

    // Looking at the join page (a chat app's link preview, too) uses nothing up.
    for _ in 0..2 {
        let r = page(t, Method::GET, &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.text.contains("王翻译"));
    }
    let preview = app::call::guest_preview(&t.app, token_of(&path)).await.unwrap();
    assert_eq!(
        (preview.guest_name.as_str(), preview.role.as_str(), preview.kind.as_str()),
        ("王翻译", "interpreter", "video")
    );
    assert_eq!(member(&view(&w, &w.doctor, &id).await, &guest_id)["state"], "invited");

    // Joining uses the link and sets a cookie for this call only.
    let secret = join_as_guest(t, &path).await;
    let v = view(&w, &w.doctor, &id).await;
    assert_eq!(member(&v, &guest_id)["state"], "joined");
    let r = guest_api(t, Method::GET, "/api/v1/guest/call", &secret, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let gv = r.json();
    assert_eq!((gv["id"].as_str(), gv["me"].as_str()), (Some(id.as_str()), Some(guest_id.as_str())));
    assert_eq!((gv["my_role"].as_str(), gv["my_state"].as_str()), (Some("interpreter"), Some("joined")));
    assert_eq!(gv["can_manage"], false);
    assert_eq!(
        page(t, Method::GET, "/guest/call", Some(&format!("yiqiao_guest={secret}"))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        guest_api(t, Method::GET, "/api/v1/guest/call", "not-a-secret", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The link works once: a second click, the page and the app all say so.
    let r = page(t, Method::POST, &path, None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("already been used"), "{}", r.text);
    assert!(r.headers.get(header::SET_COOKIE).is_none_or(|c| !c.to_str().unwrap().starts_with("yiqiao_guest=")));
    assert_eq!(page(t, Method::GET, &path, None).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let err = app::call::guest_preview(&t.app, token_of(&path)).await.unwrap_err();
    assert_eq!(err.code(), "guest_link_used");
    let err = app::call::guest_join(&t.app, &app::RequestCtx::default(), token_of(&path)).await.unwrap_err();
    assert_eq!(err.code(), "guest_link_used");
    assert_eq!(app::call::guest_preview(&t.app, "no-such-token").await.unwrap_err().code(), "not_found");

    // The guest's actions need the guest's CSRF token.
    let guest = app::call::guest_session(&t.app, &secret).await.unwrap();
    assert_eq!(guest.participant_id, guest_id);
    let consent = |csrf: Option<String>| {
        let secret = secret.clone();
        async move {
            guest_api(
                t,
                Method::POST,
                "/api/v1/guest/call/consent",
                &secret,
                csrf.as_deref(),
                Some(json!({"allow": true})),
            )
            .await
        }
    };
    let r = consent(None).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "csrf_failed".to_owned()));
    assert_eq!(consent(Some("wrong".into())).await.code(), "csrf_failed");
    assert!(member(&view(&w, &w.doctor, &id).await, &guest_id)["consent"].is_null(), "nothing changed");
    let r = consent(Some(guest.csrf.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(member(&r.json(), &guest_id)["consent"], "granted");
    let r = guest_api(t, Method::POST, "/api/v1/guest/call/hangup", &secret, None, Some(json!({}))).await;
    assert_eq!(r.code(), "csrf_failed");
    let r = guest_api(t, Method::POST, "/api/v1/guest/call/hangup", &secret, Some(&guest.csrf), Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["my_state"], "left");
    assert_eq!(view(&w, &w.doctor, &id).await["state"], "active", "doctor and patient are still talking");
    // After hanging up the cookie is good for nothing.
    assert_eq!(
        guest_api(t, Method::GET, "/api/v1/guest/call", &secret, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app::call::guest_session(&t.app, &secret).await.unwrap_err().code(), "unauthenticated");

    // A second link nobody uses in time expires.
    let (family_id, family_path) = guest_link(&w, &id, "李女士", "family").await;
    t.clock.advance(Duration::seconds(app::call::room::GUEST_LINK_SECS - 1));
    assert_eq!(page(t, Method::GET, &family_path, None).await.status, StatusCode::OK, "still valid a second before");
    t.clock.advance(Duration::seconds(2));
    let r = page(t, Method::GET, &family_path, None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("has expired"), "{}", r.text);
    let r = page(t, Method::POST, &family_path, None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("has expired"), "{}", r.text);
    assert!(r.headers.get(header::SET_COOKIE).is_none_or(|c| !c.to_str().unwrap().starts_with("yiqiao_guest=")));
    assert_eq!(
        app::call::guest_preview(&t.app, token_of(&family_path)).await.unwrap_err().code(),
        "guest_link_expired"
    );
    let err = app::call::guest_join(&t.app, &app::RequestCtx::default(), token_of(&family_path)).await.unwrap_err();
    assert_eq!(err.code(), "guest_link_expired");
    // (Half an hour without a request: the doctor's session went idle; they sign in again.)
    let doctor = t.token("dr-room", Some(&t.totp(&w.doctor_secret))).await;
    let v = view(&w, &doctor, &id).await;
    assert_eq!(member(&v, &family_id)["state"], "invited", "an expired link joined nobody");
    // Its job closes the invitation; the call goes on.
    app::jobs::run_due(&t.app).await.unwrap();
    let v = view(&w, &doctor, &id).await;
    assert_eq!((v["state"].as_str(), member(&v, &family_id)["state"].as_str()), (Some("active"), Some("expired")));
    assert_eq!(
        app::call::guest_preview(&t.app, token_of(&family_path)).await.unwrap_err().code(),
        "guest_link_expired"
    );
    // Guest actions were audited as the guest.
    let joins = audit(t, "call.guest_join").await;
    assert_eq!(joins.len(), 1);
    assert_eq!(joins[0].actor_user_id.as_deref(), Some(guest_id.as_str()));
    assert_eq!(joins[0].actor_role.as_deref(), Some("guest"));
    assert!(t.audit_report().await.broken.is_none());
}

#[tokio::test]
async fn signals_go_only_to_joined_participants() {
    let w = world().await;
    let t = &w.t;
    let (second_id, second) = other_doctor(t, "dr-signal", "Signal Hospital", true).await;
    let id = live_call(&w).await;
    assert_eq!(invite(&w, &w.doctor, &id, &second_id).await.status, StatusCode::OK);
    let (guest_id, path) = guest_link(&w, &id, "赵译员", "interpreter").await;
    let secret = join_as_guest(t, &path).await;
    let guest = app::call::guest_session(&t.app, &secret).await.unwrap();
    // Joined: doctor, patient, guest. Invited: the second doctor.
    let doctor = principal(t, &w.doctor).await;
    let patient = principal(t, &w.patient).await;
    let invited = principal(t, &second).await;
    let stranger = principal(t, &w.stranger).await;
    let offer = json!({"description": {"type": "offer", "sdp": "v=0"}});

    let mut rx = t.app.bus.subscribe();
    app::call::signal(&t.app, Party::User(&doctor), &app::RequestCtx::default(), &id, None, offer.clone())
        .await
        .unwrap();
    let got = signals(&mut rx);
    assert_eq!(got.len(), 1, "one event for everyone else in the room");
    assert_eq!(sorted(got[0].recipients.clone()), sorted(vec![w.patient_id.clone(), guest_id.clone()]));
    assert_eq!(got[0].payload["call_id"], id.as_str());
    assert_eq!(got[0].payload["from"], w.doctor_id.as_str());
    assert_eq!(got[0].payload["data"], offer);

    // Addressed to one person: only them.
    app::call::signal(
        &t.app,
        Party::User(&doctor),
        &app::RequestCtx::default(),
        &id,
        Some(&w.patient_id),
        offer.clone(),
    )
    .await
    .unwrap();
    let got = signals(&mut rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients, vec![w.patient_id.clone()]);
    // Not to someone still ringing, not to strangers, not to oneself.
    for to in [second_id.as_str(), "nobody", w.doctor_id.as_str()] {
        let err =
            app::call::signal(&t.app, Party::User(&doctor), &app::RequestCtx::default(), &id, Some(to), offer.clone())
                .await
                .unwrap_err();
        assert_eq!(err.code(), "signal_recipient", "to {to}");
    }
    // Senders must be in the room.
    let err = app::call::signal(&t.app, Party::User(&invited), &app::RequestCtx::default(), &id, None, offer.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "call_state", "an invited doctor who did not answer sends nothing");
    let err = app::call::signal(&t.app, Party::User(&stranger), &app::RequestCtx::default(), &id, None, offer.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert!(signals(&mut rx).is_empty(), "refused signals go nowhere");

    // A guest signals like anyone in the room, and only in their own call.
    app::call::signal(
        &t.app,
        Party::Guest(&guest),
        &app::RequestCtx::default(),
        &id,
        Some(&w.doctor_id),
        json!({"candidate": "c1"}),
    )
    .await
    .unwrap();
    let got = signals(&mut rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients, vec![w.doctor_id.clone()]);
    assert_eq!(got[0].payload["from"], guest_id.as_str());
    let err = app::call::signal(
        &t.app,
        Party::Guest(&guest),
        &app::RequestCtx::default(),
        &"0".repeat(32),
        None,
        offer.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "not_found");
    // Another real call (another consultation of the same doctor): still not the guest's.
    let r = t
        .post("/api/v1/consultations", json!({"doctor": w.doctor_id, "complaint": "咳嗽一周"}), Some(&w.stranger))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let other = t
        .post(
            &format!("/api/v1/consultations/{}/calls", r.json()["id"].as_str().unwrap()),
            json!({"kind": "voice"}),
            Some(&w.stranger),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text);
    let other_id = other.json()["id"].as_str().unwrap().to_owned();
    let err =
        app::call::signal(&t.app, Party::Guest(&guest), &app::RequestCtx::default(), &other_id, None, offer.clone())
            .await
            .unwrap_err();
    assert_eq!(err.code(), "not_found");
    let err =
        app::call::signal(&t.app, Party::User(&patient), &app::RequestCtx::default(), &other_id, None, offer.clone())
            .await
            .unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert!(signals(&mut rx).is_empty());

    // The invited doctor answers: from now on they hear everyone too.
    assert_eq!(act(&w, &second, &id, "accept").await.0, StatusCode::OK);
    app::call::signal(&t.app, Party::User(&patient), &app::RequestCtx::default(), &id, None, json!({"hello": true}))
        .await
        .unwrap();
    let got = signals(&mut rx);
    assert_eq!(got.len(), 1);
    assert_eq!(
        sorted(got[0].recipients.clone()),
        sorted(vec![w.doctor_id.clone(), guest_id.clone(), second_id.clone()])
    );

    // Whoever leaves is out of the signaling, both ways.
    assert_eq!(act(&w, &w.patient, &id, "hangup").await.0, StatusCode::OK);
    let err = app::call::signal(
        &t.app,
        Party::User(&doctor),
        &app::RequestCtx::default(),
        &id,
        Some(&w.patient_id),
        offer.clone(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "signal_recipient");
    let err = app::call::signal(&t.app, Party::User(&patient), &app::RequestCtx::default(), &id, None, offer.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "call_state");
    app::call::signal(&t.app, Party::User(&doctor), &app::RequestCtx::default(), &id, None, offer.clone())
        .await
        .unwrap();
    let got = signals(&mut rx);
    assert_eq!(got.len(), 1);
    assert_eq!(sorted(got[0].recipients.clone()), sorted(vec![guest_id.clone(), second_id.clone()]));
}

#[tokio::test]
async fn a_doctor_rung_again_rings_for_the_full_time() {
    let w = world().await;
    let t = &w.t;
    let (late_id, late) = other_doctor(t, "dr-again", "Again Hospital", true).await;
    let id = live_call(&w).await;
    assert_eq!(invite(&w, &w.doctor, &id, &late_id).await.status, StatusCode::OK);
    // Declined after 10 s, rung again 10 s later.
    t.clock.advance(Duration::seconds(10));
    assert_eq!(act(&w, &late, &id, "decline").await.1["my_state"], "declined");
    t.clock.advance(Duration::seconds(10));
    let r = invite(&w, &w.doctor, &id, &late_id).await;
    assert_eq!((r.status, member(&r.json(), &late_id)["state"].as_str()), (StatusCode::OK, Some("invited")));
    // When the first ring would have timed out, the second has rung for 25 s only.
    t.clock.advance(Duration::seconds(app::call::RING_SECS - 20));
    app::jobs::run_due(&t.app).await.unwrap();
    let v = view(&w, &w.doctor, &id).await;
    assert_eq!(member(&v, &late_id)["state"], "invited", "rung again 25 s ago: still ringing");
    assert_eq!(act(&w, &late, &id, "accept").await.1["my_state"], "joined");
    // The second invitation's own timeout finds the doctor in the call.
    t.clock.advance(Duration::seconds(20));
    app::jobs::run_due(&t.app).await.unwrap();
    assert_eq!(member(&view(&w, &w.doctor, &id).await, &late_id)["state"], "joined");
}

#[tokio::test]
async fn a_patients_call_is_managed_by_the_doctor_once_joined() {
    let w = world().await;
    let t = &w.t;
    let (second_id, second) = other_doctor(t, "dr-colleague", "Colleague Hospital", true).await;
    let (status, call) = start(&w, &w.patient, "voice").await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let id = call["id"].as_str().unwrap().to_owned();
    assert_eq!((call["my_role"].as_str(), call["can_manage"].as_bool()), (Some("host"), Some(false)));
    assert_eq!(member(&call, &w.doctor_id)["role"], "member");
    // Still ringing for the doctor: they do not manage the room yet.
    let v = view(&w, &w.doctor, &id).await;
    assert_eq!((v["my_state"].as_str(), v["can_manage"].as_bool()), (Some("invited"), Some(false)));
    let r = invite(&w, &w.doctor, &id, &second_id).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = call_post(&w, &w.doctor, &id, "guests", json!({"name": "孙女士", "role": "family"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(call_post(&w, &w.doctor, &id, "recording-request", json!({})).await.status, StatusCode::FORBIDDEN);
    // Once in the call, they do.
    let (status, v) = act(&w, &w.doctor, &id, "accept").await;
    assert_eq!((status, v["state"].as_str(), v["can_manage"].as_bool()), (StatusCode::OK, Some("active"), Some(true)));
    assert_eq!(view(&w, &w.patient, &id).await["can_manage"], false, "the host patient still does not");
    assert_eq!(invite(&w, &w.doctor, &id, &second_id).await.status, StatusCode::OK);
    // The patient leaves while the colleague is still ringing: the call waits for them.
    let (_, v) = act(&w, &w.patient, &id, "hangup").await;
    assert_eq!((v["state"].as_str(), v["my_state"].as_str()), (Some("active"), Some("left")));
    // Nobody answers: one person left and nobody invited, the call ends.
    t.clock.advance(Duration::seconds(app::call::RING_SECS));
    app::jobs::run_due(&t.app).await.unwrap();
    let v = view(&w, &w.doctor, &id).await;
    assert_eq!(member(&v, &second_id)["state"], "missed");
    assert_eq!((v["state"].as_str(), v["my_state"].as_str()), (Some("ended"), Some("left")));
    assert_eq!(act(&w, &second, &id, "accept").await.1["error"]["code"], "call_state");
    let calls = timeline(&w, "call").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["call"]["state"], "ended");
    assert_eq!(calls[0]["call"]["kind"], "voice");
}

/// The hidden fields of the form posting to `action` on a page, URL-encoded as a browser sends them.
fn form_fields(html: &str, action: &str) -> String {
    let start = html.find(&format!("action=\"{action}\"")).unwrap();
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    let mut out = hidden_inputs(form);
    out.sort();
    out.join("&")
}

/// `name=value` of each `<input type="hidden" name=… value=…>` (the templates write them this way).
fn hidden_inputs(form: &str) -> Vec<String> {
    form.split("<input")
        .skip(1)
        .filter(|i| i.contains("type=\"hidden\""))
        .filter_map(|i| {
            let attr =
                |a: &str| i.split(&format!("{a}=\"")).nth(1).and_then(|v| v.split('"').next()).map(str::to_owned);
            Some(format!("{}={}", attr("name")?, attr("value")?))
        })
        .collect()
}

#[tokio::test]
async fn a_guest_link_opened_in_a_signed_in_browser_still_joins() {
    // The patient forwards the link to a relative who opens it on the family tablet, where the
    // patient is signed in (a session cookie, so form posts must carry the session's CSRF token).
    let w = world().await;
    let t = &w.t;
    let id = live_call(&w).await;
    let (guest_id, path) = guest_link(&w, &id, "周家属", "family").await;
    let session = format!("yiqiao_session={}", t.session_for(&w.patient_id).await);
    let r = page(t, Method::GET, &path, Some(&session)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The page knows the session (its sign-out form carries the session's CSRF token) …
    assert_eq!(form_fields(&r.text, "/logout"), "csrf=csrf-test");
    // … and the browser submits the join form as the page rendered it.
    let req = Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header(header::COOKIE, &session)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form_fields(&r.text, &path)))
        .unwrap();
    let r = t.raw(req).await;
    // A browser with a session cookie posts the form with that session's CSRF token.
    assert_eq!(r.status, StatusCode::SEE_OTHER, "the join form was refused (403 = CSRF)");
    assert_eq!(r.location(), Some("/guest/call"));
    assert_eq!(member(&view(&w, &w.doctor, &id).await, &guest_id)["state"], "joined");
}
