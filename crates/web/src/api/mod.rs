//! JSON API under `/api/v1` (P2). Errors are `{"error":{"code","message"}}`; the OpenAPI document at
//! `/api/v1/openapi.json` lists every route with its policy.

mod account;
pub(crate) mod admin;
mod auth;
pub(crate) mod calls;
pub(crate) mod care;
pub(crate) mod consultation;
pub(crate) mod export;
mod monitoring;
mod range;
mod ws;

use axum::handler::Handler;
use domain::Role;

use crate::registry::{Policy, Routes};

pub(crate) const ADMINS: &[Role] = &[Role::InstitutionAdmin, Role::PlatformAdmin];
pub(crate) const AUDITORS: &[Role] = &[Role::Auditor, Role::PlatformAdmin];

pub(crate) use admin::read_verification;

pub fn routes(r: Routes) -> Routes {
    use Policy::{Authenticated, Public, Roles};
    r.post("/api/v1/auth/login", Public, "Sign in; returns a bearer token", auth::login)
        .post("/api/v1/auth/logout", Authenticated, "End the current session", auth::logout)
        .post(
            "/api/v1/auth/step-up",
            Authenticated,
            "Refresh the step-up time with a TOTP code or (patients) the password",
            auth::step_up,
        )
        .post(
            "/api/v1/auth/register/patient",
            Public,
            "Register a patient with a real-name document",
            auth::register_patient,
        )
        .post(
            "/api/v1/auth/register/doctor",
            Public,
            "Register a doctor account (verification follows)",
            auth::register_doctor,
        )
        .get("/api/v1/me", Authenticated, "The caller's profile (identity masked)", account::me)
        .put("/api/v1/me/locale", Authenticated, "Remember the UI language", account::set_locale)
        .post(
            "/api/v1/me/totp/enrol",
            Authenticated,
            "Start TOTP enrolment: secret, otpauth URL and QR",
            account::totp_enrol,
        )
        .post(
            "/api/v1/me/totp/confirm",
            Authenticated,
            "Confirm TOTP enrolment with a first code",
            account::totp_confirm,
        )
        .get("/api/v1/me/consents", Authenticated, "Consents given and withdrawn", account::consents)
        .post(
            "/api/v1/me/invitations/{id}/{action}",
            Authenticated,
            "Accept or decline a staff-role invitation (`accept` | `decline`)",
            account::decide_invitation,
        )
        .post("/api/v1/me/consents/{kind}/withdraw", Authenticated, "Withdraw a consent", account::withdraw)
        .post(
            "/api/v1/me/patient",
            Authenticated,
            "Add a verified patient identity to one's own account",
            account::add_patient,
        )
        .get(
            "/api/v1/me/health-record",
            Roles(&[Role::Patient]),
            "The personal health record: saved articles (A6)",
            account::health_record,
        )
        .post(
            "/api/v1/me/health-record/articles",
            Roles(&[Role::Patient]),
            "Save an education article {slug, consultation_id?}",
            account::save_article,
        )
        .get(
            "/api/v1/me/health-record/pdf",
            Roles(&[Role::Patient]),
            "The whole own record as PDF (C3; step-up required; audited)",
            export::my_record_pdf,
        )
        .post(
            "/api/v1/me/wards",
            Roles(&[Role::Patient]),
            "Register a child (under 6 required) linked to the guardian",
            account::add_ward,
        )
        .get("/api/v1/institutions", Public, "Institutions and their departments", admin::institutions)
        .post("/api/v1/institutions", Roles(&[Role::PlatformAdmin]), "Create an institution", admin::create_institution)
        .put(
            "/api/v1/institutions/{id}/sla",
            Roles(ADMINS),
            "Set first-response limits {priority_mins, normal_mins} (A2)",
            admin::set_sla,
        )
        .post("/api/v1/institutions/{id}/departments", Roles(ADMINS), "Add a department", admin::add_department)
        .get("/api/v1/institutions/{id}/staff", Roles(ADMINS), "Staff of an institution (names masked)", admin::staff)
        .post(
            "/api/v1/institutions/{id}/staff",
            Roles(ADMINS),
            "Grant a staff role to a member of staff (204), or invite any other account (202; step-up required)",
            admin::grant_role,
        )
        .get(
            "/api/v1/doctor/verification",
            Roles(&[Role::Doctor]),
            "The doctor's verification status",
            admin::my_verification,
        )
        .post(
            "/api/v1/doctor/verification",
            Roles(&[Role::Doctor]),
            "Submit verification (multipart: licence and employment proof)",
            admin::submit_verification.layer(admin::verification_body_limit()),
        )
        .get("/api/v1/admin/verifications", Roles(ADMINS), "Pending doctor verifications", admin::queue)
        .post(
            "/api/v1/admin/verifications/{id}/decision",
            Roles(ADMINS),
            "Approve or reject a verification",
            admin::decide,
        )
        .get(
            "/api/v1/admin/verifications/{id}/documents/{which}",
            Roles(ADMINS),
            "Download an uploaded document",
            admin::document,
        )
        .get(
            "/api/v1/audit/events",
            Roles(AUDITORS),
            "Audit events, newest first (filters: actor, patient, action)",
            admin::audit_events,
        )
        .get("/api/v1/openapi.json", Public, "This API as OpenAPI 3", crate::openapi::document)
        .get(
            "/api/v1/doctors",
            Public,
            "Verified doctors (?q= name, specialty or department; ?department=)",
            consultation::doctors,
        )
        .post(
            "/api/v1/consultations",
            Roles(&[Role::Patient]),
            "Start a consultation with a doctor or a department",
            consultation::start,
        )
        .get(
            "/api/v1/consultations",
            Authenticated,
            "The caller's consultations (patient side and doctor queue)",
            consultation::list,
        )
        .get(
            "/api/v1/consultations/{id}",
            Authenticated,
            "One consultation (404 for anyone outside it)",
            consultation::get,
        )
        .post(
            "/api/v1/consultations/{id}/messages",
            Authenticated,
            "Send a message {client_id, text}; resends are idempotent",
            consultation::send,
        )
        .get(
            "/api/v1/consultations/{id}/messages",
            Authenticated,
            "Messages after ?after=SEQ, in order",
            consultation::messages,
        )
        .post("/api/v1/consultations/{id}/read", Authenticated, "Mark messages up to {seq} as read", consultation::read)
        .post(
            "/api/v1/consultations/{id}/claim",
            Roles(&[Role::Doctor]),
            "Take an unclaimed team consultation",
            consultation::claim,
        )
        .post(
            "/api/v1/consultations/{id}/close",
            Roles(&[Role::Doctor]),
            "Close with {summary, diagnoses: [ICD-10]}",
            consultation::close,
        )
        .post(
            "/api/v1/consultations/{id}/rating",
            Roles(&[Role::Patient]),
            "Rate a closed consultation {stars 1-5, comment}",
            consultation::rate,
        )
        .get(
            "/api/v1/consultations/{id}/history",
            Roles(&[Role::Doctor]),
            "The patient's earlier consultations (A3), for the doctor",
            consultation::history,
        )
        .post(
            "/api/v1/consultations/{id}/handover",
            Roles(&[Role::Doctor]),
            "Hand over to another doctor {to, note}",
            consultation::handover,
        )
        .get(
            "/api/v1/search",
            Authenticated,
            "Search own records: ?q= keywords, from/to YYYY-MM-DD, icd= ICD-10",
            consultation::search,
        )
        .post(
            "/api/v1/consultations/{id}/calls",
            Authenticated,
            "Start a voice or video call {kind} with the consultation's other side (rings them)",
            calls::start,
        )
        .get("/api/v1/calls", Authenticated, "Calls ringing for me now", calls::incoming)
        .get(
            "/api/v1/calls/{id}",
            Authenticated,
            "A call with the caller's ICE servers (participants only)",
            calls::get,
        )
        .post(
            "/api/v1/calls/{id}/{action}",
            Authenticated,
            "accept, decline or hangup a call, or end it for everyone (participants only)",
            calls::act,
        )
        .post(
            "/api/v1/calls/{id}/invite",
            Roles(&[Role::Doctor]),
            "The consultation's doctor rings another verified doctor into the call {user_id} (up to 6 people)",
            calls::invite,
        )
        .get(
            "/api/v1/calls/{id}/invitable",
            Roles(&[Role::Doctor]),
            "Verified doctors the consultation's doctor may invite (?q= name, specialty)",
            calls::invitable,
        )
        .post(
            "/api/v1/calls/{id}/guests",
            Roles(&[Role::Doctor]),
            "A one-time guest link {name, role: family|interpreter} that expires in 30 minutes",
            calls::guest_link,
        )
        .post(
            "/api/v1/calls/{id}/consent",
            Authenticated,
            "Answer the recording question {allow} (participants in the call; audited)",
            calls::consent,
        )
        .post(
            "/api/v1/calls/{id}/recording-request",
            Roles(&[Role::Doctor]),
            "Ask everyone in the call to consent to recording",
            calls::request_recording,
        )
        .post(
            "/api/v1/calls/{id}/recordings",
            Roles(&[Role::Doctor]),
            "Start recording {content_type} once everyone in the call consented",
            calls::start_recording,
        )
        .put(
            "/api/v1/recordings/{id}/chunks/{seq}",
            Roles(&[Role::Doctor]),
            "Upload chunk seq (0, 1, …) of a running recording (raw media bytes, up to 16 MB)",
            calls::chunk.layer(calls::chunk_body_limit()),
        )
        .post(
            "/api/v1/recordings/{id}/finish",
            Roles(&[Role::Doctor]),
            "Finish a recording: it joins the consultation's timeline",
            calls::finish_recording,
        )
        .get(
            "/api/v1/recordings/{id}",
            Authenticated,
            "A call recording (byte ranges); participants and care team only, audited",
            calls::recording,
        )
        .get("/api/v1/guest/call", Public, "A guest's call (guest cookie from a one-time link)", calls::guest_call)
        .post(
            "/api/v1/guest/call/{action}",
            Public,
            "A guest hangs up or answers the recording question {allow} (guest cookie + X-CSRF-Token)",
            calls::guest_act,
        )
        .get("/api/v1/guest/ws", Public, "A guest's realtime channel: call state and signaling only", ws::guest_upgrade)
        .post(
            "/api/v1/consultations/{id}/attachments",
            Authenticated,
            "Upload a photo, PDF or voice recording (multipart: file, client_id, duration_ms) as a message",
            consultation::upload.layer(consultation::upload_body_limit()),
        )
        .get(
            "/api/v1/attachments/{id}",
            Authenticated,
            "An attachment (?thumb=1 for the thumbnail); participants only, audited",
            consultation::attachment,
        )
        .post(
            "/api/v1/consultations/{id}/cards",
            Roles(&[Role::Doctor]),
            "Send a structured card: {client_id, type: medication_plan, rows:[{drug,dose,times,days,note}]}",
            consultation::card,
        )
        .get(
            "/api/v1/consultations/{id}/fhir",
            Authenticated,
            "Export as a FHIR R4 Bundle (participants; step-up required; audited)",
            consultation::fhir,
        )
        .get(
            "/api/v1/consultations/{id}/pdf",
            Authenticated,
            "Export as PDF with annotated photos (participants; step-up required; audited)",
            export::consultation_pdf,
        )
        .get(
            "/api/v1/patients/{id}/record/pdf",
            Authenticated,
            "A patient's consultations the caller may see, as one PDF (step-up required; audited)",
            export::patient_record_pdf,
        )
        .get(
            "/api/v1/attachments/{id}/annotations",
            Authenticated,
            "Shapes drawn on an image (participants; audited)",
            consultation::annotations,
        )
        .put(
            "/api/v1/attachments/{id}/annotations",
            Roles(&[Role::Doctor]),
            "Replace the shapes on an image {shapes:[circle|arrow|line|text]} (A4)",
            consultation::save_annotations,
        )
        .post(
            "/api/v1/consultations/{id}/corrections",
            Roles(&[Role::Doctor]),
            "Correct a closed record as a new version {reason, summary, diagnoses} (step-up)",
            consultation::correct,
        )
        .get("/api/v1/ws", Authenticated, "WebSocket: live messages, receipts, typing, queue updates", ws::upgrade)
        .post(
            "/api/v1/device-readings",
            Public,
            "A paired device sends readings (Authorization: Device <id>:<secret>; FHIR Observation, compact JSON or a batch); docs/DEVICES.md",
            monitoring::device_readings,
        )
        .get("/api/v1/alerts", Authenticated, "The caller's open alerts (urgent first)", monitoring::alerts)
        .post("/api/v1/alerts/{id}/ack", Roles(&[Role::Doctor, Role::Nurse]), "Acknowledge an alert (its doctor; after escalation, their team)", monitoring::acknowledge)
        .get(
            "/api/v1/patients/{id}/observations",
            Authenticated,
            "A patient's readings ?code=LOINC&from=&to= (the patient or their care team; audited)",
            monitoring::observations,
        )
        .post(
            "/api/v1/patients/{id}/plans",
            Roles(&[Role::Doctor]),
            "Start a follow-up plan {template: hypertension|diabetes|custom, title?, measures?, thresholds?}",
            monitoring::create_plan,
        )
        .get("/api/v1/patients/{id}/plans", Authenticated, "A patient's active follow-up plans", monitoring::plans)
        .post(
            "/api/v1/patients/{id}/devices",
            Authenticated,
            "Pair a device {device_id, kind, label}; the answer shows its secret once",
            monitoring::pair_device,
        )
        .get("/api/v1/patients/{id}/tasks", Authenticated, "A patient's care tasks ?from=&to= (default: yesterday to a week ahead)", care::tasks)
        .post(
            "/api/v1/patients/{id}/readings",
            Authenticated,
            "Record a reading by hand {type, values, unit?, context?, measured_at?} (the patient or their care team)",
            care::record_reading,
        )
        .get(
            "/api/v1/patients/{id}/charts/{kind}",
            Authenticated,
            "Trend chart as SVG ?days=90&lang=zh|en (the patient or their care team; audited)",
            care::chart,
        )
        .get("/api/v1/visits/due", Roles(&[Role::Doctor]), "The caller's follow-up visits due today", care::due_visits)
        .post("/api/v1/tasks/{id}/start", Roles(&[Role::Doctor]), "Start a due follow-up visit as a consultation", care::start_visit)
        .post("/api/v1/plans/{id}/end", Roles(&[Role::Doctor]), "End a follow-up plan (its doctor); pending tasks are cancelled", care::end_plan)
        .get("/api/v1/plans/{id}/completion", Authenticated, "A plan's tasks done on time / late / missed", care::plan_completion)
        .get(
            "/api/v1/institution/care-completion",
            Roles(&[Role::InstitutionAdmin]),
            "Completion rate of the institution's follow-up plans ?days=30",
            care::institution_completion,
        )
        .get(
            "/api/v1/plan-templates",
            Roles(&[Role::InstitutionAdmin, Role::Doctor, Role::Nurse]),
            "The institution's plan templates (hypertension, diabetes)",
            care::templates,
        )
        .put(
            "/api/v1/plan-templates/{key}",
            Roles(&[Role::InstitutionAdmin]),
            "Save the institution's version of a template {title, measures, thresholds}",
            care::save_template,
        )
        .get("/api/v1/notifications", Authenticated, "The caller's inbox ?before= (newest first, with the unread count)", care::inbox)
        .post("/api/v1/notifications/{id}/read", Authenticated, "Mark a notification read", care::read)
        .post("/api/v1/notifications/read-all", Authenticated, "Mark every notification read", care::read_all)
        .post("/api/v1/notifications/delivered", Authenticated, "The page received these notifications {ids}", care::delivered)
        .get("/api/v1/notification-prefs", Authenticated, "The caller's channels, quiet hours and time zone", care::prefs)
        .put(
            "/api/v1/notification-prefs",
            Authenticated,
            "Save channels {channels, email?, quiet_start?, quiet_end?, time_zone?}",
            care::save_prefs,
        )
        .get("/api/v1/notify/reach", Roles(ADMINS), "Reach rate per channel ?days=30 (E3)", care::reach)
        .post(
            "/api/v1/notify/sms-receipts",
            Public,
            "SMS gateway delivery receipts (Authorization: Bearer <[sms] receipt_token>)",
            care::sms_receipt,
        )
}
