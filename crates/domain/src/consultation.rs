//! Online consultations (在线问诊): status, kind, response-time SLA and the
//! pure transition and input rules.
//!
//! Requirements covered:
//! - A1 consultations and their messages: [`ConsultationStatus`],
//!   [`can_send`], [`after_message`], [`validate_message_text`] and
//!   [`validate_client_id`] (client-generated id that makes sending
//!   idempotent).
//! - A2 response-time clocks: [`SlaPolicy`] (priority ≤ 15 min, normal
//!   ≤ 30 min) and [`sla_state`].
//! - A7 satisfaction rating: [`can_rate`], [`validate_rating`].
//! - Chinese internet-diagnosis rules (互联网诊疗管理办法): a first visit
//!   cannot be diagnosed or prescribed online; only a follow-up (复诊) of a
//!   diagnosis made offline may lead to a prescription ([`ConsultationKind`],
//!   [`kind_for`]).
//!
//! Invariants:
//! - Status only moves forward: `waiting → active → closed` (or
//!   `waiting → closed`); a closed consultation accepts no messages and is
//!   rated at most once.
//! - SLA arithmetic is done on whole seconds since the epoch, so the due
//!   instant itself is still pending with 0 seconds left and one second
//!   later the SLA is breached.
//! - A [`ConsultationError`] never contains user input (complaints and
//!   messages are health data, PIPL).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

string_enum! {
    /// Lifecycle of a consultation (A1).
    pub enum ConsultationStatus("consultation status") {
        /// Created by the patient; no doctor has answered yet (SLA clock running).
        Waiting => "waiting",
        /// A doctor has answered; conversation in progress.
        Active => "active",
        /// Finished; read-only and archived (C1), may be rated once (A7).
        Closed => "closed",
    }
}

string_enum! {
    /// Legal kind of an online consultation.
    pub enum ConsultationKind("consultation kind") {
        /// 复诊: follow-up of a diagnosis already made offline; may prescribe.
        FollowUp => "follow_up",
        /// 健康咨询: advice only — no online diagnosis, no prescription.
        HealthConsultation => "health_consultation",
    }
}

impl ConsultationKind {
    /// Only follow-ups of an existing diagnosis may lead to a prescription.
    pub const fn may_prescribe(self) -> bool {
        matches!(self, Self::FollowUp)
    }

    /// Same as the free function [`kind_for`].
    pub fn kind_for(prior_diagnosis: Option<&str>, has_proof: bool) -> Self {
        kind_for(prior_diagnosis, has_proof)
    }
}

/// Classifies a new consultation: [`ConsultationKind::FollowUp`] only when
/// the patient states a non-blank prior diagnosis **and** attached proof of
/// it (e.g. a discharge summary or outpatient record); everything else is a
/// [`ConsultationKind::HealthConsultation`].
pub fn kind_for(prior_diagnosis: Option<&str>, has_proof: bool) -> ConsultationKind {
    let stated = prior_diagnosis.is_some_and(|d| !d.trim().is_empty());
    if stated && has_proof { ConsultationKind::FollowUp } else { ConsultationKind::HealthConsultation }
}

/// Why a consultation action or input was rejected. Never carries the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum ConsultationError {
    /// The consultation is closed; no more messages.
    #[error("{}", self.message())]
    Closed,
    /// The consultation was already closed.
    #[error("{}", self.message())]
    AlreadyClosed,
    /// Only a closed consultation can be rated.
    #[error("{}", self.message())]
    NotClosed,
    /// The consultation already has a rating.
    #[error("{}", self.message())]
    AlreadyRated,
    /// Stars outside 1–5 or comment too long.
    #[error("{}", self.message())]
    RatingInvalid,
    /// Chief complaint empty or too long.
    #[error("{}", self.message())]
    ComplaintInvalid,
    /// Message text empty or too long.
    #[error("{}", self.message())]
    MessageInvalid,
    /// Client message id has the wrong length or characters.
    #[error("{}", self.message())]
    ClientIdInvalid,
}

impl ConsultationError {
    /// Stable machine-readable code (for APIs and translations).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Closed => "consultation_closed",
            Self::AlreadyClosed => "already_closed",
            Self::NotClosed => "not_closed",
            Self::AlreadyRated => "already_rated",
            Self::RatingInvalid => "rating_invalid",
            Self::ComplaintInvalid => "complaint_invalid",
            Self::MessageInvalid => "message_invalid",
            Self::ClientIdInvalid => "client_id_invalid",
        }
    }

    /// Short English explanation, safe to show and to log.
    pub const fn message(self) -> &'static str {
        match self {
            Self::Closed => "this consultation is closed and accepts no more messages",
            Self::AlreadyClosed => "this consultation is already closed",
            Self::NotClosed => "only a closed consultation can be rated",
            Self::AlreadyRated => "this consultation has already been rated",
            Self::RatingInvalid => "rating must be 1-5 stars with a comment of at most 500 characters",
            Self::ComplaintInvalid => "chief complaint must be 2-2000 characters",
            Self::MessageInvalid => "message must be 1-4000 characters",
            Self::ClientIdInvalid => "client id must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'",
        }
    }
}

/// Response-time targets for the first doctor answer (A2), in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlaPolicy {
    /// Priority / emergency channel (优先接诊); default 15 minutes.
    pub priority_secs: i64,
    /// Normal consultations; default 30 minutes.
    pub normal_secs: i64,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        Self { priority_secs: 15 * 60, normal_secs: 30 * 60 }
    }
}

impl SlaPolicy {
    /// Instant by which a doctor must first answer a consultation created at
    /// `created_at`. Negative targets count as 0; the result saturates at the
    /// latest representable instant instead of overflowing.
    pub fn first_response_due(&self, created_at: DateTime<Utc>, priority: bool) -> DateTime<Utc> {
        let secs = if priority { self.priority_secs } else { self.normal_secs }.max(0);
        TimeDelta::try_seconds(secs).and_then(|d| created_at.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// Where a consultation stands against its first-response SLA (A2, Q3).
///
/// Serialised as `{"state":"pending","secs_left":…}`,
/// `{"state":"breached","overdue_secs":…}`,
/// `{"state":"met_in_time","response_secs":…}` or
/// `{"state":"met_late","response_secs":…}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SlaState {
    /// No answer yet and the due instant has not passed.
    Pending {
        /// Whole seconds until due (0 at the due second itself).
        secs_left: i64,
    },
    /// No answer yet and the due instant has passed.
    Breached {
        /// Whole seconds since due (≥ 1).
        overdue_secs: i64,
    },
    /// Answered at or before the due instant.
    MetInTime {
        /// Whole seconds from creation to first answer.
        response_secs: i64,
    },
    /// Answered after the due instant.
    MetLate {
        /// Whole seconds from creation to first answer.
        response_secs: i64,
    },
}

impl SlaState {
    /// The SLA is (or was) missed: [`SlaState::Breached`] or [`SlaState::MetLate`].
    pub const fn is_late(&self) -> bool {
        matches!(self, Self::Breached { .. } | Self::MetLate { .. })
    }

    /// A doctor has answered; the state no longer changes with time.
    pub const fn is_met(&self) -> bool {
        matches!(self, Self::MetInTime { .. } | Self::MetLate { .. })
    }
}

/// Evaluates the first-response SLA at `now`.
///
/// Works on whole seconds (sub-second parts are truncated): `now` equal to
/// the due second is `Pending { secs_left: 0 }`, one second later
/// `Breached { overdue_secs: 1 }`. Once `first_response_at` is known `now`
/// is irrelevant; an answer in the due second is still in time. A response
/// time before `created_at` (clock skew) is reported as 0.
pub fn sla_state(
    now: DateTime<Utc>,
    created_at: DateTime<Utc>,
    due: DateTime<Utc>,
    first_response_at: Option<DateTime<Utc>>,
) -> SlaState {
    let due_s = due.timestamp();
    if let Some(at) = first_response_at {
        let response_secs = at.timestamp().saturating_sub(created_at.timestamp()).max(0);
        if at.timestamp() <= due_s {
            SlaState::MetInTime { response_secs }
        } else {
            SlaState::MetLate { response_secs }
        }
    } else {
        let left = due_s.saturating_sub(now.timestamp());
        if left >= 0 { SlaState::Pending { secs_left: left } } else { SlaState::Breached { overdue_secs: -left } }
    }
}

/// Whether a message may be sent in a consultation of `status`.
///
/// Patients may add information while waiting, doctors answer while
/// waiting or active; nobody writes into a closed consultation
/// ([`ConsultationError::Closed`]). The sender is part of the signature so
/// that callers state who sends and sender-specific rules stay here.
pub fn can_send(status: ConsultationStatus, sender_is_patient: bool) -> Result<(), ConsultationError> {
    // Today both parties follow the same rule.
    let _ = sender_is_patient;
    match status {
        ConsultationStatus::Waiting | ConsultationStatus::Active => Ok(()),
        ConsultationStatus::Closed => Err(ConsultationError::Closed),
    }
}

/// Status after a message was accepted: the first doctor message moves
/// `waiting` to `active` (this is the SLA's first response); everything
/// else leaves the status unchanged.
pub fn after_message(status: ConsultationStatus, sender_is_doctor: bool) -> ConsultationStatus {
    match status {
        ConsultationStatus::Waiting if sender_is_doctor => ConsultationStatus::Active,
        other => other,
    }
}

/// Whether a consultation may be closed: only `waiting` (e.g. withdrawn or
/// redirected offline) or `active`.
pub fn can_close(status: ConsultationStatus) -> Result<(), ConsultationError> {
    match status {
        ConsultationStatus::Waiting | ConsultationStatus::Active => Ok(()),
        ConsultationStatus::Closed => Err(ConsultationError::AlreadyClosed),
    }
}

/// Whether a consultation may be rated (A7): only once it is closed, and
/// only once.
pub fn can_rate(status: ConsultationStatus, already_rated: bool) -> Result<(), ConsultationError> {
    if status != ConsultationStatus::Closed {
        Err(ConsultationError::NotClosed)
    } else if already_rated {
        Err(ConsultationError::AlreadyRated)
    } else {
        Ok(())
    }
}

/// Maximum characters of a rating comment (after trimming).
pub const RATING_COMMENT_MAX_CHARS: usize = 500;
/// Minimum characters of a chief complaint (after trimming).
pub const COMPLAINT_MIN_CHARS: usize = 2;
/// Maximum characters of a chief complaint (after trimming).
pub const COMPLAINT_MAX_CHARS: usize = 2000;
/// Maximum characters of one text message (after trimming).
pub const MESSAGE_MAX_CHARS: usize = 4000;
/// Maximum length of a client message id.
pub const CLIENT_ID_MAX_LEN: usize = 64;

/// Validates a satisfaction rating (A7): 1–5 stars and a comment of at most
/// [`RATING_COMMENT_MAX_CHARS`] characters once trimmed (callers store the
/// trimmed comment; an empty comment is fine).
pub fn validate_rating(stars: u8, comment: &str) -> Result<(), ConsultationError> {
    if (1..=5).contains(&stars) && comment.trim().chars().count() <= RATING_COMMENT_MAX_CHARS {
        Ok(())
    } else {
        Err(ConsultationError::RatingInvalid)
    }
}

/// Trims `text` and checks its length in characters is within `min..=max`.
fn trimmed_within(text: &str, min: usize, max: usize) -> Option<String> {
    let t = text.trim();
    (min..=max).contains(&t.chars().count()).then(|| t.to_owned())
}

/// Validates the chief complaint (主诉) of a new consultation: trimmed,
/// [`COMPLAINT_MIN_CHARS`]–[`COMPLAINT_MAX_CHARS`] characters.
pub fn validate_complaint(text: &str) -> Result<String, ConsultationError> {
    trimmed_within(text, COMPLAINT_MIN_CHARS, COMPLAINT_MAX_CHARS).ok_or(ConsultationError::ComplaintInvalid)
}

/// Validates a text message: trimmed, 1–[`MESSAGE_MAX_CHARS`] characters.
pub fn validate_message_text(text: &str) -> Result<String, ConsultationError> {
    trimmed_within(text, 1, MESSAGE_MAX_CHARS).ok_or(ConsultationError::MessageInvalid)
}

/// Validates a client-generated message id (idempotent resend): 1–64
/// characters of `[A-Za-z0-9_-]`, not trimmed (a UUID fits).
pub fn validate_client_id(id: &str) -> Result<(), ConsultationError> {
    let ok = (1..=CLIENT_ID_MAX_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(ConsultationError::ClientIdInvalid) }
}
